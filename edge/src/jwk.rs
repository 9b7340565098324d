// Public JWKs for crypto_jws_verify_jwk and crypto_jwk_thumbprint (DPoP), with
// the rules of src/crypto/jwk.cc: ES256/ES384, EdDSA (Ed25519), RS256/PS256
// with 2048..8192-bit moduli; private or symmetric members refused; "use" must
// be "sig" and "key_ops" must allow "verify" when present.
use crate::keys::{b64, b64_decode, parse_object};
use serde_json::{Map, Value, json};
use sha2::Digest;

const MAX_JWK_BYTES: usize = 16 * 1024;
const MAX_JWS_BYTES: usize = 256 * 1024;
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

pub enum JwkError {
    Invalid, // malformed input: INVALID_ARGUMENT
    Denied,  // a bad signature or an alg that does not fit: MISMATCH
}
use JwkError::*;

enum PublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    Rsa(rsa::RsaPublicKey),
}

struct Jwk {
    key: PublicKey,
    alg: String,
    required: Value,
}

fn opt_str<'a>(j: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, JwkError> {
    match j.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Invalid),
    }
}

fn req_str<'a>(j: &'a Map<String, Value>, name: &str) -> Result<&'a str, JwkError> {
    opt_str(j, name)?.filter(|s| !s.is_empty()).ok_or(Invalid)
}

fn req_bytes(j: &Map<String, Value>, name: &str, size: usize) -> Result<(Vec<u8>, String), JwkError> {
    let text = req_str(j, name)?;
    let bytes = b64_decode(text.as_bytes()).ok_or(Invalid)?;
    if size > 0 && bytes.len() != size {
        return Err(Invalid);
    }
    Ok((bytes, text.to_string()))
}

fn parse_jwk(text: &[u8]) -> Result<Jwk, JwkError> {
    if text.len() > MAX_JWK_BYTES {
        return Err(Invalid);
    }
    let j = parse_object(text).ok_or(Invalid)?;
    if PRIVATE_MEMBERS.iter().any(|m| j.contains_key(*m)) {
        return Err(Invalid);
    }
    let kty = req_str(&j, "kty")?;
    let alg = opt_str(&j, "alg")?.unwrap_or("").to_string();
    if opt_str(&j, "use")?.is_some_and(|u| u != "sig") {
        return Err(Invalid);
    }
    if let Some(ops) = j.get("key_ops") {
        let ops = ops.as_array().ok_or(Invalid)?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err(Invalid);
        }
    }
    match kty {
        "EC" => {
            let crv = req_str(&j, "crv")?;
            let field = match crv {
                "P-256" => 32,
                "P-384" => 48,
                _ => return Err(Invalid),
            };
            let (x, x_text) = req_bytes(&j, "x", field)?;
            let (y, y_text) = req_bytes(&j, "y", field)?;
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let key = if field == 32 {
                PublicKey::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| Invalid)?)
            } else {
                PublicKey::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| Invalid)?)
            };
            Ok(Jwk { key, alg, required: json!({"crv": crv, "kty": "EC", "x": x_text, "y": y_text}) })
        }
        "OKP" => {
            if req_str(&j, "crv")? != "Ed25519" {
                return Err(Invalid);
            }
            let (x, x_text) = req_bytes(&j, "x", 32)?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x.try_into().unwrap()).map_err(|_| Invalid)?;
            Ok(Jwk { key: PublicKey::Ed25519(key), alg, required: json!({"crv": "Ed25519", "kty": "OKP", "x": x_text}) })
        }
        "RSA" => {
            let (n, n_text) = req_bytes(&j, "n", 0)?;
            let (e, e_text) = req_bytes(&j, "e", 0)?;
            if e.is_empty() || e.len() > 8 {
                return Err(Invalid);
            }
            let n = rsa::BigUint::from_bytes_be(&n);
            let bits = n.bits();
            if !(2048..=8192).contains(&bits) {
                return Err(Invalid);
            }
            let key = rsa::RsaPublicKey::new_with_max_size(n, rsa::BigUint::from_bytes_be(&e), 8192)
                .map_err(|_| Invalid)?;
            Ok(Jwk { key: PublicKey::Rsa(key), alg, required: json!({"e": e_text, "kty": "RSA", "n": n_text}) })
        }
        _ => Err(Invalid),
    }
}

pub fn verify_jws_with_jwk(jws: &[u8], jwk: &[u8]) -> Result<Vec<u8>, JwkError> {
    let key = parse_jwk(jwk)?;
    if jws.len() > MAX_JWS_BYTES {
        return Err(Invalid);
    }
    let parts: Vec<&[u8]> = jws.split(|&c| c == b'.').collect();
    if parts.len() != 3 {
        return Err(Invalid);
    }
    let (Some(header), Some(payload), Some(signature)) =
        (b64_decode(parts[0]), b64_decode(parts[1]), b64_decode(parts[2]))
    else {
        return Err(Invalid);
    };
    let header = parse_object(&header).ok_or(Invalid)?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or(Invalid)?;
    if header.contains_key("crit") {
        return Err(Denied);
    }
    let input = &jws[..parts[0].len() + 1 + parts[1].len()];
    let fits = matches!(
        (alg, &key.key),
        ("ES256", PublicKey::P256(_))
            | ("ES384", PublicKey::P384(_))
            | ("EdDSA", PublicKey::Ed25519(_))
            | ("RS256" | "PS256", PublicKey::Rsa(_))
    );
    if !fits || (!key.alg.is_empty() && key.alg != alg) {
        return Err(Denied);
    }
    let valid = match &key.key {
        PublicKey::P256(k) => {
            use p256::ecdsa::signature::Verifier;
            p256::ecdsa::Signature::from_slice(&signature).is_ok_and(|s| k.verify(input, &s).is_ok())
        }
        PublicKey::P384(k) => {
            use p384::ecdsa::signature::Verifier;
            p384::ecdsa::Signature::from_slice(&signature).is_ok_and(|s| k.verify(input, &s).is_ok())
        }
        PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(&signature)
            .is_ok_and(|s| k.verify_strict(input, &s).is_ok()),
        PublicKey::Rsa(k) => {
            use rsa::traits::PublicKeyParts;
            let digest = sha2::Sha256::digest(input);
            if signature.len() != k.size() {
                false
            } else if alg == "PS256" {
                k.verify(rsa::Pss::new::<sha2::Sha256>(), &digest, &signature).is_ok()
            } else {
                k.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, &signature).is_ok()
            }
        }
    };
    if valid { Ok(payload) } else { Err(Denied) }
}

/// The RFC 7638 SHA-256 thumbprint, base64url.
pub fn thumbprint(jwk: &[u8]) -> Result<String, JwkError> {
    let key = parse_jwk(jwk)?;
    Ok(b64(&sha2::Sha256::digest(key.required.to_string().as_bytes())))
}
