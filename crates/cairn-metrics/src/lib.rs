//! Engineering metrics: each tenant's settings, teams and people, the sources collectors
//! read, the rows they collect (with the daily rollups per person kept in the same
//! transaction), and the bookkeeping of collector runs.
//!
//! One facade, [`Metrics`], whose methods live in feature modules: `teams/` and
//! `settings/` (what admins change, each change with its audit entry), `collected/` (the
//! upserts a collector calls page by page, through [`collected::Page`]), `runs/` and
//! `sources/` (their tables' SQL). Each feature's SQL is in its `store.rs`; what several
//! features run (binding, the dialect's locks) in `store/`.

pub mod client;
pub mod collect;
pub mod collected;
pub mod day;
pub mod demo;
pub mod figures;
pub mod panels;
pub mod runs;
pub mod settings;
pub mod sources;
mod store;
pub mod teams;

use cairn_audit::AuditError;
use cairn_domain::ValidationError;
use cairn_store::{Db, Migration, sqlx};
use collected::store::Snapshot;

pub use collected::{Counts, Page};
pub use day::{Day, Zone};
pub use runs::{Run, RunId, RunStatus};
pub use settings::{Schedule, Settings, SettingsInput, TimeZoneName};
pub use sources::{Source, SourceId, SourceInput, SourceKind, SourcePatch};
pub use teams::{MemberDraft, Team, TeamDraft, TeamId, TeamPatchDraft};

/// The metrics of one tenant: its database, chosen from the verified principal.
#[derive(Debug, Clone, Copy)]
pub struct Metrics<'a> {
    pub db: &'a Db,
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The change clashes with what exists (a team name, a board another team owns).
    #[error("{0}")]
    Conflict(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
    /// A source's upstream did not answer as its API describes (while its credentials were
    /// tried): not the caller's mistake, nor Cairn's.
    #[error("{0}")]
    Upstream(String),
    /// A stored value Cairn wrote that no longer reads back.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
}

pub fn tenant_migrations() -> Vec<Migration> {
    // The dialects agree on every statement of the schema.
    const SCHEMA: &str = include_str!("../migrations/tenant_0001_metrics.sql");
    const DEMO: &str = include_str!("../migrations/tenant_0002_demo_sources.sql");
    const READ_INDEXES: &str = include_str!("../migrations/tenant_0003_read_indexes.sql");
    const INCIDENTS: &str = include_str!("../migrations/tenant_0004_incidents.sql");
    const COMPLETIONS: &str = include_str!("../migrations/tenant_0005_sprint_completions.sql");
    const IMPACT: &str = include_str!("../migrations/tenant_0006_commit_impact.sql");
    vec![
        Migration { component: "metrics", version: 1, name: "metrics", sqlite: SCHEMA, postgres: SCHEMA },
        Migration { component: "metrics", version: 2, name: "demo_sources", sqlite: DEMO, postgres: DEMO },
        Migration {
            component: "metrics",
            version: 3,
            name: "read_indexes",
            sqlite: READ_INDEXES,
            postgres: READ_INDEXES,
        },
        Migration { component: "metrics", version: 4, name: "incidents", sqlite: INCIDENTS, postgres: INCIDENTS },
        Migration {
            component: "metrics",
            version: 5,
            name: "sprint_completions",
            sqlite: COMPLETIONS,
            postgres: COMPLETIONS,
        },
        Migration { component: "metrics", version: 6, name: "commit_impact", sqlite: IMPACT, postgres: IMPACT },
    ]
}

impl Metrics<'_> {
    /// Rebuilds every daily rollup from the collected rows in the settings' time zone, and
    /// rescores every commit's impact, with pages kept out meanwhile; the rows written. The
    /// rollups equal what the pages keep: both count each row by the same rules.
    pub async fn rebuild_rollups(&self) -> Result<u64, MetricsError> {
        let mut tx = self.db.begin().await?;
        let written = self.rebuild_locked(&mut tx).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Rebuilds the rollups if they were built by older rules than this version's (collected
    /// before an upgrade); the rows written, if it did.
    pub async fn rebuild_stale_rollups(&self) -> Result<Option<u64>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        if collected::store::rollups_version(&mut conn).await? >= collected::store::ROLLUPS_VERSION {
            return Ok(None);
        }
        drop(conn);
        let mut tx = self.db.begin().await?;
        let written = self.rebuild_locked(&mut tx).await?;
        tx.commit().await?;
        Ok(Some(written))
    }

    /// Locks the settings against pages and rebuilds (again, if another rebuild came first).
    async fn rebuild_locked(&self, tx: &mut cairn_store::sqlx::AnyConnection) -> Result<u64, MetricsError> {
        let settings = settings::store::get(tx, self.db.backend(), true).await?;
        let bots = collected::rollup::Bots::new(&settings.bots);
        collected::store::rebuild_rollups(tx, self.db.backend(), settings.time_zone.zone(), &bots).await
    }

    /// The sprints of `source` whose commitment was taken (it is never taken again).
    pub async fn commitments_taken(&self, source: &SourceId) -> Result<Vec<i64>, MetricsError> {
        self.snapshots_taken(Snapshot::Commitment, source).await
    }

    /// The sprints of `source` whose completion was taken (it is never taken again).
    pub async fn completions_taken(&self, source: &SourceId) -> Result<Vec<i64>, MetricsError> {
        self.snapshots_taken(Snapshot::Completion, source).await
    }

    async fn snapshots_taken(&self, kind: Snapshot, source: &SourceId) -> Result<Vec<i64>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(collected::store::snapshots_taken(&mut conn, kind, &source.to_string()).await?)
    }

    /// The issues of `source` stored as having been in `sprint` at some time.
    pub async fn sprint_member_issues(&self, source: &SourceId, sprint: i64) -> Result<Vec<String>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(collected::store::sprint_member_issues(&mut conn, &source.to_string(), sprint).await?)
    }

    /// Every source's pull requests merged in `[since, until)` (epoch ms), with when their
    /// first commit was authored and when their repository next deployed successfully:
    /// everyone's, or those of the person keys `keys` (see [`figures::Roster::keys_of`]).
    pub async fn merged_pull_requests(
        &self,
        since: i64,
        until: i64,
        keys: Option<&[String]>,
    ) -> Result<Vec<figures::cycle::MergedPull>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(collected::store::merged_pull_requests(&mut conn, since, until, keys).await?)
    }

    /// Every source's counted commits authored in `[since, until)` (epoch ms): everyone's,
    /// or those of the person keys `keys` (lower case; see [`figures::Roster::keys_of`]).
    pub async fn counted_commits(
        &self,
        since: i64,
        until: i64,
        keys: Option<&[String]>,
    ) -> Result<Vec<figures::commits::CountedCommit>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(collected::store::counted_commits(&mut conn, since, until, keys).await?)
    }

    /// Every source's active person-days of the local days `[from, to)` with their impact:
    /// `(person key, day, impact in stored units)`.
    pub async fn impact_days(&self, from: Day, to: Day) -> Result<Vec<(String, Day, i64)>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(collected::store::impact_days(&mut conn, from, to).await?)
    }

    /// Every source's rollups of the local days `[from, to)`: everyone's, or those of the
    /// person keys `keys` (lower case; see [`figures::Roster::keys_of`]).
    pub async fn person_days_between(
        &self,
        from: Day,
        to: Day,
        keys: Option<&[String]>,
    ) -> Result<Vec<collected::PersonDay>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        Ok(collected::store::person_days_between(&mut conn, from, to, keys).await?)
    }

    /// The stored rollups of `source` (or of every source), by source, person and day.
    pub async fn person_days(&self, source: Option<&SourceId>) -> Result<Vec<collected::PersonDay>, MetricsError> {
        let mut conn = self.db.reader().acquire().await?;
        let source = source.map(SourceId::to_string);
        Ok(collected::store::person_days(&mut conn, source.as_deref()).await?)
    }
}
