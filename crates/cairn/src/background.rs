//! Background duties of the worker role. Every duty is idempotent, so any number of
//! replicas may run it at once.

use std::sync::Arc;

use cairn_audit::AuditService;
use cairn_identity::Tokens;
use cairn_store::{Db, Store};

use crate::config::Config;

/// The platform's chain, in the control database.
const PLATFORM: &str = "platform";

/// How many audit entries (or events) one sweep statement deletes.
const SWEEP_BATCH: i64 = 500;

/// Every chain (each tenant's and the platform's) gets a signed checkpoint every
/// `audit_checkpoint_interval`, and loses entries past retention every
/// `audit_sweep_interval`, when tenants' delivered events past `events_retention` go too.
pub async fn audit_maintenance(store: Store, tokens: Arc<Tokens>, config: Config) {
    // The first round comes one period after start, not at once: a restart loop must not
    // turn into a checkpoint storm.
    let start = tokio::time::Instant::now();
    let mut checkpoint =
        tokio::time::interval_at(start + config.audit_checkpoint_interval, config.audit_checkpoint_interval);
    let mut sweep = tokio::time::interval_at(start + config.audit_sweep_interval, config.audit_sweep_interval);
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = checkpoint.tick() => {
                for (scope, db) in chains(&store).await {
                    if let Err(e) = AuditService::checkpoint(&db, tokens.as_ref(), &scope).await {
                        tracing::error!(scope, error = %e, "audit checkpoint failed");
                    }
                }
            }
            _ = sweep.tick() => {
                let now = cairn_domain::now_ms();
                let events_before = now - config.events_retention.as_millis() as i64;
                for (scope, db) in chains(&store).await {
                    match AuditService::sweep(&db, now, SWEEP_BATCH).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(scope, deleted = n, "audit entries past retention deleted"),
                        Err(e) => tracing::error!(scope, error = %e, "audit sweep failed"),
                    }
                    if scope == PLATFORM {
                        continue;
                    }
                    match cairn_events::sweep(&db, events_before, SWEEP_BATCH).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(scope, deleted = n, "delivered events past retention deleted"),
                        Err(e) => tracing::error!(scope, error = %e, "event sweep failed"),
                    }
                }
            }
        }
    }
}

/// Every audit chain: the platform's, then each tenant's, with its scope name.
pub async fn chains(store: &Store) -> Vec<(String, Db)> {
    let mut all = vec![(PLATFORM.to_owned(), store.control().clone())];
    match store.list_tenants().await {
        Ok(tenants) => {
            for t in tenants {
                match store.tenant_db(t.id).await {
                    Ok(db) => all.push((t.id.to_string(), db)),
                    Err(e) => tracing::warn!(tenant = %t.slug, error = %e, "skipping tenant"),
                }
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot list tenants"),
    }
    all
}

/// How often a worker looks for reports to render.
const REPORTS_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// How often a worker removes expired reports.
const REPORTS_CLEANUP: std::time::Duration = std::time::Duration::from_secs(60);

/// Renders requested reports: claims each tenant's due reports under a lease, renders them
/// and puts the PDFs in the object store; once a minute, removes the expired ones. Any
/// number of workers may run it.
pub struct ReportWorker {
    pub store: Store,
    pub identity: Arc<cairn_identity::Identity>,
    pub tokens: Arc<Tokens>,
    pub objects: cairn_reports::objects::Objects,
    pub cloud: Arc<cairn_instances::Cloud>,
    /// Woken when a report is ready, so its `report_ready` event is delivered at once.
    pub bus: cairn_events::Bus,
    /// This process's name in leases.
    pub owner: String,
    /// A failed render is tried again after this times its tries so far.
    pub retry_base: std::time::Duration,
}

impl ReportWorker {
    pub async fn run(self) {
        // The font files are parsed once, for every render.
        let fonts = Arc::new(cairn_reports::Fonts::load());
        let mut last_cleanup: Option<std::time::Instant> = None;
        loop {
            // Expired reports go once a minute (each row once, whichever worker removes it).
            let cleanup = last_cleanup.is_none_or(|t| t.elapsed() >= REPORTS_CLEANUP);
            if cleanup {
                last_cleanup = Some(std::time::Instant::now());
            }
            match self.store.list_tenants().await {
                Ok(tenants) => {
                    for tenant in tenants.into_iter().filter(|t| t.state == cairn_store::TenantState::Active) {
                        let Ok(db) = self.store.tenant_db(tenant.id).await else { continue };
                        if cleanup {
                            self.remove_expired(&db, &tenant).await;
                        }
                        self.render_due(&db, &tenant, &fonts).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list tenants for reports"),
            }
            tokio::time::sleep(REPORTS_POLL).await;
        }
    }

    async fn remove_expired(&self, db: &Db, tenant: &cairn_store::Tenant) {
        match cairn_reports::objects::remove_expired(db, &self.objects, cairn_domain::now_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tenant = %tenant.slug, removed = n, "expired reports removed"),
            Err(e) => tracing::warn!(tenant = %tenant.slug, error = %e, "expired reports could not be removed"),
        }
    }

    /// Renders the tenant's due reports, one after another, until none is left.
    async fn render_due(&self, db: &Db, tenant: &cairn_store::Tenant, fonts: &Arc<cairn_reports::Fonts>) {
        let jobs = cairn_reports::jobs::Jobs { db };
        loop {
            match jobs.claim(&self.owner).await {
                Ok(Some(job)) => {
                    if self.render(db, tenant, &job, fonts).await {
                        self.bus.committed(tenant.id).await;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(tenant = %tenant.slug, error = %e, "reports could not be claimed");
                    break;
                }
            }
        }
    }

    /// Renders one claimed report and records the outcome: ready (true; its `report_ready`
    /// event is committed), or a failed try.
    async fn render(
        &self,
        db: &Db,
        tenant: &cairn_store::Tenant,
        job: &cairn_reports::jobs::Job,
        fonts: &Arc<cairn_reports::Fonts>,
    ) -> bool {
        use cairn_reports::jobs::{Finished, Jobs};
        let started = std::time::Instant::now();
        let jobs = Jobs { db };
        let rendered = async {
            let head = cairn_reports::Letterhead::read(&self.identity, tenant, db).await.map_err(|e| e.to_string())?;
            let key = self.identity.store.master_key();
            let sources = cairn_reports::Sources { tenant, db, signer: &*self.tokens, cloud: &self.cloud, key };
            let report = cairn_reports::build(&job.request(), &sources, &head, cairn_domain::now_ms())
                .await
                .map_err(|e| e.to_string())?;
            // Laying out and writing the PDF is CPU work: off the runtime's threads.
            let fonts = fonts.clone();
            let rendered = tokio::task::spawn_blocking(move || cairn_reports::render(&report, &fonts))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            let key = cairn_reports::objects::Objects::key(&tenant.id.to_string(), &job.id);
            let keep_days =
                cairn_reports::settings::ReportSettings::read(db).await.map_err(|e| e.to_string())?.keep_days;
            let expires = cairn_domain::now_ms() + keep_days * 86_400_000;
            self.objects.put(&key, rendered.pdf.clone(), expires).await.map_err(|e| e.to_string())?;
            Ok::<_, String>((key, rendered, keep_days))
        }
        .await;
        match rendered {
            Ok((key, rendered, keep_days)) => {
                let (size, pages) = (rendered.pdf.len() as i64, rendered.pages as i64);
                match jobs.finish(tenant.id, job, Finished { key: &key, size, pages, keep_days }).await {
                    Ok(true) => {
                        tracing::info!(
                            tenant = %tenant.slug, report = %job.id, kind = job.kind.as_str(), pages, size,
                            duration_ms = started.elapsed().as_millis() as u64, "report rendered"
                        );
                        return true;
                    }
                    Ok(false) => tracing::warn!(tenant = %tenant.slug, report = %job.id, "a report's lease was lost"),
                    Err(e) => {
                        tracing::warn!(tenant = %tenant.slug, report = %job.id, error = %e, "a report could not be marked ready")
                    }
                }
            }
            Err(reason) => {
                tracing::warn!(tenant = %tenant.slug, report = %job.id, attempt = job.attempts, reason = %reason, "a report failed to render");
                let retry_base_ms = self.retry_base.as_millis() as i64;
                if let Err(e) = jobs.fail(job, &reason, retry_base_ms).await {
                    tracing::warn!(tenant = %tenant.slug, report = %job.id, error = %e, "a report's failure could not be recorded");
                }
            }
        }
        false
    }
}

/// How often a scheduler looks for report schedules' fires.
const SCHEDULES_POLL: std::time::Duration = std::time::Duration::from_secs(15);

/// Queues the reports of schedule fires for every active tenant until the process ends; any
/// number of schedulers queue each fire once.
pub async fn report_schedules(store: Store) {
    loop {
        match store.list_tenants().await {
            Ok(tenants) => {
                for tenant in tenants.into_iter().filter(|t| t.state == cairn_store::TenantState::Active) {
                    let Ok(db) = store.tenant_db(tenant.id).await else { continue };
                    match cairn_reports::schedules::queue_fires(&db, cairn_domain::now_ms()).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(tenant = %tenant.slug, reports = n, "scheduled reports queued"),
                        Err(e) => tracing::warn!(tenant = %tenant.slug, error = %e, "scheduling reports failed"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list tenants for report schedules"),
        }
        tokio::time::sleep(SCHEDULES_POLL).await;
    }
}
