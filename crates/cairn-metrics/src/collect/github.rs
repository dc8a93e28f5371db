//! The GitHub collector. For the source's repositories (its list, or every repository of
//! its organization, read again each run so new ones are picked up), in this order:
//!
//! 1. commits of the default branch whose committer date is within the window (less a
//!    week's margin, so commits authored in the window but committed earlier by a skewed
//!    clock are read too), a hundred a page with their pull requests, the pages of several
//!    repositories in one request;
//! 2. then for each repository: pull requests, most recently updated first, down to the
//!    window's start, with their reviews and conversation comments; then those still
//!    stored as open that the listing did not bring back, each with its ETag (unchanged
//!    ones cost nothing);
//! 3. review comments updated in the window;
//! 4. deployments created in the window with their latest status, and releases.
//!
//! A step that read its whole window in this attempt also removes what upstream no longer
//! has within it: commits force-pushed away, deleted review comments; a pull request read
//! with all its conversation comments loses those deleted upstream. A resumed step does
//! not (it did not see the pages before the resume); the next run does.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use crate::client::UpstreamError;
use crate::client::github::{
    CommentItem, GitHubApi, HISTORY_BATCH, HistoryCommit, Listing, PullRequestNode, RepositoryInfo, ReviewNode,
};
use crate::collected::{
    Comment, CommentKind, Commit, CommitPullRequest, Counts, Deployment, PrState, PullRequest, Release, Repository,
    Review,
};
use crate::sources::Source;

use super::{CollectError, RunCtx};

/// How far before the window commits are read by committer date.
const COMMIT_MARGIN_MS: i64 = 7 * 86_400_000;

/// Reads `source` from `api` into the tenant's tables.
pub async fn collect(api: &impl GitHubApi, source: &Source, run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let repositories = repositories(api, source).await?;
    let mut page = run.page().await?;
    let rows: Vec<Repository> = repositories
        .iter()
        .map(|r| Repository {
            id: r.node_id.clone(),
            full_name: r.full_name.clone(),
            default_branch: r.default_branch.clone(),
            archived: r.archived,
        })
        .collect();
    let counts = page.rows().await?.repositories(&rows).await?;
    run.commit(page, "repositories", None, &[("repositories", counts)], api.tally()).await?;

    let with_commits: Vec<&RepositoryInfo> = repositories.iter().filter(|r| r.default_branch.is_some()).collect();
    for batch in with_commits.chunks(HISTORY_BATCH) {
        commits(api, batch, run).await?;
    }
    for repo in &repositories {
        pull_requests(api, repo, run).await?;
        review_comments(api, repo, run).await?;
        deployments(api, repo, run).await?;
        releases(api, repo, run).await?;
    }
    Ok(())
}

/// The source's repositories: those it names, or every one of its organization.
async fn repositories(api: &impl GitHubApi, source: &Source) -> Result<Vec<RepositoryInfo>, CollectError> {
    let mut found = match &source.organization {
        Some(org) => read_all(|next| async move { api.organization_repositories(org, next.as_deref()).await }).await?,
        None => Vec::new(),
    };
    for name in &source.repositories {
        if !found.iter().any(|r| r.full_name.eq_ignore_ascii_case(name)) {
            found.push(api.repository(name).await?);
        }
    }
    Ok(found)
}

/// One repository's walk down its default branch.
struct Walk<'r> {
    repo: &'r RepositoryInfo,
    step: String,
    /// Read from the window's start in this attempt: what it did not see is gone upstream.
    whole: bool,
    cursor: Option<String>,
    seen: BTreeSet<String>,
    done: bool,
}

/// The default-branch commits of `batch`, a page of each unfinished repository a request;
/// each repository's page is written in its own transaction.
async fn commits(api: &impl GitHubApi, batch: &[&RepositoryInfo], run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let mut walks: Vec<Walk<'_>> = batch
        .iter()
        .map(|repo| {
            let step = format!("commits:{}", repo.full_name);
            let cursor = run.resume(&step).map(str::to_owned);
            Walk { repo, whole: cursor.is_none(), step, cursor, seen: BTreeSet::new(), done: false }
        })
        .collect();
    loop {
        let open: Vec<usize> = (0..walks.len()).filter(|&i| !walks[i].done).collect();
        if open.is_empty() {
            break;
        }
        let asks: Vec<(&str, Option<&str>)> =
            open.iter().map(|&i| (walks[i].repo.full_name.as_str(), walks[i].cursor.as_deref())).collect();
        let pages = api.histories(run.since - COMMIT_MARGIN_MS, &asks).await?;
        for (&i, history) in open.iter().zip(pages) {
            let walk = &mut walks[i];
            let Some(history) = history else {
                // An empty repository: nothing to read, nothing to keep.
                walk.done = true;
                walk.whole = false;
                continue;
            };
            walk.seen.extend(history.nodes.iter().map(|c| c.oid.clone()));
            let next = history.has_next_page.then(|| history.end_cursor.clone()).flatten();
            // The last page's cursor is kept too: a resumed run continues after it.
            let at = next.clone().or(history.end_cursor.clone());
            write_commits(api, walk.repo, &history.nodes, run, &walk.step, at.as_deref()).await?;
            match next {
                Some(n) => walk.cursor = Some(n),
                None => walk.done = true,
            }
        }
    }
    for walk in walks.iter().filter(|w| w.whole) {
        // Stored commits authored in the window that the default branch no longer reaches.
        let mut page = run.page().await?;
        let mut tables = page.rows().await?;
        let stored = tables.commit_shas(&walk.repo.node_id, run.since, i64::MAX).await?;
        let gone: Vec<(String, String)> =
            stored.into_iter().filter(|s| !walk.seen.contains(s)).map(|s| (walk.repo.node_id.clone(), s)).collect();
        let removed = if gone.is_empty() { Counts::default() } else { tables.remove_commits(&gone).await? };
        drop(tables);
        run.commit(page, &walk.step, None, &[("commits", removed)], api.tally()).await?;
    }
    Ok(())
}

/// One page of a repository's commits, with their pull-request links.
async fn write_commits(
    api: &impl GitHubApi,
    repo: &RepositoryInfo,
    commits: &[HistoryCommit],
    run: &mut RunCtx<'_>,
    step: &str,
    cursor: Option<&str>,
) -> Result<(), CollectError> {
    let mut rows = Vec::with_capacity(commits.len());
    let mut links = Vec::new();
    let mut keys = Vec::with_capacity(commits.len());
    for c in commits {
        keys.push((repo.node_id.clone(), c.oid.clone()));
        links.extend(c.pull_requests.iter().map(|&n| CommitPullRequest {
            repository_id: repo.node_id.clone(),
            sha: c.oid.clone(),
            pr_number: n,
        }));
        rows.push(Commit {
            repository_id: repo.node_id.clone(),
            sha: c.oid.clone(),
            author_login: c.author_login.clone(),
            author_email: c.author_email.as_deref().map(str::to_lowercase),
            authored_at: c.authored_at,
            additions: c.additions,
            deletions: c.deletions,
            changed_files: c.changed_files.unwrap_or(0),
            parent_count: c.parent_count,
            on_default_branch: true,
        });
    }
    let mut page = run.page().await?;
    let mut tables = page.rows().await?;
    let written = tables.commits(&rows).await?;
    let linked = tables.commit_pull_requests(&keys, &links).await?;
    drop(tables);
    run.commit(page, step, cursor, &[("commits", written), ("commit_pull_requests", linked)], api.tally()).await
}

fn pr_state(state: &str) -> Result<PrState, UpstreamError> {
    match state {
        "OPEN" => Ok(PrState::Open),
        "CLOSED" => Ok(PrState::Closed),
        "MERGED" => Ok(PrState::Merged),
        other => Err(UpstreamError::Protocol(format!("a pull request state {other:?}"))),
    }
}

/// The pull request's row and its reviews' rows. Its first review is the earliest
/// submitted review by someone other than its author.
fn pull_rows(
    repo: &RepositoryInfo,
    p: &PullRequestNode,
    reviews: &[ReviewNode],
) -> Result<(PullRequest, Vec<Review>), UpstreamError> {
    let first_review_at = reviews
        .iter()
        .filter(|r| r.author_login.is_none() || r.author_login != p.author_login)
        .filter_map(|r| r.submitted_at)
        .min();
    let row = PullRequest {
        repository_id: repo.node_id.clone(),
        number: p.number,
        author_login: p.author_login.clone(),
        state: pr_state(&p.state)?,
        created_at: p.created_at,
        merged_at: p.merged_at,
        closed_at: p.closed_at,
        first_review_at,
        additions: p.additions,
        deletions: p.deletions,
        merge_commit_sha: p.merge_commit.clone(),
        updated_at: p.updated_at,
    };
    let reviews = reviews
        .iter()
        .filter_map(|r| {
            Some(Review {
                id: r.id.clone(),
                repository_id: repo.node_id.clone(),
                pr_number: p.number,
                author_login: r.author_login.clone(),
                state: r.state.clone(),
                // A pending review is not submitted: not a review yet.
                submitted_at: r.submitted_at?,
            })
        })
        .collect();
    Ok((row, reviews))
}

/// Every item of a REST listing, following its `next` links to the last page.
async fn read_all<T, F, Fut>(mut page: F) -> Result<Vec<T>, CollectError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<Listing<T>, UpstreamError>>,
{
    let mut all = Vec::new();
    let mut next = None;
    loop {
        let listing = page(next.take()).await?;
        all.extend(listing.items);
        match listing.next {
            Some(n) => next = Some(n),
            None => return Ok(all),
        }
    }
}

/// Every review of `p`: those of its page, or all of them when the page held only some.
async fn all_reviews(
    api: &impl GitHubApi,
    repo: &RepositoryInfo,
    p: &PullRequestNode,
) -> Result<Vec<ReviewNode>, CollectError> {
    if !p.more_reviews {
        return Ok(p.reviews.clone());
    }
    read_all(|next| async move { api.reviews(&repo.full_name, p.number, next.as_deref()).await }).await
}

/// Every conversation comment of `p`: those of its page, or all of them when the page held
/// only some.
async fn all_comments(
    api: &impl GitHubApi,
    repo: &RepositoryInfo,
    p: &PullRequestNode,
) -> Result<Vec<CommentItem>, CollectError> {
    if !p.more_comments {
        return Ok(p.comments.clone());
    }
    read_all(|next| async move { api.pull_comments(&repo.full_name, p.number, next.as_deref()).await }).await
}

/// The source's cursor holding the ETag of pull request `number`'s REST representation.
fn etag_cursor(repo: &RepositoryInfo, number: i64) -> String {
    format!("etag:pull:{}:{number}", repo.node_id)
}

/// Writes `pulls` with their reviews and every conversation comment (removing those
/// deleted upstream), in one transaction with the ETags they were read with.
async fn write_pulls(
    api: &impl GitHubApi,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
    pulls: &[PullRequestNode],
    etags: &[(i64, String)],
    step: &str,
    cursor: Option<&str>,
) -> Result<(), CollectError> {
    let mut rows = Vec::with_capacity(pulls.len());
    let mut review_rows = Vec::new();
    let mut comment_rows = Vec::new();
    for p in pulls {
        let reviews = all_reviews(api, repo, p).await?;
        let (row, r) = pull_rows(repo, p, &reviews)?;
        comment_rows.extend(all_comments(api, repo, p).await?.into_iter().map(|c| Comment {
            kind: CommentKind::Conversation,
            id: c.id,
            repository_id: repo.node_id.clone(),
            pr_number: p.number,
            author_login: c.author_login,
            pr_author_login: row.author_login.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }));
        rows.push(row);
        review_rows.extend(r);
    }
    let numbers: Vec<i64> = pulls.iter().map(|p| p.number).collect();
    let seen: BTreeSet<&str> = comment_rows.iter().map(|c| c.id.as_str()).collect();
    let mut page = run.page().await?;
    let mut tables = page.rows().await?;
    let written = tables.pull_requests(&rows).await?;
    let reviewed = tables.reviews(&review_rows).await?;
    let mut commented = tables.comments(&comment_rows).await?;
    let stored = tables.pull_comment_ids(CommentKind::Conversation, &repo.node_id, &numbers).await?;
    let gone: Vec<(CommentKind, String)> =
        stored.into_iter().filter(|id| !seen.contains(id.as_str())).map(|id| (CommentKind::Conversation, id)).collect();
    if !gone.is_empty() {
        commented.add(tables.remove_comments(&gone).await?);
    }
    drop(tables);
    for (number, etag) in etags {
        page.set_cursor(&etag_cursor(repo, *number), etag).await?;
    }
    // A closed pull request is not read again: its ETag is of no more use.
    for row in rows.iter().filter(|r| r.state != PrState::Open) {
        page.remove_cursor(&etag_cursor(repo, row.number)).await?;
    }
    let counts = [("pull_requests", written), ("reviews", reviewed), ("comments", commented)];
    run.commit(page, step, cursor, &counts, api.tally()).await
}

async fn pull_requests(api: &impl GitHubApi, repo: &RepositoryInfo, run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let step = format!("pulls:{}", repo.full_name);
    let mut cursor = run.resume(&step).map(str::to_owned);
    let mut seen = BTreeSet::new();
    loop {
        let page = api.pull_requests(&repo.full_name, false, cursor.as_deref()).await?;
        let in_window: Vec<PullRequestNode> =
            page.nodes.iter().filter(|p| p.updated_at >= run.since).cloned().collect();
        let reached_start = in_window.len() < page.nodes.len();
        seen.extend(in_window.iter().map(|p| p.number));
        let next = (page.has_next_page && !reached_start).then(|| page.end_cursor.clone()).flatten();
        let at = next.clone().or(page.end_cursor.clone());
        write_pulls(api, repo, run, &in_window, &[], &step, at.as_deref()).await?;
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    // Stored as open but not updated in the window: read again until closed, each with the
    // ETag it was last read with, so an unchanged one costs nothing.
    let mut page = run.page().await?;
    let stored_open = page.rows().await?.open_pull_requests(&repo.node_id).await?;
    drop(page);
    let stale: Vec<i64> = stored_open.into_iter().filter(|n| !seen.contains(n)).collect();
    for chunk in stale.chunks(50) {
        let mut pulls = Vec::with_capacity(chunk.len());
        let mut etags = Vec::new();
        for &n in chunk {
            let stored = run.cursor(&etag_cursor(repo, n)).await?;
            match api.pull_request(&repo.full_name, n, stored.as_deref()).await {
                Ok(Some((p, etag))) => {
                    etags.extend(etag.map(|e| (n, e)));
                    pulls.push(p);
                }
                // Unchanged since it was last read: what is stored is current.
                Ok(None) => {}
                // Deleted with its repository's history, or moved: nothing to update.
                Err(UpstreamError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        write_pulls(api, repo, run, &pulls, &etags, &format!("open:{}", repo.full_name), None).await?;
    }
    Ok(())
}

/// Review comments updated in the window, from the repository-wide listing.
async fn review_comments(
    api: &impl GitHubApi,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
) -> Result<(), CollectError> {
    let kind = CommentKind::Review;
    let step = format!("{}-comments:{}", kind.as_str(), repo.full_name);
    let resumed = run.resume(&step).map(str::to_owned);
    let whole = resumed.is_none();
    let mut next = resumed;
    let mut seen = BTreeSet::new();
    loop {
        let listing = api.review_comments(&repo.full_name, run.since, next.as_deref()).await?;
        let mut page = run.page().await?;
        let mut tables = page.rows().await?;
        let numbers: Vec<i64> = listing.items.iter().map(|c| c.number).collect::<BTreeSet<_>>().into_iter().collect();
        let authors: HashMap<i64, Option<String>> = tables.pull_request_authors(&repo.node_id, &numbers).await?;
        let rows: Vec<Comment> = listing
            .items
            .iter()
            // A comment of a pull request not stored (created before the window, untouched
            // since) has no known author to compare with: the next wider window reads both.
            .filter_map(|c| {
                let pr_author = authors.get(&c.number)?;
                Some(Comment {
                    kind,
                    id: c.id.clone(),
                    repository_id: repo.node_id.clone(),
                    pr_number: c.number,
                    author_login: c.author_login.clone(),
                    pr_author_login: pr_author.clone(),
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                })
            })
            .collect();
        seen.extend(rows.iter().map(|c| c.id.clone()));
        let written = tables.comments(&rows).await?;
        drop(tables);
        let at = listing.next.clone();
        run.commit(page, &step, at.as_deref(), &[("comments", written)], api.tally()).await?;
        match listing.next {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    if whole {
        let mut page = run.page().await?;
        let mut tables = page.rows().await?;
        let stored = tables.comment_ids(kind, &repo.node_id, run.since, i64::MAX).await?;
        let gone: Vec<(CommentKind, String)> =
            stored.into_iter().filter(|id| !seen.contains(id)).map(|id| (kind, id)).collect();
        let removed = if gone.is_empty() { Counts::default() } else { tables.remove_comments(&gone).await? };
        drop(tables);
        run.commit(page, &step, None, &[("comments", removed)], api.tally()).await?;
    }
    Ok(())
}

async fn deployments(api: &impl GitHubApi, repo: &RepositoryInfo, run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let step = format!("deployments:{}", repo.full_name);
    let mut cursor = run.resume(&step).map(str::to_owned);
    loop {
        let page = api.deployments(&repo.full_name, cursor.as_deref()).await?;
        let rows: Vec<Deployment> = page
            .nodes
            .iter()
            .filter(|d| d.created_at >= run.since)
            .map(|d| Deployment {
                id: d.id.clone(),
                repository_id: repo.node_id.clone(),
                environment: d.environment.clone(),
                sha: d.sha.clone(),
                git_ref: d.git_ref.clone(),
                created_at: d.created_at,
                status: d.status.clone(),
                status_at: d.status_at,
            })
            .collect();
        let reached_start = rows.len() < page.nodes.len();
        let mut tx = run.page().await?;
        let written = tx.rows().await?.deployments(&rows).await?;
        let follow = page.end_cursor.filter(|_| page.has_next_page && !reached_start);
        run.commit(tx, &step, follow.as_deref(), &[("deployments", written)], api.tally()).await?;
        match follow {
            Some(n) => cursor = Some(n),
            None => return Ok(()),
        }
    }
}

async fn releases(api: &impl GitHubApi, repo: &RepositoryInfo, run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let step = format!("releases:{}", repo.full_name);
    let mut next = run.resume(&step).map(str::to_owned);
    loop {
        let listing = api.releases(&repo.full_name, next.as_deref()).await?;
        let rows: Vec<Release> = listing
            .items
            .iter()
            .filter(|r| r.created_at >= run.since)
            .map(|r| Release {
                id: r.id.clone(),
                repository_id: repo.node_id.clone(),
                tag_name: r.tag_name.clone(),
                name: r.name.clone(),
                created_at: r.created_at,
                published_at: r.published_at,
                draft: r.draft,
                prerelease: r.prerelease,
            })
            .collect();
        let reached_start = rows.len() < listing.items.len();
        let mut page = run.page().await?;
        let written = page.rows().await?.releases(&rows).await?;
        let follow = listing.next.filter(|_| !reached_start);
        run.commit(page, &step, follow.as_deref(), &[("releases", written)], api.tally()).await?;
        match follow {
            Some(n) => next = Some(n),
            None => return Ok(()),
        }
    }
}
