//! Walking a branch's history in pages.

use std::collections::HashSet;
use std::time::Duration;

use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

use crate::diff::Differ;
use crate::{GitError, Repository, Sha};

/// How far back, in commit time, a walk bounded by an author date still looks: see
/// [`WalkOptions::commit_time_margin`].
pub const DEFAULT_COMMIT_TIME_MARGIN: Duration = Duration::from_secs(30 * 24 * 3600);
/// Commits per page unless the caller says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 500;

/// What a walk reads and yields.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Only commits whose author time (epoch milliseconds, UTC) is at or after this are
    /// yielded; `None` yields the whole history.
    ///
    /// Author dates are not ordered along history (a rebase keeps old author dates on new
    /// commits; a commit can be authored on a machine whose clock is wrong), and neither are
    /// commit dates, strictly. The walk therefore goes by commit time, newest first, and
    /// stops following a line of history only at commits whose commit time is older than
    /// `since - commit_time_margin`; every commit it visits is filtered by its author time.
    /// A commit is missed only if it was authored after `since` but committed more than the
    /// margin before it, or sits behind a commit that was (clocks wrong by more than the
    /// margin). Commits visited outside the window cost a read, never a diff.
    pub since: Option<i64>,
    /// See [`since`](Self::since); [`DEFAULT_COMMIT_TIME_MARGIN`] (30 days) by default.
    pub commit_time_margin: Duration,
    /// Commits already read and stored: they are yielded with [`Lines::Known`], without a
    /// diff, and the walk goes on through their parents (a run that stopped half-way left
    /// older commits unread behind newer known ones).
    pub known: HashSet<Sha>,
    /// Commits whose whole ancestry was read by an earlier, finished walk (its branch head):
    /// neither they nor their ancestors are visited again, as `git log head ^stop`. An id
    /// the repository no longer has (history rewritten and collected) is ignored.
    pub stop_at: Vec<Sha>,
    /// The most commits in a page (at least 1); [`DEFAULT_PAGE_SIZE`] by default.
    pub page_size: usize,
}

impl Default for WalkOptions {
    fn default() -> Self {
        Self {
            since: None,
            commit_time_margin: DEFAULT_COMMIT_TIME_MARGIN,
            known: HashSet::new(),
            stop_at: Vec::new(),
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// An instant as git records it: epoch milliseconds (UTC) and the offset from UTC, in
/// seconds, of the clock that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitTime {
    pub epoch_ms: i64,
    pub offset_seconds: i32,
}

/// A commit's changes against its first parent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
}

/// What is known of a commit's line changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Counted against the first parent (a root commit: against nothing).
    Counted(LineStats),
    /// A merge (more than one parent): not counted; metrics exclude merges.
    Merge,
    /// In [`WalkOptions::known`]: not counted again.
    Known,
}

/// One commit reachable from the branch head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: Sha,
    /// In the commit's order; the first parent is the one `lines` are counted against.
    pub parents: Vec<Sha>,
    pub author_name: String,
    pub author_email: String,
    /// The author date: the instant metrics count a commit at.
    pub authored: GitTime,
    pub committed: GitTime,
    pub lines: Lines,
}

impl Commit {
    pub fn parent_count(&self) -> usize {
        self.parents.len()
    }
}

/// The commits reachable from a branch head through all parents, newest commit time first,
/// as pages of at most [`WalkOptions::page_size`] commits; every commit yielded is reachable
/// from the head it started at. A page ends early only at the end of the walk; after an
/// error the walk ends.
pub struct Walk<'repo> {
    repo: &'repo gix::Repository,
    commits: gix::revision::Walk<'repo>,
    differ: Differ,
    since: Option<i64>,
    known: HashSet<Sha>,
    page_size: usize,
    done: bool,
}

impl std::fmt::Debug for Walk<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk").field("since", &self.since).field("done", &self.done).finish_non_exhaustive()
    }
}

impl<'repo> Walk<'repo> {
    pub(crate) fn new(repository: &'repo Repository, head: Sha, options: WalkOptions) -> Result<Self, GitError> {
        let repo = &repository.repo;
        let sorting = match options.since {
            None => Sorting::ByCommitTime(CommitTimeOrder::NewestFirst),
            Some(since_ms) => Sorting::ByCommitTimeCutoff {
                order: CommitTimeOrder::NewestFirst,
                seconds: since_ms.div_euclid(1000).saturating_sub(options.commit_time_margin.as_secs() as i64),
            },
        };
        // Hidden tips must be commits: one the repository no longer has is dropped.
        let hidden: Vec<gix::ObjectId> =
            options.stop_at.iter().map(|s| s.id()).filter(|id| repo.find_commit(*id).is_ok()).collect();
        let commits = repo
            .rev_walk([head.id()])
            .sorting(sorting)
            .with_hidden(hidden)
            .all()
            .map_err(|e| GitError::read("starting the walk", e))?;
        Ok(Self {
            repo,
            commits,
            differ: Differ::new(repo)?,
            since: options.since,
            known: options.known,
            page_size: options.page_size.max(1),
            done: false,
        })
    }

    fn next_page(&mut self) -> Result<Vec<Commit>, GitError> {
        let mut page = Vec::new();
        while page.len() < self.page_size {
            let Some(info) = self.commits.next() else {
                self.done = true;
                break;
            };
            let info = info.map_err(|e| GitError::read("walking the history", e))?;
            if let Some(commit) = self.read(info.id)? {
                page.push(commit);
            }
        }
        Ok(page)
    }

    /// The commit `id`, `None` when it was authored before `since`.
    fn read(&mut self, id: gix::ObjectId) -> Result<Option<Commit>, GitError> {
        let failed = |e: gix::Error| GitError::read(&format!("reading commit {id}"), e);
        let commit = self.repo.find_commit(id).map_err(failed)?;
        let decoded = commit.decode().map_err(failed)?;
        let author = decoded.author().map_err(failed)?;
        let authored = git_time(&author);
        if self.since.is_some_and(|since| authored.epoch_ms < since) {
            return Ok(None);
        }
        let committed = git_time(&decoded.committer().map_err(failed)?);
        let parents: Vec<Sha> = decoded.parents().map(Sha).collect();
        let tree = decoded.tree();
        let sha = Sha(id);
        let lines = if parents.len() > 1 {
            Lines::Merge
        } else if self.known.contains(&sha) {
            Lines::Known
        } else {
            let parent_tree = match parents.first() {
                Some(parent) => {
                    Some(self.repo.find_commit(parent.id()).and_then(|p| p.tree_id()).map_err(failed)?.detach())
                }
                None => None,
            };
            Lines::Counted(self.differ.stats(self.repo, parent_tree, tree)?)
        };
        let author = author.trim();
        Ok(Some(Commit {
            sha,
            parents,
            author_name: author.name.to_string(),
            author_email: author.email.to_string(),
            authored,
            committed,
            lines,
        }))
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<Vec<Commit>, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_page() {
            Ok(page) if page.is_empty() => None,
            Ok(page) => Some(Ok(page)),
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A signature's time; a date git cannot parse either counts as the epoch, as git shows it.
fn git_time(signature: &gix::actor::SignatureRef<'_>) -> GitTime {
    let time = signature.time().unwrap_or_default();
    GitTime { epoch_ms: time.seconds.saturating_mul(1000), offset_seconds: time.offset }
}
