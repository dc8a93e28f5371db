//! The SQL of the `report_settings` table (one row, or none for the defaults).

use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row};

use super::ReportSettings;

pub(super) async fn get(db: &Db) -> Result<Option<ReportSettings>, sqlx::Error> {
    let row = sqlx::query("SELECT keep_days, link_days FROM report_settings WHERE id = 1")
        .fetch_optional(db.reader())
        .await?;
    row.map(|r| Ok(ReportSettings { keep_days: r.try_get("keep_days")?, link_days: r.try_get("link_days")? }))
        .transpose()
}

pub(super) async fn put(conn: &mut AnyConnection, s: &ReportSettings, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO report_settings (id, keep_days, link_days, updated_at) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET keep_days = $1, link_days = $2, updated_at = $3",
    )
    .bind(s.keep_days)
    .bind(s.link_days)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
