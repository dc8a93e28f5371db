//! A three-year backfill of the reference organization (200 engineers, 25 teams, 300
//! repositories; see `cairn_testkit::fixtures::OrgSize::Bench`) from the loopback GitHub
//! and Jira fixtures, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench collect [-- small]
//!
//! Uses `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL. Per backend:
//! one GitHub run over the whole organization and one Jira run over every board, each
//! executed by a worker as the server executes it, from an empty tenant; prints the time,
//! the rows, the requests and the requests per 1,000 commits. Goals: each backfill within
//! 10 minutes on this machine, at most 15 requests per 1,000 commits. `small` runs the test
//! organization instead (seconds), to try the harness.

use std::time::{Duration, Instant};

use cairn_audit::{Actor, RequestMeta};
use cairn_metrics::collect::run::Collectors;
use cairn_metrics::{Metrics, RunId, SourceId, SourceInput};
use cairn_testkit::fixtures::{GitHubServer, GitHubWorld, JiraServer, JiraWorld, OrgSize};
use cairn_testkit::{Backend, TestApp};

const SEED: u64 = 2026;
const DAY_MS: i64 = 86_400_000;
const GOAL: Duration = Duration::from_secs(600);
const GOAL_REQUESTS_PER_1000: f64 = 15.0;

fn outbound() -> cairn_outbound::Outbound {
    cairn_outbound::Outbound::new(cairn_outbound::Policy { allow_private: true, allow_http: true })
}

struct Measured {
    elapsed: Duration,
    counts: String,
    commits: u64,
    requests: i64,
    waits: i64,
}

async fn backfill(app: &TestApp, db: &cairn_store::Db, input: SourceInput, days: i64) -> Measured {
    let metrics = Metrics { db };
    let actor = Actor { id: "bench".into(), email: None };
    let source = metrics
        .create_source(app.store.master_key(), &outbound(), input, &actor, &RequestMeta::default())
        .await
        .expect("the source is accepted");
    let id = SourceId::parse(&source.id, "id").unwrap();
    let zone = metrics.settings().await.unwrap().time_zone.zone().clone();
    let since = zone.day(cairn_domain::now_ms() - days * DAY_MS);
    let run = metrics.request_run(&id, Some(since), &actor, &RequestMeta::default()).await.unwrap();
    let workers = Collectors::new(app.store.clone(), outbound(), "bench", app.config.data_dir.join("git"));
    let started = Instant::now();
    assert_eq!(workers.run_due(db).await.unwrap(), 1);
    let elapsed = started.elapsed();
    let done = metrics.run(&RunId::parse(&run.id, "id").unwrap()).await.unwrap();
    assert_eq!(done.status, cairn_metrics::RunStatus::Succeeded, "{:?}", done.error);
    let counts = done.counts.iter().map(|(t, c)| format!("{t} {}", c.new)).collect::<Vec<_>>().join(", ");
    let commits = done.counts.get("commits").map_or(0, |c| c.new);
    Measured { elapsed, counts, commits, requests: done.requests, waits: done.rate_limit_waits }
}

async fn bench(backend: Backend, postgres: &str, size: OrgSize, days: i64) {
    let dir = tempfile::tempdir().unwrap();
    let config = cairn_testkit::fresh_config_on(dir.path(), (backend == Backend::Postgres).then_some(postgres));
    let app = TestApp::spawn_config(backend, config, dir).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;

    let generated = Instant::now();
    let gh = GitHubServer::start(GitHubWorld::organization(SEED, size)).await;
    gh.set_rate_limit(u64::MAX / 2);
    let jira = JiraServer::start(JiraWorld::organization(SEED, size)).await;
    println!("{backend:?}: organization generated in {:.1} s", generated.elapsed().as_secs_f64());

    let github = backfill(
        &app,
        &db,
        SourceInput {
            kind: "github".into(),
            name: "GitHub".into(),
            base_url: Some(gh.base_url.clone()),
            graphql_url: Some(gh.graphql_url.clone()),
            token: Some("t0ken".into()),
            organization: Some("acme".into()),
            ..SourceInput::default()
        },
        days,
    )
    .await;
    let per_1000 = github.requests as f64 * 1000.0 / github.commits.max(1) as f64;
    println!(
        "{backend:?} GitHub: {:.1} s ({}), {} requests ({per_1000:.1} per 1,000 commits, goal <= {GOAL_REQUESTS_PER_1000}), {} limit waits {}",
        github.elapsed.as_secs_f64(),
        github.counts,
        github.requests,
        github.waits,
        if github.elapsed <= GOAL && per_1000 <= GOAL_REQUESTS_PER_1000 { "ok" } else { "MISSED" },
    );
    let jira = backfill(
        &app,
        &db,
        SourceInput {
            kind: "jira".into(),
            name: "Jira".into(),
            base_url: Some(jira.base_url.clone()),
            email: Some("bot@acme.test".into()),
            token: Some("t0ken".into()),
            ..SourceInput::default()
        },
        days,
    )
    .await;
    println!(
        "{backend:?} Jira: {:.1} s ({}), {} requests, {} limit waits {}",
        jira.elapsed.as_secs_f64(),
        jira.counts,
        jira.requests,
        jira.waits,
        if jira.elapsed <= GOAL { "ok" } else { "MISSED" },
    );
    app.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let small = std::env::args().any(|a| a == "small");
    let (size, days) = if small { (OrgSize::Small, 130) } else { (OrgSize::Bench, 3 * 366) };
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    bench(Backend::Sqlite, &url, size, days).await;
    bench(Backend::Postgres, &url, size, days).await;
}
