//! Wake-ups. A notification only says "tenant T has new events" (or "tenant T ended some
//! users' sessions"); the outbox (the tenant's `token_epochs`) is the record, so a lost
//! wake-up costs latency (until the next poll or re-read), never an event or a revocation.

use cairn_domain::TenantId;
use cairn_store::{Backend, Db, sqlx};

use crate::store;
use tokio::sync::broadcast;

/// The PostgreSQL channel on the control database.
const CHANNEL: &str = "cairn_events";
/// The channel of "a tenant ended sessions": replicas re-read its revocation epochs.
const SESSIONS_CHANNEL: &str = "cairn_sessions";

/// Wakes workers and live streams when a tenant's events commit: in process always, and on
/// PostgreSQL through `NOTIFY` on the control database, so every replica hears it.
#[derive(Debug, Clone)]
pub struct Bus {
    local: broadcast::Sender<TenantId>,
    sessions: broadcast::Sender<TenantId>,
    control: Db,
}

impl Bus {
    pub fn new(control: Db) -> Self {
        let (local, _) = broadcast::channel(1024);
        let (sessions, _) = broadcast::channel(1024);
        Self { local, sessions, control }
    }

    /// Call after a transaction that emitted events has committed: marks the tenant due in
    /// the control database (where every worker polls) and wakes workers at once.
    pub async fn committed(&self, tenant: TenantId) {
        let now = cairn_domain::now_ms();
        let marked = match self.control.backend() {
            Backend::Postgres => store::mark_due_and_notify(&self.control, tenant, now, CHANNEL).await,
            Backend::Sqlite => store::mark_due(&self.control, tenant, now).await,
        };
        if let Err(e) = marked {
            tracing::warn!(error = %e, "marking event work failed; workers will find it in their full scan");
        }
        // After the mark: a round this wakes starts later than the mark, and clears it.
        let _ = self.local.send(tenant);
    }

    /// Call after a transaction that ended users' sessions (written to the tenant's
    /// revocation epochs) has committed: every replica's subscribers hear it, in process
    /// at once and on PostgreSQL through `NOTIFY`.
    pub async fn sessions_ended(&self, tenant: TenantId) {
        if self.control.backend() == Backend::Postgres
            && let Err(e) = store::notify(&self.control, SESSIONS_CHANNEL, tenant).await
        {
            tracing::warn!(error = %e, "notifying ended sessions failed; replicas re-read them within their interval");
        }
        let _ = self.sessions.send(tenant);
    }

    /// Tenants that ended sessions since subscribing (a lagging receiver should treat
    /// every tenant as changed).
    pub fn subscribe_sessions(&self) -> broadcast::Receiver<TenantId> {
        self.sessions.subscribe()
    }

    pub(crate) fn control(&self) -> &Db {
        &self.control
    }

    /// Tenants whose events committed since subscribing (lagging receivers should treat
    /// every tenant as woken).
    pub fn subscribe(&self) -> broadcast::Receiver<TenantId> {
        self.local.subscribe()
    }

    /// On PostgreSQL, relays other replicas' `NOTIFY`s (of both kinds) to this process's subscribers until
    /// the process ends; reconnects after errors. `control_url` is the control database.
    pub async fn relay_postgres(self, control_url: String) {
        loop {
            match sqlx::postgres::PgListener::connect(&control_url).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen_all([CHANNEL, SESSIONS_CHANNEL]).await {
                        tracing::warn!(error = %e, "LISTEN failed");
                    } else {
                        loop {
                            match listener.recv().await {
                                Ok(n) => {
                                    if let Ok(t) = n.payload().parse::<TenantId>() {
                                        let to =
                                            if n.channel() == SESSIONS_CHANNEL { &self.sessions } else { &self.local };
                                        let _ = to.send(t);
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
