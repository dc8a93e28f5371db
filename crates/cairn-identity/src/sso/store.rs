//! SQL of `sso_connections` (upstream providers, client secrets sealed) and
//! `user_identities` (upstream subjects linked to users).

use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

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
