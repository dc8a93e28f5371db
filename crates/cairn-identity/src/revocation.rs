//! Revocation epochs: when a user's sessions end (password change, role change, disable,
//! admin reset), their access tokens issued until then are refused too, not only their
//! refresh tokens. Access tokens are JWTs checked without the database, so each replica
//! keeps every tenant's recent epochs in memory: the check of a token is a hash-map lookup.
//!
//! The record is the tenant's `token_epochs` table, written in the transaction of the
//! change. A tenant's epochs are read on its first token check, again after a change
//! (in the process that made it at once, other replicas when the bus's `NOTIFY` arrives),
//! and in any case when the copy is older than [`REREAD_EVERY`], so a lost notification
//! delays a revocation by at most that. At most [`MAX_TENANTS`] tenants are held; the least
//! recently checked is dropped first and read again when next needed.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use cairn_domain::{Member, TenantId, now_ms};
use cairn_events::Bus;
use cairn_store::{Store, StoreError};
use lru::LruCache;
use tokio::sync::broadcast;

use crate::{TokenError, store};

/// How old a replica's copy of a tenant's epochs may get before a token check reads them
/// again: the longest a missed notification delays a revocation.
pub const REREAD_EVERY: Duration = Duration::from_secs(30);
/// Tenants whose epochs one replica holds at most.
pub const MAX_TENANTS: usize = 10_000;
/// Epochs older than the longest access-token lifetime (24 h) plus leeway cannot refuse a
/// token that has not expired, so they are not held.
const HORIZON_MS: i64 = 24 * 3600 * 1000 + 60_000;

/// The sign-in a change is made from, which stays signed in (a password change from the
/// profile page or the API). Both parts are optional; what is not named ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentSession {
    /// The refresh-token family of the caller's token (its `cairn/family` claim).
    pub family: Option<String>,
    /// The provider session cookie's handle, when the browser sent one.
    pub provider_session: Option<String>,
}

impl CurrentSession {
    /// No session stays: every sign-in of the user ends.
    pub fn none() -> Self {
        Self::default()
    }
}

#[derive(Debug, Clone)]
struct Epoch {
    not_before: i64,
    kept_family: Option<String>,
}

impl Epoch {
    /// A token issued at `issued_at` (epoch ms; the same millisecond counts as before)
    /// under `family` is refused, unless the change kept that family.
    fn refuses(&self, family: Option<&str>, issued_at: i64) -> bool {
        issued_at <= self.not_before && (self.kept_family.is_none() || self.kept_family.as_deref() != family)
    }
}

/// One tenant's epochs as read from its database at `generation`.
#[derive(Debug)]
struct Snapshot {
    generation: u64,
    loaded_at: Instant,
    users: HashMap<String, Epoch>,
}

#[derive(Debug, Default)]
struct Slot {
    /// Bumped by every change heard of; a snapshot of an older generation is stale.
    generation: AtomicU64,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    /// One read of the database at a time per tenant.
    loading: tokio::sync::Mutex<()>,
}

impl Slot {
    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let current = self.snapshot.read().unwrap_or_else(|p| p.into_inner()).clone()?;
        (current.generation == self.generation.load(Ordering::Acquire) && current.loaded_at.elapsed() < REREAD_EVERY)
            .then_some(current)
    }
}

/// Every tenant's revocation epochs, in this process.
#[derive(Debug)]
pub struct Revocations {
    store: Store,
    bus: Bus,
    tenants: Mutex<LruCache<TenantId, Arc<Slot>>>,
}

impl Revocations {
    pub fn new(store: Store, bus: Bus) -> Self {
        let cap = NonZeroUsize::new(MAX_TENANTS).expect("non-zero");
        Self { store, bus, tenants: Mutex::new(LruCache::new(cap)) }
    }

    /// The bus the changes are announced on (the application's one, whose relay brings
    /// other replicas' notifications).
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Refuses a member's token whose user's sessions ended after it was issued (like an
    /// expired token: [`TokenError::Revoked`]). Operators have no epoch; nor do service
    /// tokens, whose subject is no user.
    pub async fn check(&self, m: &Member) -> Result<(), TokenError> {
        if self.revoked(m.tenant.id, &m.subject, m.family.as_deref(), m.issued_at).await? {
            return Err(TokenError::Revoked);
        }
        Ok(())
    }

    /// Whether a token of `subject` in `tenant`, issued at `issued_at` (epoch ms) under the
    /// refresh-token family `family`, was issued at or before the user's revocation epoch.
    pub(crate) async fn revoked(
        &self,
        tenant: TenantId,
        subject: &str,
        family: Option<&str>,
        issued_at: i64,
    ) -> Result<bool, TokenError> {
        let snapshot = self.snapshot(tenant).await?;
        Ok(snapshot.users.get(subject).is_some_and(|e| e.refuses(family, issued_at)))
    }

    async fn snapshot(&self, tenant: TenantId) -> Result<Arc<Snapshot>, TokenError> {
        let slot = {
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            tenants.get_or_insert(tenant, || Arc::new(Slot::default())).clone()
        };
        if let Some(s) = slot.fresh() {
            return Ok(s);
        }
        let _one_reader = slot.loading.lock().await;
        if let Some(s) = slot.fresh() {
            return Ok(s);
        }
        // Read the generation before the rows: a change committed after this read bumps it
        // and makes this snapshot stale at once.
        let generation = slot.generation.load(Ordering::Acquire);
        let users = match self.load(tenant).await {
            Ok(u) => u,
            Err(e) => {
                self.tenants.lock().unwrap_or_else(|p| p.into_inner()).pop(&tenant);
                return Err(e);
            }
        };
        let snapshot = Arc::new(Snapshot { generation, loaded_at: Instant::now(), users });
        *slot.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }

    async fn load(&self, tenant: TenantId) -> Result<HashMap<String, Epoch>, TokenError> {
        let unavailable = |e: &dyn std::fmt::Display| TokenError::Unavailable(e.to_string());
        let db = match self.store.tenant_db(tenant).await {
            Ok(db) => db,
            Err(StoreError::TenantNotFound(_)) => return Err(TokenError::NoTenant),
            Err(e) => return Err(unavailable(&e)),
        };
        let mut conn = db.reader().acquire().await.map_err(|e| unavailable(&e))?;
        let rows =
            store::revocation::token_epochs(&mut conn, now_ms() - HORIZON_MS).await.map_err(|e| unavailable(&e))?;
        Ok(rows.into_iter().map(|(user, not_before, kept_family)| (user, Epoch { not_before, kept_family })).collect())
    }

    /// The tenant's epochs changed: the next check in this process reads them again.
    fn invalidate(&self, tenant: TenantId) {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = tenants.peek(&tenant) {
            slot.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn invalidate_all(&self) {
        let tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        for (_, slot) in tenants.iter() {
            slot.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Call after a transaction that ended sessions in `tenant` committed: this process
    /// refuses the tokens at once, other replicas when the notification reaches them.
    pub async fn ended(&self, tenant: TenantId) {
        self.invalidate(tenant);
        self.bus.sessions_ended(tenant).await;
    }

    /// Follows the bus's "sessions ended" wake-ups until the process ends.
    pub async fn follow(self: Arc<Self>, mut wakeups: broadcast::Receiver<TenantId>) {
        loop {
            match wakeups.recv().await {
                Ok(tenant) => self.invalidate(tenant),
                Err(broadcast::error::RecvError::Lagged(_)) => self.invalidate_all(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(users: &[(&str, i64, Option<&str>)]) -> Snapshot {
        Snapshot {
            generation: 0,
            loaded_at: Instant::now(),
            users: users
                .iter()
                .map(|(u, t, k)| ((*u).to_owned(), Epoch { not_before: *t, kept_family: k.map(str::to_owned) }))
                .collect(),
        }
    }

    #[test]
    fn a_stale_generation_or_an_old_copy_is_not_fresh() {
        let slot = Slot::default();
        assert!(slot.fresh().is_none(), "nothing read yet");
        *slot.snapshot.write().unwrap() = Some(Arc::new(snapshot(&[])));
        assert!(slot.fresh().is_some());
        slot.generation.fetch_add(1, Ordering::AcqRel);
        assert!(slot.fresh().is_none(), "a change was heard of since");
        let mut old = snapshot(&[]);
        old.generation = 1;
        old.loaded_at = Instant::now().checked_sub(REREAD_EVERY).expect("the clock is past 30 s");
        *slot.snapshot.write().unwrap() = Some(Arc::new(old));
        assert!(slot.fresh().is_none(), "read too long ago");
    }

    #[test]
    fn the_epoch_refuses_older_tokens_but_those_of_the_kept_family() {
        let s = snapshot(&[("ann", 1_000, None), ("bob", 1_000, Some("f1"))]);
        let refused =
            |user: &str, family: Option<&str>, at: i64| s.users.get(user).is_some_and(|e| e.refuses(family, at));
        assert!(refused("ann", None, 999));
        assert!(refused("ann", None, 1_000), "the same millisecond counts as before");
        assert!(!refused("ann", None, 1_001));
        assert!(refused("ann", Some("f1"), 999), "no family is kept for ann");
        assert!(!refused("bob", Some("f1"), 999), "the kept family");
        assert!(refused("bob", Some("f2"), 999));
        assert!(refused("bob", None, 999));
        assert!(!refused("cat", None, 0), "no epoch");
    }
}
