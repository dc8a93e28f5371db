//! Wake-ups. A notification only says "tenant T has new events"; the outbox is the record,
//! so a lost wake-up costs latency (until the next poll), never an event.

use cairn_domain::TenantId;
use cairn_store::{Backend, Db, sqlx};
use tokio::sync::broadcast;

/// The PostgreSQL channel on the control database.
const CHANNEL: &str = "cairn_events";

/// Wakes workers and live streams when a tenant's events commit: in process always, and on
/// PostgreSQL through `NOTIFY` on the control database, so every replica hears it.
#[derive(Debug, Clone)]
pub struct Bus {
    local: broadcast::Sender<TenantId>,
    control: Db,
}

impl Bus {
    pub fn new(control: Db) -> Self {
        let (local, _) = broadcast::channel(1024);
        Self { local, control }
    }

    /// Call after a transaction that emitted events has committed.
    pub async fn committed(&self, tenant: TenantId) {
        let _ = self.local.send(tenant);
        if self.control.backend() == Backend::Postgres {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(tenant.to_string())
                .execute(self.control.writer())
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "NOTIFY failed; workers will find the events by polling");
            }
        }
    }

    /// Tenants whose events committed since subscribing (lagging receivers should treat
    /// every tenant as woken).
    pub fn subscribe(&self) -> broadcast::Receiver<TenantId> {
        self.local.subscribe()
    }

    /// On PostgreSQL, relays other replicas' `NOTIFY`s to this process's subscribers until
    /// the process ends; reconnects after errors. `control_url` is the control database.
    pub async fn relay_postgres(self, control_url: String) {
        loop {
            match sqlx::postgres::PgListener::connect(&control_url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANNEL).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        loop {
                            match listener.recv().await {
                                Ok(n) => {
                                    if let Ok(t) = n.payload().parse::<TenantId>() {
                                        let _ = self.local.send(t);
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "event notifications interrupted");
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for event notifications"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}
