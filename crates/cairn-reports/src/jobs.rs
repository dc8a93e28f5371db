//! Reports as jobs: a request is a row, queued; a worker claims it under a lease, renders it,
//! puts the PDF in the object store and marks it ready with its size, pages and expiry. A
//! worker that dies leaves its lease to run out, and another claims the report again. A
//! failed render is tried again after a pause that grows with each try (the worker's retry
//! base, as event deliveries back off), then shown as failed with its reason. Requests, deletions and failures are in the tenant's audit trail.

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Id, IdKind, ValidationError, now_ms};
use cairn_metrics::Day;
use cairn_store::sqlx::{self, Row, any::AnyRow};
use cairn_store::{Backend, Db};

/// Tries before a report is failed.
pub const ATTEMPTS: i64 = 3;
/// How long a worker holds a report it renders.
pub const LEASE_MS: i64 = 5 * 60_000;
/// How long a report is kept, by default.
pub const KEEP_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug)]
pub enum ReportKind {}

impl IdKind for ReportKind {
    const WHAT: &'static str = "report";
}

/// A report's id.
pub type ReportId = Id<ReportKind>;

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Team,
    Audit,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, ValidationError> {
        match s {
            "team" => Ok(Kind::Team),
            "audit" => Ok(Kind::Audit),
            _ => Err(ValidationError::new("kind", "must be team or audit")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Team => "team",
            Kind::Audit => "audit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Queued,
    Running,
    Ready,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Ready => "ready",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Status, sqlx::Error> {
        match s {
            "queued" => Ok(Status::Queued),
            "running" => Ok(Status::Running),
            "ready" => Ok(Status::Ready),
            "failed" => Ok(Status::Failed),
            other => Err(sqlx::Error::Decode(format!("report status {other:?}").into())),
        }
    }
}

/// A requested report.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: Kind,
    pub team_id: Option<String>,
    pub from: Day,
    pub to: Day,
    pub status: Status,
    pub requested_by: String,
    pub requested_email: Option<String>,
    pub requested_at: i64,
    pub attempts: i64,
    /// Why the last try failed.
    pub error: Option<String>,
    pub object_key: Option<String>,
    pub size: Option<i64>,
    pub pages: Option<i64>,
    pub finished_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub lease_id: Option<String>,
}

/// What a request asks for, checked.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub kind: Kind,
    pub team_id: Option<String>,
    pub from: Day,
    pub to: Day,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0}")]
    Database(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] cairn_audit::AuditError),
}

const COLUMNS: &str = "id, kind, team_id, from_day, to_day, status, requested_by, requested_email, requested_at, \
                       attempts, error, object_key, size, pages, finished_at, expires_at, lease_id";

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
    })
}

fn entry(actor: &Actor, action: &'static str, outcome: Outcome, meta: &RequestMeta, id: &str) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), outcome, meta.clone()).resource("report", id)
}

/// A tenant's reports.
#[derive(Debug, Clone, Copy)]
pub struct Jobs<'a> {
    pub db: &'a Db,
}

impl Jobs<'_> {
    /// Queues a report, recorded as `report.requested`.
    pub async fn request(&self, req: &JobRequest, actor: &Actor, meta: &RequestMeta) -> Result<Job, JobError> {
        let id = ReportId::new().to_string();
        let now = now_ms();
        let mut tx = self.db.begin().await?;
        let sql = format!(
            "INSERT INTO reports (id, kind, team_id, from_day, to_day, status, requested_by, requested_email, \
             requested_at, next_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $8) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&id)
            .bind(req.kind.as_str())
            .bind(&req.team_id)
            .bind(req.from.to_string())
            .bind(req.to.to_string())
            .bind(&actor.id)
            .bind(&actor.email)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let details = serde_json::json!({
            "kind": req.kind.as_str(), "team": req.team_id, "from": req.from.to_string(), "to": req.to.to_string(),
        });
        AuditService::record(
            self.db,
            &mut tx,
            entry(actor, "report.requested", Outcome::Success, meta, &id).details(details),
        )
        .await?;
        tx.commit().await?;
        Ok(job(&row)?)
    }

    pub async fn get(&self, id: &ReportId) -> Result<Option<Job>, JobError> {
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.to_string()).fetch_optional(self.db.reader()).await?;
        Ok(row.as_ref().map(job).transpose()?)
    }

    /// Newest first (ids are ordered by creation): up to `limit + 1` after the report `after`.
    pub async fn list(&self, limit: i64, after: Option<&ReportId>) -> Result<Vec<Job>, JobError> {
        let after = after.map_or_else(|| "~".to_owned(), ToString::to_string);
        let sql = format!("SELECT {COLUMNS} FROM reports WHERE id < $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(&sql).bind(after).bind(limit + 1).fetch_all(self.db.reader()).await?;
        Ok(rows.iter().map(job).collect::<Result<Vec<_>, _>>()?)
    }

    /// Deletes the report's row, recorded as `report.deleted`; the object key to remove, if
    /// it had one. `None` when there is no such report.
    pub async fn delete(
        &self,
        id: &ReportId,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Option<Option<String>>, JobError> {
        let mut tx = self.db.begin().await?;
        let sql = format!("DELETE FROM reports WHERE id = $1 RETURNING {COLUMNS}");
        let Some(row) = sqlx::query(&sql).bind(id.to_string()).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let gone = job(&row)?;
        let details = serde_json::json!({"kind": gone.kind.as_str(), "status": gone.status.as_str()});
        AuditService::record(
            self.db,
            &mut tx,
            entry(actor, "report.deleted", Outcome::Success, meta, &gone.id).details(details),
        )
        .await?;
        tx.commit().await?;
        Ok(Some(gone.object_key))
    }

    /// Claims the oldest due report (queued, or running with an ended lease) for `owner`.
    pub async fn claim(&self, owner: &str) -> Result<Option<Job>, JobError> {
        let now = now_ms();
        let lease = ReportId::new().to_string();
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE reports SET status = 'running', lease_id = $1, lease_owner = $2, next_at = $3, \
             attempts = attempts + 1 WHERE id = (SELECT id FROM reports WHERE status IN ('queued', 'running') \
             AND next_at <= $4 ORDER BY next_at, id LIMIT 1{lock}) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(&lease)
            .bind(owner)
            .bind(now + LEASE_MS)
            .bind(now)
            .fetch_optional(self.db.writer())
            .await?;
        Ok(row.as_ref().map(job).transpose()?)
    }

    /// Marks the claimed `job` ready; false when its lease was lost (another worker has it).
    pub async fn finish(&self, job: &Job, key: &str, size: i64, pages: i64, keep_days: i64) -> Result<bool, JobError> {
        let now = now_ms();
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
        .bind(now + keep_days * DAY_MS)
        .execute(self.db.writer())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a failed try of the claimed `job`: queued again after `retry_base` times the
    /// tries so far while tries remain, else failed (recorded as `report.failed`). Whether it
    /// is failed for good.
    pub async fn fail(&self, job: &Job, reason: &str, retry_base_ms: i64) -> Result<bool, JobError> {
        let now = now_ms();
        let last = job.attempts >= ATTEMPTS;
        let mut tx = self.db.begin().await?;
        let done = sqlx::query(
            "UPDATE reports SET status = $3, next_at = $4, error = $5, finished_at = $6, lease_id = NULL, \
             lease_owner = NULL WHERE id = $1 AND lease_id = $2 AND status = 'running'",
        )
        .bind(&job.id)
        .bind(&job.lease_id)
        .bind(if last { "failed" } else { "queued" })
        .bind(now + retry_base_ms * job.attempts)
        .bind(reason)
        .bind(last.then_some(now))
        .execute(&mut *tx)
        .await?;
        if last && done.rows_affected() == 1 {
            let actor = Actor { id: "cairn:reports".into(), email: None };
            let details = serde_json::json!({"kind": job.kind.as_str(), "attempts": job.attempts, "reason": reason});
            let e = entry(&actor, "report.failed", Outcome::Failure, &RequestMeta::default(), &job.id).details(details);
            AuditService::record(self.db, &mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(last)
    }

    /// Removes the reports that expired by `now`, oldest first, at most `batch`; each row is
    /// removed once, whichever worker gets it. The removed reports' object keys.
    pub async fn remove_expired(&self, now: i64, batch: i64) -> Result<Vec<(String, Option<String>)>, JobError> {
        let rows = sqlx::query(
            "DELETE FROM reports WHERE id IN (SELECT id FROM reports WHERE expires_at <= $1 \
             ORDER BY expires_at LIMIT $2) RETURNING id, object_key",
        )
        .bind(now)
        .bind(batch)
        .fetch_all(self.db.writer())
        .await?;
        Ok(rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("object_key")?))).collect::<Result<_, sqlx::Error>>()?)
    }
}
