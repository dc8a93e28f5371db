//! Compact JWS with RS256 (RFC 7515, RFC 7518 §3.3), signed and verified with `ring`,
//! whose RSA is constant-time assembly and several times faster than the pure-Rust
//! alternatives. Only what Cairn's own tokens need: one algorithm, keys chosen by `kid`
//! among our own, no `jku`/`x5u`/`jwk` ever consulted (RFC 8725 §3.10), `crit` refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::TokenError;

/// Signs `claims` as `header.payload.signature` with `typ` and `kid` in the header.
pub(crate) fn sign(key: &RsaKeyPair, kid: &str, typ: &str, claims: &impl Serialize) -> Result<String, TokenError> {
    let header = json!({ "alg": "RS256", "typ": typ, "kid": kid });
    let payload = serde_json::to_vec(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
    let mut out = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serialises"));
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), out.as_bytes(), &mut signature)
        .map_err(|_| TokenError::Signing("RSA signing failed".into()))?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(out)
}

/// A token's protected header, as far as verification reads it.
#[derive(Debug)]
pub(crate) struct Header {
    pub typ: Option<String>,
    pub kid: Option<String>,
}

fn json_part(part: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(TokenError::Malformed),
    }
}

/// Splits and checks the header: three parts, `alg` exactly `RS256`, no `crit`.
pub(crate) fn header(token: &str) -> Result<Header, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let h = json_part(h)?;
    if h.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(TokenError::Algorithm);
    }
    if h.contains_key("crit") {
        return Err(TokenError::Malformed);
    }
    let text = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Header { typ: text("typ"), kid: text("kid") })
}

/// Verifies the signature with `key` and returns the claims.
pub(crate) fn verify(token: &str, key: &RsaPublicKeyComponents<Vec<u8>>) -> Result<Map<String, Value>, TokenError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    key.verify(&RSA_PKCS1_2048_8192_SHA256, signing_input.as_bytes(), &signature)
        .map_err(|_| TokenError::Invalid("bad signature".into()))?;
    let payload = signing_input.split_once('.').map(|(_, p)| p).ok_or(TokenError::Malformed)?;
    json_part(payload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;

    fn key() -> (RsaKeyPair, RsaPublicKeyComponents<Vec<u8>>) {
        let k = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let public = RsaPublicKeyComponents { n: k.n().to_bytes_be(), e: k.e().to_bytes_be() };
        (RsaKeyPair::from_pkcs8(k.to_pkcs8_der().unwrap().as_bytes()).unwrap(), public)
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn round_trip_and_every_tampering_is_refused() {
        let (pair, public) = key();
        let token = sign(&pair, "k1", "at+jwt", &json!({"sub": "u1"})).unwrap();
        let h = header(&token).unwrap();
        assert_eq!((h.kid.as_deref(), h.typ.as_deref()), (Some("k1"), Some("at+jwt")));
        assert_eq!(verify(&token, &public).unwrap()["sub"], "u1");

        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = format!("{}.{}.{}", parts[0], b64(&json!({"sub": "admin"})), parts[2]);
        assert!(matches!(verify(&forged_payload, &public), Err(TokenError::Invalid(_))));
        let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "k1"})), parts[1]);
        assert_eq!(header(&none).unwrap_err(), TokenError::Algorithm);
        let hs = format!("{}.{}.{}", b64(&json!({"alg": "HS256", "kid": "k1"})), parts[1], parts[2]);
        assert_eq!(header(&hs).unwrap_err(), TokenError::Algorithm);
        let crit = format!("{}.{}.{}", b64(&json!({"alg": "RS256", "kid": "k1", "crit": ["exp"]})), parts[1], parts[2]);
        assert_eq!(header(&crit).unwrap_err(), TokenError::Malformed);
        for bad in ["", "a.b", "a.b.c.d", &format!("{token}.x"), "!!.??.**"] {
            assert!(header(bad).is_err() || verify(bad, &public).is_err(), "{bad}");
        }
        // Another key's signature does not verify.
        let (_, other) = key();
        assert!(verify(&token, &other).is_err());
    }
}
