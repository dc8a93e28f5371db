//! SQL of `oauth_clients`, the tenant's registered relying parties.

use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use crate::model::Client;
use crate::store::corrupt;

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

/// Saves a client's name and redirect URIs.
pub(crate) async fn update_client(conn: &mut AnyConnection, c: &Client, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE oauth_clients SET name = $2, redirect_uris = $3, post_logout_uris = $4, updated_at = $5 \
         WHERE client_id = $1",
    )
    .bind(&c.client_id)
    .bind(&c.name)
    .bind(serde_json::to_string(&c.redirect_uris).expect("uris serialise"))
    .bind(serde_json::to_string(&c.post_logout_uris).expect("uris serialise"))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
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
