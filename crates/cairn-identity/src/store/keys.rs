//! SQL of the control database's `signing_keys`: the platform's RS256 keys, private keys sealed.

use cairn_store::Db;
use cairn_store::sqlx::{self, Row};

/// A stored RS256 key: its id, the sealed private key, the public modulus and exponent
/// (base64url).
pub(crate) struct StoredKey {
    pub kid: String,
    pub sealed_private_key: String,
    pub n: String,
    pub e: String,
}

/// Stores generation 1 unless a replica starting at the same time stored it first.
pub(crate) async fn insert_first_signing_key(
    control: &Db,
    kid: &str,
    sealed_private_key: &str,
    n: &str,
    e: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, generation, alg, private_key, public_n, public_e, created_at) \
         VALUES ($1, 1, 'RS256', $2, $3, $4, $5) ON CONFLICT (generation) DO NOTHING",
    )
    .bind(kid)
    .bind(sealed_private_key)
    .bind(n)
    .bind(e)
    .bind(now)
    .execute(control.writer())
    .await
    .map(drop)
}

/// Every RS256 key, newest generation first.
pub(crate) async fn signing_keys(control: &Db) -> Result<Vec<StoredKey>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kid, private_key, public_n, public_e FROM signing_keys WHERE alg = 'RS256' ORDER BY generation DESC",
    )
    .fetch_all(control.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StoredKey {
                kid: r.try_get("kid")?,
                sealed_private_key: r.try_get("private_key")?,
                n: r.try_get("public_n")?,
                e: r.try_get("public_e")?,
            })
        })
        .collect()
}
