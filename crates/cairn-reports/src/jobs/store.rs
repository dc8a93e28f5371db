//! The SQL of the `reports` table.

use cairn_domain::now_ms;
use cairn_metrics::Day;
use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};
use cairn_store::{Backend, Db};

use super::{Job, JobRequest, Kind, Status};

const COLUMNS: &str = "id, kind, team_id, from_day, to_day, status, requested_by, requested_email, requested_at, \
                       attempts, error, object_key, size, pages, finished_at, expires_at, lease_id, schedule_id";

fn job(r: &AnyRow) -> Result<Job, sqlx::Error> {
    let day = |s: String| Day::parse(&s, "day").map_err(|e| sqlx::Error::Decode(e.message.into()));
    let kind: String = r.try_get("kind")?;
    Ok(Job {
        id: r.try_get("id")?,
        kind: Kind::parse(&kind).map_err(|e| sqlx::Error::Decode(e.message.into()))?,
        team_id: r.try_get("team_id")?,
        from: day(r.try_get("from_day")?)?,
        to: day(r.try_get("to_day")?)?,
        status: Status::parse(&r.try_get::<String, _>("status")?)?,
        requested_by: r.try_get("requested_by")?,
        requested_email: r.try_get("requested_email")?,
        requested_at: r.try_get("requested_at")?,
        attempts: r.try_get("attempts")?,
        error: r.try_get("error")?,
        object_key: r.try_get("object_key")?,
        size: r.try_get("size")?,
        pages: r.try_get("pages")?,
        finished_at: r.try_get("finished_at")?,
        expires_at: r.try_get("expires_at")?,
        lease_id: r.try_get("lease_id")?,
        schedule_id: r.try_get("schedule_id")?,
    })
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    req: &JobRequest,
    by: (&str, Option<&str>),
    now: i64,
) -> Result<Job, sqlx::Error> {
    let sql = format!(
        "INSERT INTO reports (id, kind, team_id, from_day, to_day, status, requested_by, requested_email, \
         requested_at, next_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .bind(req.kind.as_str())
        .bind(&req.team_id)
        .bind(req.from.to_string())
        .bind(req.to.to_string())
        .bind(by.0)
        .bind(by.1)
        .bind(now)
        .fetch_one(conn)
        .await?;
    job(&row)
}

/// Queues the report of a schedule's fire unless the fire's key is taken; whether it was
/// queued.
pub(super) async fn insert_fire(
    conn: &mut AnyConnection,
    id: &str,
    req: &JobRequest,
    schedule: &str,
    key: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO reports (id, kind, team_id, from_day, to_day, status, requested_by, requested_at, next_at, \
         schedule_id, fire_key) VALUES ($1, $2, $3, $4, $5, 'queued', 'cairn:scheduler', $6, $6, $7, $8) \
         ON CONFLICT (fire_key) DO NOTHING",
    )
    .bind(id)
    .bind(req.kind.as_str())
    .bind(&req.team_id)
    .bind(req.from.to_string())
    .bind(req.to.to_string())
    .bind(now)
    .bind(schedule)
    .bind(key)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn get(db: &Db, id: &str) -> Result<Option<Job>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM reports WHERE id = $1");
    sqlx::query(&sql).bind(id).fetch_optional(db.reader()).await?.as_ref().map(job).transpose()
}

pub(super) async fn list(db: &Db, limit: i64, after: &str) -> Result<Vec<Job>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM reports WHERE id < $1 ORDER BY id DESC LIMIT $2");
    sqlx::query(&sql).bind(after).bind(limit).fetch_all(db.reader()).await?.iter().map(job).collect()
}

pub(super) async fn delete(conn: &mut AnyConnection, id: &str) -> Result<Option<Job>, sqlx::Error> {
    let sql = format!("DELETE FROM reports WHERE id = $1 RETURNING {COLUMNS}");
    sqlx::query(&sql).bind(id).fetch_optional(conn).await?.as_ref().map(job).transpose()
}

/// Claims the oldest due report under a new lease until `until`.
pub(super) async fn claim(db: &Db, owner: &str, lease: &str, until: i64) -> Result<Option<Job>, sqlx::Error> {
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE reports SET status = 'running', lease_id = $1, lease_owner = $2, next_at = $3, \
         attempts = attempts + 1 WHERE id = (SELECT id FROM reports WHERE status IN ('queued', 'running') \
         AND next_at <= $4 ORDER BY next_at, id LIMIT 1{lock}) RETURNING {COLUMNS}"
    );
    let row = sqlx::query(&sql).bind(lease).bind(owner).bind(until).bind(now_ms()).fetch_optional(db.writer()).await?;
    row.as_ref().map(job).transpose()
}

/// Marks the report ready under its lease; whether the lease still held.
pub(super) async fn finish(
    conn: &mut AnyConnection,
    job: &Job,
    key: &str,
    size: i64,
    pages: i64,
    now: i64,
    expires: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE reports SET status = 'ready', object_key = $3, size = $4, pages = $5, finished_at = $6, \
         expires_at = $7, error = NULL, lease_id = NULL, lease_owner = NULL \
         WHERE id = $1 AND lease_id = $2 AND status = 'running'",
    )
    .bind(&job.id)
    .bind(&job.lease_id)
    .bind(key)
    .bind(size)
    .bind(pages)
    .bind(now)
    .bind(expires)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed try under the report's lease: `status` (queued again at `next_at`, or
/// failed at `finished_at`); whether the lease still held.
pub(super) async fn fail(
    conn: &mut AnyConnection,
    job: &Job,
    status: Status,
    next_at: i64,
    reason: &str,
    finished_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE reports SET status = $3, next_at = $4, error = $5, finished_at = $6, lease_id = NULL, \
         lease_owner = NULL WHERE id = $1 AND lease_id = $2 AND status = 'running'",
    )
    .bind(&job.id)
    .bind(&job.lease_id)
    .bind(status.as_str())
    .bind(next_at)
    .bind(reason)
    .bind(finished_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes up to `batch` reports expired by `now`; their ids and object keys.
pub(super) async fn remove_expired(
    db: &Db,
    now: i64,
    batch: i64,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query(
        "DELETE FROM reports WHERE id IN (SELECT id FROM reports WHERE expires_at <= $1 \
         ORDER BY expires_at LIMIT $2) RETURNING id, object_key",
    )
    .bind(now)
    .bind(batch)
    .fetch_all(db.writer())
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("object_key")?))).collect()
}
