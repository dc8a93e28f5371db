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
