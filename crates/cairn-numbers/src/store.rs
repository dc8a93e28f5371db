//! SQL for the numbers table; one text serves both backends.

use cairn_audit::{Change, Param};
use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use crate::model::{Cursor, NumberItem, NumberStats};

fn item(row: &AnyRow) -> Result<NumberItem, sqlx::Error> {
    Ok(NumberItem {
        id: row.try_get("id")?,
        value: row.try_get("value")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

/// The insert of a number, to run together with its audit entry.
pub(crate) fn insert_change(n: &NumberItem) -> Change {
    Change {
        sql: "INSERT INTO numbers (id, value, created_at, created_by) VALUES ($1, $2, $3, $4)",
        params: vec![
            Param::Text(n.id.clone()),
            Param::Float(n.value),
            Param::Int(n.created_at),
            Param::Text(n.created_by.clone()),
        ],
    }
}

pub(crate) async fn list(db: &Db, limit: i64, after: Option<&Cursor>) -> Result<Vec<NumberItem>, sqlx::Error> {
    let rows = match after {
        Some(c) => {
            sqlx::query("SELECT id, value, created_at, created_by FROM numbers WHERE id < $1 ORDER BY id DESC LIMIT $2")
                .bind(c.last_id())
                .bind(limit)
                .fetch_all(db.reader())
                .await?
        }
        None => {
            sqlx::query("SELECT id, value, created_at, created_by FROM numbers ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(db.reader())
                .await?
        }
    };
    rows.iter().map(item).collect()
}

pub(crate) async fn get(db: &Db, id: &str) -> Result<Option<NumberItem>, sqlx::Error> {
    get_in(&mut *db.reader().acquire().await?, id).await
}

pub(crate) async fn get_in(conn: &mut AnyConnection, id: &str) -> Result<Option<NumberItem>, sqlx::Error> {
    sqlx::query("SELECT id, value, created_at, created_by FROM numbers WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(item)
        .transpose()
}

pub(crate) async fn delete(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM numbers WHERE id = $1").bind(id).execute(&mut *conn).await?;
    Ok(())
}

pub(crate) async fn stats(db: &Db) -> Result<NumberStats, sqlx::Error> {
    // One pass with four aggregates; the mean is the sum over the count (what `AVG` would
    // compute again, row by row).
    let row =
        sqlx::query("SELECT COUNT(*) AS count, SUM(value) AS sum, MIN(value) AS min, MAX(value) AS max FROM numbers")
            .fetch_one(db.reader())
            .await?;
    let count: i64 = row.try_get("count")?;
    let sum = row.try_get::<Option<f64>, _>("sum")?.unwrap_or(0.0);
    Ok(NumberStats {
        count,
        sum,
        min: row.try_get("min")?,
        max: row.try_get("max")?,
        mean: (count > 0).then(|| sum / count as f64),
    })
}
