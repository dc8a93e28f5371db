//! The GitHub collector. For each repository of the source (its list, or every repository
//! of its organization, read again each run so new ones are picked up), in this order:
//!
//! 1. commits of the default branch whose committer date is within the window (less a
//!    week's margin, so commits authored in the window but committed earlier by a skewed
//!    clock are read too), a hundred a page with their pull requests;
//! 2. pull requests, most recently updated first, down to the window's start, with their
//!    reviews; then those still stored as open that the listing did not bring back;
//! 3. review comments and conversation comments of pull requests updated in the window;
//! 4. deployments and releases created in the window.
//!
//! A step that read its whole window in this attempt also removes what upstream no longer
//! has within it: commits force-pushed away, deleted comments. A resumed step does not (it
//! did not see the pages before the resume); the next run does.

use std::collections::{BTreeSet, HashMap};

use crate::client::UpstreamError;
use crate::client::github::{GitHubApi, PullRequestNode, RepositoryInfo, ReviewNode};
use crate::collected::{
    Comment, CommentKind, Commit, CommitPullRequest, Counts, Deployment, PrState, PullRequest, Release, Repository,
    Review,
};
use crate::sources::Source;

use super::{CollectError, RunCtx};

/// How far before the window commits are read by committer date.
const COMMIT_MARGIN_MS: i64 = 7 * 86_400_000;

/// Reads `source` from `api` into the tenant's tables.
pub async fn collect(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    source: &Source,
    run: &mut RunCtx<'_>,
) -> Result<(), CollectError> {
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
    run.commit(page, "repositories", None, &[("repositories", counts)], tally).await?;

    for repo in &repositories {
        if repo.default_branch.is_some() {
            commits(api, tally, repo, run).await?;
        }
        pull_requests(api, tally, repo, run).await?;
        comments(api, tally, repo, run, CommentKind::Review).await?;
        comments(api, tally, repo, run, CommentKind::Conversation).await?;
        deployments(api, tally, repo, run).await?;
        releases(api, tally, repo, run).await?;
    }
    Ok(())
}

/// The source's repositories: those it names, or every one of its organization.
async fn repositories(api: &impl GitHubApi, source: &Source) -> Result<Vec<RepositoryInfo>, CollectError> {
    let mut found = Vec::new();
    if let Some(org) = &source.organization {
        let mut next: Option<String> = None;
        loop {
            let page = api.organization_repositories(org, next.as_deref()).await?;
            found.extend(page.items);
            match page.next {
                Some(n) => next = Some(n),
                None => break,
            }
        }
    }
    for name in &source.repositories {
        if !found.iter().any(|r| r.full_name.eq_ignore_ascii_case(name)) {
            found.push(api.repository(name).await?);
        }
    }
    Ok(found)
}

async fn commits(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
) -> Result<(), CollectError> {
    let step = format!("commits:{}", repo.full_name);
    let resumed = run.resume(&step).map(str::to_owned);
    let whole = resumed.is_none();
    let mut cursor = resumed;
    let mut seen = BTreeSet::new();
    loop {
        let Some(history) = api.history(&repo.full_name, None, run.since - COMMIT_MARGIN_MS, cursor.as_deref()).await?
        else {
            return Ok(());
        };
        let mut rows = Vec::with_capacity(history.nodes.len());
        let mut links = Vec::new();
        let mut keys = Vec::with_capacity(history.nodes.len());
        for c in &history.nodes {
            seen.insert(c.oid.clone());
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
        let next = history.has_next_page.then(|| history.end_cursor.clone()).flatten();
        // The last page's cursor is kept too: a resumed run continues after it.
        let at = next.clone().or(history.end_cursor.clone());
        run.commit(page, &step, at.as_deref(), &[("commits", written), ("commit_pull_requests", linked)], tally)
            .await?;
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    if whole {
        // Stored commits authored in the window that the default branch no longer reaches.
        let mut page = run.page().await?;
        let mut tables = page.rows().await?;
        let stored = tables.commit_shas(&repo.node_id, run.since, i64::MAX).await?;
        let gone: Vec<(String, String)> =
            stored.into_iter().filter(|s| !seen.contains(s)).map(|s| (repo.node_id.clone(), s)).collect();
        let removed = if gone.is_empty() { Counts::default() } else { tables.remove_commits(&gone).await? };
        drop(tables);
        run.commit(page, &step, None, &[("commits", removed)], tally).await?;
    }
    Ok(())
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

/// Every review of `p`: those of its page, or all of them when the page held only some.
async fn all_reviews(
    api: &impl GitHubApi,
    repo: &RepositoryInfo,
    p: &PullRequestNode,
) -> Result<Vec<ReviewNode>, CollectError> {
    if !p.more_reviews {
        return Ok(p.reviews.clone());
    }
    let mut all = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = api.reviews(&repo.full_name, p.number, next.as_deref()).await?;
        all.extend(page.items);
        match page.next {
            Some(n) => next = Some(n),
            None => return Ok(all),
        }
    }
}

async fn write_pulls(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
    pulls: &[PullRequestNode],
    step: &str,
    cursor: Option<&str>,
) -> Result<(), CollectError> {
    let mut rows = Vec::with_capacity(pulls.len());
    let mut review_rows = Vec::new();
    for p in pulls {
        let reviews = all_reviews(api, repo, p).await?;
        let (row, r) = pull_rows(repo, p, &reviews)?;
        rows.push(row);
        review_rows.extend(r);
    }
    let mut page = run.page().await?;
    let mut tables = page.rows().await?;
    let written = tables.pull_requests(&rows).await?;
    let reviewed = tables.reviews(&review_rows).await?;
    drop(tables);
    run.commit(page, step, cursor, &[("pull_requests", written), ("reviews", reviewed)], tally).await
}

async fn pull_requests(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
) -> Result<(), CollectError> {
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
        write_pulls(api, tally, repo, run, &in_window, &step, at.as_deref()).await?;
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    // Stored as open but not updated in the window: read again until closed.
    let mut page = run.page().await?;
    let stored_open = page.rows().await?.open_pull_requests(&repo.node_id).await?;
    drop(page);
    let stale: Vec<i64> = stored_open.into_iter().filter(|n| !seen.contains(n)).collect();
    for chunk in stale.chunks(50) {
        let mut pulls = Vec::with_capacity(chunk.len());
        for &n in chunk {
            match api.pull_request(&repo.full_name, n).await {
                Ok(p) => pulls.push(p),
                // Deleted with its repository's history, or moved: nothing to update.
                Err(UpstreamError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        write_pulls(api, tally, repo, run, &pulls, &format!("open:{}", repo.full_name), None).await?;
    }
    Ok(())
}

async fn comments(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
    kind: CommentKind,
) -> Result<(), CollectError> {
    let step = format!("{}-comments:{}", kind.as_str(), repo.full_name);
    let resumed = run.resume(&step).map(str::to_owned);
    let whole = resumed.is_none();
    let mut next = resumed;
    let mut seen = BTreeSet::new();
    loop {
        let listing = match kind {
            CommentKind::Review => api.review_comments(&repo.full_name, run.since, next.as_deref()).await?,
            CommentKind::Conversation => api.conversation_comments(&repo.full_name, run.since, next.as_deref()).await?,
        };
        let mut page = run.page().await?;
        let mut tables = page.rows().await?;
        let numbers: Vec<i64> = listing.items.iter().map(|c| c.number).collect::<BTreeSet<_>>().into_iter().collect();
        let authors: HashMap<i64, Option<String>> = tables.pull_request_authors(&repo.node_id, &numbers).await?;
        let rows: Vec<Comment> = listing
            .items
            .iter()
            // Conversation comments of plain issues are not pull-request comments.
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
        run.commit(page, &step, at.as_deref(), &[("comments", written)], tally).await?;
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
        run.commit(page, &step, None, &[("comments", removed)], tally).await?;
    }
    Ok(())
}

async fn deployments(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
) -> Result<(), CollectError> {
    let step = format!("deployments:{}", repo.full_name);
    let mut next = run.resume(&step).map(str::to_owned);
    loop {
        let listing = api.deployments(&repo.full_name, next.as_deref()).await?;
        let rows: Vec<Deployment> = listing
            .items
            .iter()
            .filter(|d| d.created_at >= run.since)
            .map(|d| Deployment {
                id: d.id.clone(),
                repository_id: repo.node_id.clone(),
                environment: d.environment.clone(),
                sha: d.sha.clone(),
                git_ref: d.git_ref.clone(),
                created_at: d.created_at,
                status: None,
                status_at: None,
            })
            .collect();
        let reached_start = rows.len() < listing.items.len();
        let mut page = run.page().await?;
        let written = page.rows().await?.deployments(&rows).await?;
        let follow = listing.next.filter(|_| !reached_start);
        run.commit(page, &step, follow.as_deref(), &[("deployments", written)], tally).await?;
        match follow {
            Some(n) => next = Some(n),
            None => return Ok(()),
        }
    }
}

async fn releases(
    api: &impl GitHubApi,
    tally: &crate::client::Tally,
    repo: &RepositoryInfo,
    run: &mut RunCtx<'_>,
) -> Result<(), CollectError> {
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
        run.commit(page, &step, follow.as_deref(), &[("releases", written)], tally).await?;
        match follow {
            Some(n) => next = Some(n),
            None => return Ok(()),
        }
    }
}
