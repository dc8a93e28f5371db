//! SQL of the provider's grants: `idp_sessions` (browser sessions at the provider),
//! `auth_codes`, `token_families` (one per sign-in of a client) and `refresh_tokens` (a
//! family's rotations). Ending all of a user's grants at once is shared SQL
//! ([`crate::store::revocation`]).

use cairn_store::sqlx::{self, AnyConnection, Row};

#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

pub(crate) async fn insert_session(
    conn: &mut AnyConnection,
    id_hash: &str,
    user_id: &str,
    auth_time: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO idp_sessions (id_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id_hash)
        .bind(user_id)
        .bind(auth_time)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn session(conn: &mut AnyConnection, id_hash: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    let row = sqlx::query("SELECT user_id, auth_time, expires_at, revoked_at FROM idp_sessions WHERE id_hash = $1")
        .bind(id_hash)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(SessionRow {
            user_id: r.try_get("user_id")?,
            auth_time: r.try_get("auth_time")?,
            expires_at: r.try_get("expires_at")?,
            revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        })
    })
    .transpose()
}

/// Ends a session; returns its user when it was still open.
pub(crate) async fn revoke_session(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE idp_sessions SET revoked_at = $2 WHERE id_hash = $1 AND revoked_at IS NULL RETURNING user_id",
    )
    .bind(id_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
}

/// Takes the family's row for this transaction (PostgreSQL waits for a revocation of it
/// in flight); false when the family is revoked by now.
pub(crate) async fn hold_family(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE token_families SET revoked_at = NULL WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub(crate) struct CodeRow {
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub family_id: Option<String>,
}

pub(crate) async fn insert_code(conn: &mut AnyConnection, hash: &str, c: &CodeRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO auth_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(hash)
    .bind(&c.client_id)
    .bind(&c.user_id)
    .bind(&c.redirect_uri)
    .bind(&c.scope)
    .bind(&c.nonce)
    .bind(&c.code_challenge)
    .bind(c.auth_time)
    .bind(c.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn code(conn: &mut AnyConnection, hash: &str) -> Result<Option<CodeRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, expires_at, used_at, family_id \
         FROM auth_codes WHERE code_hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(CodeRow {
            client_id: r.try_get("client_id")?,
            user_id: r.try_get("user_id")?,
            redirect_uri: r.try_get("redirect_uri")?,
            scope: r.try_get("scope")?,
            nonce: r.try_get("nonce")?,
            code_challenge: r.try_get("code_challenge")?,
            auth_time: r.try_get("auth_time")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
            family_id: r.try_get("family_id")?,
        })
    })
    .transpose()
}

/// Marks a code used; false when another request used it first, or it expired meanwhile
/// (its user's sessions ended).
pub(crate) async fn use_code(
    conn: &mut AnyConnection,
    hash: &str,
    now: i64,
    family_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE auth_codes SET used_at = $2, family_id = $3 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(hash)
    .bind(now)
    .bind(family_id)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone)]
pub(crate) struct FamilyRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

pub(crate) async fn insert_family(conn: &mut AnyConnection, f: &FamilyRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO token_families (id, client_id, user_id, scope, auth_time, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&f.id)
    .bind(&f.client_id)
    .bind(&f.user_id)
    .bind(&f.scope)
    .bind(f.auth_time)
    .bind(now)
    .bind(f.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn family(conn: &mut AnyConnection, id: &str) -> Result<Option<FamilyRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, client_id, user_id, scope, auth_time, expires_at, revoked_at FROM token_families WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(FamilyRow {
            id: r.try_get("id")?,
            client_id: r.try_get("client_id")?,
            user_id: r.try_get("user_id")?,
            scope: r.try_get("scope")?,
            auth_time: r.try_get("auth_time")?,
            expires_at: r.try_get("expires_at")?,
            revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        })
    })
    .transpose()
}

pub(crate) async fn revoke_family(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE token_families SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert_refresh(
    conn: &mut AnyConnection,
    hash: &str,
    family_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash)
        .bind(family_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshRow {
    pub family_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub(crate) async fn refresh(conn: &mut AnyConnection, hash: &str) -> Result<Option<RefreshRow>, sqlx::Error> {
    let row = sqlx::query("SELECT family_id, issued_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        Ok(RefreshRow {
            family_id: r.try_get("family_id")?,
            issued_at: r.try_get("issued_at")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
        })
    })
    .transpose()
}

/// Marks a refresh token used; false when another request rotated it first.
pub(crate) async fn use_refresh(conn: &mut AnyConnection, hash: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
