//! The SQL of the settings row.

use cairn_store::Backend;
use cairn_store::sqlx::{self, AnyConnection, Row};

use super::{Schedule, Settings, TimeZoneName};
use crate::store::{decode_json, for_update};

const COLUMNS: &str =
    "time_zone, reload_days, backfill_days, schedule, bots, incident_types, incident_labels, updated_at, updated_by";

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("metrics_settings.{what} does not read back").into())
}

/// The settings; `locked`, the row stays locked until the transaction ends, so that a
/// change of time zone and the pages that count days in it never interleave.
pub(crate) async fn get(conn: &mut AnyConnection, backend: Backend, locked: bool) -> Result<Settings, sqlx::Error> {
    let lock = if locked { for_update(backend) } else { "" };
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM metrics_settings WHERE id = 1{lock}"))
        .fetch_one(&mut *conn)
        .await?;
    let time_zone: String = row.try_get("time_zone")?;
    let schedule: String = row.try_get("schedule")?;
    Ok(Settings {
        time_zone: TimeZoneName::parse(&time_zone, "time_zone").map_err(|_| corrupt("time_zone"))?,
        reload_days: row.try_get("reload_days")?,
        backfill_days: row.try_get("backfill_days")?,
        schedule: Schedule::read(&schedule, "schedule").map_err(|_| corrupt("schedule"))?,
        bots: decode_json(&row.try_get::<String, _>("bots")?)?,
        incident_types: decode_json(&row.try_get::<String, _>("incident_types")?)?,
        incident_labels: decode_json(&row.try_get::<String, _>("incident_labels")?)?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

pub(crate) async fn update(conn: &mut AnyConnection, s: &Settings) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE metrics_settings SET time_zone = $1, reload_days = $2, backfill_days = $3, schedule = $4, \
         bots = $5, incident_types = $6, incident_labels = $7, updated_at = $8, updated_by = $9 WHERE id = 1",
    )
    .bind(s.time_zone.as_str())
    .bind(s.reload_days)
    .bind(s.backfill_days)
    .bind(s.schedule.as_str())
    .bind(serde_json::to_string(&s.bots).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(&s.incident_types).unwrap_or_else(|_| "[]".into()))
    .bind(serde_json::to_string(&s.incident_labels).unwrap_or_else(|_| "[]".into()))
    .bind(s.updated_at)
    .bind(&s.updated_by)
    .execute(conn)
    .await?;
    Ok(())
}
