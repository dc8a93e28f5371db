//! Sealing of secrets at rest with the platform master key (AES-256-GCM).
//!
//! A sealed value is `v1.<base64url(nonce ‖ ciphertext ‖ tag)>`. The associated data binds a
//! sealed value to where it is stored, so a ciphertext copied to another row fails to open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("master key must be 32 bytes, given as 64 hex characters or base64")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value does not open with this master key")]
    WrongKey,
}

/// The 256-bit master key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Accepts 64 hex characters or standard/url-safe base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SecretError::BadKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| SecretError::BadKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self(key))
    }

    /// Hex form, for writing the key file.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A 256-bit key for one `purpose` (e.g. `"reset-codes"`), derived as
    /// HMAC-SHA256(master key, purpose): a digest under it reveals nothing of the master
    /// key or of the keys of other purposes.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let master = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.0);
        let mut ctx = ring::hmac::Context::with_key(&master);
        ctx.update(b"cairn key derivation v1\0");
        ctx.update(purpose.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.sign().as_ref());
        key
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> String {
        let cipher = Aes256Gcm::new_from_slice(&self.0).expect("32-byte key");
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: aad.as_bytes() })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1.{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// HMAC-SHA256 of `message` under the key [`MasterKey::derive`] gives `purpose`,
    /// base64url: a value only this platform can compute, and one purpose's value never
    /// stands for another's.
    pub fn mac(&self, purpose: &str, message: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.derive(purpose));
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&key, message).as_ref())
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, SecretError> {
        let body = sealed.strip_prefix("v1.").ok_or(SecretError::Malformed)?;
        let raw = URL_SAFE_NO_PAD.decode(body).map_err(|_| SecretError::Malformed)?;
        if raw.len() < 12 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, ct) = raw.split_at(12);
        let cipher = Aes256Gcm::new_from_slice(&self.0).expect("32-byte key");
        cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: aad.as_bytes() })
            .map_err(|_| SecretError::WrongKey)
    }
}

/// A URL with its password replaced by `redacted`, for display; `<unparseable>` if it is not
/// a URL (it might still hold a secret).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("redacted"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable>".into(),
    }
}

/// `bytes` random bytes from the operating system, base64url without padding: session
/// handles, client secrets, CSRF tokens, PKCE verifiers.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = MasterKey::generate();
        let sealed = k.seal(b"secret", "row-1");
        assert!(!sealed.contains("secret"));
        assert_eq!(k.open(&sealed, "row-1").unwrap(), b"secret");
        assert_eq!(k.open(&sealed, "row-2"), Err(SecretError::WrongKey));
        assert_eq!(MasterKey::generate().open(&sealed, "row-1"), Err(SecretError::WrongKey));
        assert_eq!(k.open("v1.!!", "row-1"), Err(SecretError::Malformed));
    }

    #[test]
    fn macs_depend_on_key_purpose_and_message() {
        let k = MasterKey::generate();
        let m = k.mac("csrf", b"browser-1");
        assert_eq!(m, k.mac("csrf", b"browser-1"));
        assert_ne!(m, k.mac("csrf", b"browser-2"));
        assert_ne!(m, k.mac("other", b"browser-1"));
        assert_ne!(m, MasterKey::generate().mac("csrf", b"browser-1"));
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_master_key() {
        let k = MasterKey::generate();
        assert_eq!(k.derive("reset-codes"), k.derive("reset-codes"));
        assert_ne!(k.derive("reset-codes"), k.derive("devices"));
        assert_ne!(k.derive("reset-codes"), MasterKey::generate().derive("reset-codes"));
        assert_ne!(k.derive("reset-codes"), k.0);
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact_url("postgres://u:hunter2@h:5/db"), "postgres://u:redacted@h:5/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("not a url hunter2"), "<unparseable>");
    }

    #[test]
    fn parse_forms() {
        let k = MasterKey::generate();
        assert_eq!(MasterKey::parse(&k.to_hex()).unwrap().0, k.0);
        let b64 = base64::engine::general_purpose::STANDARD.encode(k.0);
        assert_eq!(MasterKey::parse(&b64).unwrap().0, k.0);
        assert_eq!(MasterKey::parse("short").unwrap_err(), SecretError::BadKey);
        assert!(!format!("{k:?}").contains(&k.to_hex()));
    }
}
