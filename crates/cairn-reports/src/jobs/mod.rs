//! Reports as jobs: a request is a row, queued; a worker claims it under a lease, renders it,
//! puts the PDF in the object store and marks it ready with its size, pages and expiry. A
//! worker that dies leaves its lease to run out, and another claims the report again. A
//! failed render is tried again after a pause that grows with each try (the worker's retry
//! base, as event deliveries back off), then shown as failed with its reason. Requests, deletions and failures are in the tenant's audit trail.

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Id, IdKind, TenantId, ValidationError, now_ms};
use cairn_events::NewEvent;
use cairn_metrics::Day;
use cairn_store::Db;
use cairn_store::sqlx;

mod store;

/// Tries before a report is failed.
pub const ATTEMPTS: i64 = 3;
/// How long a worker holds a report it renders.
pub const LEASE_MS: i64 = 5 * 60_000;
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
    Instances,
}

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, ValidationError> {
        match s {
            "team" => Ok(Kind::Team),
            "audit" => Ok(Kind::Audit),
            "instances" => Ok(Kind::Instances),
            _ => Err(ValidationError::new("kind", "must be team, audit or instances")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Team => "team",
            Kind::Audit => "audit",
            Kind::Instances => "instances",
        }
    }

    /// Its title, without the team: `Audit report`.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Team => "Team engineering report",
            Kind::Audit => "Audit report",
            Kind::Instances => "Instances report",
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

    pub(crate) fn parse(s: &str) -> Result<Status, sqlx::Error> {
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
    /// The schedule whose fire queued it.
    pub schedule_id: Option<String>,
}

/// A rendered report: where its file is, its size and pages, how long it is kept.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub key: &'a str,
    pub size: i64,
    pub pages: i64,
    pub keep_days: i64,
}

impl Job {
    /// What it asks for.
    pub fn request(&self) -> JobRequest {
        JobRequest { kind: self.kind, team_id: self.team_id.clone(), from: self.from, to: self.to }
    }
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
    #[error("metrics: {0}")]
    Metrics(#[from] cairn_metrics::MetricsError),
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
        let mut tx = self.db.begin().await?;
        let job = store::insert(&mut tx, &id, req, (&actor.id, actor.email.as_deref()), now_ms()).await?;
        let details = serde_json::json!({
            "kind": req.kind.as_str(), "team": req.team_id, "from": req.from.to_string(), "to": req.to.to_string(),
        });
        let e = entry(actor, "report.requested", Outcome::Success, meta, &id).details(details);
        AuditService::record(self.db, &mut tx, e).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Queues the report of a schedule's fire, recorded as `report.requested` by the
    /// scheduler, unless a report of that fire (its `key`) exists. Whether it was queued.
    pub async fn queue_fire(&self, req: &JobRequest, schedule: &str, key: &str) -> Result<bool, JobError> {
        let id = ReportId::new().to_string();
        let mut tx = self.db.begin().await?;
        if !store::insert_fire(&mut tx, &id, req, schedule, key, now_ms()).await? {
            return Ok(false);
        }
        let details = serde_json::json!({
            "kind": req.kind.as_str(), "team": req.team_id, "from": req.from.to_string(), "to": req.to.to_string(),
            "schedule": schedule,
        });
        let actor = Actor { id: "cairn:scheduler".into(), email: None };
        let e = entry(&actor, "report.requested", Outcome::Success, &RequestMeta::default(), &id).details(details);
        AuditService::record(self.db, &mut tx, e).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get(&self, id: &ReportId) -> Result<Option<Job>, JobError> {
        Ok(store::get(self.db, &id.to_string()).await?)
    }

    /// Newest first (ids are ordered by creation): up to `limit + 1` after the report `after`.
    pub async fn list(&self, limit: i64, after: Option<&ReportId>) -> Result<Vec<Job>, JobError> {
        let after = after.map_or_else(|| "~".to_owned(), ToString::to_string);
        Ok(store::list(self.db, limit + 1, &after).await?)
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
        let Some(gone) = store::delete(&mut tx, &id.to_string()).await? else {
            return Ok(None);
        };
        let details = serde_json::json!({"kind": gone.kind.as_str(), "status": gone.status.as_str()});
        let e = entry(actor, "report.deleted", Outcome::Success, meta, &gone.id).details(details);
        AuditService::record(self.db, &mut tx, e).await?;
        tx.commit().await?;
        Ok(Some(gone.object_key))
    }

    /// Claims the oldest due report (queued, or running with an ended lease) for `owner`.
    pub async fn claim(&self, owner: &str) -> Result<Option<Job>, JobError> {
        let lease = ReportId::new().to_string();
        Ok(store::claim(self.db, owner, &lease, now_ms() + LEASE_MS).await?)
    }

    /// Marks the claimed `job` ready and emits `report_ready` (which mails a scheduled
    /// report's recipients); false when its lease was lost (another worker has it). The
    /// caller wakes the event workers ([`cairn_events::Bus::committed`]) when it is true.
    pub async fn finish(&self, tenant: TenantId, job: &Job, done: Finished<'_>) -> Result<bool, JobError> {
        let now = now_ms();
        let expires = now + done.keep_days * DAY_MS;
        let mut tx = self.db.begin().await?;
        if !store::finish(&mut tx, job, done.key, done.size, done.pages, now, expires).await? {
            return Ok(false);
        }
        let event = NewEvent {
            kind: cairn_domain::events::REPORT_READY,
            resource_type: "report",
            resource_id: job.id.clone(),
            payload: serde_json::json!({
                "id": job.id, "kind": job.kind.as_str(), "team": job.team_id, "from": job.from.to_string(),
                "to": job.to.to_string(), "size": done.size, "pages": done.pages,
                "expires_at": cairn_domain::rfc3339(expires), "schedule": job.schedule_id,
            }),
        };
        let actor = Actor { id: "cairn:reports".into(), email: None };
        cairn_events::emit(&mut tx, tenant, &actor, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a failed try of the claimed `job`: queued again after `retry_base` times the
    /// tries so far while tries remain, else failed (recorded as `report.failed`). Whether it
    /// is failed for good.
    pub async fn fail(&self, job: &Job, reason: &str, retry_base_ms: i64) -> Result<bool, JobError> {
        let now = now_ms();
        let last = job.attempts >= ATTEMPTS;
        let status = if last { Status::Failed } else { Status::Queued };
        let mut tx = self.db.begin().await?;
        let held =
            store::fail(&mut tx, job, status, now + retry_base_ms * job.attempts, reason, last.then_some(now)).await?;
        if last && held {
            let actor = Actor { id: "cairn:reports".into(), email: None };
            let details = serde_json::json!({"kind": job.kind.as_str(), "attempts": job.attempts, "reason": reason});
            let e = entry(&actor, "report.failed", Outcome::Failure, &RequestMeta::default(), &job.id).details(details);
            AuditService::record(self.db, &mut tx, e).await?;
        }
        tx.commit().await?;
        Ok(last)
    }

    /// Removes the reports that expired by `now`, oldest first, at most `batch`; each row is
    /// removed once, whichever worker gets it. The removed reports' ids and object keys.
    pub async fn remove_expired(&self, now: i64, batch: i64) -> Result<Vec<(String, Option<String>)>, JobError> {
        Ok(store::remove_expired(self.db, now, batch).await?)
    }
}
