//! Executing runs and turning schedule fires into runs, for every tenant.
//!
//! A worker ([`Collectors::work`]) claims due runs with a lease (queued ones, and running
//! ones whose worker stopped renewing), executes each with the collector of its source's
//! kind, renews the lease every minute while it runs (a run waiting out an hour-long rate
//! limit keeps it), and records the outcome. A scheduler ([`Collectors::schedule`]) queues,
//! for every source, one run per fire of the tenant's schedule in its time zone: the run's
//! key is the fire's time, so any number of schedulers queue it once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_domain::{MasterKey, TenantId, now_ms};
use cairn_outbound::Outbound;
use cairn_store::{Db, Store, TenantState};
use jiff::Timestamp;
use tokio::sync::{Notify, broadcast};

use super::{CollectError, RunCtx};
use crate::client::github::GitHub;
use crate::client::jira::JiraHttp;
use crate::client::{Auth, Upstream};
use crate::runs::{Lease, Run};
use crate::sources::{SourceId, SourceKind};
use crate::{Metrics, MetricsError};

/// The cursor a source gets once a run of it succeeded: later runs read `reload_days`,
/// not `backfill_days`.
const COLLECTED_ONCE: &str = "collected_once";
/// When a run last read a source's whole `backfill_days` (epoch ms).
const RECONCILED: &str = "reconciled_at";
const DAY_MS: i64 = 86_400_000;
/// How often a scheduled run reads `backfill_days` instead of `reload_days`, so that rows
/// deleted upstream before the reload window (a force-push, a deleted comment or worklog)
/// go too.
pub const RECONCILE_EVERY_MS: i64 = 7 * DAY_MS;
/// A worker's lease on a run; renewed every [`RENEW_EVERY`].
const LEASE_MS: i64 = super::LEASE_MS;
const RENEW_EVERY: Duration = Duration::from_secs(60);
/// How often workers and schedulers look at every tenant without a wake-up.
const POLL: Duration = Duration::from_secs(15);

/// What executes runs: the guarded outbound client, the key sources' tokens are sealed
/// with, and this process's name in leases.
#[derive(Debug, Clone)]
pub struct Collectors {
    pub store: Store,
    pub outbound: Outbound,
    pub owner: String,
    /// Where mirrors of git sources' https repositories are kept, a folder per source.
    pub git_root: PathBuf,
    /// Woken when this process queues a run, so it starts without waiting for the poll.
    pub wake: Arc<Notify>,
}

impl Collectors {
    pub fn new(store: Store, outbound: Outbound, owner: &str, git_root: PathBuf) -> Self {
        Self { store, outbound, owner: owner.to_owned(), git_root, wake: Arc::new(Notify::new()) }
    }

    /// Executes due runs of every active tenant until the process ends: each tenant every
    /// [`POLL`], and a tenant at once when `wakeups` names it (a run asked for through the
    /// API, on any replica).
    pub async fn work(self, mut wakeups: broadcast::Receiver<TenantId>) {
        loop {
            match self.store.list_tenants().await {
                Ok(tenants) => {
                    for tenant in tenants.into_iter().filter(|t| t.state == TenantState::Active) {
                        self.tend(tenant.id, tenant.slug.as_str()).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list tenants for metrics runs"),
            }
            let poll = tokio::time::sleep(POLL);
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    _ = &mut poll => break,
                    _ = self.wake.notified() => break,
                    woken = wakeups.recv() => match woken {
                        Ok(tenant) => self.tend(tenant, &tenant.to_string()).await,
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => (&mut poll).await,
                    },
                }
            }
        }
    }

    /// One tenant's round: the rows of deleted sources, then due runs.
    async fn tend(&self, tenant: TenantId, name: &str) {
        let Ok(db) = self.store.tenant_db(tenant).await else { return };
        if let Err(e) = purge_deleted(&db).await {
            tracing::warn!(tenant = %name, error = %e, "removing deleted sources' rows failed");
        }
        if let Err(e) = self.run_due(&db).await {
            tracing::warn!(tenant = %name, error = %e, "metrics runs could not be claimed");
        }
    }

    /// Claims the tenant's due runs (one per source at most) and executes them, one after
    /// another; how many ran.
    pub async fn run_due(&self, db: &Db) -> Result<usize, MetricsError> {
        let claimed = Metrics { db }.claim_runs(&self.owner, LEASE_MS, 4).await?;
        let n = claimed.len();
        for (run, lease) in claimed {
            self.execute(db, self.store.master_key(), &run, &lease).await;
        }
        Ok(n)
    }

    /// Executes one claimed run and records how it ended.
    pub async fn execute(&self, db: &Db, key: &MasterKey, run: &Run, lease: &Lease) {
        let metrics = Metrics { db };
        let renew = async {
            loop {
                tokio::time::sleep(RENEW_EVERY).await;
                match metrics.renew_run(lease, now_ms() + LEASE_MS).await {
                    Ok(true) => {}
                    // Another worker holds the run now: stop here, write nothing more.
                    Ok(false) => return,
                    Err(e) => tracing::warn!(run = %run.id, error = %e, "renewing a metrics run's lease failed"),
                }
            }
        };
        let outcome = tokio::select! {
            outcome = self.collect(db, key, run, lease) => outcome,
            () = renew => Err(CollectError::LeaseLost),
        };
        let error = match &outcome {
            Ok(()) => None,
            Err(CollectError::LeaseLost) => {
                tracing::info!(run = %run.id, "a metrics run's lease was lost; another worker continues it");
                return;
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(e) = &error {
            tracing::warn!(run = %run.id, source = %run.source_id, error = %e, "a metrics run failed");
        }
        if let Err(e) = metrics.finish_run(lease, error.as_deref().map_or(Ok(()), Err)).await {
            tracing::warn!(run = %run.id, error = %e, "recording a metrics run's end failed");
        }
    }

    async fn collect(&self, db: &Db, key: &MasterKey, run: &Run, lease: &Lease) -> Result<(), CollectError> {
        let metrics = Metrics { db };
        let id = SourceId::parse(&run.source_id, "source").map_err(MetricsError::from)?;
        let source = metrics.source(&id).await?;
        if source.demo {
            return Err(MetricsError::Conflict("a demo source has no upstream to collect from".into()).into());
        }
        let settings = metrics.settings().await?;
        let first = metrics.source_cursor(&id, COLLECTED_ONCE).await?.is_none();
        let reconciled = metrics.source_cursor(&id, RECONCILED).await?.and_then(|v| v.parse::<i64>().ok());
        // The first run, and one a week, reads the whole backfill window.
        let whole = run.since.is_none() && (first || reconciled.is_none_or(|at| at + RECONCILE_EVERY_MS <= now_ms()));
        let days = if whole { settings.backfill_days } else { settings.reload_days };
        let since = run.since.unwrap_or_else(|| now_ms() - days * DAY_MS);
        let token = metrics.source_token(key, &id).await?.unwrap_or_default();
        let mut ctx = RunCtx::new(db, id, lease, since, run.progress.clone());
        // The HTTP client of sources read over HTTP APIs, whose tally the run reports.
        let upstream = match source.kind {
            SourceKind::Github => {
                let base = source.base_url.as_deref().unwrap_or("https://api.github.com");
                let api = GitHub::new(
                    Upstream::new(self.outbound.clone(), Auth::Bearer(token)),
                    base,
                    source.graphql_url.as_deref(),
                );
                super::github::collect(&api, &source, &mut ctx).await?;
                Some(api.upstream().clone())
            }
            SourceKind::Git => {
                let root = super::git::mirror_root(&self.git_root, &source.id);
                let mirrors = cairn_git::Mirrors::new(root, self.outbound.clone(), tokio::runtime::Handle::current());
                super::git::collect(mirrors, &source, &mut ctx).await?;
                None
            }
            SourceKind::Jira => {
                let base = source.base_url.as_deref().ok_or_else(|| MetricsError::Corrupt {
                    table: "metrics_sources",
                    reason: format!("Jira source {} without a site", source.id),
                })?;
                let user = source.email.clone().unwrap_or_default();
                let api = JiraHttp::new(Upstream::new(self.outbound.clone(), Auth::Basic { user, token }), base);
                super::jira::collect(&api, &source, &mut ctx).await?;
                Some(api.upstream().clone())
            }
        };
        let mut page = ctx.page().await?;
        page.set_cursor(COLLECTED_ONCE, &now_ms().to_string()).await?;
        if whole {
            page.set_cursor(RECONCILED, &now_ms().to_string()).await?;
        }
        let none = crate::client::Tally::default();
        ctx.commit(page, "done", None, &[], upstream.as_ref().map_or(&none, Upstream::tally)).await
    }

    /// Queues the runs of schedule fires for every active tenant until the process ends.
    pub async fn schedule(self) {
        loop {
            match self.store.list_tenants().await {
                Ok(tenants) => {
                    for tenant in tenants.into_iter().filter(|t| t.state == TenantState::Active) {
                        let Ok(db) = self.store.tenant_db(tenant.id).await else { continue };
                        match (Metrics { db: &db }).rebuild_stale_rollups().await {
                            Ok(None) => {}
                            Ok(Some(rows)) => {
                                tracing::info!(tenant = %tenant.slug, rows, "metrics rollups rebuilt for this version")
                            }
                            Err(e) => {
                                tracing::warn!(tenant = %tenant.slug, error = %e, "rebuilding metrics rollups failed")
                            }
                        }
                        match queue_fires(&db, now_ms()).await {
                            Ok(0) => {}
                            Ok(n) => {
                                tracing::info!(tenant = %tenant.slug, runs = n, "scheduled metrics runs queued");
                                self.wake.notify_one();
                            }
                            Err(e) => {
                                tracing::warn!(tenant = %tenant.slug, error = %e, "scheduling metrics runs failed")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list tenants for metrics schedules"),
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Removes the rows of deleted sources, a batch at a time, then the sources themselves.
pub async fn purge_deleted(db: &Db) -> Result<u64, MetricsError> {
    let metrics = Metrics { db };
    let mut removed = 0;
    for source in metrics.sources().await?.into_iter().filter(|s| s.deleting) {
        let id = SourceId::parse(&source.id, "source")?;
        loop {
            let n = metrics.purge_source(&id, 5000).await?;
            removed += n;
            if n == 0 {
                break;
            }
        }
    }
    Ok(removed)
}

/// Queues, for each source, the run of the schedule's latest fire at or before `now` (and
/// after the source was added); a fire already queued is not queued again. How many runs
/// were queued.
pub async fn queue_fires(db: &Db, now: i64) -> Result<usize, MetricsError> {
    let metrics = Metrics { db };
    let settings = metrics.settings().await?;
    let zone = settings.time_zone.zone().time_zone().clone();
    let mut queued = 0;
    for source in metrics.sources().await? {
        // A demo source has no upstream: nothing to collect.
        if source.deleting || source.demo {
            continue;
        }
        let Some(fire) = latest_fire(&settings.schedule, &zone, source.created_at, now) else { continue };
        let id = SourceId::parse(&source.id, "source")?;
        if metrics.queue_run(&id, Some(&format!("schedule:{fire}")), None, "scheduler").await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The schedule's last fire in `(after, now]`, looking back at most two days.
fn latest_fire(schedule: &crate::Schedule, zone: &jiff::tz::TimeZone, after: i64, now: i64) -> Option<i64> {
    let mut at = Timestamp::from_millisecond(after.max(now - 2 * DAY_MS)).ok()?;
    let mut latest = None;
    while let Some(next) = schedule.next_after(at, zone) {
        if next.as_millisecond() > now {
            break;
        }
        latest = Some(next.as_millisecond());
        at = next;
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_fire_in_the_zone_and_none_before_the_source() {
        let schedule = crate::Schedule::parse("0 2 * * *", "schedule").unwrap();
        let zone = jiff::tz::TimeZone::get("Europe/Bratislava").unwrap();
        // 2026-12-07 03:30 in Bratislava (UTC+1): today's 02:00 fire is 01:00 UTC.
        let now = "2026-12-07T02:30:00Z".parse::<Timestamp>().unwrap().as_millisecond();
        let fire = "2026-12-07T01:00:00Z".parse::<Timestamp>().unwrap().as_millisecond();
        assert_eq!(latest_fire(&schedule, &zone, 0, now), Some(fire));
        assert_eq!(latest_fire(&schedule, &zone, fire, now), None, "added after the fire");
        assert_eq!(latest_fire(&schedule, &zone, fire - 1, now), Some(fire));
    }
}
