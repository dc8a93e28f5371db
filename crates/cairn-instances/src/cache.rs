//! A short per-account cache of `DescribeInstances`, so many people watching a console do
//! not throttle the account: one fetch per account and region at a time (those who ask
//! meanwhile wait for it), its answer kept for a time-to-live, dropped when an action
//! changes an instance of the account or the account itself changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::AwsError;
use crate::model::Instance;

/// Where a list came from: a tenant's account (its id and version) and a region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub tenant: String,
    pub account: String,
    /// The account's `updated_at`: a changed account is another entry.
    pub version: i64,
    pub region: String,
}

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<Vec<Instance>>)>>>;

/// Entries beyond which, when a new one comes, those past their time are dropped.
const SWEEP_ABOVE: usize = 256;

#[derive(Debug)]
pub(crate) struct Cache {
    ttl: Duration,
    slots: Mutex<HashMap<Key, Slot>>,
}

impl Cache {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, slots: Mutex::default() }
    }

    fn slot(&self, key: &Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.len() >= SWEEP_ABOVE && !slots.contains_key(key) {
            // Slots nobody waits on and whose answer is past its time go first.
            let ttl = self.ttl;
            slots.retain(|_, s| {
                Arc::strong_count(s) > 1
                    || s.try_lock().is_ok_and(|v| v.as_ref().is_some_and(|(at, _)| at.elapsed() < ttl))
            });
        }
        slots.entry(key.clone()).or_default().clone()
    }

    /// The instances under `key`: kept ones while fresh (and `fresh` is not asked for),
    /// otherwise `fetch`'s, kept for the time-to-live. A failed fetch is not kept.
    pub async fn get<F>(&self, key: &Key, fresh: bool, fetch: F) -> Result<Arc<Vec<Instance>>, AwsError>
    where
        F: Future<Output = Result<Vec<Instance>, AwsError>>,
    {
        let slot = self.slot(key);
        let mut held = slot.lock().await;
        if !fresh
            && let Some((at, list)) = held.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(list.clone());
        }
        let list = Arc::new(fetch.await?);
        if !self.ttl.is_zero() {
            *held = Some((Instant::now(), list.clone()));
        }
        Ok(list)
    }

    /// Drops what is kept for an account of a tenant (every version and region).
    pub fn forget(&self, tenant: &str, account: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|k, _| !(k.tenant == tenant && k.account == account));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn key(account: &str) -> Key {
        Key { tenant: "t".into(), account: account.into(), version: 1, region: "eu-west-1".into() }
    }

    #[tokio::test]
    async fn one_fetch_serves_until_forgotten() {
        let cache = Cache::new(Duration::from_secs(60));
        let fetched = AtomicUsize::new(0);
        let fetch = || async {
            fetched.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        };
        let a_key = key("a");
        let (a, b) = tokio::join!(cache.get(&a_key, false, fetch()), cache.get(&a_key, false, fetch()));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(fetched.load(Ordering::SeqCst), 1, "a second viewer waits for the first fetch");
        cache.get(&key("b"), false, fetch()).await.unwrap();
        assert_eq!(fetched.load(Ordering::SeqCst), 2, "accounts are kept apart");
        cache.get(&key("a"), true, fetch()).await.unwrap();
        assert_eq!(fetched.load(Ordering::SeqCst), 3, "fresh reads again");
        cache.forget("t", "a");
        cache.get(&key("a"), false, fetch()).await.unwrap();
        assert_eq!(fetched.load(Ordering::SeqCst), 4);
        cache.get(&key("b"), false, fetch()).await.unwrap();
        assert_eq!(fetched.load(Ordering::SeqCst), 4, "forgetting one account keeps the other");
        let failed = cache.get(&key("c"), false, async { Err(AwsError::Timeout) }).await;
        assert_eq!(failed.unwrap_err(), AwsError::Timeout);
        cache.get(&key("c"), false, fetch()).await.unwrap();
        assert_eq!(fetched.load(Ordering::SeqCst), 5, "a failure is not kept");
    }

    #[tokio::test]
    async fn a_zero_ttl_keeps_nothing() {
        let cache = Cache::new(Duration::ZERO);
        let fetched = AtomicUsize::new(0);
        for _ in 0..2 {
            cache
                .get(&key("a"), false, async {
                    fetched.fetch_add(1, Ordering::SeqCst);
                    Ok(Vec::new())
                })
                .await
                .unwrap();
        }
        assert_eq!(fetched.load(Ordering::SeqCst), 2);
    }
}
