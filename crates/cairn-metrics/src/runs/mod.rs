//! Collector runs: what was asked (a source, a window), where a run stands (status, the
//! cursor of each step), what it did (counts per table, requests, waits on rate limits),
//! and who works on it.
//!
//! A run is claimed the way the event bus claims a delivery — a lease (`lease_id`,
//! `lease_owner`, `next_at` = its expiry) set by one `UPDATE … WHERE id IN (SELECT …)`
//! statement, `FOR UPDATE SKIP LOCKED` on PostgreSQL — so a run whose worker died is taken
//! over when its lease expires and resumes from the cursors its last page committed. Runs
//! have their own rows rather than deliveries: a delivery's handler gets half a lease (30 s
//! by default) with no way to extend it and a bounded number of attempts, while a run lasts
//! minutes, may wait an hour for a rate limit to reset, and extends its lease with every
//! page it commits ([`record_page`]).

pub(crate) mod store;

use std::collections::BTreeMap;

use cairn_domain::{Id, IdKind, ValidationError, now_ms};
use serde::{Deserialize, Serialize};

use crate::collected::Counts;
use crate::sources::SourceId;
use crate::{Day, Metrics, MetricsError};

pub use store::record_page;

/// What a [`RunId`] names.
#[derive(Debug)]
pub enum RunKind {}

impl IdKind for RunKind {
    const WHAT: &'static str = "run";
}

/// A run's id.
pub type RunId = Id<RunKind>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        match s {
            "queued" => Some(RunStatus::Queued),
            "running" => Some(RunStatus::Running),
            "succeeded" => Some(RunStatus::Succeeded),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// What a run did to one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    pub new: u64,
    pub changed: u64,
    pub removed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub source_id: String,
    /// `manual:<run id>`, `schedule:<fire time ms>`, …: a source has one run per key.
    pub trigger_key: String,
    pub status: RunStatus,
    /// The start of the window read; `None`: the source's default (backfill or reload).
    pub since: Option<i64>,
    pub requested_by: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub counts: BTreeMap<String, TableCounts>,
    pub requests: i64,
    pub rate_limit_waits: i64,
    pub error: Option<String>,
    /// Each step's cursor: where it resumes.
    pub progress: BTreeMap<String, String>,
    /// Claims so far (a claim after a lost lease counts).
    pub attempts: i64,
    pub lease_owner: Option<String>,
}

/// A claim on a run: what every write of its worker names, so a worker that lost its lease
/// writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub run_id: String,
    pub lease_id: String,
}

/// What one committed page moved a run by.
#[derive(Debug, Clone, Default)]
pub struct PageProgress<'a> {
    /// The step (`commits:acme/api`, `worklogs`) and where it resumes; `None` leaves the
    /// step's cursor as it was.
    pub step: &'a str,
    pub cursor: Option<&'a str>,
    /// What the page did, per table (`commits`, `worklogs`, …).
    pub counts: &'a [(&'a str, Counts)],
    pub requests: i64,
    pub rate_limit_waits: i64,
}

/// A page of runs, newest first.
#[derive(Debug, Clone)]
pub struct RunPage {
    pub items: Vec<Run>,
    pub next_cursor: Option<String>,
}

impl Metrics<'_> {
    /// Queues a run of `source` unless the source has a run under `trigger_key` already (a
    /// schedule's fire seen by a second scheduler); `None` then. A manual run passes no key
    /// and gets `manual:<its id>`.
    pub async fn queue_run(
        &self,
        source: &SourceId,
        trigger_key: Option<&str>,
        since: Option<i64>,
        requested_by: &str,
    ) -> Result<Option<Run>, MetricsError> {
        let id = RunId::new().to_string();
        let key = trigger_key.map(str::to_owned).unwrap_or_else(|| format!("manual:{id}"));
        let mut conn = self.db.writer().acquire().await?;
        Ok(store::insert(&mut conn, &id, &source.to_string(), &key, since, requested_by, now_ms()).await?)
    }

    /// Queues a run an admin asked for, with its audit entry: reading from the start of
    /// `since` in the metrics time zone when given (not a day in the future), else the
    /// source's default window.
    pub async fn request_run(
        &self,
        source: &SourceId,
        since: Option<Day>,
        actor: &cairn_audit::Actor,
        meta: &cairn_audit::RequestMeta,
    ) -> Result<Run, MetricsError> {
        use cairn_audit::{Action, AuditService, NewEntry, Outcome};
        if self.source(source).await?.demo {
            return Err(MetricsError::Conflict("a demo source has no upstream to collect from".into()));
        }
        let since = match since {
            None => None,
            Some(day) => {
                let settings = self.settings().await?;
                let zone = settings.time_zone.zone();
                if day.number() > zone.day(now_ms()).number() {
                    return Err(ValidationError::new("since", "must not be in the future").into());
                }
                Some(zone.start_ms(day))
            }
        };
        let id = RunId::new().to_string();
        let mut tx = self.db.begin().await?;
        let run = store::insert(&mut tx, &id, &source.to_string(), &format!("manual:{id}"), since, &actor.id, now_ms())
            .await?
            .ok_or(MetricsError::Conflict("the run exists already".into()))?;
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("metrics.run_requested"), Outcome::Success, meta.clone())
                .resource("metrics_run", &id)
                .details(serde_json::json!({ "source": source.to_string(), "since": since }));
        AuditService::record(self.db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(run)
    }

    /// Leases up to `limit` due runs to `owner` for `lease_ms`: queued ones, and running
    /// ones whose lease expired; at most one per source, its oldest, and none of a source
    /// whose run holds a live lease.
    pub async fn claim_runs(&self, owner: &str, lease_ms: i64, limit: i64) -> Result<Vec<(Run, Lease)>, MetricsError> {
        let lease_id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        Ok(store::claim(self.db, owner, &lease_id, now, now + lease_ms, limit)
            .await?
            .into_iter()
            .map(|run| {
                let lease = Lease { run_id: run.id.clone(), lease_id: lease_id.clone() };
                (run, lease)
            })
            .collect())
    }

    /// Extends the lease to `until` (while a run waits out a rate limit); false when it was
    /// lost.
    pub async fn renew_run(&self, lease: &Lease, until: i64) -> Result<bool, MetricsError> {
        let mut conn = self.db.writer().acquire().await?;
        Ok(store::renew(&mut conn, lease, until, now_ms()).await?)
    }

    /// Ends the run: succeeded, or failed with `error`. False when the lease was lost.
    /// A run wrote many rows: the planner's statistics are refreshed after it.
    pub async fn finish_run(&self, lease: &Lease, outcome: Result<(), &str>) -> Result<bool, MetricsError> {
        let mut conn = self.db.writer().acquire().await?;
        let finished = store::finish(&mut conn, lease, outcome, now_ms()).await?;
        drop(conn);
        self.db.optimize().await?;
        Ok(finished)
    }

    pub async fn run(&self, id: &RunId) -> Result<Run, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        store::get(&mut conn, &id.to_string()).await?.ok_or(MetricsError::NotFound("run"))
    }

    /// Up to `limit` runs (of `source`, or all) older than the run `before`, newest first.
    pub async fn runs(
        &self,
        source: Option<&SourceId>,
        limit: i64,
        before: Option<&RunId>,
    ) -> Result<RunPage, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        let source = source.map(SourceId::to_string);
        let before = before.map(RunId::to_string);
        let mut items = store::list(&mut conn, source.as_deref(), before.as_deref(), limit + 1).await?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more { items.last().map(|r| r.id.clone()) } else { None };
        Ok(RunPage { items, next_cursor })
    }

    /// When the next run falls due (or a running one's lease expires).
    pub async fn next_run_due(&self) -> Result<Option<i64>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(store::next_due(&mut conn).await?)
    }
}
