//! The git collector: the commits of one repository's branch (the default one unless the
//! source names one) authored in the window, with their line counts, read with `cairn-git`
//! from a path on this host or from a mirror of an https repository that each run fetches
//! again. The read runs on a blocking thread and hands pages over a bounded channel; each
//! page commits with its rollups and the run's progress.
//!
//! Commits already stored are passed to the walk as known: it does not count their lines
//! again, so a resumed or repeated run costs a walk, not a diff per commit. Stored commits
//! authored in the window that the branch no longer reaches (force-pushed away) are removed
//! at the end.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cairn_git::{GitError, Lines, Location, Mirrors, Repository as GitRepository, Sha, WalkOptions};
use tokio::sync::mpsc;

use super::{CollectError, RunCtx};
use crate::client::Tally;
use crate::collected::{Commit, Repository};
use crate::sources::Source;

/// Commits per page.
const PAGE: usize = 500;

enum Read {
    Branch(String),
    Page(Vec<cairn_git::Commit>),
}

/// Reads `source` into the tenant's tables; `mirrors` holds the source's https mirrors.
pub async fn collect(mirrors: Mirrors, source: &Source, run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let url = source.url.clone().ok_or_else(|| GitError::Invalid { field: "url", message: "is not set".into() })?;
    let location = Location::parse(&url)?;
    let tally = Tally::default();

    let mut page = run.page().await?;
    let stored = page.rows().await?.commit_shas(&url, run.since, i64::MAX).await?;
    drop(page);
    let known: HashSet<Sha> = stored.iter().filter_map(|s| s.parse().ok()).collect();

    let (tx, mut rx) = mpsc::channel::<Result<Read, GitError>>(2);
    let branch = source.branch.clone();
    let since = run.since;
    let reader = tokio::task::spawn_blocking(move || {
        let read = || -> Result<(), GitError> {
            let repo = match &location {
                Location::Path(p) => GitRepository::open(p)?,
                Location::Url(u) => mirrors.fetch(u)?,
            };
            let branch = repo.branch(branch.as_deref())?;
            if tx.blocking_send(Ok(Read::Branch(branch.name.clone()))).is_err() {
                return Ok(());
            }
            let options = WalkOptions { since: Some(since), known, page_size: PAGE, ..WalkOptions::default() };
            for page in repo.walk(&branch, options)? {
                if tx.blocking_send(page.map(Read::Page)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        };
        if let Err(e) = read() {
            let _ = tx.blocking_send(Err(e));
        }
    });

    let mut seen: HashSet<String> = HashSet::new();
    while let Some(read) = rx.recv().await {
        match read? {
            Read::Branch(name) => {
                let row = Repository {
                    id: url.clone(),
                    full_name: display_name(&url),
                    default_branch: Some(name),
                    archived: false,
                };
                let mut page = run.page().await?;
                let counts = page.rows().await?.repositories(&[row]).await?;
                run.commit(page, "repositories", None, &[("repositories", counts)], &tally).await?;
            }
            Read::Page(commits) => {
                let mut rows = Vec::with_capacity(commits.len());
                for c in &commits {
                    let sha = c.sha.to_string();
                    seen.insert(sha.clone());
                    let (additions, deletions, changed_files) = match c.lines {
                        Lines::Counted(l) => (l.additions as i64, l.deletions as i64, l.changed_files as i64),
                        Lines::Merge => (0, 0, 0),
                        // Stored already with its counts.
                        Lines::Known => continue,
                    };
                    rows.push(Commit {
                        repository_id: url.clone(),
                        sha,
                        author_login: None,
                        author_email: Some(c.author_email.to_lowercase()).filter(|e| !e.is_empty()),
                        authored_at: c.authored.epoch_ms,
                        additions,
                        deletions,
                        changed_files,
                        parent_count: c.parent_count() as i64,
                        // The branch the source reads is the one its commits count on.
                        on_default_branch: true,
                    });
                }
                let mut page = run.page().await?;
                let counts = page.rows().await?.commits(&rows).await?;
                run.commit(page, "commits", None, &[("commits", counts)], &tally).await?;
            }
        }
    }
    reader.await.map_err(|e| GitError::Read(format!("the reading thread stopped: {e}")))?;

    let gone: Vec<(String, String)> =
        stored.into_iter().filter(|s| !seen.contains(s)).map(|s| (url.clone(), s)).collect();
    if !gone.is_empty() {
        let mut page = run.page().await?;
        let removed = page.rows().await?.remove_commits(&gone).await?;
        run.commit(page, "commits", None, &[("commits", removed)], &tally).await?;
    }
    Ok(())
}

/// A repository's name as people say it: the last part of its path or URL.
fn display_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/').trim_end_matches(".git");
    Path::new(trimmed).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| url.to_owned())
}

/// Where a source's mirrors live under the collectors' `root`: one folder per source.
pub fn mirror_root(root: &Path, source: &str) -> PathBuf {
    root.join(source)
}
