// The host's records at the edge (design 0001): client registrations and users
// in the KV store "habanero_records", browser sessions and login attempts in
// "habanero_sessions" — the same JSON records, namespaces and keys as the
// server's storage (src/auth/), copied there by `habanero edge export`.
// Semantics follow src/auth/{clients,users,sessions}.cc.
use crate::keys::{b64, b64_decode};
use crate::kv::{Kv, KvResult, now_ms};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const CLIENTS_NS: &str = "_host/clients";
pub const USERS_NS: &str = "_host/users";
pub const USERS_BY_EMAIL_NS: &str = "_host/users_by_email";
pub const USERS_BY_PHONE_NS: &str = "_host/users_by_phone";
pub const SESSIONS_NS: &str = "_host/sessions";
pub const LOGIN_NS: &str = "_host/login";

pub const SESSION_COOKIE: &str = "habanero_session";
pub const LOGIN_COOKIE: &str = "habanero_login";
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
pub const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;
const COOKIE_BYTES: usize = 32;
const SID_BYTES: usize = 16;
const RT_BYTES: usize = 32;
const MAX_COOKIES_TRIED: usize = 4;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_CLIENT_SECRET_BYTES: usize = 1024;
const MAX_RETURN_TO_BYTES: usize = 4096;
const MAX_LOGIN_HINT_BYTES: usize = 512;

// An Argon2id hash (the server's parameters) that no password matches: unknown
// emails cost the same verification as known ones.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$aGFiYW5lcm8tZWRnZS1kdW1teQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn random_token(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).map_err(|e| format!("random: {e}"))?;
    Ok(b64(&buf))
}

fn looks_like_token(s: &str, bytes: usize) -> bool {
    s.len() == (bytes * 4 + 2) / 3 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

fn parse(text: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

// ---- clients ---------------------------------------------------------------

/// The registration JSON client_get hands out (registrationJson in clients.cc).
pub fn client_json(records: &Kv, client_id: &[u8]) -> KvResult<Option<String>> {
    let Some(text) = records.get(CLIENTS_NS, client_id)? else { return Ok(None) };
    let Some(r) = parse(&text) else { return Ok(None) };
    let mut out = Map::new();
    for k in ["client_id", "name", "public", "redirect_uris", "post_logout_redirect_uris", "grant_types",
              "scopes", "first_party", "token_format"] {
        let Some(v) = r.get(k) else { return Ok(None) };
        out.insert(k.into(), v.clone());
    }
    if out.get("client_id").and_then(Value::as_str).map(str::as_bytes) != Some(client_id) {
        return Ok(None);
    }
    Ok(Some(Value::Object(out).to_string()))
}

/// Whether `secret` is the confidential client's secret (Clients::authenticate).
pub fn client_authenticate(records: &Kv, client_id: &[u8], secret: &[u8]) -> KvResult<bool> {
    let secret = if secret.len() > MAX_CLIENT_SECRET_BYTES { &secret[..0] } else { secret };
    let record = records.get(CLIENTS_NS, client_id)?.and_then(|t| parse(&t));
    let digest = sha256(secret);
    let dummy = [0u8; 32];
    let Some(r) = record else {
        let _ = digest.ct_eq(&dummy);
        return Ok(false);
    };
    let kind = s(&r, "secret_kind").unwrap_or("none");
    let hash = s(&r, "secret_hash").unwrap_or("");
    let public = r.get("public").and_then(Value::as_bool).unwrap_or(true);
    if public || kind == "none" || secret.is_empty() {
        let _ = digest.ct_eq(&dummy);
        return Ok(false);
    }
    match kind {
        "sha256" => Ok(b64_decode(hash.as_bytes())
            .is_some_and(|stored| stored.len() == 32 && bool::from(stored.as_slice().ct_eq(&digest)))),
        "argon2id" => Ok(argon2_verify(hash, secret)),
        _ => Ok(false),
    }
}

fn argon2_verify(phc: &str, password: &[u8]) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(phc) {
        Ok(h) => argon2::Argon2::default().verify_password(password, &h).is_ok(),
        Err(_) => false,
    }
}

// ---- users -----------------------------------------------------------------

fn user(records: &Kv, subject: &[u8]) -> KvResult<Option<Map<String, Value>>> {
    Ok(records
        .get(USERS_NS, subject)?
        .and_then(|t| parse(&t))
        .filter(|r| s(r, "sub").map(str::as_bytes) == Some(subject)))
}

pub fn user_exists(records: &Kv, subject: &[u8]) -> KvResult<bool> {
    Ok(user(records, subject)?.is_some())
}

/// The claims JSON user_get hands out (Users::claimsJson).
pub fn user_claims(records: &Kv, subject: &[u8]) -> KvResult<Option<String>> {
    let Some(u) = user(records, subject)? else { return Ok(None) };
    let mut j = Map::new();
    j.insert("sub".into(), u["sub"].clone());
    let nonempty = |k: &str| s(&u, k).is_some_and(|v| !v.is_empty());
    let flag = |k: &str| Value::Bool(u.get(k).and_then(Value::as_bool).unwrap_or(false));
    if nonempty("email") {
        j.insert("email".into(), u["email"].clone());
        j.insert("email_verified".into(), flag("email_verified"));
    }
    if nonempty("name") {
        j.insert("name".into(), u["name"].clone());
    }
    if nonempty("phone_number") {
        j.insert("phone_number".into(), u["phone_number"].clone());
        j.insert("phone_number_verified".into(), flag("phone_number_verified"));
    }
    for k in ["website", "webid"] {
        if nonempty(k) {
            j.insert(k.into(), u[k].clone());
        }
    }
    Ok(Some(Value::Object(j).to_string()))
}

/// normalizeEmail in users.cc: trimmed, checked, ASCII-lower-cased.
pub fn normalize_email(email: &[u8]) -> Option<String> {
    let mut e = email;
    while let [b' ' | b'\t', rest @ ..] = e {
        e = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = e {
        e = rest;
    }
    let e = std::str::from_utf8(e).ok()?;
    if e.is_empty() || e.len() > 254 || e.chars().any(|c| c.is_control()) {
        return None;
    }
    if e.contains([' ', '\t', '"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']']) {
        return None;
    }
    let (local, domain) = e.split_once('@')?;
    if domain.contains('@') || local.is_empty() || local.len() > 64 {
        return None;
    }
    if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return None;
    }
    Some(e.to_ascii_lowercase())
}

pub fn is_e164(s: &[u8]) -> bool {
    s.len() >= 3 && s.len() <= 16 && s[0] == b'+' && (b'1'..=b'9').contains(&s[1]) && s[1..].iter().all(u8::is_ascii_digit)
}

/// The subject if `password` is this email's password: exactly one Argon2id
/// verification whatever the email (Users::verifyPassword).
pub fn verify_password(records: &Kv, email: &[u8], password: &[u8]) -> KvResult<Option<String>> {
    let mut record = None;
    if let Some(e) = normalize_email(email) {
        if password.len() <= MAX_PASSWORD_BYTES {
            if let Some(sub) = records.get(USERS_BY_EMAIL_NS, e.as_bytes())? {
                record = user(records, &sub)?;
            }
        }
    }
    let password = if password.len() > MAX_PASSWORD_BYTES { &password[..0] } else { password };
    let hash = record.as_ref().and_then(|r| s(r, "password_hash")).filter(|h| !h.is_empty());
    match hash {
        None => {
            argon2_verify(DUMMY_HASH, password);
            Ok(None)
        }
        Some(h) => Ok(argon2_verify(h, password).then(|| s(record.as_ref().unwrap(), "sub").unwrap().to_string())),
    }
}

/// user_find: the subject for an email (normalised) or E.164 number.
pub fn find_user(records: &Kv, by_phone: bool, value: &[u8]) -> KvResult<Option<String>> {
    let (ns, key) = if by_phone {
        (USERS_BY_PHONE_NS, value.to_vec())
    } else {
        match normalize_email(value) {
            Some(e) => (USERS_BY_EMAIL_NS, e.into_bytes()),
            None => return Ok(None),
        }
    };
    let Some(sub) = records.get(ns, &key)? else { return Ok(None) };
    Ok(user(records, &sub)?.map(|u| s(&u, "sub").unwrap_or_default().to_string()))
}

// ---- sessions and login attempts ---------------------------------------------

/// The values of every cookie `name` in the request's Cookie headers.
pub fn cookies<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (h, v) in headers {
        if !h.eq_ignore_ascii_case("cookie") {
            continue;
        }
        let Ok(v) = std::str::from_utf8(v) else { continue };
        for pair in v.split(';') {
            let pair = pair.trim_matches([' ', '\t']);
            let Some((k, val)) = pair.split_once('=') else { continue };
            if k.trim_matches([' ', '\t']) != name {
                continue;
            }
            let mut val = val.trim_matches([' ', '\t']);
            if val.len() >= 2 && val.starts_with('"') && val.ends_with('"') {
                val = &val[1..val.len() - 1];
            }
            out.push(val);
        }
    }
    out
}

fn cookie_attributes(max_age_s: i64, secure: bool) -> String {
    format!("; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" })
}

pub fn session_cookie(value: &str, secure: bool) -> String {
    format!("{SESSION_COOKIE}={value}{}", cookie_attributes(SESSION_TTL_MS / 1000, secure))
}

pub fn clear_session_cookie(secure: bool) -> String {
    format!("{SESSION_COOKIE}={}", cookie_attributes(0, secure))
}

/// The session JSON session_get hands out, or None.
pub fn session_get(sessions: &Kv, headers: &[(String, Vec<u8>)]) -> KvResult<Option<Map<String, Value>>> {
    for v in cookies(headers, SESSION_COOKIE).into_iter().take(MAX_COOKIES_TRIED) {
        if !looks_like_token(v, COOKIE_BYTES) {
            continue;
        }
        let Some(text) = sessions.get(SESSIONS_NS, &sha256(v.as_bytes()))? else { continue };
        if let Some(m) = parse(&text) {
            let ok = s(&m, "sub").is_some()
                && m.get("amr").and_then(Value::as_array).is_some_and(|a| a.iter().all(Value::is_string))
                && m.get("auth_time").is_some_and(Value::is_i64)
                && s(&m, "sid").is_some();
            if ok {
                let mut out = Map::new();
                for k in ["sub", "amr", "auth_time", "sid"] {
                    out.insert(k.into(), m[k].clone());
                }
                return Ok(Some(out));
            }
        }
    }
    Ok(None)
}

pub fn session_start(sessions: &Kv, subject: &str, amr: Vec<String>) -> KvResult<String> {
    let cookie = random_token(COOKIE_BYTES)?;
    let sid = random_token(SID_BYTES)?;
    let record = json!({"sub": subject, "amr": amr, "auth_time": now_ms() / 1000, "sid": sid});
    sessions.put(SESSIONS_NS, &sha256(cookie.as_bytes()), record.to_string().as_bytes(), SESSION_TTL_MS)?;
    Ok(cookie)
}

pub fn session_end(sessions: &Kv, headers: &[(String, Vec<u8>)]) -> KvResult<()> {
    for v in cookies(headers, SESSION_COOKIE).into_iter().take(MAX_COOKIES_TRIED) {
        if looks_like_token(v, COOKIE_BYTES) {
            sessions.remove(SESSIONS_NS, &sha256(v.as_bytes()))?;
        }
    }
    Ok(())
}

pub fn is_local_path(p: &[u8]) -> bool {
    !p.is_empty()
        && p.len() <= MAX_RETURN_TO_BYTES
        && p[0] == b'/'
        && !(p.len() > 1 && (p[1] == b'/' || p[1] == b'\\'))
        && p.iter().all(|&c| c > 0x20 && c < 0x7f)
}

fn is_plain_text(s: &[u8], max: usize) -> bool {
    let Ok(t) = std::str::from_utf8(s) else { return false };
    s.len() <= max && !t.chars().any(|c| c.is_control())
}

pub enum BeginError {
    Invalid,
    Store(String),
}

/// Records a login attempt; returns (rt, Set-Cookie value of the binding).
pub fn begin_login(
    sessions: &Kv,
    return_to: &[u8],
    login_hint: &[u8],
    headers: &[(String, Vec<u8>)],
    secure: bool,
) -> Result<(String, String), BeginError> {
    if !is_local_path(return_to) || !is_plain_text(login_hint, MAX_LOGIN_HINT_BYTES) {
        return Err(BeginError::Invalid);
    }
    let binding_cookie = match cookies(headers, LOGIN_COOKIE).into_iter().find(|v| looks_like_token(v, COOKIE_BYTES)) {
        Some(v) => v.to_string(),
        None => random_token(COOKIE_BYTES).map_err(BeginError::Store)?,
    };
    let rt = random_token(RT_BYTES).map_err(BeginError::Store)?;
    let record = json!({
        "return_to": String::from_utf8_lossy(return_to),
        "login_hint": String::from_utf8_lossy(login_hint),
        "created_ms": now_ms(),
        "binding": b64(&sha256(binding_cookie.as_bytes())),
    });
    sessions
        .put(LOGIN_NS, rt.as_bytes(), record.to_string().as_bytes(), LOGIN_TTL_MS)
        .map_err(BeginError::Store)?;
    let cookie = format!("{LOGIN_COOKIE}={binding_cookie}{}", cookie_attributes(LOGIN_TTL_MS / 1000, secure));
    Ok((rt, cookie))
}

fn bound_attempt(text: &[u8], headers: &[(String, Vec<u8>)]) -> Option<Map<String, Value>> {
    let a = parse(text)?;
    s(&a, "return_to")?;
    s(&a, "login_hint")?;
    let binding = s(&a, "binding")?.as_bytes().to_vec();
    let mut ok = false;
    for v in cookies(headers, LOGIN_COOKIE).into_iter().take(MAX_COOKIES_TRIED) {
        if looks_like_token(v, COOKIE_BYTES) && bool::from(b64(&sha256(v.as_bytes())).as_bytes().ct_eq(&binding)) {
            ok = true;
        }
    }
    ok.then_some(a)
}

/// The attempt (return_to, login_hint) if it exists for this browser.
pub fn find_attempt(sessions: &Kv, rt: &[u8], headers: &[(String, Vec<u8>)]) -> KvResult<Option<(String, String)>> {
    let Ok(rt_s) = std::str::from_utf8(rt) else { return Ok(None) };
    if !looks_like_token(rt_s, RT_BYTES) {
        return Ok(None);
    }
    let Some(text) = sessions.get(LOGIN_NS, rt)? else { return Ok(None) };
    Ok(bound_attempt(&text, headers).map(|a| (s(&a, "return_to").unwrap().into(), s(&a, "login_hint").unwrap().into())))
}

pub fn take_attempt(sessions: &Kv, rt: &[u8], headers: &[(String, Vec<u8>)]) -> KvResult<Option<(String, String)>> {
    if find_attempt(sessions, rt, headers)?.is_none() {
        return Ok(None);
    }
    let Some(text) = sessions.take(LOGIN_NS, rt)? else { return Ok(None) };
    Ok(bound_attempt(&text, headers).map(|a| (s(&a, "return_to").unwrap().into(), s(&a, "login_hint").unwrap().into())))
}

/// parseAmr: a JSON array of at most 16 strings of 1..64 printable ASCII.
pub fn parse_amr(text: &[u8]) -> Option<Vec<String>> {
    let Ok(Value::Array(a)) = serde_json::from_slice::<Value>(text) else { return None };
    if a.len() > 16 {
        return None;
    }
    a.iter()
        .map(|v| {
            let s = v.as_str()?;
            (!s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c > 0x20 && c < 0x7f)).then(|| s.to_string())
        })
        .collect()
}
