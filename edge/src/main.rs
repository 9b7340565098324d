// Habanero's edge host: a Fastly Compute program that runs the same extension
// .wasm files as the server, in wasmi, with ABI v1 on Fastly's facilities.
//
// Per request: /healthz, the host's /login page and /static/style.css are
// answered here (as by the server's HTTP front and NativePages); every other
// path goes to the extension with the longest matching mount, whose manifest
// routes must match (else 404), and runs in a fresh instance (host.rs).
// docs/edge.md describes the stores, the limits and how this host differs.
#[allow(dead_code)] // some items serve build.rs's load-time checks only
mod abi;
mod form;
mod host;
mod jwk;
mod keys;
mod kv;
mod records;
mod registry;
mod routes;

use fastly::http::StatusCode;
use fastly::{Error, Request, Response};
use host::{Outcome, RequestData, ResponseData};

const STYLE_CSS: &[u8] = include_bytes!("../../web/style.css");
const PAGE_HTML: &str = include_str!("../../web/page.html");
const MAX_BODY_BYTES: usize = 1024 * 1024;

// The host's pages load nothing but its own stylesheet (native_pages.cc).
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                        frame-ancestors 'none'; base-uri 'none'";

// Framing headers belong to the front, never to an extension (docs/abi.md §1).
const FRAMING: [&str; 8] =
    ["content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "server", "date", "trailer"];

fn text(status: u16, body: &str) -> Response {
    Response::from_status(status)
        .with_header("Content-Type", "text/plain; charset=utf-8")
        .with_body(body.to_string())
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: u16, title: &str, body_html: &str) -> Response {
    let html = PAGE_HTML.replace("{{title}}", &html_escape(title)).replace("{{body}}", body_html);
    Response::from_status(status)
        .with_header("Content-Type", "text/html; charset=utf-8")
        .with_header("Cache-Control", "no-store")
        .with_header("Content-Security-Policy", PAGE_CSP)
        .with_header("X-Frame-Options", "DENY")
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Referrer-Policy", "no-referrer")
        .with_body(html)
}

fn message(status: u16, msg: &str) -> Response {
    page(status, "Sign in", &format!("<h1>Sign in</h1>\n<p class=\"error\">{}</p>\n", html_escape(msg)))
}

fn method_not_allowed() -> Response {
    text(405, "method not allowed\n").with_header("Allow", "GET, HEAD")
}

fn headers_of(req: &Request) -> Vec<(String, Vec<u8>)> {
    req.get_headers().map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec())).collect()
}

// The host's /login page: the pending attempt's authenticator(s).
fn login_page(req: &Request) -> Response {
    const EXPIRED: &str = "This sign-in link has expired; start again from the application.";
    let Some(params) = form::parse(req.get_query_str().unwrap_or("").as_bytes()) else {
        return message(400, EXPIRED);
    };
    let rt = match params.find(b"rt") {
        form::Lookup::Value(v) => v.to_string(),
        _ => return message(400, EXPIRED),
    };
    let sessions = kv::Kv::open("habanero_sessions");
    match records::find_attempt(&sessions, rt.as_bytes(), &headers_of(req)) {
        Ok(Some(_)) => {}
        Ok(None) => return message(400, EXPIRED),
        Err(e) => {
            eprintln!("/login: {e}");
            return message(503, "Sign-in is unavailable right now; try again in a moment.");
        }
    }
    let methods: Vec<&registry::ExtensionSpec> =
        registry::EXTENSIONS.iter().filter(|e| e.kind == "authenticator" && e.refusal.is_none()).collect();
    let link = |e: &registry::ExtensionSpec| format!("{}/?rt={}", e.mount.trim_end_matches('/'), form::percent_encode(&rt));
    match methods.as_slice() {
        [] => message(503, "No sign-in method is available; ask the operator to enable one."),
        [only] => Response::from_status(302)
            .with_header("Location", link(only))
            .with_header("Cache-Control", "no-store")
            .with_header("Referrer-Policy", "no-referrer"),
        several => {
            let mut body = String::from("<h1>Sign in</h1>\n<p>Choose how to sign in:</p>\n<ul class=\"methods\">\n");
            for m in several {
                body += &format!(
                    "<li><a class=\"button\" href=\"{}\">{}</a></li>\n",
                    html_escape(&link(m)),
                    html_escape(m.display_name)
                );
            }
            body += "</ul>\n";
            page(200, "Sign in", &body)
        }
    }
}

// A "." or ".." segment, plain or percent-encoded (router.cc hasDotSegment).
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| {
        let (mut dots, mut rest) = (0, seg);
        loop {
            if let Some(r) = rest.strip_prefix('.') {
                rest = r;
            } else if rest.len() >= 3 && rest.as_bytes()[0] == b'%' && rest[1..3].eq_ignore_ascii_case("2e") {
                rest = &rest[3..];
            } else {
                break;
            }
            dots += 1;
        }
        rest.is_empty() && (dots == 1 || dots == 2)
    })
}

fn to_response(r: ResponseData) -> Response {
    let mut resp = Response::from_status(StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &r.headers {
        if FRAMING.iter().any(|f| k.eq_ignore_ascii_case(f)) {
            continue;
        }
        match fastly::http::HeaderValue::from_bytes(v) {
            Ok(v) => resp.append_header(k.as_str(), v),
            Err(_) => return text(500, "internal server error\n"),
        }
    }
    if r.status != 204 && r.status != 304 {
        resp.set_body(r.body);
    }
    resp
}

// A request the edge does not serve goes to the origin Habanero unchanged.
fn forward(req: Request, backend: &str) -> Response {
    match req.send(backend) {
        Ok(resp) => resp,
        Err(e) => {
            eprintln!("origin {backend}: {e}");
            text(502, "origin unavailable\n")
        }
    }
}

fn forward_or_404(req: Request) -> Response {
    match registry::ORIGIN {
        Some(backend) => forward(req, backend),
        None => text(404, "not found\n"),
    }
}

// The form parameters a route condition reads: an application/x-www-form-urlencoded
// POST body, else the query string. None if malformed (then no condition holds).
fn form_of(req: &Request, body: &[u8]) -> Option<form::Params> {
    let is_form = req
        .get_header_str("content-type")
        .is_some_and(|t| t.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
    if req.get_method_str() == "POST" && is_form {
        form::parse(body)
    } else {
        form::parse(req.get_query_str().unwrap_or("").as_bytes())
    }
}

fn dispatch(mut req: Request) -> Response {
    let path = req.get_path().to_string();
    let method = req.get_method_str().to_string();
    let is_get = method == "GET" || method == "HEAD";
    if path == "/healthz" {
        if !is_get {
            return method_not_allowed();
        }
        return text(200, "ok").with_header("Cache-Control", "no-store");
    }
    if path == "/static/style.css" {
        if !is_get {
            return method_not_allowed();
        }
        return Response::from_status(200)
            .with_header("Content-Type", "text/css; charset=utf-8")
            .with_header("Cache-Control", "public, max-age=3600")
            .with_header("X-Content-Type-Options", "nosniff")
            .with_body(STYLE_CSS);
    }
    let has_authenticator = registry::EXTENSIONS.iter().any(|e| e.kind == "authenticator");
    if path == "/login" && (has_authenticator || registry::ORIGIN.is_none()) {
        if !is_get {
            return method_not_allowed();
        }
        return login_page(&req);
    }
    if has_dot_segment(&path) {
        return text(400, "bad request: dot segment in path\n");
    }
    let Some((ext, sub)) = registry::route(&path) else {
        return forward_or_404(req);
    };
    if ext.refusal.is_some() {
        return text(503, "extension unavailable\n");
    }
    let mirror = registry::ORIGIN.is_some() && ext.mirrors(&sub);
    let serve = ext.serves(&sub);
    if serve == registry::Serve::No && !mirror {
        return forward_or_404(req);
    }
    let body = req.take_body_bytes();
    if body.len() > MAX_BODY_BYTES {
        return text(413, "request body too large\n");
    }
    if let registry::Serve::IfForm(conditions) = &serve {
        let params = form_of(&req, &body);
        if !mirror && !conditions.iter().any(|c| params.as_ref().is_some_and(|p| registry::conditions_hold(c, p))) {
            req.set_body(body);
            return forward_or_404(req);
        }
    }
    // Mirrored: the origin decides and answers; the edge runs the extension only after the
    // origin accepted, so that its KV records the same (a revocation reaches the POP).
    let mut origin_answer = None;
    if mirror {
        let copy = req.clone_without_body().with_body(body.clone());
        let resp = forward(copy, registry::ORIGIN.unwrap());
        if !resp.get_status().is_success() {
            return resp;
        }
        origin_answer = Some(resp);
    }
    let data = RequestData {
        headers: headers_of(&req),
        method,
        query: req.get_query_str().unwrap_or("").to_string(),
        path,
        body,
        remote_addr: req.get_client_ip_addr().map(|a| a.to_string()).unwrap_or_default(),
        secure: req.get_url().scheme() == "https",
    };
    let start = std::time::Instant::now();
    let (outcome, fuel) = host::run(ext, data);
    let timing = format!(
        "habanero;dur={:.3};desc=\"{} fuel {}\"",
        start.elapsed().as_secs_f64() * 1000.0,
        ext.name,
        fuel
    );
    let resp = match outcome {
        Outcome::Returned(r) => to_response(r),
        Outcome::OutOfFuel => {
            eprintln!("[{}] warn: exceeded its budget of {} instructions; stopped", ext.name, ext.fuel);
            text(503, "extension exceeded its deadline\n")
        }
        Outcome::Failed(why) => {
            eprintln!("[{}] error: {why}", ext.name);
            text(500, "extension failed\n")
        }
    };
    if let Some(answer) = origin_answer {
        if !resp.get_status().is_success() {
            eprintln!("[{}] warn: mirrored {sub}: the origin answered {}, the edge {}",
                      ext.name, answer.get_status().as_u16(), resp.get_status().as_u16());
        }
        return answer;
    }
    resp.with_header("Server-Timing", timing)
}

#[fastly::main]
fn main(req: Request) -> Result<Response, Error> {
    Ok(dispatch(req))
}
