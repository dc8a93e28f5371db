//! The SQL of the `report_schedules` and `report_recipients` tables.

use cairn_store::Db;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};

use super::{Period, Schedule, ScheduleInput};
use crate::jobs::Kind;

const COLUMNS: &str = "id, kind, team_id, cron, period, created_by, created_email, created_at";

fn schedule(r: &AnyRow, recipients: Vec<String>) -> Result<Schedule, sqlx::Error> {
    let decode = |e: cairn_domain::ValidationError| sqlx::Error::Decode(e.message.into());
    Ok(Schedule {
        id: r.try_get("id")?,
        kind: Kind::parse(&r.try_get::<String, _>("kind")?).map_err(decode)?,
        team_id: r.try_get("team_id")?,
        cron: r.try_get("cron")?,
        period: Period::parse(&r.try_get::<String, _>("period")?, "period").map_err(decode)?,
        recipients,
        created_by: r.try_get("created_by")?,
        created_email: r.try_get("created_email")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(super) async fn count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM report_schedules").fetch_one(conn).await
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    input: &ScheduleInput,
    by: (&str, Option<&str>),
    now: i64,
) -> Result<Schedule, sqlx::Error> {
    let sql =
        format!("INSERT INTO report_schedules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}");
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(input.kind.as_str())
        .bind(&input.team_id)
        .bind(input.cron.as_str())
        .bind(input.period.as_str())
        .bind(by.0)
        .bind(by.1)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    let mut recipients = Vec::new();
    for (position, email) in input.recipients.iter().enumerate() {
        sqlx::query("INSERT INTO report_recipients (schedule_id, email, position) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(email.as_str())
            .bind(position as i64)
            .execute(&mut *conn)
            .await?;
        recipients.push(email.as_str().to_owned());
    }
    schedule(&row, recipients)
}

/// The recipients of the schedule `id` (or of all, when `None`), by schedule, in the order
/// they were added.
async fn recipients(db: &Db, id: Option<&str>) -> Result<Vec<(String, String)>, sqlx::Error> {
    let sql = "SELECT schedule_id, email FROM report_recipients WHERE ($1 = '' OR schedule_id = $1) \
               ORDER BY schedule_id, position";
    let rows = sqlx::query(sql).bind(id.unwrap_or("")).fetch_all(db.reader()).await?;
    rows.iter().map(|r| Ok((r.try_get("schedule_id")?, r.try_get("email")?))).collect()
}

/// Every schedule, with its recipients or (`with_recipients` false) none.
pub(super) async fn list(db: &Db, with_recipients: bool) -> Result<Vec<Schedule>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM report_schedules ORDER BY created_at, id");
    let rows = sqlx::query(&sql).fetch_all(db.reader()).await?;
    let all = if with_recipients && !rows.is_empty() { recipients(db, None).await? } else { Vec::new() };
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let mine = all.iter().filter(|(s, _)| *s == id).map(|(_, e)| e.clone()).collect();
            schedule(r, mine)
        })
        .collect()
}

pub(super) async fn get(db: &Db, id: &str) -> Result<Option<Schedule>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM report_schedules WHERE id = $1");
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(db.reader()).await? else {
        return Ok(None);
    };
    let mine = recipients(db, Some(id)).await?.into_iter().map(|(_, e)| e).collect();
    schedule(&row, mine).map(Some)
}

pub(super) async fn delete(conn: &mut AnyConnection, id: &str) -> Result<Option<Schedule>, sqlx::Error> {
    sqlx::query("DELETE FROM report_recipients WHERE schedule_id = $1").bind(id).execute(&mut *conn).await?;
    let sql = format!("DELETE FROM report_schedules WHERE id = $1 RETURNING {COLUMNS}");
    sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?.map(|r| schedule(&r, Vec::new())).transpose()
}

pub(super) async fn remove_recipient(conn: &mut AnyConnection, id: &str, email: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM report_recipients WHERE schedule_id = $1 AND email = $2")
        .bind(id)
        .bind(email)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
