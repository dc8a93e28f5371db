//! SQL of `users` and `identity_settings`: the tenant's user pool and its settings. Every
//! feature reads and writes users through here.

use cairn_domain::Role;
use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};
use serde_json::{Map, Value};

use crate::model::{Email, Settings, User, UserStatus};
use crate::store::corrupt;

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
