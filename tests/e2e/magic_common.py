"""Shared parts of the passwordless (magic-email / magic-sms) e2e tests: a real Habanero with
the oauth2 provider and the magic-link authenticators, and a scripted HTTP user agent.

    with SmtpServer() as smtp:
        server = MagicServer(mail_url=smtp.url)           # oauth2 at /, magic-email at /login/email
        server.add_user(email="alice@example.com")
        secret = server.add_client("rp", redirect_uris=[REDIRECT_URI])
        ua = UserAgent()
        flow = AuthFlow(server, ua, "rp")
        page = flow.start()                                # GET /authorize ... -> the email form
        page = ua.submit(page, {"address": "alice@example.com"})
        ...
        server.stop()

Only the standard library (run.sh runs the tests with any python3 >= 3.11). Environment:
HABANERO_BIN and HABANERO_WASM_OUT (set by ctest, tests/e2e/CMakeLists.txt).
"""
import base64
import hashlib
import html.parser
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tomllib
import unittest
import urllib.parse
import urllib.request

from e2e_harness import free_port, wait_until

BIN = os.environ.get("HABANERO_BIN", "")
WASM = os.environ.get("HABANERO_WASM_OUT", "")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the user agent stops there
MAIL_FROM = "Habanero <login@habanero.test>"
EMAIL_CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4})\b")
SMS_CODE = re.compile(r"\b(\d{6})\b")


def manifest_capabilities(module):
    with open(os.path.join(WASM, module + ".manifest.toml"), "rb") as f:
        return list(tomllib.load(f).get("capabilities", []))


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return json.dumps(str(v))  # a TOML basic string is a JSON string for our purposes


def toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)


# ---- the server ------------------------------------------------------------------------------

class MagicServer:
    """A running `habanero serve` on 127.0.0.1 with oauth2 at "/" and the authenticators.

    authenticators: names among "magic-email" (/login/email), "magic-sms" (/login/sms) and
    "password" (/login/password). settings: {name: {key: value}} for [extensions.settings].
    mail_url/sms_url go to [mail]/[sms] (or, with env=True, to HABANERO_SMTP_URL /
    HABANERO_SMTP_FROM / HABANERO_SMS_URL, as an operator would set them). events: the [events]
    knobs; the defaults make retries fast for tests.
    """

    MOUNTS = {"magic-email": "/login/email", "magic-sms": "/login/sms",
              "password": "/login/password"}
    TOPICS = {"magic-email": "magic-email.deliver", "magic-sms": "magic-sms.deliver"}

    def __init__(self, authenticators=("magic-email",), mail_url=None, mail_from=MAIL_FROM,
                 sms_url=None, sms_from=None, settings=None, events=None, env=False,
                 grants=None, extra_config=""):
        if not BIN or not WASM:
            raise RuntimeError("HABANERO_BIN and HABANERO_WASM_OUT must be set (run via ctest)")
        self.tmp = tempfile.mkdtemp(prefix="habanero-e2e-magic-")
        self.data = os.path.join(self.tmp, "data")
        self.config = os.path.join(self.tmp, "habanero.toml")
        self.authenticators = list(authenticators)
        self.mail_url, self.mail_from = mail_url, mail_from
        self.sms_url, self.sms_from = sms_url, sms_from
        self.settings = settings or {}
        self.events = {"poll_ms": 50, "retry_base_ms": 200, "retry_max_ms": 1000,
                       "max_attempts": 100}
        self.events.update(events or {})
        self.use_env = env
        self.grants = grants or {}
        self.extra_config = extra_config
        self.proc = None
        self.lines = []
        last = None
        for _ in range(3):
            self.port = free_port()
            self.issuer = "http://127.0.0.1:%d" % self.port
            self._write_config()
            try:
                self._start()
                return
            except RuntimeError as e:
                last = e
                if not re.search(r"in use|bind", str(e), re.I):
                    break
        shutil.rmtree(self.tmp, ignore_errors=True)
        raise last

    def mount(self, name):
        return self.MOUNTS[name]

    def _write_config(self):
        t = "[server]\n"
        t += "listen = %s\n" % toml_value("127.0.0.1:%d" % self.port)
        t += "issuer = %s\n" % toml_value(self.issuer)
        t += "data_dir = %s\n" % toml_value(self.data)
        t += "shutdown_grace_ms = 2000\n"
        t += "[runtime]\nextension_dir = %s\nwatch_interval_ms = 0\n" % toml_value(WASM)
        t += '[log]\nlevel = "debug"\n'
        if not self.use_env:
            if self.mail_url:
                t += "[mail]\nurl = %s\nfrom = %s\n" % (toml_value(self.mail_url),
                                                         toml_value(self.mail_from))
            if self.sms_url:
                t += "[sms]\nurl = %s\n" % toml_value(self.sms_url)
                if self.sms_from:
                    t += "from = %s\n" % toml_value(self.sms_from)
        t += "[events]\n" + "".join("%s = %s\n" % (k, toml_value(v))
                                    for k, v in self.events.items())
        t += self.extra_config
        for name in ["oauth2"] + self.authenticators:
            mount = "/" if name == "oauth2" else self.MOUNTS[name]
            t += "[[extensions]]\n"
            t += "name = %s\nmodule = %s\nmount = %s\n" % (
                toml_value(name), toml_value(name + ".wasm"), toml_value(mount))
            t += "grants = %s\n" % toml_value(self.grants.get(name, manifest_capabilities(name)))
            if name in self.TOPICS:
                t += "publish = %s\n" % toml_value([self.TOPICS[name]])
            t += "deadline_ms = 10000\n"
            s = self.settings.get(name) or {}
            if s:
                t += "[extensions.settings]\n"
                for k, v in s.items():
                    t += "%s = %s\n" % (toml_key(k), toml_value(v))
        with open(self.config, "w") as f:
            f.write(t)

    def env(self):
        e = dict(os.environ)
        for k in ("HABANERO_SMTP_URL", "HABANERO_SMTP_FROM", "HABANERO_MAIL_URL",
                  "HABANERO_MAIL_FROM", "HABANERO_SMS_URL", "HABANERO_SMS_FROM"):
            e.pop(k, None)
        if self.use_env:
            if self.mail_url:
                e["HABANERO_SMTP_URL"] = self.mail_url
                e["HABANERO_SMTP_FROM"] = self.mail_from
            if self.sms_url:
                e["HABANERO_SMS_URL"] = self.sms_url
                if self.sms_from:
                    e["HABANERO_SMS_FROM"] = self.sms_from
        return e

    def _start(self):
        self.lines = []
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", env=self.env())

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + 60
        while time.time() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(self.issuer + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self._kill()
        raise RuntimeError("habanero did not start:\n" + self.log())

    def log(self):
        return "".join(self.lines)

    def log_tail(self, n=80):
        return "".join(self.lines[-n:])

    def wait_for_log(self, pattern, timeout=30):
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), timeout, "log line /%s/" % pattern, 0.1)

    def cli(self, *args, input=None, check=True):
        out = subprocess.run([BIN, *args, "--config", self.config], input=input,
                             capture_output=True, text=True, timeout=120, env=self.env())
        if check and out.returncode != 0:
            raise AssertionError("habanero %s failed (%d):\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def add_user(self, email=None, phone=None, name=None):
        args = ["user", "add"]
        if email:
            args += ["--email", email, "--email-verified"]
        if phone:
            args += ["--phone", phone, "--phone-verified"]
        if name:
            args += ["--name", name]
        return self.cli(*args)

    def add_client(self, client_id, redirect_uris=(REDIRECT_URI,), secret=None,
                   first_party=True, scopes="openid profile email phone offline_access"):
        secret = secret or secrets.token_urlsafe(32)
        args = ["client", "add", "--id", client_id, "--secret", secret,
                "--grant-types", "authorization_code,refresh_token", "--scopes", scopes,
                "--name", client_id]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        if first_party:
            args.append("--first-party")
        self.cli(*args)
        return secret

    def outbox_list(self):
        return self.cli("outbox", "list").stdout

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._kill()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- a scripted user agent -------------------------------------------------------------------

class Page:
    """A response: status, headers (lower-case names; lists), text, url, and its forms/links."""

    def __init__(self, method, url, status, headers, text):
        self.method, self.url, self.status, self.headers, self.text = (
            method, url, status, headers, text)
        p = _Forms()
        if "html" in self.header("content-type"):
            p.feed(text)
        self.forms, self.links = p.forms, p.links

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else ""

    def form(self, action_contains):
        for f in self.forms:
            if action_contains in f["action"]:
                return f
        raise AssertionError("no form posting to *%s* on %s (%d):\n%s" % (
            action_contains, self.url, self.status, self.text[:3000]))

    def __repr__(self):
        return "<Page %s %s -> %d>" % (self.method, self.url, self.status)


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.links, self._form = [], [], None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "fields": {}}
            self.forms.append(self._form)
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif tag == "input" and self._form is not None and a.get("name"):
            self._form["fields"][a["name"]] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


class UserAgent:
    """A browser as far as the server can tell: one cookie jar, redirects followed by hand,
    Sec-Fetch-Site sent as a browser would. Keeps a transcript for failure messages."""

    def __init__(self, name="ua"):
        self.name = name
        self.cookies = {}  # name -> value (one origin)
        self.transcript = []

    def request(self, method, url, form=None, headers=None, site="same-origin"):
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)
        h = {"User-Agent": "habanero-e2e-%s/1" % self.name, "Accept-Language": "en"}
        if site:
            h["Sec-Fetch-Site"] = site
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        text = r.read().decode("utf-8", "replace")
        headers_out = {}
        for k, v in r.getheaders():
            headers_out.setdefault(k.lower(), []).append(v)
        conn.close()
        for c in headers_out.get("set-cookie", []):
            pair, *attrs = c.split(";")
            name, _, value = pair.partition("=")
            name, value = name.strip(), value.strip()
            expired = any(a.strip().lower().startswith("max-age=0") for a in attrs)
            if expired or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        page = Page(method, url, r.status, headers_out, text)
        self.transcript.append("%s %s%s -> %d\n%s" % (
            method, url, (" form " + body) if body else "", r.status, text[:800]))
        return page

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, form, **kw):
        return self.request("POST", url, form=form, **kw)

    def follow(self, page, stop_at=None, hops=15):
        """Follows redirects from `page` until a non-redirect or a Location starting with
        stop_at (returned as a str)."""
        for _ in range(hops):
            if page.status not in (301, 302, 303, 307, 308):
                return page
            loc = urllib.parse.urljoin(page.url, page.header("location"))
            if stop_at and loc.startswith(stop_at):
                return loc
            page = self.get(loc, site="same-origin")
        raise AssertionError("too many redirects\n" + self.history())

    def submit(self, page, action_contains, values=None, follow=True, stop_at=None):
        f = page.form(action_contains)
        fields = dict(f["fields"])
        fields.update(values or {})
        url = urllib.parse.urljoin(page.url, f["action"] or page.url)
        r = self.post(url, fields) if f["method"] == "post" else self.get(
            url + "?" + urllib.parse.urlencode(fields))
        return self.follow(r, stop_at) if follow else r

    def history(self):
        return "\n".join(self.transcript[-30:])


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class AuthFlow:
    """One authorization code flow (PKCE) of client `client_id` through a UserAgent."""

    def __init__(self, server, ua, client_id, secret=None, authenticator="magic-email",
                 scope="openid email phone", extra=None):
        self.server, self.ua, self.client_id, self.secret = server, ua, client_id, secret
        self.authenticator = authenticator
        self.verifier = secrets.token_urlsafe(48)
        challenge = b64url(hashlib.sha256(self.verifier.encode()).digest())
        self.state, self.nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                  "scope": scope, "state": self.state, "nonce": self.nonce,
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        params.update(extra or {})
        self.url = server.issuer + "/authorize?" + urllib.parse.urlencode(params)
        self.rt = None

    def start(self):
        """GET /authorize, through /login, to the authenticator's form; returns that page."""
        page = self.ua.follow(self.ua.get(self.url, site="none"))
        mount = self.server.mount(self.authenticator)
        if urllib.parse.urlsplit(page.url).path == "/login":  # several methods: pick ours
            links = [h for h in page.links if h.startswith(mount)]
            assert links, "no link to %s on /login:\n%s" % (mount, page.text)
            page = self.ua.follow(self.ua.get(urllib.parse.urljoin(page.url, links[0])))
        assert page.status == 200 and urllib.parse.urlsplit(page.url).path.startswith(mount), \
            "did not reach %s:\n%s" % (mount, self.ua.history())
        self.rt = query_of(page.url).get("rt")
        assert self.rt, page.url
        return page

    def finish(self, page):
        """From the page after login (a redirect chain), to the client's redirect URI; returns
        the token response (a dict) after redeeming the code."""
        loc = self.ua.follow(page, stop_at=REDIRECT_URI)
        if not isinstance(loc, str):
            # A consent page: approve it.
            loc = self.ua.submit(loc, "/consent", {"decision": "approve"}, stop_at=REDIRECT_URI)
        assert isinstance(loc, str), "not sent to the client:\n" + self.ua.history()
        q = query_of(loc)
        assert q.get("state") == self.state and "code" in q, loc
        return token_request(self.server, {
            "grant_type": "authorization_code", "code": q["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": self.verifier}, self.client_id, self.secret)


def token_request(server, form, client_id, secret):
    data = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(server.issuer + "/token", data=data, method="POST")
    auth = base64.b64encode(("%s:%s" % (urllib.parse.quote(client_id, safe=""),
                                        urllib.parse.quote(secret, safe=""))).encode()).decode()
    req.add_header("Authorization", "Basic " + auth)
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class MagicTestCase(unittest.TestCase):
    """Prints the server's log after a failed test (self.server) and stops it."""

    server = None

    def tearDown(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        failed = result is not None and any(
            t is self for t, _ in result.failures + result.errors)
        if self.server is not None:
            if failed:
                print("\n---- server log (last lines) ----\n" + self.server.log_tail(120),
                      flush=True)
            self.server.stop()
            self.server = None


# ---- npm openid-client ---------------------------------------------------------------------

def openid_client_modules():
    """node_modules with openid-client, from the interop cache (scripts/setup-interop.sh)."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "setup-interop.sh")],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise AssertionError("scripts/setup-interop.sh failed:\n" + out.stderr)
    return os.path.join(out.stdout.strip().splitlines()[-1], "node", "node_modules")


def run_openid_client(server, modules, secret, channel, mode, address, answer):
    """Runs magic_openid_client.mjs (client "rp") against `server`; when it prints its NEED
    line, writes answer() (the link or the code the user received) to its stdin. Returns its
    output; raises AssertionError if it failed."""
    work = tempfile.mkdtemp(prefix="habanero-e2e-oidc-")
    try:
        shutil.copy(os.path.join(HERE, "magic_openid_client.mjs"), work)
        os.symlink(modules, os.path.join(work, "node_modules"))
        env = dict(os.environ, HABANERO_ISSUER=server.issuer, RP_CLIENT_ID="rp",
                   RP_CLIENT_SECRET=secret, RP_REDIRECT_URI=REDIRECT_URI,
                   MAGIC_MOUNT=server.mount("magic-" + channel), MAGIC_MODE=mode,
                   MAGIC_ADDRESS=address, MAGIC_AMR="otp,email" if channel == "email" else "sms")
        proc = subprocess.Popen(["node", os.path.join(work, "magic_openid_client.mjs")],
                                cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        out = []
        try:
            for line in proc.stdout:
                out.append(line)
                if line.startswith("NEED "):
                    proc.stdin.write(answer() + "\n")
                    proc.stdin.flush()
            proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdin.close()
            proc.stdout.close()
        text = "".join(out)
        if proc.returncode != 0 or "\nOK " not in "\n" + text:
            raise AssertionError("openid-client flow failed (%s):\n%s" % (proc.returncode, text))
        return text
    finally:
        shutil.rmtree(work, ignore_errors=True)
