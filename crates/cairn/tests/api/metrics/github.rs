//! The GitHub collector against the loopback GitHub fixture: every row lands, a second run
//! changes nothing, limits are waited out with nothing lost, late changes are picked up,
//! and what upstream removed goes.

use std::time::Duration;

use cairn_audit::RequestMeta;
use cairn_metrics::client::github::GitHub;
use cairn_metrics::client::{Auth, Upstream, UpstreamError};
use cairn_metrics::collect::run::Collectors;
use cairn_metrics::collect::{CollectError, RunCtx};
use cairn_metrics::runs::TableCounts;
use cairn_metrics::sources::{NewSource, SourceKind};
use cairn_metrics::{Metrics, Run, RunId, SourceId};
use cairn_store::{Db, sqlx};
use cairn_testkit::fixtures::{Fault, GitHubServer, GitHubWorld, NewCommit, NewPull, OrgSize, ReviewState};
use cairn_testkit::{Backend, TestApp, backend_test};

use super::tester;

const DAY: i64 = 86_400_000;
const TOKEN: &str = "ghp_fixture";

/// Now, rounded to the day, less `days`.
fn days_ago(days: i64) -> i64 {
    let now = cairn_domain::now_ms();
    now - now % DAY - days * DAY
}

/// `acme/api`: three commits by Alice and Bob on main (one by email only), a feature
/// branch merged through a pull request with a review and comments, a merge commit, an
/// open pull request, a deployment and a release.
fn world() -> GitHubWorld {
    let mut w = GitHubWorld::new(TOKEN);
    w.user("alice", "Alice Novak", "alice@acme.test");
    w.user("bob", "Bob Marek", "bob@acme.test");
    w.repository("acme/api", "main");
    w.commit("acme/api", NewCommit::on("main").by("alice").at_ms(days_ago(10)).lines(10, 2, 1));
    w.commit("acme/api", NewCommit::on("main").by_email("Carol", "carol@acme.test").at_ms(days_ago(9)).lines(5, 5, 2));
    w.branch("acme/api", "feature", "main");
    w.commit("acme/api", NewCommit::on("feature").by("bob").at_ms(days_ago(8)).lines(40, 0, 3));
    let pr = w.pull_request("acme/api", NewPull::from_branch("feature", "bob", days_ago(8) + 1000));
    w.review("acme/api", pr, "alice", ReviewState::Approved, days_ago(7));
    w.review_comment("acme/api", pr, "alice", days_ago(7) + 10, None);
    w.issue_comment("acme/api", pr, "bob", days_ago(7) + 20);
    let merge = w.merge_pull("acme/api", pr, "alice", days_ago(6));
    let deployed = w.deployment("acme/api", &merge, "production", "alice", days_ago(6) + 100);
    w.deployment_status("acme/api", deployed, "IN_PROGRESS", days_ago(6) + 150_000);
    w.deployment_status("acme/api", deployed, "SUCCESS", days_ago(6) + 160_000);
    w.release("acme/api", "v1.0.0", "alice", days_ago(6) + 200);
    w.branch("acme/api", "wip", "main");
    w.commit("acme/api", NewCommit::on("wip").by("alice").at_ms(days_ago(3)).lines(1, 1, 1));
    w.pull_request("acme/api", NewPull::from_branch("wip", "alice", days_ago(3) + 1000));
    w.commit("acme/api", NewCommit::on("main").by("alice").at_ms(days_ago(2)).lines(3, 0, 1));
    w
}

/// A tenant with a GitHub source of `acme/api` on a fixture serving `world`.
struct Setup {
    app: TestApp,
    db: Db,
    gh: GitHubServer,
    source: cairn_metrics::Source,
}

async fn setup(backend: Backend, world: GitHubWorld) -> Setup {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let gh = GitHubServer::start(world).await;
    let source = source(&app, &db, &gh, TOKEN).await;
    Setup { app, db, gh, source }
}

/// A worker as the server runs one, allowed to reach the loopback fixture.
fn worker(app: &TestApp, name: &str) -> Collectors {
    Collectors::new(app.store.clone(), outbound(), name, app.config.data_dir.join("git"))
}

async fn source(app: &TestApp, db: &Db, gh: &GitHubServer, token: &str) -> cairn_metrics::Source {
    let new = source_input(gh, token);
    Metrics { db }.add_source(app.store.master_key(), new, &tester(), &RequestMeta::default()).await.unwrap()
}

/// A GitHub source of `acme/api` on the fixture.
fn source_input(gh: &GitHubServer, token: &str) -> NewSource {
    NewSource {
        kind: SourceKind::Github,
        name: "GitHub".into(),
        base_url: Some(gh.base_url.clone()),
        graphql_url: Some(gh.graphql_url.clone()),
        url: None,
        branch: None,
        organization: None,
        repositories: vec!["acme/api".into()],
        boards: Vec::new(),
        email: None,
        story_points_field: None,
        token: Some(token.into()),
    }
}

/// Loopback fixtures: the operator's policy allows private addresses and plain http.
fn outbound() -> cairn_outbound::Outbound {
    cairn_outbound::Outbound::new(cairn_outbound::Policy { allow_private: true, allow_http: true })
}

fn client(gh: &GitHubServer, token: &str) -> GitHub {
    GitHub::new(Upstream::new(outbound(), Auth::Bearer(token.into())), &gh.base_url, Some(&gh.graphql_url))
}

/// Queues, claims and runs one collection of `source` over the last 30 days; the run as
/// stored after it.
async fn run(db: &Db, gh: &GitHubServer, source: &cairn_metrics::Source) -> Result<Run, CollectError> {
    run_since(db, gh, source, days_ago(30)).await.map(|(run, _)| run)
}

/// One collection of `source` from `since`: the run as stored after it, and how many
/// requests were answered `304`.
async fn run_since(
    db: &Db,
    gh: &GitHubServer,
    source: &cairn_metrics::Source,
    since: i64,
) -> Result<(Run, u64), CollectError> {
    let metrics = Metrics { db };
    let id = SourceId::parse(&source.id, "id").unwrap();
    metrics.queue_run(&id, None, None, "test").await.unwrap().unwrap();
    let (claimed, lease) = metrics.claim_runs("test-worker", 60_000, 1).await.unwrap().pop().unwrap();
    let api = client(gh, &gh.read(|w| w.token().to_owned()));
    let mut ctx = RunCtx::new(db, id, &lease, since, claimed.progress.clone());
    let outcome = cairn_metrics::collect::github::collect(&api, source, &mut ctx).await;
    let error = outcome.as_ref().err().map(ToString::to_string);
    metrics.finish_run(&lease, error.as_deref().map_or(Ok(()), Err)).await.unwrap();
    outcome?;
    let run = metrics.run(&RunId::parse(&claimed.id, "id").unwrap()).await.unwrap();
    Ok((run, api.upstream().tally().not_modified()))
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.reader()).await.unwrap()
}

fn changed(run: &Run) -> Vec<(String, TableCounts)> {
    run.counts.iter().filter(|(_, c)| c.new + c.changed + c.removed > 0).map(|(t, c)| (t.clone(), *c)).collect()
}

async fn a_run_lands_every_row_and_a_second_changes_nothing(backend: Backend) {
    let Setup { app: _app, db, gh, source } = setup(backend, world()).await;

    let first = run(&db, &gh, &source).await.unwrap();
    let on_main = gh.read(|w| w.branch_commits("acme/api", "main")).len() as i64;
    assert_eq!(on_main, 5, "two on main, the feature's commit and its merge, the last one");
    assert_eq!(count(&db, "metrics_repositories").await, 1);
    assert_eq!(count(&db, "metrics_commits").await, on_main, "only commits the default branch reaches");
    assert_eq!(count(&db, "metrics_pull_requests").await, 2);
    assert_eq!(count(&db, "metrics_reviews").await, 1);
    assert_eq!(count(&db, "metrics_comments").await, 2);
    assert_eq!(count(&db, "metrics_deployments").await, 1);
    assert_eq!(count(&db, "metrics_releases").await, 1);
    assert_eq!(first.counts["commits"].new, on_main as u64);
    assert!(first.requests > 0 && first.requests < 20, "{} requests", first.requests);

    // Facts of the rows: the merged pull request, its first review, the email-only author,
    // the merge's parents, the comment on one's own pull request.
    let (state, first_review, merged): (String, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT state, first_review_at, merged_at FROM metrics_pull_requests WHERE author_login = 'bob'",
    )
    .fetch_one(db.reader())
    .await
    .unwrap();
    assert_eq!((state.as_str(), first_review, merged), ("merged", Some(days_ago(7)), Some(days_ago(6))));
    let carol: (Option<String>, Option<String>) =
        sqlx::query_as("SELECT author_login, author_email FROM metrics_commits WHERE additions = 5 AND deletions = 5")
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(carol, (None, Some("carol@acme.test".into())));
    let merges: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_commits WHERE parent_count = 2")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(merges, 1);
    let deployment: (String, Option<String>, Option<i64>) =
        sqlx::query_as("SELECT environment, status, status_at FROM metrics_deployments")
            .fetch_one(db.reader())
            .await
            .unwrap();
    assert_eq!(
        deployment,
        ("production".into(), Some("success".into()), Some(days_ago(6) + 160_000)),
        "its latest status"
    );
    let linked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM metrics_commit_pull_requests").fetch_one(db.reader()).await.unwrap();
    assert!(linked >= 1, "the feature's commit belongs to its pull request");
    let own: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT kind, author_login, pr_author_login FROM metrics_comments ORDER BY kind")
            .fetch_all(db.reader())
            .await
            .unwrap();
    assert_eq!(
        own,
        vec![
            ("conversation".into(), Some("bob".into()), Some("bob".into())),
            ("review".into(), Some("alice".into()), Some("bob".into())),
        ]
    );

    let second = run(&db, &gh, &source).await.unwrap();
    assert_eq!(changed(&second), vec![], "the same window again changes nothing");
}
backend_test!(a_run_lands_every_row_and_a_second_changes_nothing);

/// The small test organization (four repositories, 120 days): every page of every listing
/// is read to the last, the history pages of several repositories share requests, and the
/// tables hold exactly what upstream has.
async fn an_organization_is_read_to_the_last_page_of_every_listing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let world = GitHubWorld::organization_until(1, OrgSize::Small, days_ago(0));
    let gh = GitHubServer::start(world).await;
    let new = NewSource { organization: Some("acme".into()), repositories: Vec::new(), ..source_input(&gh, "t0ken") };
    let source =
        Metrics { db: &db }.add_source(app.store.master_key(), new, &tester(), &RequestMeta::default()).await.unwrap();
    let (first, _) = run_since(&db, &gh, &source, days_ago(200)).await.unwrap();

    let repos = gh.read(GitHubWorld::repositories);
    assert_eq!(repos.len(), 4);
    let (commits, pulls, comments) = gh.read(|w| {
        repos.iter().fold((0, 0, 0), |(c, p, k), r| {
            (c + w.branch_commits(r, "main").len(), p + w.pull_numbers(r).len(), k + w.comment_count(r))
        })
    });
    assert!(commits > 4 * 100, "several history pages a repository: {commits}");
    assert_eq!(count(&db, "metrics_commits").await, commits as i64);
    assert_eq!(count(&db, "metrics_pull_requests").await, pulls as i64);
    assert_eq!(count(&db, "metrics_comments").await, comments as i64);
    assert_eq!(first.counts["commits"].new, commits as u64);
    let review_pages = gh.count(&format!("/repos/{}/pulls/comments", repos[0]));
    assert!(review_pages >= 2, "review comments are paged by Link to the last: {review_pages}");

    // History pages of up to three repositories a request: fewer GraphQL requests than
    // history pages plus pull-request pages.
    let history_pages: usize =
        gh.read(|w| repos.iter().map(|r| w.branch_commits(r, "main").len().div_ceil(100).max(1)).sum());
    let pull_pages: usize = gh.read(|w| repos.iter().map(|r| w.pull_numbers(r).len().div_ceil(100).max(1)).sum());
    let graphql = gh.count("/graphql");
    assert!(
        graphql < history_pages + pull_pages,
        "{graphql} GraphQL requests for {history_pages} + {pull_pages} pages"
    );

    gh.clear_requests();
    let (second, _) = run_since(&db, &gh, &source, days_ago(200)).await.unwrap();
    assert_eq!(changed(&second), vec![], "the same window again changes nothing");
}
backend_test!(an_organization_is_read_to_the_last_page_of_every_listing);

async fn limits_are_waited_out_and_nothing_is_lost(backend: Backend) {
    let Setup { app: _app, db, gh, source } = setup(backend, world()).await;
    gh.fault_on("/graphql", Fault::RetryAfter { status: 403, seconds: 1 });
    gh.fault_on("/repos/acme/api/pulls/comments", Fault::RetryAfter { status: 429, seconds: 1 });
    gh.fault_on("/repos/acme/api/releases", Fault::PrimaryLimit { reset_in: Duration::from_secs(1) });
    gh.fault_on("/graphql", Fault::Status(502));

    let done = run(&db, &gh, &source).await.unwrap();
    assert_eq!(gh.faults_pending(), 0);
    assert!(done.rate_limit_waits >= 3, "{} waits", done.rate_limit_waits);
    assert_eq!(count(&db, "metrics_commits").await, 5);
    assert_eq!(count(&db, "metrics_comments").await, 2);
    assert_eq!(count(&db, "metrics_releases").await, 1);
    assert_eq!(count(&db, "metrics_deployments").await, 1);
}
backend_test!(limits_are_waited_out_and_nothing_is_lost);

async fn late_changes_are_read_and_what_upstream_removed_goes(backend: Backend) {
    let Setup { app: _app, db, gh, source } = setup(backend, world()).await;
    run(&db, &gh, &source).await.unwrap();

    // The open pull request is merged, a comment is deleted, main is force-pushed back by
    // one commit.
    let comment = gh.world(|w| {
        let open = *w.pull_numbers("acme/api").iter().max().unwrap();
        w.merge_pull("acme/api", open, "bob", days_ago(1));
        let c = w.issue_comment("acme/api", open, "alice", days_ago(1) + 5);
        w.review_comment("acme/api", open, "bob", days_ago(1) + 6, None);
        c
    });
    gh.world(|w| w.delete_comment("acme/api", comment));
    // The deployment is found broken: its latest status is now a failure.
    gh.world(|w| {
        let deployed = w.deployment_ids("acme/api")[0];
        w.deployment_status("acme/api", deployed, "FAILURE", days_ago(1));
    });
    let next = run(&db, &gh, &source).await.unwrap();
    let status: String =
        sqlx::query_scalar("SELECT status FROM metrics_deployments").fetch_one(db.reader()).await.unwrap();
    assert_eq!(
        (status.as_str(), next.counts["deployments"].changed),
        ("failure", 1),
        "a deployment's new status is read"
    );
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM metrics_pull_requests ORDER BY number")
        .fetch_all(db.reader())
        .await
        .unwrap();
    assert_eq!(states, vec!["merged", "merged"], "the pull request merged since is read again");
    assert_eq!(count(&db, "metrics_comments").await, 3, "the new review comment, not the deleted one");
    assert!(next.counts["pull_requests"].changed >= 1);

    let main = gh.read(|w| w.branch_commits("acme/api", "main"));
    let before = count(&db, "metrics_commits").await;
    // Back to the newest commit's parent: the newest one is gone from main.
    gh.world(|w| w.force_push("acme/api", "main", Some(&main[1])));
    let pushed = run(&db, &gh, &source).await.unwrap();
    assert!(pushed.counts["commits"].removed >= 1, "{:?}", pushed.counts);
    let after = count(&db, "metrics_commits").await;
    assert_eq!(after, before - pushed.counts["commits"].removed as i64);
    let reachable = gh.read(|w| w.branch_commits("acme/api", "main")).len() as i64;
    assert_eq!(after, reachable, "what main reaches, nothing more");
}
backend_test!(late_changes_are_read_and_what_upstream_removed_goes);

/// An open pull request last updated before the window is read again on its own, with the
/// ETag of its last reading: unchanged, it is answered `304` and nothing else is read for it.
async fn an_unchanged_open_pull_request_is_answered_from_what_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let mut w = world();
    w.branch("acme/api", "idle", "main");
    w.commit("acme/api", NewCommit::on("idle").by("bob").at_ms(days_ago(21)).lines(2, 2, 1));
    let idle = w.pull_request("acme/api", NewPull::from_branch("idle", "bob", days_ago(20)));
    w.issue_comment("acme/api", idle, "alice", days_ago(20) + 60_000);
    let gh = GitHubServer::start(w).await;
    let source = source(&app, &db, &gh, TOKEN).await;
    let (first, _) = run_since(&db, &gh, &source, days_ago(30)).await.unwrap();
    assert_eq!(first.counts["pull_requests"].new, 3);

    // The window starts after its last update: the listing stops before it, so it is read
    // on its own, and its ETag kept.
    let pull = format!("/repos/acme/api/pulls/{idle}");
    gh.clear_requests();
    let (second, not_modified) = run_since(&db, &gh, &source, days_ago(10)).await.unwrap();
    assert_eq!((gh.count(&pull), not_modified), (2, 0), "the pull request and its reviews");
    assert_eq!(gh.count(&format!("/repos/acme/api/issues/{idle}/comments")), 1, "all its comments are read");
    assert_eq!(changed(&second), vec![], "nothing changed upstream");

    gh.clear_requests();
    let (third, not_modified) = run_since(&db, &gh, &source, days_ago(10)).await.unwrap();
    assert_eq!((gh.count(&pull), gh.count_status(304), not_modified), (1, 1, 1), "unchanged since: 304");
    assert_eq!(gh.count(&format!("/repos/acme/api/issues/{idle}/comments")), 0);
    assert_eq!(changed(&third), vec![]);
    let stored: (String, i64) = sqlx::query_as(
        "SELECT p.state, (SELECT COUNT(*) FROM metrics_comments c WHERE c.pr_number = p.number) \
         FROM metrics_pull_requests p WHERE p.number = $1",
    )
    .bind(idle as i64)
    .fetch_one(db.reader())
    .await
    .unwrap();
    assert_eq!(stored, ("open".into(), 1), "what is stored stands");

    // Closed upstream: a new ETag, the change read, and the pull request not read again.
    gh.world(|w| w.close_pull("acme/api", idle, days_ago(0)));
    let (_, _) = run_since(&db, &gh, &source, days_ago(10)).await.unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM metrics_pull_requests WHERE number = $1")
        .bind(idle as i64)
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(state, "closed");
    let etags: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_source_cursors WHERE name LIKE 'etag:%'")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(etags, 0, "a closed pull request's ETag is of no more use");
}
backend_test!(an_unchanged_open_pull_request_is_answered_from_what_is_stored);

/// Scheduled runs read `reload_days`; once a week one reads the whole `backfill_days`, and
/// removes what upstream deleted before the reload window.
async fn a_weekly_reconcile_removes_what_went_before_the_reload_window(backend: Backend) {
    let Setup { app, db, gh, source } = setup(backend, world()).await;
    let metrics = Metrics { db: &db };
    let input = cairn_metrics::SettingsInput::parse("UTC", 1, 90, "0 2 * * *", &[]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    let id = SourceId::parse(&source.id, "id").unwrap();
    let worker = worker(&app, "worker");
    let scheduled = async || {
        let queued = metrics.queue_run(&id, None, None, "scheduler").await.unwrap().unwrap();
        assert_eq!(worker.run_due(&db).await.unwrap(), 1);
        let run = metrics.run(&RunId::parse(&queued.id, "id").unwrap()).await.unwrap();
        assert_eq!(run.status, cairn_metrics::RunStatus::Succeeded, "{:?}", run.error);
        run
    };
    scheduled().await;
    assert_eq!(count(&db, "metrics_commits").await, 5, "the first run backfills");

    // Main loses its newest commit (two days old, before the one-day reload window).
    let main = gh.read(|w| w.branch_commits("acme/api", "main"));
    gh.world(|w| w.force_push("acme/api", "main", Some(&main[1])));
    let nightly = scheduled().await;
    assert_eq!(nightly.counts.get("commits").map_or(0, |c| c.removed), 0);
    assert_eq!(count(&db, "metrics_commits").await, 5, "a nightly run does not look that far back");

    // A week after the last whole read, the next run reads the backfill window again.
    sqlx::query("UPDATE metrics_source_cursors SET value = $1 WHERE name = 'reconciled_at'")
        .bind((cairn_domain::now_ms() - cairn_metrics::collect::run::RECONCILE_EVERY_MS - 1).to_string())
        .execute(db.writer())
        .await
        .unwrap();
    let weekly = scheduled().await;
    assert_eq!(weekly.counts["commits"].removed, 1, "{:?}", weekly.counts);
    let reachable = gh.read(|w| w.branch_commits("acme/api", "main")).len() as i64;
    assert_eq!(count(&db, "metrics_commits").await, reachable);
    let next = scheduled().await;
    assert_eq!(changed(&next), vec![], "the reconcile is not repeated before a week");
}
backend_test!(a_weekly_reconcile_removes_what_went_before_the_reload_window);

async fn a_wrong_token_or_repository_stops_the_run_with_the_cause(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let gh = GitHubServer::start(world()).await;
    let api = client(&gh, "wrong");
    use cairn_metrics::client::github::GitHubApi;
    assert!(matches!(api.viewer().await, Err(UpstreamError::Unauthorized(m)) if m == "Bad credentials"));
    assert!(matches!(client(&gh, TOKEN).repository("acme/nope").await, Err(UpstreamError::NotFound(_))));
    assert_eq!(client(&gh, TOKEN).viewer().await.unwrap(), "cairn-bot");
    let source = source(&app, &db, &gh, TOKEN).await;
    assert_eq!(count(&db, "metrics_commits").await, 0);
    let _ = source;
}
backend_test!(a_wrong_token_or_repository_stops_the_run_with_the_cause);

/// A worker dies after some pages: when its lease runs out, another worker resumes the run
/// where it stopped and finishes it, every row once.
async fn a_dead_workers_run_is_finished_elsewhere_with_every_row_once(backend: Backend) {
    let Setup { app, db, gh, source } = setup(backend, world()).await;
    let metrics = Metrics { db: &db };
    let id = SourceId::parse(&source.id, "id").unwrap();
    let queued = metrics.queue_run(&id, None, Some(days_ago(30)), "admin").await.unwrap().unwrap();

    // The first worker gets through commits and pull requests, then stops answering.
    for _ in 0..cairn_metrics::client::MAX_ATTEMPTS {
        gh.fault_on("/repos/acme/api/pulls/comments", Fault::Status(502));
    }
    let (run, lease) = metrics.claim_runs("worker-a", 60_000, 1).await.unwrap().pop().unwrap();
    let api = client(&gh, TOKEN);
    let mut ctx = RunCtx::new(&db, id, &lease, days_ago(30), run.progress.clone());
    let died = cairn_metrics::collect::github::collect(&api, &source, &mut ctx).await;
    assert!(died.is_err());
    let partial = count(&db, "metrics_commits").await;
    assert_eq!(partial, 5, "its pages are committed");
    // Its lease runs out.
    sqlx::query("UPDATE metrics_runs SET next_at = 0 WHERE id = $1")
        .bind(&queued.id)
        .execute(db.writer())
        .await
        .unwrap();

    let worker = worker(&app, "worker-b");
    gh.clear_requests();
    assert_eq!(worker.run_due(&db).await.unwrap(), 1);
    let done = metrics.run(&RunId::parse(&queued.id, "id").unwrap()).await.unwrap();
    assert_eq!((done.status, done.attempts, done.error.as_deref()), (cairn_metrics::RunStatus::Succeeded, 2, None));
    assert_eq!(
        gh.count("/graphql"),
        3,
        "resumed after the committed pages: a history, a pull request and a deployment page to finish"
    );
    assert_eq!(count(&db, "metrics_commits").await, 5);
    assert_eq!(done.counts["commits"].new, 5, "every commit once");
    assert_eq!(count(&db, "metrics_comments").await, 2);
    assert_eq!(count(&db, "metrics_releases").await, 1);
}
backend_test!(a_dead_workers_run_is_finished_elsewhere_with_every_row_once);

/// Two schedulers see the same fire: one run per source.
async fn a_schedule_fire_queues_one_run_however_many_schedulers(backend: Backend) {
    let Setup { app: _app, db, gh: _gh, source } = setup(backend, world()).await;
    // Added a day and a half ago, so today's (or yesterday's) 02:00 fire is after it.
    sqlx::query("UPDATE metrics_sources SET created_at = $1")
        .bind(cairn_domain::now_ms() - 36 * 3_600_000)
        .execute(db.writer())
        .await
        .unwrap();
    let now = cairn_domain::now_ms();
    let (a, b) = tokio::join!(
        cairn_metrics::collect::run::queue_fires(&db, now),
        cairn_metrics::collect::run::queue_fires(&db, now)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(cairn_metrics::collect::run::queue_fires(&db, now).await.unwrap(), 0);
    let runs = Metrics { db: &db }.runs(Some(&SourceId::parse(&source.id, "id").unwrap()), 10, None).await.unwrap();
    assert_eq!(runs.items.len(), 1);
    assert!(runs.items[0].trigger_key.starts_with("schedule:"));
}
backend_test!(a_schedule_fire_queues_one_run_however_many_schedulers);
