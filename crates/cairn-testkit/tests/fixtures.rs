//! The GitHub and Jira fixture servers, exercised over HTTP the way a collector uses them.

use std::time::Duration;

use base64::Engine;
use cairn_testkit::fixtures::{
    Fault, GitHubServer, GitHubWorld, JiraServer, JiraWorld, NewCommit, NewIssue, NewPull, OrgSize, ReviewState,
};
use serde_json::{Value, json};

const END: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const H: i64 = 3_600_000;

fn client() -> reqwest::Client {
    cairn_testkit::http_client().build().expect("client")
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn next_link(r: &reqwest::Response) -> Option<String> {
    header(r, "link")
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .map(|l| l[1..l.find('>').expect("<url>")].to_owned())
}

async fn gh_get(url: &str) -> reqwest::Response {
    client().get(url).bearer_auth("t0ken").send().await.expect("request")
}

/// Every page of a REST listing, following `Link: rel="next"`.
async fn gh_all(first: &str) -> (Vec<Value>, usize) {
    let mut url = Some(first.to_owned());
    let mut items = Vec::new();
    let mut pages = 0;
    while let Some(u) = url {
        let r = gh_get(&u).await;
        assert_eq!(r.status(), 200, "{u}");
        url = next_link(&r);
        items.extend(r.json::<Vec<Value>>().await.expect("array"));
        pages += 1;
    }
    (items, pages)
}

async fn graphql(gh: &GitHubServer, query: &str, variables: Value) -> (reqwest::StatusCode, Value) {
    let r = client()
        .post(&gh.graphql_url)
        .bearer_auth("t0ken")
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("request");
    (r.status(), r.json().await.expect("JSON"))
}

fn small_github() -> GitHubWorld {
    GitHubWorld::organization_until(3, OrgSize::Small, END)
}

#[tokio::test]
async fn github_rest_pages_reach_the_last_page_and_match_the_world() {
    let world = small_github();
    let repo = world.repositories()[0].clone();
    let expected = world.branch_commits(&repo, "main");
    let gh = GitHubServer::start(world).await;

    let first = gh_get(&format!("{}/repos/{repo}/commits?per_page=100", gh.base_url)).await;
    assert!(header(&first, "link").contains("rel=\"last\""), "the first page names the last");
    assert_eq!(header(&first, "x-ratelimit-resource"), "core");
    assert_eq!(header(&first, "x-ratelimit-limit"), "5000");
    let (commits, pages) = gh_all(&format!("{}/repos/{repo}/commits?per_page=100", gh.base_url)).await;
    let shas: Vec<&str> = commits.iter().map(|c| c["sha"].as_str().expect("sha")).collect();
    assert_eq!(shas, expected, "every page in git-log order, nothing twice");
    assert_eq!(pages, expected.len().div_ceil(100));
    let c = &commits[0];
    assert!(c["commit"]["author"]["date"].as_str().expect("date").ends_with('Z'));
    assert!(c["parents"].as_array().expect("parents").len() <= 2);
    assert!(c.get("stats").is_none(), "a listing carries no line stats");

    // One commit carries stats and files.
    let one: Value =
        gh_get(&format!("{}/repos/{repo}/commits/{}", gh.base_url, expected[5])).await.json().await.expect("JSON");
    let stats = &one["stats"];
    assert_eq!(stats["total"], json!(stats["additions"].as_u64().unwrap() + stats["deletions"].as_u64().unwrap()));
    let files = one["files"].as_array().expect("files");
    assert_eq!(
        files.iter().map(|f| f["additions"].as_u64().unwrap()).sum::<u64>(),
        stats["additions"].as_u64().unwrap()
    );

    // since/until filter by committer date.
    let since = "2025-12-01T00:00:00Z";
    let (recent, _) = gh_all(&format!("{}/repos/{repo}/commits?per_page=50&since={since}", gh.base_url)).await;
    assert!(!recent.is_empty() && recent.len() < commits.len());
    assert!(recent.iter().all(|c| c["commit"]["committer"]["date"].as_str().unwrap() >= since));

    // Pull requests by update, newest first, to the last page.
    let (pulls, _) =
        gh_all(&format!("{}/repos/{repo}/pulls?state=all&sort=updated&direction=desc&per_page=30", gh.base_url)).await;
    let numbers = gh.read(|w| w.pull_numbers(&repo));
    assert_eq!(pulls.len(), numbers.len());
    let updated: Vec<&str> = pulls.iter().map(|p| p["updated_at"].as_str().unwrap()).collect();
    assert!(updated.windows(2).all(|w| w[0] >= w[1]), "sorted by updated_at desc");
    assert!(pulls.iter().any(|p| p["state"] == "open"), "the newest pull request is still open");
    assert!(pulls.iter().any(|p| !p["merged_at"].is_null()));

    // Reviews, review comments with replies, conversation comments linked by issue_url.
    let merged = pulls.iter().find(|p| !p["merged_at"].is_null()).unwrap();
    let n = merged["number"].as_u64().unwrap();
    let reviews: Vec<Value> =
        gh_get(&format!("{}/repos/{repo}/pulls/{n}/reviews", gh.base_url)).await.json().await.unwrap();
    assert_eq!(reviews[0]["state"], "APPROVED");
    let (review_comments, _) = gh_all(&format!(
        "{}/repos/{repo}/pulls/comments?since=2025-01-01T00:00:00Z&sort=created&direction=asc&per_page=100",
        gh.base_url
    ))
    .await;
    let (issue_comments, _) =
        gh_all(&format!("{}/repos/{repo}/issues/comments?since=2025-01-01T00:00:00Z&per_page=100", gh.base_url)).await;
    assert_eq!(review_comments.len() + issue_comments.len(), gh.read(|w| w.comment_count(&repo)));
    assert!(review_comments.iter().any(|c| c.get("in_reply_to_id").is_some()), "replies name their thread");
    let ic = &issue_comments[0];
    let linked: u64 = ic["issue_url"].as_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
    assert!(numbers.contains(&linked), "issue_url names the pull request's number");

    // Associated pull requests of a commit in a merged pull request.
    let full: Value = gh_get(&format!("{}/repos/{repo}/pulls/{n}", gh.base_url)).await.json().await.unwrap();
    assert_eq!(full["merged"], true);
    let merge_sha = merged["merge_commit_sha"].as_str().unwrap();
    let assoc: Vec<Value> =
        gh_get(&format!("{}/repos/{repo}/commits/{merge_sha}/pulls", gh.base_url)).await.json().await.unwrap();
    assert_eq!(assoc[0]["number"], json!(n));

    let (deployments, _) = gh_all(&format!("{}/repos/{repo}/deployments?per_page=100", gh.base_url)).await;
    assert!(deployments.iter().all(|d| d["environment"] == "production"));
    let (releases, _) = gh_all(&format!("{}/repos/{repo}/releases", gh.base_url)).await;
    assert!(!releases.is_empty());
    let (repos, _) = gh_all(&format!("{}/orgs/acme/repos?per_page=3", gh.base_url)).await;
    assert_eq!(repos.len(), 4);
    assert_eq!(repos[0]["default_branch"], "main");
}

#[tokio::test]
async fn github_answers_bad_credentials_and_unknown_repositories_as_github() {
    let gh = GitHubServer::start(small_github()).await;
    let r = client().get(format!("{}/user", gh.base_url)).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
    assert!(body["documentation_url"].is_string());
    let me: Value = gh_get(&format!("{}/user", gh.base_url)).await.json().await.unwrap();
    assert_eq!(me["login"], "cairn-bot");
    let r = gh_get(&format!("{}/repos/acme/nope", gh.base_url)).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["message"], "Not Found");
    let r = gh_get(&format!("{}/repos/acme/service-000/commits/0000000000000000000000000000000000000000", gh.base_url))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(gh.count_status(401), 1);
}

#[tokio::test]
async fn github_304_answers_from_the_etag_without_spending_the_limit() {
    let gh = GitHubServer::start(small_github()).await;
    let url = format!("{}/repos/acme/service-001", gh.base_url);
    let first = gh_get(&url).await;
    let etag = header(&first, "etag").to_owned();
    let remaining: u64 = header(&first, "x-ratelimit-remaining").parse().unwrap();
    assert!(etag.starts_with("W/\""));
    let again = client().get(&url).bearer_auth("t0ken").header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "x-ratelimit-remaining").parse::<u64>().unwrap(), remaining, "a 304 costs nothing");
    // The world changes: the ETag no longer matches.
    gh.world(|w| {
        w.commit("acme/service-001", NewCommit::on("main").by_email("Ops", "ops@acme.test").at_ms(END + H));
    });
    let changed = client().get(&url).bearer_auth("t0ken").header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(header(&changed, "x-ratelimit-remaining").parse::<u64>().unwrap(), remaining - 1);
}

#[tokio::test]
async fn github_faults_come_back_as_scripted() {
    let gh = GitHubServer::start(small_github()).await;
    let url = format!("{}/repos/acme/service-000/commits", gh.base_url);

    // Secondary limit: 403 with retry-after, and again until it has elapsed.
    gh.fault_on("/repos/acme/service-000/commits", Fault::RetryAfter { status: 403, seconds: 1 });
    let r = gh_get(&url).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "retry-after"), "1");
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("secondary rate limit"));
    assert_eq!(gh_get(&url).await.status(), 403, "too early: still limited");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(gh_get(&url).await.status(), 200);

    // 429 flavour of the secondary limit.
    gh.fault(Fault::RetryAfter { status: 429, seconds: 1 });
    assert_eq!(gh_get(&url).await.status(), 429);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Primary limit: 403, remaining 0, a reset a second or two ahead.
    gh.fault(Fault::PrimaryLimit { reset_in: Duration::from_secs(1) });
    let r = gh_get(&url).await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "x-ratelimit-remaining"), "0");
    let reset: i64 = header(&r, "x-ratelimit-reset").parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now + 1..=now + 2).contains(&reset), "reset {reset} vs now {now}");
    // The clock is read after each answer: one read before the reset was answered before it
    // (reading it first raced the reset).
    loop {
        let status = gh_get(&url).await.status();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        if now >= reset {
            break;
        }
        assert_eq!(status, 403, "before the reset");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(gh_get(&url).await.status(), 200, "after the reset the budget is back");

    // A 502, then a stalled answer a short-timeout client gives up on.
    gh.fault(Fault::Status(502));
    assert_eq!(gh_get(&url).await.status(), 502);
    gh.fault(Fault::Stall(Duration::from_secs(2)));
    let timed_out = client().get(&url).bearer_auth("t0ken").timeout(Duration::from_millis(300)).send().await;
    assert!(timed_out.unwrap_err().is_timeout());
    assert_eq!(gh.faults_pending(), 0);

    // A spent budget answers as the primary limit on its own.
    gh.set_rate_limit(2);
    assert_eq!(gh_get(&url).await.status(), 200);
    assert_eq!(gh_get(&url).await.status(), 200);
    let spent = gh_get(&url).await;
    assert_eq!(spent.status(), 403);
    assert_eq!(header(&spent, "x-ratelimit-remaining"), "0");
    assert!(gh.count("/repos/acme/service-000/commits") >= 10);
}

const HISTORY: &str = r#"
query History($owner: String!, $name: String!, $since: GitTimestamp, $until: GitTimestamp, $after: String) {
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      target {
        ... on Commit {
          history(since: $since, until: $until, first: 100, after: $after) {
            nodes {
              oid authoredDate committedDate additions deletions changedFilesIfAvailable
              parents { totalCount }
              author { email user { login } }
              associatedPullRequests(first: 5) { nodes { number } }
            }
            pageInfo { hasNextPage endCursor }
          }
        }
      }
    }
  }
  rateLimit { remaining resetAt cost }
}"#;

#[tokio::test]
async fn github_graphql_answers_the_selection_asked_and_pages_by_cursor() {
    let world = small_github();
    let expected = world.branch_commits("acme/service-000", "main");
    let gh = GitHubServer::start(world).await;
    let mut after = Value::Null;
    let mut oids = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = graphql(
            &gh,
            HISTORY,
            json!({"owner": "acme", "name": "service-000", "since": "2020-01-01T00:00:00Z", "after": after}),
        )
        .await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        pages += 1;
        let history = &body["data"]["repository"]["defaultBranchRef"]["target"]["history"];
        for n in history["nodes"].as_array().unwrap() {
            let keys: Vec<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 9, "exactly the fields asked: {keys:?}");
            assert!(n["author"]["email"].is_string());
            oids.push(n["oid"].as_str().unwrap().to_owned());
        }
        let rl = &body["data"]["rateLimit"];
        assert_eq!(rl["cost"], 1, "100 commits with their pull requests cost one point");
        assert!(rl["resetAt"].as_str().unwrap().ends_with('Z'));
        if history["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = history["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(oids, expected);
    assert_eq!(pages, expected.len().div_ceil(100));

    // The same commit's pull requests through REST and GraphQL agree.
    let q = r#"query($o: String!, $n: String!, $oid: GitObjectID) { repository(owner: $o, name: $n) { object(oid: $oid) { ... on Commit { oid associatedPullRequests(first: 5) { nodes { number state mergedAt } } parents(first: 2) { totalCount } } } } }"#;
    let merge = &expected[0];
    let (_, body) = graphql(&gh, q, json!({"o": "acme", "n": "service-000", "oid": merge})).await;
    let rest: Vec<Value> =
        gh_get(&format!("{}/repos/acme/service-000/commits/{merge}/pulls", gh.base_url)).await.json().await.unwrap();
    let gql: Vec<u64> = body["data"]["repository"]["object"]["associatedPullRequests"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["number"].as_u64().unwrap())
        .collect();
    assert_eq!(gql, rest.iter().map(|p| p["number"].as_u64().unwrap()).collect::<Vec<_>>());

    // Pull requests with reviews and comments, and aliases and __typename.
    let q = r#"{ repo: repository(owner: "acme", name: "service-000") { pullRequests(first: 2, states: [MERGED], orderBy: {field: UPDATED_AT, direction: DESC}) {
        totalCount nodes { number state author { login __typename } reviews(first: 5) { nodes { state submittedAt } } comments(first: 10) { totalCount } } } } }"#;
    let (_, body) = graphql(&gh, q, json!({})).await;
    let prs = &body["data"]["repo"]["pullRequests"];
    assert_eq!(prs["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(prs["nodes"][0]["state"], "MERGED");
    assert_eq!(prs["nodes"][0]["author"]["__typename"], "User");
}

#[tokio::test]
async fn github_graphql_refuses_what_github_refuses() {
    let gh = GitHubServer::start(small_github()).await;
    let (status, body) =
        graphql(&gh, r#"{ repository(owner: "acme", name: "service-000") { nameWithOwner stars } }"#, json!({})).await;
    assert_eq!(status, 200);
    assert!(body.get("data").is_none());
    let e = &body["errors"][0];
    assert_eq!(e["message"], "Field 'stars' doesn't exist on type 'Repository'");
    assert_eq!(e["extensions"]["code"], "undefinedField");
    assert_eq!(e["path"], json!(["query", "repository", "stars"]));
    assert_eq!(e["locations"][0]["line"], 1);

    let (_, body) = graphql(&gh, r#"{ repository(owner: "acme", name: "service-000") { defaultBranchRef { target { ... on Commit { history { totalCount } } } } } }"#, json!({})).await;
    assert!(body.get("errors").is_none(), "totalCount alone needs no page size: {body}");
    let (_, body) = graphql(&gh, r#"{ repository(owner: "acme", name: "service-000") { defaultBranchRef { target { ... on Commit { history { nodes { oid } } } } } } }"#, json!({})).await;
    assert_eq!(body["errors"][0]["type"], "MISSING_PAGINATION_BOUNDARIES");
    let (_, body) = graphql(
        &gh,
        r#"{ repository(owner: "acme", name: "service-000") { pullRequests(first: 101) { totalCount } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(body["errors"][0]["type"], "EXCESSIVE_PAGINATION");
    let (_, body) = graphql(&gh, r#"{ repository(owner: "acme", name: "nope") { name } }"#, json!({})).await;
    assert_eq!(body["data"]["repository"], Value::Null);
    assert_eq!(body["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "Could not resolve to a Repository with the name 'acme/nope'.");
    let (_, body) = graphql(&gh, "query($o: String!) { repository(owner: $o, name: \"x\") { name } }", json!({})).await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("$o"));

    // The primary limit on GraphQL: still 200, a RATE_LIMITED error, remaining 0.
    gh.fault_on("/graphql", Fault::PrimaryLimit { reset_in: Duration::from_secs(1) });
    let r = client()
        .post(&gh.graphql_url)
        .bearer_auth("t0ken")
        .json(&json!({"query": "{ rateLimit { remaining } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-remaining"), "0");
    assert_eq!(header(&r, "x-ratelimit-resource"), "graphql");
    assert_eq!(r.json::<Value>().await.unwrap()["errors"][0]["type"], "RATE_LIMITED");
}

#[tokio::test]
async fn github_world_changes_show_in_the_next_answers() {
    let mut w = GitHubWorld::new("t0ken");
    w.user("alice", "Alice Novak", "alice@acme.test");
    w.user("bob", "Bob Horvat", "bob@acme.test");
    w.add_organization("acme");
    w.repository("acme/api", "main");
    let base = w.commit("acme/api", NewCommit::on("main").by("alice").at_ms(END - 10 * 24 * H).lines(10, 0, 1));
    w.branch("acme/api", "feature", &base);
    let feature = w.commit("acme/api", NewCommit::on("feature").by("bob").at_ms(END - 9 * 24 * H).lines(5, 1, 1));
    let pr = w.pull_request("acme/api", NewPull::from_branch("feature", "bob", END - 9 * 24 * H));
    w.review("acme/api", pr, "alice", ReviewState::Approved, END - 8 * 24 * H);
    let root = w.review_comment("acme/api", pr, "alice", END - 8 * 24 * H, None);
    w.review_comment("acme/api", pr, "bob", END - 8 * 24 * H + H, Some(root));
    let direct =
        w.commit("acme/api", NewCommit::on("main").by_email("Alice", "alice@laptop.local").at_ms(END - 5 * 24 * H));
    let gh = GitHubServer::start_enterprise(w).await;
    assert!(gh.base_url.ends_with("/api/v3") && gh.graphql_url.ends_with("/api/graphql"));

    let list = |gh: GitHubServer| async move {
        let (c, _) = gh_all(&format!("{}/repos/acme/api/commits?per_page=100", gh.base_url)).await;
        c.iter().map(|c| c["sha"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(
        list(gh.clone()).await,
        vec![direct.clone(), base.clone()],
        "the open pull request's commit is not on main"
    );
    let open: Vec<Value> =
        gh_get(&format!("{}/repos/acme/api/commits/{feature}/pulls", gh.base_url)).await.json().await.unwrap();
    assert_eq!(open[0]["number"], json!(pr), "an open pull request is associated with a commit off the default branch");
    let c: Value = gh_get(&format!("{}/repos/acme/api/commits/{direct}", gh.base_url)).await.json().await.unwrap();
    assert_eq!(c["author"], Value::Null, "an email GitHub links to nobody has no author user");

    // Merged today, carrying last week's commit.
    let merge = gh.world(|w| w.merge_pull("acme/api", pr, "alice", END));
    let after = list(gh.clone()).await;
    assert_eq!(after[0], merge);
    assert!(after.contains(&feature));
    let assoc: Vec<Value> =
        gh_get(&format!("{}/repos/acme/api/commits/{feature}/pulls", gh.base_url)).await.json().await.unwrap();
    assert!(!assoc[0]["merged_at"].is_null());

    // A force-push takes the merge and its commits off main.
    gh.world(|w| w.force_push("acme/api", "main", Some(&direct)));
    assert_eq!(list(gh.clone()).await, vec![direct.clone(), base.clone()]);
    gh.world(|w| w.delete_comment("acme/api", root));
    let (comments, _) = gh_all(&format!("{}/repos/acme/api/pulls/comments", gh.base_url)).await;
    assert_eq!(comments.len(), 1);
}

// ---- Jira ----

fn jira_auth(email: &str, token: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}")))
}

async fn jira_get(j: &JiraServer, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", j.base_url))
        .header("authorization", jira_auth("bot@acme.test", "t0ken"))
        .send()
        .await
        .expect("request")
}

async fn jira_json(j: &JiraServer, path: &str) -> Value {
    let r = jira_get(j, path).await;
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("JSON")
}

fn small_jira() -> JiraWorld {
    JiraWorld::organization_until(3, OrgSize::Small, END)
}

#[tokio::test]
async fn jira_answers_credentials_fields_boards_and_sprints() {
    let jira = JiraServer::start(small_jira()).await;
    let r = client()
        .get(format!("{}/rest/api/3/myself", jira.base_url))
        .header("authorization", jira_auth("bot@acme.test", "nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), "Client must be authenticated to access this resource.");
    let me = jira_json(&jira, "/rest/api/3/myself").await;
    assert_eq!(me["emailAddress"], "bot@acme.test");
    let fields = jira_json(&jira, "/rest/api/3/field").await;
    let points =
        fields.as_array().unwrap().iter().find(|f| f["name"] == "Story point estimate").expect("story points field");
    assert_eq!(points["id"], "customfield_10016");
    assert_eq!(points["custom"], true);
    // Every status of the workflow, with its category.
    let statuses = jira_json(&jira, "/rest/api/3/status").await;
    let categories: Vec<(&str, &str)> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["statusCategory"]["key"].as_str().unwrap()))
        .collect();
    assert_eq!(
        categories,
        [("To Do", "new"), ("In Progress", "indeterminate"), ("In Review", "indeterminate"), ("Done", "done")]
    );

    // Boards, one a page, to the last.
    let mut start = 0;
    let mut boards = Vec::new();
    loop {
        let page = jira_json(&jira, &format!("/rest/agile/1.0/board?startAt={start}&maxResults=1")).await;
        boards.extend(page["values"].as_array().unwrap().iter().map(|b| b["id"].as_u64().unwrap()));
        if page["isLast"] == true {
            break;
        }
        start += 1;
    }
    assert_eq!(boards, jira.read(|w| w.board_ids()));
    assert_eq!(jira_get(&jira, "/rest/agile/1.0/board/99").await.status(), 404);

    // Sprints by state, paged.
    let board = boards[0];
    let mut start = 0;
    let mut sprints = Vec::new();
    loop {
        let page = jira_json(
            &jira,
            &format!("/rest/agile/1.0/board/{board}/sprint?state=active,closed,future&startAt={start}&maxResults=4"),
        )
        .await;
        for s in page["values"].as_array().unwrap() {
            sprints.push(s.clone());
        }
        if page["isLast"] == true {
            break;
        }
        start += 4;
    }
    assert_eq!(sprints.len(), jira.read(|w| w.sprint_ids(board).len()));
    assert_eq!(sprints.iter().filter(|s| s["state"] == "active").count(), 1);
    assert_eq!(sprints.iter().filter(|s| s["state"] == "future").count(), 1);
    let closed = sprints.iter().find(|s| s["state"] == "closed").unwrap();
    assert!(closed["completeDate"].as_str().unwrap().ends_with('Z'));
    let only_active = jira_json(&jira, &format!("/rest/agile/1.0/board/{board}/sprint?state=active")).await;
    assert_eq!(only_active["values"].as_array().unwrap().len(), 1);
    assert_eq!(jira_get(&jira, &format!("/rest/agile/1.0/board/{board}/sprint?state=open")).await.status(), 400);

    // A sprint's issues carry the sprint field and at most 20 worklogs.
    let sid = closed["id"].as_u64().unwrap();
    let issues = jira_json(&jira, &format!("/rest/agile/1.0/sprint/{sid}/issue?maxResults=50")).await;
    let first = &issues["issues"][0];
    assert!(first["fields"]["customfield_10020"].as_array().unwrap().iter().any(|s| s["id"] == json!(sid)));
    assert!(issues["total"].as_u64().unwrap() >= issues["issues"].as_array().unwrap().len() as u64);
}

#[tokio::test]
async fn jira_search_pages_by_token_and_refuses_jql_it_does_not_know() {
    let world = small_jira();
    let total = world.issue_keys().len();
    let jira = JiraServer::start(world).await;
    let (project, issues_in_project) = jira.read(|w| {
        let key = w.project_keys()[0].clone();
        let n = w.issue_keys().iter().filter(|k| k.starts_with(&format!("{key}-"))).count();
        (key, n)
    });
    let jql = format!("project = {project} AND updated >= \"2020-01-01 00:00\" ORDER BY updated ASC");
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut url = reqwest::Url::parse(&format!("{}/rest/api/3/search/jql", jira.base_url)).unwrap();
        url.query_pairs_mut()
            .append_pair("jql", &jql)
            .append_pair("maxResults", "40")
            .append_pair("fields", "summary,status,updated,customfield_10016,worklog")
            .append_pair("expand", "changelog");
        if let Some(t) = &token {
            url.query_pairs_mut().append_pair("nextPageToken", t);
        }
        let page: Value = client()
            .get(url)
            .header("authorization", jira_auth("bot@acme.test", "t0ken"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for i in page["issues"].as_array().unwrap() {
            let f = i["fields"].as_object().unwrap();
            assert!(
                f.keys()
                    .all(|k| ["summary", "status", "updated", "customfield_10016", "worklog"].contains(&k.as_str())),
                "only the fields asked: {:?}",
                f.keys()
            );
            assert!(i["changelog"]["histories"].is_array());
            seen.push(i["fields"]["updated"].as_str().unwrap().to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => {
                assert_eq!(page["isLast"], true);
                break;
            }
        }
    }
    assert_eq!(seen.len(), issues_in_project);
    assert!(seen.len() < total);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "ORDER BY updated ASC");

    // Without fields, an issue is its id.
    let ids = jira_json(&jira, &format!("/rest/api/3/search/jql?jql=project%20%3D%20{project}&maxResults=5")).await;
    assert!(ids["issues"][0].get("fields").is_none());
    assert!(ids["issues"][0]["id"].is_string());

    for bad in ["project = X OR project = Y", "labels = ops", "updated >= \"last tuesday\"", "project = NOPE"] {
        let mut url = reqwest::Url::parse(&format!("{}/rest/api/3/search/jql", jira.base_url)).unwrap();
        url.query_pairs_mut().append_pair("jql", bad);
        let r = client().get(url).header("authorization", jira_auth("bot@acme.test", "t0ken")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert!(body["errorMessages"][0].is_string(), "{bad}: {body}");
    }
    assert_eq!(jira_get(&jira, "/rest/api/3/search?jql=project%3DX").await.status(), 410, "the old search is gone");
}

#[tokio::test]
async fn jira_worklogs_changelogs_late_changes_and_deletions() {
    let mut w = JiraWorld::new("bot@acme.test", "t0ken");
    w.user("acc-alice", "Alice Novak", "alice@acme.test");
    w.project("PLAT", "Platform");
    let board = w.board("Platform board", "PLAT");
    let s1 = w.sprint(board, "PLAT Sprint 1", END - 14 * 24 * H, END);
    let s2 = w.sprint(board, "PLAT Sprint 2", END, END + 14 * 24 * H);
    w.start_sprint(s1, END - 14 * 24 * H);
    let key = w.issue(
        NewIssue::story("PLAT", END - 20 * 24 * H)
            .points(3.0)
            .estimate_seconds(8 * 3600)
            .assignee("acc-alice")
            .in_sprint(s1),
    );
    let sub = w.issue(
        NewIssue::story("PLAT", END - 19 * 24 * H)
            .kind(cairn_testkit::fixtures::IssueType::SubTask)
            .parent(&key)
            .in_sprint(s1),
    );
    for d in 0..25 {
        w.add_worklog(&key, "acc-alice", END - 13 * 24 * H + d * H, 1800, END - 13 * 24 * H + d * H + H);
    }
    w.transition(&key, "In Progress", END - 12 * 24 * H);
    let jira = JiraServer::start(w).await;

    // Embedded: 20 of 25; the rest through /issue/{id}/worklog pages.
    let issue = jira_json(
        &jira,
        &format!("/rest/api/3/search/jql?jql=key%3D{key}&fields=worklog,parent,issuetype,timetracking"),
    )
    .await;
    let wl = &issue["issues"][0]["fields"]["worklog"];
    assert_eq!(wl["total"], 25);
    assert_eq!(wl["worklogs"].as_array().unwrap().len(), 20);
    assert_eq!(issue["issues"][0]["fields"]["timetracking"]["originalEstimateSeconds"], 28800);
    let id = issue["issues"][0]["id"].as_str().unwrap().to_owned();
    let mut start = 0;
    let mut all = Vec::new();
    loop {
        let page = jira_json(&jira, &format!("/rest/api/3/issue/{id}/worklog?startAt={start}&maxResults=7")).await;
        let logs = page["worklogs"].as_array().unwrap().clone();
        assert_eq!(page["total"], 25);
        start += logs.len();
        all.extend(logs);
        if start >= 25 {
            break;
        }
    }
    assert_eq!(all.len(), 25);
    assert_eq!(all[0]["timeSpentSeconds"], 1800);
    assert_eq!(all[0]["timeSpent"], "30m");
    assert!(all[0]["id"].is_string() && all[0]["author"]["accountId"] == "acc-alice");
    let subtask = jira_json(&jira, &format!("/rest/api/3/search/jql?jql=key%3D{sub}&fields=parent,issuetype")).await;
    assert_eq!(subtask["issues"][0]["fields"]["issuetype"]["subtask"], true);
    assert_eq!(subtask["issues"][0]["fields"]["parent"]["key"], json!(key));

    // Changes after the first run: a late worklog, a deletion, a sprint move, new points.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let since = now - 10 * 60_000;
    let (late, gone) = jira.world(|w| {
        let late = w.add_worklog(&key, "acc-alice", END - 2 * 24 * H, 3600, now - 5 * 60_000);
        let gone = w.worklog_ids(&key)[0];
        w.delete_worklog(gone, now - 4 * 60_000);
        w.close_sprint(s1, now - 3 * 60_000, Some(s2));
        w.set_points(&key, Some(5.0), now - 2 * 60_000);
        // Just now: Jira leaves the last minute out.
        w.add_worklog(&key, "acc-alice", END, 600, now);
        (late, gone)
    });
    let updated = jira_json(&jira, &format!("/rest/api/3/worklog/updated?since={since}")).await;
    let ids: Vec<u64> =
        updated["values"].as_array().unwrap().iter().map(|v| v["worklogId"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![late], "the late worklog, not the one logged this minute");
    assert_eq!(updated["lastPage"], true);
    let deleted = jira_json(&jira, &format!("/rest/api/3/worklog/deleted?since={since}")).await;
    assert_eq!(deleted["values"][0]["worklogId"], json!(gone));
    let listed: Value = client()
        .post(format!("{}/rest/api/3/worklog/list", jira.base_url))
        .header("authorization", jira_auth("bot@acme.test", "t0ken"))
        .json(&json!({"ids": [late, gone]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "a deleted worklog is not listed");
    assert_eq!(listed[0]["id"], json!(late.to_string()));

    // The changelog pages oldest first and names Sprint and story points changes.
    let log = jira_json(&jira, &format!("/rest/api/3/issue/{key}/changelog?maxResults=2")).await;
    assert_eq!(log["isLast"], false);
    assert!(log["nextPage"].is_string());
    let rest = jira_json(&jira, &format!("/rest/api/3/issue/{key}/changelog?startAt=2")).await;
    assert_eq!(rest["isLast"], true);
    let items: Vec<Value> = [&log, &rest]
        .iter()
        .flat_map(|p| p["values"].as_array().unwrap().clone())
        .flat_map(|h| h["items"].as_array().unwrap().clone())
        .collect();
    let sprint = items.iter().find(|i| i["field"] == "Sprint").expect("a Sprint change");
    assert_eq!(sprint["from"], json!(s1.to_string()));
    assert_eq!(sprint["to"], json!(format!("{s1}, {s2}")));
    assert_eq!(sprint["fieldId"], "customfield_10020");
    let points = items.iter().find(|i| i["fieldId"] == "customfield_10016").expect("a points change");
    assert_eq!((points["fromString"].as_str(), points["toString"].as_str()), (Some("3"), Some("5")));
    let sprint_issues = jira_json(&jira, &format!("/rest/agile/1.0/sprint/{s2}/issue")).await;
    assert_eq!(sprint_issues["total"], 2, "carried over, with its sub-task");
}

#[tokio::test]
async fn jira_rate_limit_and_errors_come_back_as_scripted() {
    let jira = JiraServer::start(small_jira()).await;
    jira.fault_on("/rest/agile/1.0/board", Fault::RetryAfter { status: 429, seconds: 1 });
    let r = jira_get(&jira, "/rest/agile/1.0/board").await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "1");
    assert_eq!(jira_get(&jira, "/rest/agile/1.0/board").await.status(), 429, "too early");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(jira_get(&jira, "/rest/agile/1.0/board").await.status(), 200);
    jira.fault(Fault::Status(503));
    assert_eq!(jira_get(&jira, "/rest/api/3/myself").await.status(), 503);
    assert_eq!(jira_get(&jira, "/rest/api/3/issue/NOPE-1/worklog").await.status(), 404);
    assert_eq!(jira.count("/rest/agile/1.0/board"), 3);
    assert_eq!(jira.requests().last().unwrap().status, 404);
}
