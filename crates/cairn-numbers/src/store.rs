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

/// The insert of a number, to run together with its audit entry (after `add_to_totals`).
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

pub(crate) async fn delete(conn: &mut AnyConnection, item: &NumberItem) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM numbers WHERE id = $1").bind(&item.id).execute(&mut *conn).await?;
    sqlx::query(REMOVE_FROM_TOTALS).bind(-item.value).bind(item.value).execute(&mut *conn).await?;
    Ok(())
}

/// What `sum_hi + $1` loses to rounding, exactly (Knuth's TwoSum over the row's old values).
macro_rules! rounding_error_of_adding_1 {
    () => {
        "((sum_hi - ((sum_hi + $1) - ((sum_hi + $1) - sum_hi))) + ($1 - ((sum_hi + $1) - sum_hi)))"
    };
}

/// Adds the value `$1` to the running totals; runs in the insert's transaction.
const ADD_TO_TOTALS: &str = concat!(
    "UPDATE numbers_totals SET count = count + 1, sum_hi = sum_hi + $1, sum_lo = sum_lo + ",
    rounding_error_of_adding_1!(),
    ", min = CASE WHEN min IS NULL OR $1 < min THEN $1 ELSE min END",
    ", max = CASE WHEN max IS NULL OR $1 > max THEN $1 ELSE max END WHERE id = 1"
);

/// Takes the removed value `$2` (negated as `$1`) out of the running totals, after its row
/// is gone in the same transaction. The last removal resets the totals exactly; a removed
/// extreme is found again through the index on `value`.
const REMOVE_FROM_TOTALS: &str = concat!(
    "UPDATE numbers_totals SET count = count - 1",
    ", sum_hi = CASE WHEN count = 1 THEN 0.0 ELSE sum_hi + $1 END",
    ", sum_lo = CASE WHEN count = 1 THEN 0.0 ELSE sum_lo + ",
    rounding_error_of_adding_1!(),
    " END",
    ", min = CASE WHEN count = 1 THEN NULL WHEN $2 <= min THEN (SELECT MIN(value) FROM numbers) ELSE min END",
    ", max = CASE WHEN count = 1 THEN NULL WHEN $2 >= max THEN (SELECT MAX(value) FROM numbers) ELSE max END",
    " WHERE id = 1"
);

pub(crate) async fn add_to_totals(conn: &mut AnyConnection, value: f64) -> Result<(), sqlx::Error> {
    sqlx::query(ADD_TO_TOTALS).bind(value).execute(&mut *conn).await?;
    Ok(())
}

/// One row, whatever the table holds: the totals kept by every insert and delete.
pub(crate) async fn stats(db: &Db) -> Result<NumberStats, sqlx::Error> {
    let row = sqlx::query("SELECT count, sum_hi, sum_lo, min, max FROM numbers_totals WHERE id = 1")
        .fetch_one(db.reader())
        .await?;
    let count: i64 = row.try_get("count")?;
    let sum = row.try_get::<f64, _>("sum_hi")? + row.try_get::<f64, _>("sum_lo")?;
    Ok(NumberStats {
        count,
        sum,
        min: row.try_get("min")?,
        max: row.try_get("max")?,
        mean: (count > 0).then(|| sum / count as f64),
    })
}
