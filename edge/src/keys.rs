// The host's JWS signing keys at the edge (capability "keys"). The private
// keys come from the secret store "habanero_keys" (entry "keyset", written by
// `habanero edge export` from the server's key store: the same PKCS#8 keys, so
// tokens from either verify against either's JWKS) and are used here with
// RustCrypto; they never enter extension memory. The public JWKS is the
// server's, from the same entry.
//
// "keyset": {"keys":[{"kid","alg","private_key_pem","expires_ms"}], "jwks":{…}}
// with the active key first and expires_ms 0 for it; a retained key verifies
// until expires_ms.
use base64::Engine as _;
use serde_json::{Map, Value};

pub const MAX_HEADER_DEPTH: usize = 16;

enum Private {
    Es256(p256::ecdsa::SigningKey),
    EdDsa(ed25519_dalek::SigningKey),
    Rs256(Box<rsa::RsaPrivateKey>),
}

struct Key {
    kid: String,
    alg: String,
    expires_ms: i64,
    private: Private,
}

pub struct KeySet {
    keys: Vec<Key>,
    jwks: String,
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Strict base64url without padding (the native host's base64UrlDecode).
pub fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 || text.iter().any(|c| !(c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')) {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// Whether the text nests JSON deeper than `max` (checked before parsing,
/// so hostile input cannot exhaust the parser's recursion).
pub fn too_deep(text: &[u8], max: usize) -> bool {
    let (mut d, mut in_str, mut esc) = (0usize, false, false);
    for &c in text {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                d += 1;
                if d > max {
                    return true;
                }
            }
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    false
}

pub fn parse_object(text: &[u8]) -> Option<Map<String, Value>> {
    if too_deep(text, MAX_HEADER_DEPTH) {
        return None;
    }
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

pub enum SignError {
    InvalidArgument,
    Unavailable(String),
}

impl KeySet {
    /// Loads the keyset; Err says why (logged; keys calls then answer UNAVAILABLE).
    pub fn load() -> Result<KeySet, String> {
        let store = fastly::SecretStore::open("habanero_keys")
            .map_err(|e| format!("secret store habanero_keys: {e}"))?;
        let secret = store
            .try_get("keyset")
            .map_err(|e| format!("secret store habanero_keys: {e}"))?
            .ok_or("secret store habanero_keys has no entry \"keyset\" (run `habanero edge export`)")?;
        let text = secret.plaintext();
        let j: Value = serde_json::from_slice(&text).map_err(|e| format!("keyset: {e}"))?;
        let mut keys = Vec::new();
        for k in j.get("keys").and_then(Value::as_array).ok_or("keyset: no \"keys\" array")? {
            let field = |name: &str| k.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
            let (kid, alg, pem) = (field("kid"), field("alg"), field("private_key_pem"));
            let private = match alg.as_str() {
                "ES256" => {
                    use p256::pkcs8::DecodePrivateKey;
                    Private::Es256(
                        p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).map_err(|e| format!("key {kid}: {e}"))?,
                    )
                }
                "EdDSA" => {
                    use ed25519_dalek::pkcs8::DecodePrivateKey;
                    Private::EdDsa(
                        ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|e| format!("key {kid}: {e}"))?,
                    )
                }
                "RS256" => {
                    use rsa::pkcs8::DecodePrivateKey;
                    Private::Rs256(Box::new(
                        rsa::RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| format!("key {kid}: {e}"))?,
                    ))
                }
                other => return Err(format!("key {kid}: unsupported alg {other:?}")),
            };
            let expires_ms = k.get("expires_ms").and_then(Value::as_i64).unwrap_or(0);
            keys.push(Key { kid, alg, expires_ms, private });
        }
        if keys.is_empty() {
            return Err("keyset: no keys".into());
        }
        let jwks = j.get("jwks").map(|v| v.to_string()).ok_or("keyset: no \"jwks\"")?;
        Ok(KeySet { keys, jwks })
    }

    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    fn usable(&self, now_ms: i64) -> impl Iterator<Item = &Key> {
        self.keys.iter().enumerate().filter(move |(i, k)| *i == 0 || k.expires_ms == 0 || now_ms < k.expires_ms).map(|(_, k)| k)
    }

    /// A compact JWS over `payload` with the active key; `header_json` holds
    /// extra protected members (empty or a JSON object without "crit").
    pub fn sign(&self, header_json: &[u8], payload: &[u8]) -> Result<String, SignError> {
        let mut header = if header_json.is_empty() {
            Map::new()
        } else {
            parse_object(header_json).ok_or(SignError::InvalidArgument)?
        };
        if header.contains_key("crit") {
            return Err(SignError::InvalidArgument);
        }
        let key = &self.keys[0];
        header.insert("alg".into(), Value::String(key.alg.clone()));
        header.insert("kid".into(), Value::String(key.kid.clone()));
        let mut input = b64(Value::Object(header).to_string().as_bytes());
        input.push('.');
        input.push_str(&b64(payload));
        let signature = match &key.private {
            Private::Es256(k) => {
                use p256::ecdsa::signature::Signer;
                let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
                s.to_bytes().to_vec()
            }
            Private::EdDsa(k) => {
                use ed25519_dalek::Signer;
                k.sign(input.as_bytes()).to_bytes().to_vec()
            }
            Private::Rs256(k) => {
                use rsa::signature::{SignatureEncoding, Signer};
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
                signer
                    .try_sign(input.as_bytes())
                    .map_err(|e| SignError::Unavailable(e.to_string()))?
                    .to_vec()
            }
        };
        input.push('.');
        input.push_str(&b64(&signature));
        Ok(input)
    }

    /// The payload if `jws` verifies with a usable key (the native rules:
    /// three strict base64url parts, an object header with a string alg other
    /// than none, no crit, a kid naming a usable key of that alg).
    pub fn verify(&self, jws: &[u8], now_ms: i64) -> Option<Vec<u8>> {
        let parts: Vec<&[u8]> = jws.split(|&c| c == b'.').collect();
        if parts.len() != 3 {
            return None;
        }
        let header = parse_object(&b64_decode(parts[0])?)?;
        let payload = b64_decode(parts[1])?;
        let signature = b64_decode(parts[2])?;
        let alg = header.get("alg")?.as_str()?;
        let kid = header.get("kid")?.as_str()?;
        if alg == "none" || header.contains_key("crit") {
            return None;
        }
        let key = self.usable(now_ms).find(|k| k.kid == kid)?;
        if key.alg != alg {
            return None;
        }
        let input = &jws[..parts[0].len() + 1 + parts[1].len()];
        let ok = match &key.private {
            Private::Es256(k) => {
                use p256::ecdsa::signature::Verifier;
                let sig = p256::ecdsa::Signature::from_slice(&signature).ok()?;
                k.verifying_key().verify(input, &sig).is_ok()
            }
            Private::EdDsa(k) => {
                let sig = ed25519_dalek::Signature::from_slice(&signature).ok()?;
                k.verifying_key().verify_strict(input, &sig).is_ok()
            }
            Private::Rs256(k) => {
                use rsa::signature::Verifier;
                let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(k.to_public_key());
                let sig = rsa::pkcs1v15::Signature::try_from(signature.as_slice()).ok()?;
                vk.verify(input, &sig).is_ok()
            }
        };
        ok.then_some(payload)
    }
}
