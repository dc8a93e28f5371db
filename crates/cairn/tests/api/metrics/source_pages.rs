//! The sources and runs pages: an admin adds a source through the form (its token tried
//! first, a refusal shown beside the token field and nothing stored), changes it (a blank
//! token keeps the stored one), runs it and follows the run on its page until it finishes,
//! and deletes it after a confirmation; a member is refused, and the refusal is audited.

use std::time::Duration;

use cairn_domain::Role;
use cairn_metrics::{Metrics, SourceId};
use cairn_testkit::browser::Page;
use cairn_testkit::fixtures::{Fault, GitHubServer, GitHubWorld, NewCommit};
use cairn_testkit::rp::PASSWORD;
use cairn_testkit::{Backend, TestApp, backend_test, eventually};
use serde_json::Value;

use super::audit;
use super::pages::{csrf, field_error, signed_in_admin, value_of};

const TOKEN: &str = "ghp_fixture_secret_for_pages";
const WRONG: &str = "ghp_a_wrong_guess_never_shown";
const DAY: i64 = 86_400_000;

/// `acme/api` and `acme/web` of the organization `acme`, with two recent commits on `api`.
fn world() -> GitHubWorld {
    let mut w = GitHubWorld::new(TOKEN);
    w.user("alice", "Alice Novak", "alice@acme.test");
    w.repository("acme/api", "main");
    w.repository("acme/web", "main");
    w.add_organization("acme");
    let now = cairn_domain::now_ms();
    w.commit("acme/api", NewCommit::on("main").by("alice").at_ms(now - 3 * DAY).lines(10, 2, 1));
    w.commit("acme/api", NewCommit::on("main").by("alice").at_ms(now - 2 * DAY).lines(4, 0, 1));
    w
}

/// The new-source form for GitHub, as a person fills it in.
fn github_form<'a>(csrf: &'a str, gh: &'a GitHubServer, token: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("kind", "github"),
        ("name", "GitHub"),
        ("github_base_url", &gh.base_url),
        ("graphql_url", &gh.graphql_url),
        ("github_token", token),
        ("repositories", "acme/api\nacme/web"),
        ("organization", ""),
        // What the other kinds' groups send, blank: the server reads only the chosen kind's.
        ("jira_base_url", ""),
        ("email", ""),
        ("jira_token", ""),
        ("boards", ""),
        ("story_points_field", ""),
        ("url", ""),
        ("branch", ""),
    ]
}

/// The text of the textarea whose id is `id`, as the page shows it.
fn textarea_of(page: &Page, id: &str) -> Option<String> {
    let at = page.body.find(&format!("<textarea id=\"{id}\""))?;
    let rest = &page.body[at..];
    let start = rest.find('>')? + 1;
    Some(rest[start..start + rest[start..].find("</textarea>")?].replace("&#x2f;", "/").replace("&amp;", "&"))
}

async fn listed(app: &TestApp, admin: &str) -> Vec<Value> {
    let body: Value = app.get("/api/v1/metrics/sources", admin).send().await.unwrap().json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// The id in a `Location` such as `…/app/metrics/sources/<id>?done=created`.
fn id_in(location: &str, prefix: &str) -> String {
    location.split(prefix).nth(1).unwrap_or_else(|| panic!("{location}")).split(['?', '/']).next().unwrap().to_owned()
}

async fn admins_add_change_run_and_delete_sources_on_their_pages(backend: Backend) {
    let (app, acme, ada) = signed_in_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let gh = GitHubServer::start(world()).await;

    let list = ada.get("/app/metrics/sources").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("href=\"/app/metrics/sources\" aria-current=\"page\""), "the section is marked");
    assert!(list.body.contains("No sources yet"));
    let token = csrf(&list);

    // A refused token: beside the token field, what was typed kept (but the token), nothing stored.
    let refused = ada.post_form("/app/metrics/sources", &github_form(&token, &gh, WRONG)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let error = field_error(&refused, "s-gh-token-error").unwrap_or_else(|| panic!("{}", refused.body));
    assert!(error.contains("refused the credentials"), "{error}");
    assert_eq!(value_of(&refused, "s-name").as_deref(), Some("GitHub"));
    assert_eq!(value_of(&refused, "s-gh-base").as_deref(), Some(gh.base_url.as_str()));
    assert_eq!(textarea_of(&refused, "s-gh-repos").as_deref(), Some("acme/api\nacme/web"));
    assert!(!refused.body.contains(WRONG), "a token is never shown again");
    assert!(listed(&app, &admin).await.is_empty(), "nothing stored");
    // A repository the token cannot see: beside the repositories, naming it.
    let mut form = github_form(&token, &gh, TOKEN);
    form[6] = ("repositories", "acme/api\nacme/nope");
    let refused = ada.post_form("/app/metrics/sources", &form).await;
    assert_eq!(refused.status, 400);
    let error = field_error(&refused, "s-gh-repos-error").unwrap_or_else(|| panic!("{}", refused.body));
    assert!(error.starts_with("acme&#x2f;nope: ") || error.starts_with("acme/nope: "), "{error}");
    assert!(!refused.body.contains(TOKEN));
    // An upstream that does not answer: above the form, as a 502.
    let closed = format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());
    let mut form = github_form(&token, &gh, TOKEN);
    form[3] = ("github_base_url", &closed);
    form[4] = ("graphql_url", "");
    let refused = ada.post_form("/app/metrics/sources", &form).await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(refused.body.contains("class=\"error\" role=\"alert\""), "{}", refused.body);
    assert_eq!(value_of(&refused, "s-name").as_deref(), Some("GitHub"));
    assert!(listed(&app, &admin).await.is_empty(), "nothing stored");

    // Added: to the source's page (post/redirect/get).
    let added = ada.post_form("/app/metrics/sources", &github_form(&token, &gh, TOKEN)).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let id = id_in(added.location.as_deref().unwrap(), "/app/metrics/sources/");
    let page = ada.follow(added).await;
    assert!(page.body.contains("Source added"), "{}", page.body);
    assert!(!page.body.contains(TOKEN));
    assert_eq!(value_of(&page, "s-gh-token"), None, "the token field is empty");
    let source: Value =
        app.get(&format!("/api/v1/metrics/sources/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!((source["name"].as_str(), source["has_token"].as_bool()), (Some("GitHub"), Some(true)));
    assert_eq!(source["repositories"], serde_json::json!(["acme/api", "acme/web"]));
    let list = ada.get("/app/metrics/sources").await;
    assert!(list.body.contains(&format!("href=\"/app/metrics/sources/{id}\">GitHub</a>")), "{}", list.body);
    assert!(list.body.contains("Not run yet") && list.body.contains("Stored"));

    // Changed with the token left blank: the stored token stays.
    let token = csrf(&page);
    let path = format!("/app/metrics/sources/{id}");
    let mut form = github_form(&token, &gh, "");
    form[2] = ("name", "Acme GitHub");
    form[6] = ("repositories", "acme/api");
    let saved = ada.post_form(&path, &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(ada.follow(saved).await.body.contains("Source saved."));
    let (_, db) = app.tenant(&acme).await;
    let source_id = SourceId::parse(&id, "id").unwrap();
    let stored = Metrics { db: &db }.source_token(app.store.master_key(), &source_id).await.unwrap();
    assert_eq!(stored.as_deref(), Some(TOKEN), "a blank token keeps the stored one");
    let source: Value =
        app.get(&format!("/api/v1/metrics/sources/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (source["name"].as_str(), source["repositories"].clone()),
        (Some("Acme GitHub"), serde_json::json!(["acme/api"]))
    );
    assert_eq!(
        audit(&app, &admin, "metrics.source_updated").await[0]["details"]["changed"],
        serde_json::json!(["name", "repositories"])
    );
    // A wrong new token is refused beside its field and changes nothing.
    let mut form = github_form(&token, &gh, WRONG);
    form[2] = ("name", "Renamed");
    let refused = ada.post_form(&path, &form).await;
    assert_eq!(refused.status, 400);
    assert!(field_error(&refused, "s-gh-token-error").is_some(), "{}", refused.body);
    assert_eq!(value_of(&refused, "s-name").as_deref(), Some("Renamed"), "what was typed stays");
    assert!(!refused.body.contains(WRONG) && !refused.body.contains(TOKEN));
    let unchanged: Value =
        app.get(&format!("/api/v1/metrics/sources/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(unchanged, source, "refusals change nothing");
    let stored = Metrics { db: &db }.source_token(app.store.master_key(), &source_id).await.unwrap();
    assert_eq!(stored.as_deref(), Some(TOKEN));
    // Emptying the GraphQL URL goes back to GraphQL beside the REST root (tried first).
    let mut form = github_form(&token, &gh, "");
    form[2] = ("name", "Acme GitHub");
    form[4] = ("graphql_url", "");
    let saved = ada.post_form(&path, &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let cleared: Value =
        app.get(&format!("/api/v1/metrics/sources/{id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(cleared["graphql_url"], Value::Null);
    assert_eq!(value_of(&ada.get(&path).await, "s-gh-graphql").as_deref(), Some(""), "the field shows empty");

    // Run now: a date in the future is refused beside the field.
    let runs = format!("/app/metrics/sources/{id}/runs");
    let refused = ada.post_form(&runs, &[("csrf", &token), ("since", "2999-01-01")]).await;
    assert_eq!(refused.status, 400);
    assert_eq!(field_error(&refused, "r-since-error").as_deref(), Some("must not be in the future"));
    assert_eq!(value_of(&refused, "r-since").as_deref(), Some("2999-01-01"));
    // The run meets a spent rate limit, so it is still live when its page first shows.
    gh.fault(Fault::PrimaryLimit { reset_in: Duration::from_secs(3) });
    let since = cairn_domain::rfc3339(cairn_domain::now_ms() - 7 * DAY)[..10].to_owned();
    let queued = ada.post_form(&runs, &[("csrf", &token), ("since", &since)]).await;
    assert_eq!(queued.status, 303, "{}", queued.body);
    let run = id_in(queued.location.as_deref().unwrap(), "/app/metrics/runs/");
    let live = ada.follow(queued).await;
    assert_eq!(live.status, 200);
    assert!(live.body.contains("data-live"), "a queued or running run is followed: {}", live.body);
    assert!(live.body.contains("<noscript><meta http-equiv=\"refresh\""), "without a script the page refreshes");
    assert!(live.body.contains(&format!("data-poll=\"/app/metrics/runs/{run}/progress\"")));
    assert!(live.body.contains(&format!("Reads from {since}")), "{}", live.body);
    // The server's own worker finishes it; the page's fragment follows.
    let progress = format!("/app/metrics/runs/{run}/progress");
    let done = eventually("the run to finish", Duration::from_secs(60), || async {
        let p = ada.get(&progress).await;
        (p.status == 200 && !p.body.contains("data-live")).then_some(p)
    })
    .await;
    assert!(done.body.contains("id=\"run-status\">succeeded"), "{}", done.body);
    assert!(!done.body.contains("<html"), "a fragment, not a page");
    let page = ada.get(&format!("/app/metrics/runs/{run}")).await;
    assert!(page.body.contains("id=\"run-status\">succeeded") && !page.body.contains("http-equiv=\"refresh\""));
    assert!(page.body.contains("<code>commits</code>"), "the counts per table: {}", page.body);
    assert!(page.body.contains("Run now by <span title=\"ada@acme.test\">"), "{}", page.body);
    let api: Value =
        app.get(&format!("/api/v1/metrics/runs/{run}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(api["status"], "succeeded", "{api}");
    assert_eq!(api["counts"]["commits"]["new"], 2, "{api}");
    let waits = api["rate_limit_waits"].as_i64().unwrap();
    assert!(waits >= 1, "the spent limit was waited out: {api}");
    assert!(page.body.contains(&format!("<dt>Rate-limit waits</dt><dd>{waits}</dd>")), "{}", page.body);

    // The histories: the source's, every source's, and the filter's way to the first.
    let history = ada.get(&runs).await;
    assert_eq!(history.status, 200);
    assert!(history.body.contains(&format!("href=\"/app/metrics/runs/{run}\"")), "{}", history.body);
    assert!(history.body.contains("commits</code> 2 new"), "{}", history.body);
    let all = ada.get("/app/metrics/runs").await;
    assert!(all.body.contains(&format!("href=\"/app/metrics/runs/{run}\"")) && all.body.contains("Acme GitHub"));
    assert!(all.body.contains("href=\"/app/metrics/runs\" aria-current=\"page\""));
    let filtered = ada.get(&format!("/app/metrics/runs?source={id}")).await;
    assert_eq!(filtered.status, 303);
    assert!(filtered.location.as_deref().unwrap().ends_with(&runs), "{:?}", filtered.location);
    let list = ada.get("/app/metrics/sources").await;
    assert!(
        list.body.contains(&format!("href=\"/app/metrics/runs/{run}\"")) && list.body.contains(">succeeded</span>")
    );
    // Run now from the list goes to the new run's page too.
    let again = ada.post_form(&runs, &[("csrf", &token)]).await;
    assert_eq!(again.status, 303);
    assert!(again.location.as_deref().unwrap().contains("/app/metrics/runs/"));
    assert_eq!(ada.get("/app/metrics/runs/not-a-run").await.status, 404);
    assert_eq!(ada.get("/app/metrics/runs/01900000-0000-7000-8000-000000000000").await.status, 404);

    // Deleting asks first; then the source is gone.
    let ask = ada.get(&format!("/app/metrics/sources/{id}/delete")).await;
    assert!(ask.status == 200 && ask.body.contains("Delete the source Acme GitHub?"), "{}", ask.body);
    assert_eq!(listed(&app, &admin).await.len(), 1, "asking changes nothing");
    let gone = ada.post_form(&format!("/app/metrics/sources/{id}/delete"), &[("csrf", &csrf(&ask))]).await;
    assert_eq!(gone.status, 303);
    assert!(ada.follow(gone).await.body.contains("Source deleted."));
    assert!(listed(&app, &admin).await.is_empty());
    assert_eq!(ada.get(&path).await.status, 404);
    assert_eq!(ada.get("/app/metrics/sources/not-a-source").await.status, 404);
    // Its runs go with its rows, in the background; until then they name no source.
    let orphan = ada.get(&format!("/app/metrics/runs/{run}")).await;
    let shown = orphan.status == 200 && orphan.body.contains("Run of a deleted source");
    assert!(shown || orphan.status == 404, "{}", orphan.body);

    for action in
        ["metrics.source_created", "metrics.source_updated", "metrics.run_requested", "metrics.source_deleted"]
    {
        let entries = audit(&app, &admin, action).await;
        assert!(!entries.is_empty(), "{action}");
        assert_eq!(entries[0]["actor"]["email"], "ada@acme.test", "{action}");
        assert!(!entries.iter().any(|e| e.to_string().contains(TOKEN)), "{action} names no token");
    }
    assert_eq!(audit(&app, &admin, "metrics.source_created").await.len(), 1, "refusals stored nothing");
}
backend_test!(admins_add_change_run_and_delete_sources_on_their_pages);

async fn the_sources_and_runs_pages_are_for_admins(backend: Backend) {
    let (app, acme, ada) = signed_in_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let gh = GitHubServer::start(world()).await;
    let added = ada
        .post_form("/app/metrics/sources", &github_form(&csrf(&ada.get("/app/metrics/sources").await), &gh, TOKEN))
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let id = id_in(added.location.as_deref().unwrap(), "/app/metrics/sources/");

    let bob = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    let numbers = bob.get("/app/numbers").await;
    assert!(!numbers.body.contains("/app/metrics/sources"), "members are not offered the pages");
    let token = csrf(&numbers);
    for path in [
        "/app/metrics/sources".to_owned(),
        format!("/app/metrics/sources/{id}"),
        format!("/app/metrics/sources/{id}/runs"),
        format!("/app/metrics/sources/{id}/delete"),
        "/app/metrics/runs".to_owned(),
    ] {
        let page = bob.get(&path).await;
        assert_eq!(page.status, 403, "GET {path}");
        assert!(page.body.contains("Not allowed"), "the 403 page: {}", page.body);
    }
    let posted = bob.post_form("/app/metrics/sources", &github_form(&token, &gh, TOKEN)).await;
    assert_eq!(posted.status, 403);
    let run = bob.post_form(&format!("/app/metrics/sources/{id}/runs"), &[("csrf", &token)]).await;
    assert_eq!(run.status, 403);
    let delete = bob.post_form(&format!("/app/metrics/sources/{id}/delete"), &[("csrf", &token)]).await;
    assert_eq!(delete.status, 403);

    let denied = audit(&app, &admin, "access.denied").await;
    let attempted: Vec<&str> = denied.iter().filter_map(|d| d["details"]["attempted"].as_str()).collect();
    for what in [
        "GET /app/metrics/sources",
        "GET /app/metrics/sources/{id}",
        "GET /app/metrics/runs",
        "POST /app/metrics/sources",
        "POST /app/metrics/sources/{id}/runs",
        "POST /app/metrics/sources/{id}/delete",
    ] {
        assert!(attempted.contains(&what), "{what}: {attempted:?}");
    }
    assert_eq!(denied[0]["actor"]["email"], "bob@acme.test");
    // Nothing a member sent changed anything.
    assert_eq!(listed(&app, &admin).await.len(), 1);
    let runs: Value = app.get("/api/v1/metrics/runs", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(runs["items"], serde_json::json!([]));
    // Ada's form with Bob's token (another session's) is refused too.
    let forged = ada.post_form(&format!("/app/metrics/sources/{id}/runs"), &[("csrf", &token)]).await;
    assert_eq!(forged.status, 403);
}
backend_test!(the_sources_and_runs_pages_are_for_admins);
