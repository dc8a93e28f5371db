//! What collectors gather: one type per table, keyed by the upstream id within a source,
//! and what each row adds to the daily rollups ([`rollup`]). A collector writes a page of
//! rows through a [`Page`], in its own transaction, with the rollups the rows change.

pub mod rollup;
pub(crate) mod store;

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

/// One issue of a sprint's commitment: in the sprint at its start, with its points then.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitmentItem {
    pub issue_id: String,
    pub points: Option<f64>,
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
    };
}

names!(PrState { Open = "open", Closed = "closed", Merged = "merged" });
names!(CommentKind { Review = "review", Conversation = "conversation" });
names!(SprintState { Future = "future", Active = "active", Closed = "closed" });
names!(StatusCategory { New = "new", Indeterminate = "indeterminate", Done = "done" });

/// Reads a row's columns in order.
struct Columns<'r> {
    row: &'r AnyRow,
    at: usize,
}

impl<'r> Columns<'r> {
    fn new(row: &'r AnyRow) -> Self {
        Columns { row, at: 0 }
    }

    fn next<T>(&mut self) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.at += 1;
        self.row.try_get(self.at - 1)
    }

    fn flag(&mut self) -> Result<bool, sqlx::Error> {
        Ok(self.next::<i64>()? != 0)
    }

    fn named<E>(&mut self, parse: fn(&str) -> Option<E>) -> Result<E, sqlx::Error> {
        let text: String = self.next()?;
        parse(&text).ok_or_else(|| sqlx::Error::Decode(format!("unknown value {text:?}").into()))
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

impl Table for Repository {
    type Key = String;
    const TABLE: &'static str = "metrics_repositories";
    const KEY: &'static [&'static str] = &["repository_id"];
    const COLUMNS: &'static [&'static str] = &["full_name", "default_branch", "archived"];

    fn key(&self) -> String {
        self.id.clone()
    }

    fn key_values(key: &String) -> Vec<Sql> {
        vec![key.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![(&self.full_name).into(), (&self.default_branch).into(), self.archived.into()]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Repository { id: c.next()?, full_name: c.next()?, default_branch: c.next()?, archived: c.flag()? })
    }
}

impl Table for Commit {
    type Key = (String, String);
    const TABLE: &'static str = "metrics_commits";
    const KEY: &'static [&'static str] = &["repository_id", "sha"];
    const COLUMNS: &'static [&'static str] = &[
        "author_login",
        "author_email",
        "authored_at",
        "additions",
        "deletions",
        "changed_files",
        "parent_count",
        "on_default_branch",
    ];

    fn key(&self) -> Self::Key {
        (self.repository_id.clone(), self.sha.clone())
    }

    fn key_values(key: &Self::Key) -> Vec<Sql> {
        vec![(&key.0).into(), (&key.1).into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.author_login).into(),
            (&self.author_email).into(),
            self.authored_at.into(),
            self.additions.into(),
            self.deletions.into(),
            self.changed_files.into(),
            self.parent_count.into(),
            self.on_default_branch.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Commit {
            repository_id: c.next()?,
            sha: c.next()?,
            author_login: c.next()?,
            author_email: c.next()?,
            authored_at: c.next()?,
            additions: c.next()?,
            deletions: c.next()?,
            changed_files: c.next()?,
            parent_count: c.next()?,
            on_default_branch: c.flag()?,
        })
    }

    fn rollup(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        if !self.counted() {
            return;
        }
        let Some(person) = rollup::commit_author(self.author_login.as_deref(), self.author_email.as_deref()) else {
            return;
        };
        let figures =
            DayFigures { commits: 1, additions: self.additions, deletions: self.deletions, ..DayFigures::ZERO };
        into.add(person, zone.day(self.authored_at), sign, figures);
    }
}

impl Table for CommitPullRequest {
    type Key = (String, String, i64);
    const TABLE: &'static str = "metrics_commit_pull_requests";
    const KEY: &'static [&'static str] = &["repository_id", "sha", "pr_number"];
    const COLUMNS: &'static [&'static str] = &[];

    fn key(&self) -> Self::Key {
        (self.repository_id.clone(), self.sha.clone(), self.pr_number)
    }

    fn key_values(key: &Self::Key) -> Vec<Sql> {
        vec![(&key.0).into(), (&key.1).into(), key.2.into()]
    }

    fn values(&self) -> Vec<Sql> {
        Vec::new()
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(CommitPullRequest { repository_id: c.next()?, sha: c.next()?, pr_number: c.next()? })
    }
}

impl Table for PullRequest {
    type Key = (String, i64);
    const TABLE: &'static str = "metrics_pull_requests";
    const KEY: &'static [&'static str] = &["repository_id", "number"];
    const COLUMNS: &'static [&'static str] = &[
        "author_login",
        "state",
        "created_at",
        "merged_at",
        "closed_at",
        "first_review_at",
        "additions",
        "deletions",
        "merge_commit_sha",
        "updated_at",
    ];

    fn key(&self) -> Self::Key {
        (self.repository_id.clone(), self.number)
    }

    fn key_values(key: &Self::Key) -> Vec<Sql> {
        vec![(&key.0).into(), key.1.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.author_login).into(),
            self.state.as_str().into(),
            self.created_at.into(),
            self.merged_at.into(),
            self.closed_at.into(),
            self.first_review_at.into(),
            self.additions.into(),
            self.deletions.into(),
            (&self.merge_commit_sha).into(),
            self.updated_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(PullRequest {
            repository_id: c.next()?,
            number: c.next()?,
            author_login: c.next()?,
            state: c.named(PrState::parse)?,
            created_at: c.next()?,
            merged_at: c.next()?,
            closed_at: c.next()?,
            first_review_at: c.next()?,
            additions: c.next()?,
            deletions: c.next()?,
            merge_commit_sha: c.next()?,
            updated_at: c.next()?,
        })
    }

    fn rollup(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        let Some(person) = rollup::github(self.author_login.as_deref()) else { return };
        into.add(person.clone(), zone.day(self.created_at), sign, DayFigures { prs_opened: 1, ..DayFigures::ZERO });
        if let Some(merged) = self.merged_at {
            into.add(person, zone.day(merged), sign, DayFigures { prs_merged: 1, ..DayFigures::ZERO });
        }
    }
}

impl Table for Review {
    type Key = String;
    const TABLE: &'static str = "metrics_reviews";
    const KEY: &'static [&'static str] = &["review_id"];
    const COLUMNS: &'static [&'static str] = &["repository_id", "pr_number", "author_login", "state", "submitted_at"];

    fn key(&self) -> String {
        self.id.clone()
    }

    fn key_values(key: &String) -> Vec<Sql> {
        vec![key.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.repository_id).into(),
            self.pr_number.into(),
            (&self.author_login).into(),
            (&self.state).into(),
            self.submitted_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Review {
            id: c.next()?,
            repository_id: c.next()?,
            pr_number: c.next()?,
            author_login: c.next()?,
            state: c.next()?,
            submitted_at: c.next()?,
        })
    }

    fn rollup(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        if let Some(person) = rollup::github(self.author_login.as_deref()) {
            into.add(person, zone.day(self.submitted_at), sign, DayFigures { reviews: 1, ..DayFigures::ZERO });
        }
    }
}

impl Table for Comment {
    type Key = (CommentKind, String);
    const TABLE: &'static str = "metrics_comments";
    const KEY: &'static [&'static str] = &["kind", "comment_id"];
    const COLUMNS: &'static [&'static str] =
        &["repository_id", "pr_number", "author_login", "pr_author_login", "created_at", "updated_at"];

    fn key(&self) -> Self::Key {
        (self.kind, self.id.clone())
    }

    fn key_values(key: &Self::Key) -> Vec<Sql> {
        vec![key.0.as_str().into(), (&key.1).into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.repository_id).into(),
            self.pr_number.into(),
            (&self.author_login).into(),
            (&self.pr_author_login).into(),
            self.created_at.into(),
            self.updated_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Comment {
            kind: c.named(CommentKind::parse)?,
            id: c.next()?,
            repository_id: c.next()?,
            pr_number: c.next()?,
            author_login: c.next()?,
            pr_author_login: c.next()?,
            created_at: c.next()?,
            updated_at: c.next()?,
        })
    }

    fn rollup(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        let Some(person) = rollup::github(self.author_login.as_deref()) else { return };
        let figures = if self.on_own() {
            DayFigures { comments_on_own: 1, ..DayFigures::ZERO }
        } else {
            DayFigures { comments_on_others: 1, ..DayFigures::ZERO }
        };
        into.add(person, zone.day(self.created_at), sign, figures);
    }
}

impl Table for Deployment {
    type Key = String;
    const TABLE: &'static str = "metrics_deployments";
    const KEY: &'static [&'static str] = &["deployment_id"];
    const COLUMNS: &'static [&'static str] =
        &["repository_id", "environment", "sha", "git_ref", "created_at", "status", "status_at"];

    fn key(&self) -> String {
        self.id.clone()
    }

    fn key_values(key: &String) -> Vec<Sql> {
        vec![key.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.repository_id).into(),
            (&self.environment).into(),
            (&self.sha).into(),
            (&self.git_ref).into(),
            self.created_at.into(),
            (&self.status).into(),
            self.status_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Deployment {
            id: c.next()?,
            repository_id: c.next()?,
            environment: c.next()?,
            sha: c.next()?,
            git_ref: c.next()?,
            created_at: c.next()?,
            status: c.next()?,
            status_at: c.next()?,
        })
    }
}

impl Table for Release {
    type Key = String;
    const TABLE: &'static str = "metrics_releases";
    const KEY: &'static [&'static str] = &["release_id"];
    const COLUMNS: &'static [&'static str] =
        &["repository_id", "tag_name", "name", "created_at", "published_at", "draft", "prerelease"];

    fn key(&self) -> String {
        self.id.clone()
    }

    fn key_values(key: &String) -> Vec<Sql> {
        vec![key.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.repository_id).into(),
            (&self.tag_name).into(),
            (&self.name).into(),
            self.created_at.into(),
            self.published_at.into(),
            self.draft.into(),
            self.prerelease.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Release {
            id: c.next()?,
            repository_id: c.next()?,
            tag_name: c.next()?,
            name: c.next()?,
            created_at: c.next()?,
            published_at: c.next()?,
            draft: c.flag()?,
            prerelease: c.flag()?,
        })
    }
}

impl Table for Board {
    type Key = i64;
    const TABLE: &'static str = "metrics_boards";
    const KEY: &'static [&'static str] = &["board_id"];
    const COLUMNS: &'static [&'static str] = &["name", "kind", "project_key"];

    fn key(&self) -> i64 {
        self.id
    }

    fn key_values(key: &i64) -> Vec<Sql> {
        vec![(*key).into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![(&self.name).into(), (&self.kind).into(), (&self.project_key).into()]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Board { id: c.next()?, name: c.next()?, kind: c.next()?, project_key: c.next()? })
    }
}

impl Table for Sprint {
    type Key = i64;
    const TABLE: &'static str = "metrics_sprints";
    const KEY: &'static [&'static str] = &["sprint_id"];
    const COLUMNS: &'static [&'static str] = &["board_id", "name", "state", "start_at", "end_at", "complete_at"];

    fn key(&self) -> i64 {
        self.id
    }

    fn key_values(key: &i64) -> Vec<Sql> {
        vec![(*key).into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            self.board_id.into(),
            (&self.name).into(),
            self.state.as_str().into(),
            self.start_at.into(),
            self.end_at.into(),
            self.complete_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Sprint {
            id: c.next()?,
            board_id: c.next()?,
            name: c.next()?,
            state: c.named(SprintState::parse)?,
            start_at: c.next()?,
            end_at: c.next()?,
            complete_at: c.next()?,
        })
    }
}

impl Table for SprintMembership {
    type Key = (i64, String, i64);
    const TABLE: &'static str = "metrics_sprint_issues";
    const KEY: &'static [&'static str] = &["sprint_id", "issue_id", "added_at"];
    const COLUMNS: &'static [&'static str] = &["removed_at"];

    fn key(&self) -> Self::Key {
        (self.sprint_id, self.issue_id.clone(), self.added_at)
    }

    fn key_values(key: &Self::Key) -> Vec<Sql> {
        vec![key.0.into(), (&key.1).into(), key.2.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![self.removed_at.into()]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(SprintMembership { sprint_id: c.next()?, issue_id: c.next()?, added_at: c.next()?, removed_at: c.next()? })
    }
}

impl Table for Issue {
    type Key = String;
    const TABLE: &'static str = "metrics_issues";
    const KEY: &'static [&'static str] = &["issue_id"];
    const COLUMNS: &'static [&'static str] = &[
        "issue_key",
        "project_key",
        "issue_type",
        "is_subtask",
        "status",
        "status_category",
        "created_at",
        "resolved_at",
        "points",
        "original_estimate_seconds",
        "time_spent_seconds",
        "assignee_account_id",
        "parent_id",
        "updated_at",
    ];

    fn key(&self) -> String {
        self.id.clone()
    }

    fn key_values(key: &String) -> Vec<Sql> {
        vec![key.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.key).into(),
            (&self.project_key).into(),
            (&self.issue_type).into(),
            self.is_subtask.into(),
            (&self.status).into(),
            self.status_category.as_str().into(),
            self.created_at.into(),
            self.resolved_at.into(),
            self.points.into(),
            self.original_estimate_seconds.into(),
            self.time_spent_seconds.into(),
            (&self.assignee_account_id).into(),
            (&self.parent_id).into(),
            self.updated_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Issue {
            id: c.next()?,
            key: c.next()?,
            project_key: c.next()?,
            issue_type: c.next()?,
            is_subtask: c.flag()?,
            status: c.next()?,
            status_category: c.named(StatusCategory::parse)?,
            created_at: c.next()?,
            resolved_at: c.next()?,
            points: c.next()?,
            original_estimate_seconds: c.next()?,
            time_spent_seconds: c.next()?,
            assignee_account_id: c.next()?,
            parent_id: c.next()?,
            updated_at: c.next()?,
        })
    }
}

impl Table for Worklog {
    type Key = String;
    const TABLE: &'static str = "metrics_worklogs";
    const KEY: &'static [&'static str] = &["worklog_id"];
    const COLUMNS: &'static [&'static str] = &["issue_id", "author_account_id", "started_at", "seconds", "updated_at"];

    fn key(&self) -> String {
        self.id.clone()
    }

    fn key_values(key: &String) -> Vec<Sql> {
        vec![key.into()]
    }

    fn values(&self) -> Vec<Sql> {
        vec![
            (&self.issue_id).into(),
            (&self.author_account_id).into(),
            self.started_at.into(),
            self.seconds.into(),
            self.updated_at.into(),
        ]
    }

    fn read(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let mut c = Columns::new(row);
        Ok(Worklog {
            id: c.next()?,
            issue_id: c.next()?,
            author_account_id: c.next()?,
            started_at: c.next()?,
            seconds: c.next()?,
            updated_at: c.next()?,
        })
    }

    fn rollup(&self, zone: &Zone, sign: i64, into: &mut Rollup) {
        if let Some(person) = rollup::jira(self.author_account_id.as_deref()) {
            let figures = DayFigures { worklog_seconds: self.seconds, ..DayFigures::ZERO };
            into.add(person, zone.day(self.started_at), sign, figures);
        }
    }
}
