//! RS256 signing keys: generated at first start, private half sealed at rest with the
//! master key, public halves published as a JWK set.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_domain::now_ms;
use cairn_store::Store;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use crate::IdentityError;

pub(crate) struct KeyEntry {
    pub kid: String,
    pub n: String,
    pub e: String,
    pub public: RsaPublicKeyComponents<Vec<u8>>,
}

/// The platform's signing keys: every published key verifies; the newest signs.
pub struct SigningKeys {
    pub(crate) verifying: Vec<KeyEntry>,
    pub(crate) signing_kid: String,
    pub(crate) signing: RsaKeyPair,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys").field("signing_kid", &self.signing_kid).finish_non_exhaustive()
    }
}

fn aad(kid: &str) -> String {
    format!("signing_keys.private_key:{kid}")
}

impl SigningKeys {
    /// Loads the keys, generating the first one if the control database has none; the
    /// flag says whether this call created it (the platform's first start).
    pub async fn load_or_create(store: &Store) -> Result<(SigningKeys, bool), IdentityError> {
        if let Some(keys) = Self::load(store).await? {
            return Ok((keys, false));
        }
        let generated = generate_rsa_key()?;
        // Two replicas starting together both try generation 1; one row wins.
        let sealed = store.master_key().seal(generated.pem.as_bytes(), &aad(&generated.kid));
        crate::store::keys::insert_first_signing_key(
            store.control(),
            &generated.kid,
            &sealed,
            &generated.n,
            &generated.e,
            now_ms(),
        )
        .await?;
        let keys = Self::load(store).await?.ok_or_else(|| IdentityError::Key("no key after creating one".into()))?;
        let created = keys.signing_kid == generated.kid;
        Ok((keys, created))
    }

    async fn load(store: &Store) -> Result<Option<SigningKeys>, IdentityError> {
        let rows = crate::store::keys::signing_keys(store.control()).await?;
        let Some(newest) = rows.first() else { return Ok(None) };
        let signing_kid = newest.kid.clone();
        let pem = store.master_key().open(&newest.sealed_private_key, &aad(&signing_kid)).map_err(|e| {
            IdentityError::Key(format!("{e} (is CAIRN_MASTER_KEY the one this data was created with?)"))
        })?;
        let signing = signing_key(&pem)?;
        let mut verifying = Vec::with_capacity(rows.len());
        for row in &rows {
            let (kid, n, e) = (row.kid.clone(), row.n.clone(), row.e.clone());
            let bytes =
                |v: &str| URL_SAFE_NO_PAD.decode(v).map_err(|_| IdentityError::Key(format!("key {kid} is corrupt")));
            let public = RsaPublicKeyComponents { n: bytes(&n)?, e: bytes(&e)? };
            verifying.push(KeyEntry { kid, n, e, public });
        }
        Ok(Some(SigningKeys { verifying, signing_kid, signing }))
    }

    /// The JWK set (RFC 7517) of every verifying key.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .verifying
            .iter()
            .map(|k| json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e}))
            .collect();
        json!({ "keys": keys })
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&KeyEntry> {
        self.verifying.iter().find(|k| k.kid == kid)
    }
}

/// The PKCS#8 PEM private key as `ring` signs with it.
fn signing_key(pem: &[u8]) -> Result<RsaKeyPair, IdentityError> {
    let bad = |e: &dyn std::fmt::Display| IdentityError::Key(e.to_string());
    let text = std::str::from_utf8(pem).map_err(|e| bad(&e))?;
    let der = rsa::RsaPrivateKey::from_pkcs8_pem(text).and_then(|k| k.to_pkcs8_der()).map_err(|e| bad(&e))?;
    RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| bad(&e))
}

struct Generated {
    kid: String,
    pem: String,
    n: String,
    e: String,
}

fn generate_rsa_key() -> Result<Generated, IdentityError> {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| IdentityError::Key(e.to_string()))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| IdentityError::Key(e.to_string()))?;
    let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
    let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
    Ok(Generated { kid: uuid::Uuid::now_v7().simple().to_string(), pem: pem.to_string(), n, e })
}
