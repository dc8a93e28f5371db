//! The SQL of records and their publish history.

use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use crate::model::{PublishEntry, Record};

const COLUMNS: &str = "id, title, body, tags, data, version, created_at, created_by, updated_at, updated_by";

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn record(r: &AnyRow) -> Result<Record, sqlx::Error> {
    Ok(Record {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        tags: decode(&r.try_get::<String, _>("tags")?)?,
        data: decode(&r.try_get::<String, _>("data")?)?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        updated_at: r.try_get("updated_at")?,
        updated_by: r.try_get("updated_by")?,
    })
}

pub(crate) async fn insert(conn: &mut AnyConnection, r: &Record) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("INSERT INTO records ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
        .bind(&r.id)
        .bind(&r.title)
        .bind(&r.body)
        .bind(serde_json::to_string(&r.tags).unwrap_or_default())
        .bind(serde_json::Value::Object(r.data.clone()).to_string())
        .bind(r.version)
        .bind(r.created_at)
        .bind(&r.created_by)
        .bind(r.updated_at)
        .bind(&r.updated_by)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn update(conn: &mut AnyConnection, r: &Record) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE records SET title = $2, body = $3, tags = $4, data = $5, version = $6, updated_at = $7, updated_by = $8 \
         WHERE id = $1",
    )
    .bind(&r.id)
    .bind(&r.title)
    .bind(&r.body)
    .bind(serde_json::to_string(&r.tags).unwrap_or_default())
    .bind(serde_json::Value::Object(r.data.clone()).to_string())
    .bind(r.version)
    .bind(r.updated_at)
    .bind(&r.updated_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Record>, sqlx::Error> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM records WHERE id = $1")).bind(id).fetch_optional(conn).await?;
    row.map(|r| record(&r)).transpose()
}

pub(crate) async fn delete(conn: &mut AnyConnection, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM records WHERE id = $1 RETURNING title").bind(id).fetch_optional(conn).await
}

/// Newest first, after the cursor id; with `tag`, only records carrying it.
pub(crate) async fn list(
    db: &Db,
    limit: i64,
    before: Option<&str>,
    tag: Option<&str>,
) -> Result<Vec<Record>, sqlx::Error> {
    // Tags are stored as a JSON array of strings, so `"tag"` (JSON-quoted) matches one element exactly.
    let pattern =
        tag.map(|t| format!("%{}%", serde_json::Value::from(t).to_string().replace('%', "\\%").replace('_', "\\_")));
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM records WHERE id < $1 AND ($2 = '' OR tags LIKE $2 ESCAPE '\\') ORDER BY id DESC LIMIT $3"
    ))
    .bind(before.unwrap_or("~"))
    .bind(pattern.unwrap_or_default())
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(record).collect()
}

pub(crate) async fn insert_publish(conn: &mut AnyConnection, p: &PublishEntry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO publish_history (record_id, version, publisher_id, publisher_email, time, note) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&p.record_id)
    .bind(p.version)
    .bind(&p.publisher_id)
    .bind(p.publisher_email.as_deref())
    .bind(p.time)
    .bind(&p.note)
    .execute(conn)
    .await?;
    Ok(())
}

/// The record's publications, latest first: every one, or with `page` = (`before`, `limit`)
/// at most `limit` of those older than version `before`.
pub(crate) async fn history(
    db: &Db,
    record_id: &str,
    page: Option<(Option<i64>, i64)>,
) -> Result<Vec<PublishEntry>, sqlx::Error> {
    let (before, limit) = page.unwrap_or((None, i64::MAX));
    let rows = sqlx::query(
        "SELECT record_id, version, publisher_id, publisher_email, time, note FROM publish_history \
         WHERE record_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3",
    )
    .bind(record_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PublishEntry {
                record_id: r.try_get(0)?,
                version: r.try_get(1)?,
                publisher_id: r.try_get(2)?,
                publisher_email: r.try_get(3)?,
                time: r.try_get(4)?,
                note: r.try_get(5)?,
            })
        })
        .collect()
}
