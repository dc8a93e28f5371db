//! SQL for the identity tables of a tenant database; one text serves both backends.

use cairn_domain::Role;
use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};
use serde_json::{Map, Value};

use crate::model::{Client, Email, Settings, User, UserStatus};

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is not valid").into())
}

fn json_map(text: &str) -> Result<Map<String, Value>, sqlx::Error> {
    serde_json::from_str(text).map_err(|_| corrupt("metadata"))
}

fn roles_from(text: &str) -> Result<Vec<Role>, sqlx::Error> {
    serde_json::from_str(text).map_err(|_| corrupt("roles"))
}

pub(crate) fn roles_text(roles: &[Role]) -> String {
    serde_json::to_string(roles).expect("roles serialise")
}

const USER_COLUMNS: &str = "id, email, given_name, family_name, status, roles, app_metadata, user_metadata, \
                            password_hash, password_expires_at, sso_required, created_at, updated_at";

fn user(row: &AnyRow) -> Result<User, sqlx::Error> {
    let email: String = row.try_get("email")?;
    let status: String = row.try_get("status")?;
    Ok(User {
        id: row.try_get("id")?,
        email: Email::parse(&email).map_err(|_| corrupt("email"))?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        status: UserStatus::parse(&status).ok_or_else(|| corrupt("status"))?,
        roles: roles_from(&row.try_get::<String, _>("roles")?)?,
        app_metadata: json_map(&row.try_get::<String, _>("app_metadata")?)?,
        user_metadata: json_map(&row.try_get::<String, _>("user_metadata")?)?,
        password_hash: row.try_get("password_hash")?,
        password_expires_at: row.try_get("password_expires_at")?,
        sso_required: row.try_get::<i64, _>("sso_required")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) async fn insert_user(conn: &mut AnyConnection, u: &User) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, email_key, given_name, family_name, status, roles, app_metadata, user_metadata, \
         password_hash, password_expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&u.id)
    .bind(u.email.as_str())
    .bind(u.email.key())
    .bind(&u.given_name)
    .bind(&u.family_name)
    .bind(u.status.as_str())
    .bind(roles_text(&u.roles))
    .bind(Value::Object(u.app_metadata.clone()).to_string())
    .bind(Value::Object(u.user_metadata.clone()).to_string())
    .bind(&u.password_hash)
    .bind(u.password_expires_at)
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes every mutable field of `u`.
pub(crate) async fn update_user(conn: &mut AnyConnection, u: &User) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE users SET given_name = $2, family_name = $3, status = $4, roles = $5, app_metadata = $6, \
         user_metadata = $7, password_hash = $8, password_expires_at = $9, updated_at = $10, sso_required = $11 \
         WHERE id = $1",
    )
    .bind(&u.id)
    .bind(&u.given_name)
    .bind(&u.family_name)
    .bind(u.status.as_str())
    .bind(roles_text(&u.roles))
    .bind(Value::Object(u.app_metadata.clone()).to_string())
    .bind(Value::Object(u.user_metadata.clone()).to_string())
    .bind(&u.password_hash)
    .bind(u.password_expires_at)
    .bind(u.updated_at)
    .bind(i64::from(u.sso_required))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn user_by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?.as_ref().map(user).transpose()
}

pub(crate) async fn user_by_email(conn: &mut AnyConnection, email: &Email) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
    sqlx::query(&sql).bind(email.key()).fetch_optional(&mut *conn).await?.as_ref().map(user).transpose()
}

pub(crate) async fn list_users(db: &Db, limit: i64, after: Option<&str>) -> Result<Vec<User>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2");
    let rows = sqlx::query(&sql).bind(after.unwrap_or("")).bind(limit).fetch_all(db.reader()).await?;
    rows.iter().map(user).collect()
}

pub(crate) async fn count_users(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(db.reader()).await
}

pub(crate) async fn settings(conn: &mut AnyConnection) -> Result<Settings, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT settings FROM identity_settings WHERE id = 1").fetch_optional(&mut *conn).await?;
    match text {
        Some(t) => serde_json::from_str(&t).map_err(|_| corrupt("settings")),
        None => Ok(Settings::default()),
    }
}

pub(crate) async fn put_settings(conn: &mut AnyConnection, s: &Settings) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO identity_settings (id, settings) VALUES (1, $1) \
         ON CONFLICT (id) DO UPDATE SET settings = excluded.settings",
    )
    .bind(serde_json::to_string(s).expect("settings serialise"))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

const CLIENT_COLUMNS: &str =
    "client_id, name, secret_hash, public, service_role, redirect_uris, post_logout_uris, created_at";

fn client(row: &AnyRow) -> Result<Client, sqlx::Error> {
    let uris = |col: &str| -> Result<Vec<String>, sqlx::Error> {
        serde_json::from_str(&row.try_get::<String, _>(col)?).map_err(|_| corrupt("redirect URIs"))
    };
    let service_role: Option<String> = row.try_get("service_role")?;
    Ok(Client {
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        secret_hash: row.try_get("secret_hash")?,
        public: row.try_get::<i64, _>("public")? != 0,
        service_role: service_role.map(|r| r.parse().map_err(|_| corrupt("service role"))).transpose()?,
        redirect_uris: uris("redirect_uris")?,
        post_logout_uris: uris("post_logout_uris")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) async fn insert_client(conn: &mut AnyConnection, c: &Client) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO oauth_clients (client_id, name, secret_hash, public, service_role, redirect_uris, post_logout_uris, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&c.client_id)
    .bind(&c.name)
    .bind(&c.secret_hash)
    .bind(i64::from(c.public))
    .bind(c.service_role.map(|r| r.as_str()))
    .bind(serde_json::to_string(&c.redirect_uris).expect("uris serialise"))
    .bind(serde_json::to_string(&c.post_logout_uris).expect("uris serialise"))
    .bind(c.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn client_by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<Client>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?.as_ref().map(client).transpose()
}

pub(crate) async fn list_clients(db: &Db) -> Result<Vec<Client>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients ORDER BY created_at, client_id");
    sqlx::query(&sql).fetch_all(db.reader()).await?.iter().map(client).collect()
}

/// Clients in client-id order after `after`, at most `limit`.
pub(crate) async fn clients_after(db: &Db, after: Option<&str>, limit: i64) -> Result<Vec<Client>, sqlx::Error> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id > $1 ORDER BY client_id LIMIT $2");
    sqlx::query(&sql).bind(after.unwrap_or("")).bind(limit).fetch_all(db.reader()).await?.iter().map(client).collect()
}

pub(crate) async fn set_client_secret(
    conn: &mut AnyConnection,
    id: &str,
    hash: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r =
        sqlx::query("UPDATE oauth_clients SET secret_hash = $2, updated_at = $3 WHERE client_id = $1 AND public = 0")
            .bind(id)
            .bind(hash)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn delete_client(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM oauth_clients WHERE client_id = $1").bind(id).execute(&mut *conn).await?;
    // What the client was granted dies with it.
    sqlx::query(
        "UPDATE token_families SET revoked_at = $2, revoked_reason = 'client deleted' \
         WHERE client_id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// --- Provider state: sessions, codes, refresh-token families, reset codes, throttling.

#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

/// Whether `user`'s password and status are still what `user` says, with the user's row
/// locked to the end of the transaction on PostgreSQL (SQLite's write transactions run one
/// at a time): a grant written after this check cannot outlive a password change or a
/// disable, which either happened before (and the check fails) or waits and then revokes it.
pub(crate) async fn user_unchanged(conn: &mut AnyConnection, user: &User) -> Result<bool, sqlx::Error> {
    let lock = if conn.backend_name() == "PostgreSQL" { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!("SELECT password_hash, status FROM users WHERE id = $1{lock}"))
        .bind(&user.id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(false) };
    let hash: Option<String> = row.try_get("password_hash")?;
    let status: String = row.try_get("status")?;
    Ok(hash == user.password_hash && status == user.status.as_str())
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

/// What ending a user's sessions ended, and the revocation epoch it set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Refresh-token families revoked.
    pub families: u64,
    /// Provider (hosted sign-in) sessions revoked.
    pub sessions: u64,
    /// The user's access tokens issued at or before this time (epoch ms) are refused.
    pub not_before: i64,
}

impl Ended {
    /// Sign-ins ended: refresh-token families plus provider sessions.
    pub fn total(&self) -> u64 {
        self.families + self.sessions
    }
}

/// Ends every session and token family of a user (disable, role change, password set or
/// reset by an admin, reset by code) and refuses their access tokens issued until now.
pub(crate) async fn revoke_user_grants(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
    reason: &str,
) -> Result<Ended, sqlx::Error> {
    revoke_grants_except(conn, user_id, now, reason, None, None).await
}

/// Ends the user's refresh-token families but `keep_family`, provider sessions but the one
/// whose handle digest is `keep_session`, and unused authorization codes, and sets the
/// user's revocation epoch: access tokens issued until now are refused, except those of
/// `keep_family`.
///
/// The epoch is taken after the codes and families are revoked: on PostgreSQL those
/// statements wait for a code exchange or refresh of the user in flight (each updates its
/// code's or family's row), so a token issued by one that committed first is older than the
/// epoch, and one that comes after finds its code expired or its family revoked. (On SQLite
/// write transactions never overlap.)
pub(crate) async fn revoke_grants_except(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
    reason: &str,
    keep_family: Option<&str>,
    keep_session: Option<&str>,
) -> Result<Ended, sqlx::Error> {
    // A code not yet exchanged would start a new family: it expires — at 0, not "now", so an
    // exchange whose clock read an instant earlier cannot take it for live. First, so that on
    // PostgreSQL an exchange in flight commits its family before the families are revoked.
    sqlx::query("UPDATE auth_codes SET expires_at = 0 WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let families = sqlx::query(
        "UPDATE token_families SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND id <> COALESCE($4, '')",
    )
    .bind(user_id)
    .bind(now)
    .bind(reason)
    .bind(keep_family)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let not_before = cairn_domain::now_ms().max(now);
    let sessions = sqlx::query(
        "UPDATE idp_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND id_hash <> COALESCE($3, '')",
    )
    .bind(user_id)
    .bind(not_before)
    .bind(keep_session)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "INSERT INTO token_epochs (user_id, not_before, kept_family) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET not_before = excluded.not_before, kept_family = excluded.kept_family",
    )
    .bind(user_id)
    .bind(not_before)
    .bind(keep_family)
    .execute(&mut *conn)
    .await?;
    Ok(Ended { families, sessions, not_before })
}

/// A tenant's revocation epochs set after `since` (epoch ms): user, not-before, kept family.
pub(crate) async fn token_epochs(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<(String, i64, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query("SELECT user_id, not_before, kept_family FROM token_epochs WHERE not_before > $1")
        .bind(since)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("user_id")?, r.try_get("not_before")?, r.try_get("kept_family")?))).collect()
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

/// Stores a new reset code for `user_id` beside the ones still live (expired ones go).
pub(crate) async fn put_reset_code(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reset_codes WHERE user_id = $1 AND expires_at <= $2")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO reset_codes (code_hash, user_id, expires_at, attempts) VALUES ($1, $2, $3, 0)")
        .bind(hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Counts one guess against every live code of `user_id`, then returns the expiry and
/// guesses so far of the code whose keyed digest is `hash`, if it is one of them. (The
/// lookup by digest is not constant-time, but the digest is keyed: its timing says
/// nothing about which code would match.)
pub(crate) async fn attempt_reset_code(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query("UPDATE reset_codes SET attempts = attempts + 1 WHERE user_id = $1 AND expires_at > $2")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT expires_at, attempts FROM reset_codes WHERE code_hash = $1 AND user_id = $2")
        .bind(hash)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("expires_at")?, r.try_get("attempts")?))).transpose()
}

/// Removes the codes of `user_id` that have had `max_attempts` guesses or expired.
pub(crate) async fn void_reset_codes(
    conn: &mut AnyConnection,
    user_id: &str,
    max_attempts: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reset_codes WHERE user_id = $1 AND (attempts >= $2 OR expires_at <= $3)")
        .bind(user_id)
        .bind(max_attempts)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete_reset_codes(conn: &mut AnyConnection, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reset_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(())
}

/// Counts one event for `key` atomically and returns the count in the current window: a
/// fixed window of `window_ms` from its first count (`last_failure` keeps when it began;
/// later counts do not extend it), restarted once it is over.
pub(crate) async fn bump_throttle(
    conn: &mut AnyConnection,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<i64, sqlx::Error> {
    let sql = "INSERT INTO login_throttle (key, failures, last_failure, blocked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN $2 - login_throttle.last_failure > $3 THEN 1 ELSE login_throttle.failures + 1 END, \
         last_failure = CASE WHEN $2 - login_throttle.last_failure > $3 THEN $2 ELSE login_throttle.last_failure END \
         RETURNING failures";
    sqlx::query_scalar(sql).bind(key).bind(now).bind(window_ms).fetch_one(&mut *conn).await
}

/// What [`reserve_attempt`] found: whether this attempt may go ahead, the attempts counted
/// in the window (this one included when granted), and until when the key is blocked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    pub granted: bool,
    pub attempts: i64,
    pub blocked_until: i64,
}

/// The delay curve of a throttle key, as [`reserve_attempt`] applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Curve {
    /// How long attempts are remembered after the last one let through.
    pub window_ms: i64,
    /// Attempts before delays start.
    pub free: i64,
    /// The attempt that pauses the key for `max_block_ms`.
    pub pause_at: i64,
    pub max_block_ms: i64,
}

/// Reserves one attempt for `key` in a single statement: unless the key is blocked, the
/// attempt is counted and the block that follows it is set (`curve`: none for the first
/// `free` attempts, then 1 s, 2 s, 4 s … up to `max_block_ms`, which is also the pause at
/// `pause_at`). The row remembers the reservation it let through (`grant`), which is how
/// the caller tells granted from refused: concurrent attempts serialize on the row, so no
/// more are let through than the curve allows.
pub(crate) async fn reserve_attempt(
    conn: &mut AnyConnection,
    key: &str,
    now: i64,
    grant: &str,
    curve: Curve,
    first_block_ms: i64,
) -> Result<Reservation, sqlx::Error> {
    // No block is stored as 0, not as "until now": a concurrent attempt whose clock read
    // an instant earlier must not take "until now" for a block.
    let fresh = "($2 - login_throttle.last_failure > $3)";
    let open = format!("({fresh} OR login_throttle.blocked_until <= $2)");
    let n = format!("(CASE WHEN {fresh} THEN 1 ELSE login_throttle.failures + 1 END)");
    let block = format!(
        "(CASE WHEN {n} >= $6 THEN $7 WHEN {n} < $5 THEN 0 WHEN {n} - $5 >= 10 THEN $7 \
         ELSE 1000 * (1 << CAST({n} - $5 AS INTEGER)) END)"
    );
    let sql = format!(
        "INSERT INTO login_throttle (key, failures, last_failure, blocked_until, last_grant) \
         VALUES ($1, 1, $2, CASE WHEN $8 = 0 THEN 0 ELSE $2 + $8 END, $4) ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN {open} THEN {n} ELSE login_throttle.failures END, \
         blocked_until = CASE WHEN NOT {open} THEN login_throttle.blocked_until \
             WHEN {block} = 0 THEN 0 ELSE $2 + {block} END, \
         last_failure = CASE WHEN {open} THEN $2 ELSE login_throttle.last_failure END, \
         last_grant = CASE WHEN {open} THEN $4 ELSE login_throttle.last_grant END \
         RETURNING failures, blocked_until, last_grant"
    );
    let row = sqlx::query(&sql)
        .bind(key)
        .bind(now)
        .bind(curve.window_ms)
        .bind(grant)
        .bind(curve.free)
        .bind(curve.pause_at)
        .bind(curve.max_block_ms)
        .bind(first_block_ms)
        .fetch_one(&mut *conn)
        .await?;
    let last_grant: String = row.try_get("last_grant")?;
    Ok(Reservation {
        granted: last_grant == grant,
        attempts: row.try_get("failures")?,
        blocked_until: row.try_get("blocked_until")?,
    })
}

/// Gives back one reserved attempt (a success that should not count against a shared
/// ceiling, or an attempt another key refused). The block it set stays: at worst one step
/// of the curve too early.
pub(crate) async fn refund_attempt(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn clear_throttle(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&mut *conn).await?;
    Ok(())
}

/// Counts one audit-worthy event for `key` in `minute`; returns the events so far this
/// minute and how many the key's previous minute left unrecorded beyond `per_minute`.
pub(crate) async fn count_audit_event(
    conn: &mut AnyConnection,
    key: &str,
    minute: i64,
    per_minute: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO audit_caps (key, minute, entries, carried) VALUES ($1, $2, 1, 0) \
         ON CONFLICT (key) DO UPDATE SET \
         carried = CASE WHEN audit_caps.minute = $2 THEN audit_caps.carried \
                        WHEN audit_caps.entries > $3 THEN audit_caps.entries - $3 ELSE 0 END, \
         entries = CASE WHEN audit_caps.minute = $2 THEN audit_caps.entries + 1 ELSE 1 END, \
         minute = $2 \
         RETURNING entries, carried",
    )
    .bind(key)
    .bind(minute)
    .bind(per_minute)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("entries")?, row.try_get("carried")?))
}

/// Whether the browser holding the device token of digest `token_hash` signed in to
/// `user_id` before (and that memory has not expired).
pub(crate) async fn device_known(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT 1 AS known FROM known_devices WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

pub(crate) async fn forget_device(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM known_devices WHERE token_hash = $1 AND user_id = $2")
        .bind(token_hash)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn remember_device(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_devices (token_hash, user_id, created_at, last_used_at, expires_at) \
         VALUES ($1, $2, $3, $3, $4) ON CONFLICT (token_hash, user_id) DO UPDATE SET \
         last_used_at = excluded.last_used_at, expires_at = excluded.expires_at",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// --- SSO connections and linked identities.

#[derive(Debug, Clone)]
pub(crate) struct ConnectionRow {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub sealed_secret: String,
    pub created_at: i64,
}

fn connection(r: &AnyRow) -> Result<ConnectionRow, sqlx::Error> {
    Ok(ConnectionRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        issuer: r.try_get("issuer")?,
        client_id: r.try_get("client_id")?,
        sealed_secret: r.try_get("client_secret")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn insert_connection(conn: &mut AnyConnection, c: &ConnectionRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sso_connections (id, name, issuer, client_id, client_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.issuer)
    .bind(&c.client_id)
    .bind(&c.sealed_secret)
    .bind(c.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn connections(db: &Db) -> Result<Vec<ConnectionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, issuer, client_id, client_secret, created_at FROM sso_connections ORDER BY created_at",
    )
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(connection).collect()
}

/// Connections in id (creation) order after `after`, at most `limit`.
pub(crate) async fn connections_after(
    db: &Db,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ConnectionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name, issuer, client_id, client_secret, created_at FROM sso_connections \
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(connection).collect()
}

pub(crate) async fn connection_by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query("SELECT id, name, issuer, client_id, client_secret, created_at FROM sso_connections WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(connection)
        .transpose()
}

pub(crate) async fn delete_connection(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM user_identities WHERE connection_id = $1").bind(id).execute(&mut *conn).await?;
    let r = sqlx::query("DELETE FROM sso_connections WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(r.rows_affected() == 1)
}

pub(crate) async fn linked_user(
    conn: &mut AnyConnection,
    connection_id: &str,
    subject: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT user_id FROM user_identities WHERE connection_id = $1 AND subject = $2")
        .bind(connection_id)
        .bind(subject)
        .fetch_optional(&mut *conn)
        .await
}

pub(crate) async fn link_identity(
    conn: &mut AnyConnection,
    connection_id: &str,
    subject: &str,
    user_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO user_identities (connection_id, subject, user_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(connection_id)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

// ---- the control database's signing keys ----------------------------------------------------

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
