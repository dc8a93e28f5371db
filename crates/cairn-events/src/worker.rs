//! The delivery worker: dispatch new events to their consumers, claim due deliveries with
//! a lease, run each consumer's handler, and settle the outcome (done, retry later, dead).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cairn_domain::{TenantId, now_ms};
use cairn_store::{Backend, Db, Store, Tenant, TenantState};
use rand::Rng;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;

use crate::bus::Bus;
use crate::model::{Event, EventsError};
use crate::store::{self, Claimed, Settle};

/// Every this many polls, a worker checks every tenant, not only the marked ones.
const FULL_SCAN_EVERY: u32 = 60;

/// How deliveries are paced.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Attempts before a delivery goes to dead letters.
    pub max_attempts: i64,
    /// The first retry waits about this long; each further one twice as long.
    pub retry_base: Duration,
    /// No retry waits longer.
    pub retry_max: Duration,
    /// How long a claim holds; a handler gets half of it.
    pub lease: Duration,
    /// How often the control database's marks of due tenants are read, without a wake-up
    /// (every tenant is checked every 60 polls).
    pub poll_interval: Duration,
    /// Deliveries claimed at once per tenant (run concurrently).
    pub batch: i64,
    /// Tenants worked on at once.
    pub tenants_at_once: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            batch: 16,
            tenants_at_once: 8,
        }
    }
}

impl DeliverySettings {
    /// The wait before retry number `attempt` (1-based): exponential, capped, with jitter in
    /// its upper half so that failures that happened together do not retry together.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let exp = (attempt - 1).clamp(0, 30) as u32;
        let full = self.retry_base.saturating_mul(1u32 << exp.min(20)).min(self.retry_max);
        let ms = full.as_millis() as u64;
        Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms.max(1)))
    }
}

/// How deliveries ended, counted since the process started (for `/metrics`).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    pub retried: AtomicU64,
    pub dead: AtomicU64,
}

/// Why a handler did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another attempt later (a timeout, a 5xx, a mail server down).
    Retry(String),
    /// Will never succeed: straight to dead letters.
    Permanent(String),
}

/// One delivery a handler runs.
#[derive(Debug)]
pub struct Job {
    pub tenant: Tenant,
    pub db: Db,
    pub event: Event,
    /// The consumer's name, e.g. `webhook:<id>` or `mail:<user id>`.
    pub consumer: String,
    pub delivery_id: String,
    /// 1 on the first attempt.
    pub attempt: i64,
}

impl Job {
    /// What follows `prefix:` in the consumer's name.
    pub fn key(&self) -> &str {
        self.consumer.split_once(':').map(|(_, k)| k).unwrap_or("")
    }
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send + 'a>>;

/// A consumer's effect. At least once: a handler may see the same event again (after a
/// lease expired mid-run), so its effect is keyed by event id.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a>;
}

/// Which consumers exist and which event types each one subscribes to.
#[derive(Clone, Default)]
pub struct Consumers {
    subscriptions: Vec<(String, Vec<String>)>,
    handlers: HashMap<String, Arc<dyn Handler>>,
}

impl std::fmt::Debug for Consumers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumers").field("subscriptions", &self.subscriptions).finish_non_exhaustive()
    }
}

impl Consumers {
    /// A consumer named `name` that receives every event of `types`.
    pub fn subscribe(mut self, name: &str, types: &[&str], handler: Arc<dyn Handler>) -> Self {
        self.subscriptions.push((name.to_owned(), types.iter().map(|t| (*t).to_owned()).collect()));
        self.handlers.insert(name.to_owned(), handler);
        self
    }

    /// Handles deliveries to `prefix:<key>`, which other handlers enqueue (or, for
    /// `webhook:<id>`, the dispatcher creates from the webhooks table).
    pub fn handle(mut self, prefix: &str, handler: Arc<dyn Handler>) -> Self {
        self.handlers.insert(prefix.to_owned(), handler);
        self
    }

    fn handler_for(&self, consumer: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers.get(consumer).or_else(|| self.handlers.get(consumer.split_once(':')?.0))
    }

    fn of(&self, kind: &str) -> impl Iterator<Item = &str> {
        self.subscriptions.iter().filter(move |(_, types)| types.iter().any(|t| t == kind)).map(|(n, _)| n.as_str())
    }
}

/// Delivers every tenant's events. Any number may run, in one process or many.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    bus: Bus,
    consumers: Arc<Consumers>,
    settings: Arc<DeliverySettings>,
    /// Names this worker in leases (host and process), for operators reading the table.
    owner: Arc<str>,
    stats: Arc<DeliveryStats>,
}

/// `host:pid:random`: which process holds a lease, for operators reading the table.
fn owner_name(host: &str) -> String {
    format!("{host}:{}:{}", std::process::id(), &uuid::Uuid::now_v7().simple().to_string()[20..])
}

impl Worker {
    pub fn new(store: Store, bus: Bus, consumers: Consumers, settings: DeliverySettings) -> Self {
        Self {
            store,
            bus,
            consumers: Arc::new(consumers),
            settings: Arc::new(settings),
            owner: owner_name("localhost").into(),
            stats: Arc::default(),
        }
    }

    /// Counts outcomes into `stats` (shared with whoever reports them).
    /// Names the host in this worker's leases (the binary passes the machine's name).
    pub fn with_host(mut self, host: &str) -> Self {
        self.owner = owner_name(host).into();
        self
    }

    pub fn with_stats(mut self, stats: Arc<DeliveryStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Runs until the task is dropped: wakes on the bus, on each tenant's next due time, and
    /// every `poll_interval` for every tenant.
    pub async fn run(self) {
        let mut wakeups = self.bus.subscribe();
        let mut due: HashMap<TenantId, i64> = HashMap::new();
        let mut running: HashSet<TenantId> = HashSet::new();
        let mut tasks: JoinSet<(TenantId, Result<Option<i64>, EventsError>)> = JoinSet::new();
        let mut poll = tokio::time::interval(self.settings.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut full = tokio::time::interval(self.settings.poll_interval * FULL_SCAN_EVERY);
        full.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let now = now_ms();
            let wait = due
                .iter()
                .filter(|(t, _)| !running.contains(*t))
                .map(|(_, at)| *at)
                .min()
                .map(|at| Duration::from_millis((at - now).max(0) as u64))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                woke = wakeups.recv() => match woke {
                    Ok(t) => { due.insert(t, now); }
                    Err(RecvError::Lagged(_)) => self.everyone(&mut due).await,
                    Err(RecvError::Closed) => return,
                },
                _ = poll.tick() => self.marked(&mut due).await,
                _ = full.tick() => self.everyone(&mut due).await,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok((t, result)) = done {
                        running.remove(&t);
                        let next = match result {
                            Ok(next) => next,
                            Err(e) => {
                                tracing::warn!(tenant = %t, error = %e, "event delivery round failed");
                                Some(now_ms() + self.settings.poll_interval.as_millis() as i64)
                            }
                        };
                        if let Some(at) = next {
                            let slot = due.entry(t).or_insert(at);
                            *slot = (*slot).min(at);
                        }
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
            while let Ok(t) = wakeups.try_recv() {
                due.insert(t, now_ms());
            }
            let now = now_ms();
            let ready: Vec<TenantId> =
                due.iter().filter(|(t, at)| **at <= now && !running.contains(*t)).map(|(t, _)| *t).collect();
            for t in ready {
                if running.len() >= self.settings.tenants_at_once {
                    break;
                }
                due.remove(&t);
                running.insert(t);
                let worker = self.clone();
                tasks.spawn(async move {
                    let started = now_ms();
                    let result = worker.run_tenant(t).await;
                    let settled = match &result {
                        Ok(next) => store::settle_tenant(worker.bus.control(), t, *next, started).await,
                        // A deleted tenant has no work left.
                        Err(EventsError::NotFound(_)) => {
                            store::settle_tenant(worker.bus.control(), t, None, i64::MAX).await
                        }
                        Err(_) => Ok(()),
                    };
                    if let Err(e) = settled {
                        tracing::warn!(tenant = %t, error = %e, "recording the next event work failed");
                    }
                    (t, result)
                });
            }
        }
    }

    /// The tenants the control database marks due (commits on any replica or process).
    async fn marked(&self, due: &mut HashMap<TenantId, i64>) {
        match store::due_tenants(self.bus.control(), now_ms()).await {
            Ok(marked) => {
                for (t, at) in marked {
                    let slot = due.entry(t).or_insert(at);
                    *slot = (*slot).min(at);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read event work"),
        }
    }

    /// Every active tenant: the safety net for a mark lost between a tenant's commit and the
    /// control database (a crash in between), at a slow pace.
    async fn everyone(&self, due: &mut HashMap<TenantId, i64>) {
        match self.store.list_tenants().await {
            Ok(tenants) => {
                let now = now_ms();
                for t in tenants.into_iter().filter(|t| t.state == TenantState::Active) {
                    due.entry(t.id).or_insert(now);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list tenants for event delivery"),
        }
    }

    /// One round for one tenant: dispatch, then deliver until nothing is due. Up to `batch`
    /// deliveries run at once; while any runs, new due work is claimed once half the slots
    /// are free, and new events are dispatched every 250 ms, so one slow receiver never holds
    /// the others back. Returns when the next pending delivery falls due.
    pub async fn run_tenant(&self, id: TenantId) -> Result<Option<i64>, EventsError> {
        let tenant = self.store.tenant_by_id(id).await.map_err(|_| EventsError::NotFound("tenant"))?;
        let db = self.store.tenant_db(id).await.map_err(|_| EventsError::NotFound("tenant database"))?;
        let mut running: JoinSet<Result<(), EventsError>> = JoinSet::new();
        let mut look = true;
        loop {
            let free = self.settings.batch - running.len() as i64;
            if look || free * 2 >= self.settings.batch {
                look = false;
                self.dispatch(&db).await?;
                let now = now_ms();
                let lease_id: Arc<str> = uuid::Uuid::now_v7().to_string().into();
                let until = now + self.settings.lease.as_millis() as i64;
                for c in store::claim(&db, &self.owner, &lease_id, now, until, free).await? {
                    let (worker, tenant, db, lease_id) = (self.clone(), tenant.clone(), db.clone(), lease_id.clone());
                    running.spawn(async move { worker.deliver(&tenant, &db, c, &lease_id).await });
                }
            }
            if running.is_empty() {
                break;
            }
            tokio::select! {
                Some(done) = running.join_next() => {
                    match done {
                        Ok(r) => r?,
                        Err(e) => tracing::error!(error = %e, "a delivery task failed"),
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(250)) => look = true,
            }
        }
        Ok(store::next_due(&db).await?)
    }

    /// Creates each new event's deliveries: one per subscribed consumer and webhook.
    async fn dispatch(&self, db: &Db) -> Result<(), EventsError> {
        const CHUNK: i64 = 200;
        while store::has_undispatched(db).await? {
            let mut tx = db.begin().await?;
            let rows = store::undispatched(&mut tx, CHUNK, db.backend() == Backend::Postgres).await?;
            if rows.is_empty() {
                break;
            }
            let hooks = store::subscriptions(&mut tx).await?;
            let now = now_ms();
            for (id, kind) in &rows {
                for consumer in self.consumers.of(kind) {
                    store::insert_delivery(&mut tx, id, consumer, now).await?;
                }
                for (hook, types) in &hooks {
                    if types.iter().any(|t| t == kind) {
                        store::insert_delivery(&mut tx, id, &format!("webhook:{hook}"), now).await?;
                    }
                }
                store::mark_dispatched(&mut tx, id, now).await?;
            }
            tx.commit().await?;
            if (rows.len() as i64) < CHUNK {
                break;
            }
        }
        Ok(())
    }

    async fn deliver(&self, tenant: &Tenant, db: &Db, c: Claimed, lease_id: &str) -> Result<(), EventsError> {
        let outcome =
            match (store::event_by_id(db, tenant.id, &c.event_id).await?, self.consumers.handler_for(&c.consumer)) {
                (None, _) => Err(Failure::Permanent("the event no longer exists".into())),
                (_, None) => Err(Failure::Permanent(format!("no consumer {:?} in this version", c.consumer))),
                (Some(event), Some(handler)) => {
                    let job = Job {
                        tenant: tenant.clone(),
                        db: db.clone(),
                        event,
                        consumer: c.consumer.clone(),
                        delivery_id: c.id.clone(),
                        attempt: c.attempts,
                    };
                    match tokio::time::timeout(self.settings.lease / 2, handler.handle(&job)).await {
                        Ok(r) => r,
                        Err(_) => Err(Failure::Retry("timed out".into())),
                    }
                }
            };
        let now = now_ms();
        let settle = match &outcome {
            Ok(()) => Settle::Done,
            Err(Failure::Retry(e)) if c.attempts < self.settings.max_attempts => {
                Settle::Retry { at: now + self.settings.backoff(c.attempts).as_millis() as i64, error: e }
            }
            Err(Failure::Retry(e) | Failure::Permanent(e)) => Settle::Dead { error: e },
        };
        let counter = match settle {
            Settle::Done => &self.stats.delivered,
            Settle::Retry { .. } => &self.stats.retried,
            Settle::Dead { .. } => &self.stats.dead,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match settle {
            Settle::Dead { error } => tracing::warn!(tenant = %tenant.slug, delivery = %c.id, consumer = %c.consumer,
                attempts = c.attempts, error, "delivery moved to dead letters"),
            Settle::Retry { error, .. } => tracing::info!(tenant = %tenant.slug, delivery = %c.id,
                consumer = %c.consumer, attempts = c.attempts, error, "delivery failed; will retry"),
            Settle::Done => {}
        }
        if !store::settle(db, &c.id, lease_id, now, settle).await? {
            tracing::warn!(delivery = %c.id, "lease lost before the delivery settled; another worker owns it");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paced(base_ms: u64, max_ms: u64) -> DeliverySettings {
        DeliverySettings {
            retry_base: Duration::from_millis(base_ms),
            retry_max: Duration::from_millis(max_ms),
            ..DeliverySettings::default()
        }
    }

    /// Many waits before retry `attempt`, in milliseconds.
    fn waits(settings: &DeliverySettings, attempt: i64) -> Vec<u64> {
        (0..500).map(|_| settings.backoff(attempt).as_millis() as u64).collect()
    }

    /// Asserts every wait lies in the upper half of `full` (the jitter's bounds), and that
    /// the waits spread over that half rather than bunching.
    fn assert_jittered(waits: &[u64], full: u64, what: &str) {
        assert!(
            waits.iter().all(|ms| (full / 2..=full).contains(ms)),
            "{what}: {waits:?} outside {}..={full}",
            full / 2
        );
        let (low, high) = (waits.iter().min().unwrap(), waits.iter().max().unwrap());
        assert!(*low < full / 2 + full / 10 && *high > full - full / 10, "{what}: {low}..={high} of {full}");
    }

    #[test]
    fn each_retry_waits_about_twice_as_long_as_the_one_before() {
        let settings = paced(1000, 3_600_000);
        for attempt in 1..=10 {
            let full = 1000 << (attempt - 1);
            assert_jittered(&waits(&settings, attempt), full, &format!("attempt {attempt}"));
        }
        // The first retry waits about the base, however the attempt is counted below one.
        for attempt in [0, -1] {
            assert_jittered(&waits(&settings, attempt), 1000, &format!("attempt {attempt}"));
        }
    }

    #[test]
    fn no_wait_is_longer_than_the_cap() {
        let settings = paced(1000, 10_000);
        assert_jittered(&waits(&settings, 4), 8000, "below the cap");
        for attempt in [5, 6, 31, 64, 1000, i64::MAX] {
            assert_jittered(&waits(&settings, attempt), 10_000, &format!("attempt {attempt}"));
        }
        // A long base and many attempts neither overflow nor pass the cap.
        let hours = paced(3_600_000, 86_400_000);
        assert_jittered(&waits(&hours, i64::MAX), 86_400_000, "an hour's base");
    }

    #[test]
    fn failures_that_happened_together_do_not_retry_together() {
        let settings = paced(1000, 3_600_000);
        let mut waits = waits(&settings, 5);
        waits.sort_unstable();
        waits.dedup();
        // 500 draws over 8001 possible waits: a few collide, hardly more.
        assert!(waits.len() > 450, "only {} distinct waits", waits.len());
    }

    #[test]
    fn a_zero_base_retries_at_once() {
        let settings = paced(0, 0);
        assert!(waits(&settings, 1).iter().chain(&waits(&settings, 40)).all(|&ms| ms <= 1));
    }
}
