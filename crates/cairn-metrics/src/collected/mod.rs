//! What collectors gather: one type per table, keyed by the upstream id within a source,
//! and what each row adds to the daily rollups ([`rollup`]). A collector writes a page of
//! rows through a [`Page`], in its own transaction, with the rollups the rows change.

pub mod impact;
pub mod rollup;
pub(crate) mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hash;

use cairn_store::sqlx::{self, Row, any::AnyRow};

pub use rollup::{DayFigures, PersonDay};
pub use store::Page;

use crate::day::Zone;
use crate::store::Sql;
use rollup::Rollup;

/// What a page did to one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    pub removed: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.new += other.new;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.removed += other.removed;
    }

    /// Whether the page changed anything.
    pub fn touched(&self) -> bool {
        self.new + self.changed + self.removed > 0
    }
}

/// A GitHub repository (or a git source's one repository).
#[derive(Debug, Clone, PartialEq)]
pub struct Repository {
    /// GitHub's node id; for a git source, its path or URL.
    pub id: String,
    /// `owner/name`.
    pub full_name: String,
    pub default_branch: Option<String>,
    pub archived: bool,
}

/// A commit of a repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub repository_id: String,
    pub sha: String,
    /// The GitHub author's login; `None` when GitHub knows no account for the author email.
    pub author_login: Option<String>,
    pub author_email: Option<String>,
    /// The author date, not the committer date.
    pub authored_at: i64,
    pub additions: i64,
    pub deletions: i64,
    pub changed_files: i64,
    pub parent_count: i64,
    /// Reachable from the default branch's head.
    pub on_default_branch: bool,
}

impl Commit {
    /// Counted in activity: on the default branch with exactly one parent (merges are not).
    pub fn counted(&self) -> bool {
        self.on_default_branch && self.parent_count == 1
    }
}

/// A commit's association with a pull request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitPullRequest {
    pub repository_id: String,
    pub sha: String,
    pub pr_number: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrState {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    pub repository_id: String,
    pub number: i64,
    pub author_login: Option<String>,
    pub state: PrState,
    pub created_at: i64,
    pub merged_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub first_review_at: Option<i64>,
    pub additions: i64,
    pub deletions: i64,
    pub merge_commit_sha: Option<String>,
    /// Upstream's `updated_at`.
    pub updated_at: i64,
}

/// A submitted pull-request review.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: String,
    pub repository_id: String,
    pub pr_number: i64,
    pub author_login: Option<String>,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub state: String,
    pub submitted_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommentKind {
    /// On a pull request's diff (`pulls/comments`), replies included.
    Review,
    /// On a pull request's conversation (`issues/comments` of a pull request).
    Conversation,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub kind: CommentKind,
    pub id: String,
    pub repository_id: String,
    pub pr_number: i64,
    pub author_login: Option<String>,
    /// The pull request's author: a comment by them is "on own".
    pub pr_author_login: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Comment {
    /// Written by the pull request's author.
    pub fn on_own(&self) -> bool {
        match (&self.author_login, &self.pr_author_login) {
            (Some(a), Some(p)) => a.eq_ignore_ascii_case(p),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: String,
    pub repository_id: String,
    pub environment: String,
    pub sha: String,
    pub git_ref: Option<String>,
    pub created_at: i64,
    /// The latest status (`success`, `failure`, `error`, `inactive`, …).
    pub status: Option<String>,
    pub status_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: String,
    pub repository_id: String,
    pub tag_name: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub published_at: Option<i64>,
    pub draft: bool,
    pub prerelease: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    pub id: i64,
    pub name: String,
    /// `scrum`, `kanban`, `simple`.
    pub kind: String,
    pub project_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SprintState {
    Future,
    Active,
    Closed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sprint {
    pub id: i64,
    pub board_id: i64,
    pub name: String,
    pub state: SprintState,
    pub start_at: Option<i64>,
    pub end_at: Option<i64>,
    pub complete_at: Option<i64>,
}

/// An issue in a sprint over `[added_at, removed_at)`, from the issue's changelog.
#[derive(Debug, Clone, PartialEq)]
pub struct SprintMembership {
    pub sprint_id: i64,
    pub issue_id: String,
    pub added_at: i64,
    pub removed_at: Option<i64>,
}

/// An issue's intervals in each sprint, from its Sprint field's history: `changes` (oldest
/// first) are when the field changed and the value each change replaced, so the value over
/// `[created, c₀)`, `[c₀, c₁)`, …, `[cₙ, ∞)` is what each change replaced, and `current` last.
pub(crate) fn sprint_intervals(
    issue_id: &str,
    created: i64,
    current: &BTreeSet<i64>,
    changes: &[(i64, BTreeSet<i64>)],
) -> Vec<SprintMembership> {
    let mut segments: Vec<(i64, &BTreeSet<i64>)> = Vec::with_capacity(changes.len() + 1);
    let mut start = created;
    for (at, replaced) in changes {
        segments.push((start, replaced));
        start = start.max(*at);
    }
    segments.push((start, current));
    let mut open: BTreeMap<i64, i64> = BTreeMap::new();
    let mut out = Vec::new();
    for (at, sprints) in segments {
        let left: Vec<i64> = open.keys().filter(|s| !sprints.contains(s)).copied().collect();
        for sprint in left {
            let added_at = open.remove(&sprint).unwrap_or(at);
            if added_at < at {
                out.push(SprintMembership {
                    sprint_id: sprint,
                    issue_id: issue_id.to_owned(),
                    added_at,
                    removed_at: Some(at),
                });
            }
        }
        for sprint in sprints {
            open.entry(*sprint).or_insert(at);
        }
    }
    out.extend(open.into_iter().map(|(sprint, added_at)| SprintMembership {
        sprint_id: sprint,
        issue_id: issue_id.to_owned(),
        added_at,
        removed_at: None,
    }));
    out
}

/// One issue of a sprint's commitment: in the sprint at its start, with its points then.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitmentItem {
    pub issue_id: String,
    pub points: Option<f64>,
}

/// One issue of a closed sprint's completion: in the sprint when it was completed, with its
/// points then and whether its status was done then.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionItem {
    pub issue_id: String,
    pub points: Option<f64>,
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCategory {
    New,
    Indeterminate,
    Done,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: String,
    pub key: String,
    pub project_key: String,
    pub issue_type: String,
    pub is_subtask: bool,
    pub status: String,
    pub status_category: StatusCategory,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub points: Option<f64>,
    pub original_estimate_seconds: Option<i64>,
    pub time_spent_seconds: Option<i64>,
    pub assignee_account_id: Option<String>,
    pub parent_id: Option<String>,
    pub updated_at: i64,
    /// As Jira orders them.
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Worklog {
    pub id: String,
    pub issue_id: String,
    pub author_account_id: Option<String>,
    pub started_at: i64,
    pub seconds: i64,
    pub updated_at: i64,
}

macro_rules! names {
    ($t:ty { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)+ _ => None }
            }
        }

        impl Column for $t {
            fn sql(&self) -> Sql {
                Sql::from(self.as_str())
            }

            fn take(c: &mut Columns<'_>) -> Result<Self, sqlx::Error> {
                let text: String = c.next()?;
                Self::parse(&text).ok_or_else(|| sqlx::Error::Decode(format!("unknown value {text:?}").into()))
            }
        }
    };
}

names!(PrState { Open = "open", Closed = "closed", Merged = "merged" });
names!(CommentKind { Review = "review", Conversation = "conversation" });
names!(SprintState { Future = "future", Active = "active", Closed = "closed" });
names!(StatusCategory { New = "new", Indeterminate = "indeterminate", Done = "done" });

/// Reads a row's columns in order.
pub(crate) struct Columns<'r> {
    row: &'r AnyRow,
    at: usize,
}

impl<'r> Columns<'r> {
    fn next<T>(&mut self) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.at += 1;
        self.row.try_get(self.at - 1)
    }
}

/// A column's value in a collected row: how it is bound, and read back.
pub(crate) trait Column: Sized {
    fn sql(&self) -> Sql;
    fn take(c: &mut Columns<'_>) -> Result<Self, sqlx::Error>;
}

macro_rules! plain_columns {
    ($($t:ty),+) => {
        $(impl Column for $t {
            fn sql(&self) -> Sql {
                Sql::from(self.clone())
            }

            fn take(c: &mut Columns<'_>) -> Result<Self, sqlx::Error> {
                c.next()
            }
        })+
    };
}

plain_columns!(String, Option<String>, i64, Option<i64>, Option<f64>);

/// A list of texts, stored as a JSON list.
impl Column for Vec<String> {
    fn sql(&self) -> Sql {
        Sql::from(serde_json::to_string(self).unwrap_or_else(|_| "[]".into()))
    }

    fn take(c: &mut Columns<'_>) -> Result<Self, sqlx::Error> {
        crate::store::decode_json(&c.next::<String>()?)
    }
}

/// A flag, stored as 0 or 1.
impl Column for bool {
    fn sql(&self) -> Sql {
        Sql::from(*self)
    }

    fn take(c: &mut Columns<'_>) -> Result<Self, sqlx::Error> {
        Ok(c.next::<i64>()? != 0)
    }
}

/// A table of collected rows: its columns (after `source_id`), the key among them, and what
/// a row adds to the rollups.
pub(crate) trait Table: Clone + PartialEq + Send + Sync {
    type Key: Clone + Eq + Hash + Send + Sync;
    const TABLE: &'static str;
    /// The key columns, then the others.
    const KEY: &'static [&'static str];
    const COLUMNS: &'static [&'static str];
    fn key(&self) -> Self::Key;
    fn key_values(key: &Self::Key) -> Vec<Sql>;
    /// The values of `COLUMNS`, in order.
    fn values(&self) -> Vec<Sql>;
    /// A row selected as `KEY, COLUMNS`.
    fn read(row: &AnyRow) -> Result<Self, sqlx::Error>;
    /// Adds `sign` × what the row counts to `into`.
    fn rollup(&self, _zone: &Zone, _sign: i64, _into: &mut Rollup) {}
}

/// A row type's table: which field is which column, the key first (one field, or a tuple
/// of them), and the function that says what a row adds to the rollups, if anything.
macro_rules! table {
    ($row:ident in $table:literal {
        key: ($($kf:ident: $kt:ty = $kc:literal),+),
        columns: [$($f:ident = $c:literal),* $(,)?],
        $(rollup: $rollup:path,)?
    }) => {
        // A key of one field is that field, not a tuple.
        #[allow(unused_parens)]
        impl Table for $row {
            type Key = ($($kt),+);
            const TABLE: &'static str = $table;
            const KEY: &'static [&'static str] = &[$($kc),+];
            const COLUMNS: &'static [&'static str] = &[$($c),*];

            fn key(&self) -> Self::Key {
                ($(self.$kf.clone()),+)
            }

            fn key_values(key: &Self::Key) -> Vec<Sql> {
                let ($($kf),+) = key;
                vec![$($kf.sql()),+]
            }

            fn values(&self) -> Vec<Sql> {
                vec![$(self.$f.sql()),*]
            }

            fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
                let mut c = Columns { row, at: 0 };
                Ok($row { $($kf: Column::take(&mut c)?,)+ $($f: Column::take(&mut c)?,)* })
            }

            $(fn rollup(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
                $rollup(self, zone, sign, into)
            })?
        }
    };
}

table!(Repository in "metrics_repositories" {
    key: (id: String = "repository_id"),
    columns: [full_name = "full_name", default_branch = "default_branch", archived = "archived"],
});

table!(Commit in "metrics_commits" {
    key: (repository_id: String = "repository_id", sha: String = "sha"),
    columns: [
        author_login = "author_login",
        author_email = "author_email",
        authored_at = "authored_at",
        additions = "additions",
        deletions = "deletions",
        changed_files = "changed_files",
        parent_count = "parent_count",
        on_default_branch = "on_default_branch",
    ],
    rollup: Commit::count,
});

table!(CommitPullRequest in "metrics_commit_pull_requests" {
    key: (repository_id: String = "repository_id", sha: String = "sha", pr_number: i64 = "pr_number"),
    columns: [],
});

table!(PullRequest in "metrics_pull_requests" {
    key: (repository_id: String = "repository_id", number: i64 = "number"),
    columns: [
        author_login = "author_login",
        state = "state",
        created_at = "created_at",
        merged_at = "merged_at",
        closed_at = "closed_at",
        first_review_at = "first_review_at",
        additions = "additions",
        deletions = "deletions",
        merge_commit_sha = "merge_commit_sha",
        updated_at = "updated_at",
    ],
    rollup: PullRequest::count,
});

table!(Review in "metrics_reviews" {
    key: (id: String = "review_id"),
    columns: [
        repository_id = "repository_id",
        pr_number = "pr_number",
        author_login = "author_login",
        state = "state",
        submitted_at = "submitted_at",
    ],
    rollup: Review::count,
});

table!(Comment in "metrics_comments" {
    key: (kind: CommentKind = "kind", id: String = "comment_id"),
    columns: [
        repository_id = "repository_id",
        pr_number = "pr_number",
        author_login = "author_login",
        pr_author_login = "pr_author_login",
        created_at = "created_at",
        updated_at = "updated_at",
    ],
    rollup: Comment::count,
});

table!(Deployment in "metrics_deployments" {
    key: (id: String = "deployment_id"),
    columns: [
        repository_id = "repository_id",
        environment = "environment",
        sha = "sha",
        git_ref = "git_ref",
        created_at = "created_at",
        status = "status",
        status_at = "status_at",
    ],
});

table!(Release in "metrics_releases" {
    key: (id: String = "release_id"),
    columns: [
        repository_id = "repository_id",
        tag_name = "tag_name",
        name = "name",
        created_at = "created_at",
        published_at = "published_at",
        draft = "draft",
        prerelease = "prerelease",
    ],
});

table!(Board in "metrics_boards" {
    key: (id: i64 = "board_id"),
    columns: [name = "name", kind = "kind", project_key = "project_key"],
});

table!(Sprint in "metrics_sprints" {
    key: (id: i64 = "sprint_id"),
    columns: [
        board_id = "board_id",
        name = "name",
        state = "state",
        start_at = "start_at",
        end_at = "end_at",
        complete_at = "complete_at",
    ],
});

table!(SprintMembership in "metrics_sprint_issues" {
    key: (sprint_id: i64 = "sprint_id", issue_id: String = "issue_id", added_at: i64 = "added_at"),
    columns: [removed_at = "removed_at"],
});

table!(Issue in "metrics_issues" {
    key: (id: String = "issue_id"),
    columns: [
        key = "issue_key",
        project_key = "project_key",
        issue_type = "issue_type",
        is_subtask = "is_subtask",
        status = "status",
        status_category = "status_category",
        created_at = "created_at",
        resolved_at = "resolved_at",
        points = "points",
        original_estimate_seconds = "original_estimate_seconds",
        time_spent_seconds = "time_spent_seconds",
        assignee_account_id = "assignee_account_id",
        parent_id = "parent_id",
        updated_at = "updated_at",
        labels = "labels",
    ],
});

table!(Worklog in "metrics_worklogs" {
    key: (id: String = "worklog_id"),
    columns: [
        issue_id = "issue_id",
        author_account_id = "author_account_id",
        started_at = "started_at",
        seconds = "seconds",
        updated_at = "updated_at",
    ],
    rollup: Worklog::count,
});

// What each row adds to its author's day.

impl Commit {
    fn count(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        if !self.counted() {
            return;
        }
        let Some(person) = rollup::commit_author(self.author_login.as_deref(), self.author_email.as_deref()) else {
            return;
        };
        let figures = DayFigures {
            commits: 1,
            additions: self.additions,
            deletions: self.deletions,
            changed_files: self.changed_files,
            ..DayFigures::ZERO
        };
        into.add(person, zone.day(self.authored_at), sign, figures);
    }

    /// Adds `units` of impact to its author's day.
    pub(crate) fn add_impact(&self, zone: &Zone, units: i64, into: &mut Rollup) {
        if units == 0 {
            return;
        }
        if let Some(person) = rollup::commit_author(self.author_login.as_deref(), self.author_email.as_deref()) {
            into.add(person, zone.day(self.authored_at), 1, DayFigures { impact: units, ..DayFigures::ZERO });
        }
    }
}

impl PullRequest {
    fn count(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        let Some(person) = rollup::github(self.author_login.as_deref()) else { return };
        into.add(person.clone(), zone.day(self.created_at), sign, DayFigures { prs_opened: 1, ..DayFigures::ZERO });
        if let Some(merged) = self.merged_at {
            into.add(person, zone.day(merged), sign, DayFigures { prs_merged: 1, ..DayFigures::ZERO });
        }
    }
}

impl Review {
    fn count(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        if let Some(person) = rollup::github(self.author_login.as_deref()) {
            into.add(person, zone.day(self.submitted_at), sign, DayFigures { reviews: 1, ..DayFigures::ZERO });
        }
    }
}

impl Comment {
    fn count(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        let Some(person) = rollup::github(self.author_login.as_deref()) else { return };
        let figures = if self.on_own() {
            DayFigures { comments_on_own: 1, ..DayFigures::ZERO }
        } else {
            DayFigures { comments_on_others: 1, ..DayFigures::ZERO }
        };
        into.add(person, zone.day(self.created_at), sign, figures);
    }
}

impl Worklog {
    fn count(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        if let Some(person) = rollup::jira(self.author_account_id.as_deref()) {
            let figures = DayFigures { worklog_seconds: self.seconds, ..DayFigures::ZERO };
            into.add(person, zone.day(self.started_at), sign, figures);
        }
    }
}
