//! Collectors: what a run of a source does. Each source kind reads its upstream page by
//! page and writes every page in one transaction with the rollups it moves and the run's
//! progress ([`PageTx`]), so a run killed at any point resumes after its last committed
//! page, and a worker that lost its lease writes nothing.

pub mod git;
pub mod github;
pub mod jira;
pub mod run;

use std::collections::BTreeMap;

use cairn_store::{Db, sqlx};

use crate::client::{Tally, UpstreamError};
use crate::collected::{Counts, Page};
use crate::runs::{Lease, PageProgress};
use crate::sources::SourceId;
use crate::{MetricsError, runs};

/// How long a page's commit extends the run's lease.
pub const LEASE_MS: i64 = 5 * 60 * 1000;

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Git(#[from] cairn_git::GitError),
    /// Another worker holds the run now (this one was too slow to renew its lease).
    #[error("the run's lease was lost")]
    LeaseLost,
}

impl From<sqlx::Error> for CollectError {
    fn from(e: sqlx::Error) -> Self {
        CollectError::Metrics(e.into())
    }
}

/// A run in progress: where it writes, what it reads, and what it did so far.
#[derive(Debug)]
pub struct RunCtx<'a> {
    pub db: &'a Db,
    pub source: SourceId,
    pub lease: &'a Lease,
    /// The start of the window read (epoch ms).
    pub since: i64,
    /// Where each step stopped in an earlier attempt of this run.
    pub progress: BTreeMap<String, String>,
    /// Requests and limit waits already recorded with a page.
    recorded: (u64, u64),
    /// What the run did, per table.
    pub counts: BTreeMap<&'static str, Counts>,
}

impl<'a> RunCtx<'a> {
    pub fn new(db: &'a Db, source: SourceId, lease: &'a Lease, since: i64, progress: BTreeMap<String, String>) -> Self {
        Self { db, source, lease, since, progress, recorded: (0, 0), counts: BTreeMap::new() }
    }

    /// Where `step` resumes, if an earlier attempt got that far.
    pub fn resume(&self, step: &str) -> Option<&str> {
        self.progress.get(step).map(String::as_str)
    }

    /// A collector's named value for the source (an ETag, a watermark), as committed.
    pub async fn cursor(&self, name: &str) -> Result<Option<String>, CollectError> {
        Ok(crate::Metrics { db: self.db }.source_cursor(&self.source, name).await?)
    }

    /// A page's transaction, with its [`Page`] of rows.
    pub async fn page(&self) -> Result<PageTx<'a>, CollectError> {
        let tx = self.db.begin().await?;
        Ok(PageTx { tx, db: self.db, source: self.source })
    }

    /// Commits `page` with the run's progress: `step` resumes at `cursor` from now on
    /// (`None` keeps the step's cursor), and `counts` are added to the run's.
    pub async fn commit(
        &mut self,
        mut page: PageTx<'_>,
        step: &str,
        cursor: Option<&str>,
        counts: &[(&'static str, Counts)],
        tally: &Tally,
    ) -> Result<(), CollectError> {
        let (requests, waits) = (tally.requests(), tally.rate_limit_waits());
        let progress = PageProgress {
            step,
            cursor,
            counts,
            requests: (requests - self.recorded.0) as i64,
            rate_limit_waits: (waits - self.recorded.1) as i64,
        };
        let until = cairn_domain::now_ms() + LEASE_MS;
        if !runs::store::record_page(&mut page.tx, self.lease, &progress, until).await? {
            return Err(CollectError::LeaseLost);
        }
        page.tx.commit().await?;
        self.recorded = (requests, waits);
        if let Some(c) = cursor {
            self.progress.insert(step.to_owned(), c.to_owned());
        }
        for (table, c) in counts {
            self.counts.entry(table).or_default().add(*c);
        }
        Ok(())
    }
}

/// One page's transaction.
pub struct PageTx<'a> {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    db: &'a Db,
    source: SourceId,
}

impl PageTx<'_> {
    /// The page's rows, written on its transaction.
    pub async fn rows(&mut self) -> Result<Page<'_>, CollectError> {
        Ok(Page::open(self.db, &mut self.tx, &self.source).await?)
    }

    /// A collector's named value for the source (an ETag, a watermark), kept with the page.
    pub async fn set_cursor(&mut self, name: &str, value: &str) -> Result<(), CollectError> {
        crate::sources::set_cursor(&mut self.tx, &self.source, name, value).await?;
        Ok(())
    }

    /// Removes a collector's named value for the source, with the page.
    pub async fn remove_cursor(&mut self, name: &str) -> Result<(), CollectError> {
        crate::sources::remove_cursor(&mut self.tx, &self.source, name).await?;
        Ok(())
    }
}
