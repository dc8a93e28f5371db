//! The SQL of collected rows and their rollups. A page is upserted in a few statements
//! whatever its size: one read of the stored rows it names, one multi-row upsert of those
//! that are new or changed, and one multi-row upsert of the rollups they move (by the
//! difference between the stored row and the new one).

use std::collections::{HashMap, HashSet};

use cairn_store::sqlx::{self, AnyConnection, Row};
use cairn_store::{Backend, Db};
use futures_util::TryStreamExt;

use super::impact;
use super::rollup::{self, Bots, DayFigures, PersonDay, Rollup};
use super::{
    Board, Comment, CommentKind, Commit, CommitPullRequest, CommitmentItem, CompletionItem, Counts, Deployment, Issue,
    PullRequest, Release, Repository, Review, Sprint, SprintMembership, Table, Worklog,
};
use crate::MetricsError;
use crate::day::{Day, Zone};
use crate::settings::TimeZoneName;
use crate::sources::SourceId;
use crate::store::{MAX_BINDS, Sql, bind_all};

/// One page of a source's collected rows, written on the caller's transaction with the
/// rollups it moves; the caller commits it (with the run's progress, so that a run resumes
/// after the last page it committed).
///
/// Opening a page locks, until the transaction ends, the settings (shared: a change of time
/// zone waits for the page, and the page counts days in the zone it read) and the source
/// (exclusive: two pages of one source never compute rollup changes from the same stored
/// rows at once). On SQLite, the one writer does the same.
#[derive(Debug)]
pub struct Page<'c> {
    conn: &'c mut AnyConnection,
    backend: Backend,
    source: String,
    zone: Zone,
    bots: Bots,
}

/// The rows of a source whose columns `cols` take one of `tuples` sets of values (bound
/// from `$2` on, the source being `$1`): how a statement names them, per dialect.
///
/// SQLite finds them through the key's index from `(c1, c2) IN (VALUES …)`. PostgreSQL
/// plans that as a join, which before the table has statistics (a first backfill) can scan
/// every row of the source for each page; a lateral subquery that is not flattened
/// (`OFFSET 0`) makes it look each tuple up in the index.
#[derive(Debug, Clone, Copy)]
struct Matching<'a> {
    backend: Backend,
    table: &'a str,
    cols: &'a [&'a str],
    tuples: usize,
}

impl Matching<'_> {
    fn values(&self) -> String {
        let width = self.cols.len();
        let rows: Vec<String> = (0..self.tuples)
            .map(|t| {
                let row: Vec<String> = (0..width).map(|c| format!("${}", 2 + t * width + c)).collect();
                format!("({})", row.join(", "))
            })
            .collect();
        rows.join(", ")
    }

    /// `c IN ($2, …)` for one column, `(c1, c2) IN (VALUES ($2, $3), …)` for several.
    fn condition(&self) -> String {
        if self.cols.len() == 1 {
            return in_list(self.cols, self.tuples, 2);
        }
        format!("({}) IN (VALUES {})", self.cols.join(", "), self.values())
    }

    /// PostgreSQL's lateral lookup of `what` (columns of `t`) for each tuple, as `x`.
    fn lateral(&self, what: &str) -> String {
        let names: Vec<String> = (0..self.cols.len()).map(|i| format!("k{i}")).collect();
        let on: Vec<String> = self.cols.iter().zip(&names).map(|(c, k)| format!("t.{c} = k.{k}")).collect();
        format!(
            "(VALUES {}) AS k({}) CROSS JOIN LATERAL (SELECT {what} FROM {} t WHERE t.source_id = $1 AND {} OFFSET 0) x",
            self.values(),
            names.join(", "),
            self.table,
            on.join(" AND ")
        )
    }

    fn select(&self, columns: &[&str]) -> String {
        match self.backend {
            Backend::Sqlite => {
                format!(
                    "SELECT {} FROM {} WHERE source_id = $1 AND {}",
                    columns.join(", "),
                    self.table,
                    self.condition()
                )
            }
            Backend::Postgres => {
                let inner: Vec<String> = columns.iter().map(|c| format!("t.{c}")).collect();
                let outer: Vec<String> = columns.iter().map(|c| format!("x.{c}")).collect();
                format!("SELECT {} FROM {}", outer.join(", "), self.lateral(&inner.join(", ")))
            }
        }
    }

    /// `DELETE` of the rows, those meeting `also` (a condition on the table's columns, or
    /// `TRUE`).
    fn delete(&self, also: &str) -> String {
        match self.backend {
            Backend::Sqlite => {
                format!("DELETE FROM {} WHERE source_id = $1 AND {} AND {also}", self.table, self.condition())
            }
            Backend::Postgres => format!(
                "DELETE FROM {} WHERE ctid IN (SELECT x.ctid FROM {}) AND {also}",
                self.table,
                self.lateral("t.ctid")
            ),
        }
    }
}

/// `c IN ($first, …)`: one column taking one of `n` values.
fn in_list(cols: &[&str], n: usize, first: usize) -> String {
    let list: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!("{} IN ({})", cols.join(", "), list.join(", "))
}

/// How many tuples of `width` values fit in one statement beside the source id.
fn per_statement(width: usize) -> usize {
    (MAX_BINDS / width.max(1)).max(1)
}

/// The stored rows of `source` whose `cols` take one of `tuples`.
async fn fetch<T: Table>(
    conn: &mut AnyConnection,
    backend: Backend,
    source: &str,
    cols: &[&str],
    tuples: &[Vec<Sql>],
) -> Result<Vec<T>, sqlx::Error> {
    let select: Vec<&str> = T::KEY.iter().chain(T::COLUMNS).copied().collect();
    let mut out = Vec::with_capacity(tuples.len());
    for chunk in tuples.chunks(per_statement(cols.len())) {
        let sql = Matching { backend, table: T::TABLE, cols, tuples: chunk.len() }.select(&select);
        let mut values = vec![Sql::from(source)];
        values.extend(chunk.iter().flatten().cloned());
        for row in bind_all(sqlx::query(&sql), &values).fetch_all(&mut *conn).await? {
            out.push(T::read(&row)?);
        }
    }
    Ok(out)
}

/// Writes `rows`: with `replace`, over the stored rows with the same keys; without, as new
/// rows (a plain insert: the page read that none is stored, and holds its source's lock).
async fn write<T: Table>(
    conn: &mut AnyConnection,
    source: &str,
    rows: &[&T],
    replace: bool,
) -> Result<(), sqlx::Error> {
    let cols: Vec<&str> = T::KEY.iter().chain(T::COLUMNS).copied().collect();
    let on_conflict = if !replace {
        String::new()
    } else if T::COLUMNS.is_empty() {
        format!(" ON CONFLICT (source_id, {}) DO NOTHING", T::KEY.join(", "))
    } else {
        let set: Vec<String> = T::COLUMNS.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        format!(" ON CONFLICT (source_id, {}) DO UPDATE SET {}", T::KEY.join(", "), set.join(", "))
    };
    for chunk in rows.chunks(per_statement(cols.len())) {
        let mut values = vec![Sql::from(source)];
        let mut tuples = Vec::with_capacity(chunk.len());
        for row in chunk {
            let first = values.len() + 1;
            tuples.push(format!(
                "($1, {})",
                (first..first + cols.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
            ));
            values.extend(T::key_values(&row.key()));
            values.extend(row.values());
        }
        let sql = format!(
            "INSERT INTO {} (source_id, {}) VALUES {}{on_conflict}",
            T::TABLE,
            cols.join(", "),
            tuples.join(", ")
        );
        bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Deletes the rows of `source` in `table` whose `cols` take one of `tuples` and that meet
/// `also`; how many went.
async fn delete_where(
    conn: &mut AnyConnection,
    backend: Backend,
    (table, source): (&str, &str),
    cols: &[&str],
    tuples: &[Vec<Sql>],
    also: &str,
) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for chunk in tuples.chunks(per_statement(cols.len())) {
        let sql = Matching { backend, table, cols, tuples: chunk.len() }.delete(also);
        let mut values = vec![Sql::from(source)];
        values.extend(chunk.iter().flatten().cloned());
        deleted += bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?.rows_affected();
    }
    Ok(deleted)
}

/// The figures' columns in `metrics_person_days`, in [`DayFigures::fields`] order.
const FIGURES: [&str; 11] = [
    "commits",
    "additions",
    "deletions",
    "changed_files",
    "impact",
    "comments_on_own",
    "comments_on_others",
    "prs_opened",
    "prs_merged",
    "reviews",
    "worklog_seconds",
];

/// Adds `changes` to the source's rollups; rows left at zero go. Returns the rows written.
async fn apply_rollup(
    conn: &mut AnyConnection,
    backend: Backend,
    source: &str,
    changes: &[(String, i64, DayFigures)],
) -> Result<u64, sqlx::Error> {
    let width = 3 + FIGURES.len();
    let set: Vec<String> = FIGURES.iter().map(|c| format!("{c} = metrics_person_days.{c} + excluded.{c}")).collect();
    let on_conflict = format!(
        "ON CONFLICT (source_id, person_key, day) DO UPDATE SET {}, \
         active = CASE WHEN metrics_person_days.commits + excluded.commits > 0 THEN 1 ELSE 0 END",
        set.join(", ")
    );
    for chunk in changes.chunks(per_statement(width)) {
        let mut values = vec![Sql::from(source)];
        let mut tuples = Vec::with_capacity(chunk.len());
        for (person, day, figures) in chunk {
            let first = values.len() + 1;
            tuples.push(format!(
                "($1, {})",
                (first..first + width).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
            ));
            values.push(Sql::from(person));
            values.push(Sql::Int(*day));
            values.extend(figures.fields().map(Sql::Int));
            values.push(Sql::from(figures.active()));
        }
        let sql = format!(
            "INSERT INTO metrics_person_days (source_id, person_key, day, {}, active) VALUES {} {on_conflict}",
            FIGURES.join(", "),
            tuples.join(", ")
        );
        bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    }
    let emptied: Vec<Vec<Sql>> =
        changes.iter().filter(|(_, _, f)| f.any_negative()).map(|(p, d, _)| vec![Sql::from(p), Sql::Int(*d)]).collect();
    let zero: Vec<String> = FIGURES.iter().map(|c| format!("{c} = 0")).collect();
    let cols = ["person_key", "day"];
    delete_where(conn, backend, ("metrics_person_days", source), &cols, &emptied, &zero.join(" AND ")).await?;
    Ok(changes.len() as u64)
}

macro_rules! tables {
    ($($(#[$doc:meta])* $upsert:ident, $remove:ident: $row:ty, $key:ty;)+) => {
        impl Page<'_> {
            $(
                $(#[$doc])*
                pub async fn $upsert(&mut self, rows: &[$row]) -> Result<Counts, MetricsError> {
                    self.upsert(rows).await
                }

                /// Removes the rows with these keys (gone upstream), with what they added to
                /// the rollups.
                pub async fn $remove(&mut self, keys: &[$key]) -> Result<Counts, MetricsError> {
                    self.remove::<$row>(keys).await
                }
            )+
        }
    };
}

tables! {
    /// Repositories, by id.
    repositories, remove_repositories: Repository, String;
    /// Pull requests, by repository and number.
    pull_requests, remove_pull_requests: PullRequest, (String, i64);
    /// Reviews, by id.
    reviews, remove_reviews: Review, String;
    /// Comments, by kind and id.
    comments, remove_comments: Comment, (CommentKind, String);
    /// Deployments, by id.
    deployments, remove_deployments: Deployment, String;
    /// Releases, by id.
    releases, remove_releases: Release, String;
    /// Jira boards, by id.
    boards, remove_boards: Board, i64;
    /// Sprints, by id.
    sprints, remove_sprints: Sprint, i64;
    /// Issues, by id (their worklogs and sprint intervals are removed on their own).
    issues, remove_issues: Issue, String;
    /// Worklogs, by id.
    worklogs, remove_worklogs: Worklog, String;
}

impl<'c> Page<'c> {
    /// Opens a page of `source`'s rows on `conn`, which must be a transaction of `db`.
    /// A source that does not exist, or is being deleted, takes no rows.
    pub async fn open(db: &Db, conn: &'c mut AnyConnection, source: &SourceId) -> Result<Page<'c>, MetricsError> {
        // Both locks and the zone in one round trip.
        let lock = match db.backend() {
            Backend::Postgres => " FOR SHARE OF s FOR UPDATE OF src",
            Backend::Sqlite => "",
        };
        let source = source.to_string();
        let settings: Option<(String, String)> = sqlx::query_as(&format!(
            "SELECT s.time_zone, s.bots FROM metrics_settings s JOIN metrics_sources src ON src.id = $1 \
             WHERE s.id = 1 AND src.state = 'active'{lock}"
        ))
        .bind(&source)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((zone, bots)) = settings else { return Err(MetricsError::NotFound("source")) };
        let corrupt = |reason: String| MetricsError::Corrupt { table: "metrics_settings", reason };
        let zone = TimeZoneName::parse(&zone, "time_zone").map_err(|e| corrupt(e.to_string()))?;
        let bots: Vec<String> = serde_json::from_str(&bots).map_err(|e| corrupt(e.to_string()))?;
        Ok(Page { conn, backend: db.backend(), source, zone: zone.zone().clone(), bots: Bots::new(&bots) })
    }

    /// The zone the page counts days in.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// Commits, by repository and sha; their repositories' impacts are rescored where they
    /// change.
    pub async fn commits(&mut self, rows: &[Commit]) -> Result<Counts, MetricsError> {
        let (counts, changes) = self.upsert_changes(rows).await?;
        let mut spans = Spans::default();
        let mut moved = HashMap::new();
        for (old, new) in &changes {
            spans.widen(&new.repository_id, new.authored_at);
            if let Some(old) = old {
                spans.widen(&old.repository_id, old.authored_at);
                moved.insert(old.key(), old.clone());
            }
        }
        self.rescore(spans, &moved, Rollup::default()).await?;
        Ok(counts)
    }

    /// Removes commits (gone from upstream: a force-push), with their pull-request links and
    /// their impact; their repositories' impacts are rescored.
    pub async fn remove_commits(&mut self, keys: &[(String, String)]) -> Result<Counts, MetricsError> {
        let tuples: Vec<Vec<Sql>> = keys.iter().map(Commit::key_values).collect();
        let links = (CommitPullRequest::TABLE, self.source.as_str());
        delete_where(self.conn, self.backend, links, &["repository_id", "sha"], &tuples, "TRUE").await?;
        let scored = impacts_of(self.conn, self.backend, &self.source, &tuples).await?;
        let counts = self.remove::<Commit>(keys).await?;
        let mut rollup = Rollup::default();
        let mut spans = Spans::default();
        for (commit, impact) in &scored {
            spans.widen(&commit.repository_id, commit.authored_at);
            commit.add_impact(&self.zone, -impact, &mut rollup);
        }
        self.rescore(spans, &HashMap::new(), rollup).await?;
        Ok(counts)
    }

    /// Rescores the commits of `spans` (`moved`: changed rows as they were stored) and applies
    /// what that moves, with `rollup`, to the rollups.
    async fn rescore(
        &mut self,
        spans: Spans,
        moved: &HashMap<(String, String), Commit>,
        mut rollup: Rollup,
    ) -> Result<(), MetricsError> {
        let scoring = Scoring { source: &self.source, zone: &self.zone, bots: &self.bots, moved, rebuilt: false };
        for (repository, span) in spans.0 {
            scoring.rescore(self.conn, &repository, span, &mut rollup).await?;
        }
        apply_rollup(self.conn, self.backend, &self.source, &rollup.into_changes()).await?;
        Ok(())
    }

    /// The pull requests each of `commits` (repository, sha) belongs to become exactly those
    /// `links` name for it.
    pub async fn commit_pull_requests(
        &mut self,
        commits: &[(String, String)],
        links: &[CommitPullRequest],
    ) -> Result<Counts, MetricsError> {
        let parents = commits.iter().map(Commit::key_values).collect();
        self.replace(&["repository_id", "sha"], parents, links).await
    }

    /// The sprint intervals of each of `issues` become exactly those `rows` name for it.
    pub async fn sprint_memberships(
        &mut self,
        issues: &[String],
        rows: &[SprintMembership],
    ) -> Result<Counts, MetricsError> {
        let parents = issues.iter().map(|i| vec![Sql::from(i)]).collect();
        self.replace(&["issue_id"], parents, rows).await
    }

    /// Takes the sprint's commitment (the issues in it at its start, with their points
    /// then) unless it was taken before: a commitment is written once and never changed.
    /// Returns whether this call took it.
    pub async fn commitment(&mut self, sprint: i64, items: &[CommitmentItem]) -> Result<bool, MetricsError> {
        let rows = items.iter().map(|i| (i.issue_id.as_str(), vec![Sql::OptReal(i.points)])).collect();
        self.snapshot(Snapshot::Commitment, sprint, rows).await
    }

    /// Takes the closed sprint's completion (the issues in it when it was completed, their
    /// points then and whether they were done) unless it was taken before; like a
    /// commitment, written once and never changed. Returns whether this call took it.
    pub async fn completion(&mut self, sprint: i64, items: &[CompletionItem]) -> Result<bool, MetricsError> {
        let rows = items
            .iter()
            .map(|i| (i.issue_id.as_str(), vec![Sql::OptReal(i.points), Sql::Int(i64::from(i.done))]))
            .collect();
        self.snapshot(Snapshot::Completion, sprint, rows).await
    }

    /// Writes the snapshot's marker and, when this call wrote it, its items: one row per
    /// issue (the first of repeated ids), `values` after the issue id in `kind`'s columns.
    async fn snapshot(
        &mut self,
        kind: Snapshot,
        sprint: i64,
        items: Vec<(&str, Vec<Sql>)>,
    ) -> Result<bool, MetricsError> {
        let taken = sqlx::query(&format!(
            "INSERT INTO {} (source_id, sprint_id, taken_at) VALUES ($1, $2, $3) \
             ON CONFLICT (source_id, sprint_id) DO NOTHING",
            kind.marker()
        ))
        .bind(&self.source)
        .bind(sprint)
        .bind(cairn_domain::now_ms())
        .execute(&mut *self.conn)
        .await?;
        if taken.rows_affected() == 0 {
            return Ok(false);
        }
        let columns = kind.columns();
        let mut seen = HashSet::new();
        let items: Vec<&(&str, Vec<Sql>)> = items.iter().filter(|(id, _)| seen.insert(*id)).collect();
        for chunk in items.chunks(per_statement(1 + columns.len())) {
            let mut values = vec![Sql::from(&self.source), Sql::Int(sprint)];
            let mut tuples = Vec::with_capacity(chunk.len());
            for (issue, row) in chunk {
                let first = values.len() + 1;
                let binds: Vec<String> = (first..=first + row.len()).map(|n| format!("${n}")).collect();
                tuples.push(format!("($1, $2, {})", binds.join(", ")));
                values.push(Sql::from(*issue));
                values.extend(row.iter().cloned());
            }
            let sql = format!(
                "INSERT INTO {} (source_id, sprint_id, issue_id, {}) VALUES {}",
                kind.items(),
                columns.join(", "),
                tuples.join(", ")
            );
            bind_all(sqlx::query(&sql), &values).execute(&mut *self.conn).await?;
        }
        Ok(true)
    }

    /// Whether the sprint's commitment was taken.
    pub async fn has_commitment(&mut self, sprint: i64) -> Result<bool, MetricsError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM metrics_sprint_snapshots WHERE source_id = $1 AND sprint_id = $2")
                .bind(&self.source)
                .bind(sprint)
                .fetch_one(&mut *self.conn)
                .await?;
        Ok(n > 0)
    }

    /// The shas of the repository's stored commits authored in `[since, until)`: what a
    /// reconcile compares with upstream.
    pub async fn commit_shas(&mut self, repository: &str, since: i64, until: i64) -> Result<Vec<String>, MetricsError> {
        Ok(sqlx::query_scalar(
            "SELECT sha FROM metrics_commits WHERE source_id = $1 AND repository_id = $2 \
             AND authored_at >= $3 AND authored_at < $4 ORDER BY sha",
        )
        .bind(&self.source)
        .bind(repository)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *self.conn)
        .await?)
    }

    /// The ids of the repository's stored comments of `kind` created in `[since, until)`.
    pub async fn comment_ids(
        &mut self,
        kind: CommentKind,
        repository: &str,
        since: i64,
        until: i64,
    ) -> Result<Vec<String>, MetricsError> {
        Ok(sqlx::query_scalar(
            "SELECT comment_id FROM metrics_comments WHERE source_id = $1 AND kind = $2 AND repository_id = $3 \
             AND created_at >= $4 AND created_at < $5 ORDER BY comment_id",
        )
        .bind(&self.source)
        .bind(kind.as_str())
        .bind(repository)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *self.conn)
        .await?)
    }

    /// The ids of the stored comments of `kind` on the repository's pull requests `numbers`.
    pub async fn pull_comment_ids(
        &mut self,
        kind: CommentKind,
        repository: &str,
        numbers: &[i64],
    ) -> Result<Vec<String>, MetricsError> {
        let mut found = Vec::new();
        for chunk in numbers.chunks(per_statement(1)) {
            let sql = format!(
                "SELECT comment_id FROM metrics_comments WHERE source_id = $1 AND kind = $2 AND repository_id = $3 \
                 AND {}",
                in_list(&["pr_number"], chunk.len(), 4)
            );
            let mut values = vec![Sql::from(&self.source), Sql::from(kind.as_str()), Sql::from(repository)];
            values.extend(chunk.iter().map(|n| Sql::Int(*n)));
            for row in bind_all(sqlx::query(&sql), &values).fetch_all(&mut *self.conn).await? {
                found.push(row.try_get::<String, _>(0)?);
            }
        }
        Ok(found)
    }

    /// The ids of the stored issues last updated at or after `since`.
    pub async fn issue_ids_updated_since(&mut self, since: i64) -> Result<Vec<String>, MetricsError> {
        Ok(sqlx::query_scalar(
            "SELECT issue_id FROM metrics_issues WHERE source_id = $1 AND updated_at >= $2 ORDER BY issue_id",
        )
        .bind(&self.source)
        .bind(since)
        .fetch_all(&mut *self.conn)
        .await?)
    }

    /// The ids of the stored worklogs of `issues`.
    pub async fn issue_worklog_ids(&mut self, issues: &[String]) -> Result<Vec<String>, MetricsError> {
        let mut found = Vec::new();
        for chunk in issues.chunks(per_statement(1)) {
            let sql = format!(
                "SELECT worklog_id FROM metrics_worklogs WHERE source_id = $1 AND {}",
                in_list(&["issue_id"], chunk.len(), 2)
            );
            let mut values = vec![Sql::from(&self.source)];
            values.extend(chunk.iter().map(Sql::from));
            for row in bind_all(sqlx::query(&sql), &values).fetch_all(&mut *self.conn).await? {
                found.push(row.try_get::<String, _>(0)?);
            }
        }
        Ok(found)
    }

    /// The ids of stored worklogs started in `[since, until)`.
    pub async fn worklog_ids(&mut self, since: i64, until: i64) -> Result<Vec<String>, MetricsError> {
        Ok(sqlx::query_scalar(
            "SELECT worklog_id FROM metrics_worklogs WHERE source_id = $1 AND started_at >= $2 AND started_at < $3 \
             ORDER BY worklog_id",
        )
        .bind(&self.source)
        .bind(since)
        .bind(until)
        .fetch_all(&mut *self.conn)
        .await?)
    }

    /// The numbers of the repository's pull requests stored as open: re-read until closed.
    pub async fn open_pull_requests(&mut self, repository: &str) -> Result<Vec<i64>, MetricsError> {
        Ok(sqlx::query_scalar(
            "SELECT number FROM metrics_pull_requests WHERE source_id = $1 AND repository_id = $2 AND state = 'open' \
             ORDER BY number",
        )
        .bind(&self.source)
        .bind(repository)
        .fetch_all(&mut *self.conn)
        .await?)
    }

    /// The authors of the repository's stored pull requests among `numbers` (a number
    /// absent from the answer is not a stored pull request: an issue, or one not read).
    pub async fn pull_request_authors(
        &mut self,
        repository: &str,
        numbers: &[i64],
    ) -> Result<HashMap<i64, Option<String>>, MetricsError> {
        let mut found = HashMap::with_capacity(numbers.len());
        for chunk in numbers.chunks(per_statement(1)) {
            let sql = format!(
                "SELECT number, author_login FROM metrics_pull_requests WHERE source_id = $1 AND repository_id = $2 AND {}",
                in_list(&["number"], chunk.len(), 3)
            );
            let mut values = vec![Sql::from(&self.source), Sql::from(repository)];
            values.extend(chunk.iter().map(|n| Sql::Int(*n)));
            for row in bind_all(sqlx::query(&sql), &values).fetch_all(&mut *self.conn).await? {
                found.insert(row.try_get::<i64, _>(0)?, row.try_get::<Option<String>, _>(1)?);
            }
        }
        Ok(found)
    }

    async fn upsert<T: Table>(&mut self, rows: &[T]) -> Result<Counts, MetricsError> {
        Ok(self.upsert_changes(rows).await?.0)
    }

    /// Upserts `rows`; what it did, and each new or changed row with the stored one it
    /// replaced.
    async fn upsert_changes<'r, T: Table>(
        &mut self,
        rows: &'r [T],
    ) -> Result<(Counts, Vec<(Option<T>, &'r T)>), MetricsError> {
        // The last of several rows with one key is the one that counts.
        let mut order: Vec<T::Key> = Vec::with_capacity(rows.len());
        let mut latest: HashMap<T::Key, &T> = HashMap::with_capacity(rows.len());
        for row in rows {
            let key = row.key();
            if latest.insert(key.clone(), row).is_none() {
                order.push(key);
            }
        }
        let tuples: Vec<Vec<Sql>> = order.iter().map(T::key_values).collect();
        let mut stored: HashMap<T::Key, T> = fetch::<T>(self.conn, self.backend, &self.source, T::KEY, &tuples)
            .await?
            .into_iter()
            .map(|r| (r.key(), r))
            .collect();
        let mut counts = Counts::default();
        let mut rollup = Rollup::default();
        let (mut fresh, mut changed): (Vec<&T>, Vec<&T>) = (Vec::new(), Vec::new());
        for key in &order {
            let row = latest[key];
            match stored.get(key) {
                None => {
                    counts.new += 1;
                    fresh.push(row);
                }
                Some(old) if old == row => counts.unchanged += 1,
                Some(old) => {
                    counts.changed += 1;
                    old.rollup(&self.zone, -1, &mut rollup);
                    changed.push(row);
                }
            }
        }
        for row in fresh.iter().chain(&changed) {
            row.rollup(&self.zone, 1, &mut rollup);
        }
        write(self.conn, &self.source, &fresh, false).await?;
        write(self.conn, &self.source, &changed, true).await?;
        apply_rollup(self.conn, self.backend, &self.source, &rollup.into_changes()).await?;
        let changes = fresh
            .into_iter()
            .map(|r| (None, r))
            .chain(changed.into_iter().map(|r| (stored.remove(&r.key()), r)))
            .collect();
        Ok((counts, changes))
    }

    async fn remove<T: Table>(&mut self, keys: &[T::Key]) -> Result<Counts, MetricsError> {
        let tuples: Vec<Vec<Sql>> = keys.iter().map(T::key_values).collect();
        let stored = fetch::<T>(self.conn, self.backend, &self.source, T::KEY, &tuples).await?;
        self.drop_rows(&stored).await
    }

    /// Deletes `stored` rows and takes what they added off the rollups.
    async fn drop_rows<T: Table>(&mut self, stored: &[T]) -> Result<Counts, MetricsError> {
        let mut rollup = Rollup::default();
        for row in stored {
            row.rollup(&self.zone, -1, &mut rollup);
        }
        let tuples: Vec<Vec<Sql>> = stored.iter().map(|r| T::key_values(&r.key())).collect();
        let rows = (T::TABLE, self.source.as_str());
        let removed = delete_where(self.conn, self.backend, rows, T::KEY, &tuples, "TRUE").await?;
        apply_rollup(self.conn, self.backend, &self.source, &rollup.into_changes()).await?;
        Ok(Counts { removed, ..Counts::default() })
    }

    /// The rows under `parents` (values of `cols`) become exactly `rows`.
    async fn replace<T: Table>(
        &mut self,
        cols: &[&str],
        parents: Vec<Vec<Sql>>,
        rows: &[T],
    ) -> Result<Counts, MetricsError> {
        let keep: HashSet<T::Key> = rows.iter().map(Table::key).collect();
        let stored = fetch::<T>(self.conn, self.backend, &self.source, cols, &parents).await?;
        let gone: Vec<T> = stored.into_iter().filter(|r| !keep.contains(&r.key())).collect();
        let mut counts = self.drop_rows(&gone).await?;
        counts.add(self.upsert(rows).await?);
        Ok(counts)
    }
}

/// The span of authored times, per repository, whose commits changed.
#[derive(Debug, Default)]
struct Spans(HashMap<String, (i64, i64)>);

impl Spans {
    fn widen(&mut self, repository: &str, at: i64) {
        let span = self.0.entry(repository.to_owned()).or_insert((at, at));
        *span = (span.0.min(at), span.1.max(at));
    }
}

/// How a source's commits are rescored ([`super::impact`]).
struct Scoring<'a> {
    source: &'a str,
    zone: &'a Zone,
    bots: &'a Bots,
    /// Rows a page changed, as they were stored: their stored impact comes off the day it
    /// was added to, which the change may have moved.
    moved: &'a HashMap<(String, String), Commit>,
    /// The rollups were rebuilt without impacts: each impact is added whole.
    rebuilt: bool,
}

impl Scoring<'_> {
    /// Rescores the commits of `repository` authored in `[lo, hi + 90 days)`, stores the
    /// impacts that changed and adds what they move to `rollup`.
    async fn rescore(
        &self,
        conn: &mut AnyConnection,
        repository: &str,
        (lo, hi): (i64, i64),
        rollup: &mut Rollup,
    ) -> Result<(), sqlx::Error> {
        let mut select: Vec<&str> = Commit::KEY.iter().chain(Commit::COLUMNS).copied().collect();
        select.push("impact");
        let sql = format!(
            "SELECT {} FROM metrics_commits WHERE source_id = $1 AND repository_id = $2 \
             AND authored_at > $3 AND authored_at < $4 ORDER BY authored_at, sha",
            select.join(", ")
        );
        let rows = sqlx::query(&sql)
            .bind(self.source)
            .bind(repository)
            .bind(lo.saturating_sub(impact::IMPACT_MS))
            .bind(hi.saturating_add(impact::IMPACT_MS))
            .fetch_all(&mut *conn)
            .await?;
        let mut commits = Vec::with_capacity(rows.len());
        for row in &rows {
            commits.push((Commit::read(row)?, row.try_get::<Option<i64>, _>(select.len() - 1)?));
        }
        let compared: Vec<usize> = (0..commits.len())
            .filter(|&i| {
                let c = &commits[i].0;
                let author = rollup::commit_author(c.author_login.as_deref(), c.author_email.as_deref());
                c.counted() && !author.is_some_and(|a| self.bots.contains(&a))
            })
            .collect();
        let sizes: Vec<(i64, f64)> = compared
            .iter()
            .map(|&i| {
                let c = &commits[i].0;
                (c.authored_at, impact::size(c.additions, c.deletions, c.changed_files))
            })
            .collect();
        let mut target = vec![None; commits.len()];
        for (i, units) in compared.into_iter().zip(impact::score(&sizes, lo)) {
            target[i] = units;
        }
        let mut updates = Vec::new();
        for ((commit, stored), new) in commits.iter().zip(target) {
            if commit.authored_at < lo {
                continue;
            }
            let (stored_units, new_units) = (stored.unwrap_or(0), new.unwrap_or(0));
            match self.moved.get(&commit.key()) {
                _ if self.rebuilt => commit.add_impact(self.zone, new_units, rollup),
                Some(old) => {
                    old.add_impact(self.zone, -stored_units, rollup);
                    commit.add_impact(self.zone, new_units, rollup);
                }
                None => commit.add_impact(self.zone, new_units - stored_units, rollup),
            }
            if new != *stored {
                updates.push((commit.sha.clone(), new));
            }
        }
        for chunk in updates.chunks(per_statement(2)) {
            let mut values = vec![Sql::from(self.source), Sql::from(repository)];
            let mut tuples = Vec::with_capacity(chunk.len());
            for (sha, units) in chunk {
                tuples.push(format!("(${}, ${})", values.len() + 1, values.len() + 2));
                values.push(Sql::from(sha.as_str()));
                values.push(Sql::OptInt(*units));
            }
            let sql = format!(
                "UPDATE metrics_commits SET impact = v.column2 FROM (VALUES {}) AS v \
                 WHERE metrics_commits.source_id = $1 AND metrics_commits.repository_id = $2 \
                 AND metrics_commits.sha = v.column1",
                tuples.join(", ")
            );
            bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// The stored commits of `source` with keys `tuples` that have an impact, with it.
async fn impacts_of(
    conn: &mut AnyConnection,
    backend: Backend,
    source: &str,
    tuples: &[Vec<Sql>],
) -> Result<Vec<(Commit, i64)>, sqlx::Error> {
    let mut select: Vec<&str> = Commit::KEY.iter().chain(Commit::COLUMNS).copied().collect();
    select.push("impact");
    let mut out = Vec::new();
    for chunk in tuples.chunks(per_statement(Commit::KEY.len())) {
        let sql = Matching { backend, table: Commit::TABLE, cols: Commit::KEY, tuples: chunk.len() }.select(&select);
        let mut values = vec![Sql::from(source)];
        values.extend(chunk.iter().flatten().cloned());
        for row in bind_all(sqlx::query(&sql), &values).fetch_all(&mut *conn).await? {
            if let Some(units) = row.try_get::<Option<i64>, _>(select.len() - 1)? {
                out.push((Commit::read(&row)?, units));
            }
        }
    }
    Ok(out)
}

/// Every row of `T` of `source`, added to `into`.
async fn sum_into<T: Table>(
    conn: &mut AnyConnection,
    source: &str,
    zone: &Zone,
    into: &mut Rollup,
) -> Result<(), sqlx::Error> {
    let select: Vec<&str> = T::KEY.iter().chain(T::COLUMNS).copied().collect();
    let sql = format!("SELECT {} FROM {} WHERE source_id = $1", select.join(", "), T::TABLE);
    let mut rows = sqlx::query(&sql).bind(source).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        T::read(&row)?.rollup(zone, 1, into);
    }
    Ok(())
}

/// The version of the rules rollups are built by: 1 added the changed files and impact.
pub(crate) const ROLLUPS_VERSION: i64 = 1;

/// The version of the rules the stored rollups were built by.
pub(crate) async fn rollups_version(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT rollups_version FROM metrics_settings WHERE id = 1").fetch_one(conn).await
}

/// Rebuilds every rollup from the collected rows, counting days in `zone`, with the same
/// rules the upserts follow (each row's [`Table::rollup`]), and rescores every commit's
/// impact with `bots` for the bots. Runs on the caller's
/// transaction, which must hold the settings row locked against pages (a change of
/// settings, or [`crate::Metrics::rebuild_rollups`]). Returns the rows written.
pub(crate) async fn rebuild_rollups(
    conn: &mut AnyConnection,
    backend: Backend,
    zone: &Zone,
    bots: &Bots,
) -> Result<u64, MetricsError> {
    sqlx::query("DELETE FROM metrics_person_days").execute(&mut *conn).await?;
    sqlx::query("UPDATE metrics_settings SET rollups_version = $1").bind(ROLLUPS_VERSION).execute(&mut *conn).await?;
    let sources: Vec<String> = sqlx::query_scalar(
        "SELECT source_id FROM metrics_commits UNION SELECT source_id FROM metrics_pull_requests \
         UNION SELECT source_id FROM metrics_reviews UNION SELECT source_id FROM metrics_comments \
         UNION SELECT source_id FROM metrics_worklogs",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut written = 0;
    for source in sources {
        let mut rollup = Rollup::default();
        sum_into::<Commit>(conn, &source, zone, &mut rollup).await?;
        sum_into::<PullRequest>(conn, &source, zone, &mut rollup).await?;
        sum_into::<Review>(conn, &source, zone, &mut rollup).await?;
        sum_into::<Comment>(conn, &source, zone, &mut rollup).await?;
        sum_into::<Worklog>(conn, &source, zone, &mut rollup).await?;
        let repositories: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT repository_id FROM metrics_commits WHERE source_id = $1")
                .bind(&source)
                .fetch_all(&mut *conn)
                .await?;
        let none = HashMap::new();
        let scoring = Scoring { source: &source, zone, bots, moved: &none, rebuilt: true };
        for repository in repositories {
            scoring.rescore(conn, &repository, (i64::MIN / 2, i64::MAX / 2), &mut rollup).await?;
        }
        written += apply_rollup(conn, backend, &source, &rollup.into_changes()).await?;
    }
    Ok(written)
}

/// A sprint's snapshot, taken once: its commitment at the start, its completion at the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Snapshot {
    Commitment,
    Completion,
}

impl Snapshot {
    /// The table of its markers: one row per sprint whose snapshot was taken.
    fn marker(self) -> &'static str {
        match self {
            Snapshot::Commitment => "metrics_sprint_snapshots",
            Snapshot::Completion => "metrics_sprint_completion_snapshots",
        }
    }

    /// The table of its issues.
    fn items(self) -> &'static str {
        match self {
            Snapshot::Commitment => "metrics_sprint_commitments",
            Snapshot::Completion => "metrics_sprint_completions",
        }
    }

    /// Its items' columns after the issue id.
    fn columns(self) -> &'static [&'static str] {
        match self {
            Snapshot::Commitment => &["points"],
            Snapshot::Completion => &["points", "done"],
        }
    }
}

/// The sprints of `source` whose `kind` snapshot was taken.
pub(crate) async fn snapshots_taken(
    conn: &mut AnyConnection,
    kind: Snapshot,
    source: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!("SELECT sprint_id FROM {} WHERE source_id = $1 ORDER BY sprint_id", kind.marker()))
        .bind(source)
        .fetch_all(conn)
        .await
}

/// The issues of `source` that were in `sprint` at some time, as their stored memberships say.
pub(crate) async fn sprint_member_issues(
    conn: &mut AnyConnection,
    source: &str,
    sprint: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT issue_id FROM metrics_sprint_issues WHERE source_id = $1 AND sprint_id = $2 ORDER BY issue_id",
    )
    .bind(source)
    .bind(sprint)
    .fetch_all(conn)
    .await
}

/// The stored rows of `T` of every source where any of `conditions` holds (each with its
/// values, bound from `$1`), each once. One statement per condition: an `OR` of subqueries
/// would keep the planner from each one's index.
pub(crate) async fn rows_where_any<T: Table>(
    conn: &mut AnyConnection,
    conditions: &[(&str, &[Sql])],
) -> Result<Vec<(String, T)>, sqlx::Error> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (condition, values) in conditions {
        for (source, row) in rows_where::<T>(conn, condition, values).await? {
            if seen.insert((source.clone(), row.key())) {
                out.push((source, row));
            }
        }
    }
    Ok(out)
}

/// The stored rows of `T` of every source where the SQL `condition` holds (its values bound
/// from `$1`), each with its source.
pub(crate) async fn rows_where<T: Table>(
    conn: &mut AnyConnection,
    condition: &str,
    values: &[Sql],
) -> Result<Vec<(String, T)>, sqlx::Error> {
    let select: Vec<&str> = T::KEY.iter().chain(T::COLUMNS).copied().collect();
    let sql = format!("SELECT {}, source_id FROM {} WHERE {condition}", select.join(", "), T::TABLE);
    let rows = bind_all(sqlx::query(&sql), values).fetch_all(conn).await?;
    rows.iter().map(|row| Ok((row.try_get(select.len())?, T::read(row)?))).collect()
}

/// Every sprint snapshot of `kind` taken: `(source, sprint, item)`, the item `None` for a
/// sprint whose snapshot held no issue. Each item is an issue id, its points, and (for a
/// completion) whether it was done.
async fn snapshots(
    conn: &mut AnyConnection,
    kind: Snapshot,
    sprints: Option<(i64, &[i64])>,
) -> Result<Vec<(String, i64, Option<(String, Option<f64>, bool)>)>, sqlx::Error> {
    let done = match kind {
        Snapshot::Commitment => "0",
        Snapshot::Completion => "c.done",
    };
    let mut values = Vec::new();
    let only = match sprints {
        None => String::new(),
        Some(sprints) => format!(" WHERE (s.source_id, s.sprint_id) IN ({})", board_sprints(&mut values, sprints)),
    };
    let sql = format!(
        "SELECT s.source_id, s.sprint_id, c.issue_id, c.points, {done} FROM {} s \
         LEFT JOIN {} c ON c.source_id = s.source_id AND c.sprint_id = s.sprint_id{only}",
        kind.marker(),
        kind.items()
    );
    let rows = bind_all(sqlx::query(&sql), &values).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let issue: Option<String> = r.try_get(2)?;
            let item = match issue {
                Some(id) => Some((id, r.try_get(3)?, r.try_get::<Option<i64>, _>(4)?.is_some_and(|d| d != 0))),
                None => None,
            };
            Ok((r.try_get(0)?, r.try_get(1)?, item))
        })
        .collect()
}

/// `SELECT source_id, sprint_id` of the sprints of board `board` (in any source) with the
/// ids `ids`, its values appended to `values`.
pub(crate) fn board_sprints(values: &mut Vec<Sql>, (board, ids): (i64, &[i64])) -> String {
    values.push(Sql::Int(board));
    let at = values.len();
    let ids = if ids.is_empty() {
        "NULL".to_owned()
    } else {
        let first = values.len() + 1;
        values.extend(ids.iter().map(|i| Sql::Int(*i)));
        (first..first + ids.len()).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
    };
    format!("SELECT source_id, sprint_id FROM metrics_sprints WHERE board_id = ${at} AND sprint_id IN ({ids})")
}

/// Every sprint commitment taken (of some of a board's sprints, when given: see
/// [`board_sprints`]): `(source, sprint, item)`, the item `None` for a sprint whose
/// commitment held no issue.
pub(crate) async fn commitments(
    conn: &mut AnyConnection,
    sprints: Option<(i64, &[i64])>,
) -> Result<Vec<(String, i64, Option<CommitmentItem>)>, sqlx::Error> {
    let rows = snapshots(conn, Snapshot::Commitment, sprints).await?;
    Ok(rows
        .into_iter()
        .map(|(source, sprint, item)| {
            (source, sprint, item.map(|(issue_id, points, _)| CommitmentItem { issue_id, points }))
        })
        .collect())
}

/// Every sprint completion taken (of some of a board's sprints, when given: see
/// [`board_sprints`]): `(source, sprint, item)`, the item `None` for a sprint whose
/// completion held no issue.
pub(crate) async fn completions(
    conn: &mut AnyConnection,
    sprints: Option<(i64, &[i64])>,
) -> Result<Vec<(String, i64, Option<CompletionItem>)>, sqlx::Error> {
    let rows = snapshots(conn, Snapshot::Completion, sprints).await?;
    Ok(rows
        .into_iter()
        .map(|(source, sprint, item)| {
            (source, sprint, item.map(|(issue_id, points, done)| CompletionItem { issue_id, points, done }))
        })
        .collect())
}

/// The stored rollups (of one source, or all), by source, person and day.
pub(crate) async fn person_days(conn: &mut AnyConnection, source: Option<&str>) -> Result<Vec<PersonDay>, sqlx::Error> {
    let sql = format!(
        "SELECT source_id, person_key, day, active, {} FROM metrics_person_days \
         WHERE ($1 = '' OR source_id = $1) ORDER BY source_id, person_key, day",
        FIGURES.join(", ")
    );
    let rows = sqlx::query(&sql).bind(source.unwrap_or("")).fetch_all(conn).await?;
    read_person_days(&rows)
}

/// Every source's pull requests merged in `[since, until)` (epoch ms): their times, the
/// author date of their earliest commit on the default branch, and the first successful
/// deployment of their repository at or after the merge.
pub(crate) async fn merged_pull_requests(
    conn: &mut AnyConnection,
    since: i64,
    until: i64,
    keys: Option<&[String]>,
) -> Result<Vec<crate::figures::cycle::MergedPull>, sqlx::Error> {
    let mut values = vec![Sql::Int(since), Sql::Int(until)];
    let only = match keys {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(keys) => format!(" AND 'gh:' || LOWER(p.author_login) IN ({})", binds(&mut values, keys)),
    };
    let sql = format!(
        "SELECT COALESCE(r.full_name, p.repository_id), p.number, p.author_login, p.created_at, \
         p.first_review_at, p.merged_at, \
         (SELECT MIN(c.authored_at) FROM metrics_commit_pull_requests l JOIN metrics_commits c \
            ON c.source_id = l.source_id AND c.repository_id = l.repository_id AND c.sha = l.sha \
          WHERE l.source_id = p.source_id AND l.repository_id = p.repository_id AND l.pr_number = p.number), \
         (SELECT MIN(d.created_at) FROM metrics_deployments d WHERE d.source_id = p.source_id \
            AND d.repository_id = p.repository_id AND d.status = 'success' AND d.created_at >= p.merged_at) \
         FROM metrics_pull_requests p LEFT JOIN metrics_repositories r \
           ON r.source_id = p.source_id AND r.repository_id = p.repository_id \
         WHERE p.state = 'merged' AND p.merged_at >= $1 AND p.merged_at < $2{only}"
    );
    let rows = bind_all(sqlx::query(&sql), &values).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let login: Option<String> = r.try_get(2)?;
            Ok(crate::figures::cycle::MergedPull {
                repository: r.try_get(0)?,
                number: r.try_get(1)?,
                author: super::rollup::github(login.as_deref()),
                created_at: r.try_get(3)?,
                first_review_at: r.try_get(4)?,
                merged_at: r.try_get::<Option<i64>, _>(5)?.unwrap_or_default(),
                first_commit_at: r.try_get(6)?,
                deployed_at: r.try_get(7)?,
            })
        })
        .collect()
}

/// Every source's counted commits (default branch, one parent) authored in `[since, until)`
/// (epoch ms), with their repository's name and whether a pull request has them: everyone's,
/// or those of the authors `keys` (person keys, lower case).
pub(crate) async fn counted_commits(
    conn: &mut AnyConnection,
    since: i64,
    until: i64,
    keys: Option<&[String]>,
) -> Result<Vec<crate::figures::commits::CountedCommit>, sqlx::Error> {
    let mut values = vec![Sql::Int(since), Sql::Int(until)];
    let only = match keys {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(keys) => format!(
            " AND (CASE WHEN c.author_login IS NOT NULL AND c.author_login <> '' THEN 'gh:' || LOWER(c.author_login) \
             ELSE 'email:' || LOWER(c.author_email) END) IN ({})",
            binds(&mut values, keys)
        ),
    };
    let sql = format!(
        "SELECT COALESCE(r.full_name, c.repository_id), c.sha, c.author_login, c.author_email, c.authored_at, \
         CASE WHEN EXISTS (SELECT 1 FROM metrics_commit_pull_requests l WHERE l.source_id = c.source_id \
           AND l.repository_id = c.repository_id AND l.sha = c.sha) THEN 1 ELSE 0 END \
         FROM metrics_commits c LEFT JOIN metrics_repositories r \
           ON r.source_id = c.source_id AND r.repository_id = c.repository_id \
         WHERE c.authored_at >= $1 AND c.authored_at < $2 AND c.on_default_branch = 1 AND c.parent_count = 1{only}"
    );
    let rows = bind_all(sqlx::query(&sql), &values).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let login: Option<String> = r.try_get(2)?;
            let email: Option<String> = r.try_get(3)?;
            Ok(crate::figures::commits::CountedCommit {
                repository: r.try_get(0)?,
                sha: r.try_get(1)?,
                author: super::rollup::commit_author(login.as_deref(), email.as_deref()),
                authored_at: r.try_get(4)?,
                linked: r.try_get::<i64, _>(5)? != 0,
            })
        })
        .collect()
}

/// Every source's active person-days of the days `[from, to)`, with their impact: `(person
/// key, day, impact)`.
pub(crate) async fn impact_days(
    conn: &mut AnyConnection,
    from: Day,
    to: Day,
) -> Result<Vec<(String, Day, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT person_key, day, impact FROM metrics_person_days WHERE day >= $1 AND day < $2 AND commits > 0",
    )
    .bind(from.number())
    .bind(to.number())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, Day::from_number(r.try_get(1)?), r.try_get(2)?))).collect()
}

/// Every source's rollups of the days `[from, to)`.
pub(crate) async fn person_days_between(
    conn: &mut AnyConnection,
    from: Day,
    to: Day,
    keys: Option<&[String]>,
) -> Result<Vec<PersonDay>, sqlx::Error> {
    let mut values = vec![Sql::Int(from.number()), Sql::Int(to.number())];
    let only = match keys {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(keys) => format!(" AND LOWER(person_key) IN ({})", binds(&mut values, keys)),
    };
    let sql = format!(
        "SELECT source_id, person_key, day, active, {} FROM metrics_person_days WHERE day >= $1 AND day < $2{only}",
        FIGURES.join(", ")
    );
    let rows = bind_all(sqlx::query(&sql), &values).fetch_all(conn).await?;
    read_person_days(&rows)
}

/// Appends `texts` to `values`; their placeholders, comma-separated.
pub(crate) fn binds(values: &mut Vec<Sql>, texts: &[String]) -> String {
    let first = values.len() + 1;
    values.extend(texts.iter().map(Sql::from));
    (first..first + texts.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

fn read_person_days(rows: &[sqlx::any::AnyRow]) -> Result<Vec<PersonDay>, sqlx::Error> {
    rows.iter()
        .map(|r| {
            let mut figures = [0i64; FIGURES.len()];
            for (i, f) in figures.iter_mut().enumerate() {
                *f = r.try_get(4 + i)?;
            }
            Ok(PersonDay {
                source_id: r.try_get(0)?,
                person_key: r.try_get(1)?,
                day: Day::from_number(r.try_get(2)?),
                active: r.try_get::<i64, _>(3)? != 0,
                figures: DayFigures::from_fields(figures),
            })
        })
        .collect()
}

/// What reached production in `[since, until)` (epoch ms), as DORA counts it: each
/// repository's successful deployments to an environment whose name starts with `prod`
/// (any case: `production`, `prod-eu`; not `preprod`); a repository without one in the range
/// counts its published releases (not drafts, not pre-releases) instead. By time.
pub(crate) async fn production_events(
    conn: &mut AnyConnection,
    since: i64,
    until: i64,
) -> Result<Vec<crate::figures::dora::Shipped>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT COALESCE(r.full_name, d.repository_id), d.source_id || ':' || d.deployment_id, d.created_at, 0 \
         FROM metrics_deployments d LEFT JOIN metrics_repositories r \
           ON r.source_id = d.source_id AND r.repository_id = d.repository_id \
         WHERE d.created_at >= $1 AND d.created_at < $2 AND d.status = 'success' \
           AND LOWER(d.environment) LIKE 'prod%' \
         UNION ALL \
         SELECT COALESCE(r.full_name, l.repository_id), l.source_id || ':' || l.release_id, l.published_at, 1 \
         FROM metrics_releases l LEFT JOIN metrics_repositories r \
           ON r.source_id = l.source_id AND r.repository_id = l.repository_id \
         WHERE l.published_at >= $1 AND l.published_at < $2 AND l.draft = 0 AND l.prerelease = 0",
    )
    .bind(since)
    .bind(until)
    .fetch_all(conn)
    .await?;
    let mut events: Vec<(crate::figures::dora::Shipped, bool)> = rows
        .iter()
        .map(|r| {
            let release: i64 = r.try_get(3)?;
            Ok((
                crate::figures::dora::Shipped { repository: r.try_get(0)?, id: r.try_get(1)?, at: r.try_get(2)? },
                release == 1,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    let deploying: HashSet<String> =
        events.iter().filter(|(_, release)| !release).map(|(e, _)| e.repository.clone()).collect();
    events.retain(|(e, release)| !release || !deploying.contains(&e.repository));
    let mut out: Vec<crate::figures::dora::Shipped> = events.into_iter().map(|(e, _)| e).collect();
    out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    Ok(out)
}

/// The Jira issues, not sub-tasks, created in `[since, until)` or resolved in
/// `[resolved_since, until)` (epoch ms): `(source, issue)`.
pub(crate) async fn issues_opened_or_resolved(
    conn: &mut AnyConnection,
    since: i64,
    resolved_since: i64,
    until: i64,
) -> Result<Vec<(String, Issue)>, sqlx::Error> {
    use crate::store::Sql;
    let bounds = [Sql::Int(since), Sql::Int(until), Sql::Int(resolved_since)];
    let condition = "is_subtask = 0 AND ((created_at >= $1 AND created_at < $2) \
                     OR (resolved_at >= $3 AND resolved_at < $2))";
    rows_where::<Issue>(conn, condition, &bounds).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matching(backend: Backend, cols: &'static [&'static str], tuples: usize) -> Matching<'static> {
        Matching { backend, table: "t", cols, tuples }
    }

    #[test]
    fn rows_are_named_by_one_column_or_a_row_of_them() {
        assert_eq!(
            matching(Backend::Sqlite, &["id"], 3).select(&["id", "v"]),
            "SELECT id, v FROM t WHERE source_id = $1 AND id IN ($2, $3, $4)"
        );
        assert_eq!(
            matching(Backend::Sqlite, &["a", "b"], 2).delete("TRUE"),
            "DELETE FROM t WHERE source_id = $1 AND (a, b) IN (VALUES ($2, $3), ($4, $5)) AND TRUE"
        );
        assert_eq!(
            matching(Backend::Postgres, &["a", "b"], 2).select(&["a", "v"]),
            "SELECT x.a, x.v FROM (VALUES ($2, $3), ($4, $5)) AS k(k0, k1) CROSS JOIN LATERAL \
             (SELECT t.a, t.v FROM t t WHERE t.source_id = $1 AND t.a = k.k0 AND t.b = k.k1 OFFSET 0) x"
        );
    }
}
