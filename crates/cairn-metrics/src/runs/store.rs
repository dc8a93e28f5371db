//! The SQL of runs. One text for both backends but the claim, which skips rows another
//! claimer holds with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one writer).

use std::collections::BTreeMap;

use cairn_store::sqlx::{self, AnyConnection, Row, any::AnyRow};
use cairn_store::{Backend, Db};

use super::{Lease, PageProgress, Run, RunStatus, TableCounts};
use crate::MetricsError;
use crate::store::decode_json;

const COLUMNS: &str = "id, source_id, trigger_key, status, since, requested_by, created_at, started_at, finished_at, \
                       counts, requests, rate_limit_waits, error, progress, attempts, lease_owner";

fn run(r: &AnyRow) -> Result<Run, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Run {
        id: r.try_get("id")?,
        source_id: r.try_get("source_id")?,
        trigger_key: r.try_get("trigger_key")?,
        status: RunStatus::parse(&status)
            .ok_or_else(|| sqlx::Error::Decode(format!("run status {status:?}").into()))?,
        since: r.try_get("since")?,
        requested_by: r.try_get("requested_by")?,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        counts: decode_json(&r.try_get::<String, _>("counts")?)?,
        requests: r.try_get("requests")?,
        rate_limit_waits: r.try_get("rate_limit_waits")?,
        error: r.try_get("error")?,
        progress: decode_json(&r.try_get::<String, _>("progress")?)?,
        attempts: r.try_get("attempts")?,
        lease_owner: r.try_get("lease_owner")?,
    })
}

/// A new queued run, due now; `None` when the source has a run under `trigger_key`.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    source: &str,
    trigger_key: &str,
    since: Option<i64>,
    requested_by: &str,
    now: i64,
) -> Result<Option<Run>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "INSERT INTO metrics_runs (id, source_id, trigger_key, status, since, requested_by, created_at, counts, \
         requests, rate_limit_waits, progress, attempts, next_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, '{{}}', 0, 0, '{{}}', 0, $6, $6) \
         ON CONFLICT (source_id, trigger_key) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(source)
    .bind(trigger_key)
    .bind(since)
    .bind(requested_by)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(run).transpose()
}

/// Leases the oldest due run of each source that has no run under a live lease.
pub(crate) async fn claim(
    db: &Db,
    owner: &str,
    lease_id: &str,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<Run>, sqlx::Error> {
    let lock = match db.backend() {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE metrics_runs SET status = 'running', lease_id = $1, lease_owner = $2, next_at = $3, \
         attempts = attempts + 1, started_at = COALESCE(started_at, $4), updated_at = $4 \
         WHERE id IN (SELECT id FROM metrics_runs r WHERE status IN ('queued', 'running') AND next_at <= $4 \
         AND id = (SELECT MIN(id) FROM metrics_runs d WHERE d.source_id = r.source_id \
         AND d.status IN ('queued', 'running') AND d.next_at <= $4) \
         AND NOT EXISTS (SELECT 1 FROM metrics_runs o WHERE o.source_id = r.source_id \
         AND o.status = 'running' AND o.next_at > $4) ORDER BY next_at, id LIMIT $5{lock}) \
         RETURNING {COLUMNS}"
    );
    let rows =
        sqlx::query(&sql).bind(lease_id).bind(owner).bind(until).bind(now).bind(limit).fetch_all(db.writer()).await?;
    rows.iter().map(run).collect()
}

pub(crate) async fn renew(conn: &mut AnyConnection, lease: &Lease, until: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE metrics_runs SET next_at = $3, updated_at = $4 WHERE id = $1 AND lease_id = $2 AND status = 'running'",
    )
    .bind(&lease.run_id)
    .bind(&lease.lease_id)
    .bind(until)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds a committed page's progress to its run, on the page's transaction, and extends the
/// lease to `until`. False when the lease was lost: the caller rolls the page back.
pub async fn record_page(
    conn: &mut AnyConnection,
    lease: &Lease,
    page: &PageProgress<'_>,
    until: i64,
) -> Result<bool, MetricsError> {
    let row =
        sqlx::query("SELECT counts, progress FROM metrics_runs WHERE id = $1 AND lease_id = $2 AND status = 'running'")
            .bind(&lease.run_id)
            .bind(&lease.lease_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(row) = row else { return Ok(false) };
    let mut counts: BTreeMap<String, TableCounts> = decode_json(&row.try_get::<String, _>(0)?)?;
    let mut progress: BTreeMap<String, String> = decode_json(&row.try_get::<String, _>(1)?)?;
    for (table, c) in page.counts {
        let t = counts.entry((*table).to_owned()).or_default();
        t.new += c.new;
        t.changed += c.changed;
        t.removed += c.removed;
    }
    if let Some(cursor) = page.cursor {
        progress.insert(page.step.to_owned(), cursor.to_owned());
    }
    let done = sqlx::query(
        "UPDATE metrics_runs SET counts = $3, progress = $4, requests = requests + $5, \
         rate_limit_waits = rate_limit_waits + $6, next_at = $7, updated_at = $8 \
         WHERE id = $1 AND lease_id = $2 AND status = 'running'",
    )
    .bind(&lease.run_id)
    .bind(&lease.lease_id)
    .bind(serde_json::to_string(&counts).unwrap_or_else(|_| "{}".into()))
    .bind(serde_json::to_string(&progress).unwrap_or_else(|_| "{}".into()))
    .bind(page.requests)
    .bind(page.rate_limit_waits)
    .bind(until)
    .bind(cairn_domain::now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn finish(
    conn: &mut AnyConnection,
    lease: &Lease,
    outcome: Result<(), &str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let (status, error) = match outcome {
        Ok(()) => ("succeeded", None),
        Err(e) => ("failed", Some(e)),
    };
    let done = sqlx::query(
        "UPDATE metrics_runs SET status = $3, error = $4, finished_at = $5, updated_at = $5, next_at = $5, \
         lease_id = NULL WHERE id = $1 AND lease_id = $2 AND status = 'running'",
    )
    .bind(&lease.run_id)
    .bind(&lease.lease_id)
    .bind(status)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Run>, sqlx::Error> {
    let row =
        sqlx::query(&format!("SELECT {COLUMNS} FROM metrics_runs WHERE id = $1")).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(run).transpose()
}

/// Newest first (ids are UUIDv7), older than `before`.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    source: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Run>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM metrics_runs WHERE ($1 = '' OR source_id = $1) AND id < $2 ORDER BY id DESC LIMIT $3"
    ))
    .bind(source.unwrap_or(""))
    .bind(before.unwrap_or("~"))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(run).collect()
}

pub(crate) async fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(next_at) FROM metrics_runs WHERE status IN ('queued', 'running')")
        .fetch_one(conn)
        .await
}
