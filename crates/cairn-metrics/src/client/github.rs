//! GitHub, through its REST API (the `Link` header pages) and its GraphQL API (cursors):
//! what the collector reads, as [`GitHubApi`], and its HTTP implementation [`GitHub`].
//! Field names are GitHub's; only the fields the collector keeps are read.
//!
//! Commits come from GraphQL `history`, a hundred a repository with their line counts and
//! pull requests, for [`HISTORY_BATCH`] repositories a request (REST would need one request
//! a commit for the counts). Pull requests come from GraphQL too, a hundred a request with
//! their reviews and conversation comments, and deployments with their latest status;
//! review comments from the repository-wide REST listing, which takes `since`. Reading review comments nested in GraphQL would cost a
//! request per pull request against the GraphQL budget (points count nested connections),
//! while the REST listing spends the separate REST budget a hundred comments a request.
//! A pull request re-read on its own goes through REST with its stored ETag: an unchanged
//! one answers `304`, which costs nothing.

use std::future::Future;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Call, Tally, Upstream, UpstreamError};

/// A page size GitHub accepts for every connection and listing read here.
pub const PAGE: u32 = 100;
/// Repositories whose `history` pages one GraphQL request reads. A query's cost in points
/// is the sum of its repositories', so batching saves requests, not budget; GitHub's
/// ten-second limit on a query bounds how many line counts one may compute.
pub const HISTORY_BATCH: usize = 3;

/// A repository as the REST API describes it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RepositoryInfo {
    pub node_id: String,
    pub full_name: String,
    /// Absent for an empty repository.
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

/// One commit of a `history` page.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryCommit {
    pub oid: String,
    /// Epoch ms of `authoredDate`.
    pub authored_at: i64,
    pub committed_at: i64,
    pub additions: i64,
    pub deletions: i64,
    /// `changedFilesIfAvailable`: `None` when GitHub does not compute it (huge commits).
    pub changed_files: Option<i64>,
    pub parent_count: i64,
    pub author_email: Option<String>,
    /// The GitHub account of the author, when GitHub knows one for the email.
    pub author_login: Option<String>,
    /// Numbers of the pull requests the commit belongs to.
    pub pull_requests: Vec<i64>,
}

/// A page of a connection: its nodes and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection<T> {
    pub nodes: Vec<T>,
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// A pull request of a `pullRequests` page, with its reviews.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequestNode {
    pub number: i64,
    pub author_login: Option<String>,
    /// `OPEN`, `CLOSED`, `MERGED`.
    pub state: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub merged_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub additions: i64,
    pub deletions: i64,
    pub merge_commit: Option<String>,
    pub reviews: Vec<ReviewNode>,
    /// More reviews than one page holds: read the rest through [`GitHubApi::reviews`].
    pub more_reviews: bool,
    /// Its conversation comments.
    pub comments: Vec<CommentItem>,
    /// More comments than one page holds: read them all through [`GitHubApi::pull_comments`].
    pub more_comments: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewNode {
    pub id: String,
    pub author_login: Option<String>,
    pub state: String,
    /// `None` for a pending review.
    pub submitted_at: Option<i64>,
}

/// A review comment (`pulls/comments`) or a conversation comment (`issues/comments`).
#[derive(Debug, Clone, PartialEq)]
pub struct CommentItem {
    pub id: String,
    /// The pull request's (or, for a conversation comment, the issue's) number.
    pub number: i64,
    pub author_login: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentItem {
    pub id: String,
    pub environment: String,
    pub sha: String,
    pub git_ref: Option<String>,
    pub created_at: i64,
    /// The latest status's state, lower case (`success`, `failure`, `error`, …).
    pub status: Option<String>,
    pub status_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReleaseItem {
    pub id: String,
    pub tag_name: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub published_at: Option<i64>,
    pub draft: bool,
    pub prerelease: bool,
}

/// A page of a REST listing and the URL of the next one (`Link: rel="next"`).
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What the collector reads from GitHub. `cursor`/`next` values come from the previous
/// page; `None` starts at the first.
pub trait GitHubApi: Send + Sync {
    /// The requests made and limits waited out so far.
    fn tally(&self) -> &Tally;

    /// The token's user (`GET /user`): how a token is tried before a source is saved.
    fn viewer(&self) -> impl Future<Output = Result<String, UpstreamError>> + Send;

    fn repository(&self, full_name: &str) -> impl Future<Output = Result<RepositoryInfo, UpstreamError>> + Send;

    fn organization_repositories(
        &self,
        organization: &str,
        next: Option<&str>,
    ) -> impl Future<Output = Result<Listing<RepositoryInfo>, UpstreamError>> + Send;

    /// For each `(repository, cursor)`, a page of the commits its default branch reaches,
    /// newest first, whose committer date is at or after `since` (epoch ms); `None` for an
    /// empty repository. At most [`HISTORY_BATCH`] repositories a call.
    fn histories(
        &self,
        since: i64,
        pages: &[(&str, Option<&str>)],
    ) -> impl Future<Output = Result<Vec<Option<Connection<HistoryCommit>>>, UpstreamError>> + Send;

    /// Pull requests, most recently updated first (or only `OPEN` ones).
    fn pull_requests(
        &self,
        full_name: &str,
        only_open: bool,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Connection<PullRequestNode>, UpstreamError>> + Send;

    /// One pull request (`GET /pulls/{n}`): one stored as open that no listing brought back,
    /// with its ETag. `None` when it is unchanged since `etag` (`304`).
    fn pull_request(
        &self,
        full_name: &str,
        number: i64,
        etag: Option<&str>,
    ) -> impl Future<Output = Result<Option<(PullRequestNode, Option<String>)>, UpstreamError>> + Send;

    /// Every review of one pull request (`GET /pulls/{n}/reviews`).
    fn reviews(
        &self,
        full_name: &str,
        number: i64,
        next: Option<&str>,
    ) -> impl Future<Output = Result<Listing<ReviewNode>, UpstreamError>> + Send;

    /// Review comments (`pulls/comments`) updated at or after `since`, oldest update first.
    fn review_comments(
        &self,
        full_name: &str,
        since: i64,
        next: Option<&str>,
    ) -> impl Future<Output = Result<Listing<CommentItem>, UpstreamError>> + Send;

    /// Every conversation comment of one pull request (`GET /issues/{n}/comments`).
    fn pull_comments(
        &self,
        full_name: &str,
        number: i64,
        next: Option<&str>,
    ) -> impl Future<Output = Result<Listing<CommentItem>, UpstreamError>> + Send;

    /// Deployments with their latest status, newest first.
    fn deployments(
        &self,
        full_name: &str,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Connection<DeploymentItem>, UpstreamError>> + Send;

    /// Releases, newest first.
    fn releases(
        &self,
        full_name: &str,
        next: Option<&str>,
    ) -> impl Future<Output = Result<Listing<ReleaseItem>, UpstreamError>> + Send;
}

/// GitHub over HTTP: `base_url` is the REST root (`https://api.github.com`, or
/// `https://HOST/api/v3` on Enterprise Server); GraphQL is at `graphql_url`.
#[derive(Debug, Clone)]
pub struct GitHub {
    upstream: Upstream,
    base_url: String,
    graphql_url: String,
}

impl GitHub {
    pub fn new(upstream: Upstream, base_url: &str, graphql_url: Option<&str>) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let graphql_url =
            graphql_url.map(|u| u.trim_end_matches('/').to_owned()).unwrap_or_else(|| default_graphql(&base_url));
        Self { upstream, base_url, graphql_url }
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    pub fn graphql_url(&self) -> &str {
        &self.graphql_url
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<(T, Option<String>), UpstreamError> {
        match self.upstream.json::<T>(&Call::get(url)).await? {
            Some((value, headers)) => Ok((value, next_link(&headers))),
            None => Err(UpstreamError::Protocol("a 304 to a request without an ETag".into())),
        }
    }

    /// A REST listing's page: `next` when continuing, else `first`.
    async fn listing<T: serde::de::DeserializeOwned>(
        &self,
        first: String,
        next: Option<&str>,
    ) -> Result<(Vec<T>, Option<String>), UpstreamError> {
        let url = match next {
            Some(n) => self.same_origin(n)?,
            None => first,
        };
        self.get::<Vec<T>>(&url).await
    }

    /// A `next` link must stay on the source's own host: a link elsewhere would send the
    /// token there.
    fn same_origin(&self, link: &str) -> Result<String, UpstreamError> {
        let base = url::Url::parse(&self.base_url).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let next = url::Url::parse(link).map_err(|e| UpstreamError::Protocol(format!("a next link: {e}")))?;
        if next.origin() != base.origin() {
            return Err(UpstreamError::Protocol("a next link to another host".into()));
        }
        Ok(link.to_owned())
    }

    fn repo_url(&self, full_name: &str, rest: &str) -> String {
        format!("{}/repos/{}{rest}", self.base_url, full_name)
    }

    /// A GraphQL query; GitHub answers errors with `200` and an `errors` list.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, UpstreamError> {
        let body = json!({ "query": query, "variables": variables });
        let mut limits = 0;
        loop {
            let Some((answer, _)) = self.upstream.json::<Value>(&Call::post(&self.graphql_url, &body)).await? else {
                return Err(UpstreamError::Protocol("a 304 to a GraphQL query".into()));
            };
            let Some(errors) = answer.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) else {
                return Ok(answer["data"].clone());
            };
            // A spent GraphQL budget answers 200 with RATE_LIMITED: wait like for REST.
            if errors.iter().any(|e| e["type"] == "RATE_LIMITED") {
                self.upstream.limited(limits).await?;
                limits += 1;
                continue;
            }
            let messages: Vec<&str> = errors.iter().filter_map(|e| e["message"].as_str()).collect();
            if errors.iter().any(|e| e["type"] == "NOT_FOUND") {
                return Err(UpstreamError::NotFound(messages.join("; ")));
            }
            return Err(UpstreamError::Protocol(messages.join("; ")));
        }
    }
}

/// GraphQL's URL beside a REST root: `https://api.github.com/graphql`, and on Enterprise
/// Server `https://HOST/api/graphql` for `https://HOST/api/v3`.
fn default_graphql(base: &str) -> String {
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(headers: &super::header::HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"))
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// Epoch ms of an RFC 3339 time (GitHub's REST `Z` times and GraphQL's offsets alike).
pub fn instant(s: &str) -> Result<i64, UpstreamError> {
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| UpstreamError::Protocol(format!("a time {s:?}: {e}")))
}

fn opt_instant(v: &Value) -> Result<Option<i64>, UpstreamError> {
    v.as_str().map(instant).transpose()
}

fn login(actor: &Value) -> Option<String> {
    actor["login"].as_str().map(str::to_owned)
}

/// The ISO form GitHub takes for `since`.
fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

fn page_info(connection: &Value) -> (Option<String>, bool) {
    let info = &connection["pageInfo"];
    (info["endCursor"].as_str().map(str::to_owned), info["hasNextPage"].as_bool().unwrap_or(false))
}

fn nodes(connection: &Value) -> &[Value] {
    connection["nodes"].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn int(v: &Value, what: &str) -> Result<i64, UpstreamError> {
    v.as_i64().ok_or_else(|| UpstreamError::Protocol(format!("{what} is not a number")))
}

fn text(v: &Value, what: &str) -> Result<String, UpstreamError> {
    v.as_str().map(str::to_owned).ok_or_else(|| UpstreamError::Protocol(format!("{what} is not a string")))
}

/// What each repository's `history` page carries.
const HISTORY_PAGE: &str = "fragment Page on CommitHistoryConnection {
  pageInfo { hasNextPage endCursor }
  nodes {
    oid authoredDate committedDate additions deletions changedFilesIfAvailable
    parents { totalCount }
    author { email user { login } }
    associatedPullRequests(first: 10) { nodes { number } }
  }
}";

/// A query reading one `history` page of each of `n` repositories, aliased `r0`, `r1`, …
/// with variables `$o0`/`$n0`/`$a0` (owner, name, cursor) and so on.
fn histories_query(n: usize) -> String {
    let mut vars = String::from("$since: GitTimestamp!");
    let mut body = String::new();
    for i in 0..n {
        vars.push_str(&format!(", $o{i}: String!, $n{i}: String!, $a{i}: String"));
        body.push_str(&format!(
            "  r{i}: repository(owner: $o{i}, name: $n{i}) {{ defaultBranchRef {{ target {{ ... on Commit {{ \
             history(first: 100, since: $since, after: $a{i}) {{ ...Page }} }} }} }} }}\n"
        ));
    }
    format!("query({vars}) {{\n{body}  rateLimit {{ cost remaining resetAt }}\n}}\n{HISTORY_PAGE}")
}

const PULLS: &str = "query($owner: String!, $name: String!, $states: [PullRequestState!], $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after, states: $states, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number state createdAt updatedAt mergedAt closedAt additions deletions
        author { login }
        mergeCommit { oid }
        reviews(first: 100) {
          totalCount
          nodes { databaseId state submittedAt author { login } }
        }
        comments(first: 100) {
          totalCount
          nodes { databaseId createdAt updatedAt author { login } }
        }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}";

const DEPLOYMENTS: &str = "query($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    deployments(first: 100, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId environment createdAt commitOid
        ref { name }
        latestStatus { state createdAt }
      }
    }
  }
  rateLimit { cost remaining resetAt }
}";

impl GitHubApi for GitHub {
    fn tally(&self) -> &Tally {
        self.upstream.tally()
    }

    async fn viewer(&self) -> Result<String, UpstreamError> {
        let (user, _) = self.get::<Value>(&format!("{}/user", self.base_url)).await?;
        text(&user["login"], "the user's login")
    }

    async fn repository(&self, full_name: &str) -> Result<RepositoryInfo, UpstreamError> {
        Ok(self.get::<RepositoryInfo>(&self.repo_url(full_name, "")).await?.0)
    }

    async fn organization_repositories(
        &self,
        organization: &str,
        next: Option<&str>,
    ) -> Result<Listing<RepositoryInfo>, UpstreamError> {
        let first = format!("{}/orgs/{organization}/repos?per_page={PAGE}&sort=created&direction=asc", self.base_url);
        let (items, next) = self.listing(first, next).await?;
        Ok(Listing { items, next })
    }

    async fn histories(
        &self,
        since: i64,
        pages: &[(&str, Option<&str>)],
    ) -> Result<Vec<Option<Connection<HistoryCommit>>>, UpstreamError> {
        if pages.is_empty() {
            return Ok(Vec::new());
        }
        let mut vars = json!({ "since": iso(since) });
        for (i, (full_name, cursor)) in pages.iter().enumerate() {
            let (owner, name) = split(full_name)?;
            vars[format!("o{i}")] = json!(owner);
            vars[format!("n{i}")] = json!(name);
            vars[format!("a{i}")] = json!(cursor);
        }
        let data = self.graphql(&histories_query(pages.len()), vars).await?;
        pages
            .iter()
            .enumerate()
            .map(|(i, (full_name, _))| {
                let repo = &data[format!("r{i}")];
                if repo.is_null() {
                    return Err(UpstreamError::NotFound(format!("repository {full_name}")));
                }
                let reference = &repo["defaultBranchRef"];
                if reference.is_null() {
                    return Ok(None);
                }
                history_page(&reference["target"]["history"]).map(Some)
            })
            .collect()
    }

    async fn pull_requests(
        &self,
        full_name: &str,
        only_open: bool,
        cursor: Option<&str>,
    ) -> Result<Connection<PullRequestNode>, UpstreamError> {
        let (owner, name) = split(full_name)?;
        let states = if only_open { json!(["OPEN"]) } else { Value::Null };
        let data =
            self.graphql(PULLS, json!({ "owner": owner, "name": name, "states": states, "after": cursor })).await?;
        if data["repository"].is_null() {
            return Err(UpstreamError::NotFound(format!("repository {full_name}")));
        }
        let pulls = &data["repository"]["pullRequests"];
        let (end_cursor, has_next_page) = page_info(pulls);
        let nodes = nodes(pulls)
            .iter()
            .map(|p| {
                let number = int(&p["number"], "number")?;
                let reviews = nodes(&p["reviews"]).iter().map(review_node).collect::<Result<Vec<_>, _>>()?;
                let total = p["reviews"]["totalCount"].as_u64().unwrap_or(0);
                let comments =
                    nodes(&p["comments"]).iter().map(|c| comment_node(c, number)).collect::<Result<Vec<_>, _>>()?;
                let total_comments = p["comments"]["totalCount"].as_u64().unwrap_or(0);
                Ok(PullRequestNode {
                    number,
                    author_login: login(&p["author"]),
                    state: text(&p["state"], "state")?,
                    created_at: instant(p["createdAt"].as_str().unwrap_or_default())?,
                    updated_at: instant(p["updatedAt"].as_str().unwrap_or_default())?,
                    merged_at: opt_instant(&p["mergedAt"])?,
                    closed_at: opt_instant(&p["closedAt"])?,
                    additions: int(&p["additions"], "additions")?,
                    deletions: int(&p["deletions"], "deletions")?,
                    merge_commit: p["mergeCommit"]["oid"].as_str().map(str::to_owned),
                    more_reviews: total > reviews.len() as u64,
                    reviews,
                    more_comments: total_comments > comments.len() as u64,
                    comments,
                })
            })
            .collect::<Result<_, UpstreamError>>()?;
        Ok(Connection { nodes, end_cursor, has_next_page })
    }

    async fn pull_request(
        &self,
        full_name: &str,
        number: i64,
        etag: Option<&str>,
    ) -> Result<Option<(PullRequestNode, Option<String>)>, UpstreamError> {
        let url = self.repo_url(full_name, &format!("/pulls/{number}"));
        let Some((p, headers)) = self.upstream.json::<Value>(&Call::get(&url).if_none_match(etag)).await? else {
            return Ok(None);
        };
        let etag = headers.get(super::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let merged_at = opt_instant(&p["merged_at"])?;
        let state = match (text(&p["state"], "state")?.as_str(), merged_at) {
            ("open", _) => "OPEN",
            (_, Some(_)) => "MERGED",
            _ => "CLOSED",
        };
        let node = PullRequestNode {
            number: int(&p["number"], "number")?,
            author_login: login(&p["user"]),
            state: state.to_owned(),
            created_at: instant(p["created_at"].as_str().unwrap_or_default())?,
            updated_at: instant(p["updated_at"].as_str().unwrap_or_default())?,
            merged_at,
            closed_at: opt_instant(&p["closed_at"])?,
            additions: int(&p["additions"], "additions")?,
            deletions: int(&p["deletions"], "deletions")?,
            merge_commit: p["merge_commit_sha"].as_str().filter(|_| merged_at.is_some()).map(str::to_owned),
            reviews: Vec::new(),
            more_reviews: true,
            comments: Vec::new(),
            more_comments: true,
        };
        Ok(Some((node, etag)))
    }

    async fn reviews(
        &self,
        full_name: &str,
        number: i64,
        next: Option<&str>,
    ) -> Result<Listing<ReviewNode>, UpstreamError> {
        let first = self.repo_url(full_name, &format!("/pulls/{number}/reviews?per_page={PAGE}"));
        let (raw, next) = self.listing::<Value>(first, next).await?;
        let items = raw
            .iter()
            .map(|r| {
                Ok(ReviewNode {
                    id: r["id"]
                        .as_i64()
                        .map(|i| i.to_string())
                        .ok_or_else(|| UpstreamError::Protocol("a review id".into()))?,
                    author_login: login(&r["user"]),
                    state: text(&r["state"], "state")?,
                    submitted_at: opt_instant(&r["submitted_at"])?,
                })
            })
            .collect::<Result<_, UpstreamError>>()?;
        Ok(Listing { items, next })
    }

    async fn review_comments(
        &self,
        full_name: &str,
        since: i64,
        next: Option<&str>,
    ) -> Result<Listing<CommentItem>, UpstreamError> {
        let first = self.repo_url(
            full_name,
            &format!("/pulls/comments?since={}&sort=updated&direction=asc&per_page={PAGE}", iso(since)),
        );
        let (raw, next) = self.listing::<Value>(first, next).await?;
        let items = raw.iter().map(|c| comment_item(c, "pull_request_url")).collect::<Result<_, _>>()?;
        Ok(Listing { items, next })
    }

    async fn pull_comments(
        &self,
        full_name: &str,
        number: i64,
        next: Option<&str>,
    ) -> Result<Listing<CommentItem>, UpstreamError> {
        let first = self.repo_url(full_name, &format!("/issues/{number}/comments?per_page={PAGE}"));
        let (raw, next) = self.listing::<Value>(first, next).await?;
        let items = raw.iter().map(|c| comment_item(c, "issue_url")).collect::<Result<_, _>>()?;
        Ok(Listing { items, next })
    }

    async fn deployments(
        &self,
        full_name: &str,
        cursor: Option<&str>,
    ) -> Result<Connection<DeploymentItem>, UpstreamError> {
        let (owner, name) = split(full_name)?;
        let data = self.graphql(DEPLOYMENTS, json!({ "owner": owner, "name": name, "after": cursor })).await?;
        if data["repository"].is_null() {
            return Err(UpstreamError::NotFound(format!("repository {full_name}")));
        }
        let deployments = &data["repository"]["deployments"];
        let (end_cursor, has_next_page) = page_info(deployments);
        let nodes = nodes(deployments)
            .iter()
            .map(|d| {
                let status = &d["latestStatus"];
                Ok(DeploymentItem {
                    id: d["databaseId"]
                        .as_i64()
                        .map(|i| i.to_string())
                        .ok_or_else(|| UpstreamError::Protocol("a deployment's databaseId".into()))?,
                    environment: d["environment"].as_str().unwrap_or_default().to_owned(),
                    sha: text(&d["commitOid"], "commitOid")?,
                    git_ref: d["ref"]["name"].as_str().map(str::to_owned),
                    created_at: instant(d["createdAt"].as_str().unwrap_or_default())?,
                    status: status["state"].as_str().map(str::to_lowercase),
                    status_at: opt_instant(&status["createdAt"])?,
                })
            })
            .collect::<Result<_, UpstreamError>>()?;
        Ok(Connection { nodes, end_cursor, has_next_page })
    }

    async fn releases(&self, full_name: &str, next: Option<&str>) -> Result<Listing<ReleaseItem>, UpstreamError> {
        let first = self.repo_url(full_name, &format!("/releases?per_page={PAGE}"));
        let (raw, next) = self.listing::<Value>(first, next).await?;
        let items = raw
            .iter()
            .map(|r| {
                Ok(ReleaseItem {
                    id: r["id"]
                        .as_i64()
                        .map(|i| i.to_string())
                        .ok_or_else(|| UpstreamError::Protocol("a release id".into()))?,
                    tag_name: text(&r["tag_name"], "tag_name")?,
                    name: r["name"].as_str().map(str::to_owned),
                    created_at: instant(r["created_at"].as_str().unwrap_or_default())?,
                    published_at: opt_instant(&r["published_at"])?,
                    draft: r["draft"].as_bool().unwrap_or(false),
                    prerelease: r["prerelease"].as_bool().unwrap_or(false),
                })
            })
            .collect::<Result<_, UpstreamError>>()?;
        Ok(Listing { items, next })
    }
}

fn split(full_name: &str) -> Result<(&str, &str), UpstreamError> {
    full_name
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| UpstreamError::NotFound(format!("repository {full_name:?} (owner/name)")))
}

/// One repository's `history` page.
fn history_page(history: &Value) -> Result<Connection<HistoryCommit>, UpstreamError> {
    let (end_cursor, has_next_page) = page_info(history);
    let commits = nodes(history)
        .iter()
        .map(|n| {
            Ok(HistoryCommit {
                oid: text(&n["oid"], "oid")?,
                authored_at: instant(n["authoredDate"].as_str().unwrap_or_default())?,
                committed_at: instant(n["committedDate"].as_str().unwrap_or_default())?,
                additions: int(&n["additions"], "additions")?,
                deletions: int(&n["deletions"], "deletions")?,
                changed_files: n["changedFilesIfAvailable"].as_i64(),
                parent_count: int(&n["parents"]["totalCount"], "parents.totalCount")?,
                author_email: n["author"]["email"].as_str().filter(|e| !e.is_empty()).map(str::to_owned),
                author_login: login(&n["author"]["user"]),
                pull_requests: nodes(&n["associatedPullRequests"])
                    .iter()
                    .filter_map(|p| p["number"].as_i64())
                    .collect(),
            })
        })
        .collect::<Result<_, UpstreamError>>()?;
    Ok(Connection { nodes: commits, end_cursor, has_next_page })
}

/// A conversation comment of pull request `number`, nested in its GraphQL node.
fn comment_node(c: &Value, number: i64) -> Result<CommentItem, UpstreamError> {
    Ok(CommentItem {
        id: c["databaseId"]
            .as_i64()
            .map(|i| i.to_string())
            .ok_or_else(|| UpstreamError::Protocol("a comment's databaseId".into()))?,
        number,
        author_login: login(&c["author"]),
        created_at: instant(c["createdAt"].as_str().unwrap_or_default())?,
        updated_at: instant(c["updatedAt"].as_str().unwrap_or_default())?,
    })
}

fn review_node(r: &Value) -> Result<ReviewNode, UpstreamError> {
    Ok(ReviewNode {
        id: r["databaseId"]
            .as_i64()
            .map(|i| i.to_string())
            .ok_or_else(|| UpstreamError::Protocol("a review's databaseId".into()))?,
        author_login: login(&r["author"]),
        state: text(&r["state"], "state")?,
        submitted_at: opt_instant(&r["submittedAt"])?,
    })
}

/// A comment of a REST listing; its pull request's (or issue's) number is the last segment
/// of `url_field`.
fn comment_item(c: &Value, url_field: &str) -> Result<CommentItem, UpstreamError> {
    let number = c[url_field]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| UpstreamError::Protocol(format!("a comment's {url_field}")))?;
    Ok(CommentItem {
        id: c["id"].as_i64().map(|i| i.to_string()).ok_or_else(|| UpstreamError::Protocol("a comment id".into()))?,
        number,
        author_login: login(&c["user"]),
        created_at: instant(c["created_at"].as_str().unwrap_or_default())?,
        updated_at: instant(c["updated_at"].as_str().unwrap_or_default())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_beside_the_rest_root() {
        assert_eq!(default_graphql("https://api.github.com"), "https://api.github.com/graphql");
        assert_eq!(default_graphql("https://ghe.acme.test/api/v3"), "https://ghe.acme.test/api/graphql");
    }

    #[test]
    fn the_next_link_of_a_link_header() {
        let mut h = super::super::header::HeaderMap::new();
        h.insert(
            "link",
            "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=9>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://api.github.com/x?page=2"));
        h.insert("link", "<https://api.github.com/x?page=1>; rel=\"first\"".parse().unwrap());
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn times_with_offsets_and_in_utc() {
        assert_eq!(instant("2026-01-05T09:30:00Z").unwrap(), instant("2026-01-05T10:30:00+01:00").unwrap());
        assert!(instant("yesterday").is_err());
    }
}
