//! The metric endpoints on the bench organization (`cairn demo seed --size bench`: 200
//! engineers in 25 teams, 300 repositories, three years), for one team and the last quarter,
//! against the reads each endpoint makes, in the same run, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench figures [-- sqlite|postgres]
//!
//! `BENCH_ROUNDS` sets the rounds per endpoint (default 30).
//! Uses `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL. Seeding the
//! organization takes about ten minutes per backend. For each endpoint, `ROUNDS` times, one
//! request at a time over HTTP on loopback, interleaved with the same number of runs of its
//! reads alone: the store calls its figures make (roster, settings, then the rollups, the
//! counted commits, the merged pull requests, the Jira rows or DORA's rows, rows decoded),
//! without the figures, the JSON or HTTP. The ratio is the endpoint's p95 over its reads'
//! p95 (goal ≤ 1.3×). The dashboard call's p95 has an absolute goal: ≤ 150 ms.

use std::time::{Duration, Instant};

use cairn_audit::{Actor, RequestMeta};
use cairn_domain::Role;
use cairn_metrics::demo::OrgSize;
use cairn_metrics::figures::dora::DoraFigures;
use cairn_metrics::figures::jira::JiraFigures;
use cairn_metrics::figures::{Roster, Window};
use cairn_metrics::{Day, Metrics, Team};
use cairn_store::Db;
use cairn_testkit::bench::{ms, p95, rounds};
use cairn_testkit::{Backend, TestApp};

const ROUNDS: usize = 30;
const SEED: u64 = 2026;

/// What an endpoint reads before it computes.
#[derive(Debug, Clone, Copy)]
enum Reads {
    Rollups,
    /// The team's rollups and everyone's impact, which ranks the team.
    Scores,
    Commits,
    Pulls,
    Jira,
    Dora,
    /// Every one of them, concurrently (the dashboard call).
    All,
}

const ENDPOINTS: [(&str, Reads); 18] = [
    ("github/user-commits", Reads::Rollups),
    ("github/team-commits", Reads::Rollups),
    ("github/user-active-days", Reads::Rollups),
    ("github/team-active-days", Reads::Rollups),
    ("github/user-comments-count", Reads::Rollups),
    ("github/user-impact", Reads::Rollups),
    ("github/team-impact", Reads::Rollups),
    ("github/team-scores", Reads::Scores),
    ("github/commits-without-requests", Reads::Commits),
    ("github/cycle-time", Reads::Pulls),
    ("jira/velocity", Reads::Jira),
    ("jira/sprints", Reads::Jira),
    ("jira/estimations", Reads::Jira),
    ("jira/throughput", Reads::Jira),
    ("jira/quality", Reads::Jira),
    ("jira/focus", Reads::Jira),
    ("dora", Reads::Dora),
    ("dashboard", Reads::All),
];

/// The reads alone, as the endpoint's figures make them for `team`.
async fn reads(db: &Db, kind: Reads, window: Window, team: &Team) -> Duration {
    let metrics = Metrics { db };
    let t0 = Instant::now();
    let roster = Roster::load(&metrics).await.unwrap();
    let settings = metrics.settings().await.unwrap();
    let zone = settings.time_zone.zone().clone();
    let (start, end) = (zone.start_ms(window.from), zone.start_ms(window.to));
    let keys = roster.keys_of(None, Some(team), window.from, window.to);
    let keys = keys.as_deref();
    match kind {
        Reads::Rollups => drop(metrics.person_days_between(window.from, window.to, keys).await.unwrap()),
        Reads::Scores => drop(
            tokio::try_join!(
                metrics.person_days_between(window.from, window.to, keys),
                metrics.impact_days(window.from, window.to)
            )
            .unwrap(),
        ),
        Reads::Commits => drop(metrics.counted_commits(start, end, keys).await.unwrap()),
        Reads::Pulls => drop(metrics.merged_pull_requests(start, end, keys).await.unwrap()),
        Reads::Jira => drop(JiraFigures::read(&metrics, window, roster, &settings, Some(team)).await.unwrap()),
        Reads::Dora => drop(DoraFigures::load(&metrics, window, roster, &settings, Some(team)).await.unwrap()),
        Reads::All => {
            let (a, b, c, d, e) = tokio::try_join!(
                metrics.person_days_between(window.from, window.to, keys),
                metrics.counted_commits(start, end, keys),
                metrics.merged_pull_requests(start, end, keys),
                JiraFigures::read(&metrics, window, roster.clone(), &settings, Some(team)),
                metrics.impact_days(window.from, window.to),
            )
            .unwrap();
            drop((a, b, c, d, e));
        }
    }
    t0.elapsed()
}

async fn request(app: &TestApp, token: &str, path: &str) -> Duration {
    let t0 = Instant::now();
    let resp = app.get(path, token).send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    let _ = resp.bytes().await.unwrap();
    t0.elapsed()
}

async fn run(backend: Backend, postgres_server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let app = TestApp::spawn_config(backend, config, dir).await;
    let acme = app.create_tenant("acme").await;
    let token = app.token(&acme, Role::Readonly);
    let (_, db) = app.tenant(&acme).await;
    let metrics = Metrics { db: &db };
    let t0 = Instant::now();
    let actor = Actor { id: "bench".into(), email: None };
    let report = metrics
        .seed_demo(SEED, OrgSize::Bench, &actor, &RequestMeta::default(), &mut |_| {})
        .await
        .expect("the bench organization seeds");
    let rows: u64 = report.counts.values().map(|c| c.new).sum();
    println!("{:<9} seeded {rows} rows in {:.0} s", backend.as_str(), t0.elapsed().as_secs_f64());

    // The last quarter up to the organization's last day, for its first team.
    let last = metrics.settings().await.unwrap().time_zone.zone().day(report.end - 1);
    let window = Window::parse(
        &Day::from_number(last.number() - 90).to_string(),
        &Day::from_number(last.number() + 1).to_string(),
        None,
    )
    .unwrap();
    let roster = Roster::load(&metrics).await.unwrap();
    let team = roster.teams.first().expect("the organization has teams").clone();
    let query = format!("from={}&to={}&team={}", window.from, window.to, team.id);

    println!("{:<9} {:<34} {:>10} {:>10} {:>7}", backend.as_str(), "endpoint (p95)", "endpoint", "reads", "ratio");
    for (endpoint, kind) in ENDPOINTS {
        let path = format!("/api/v1/metrics/{endpoint}?{query}");
        // Warm both paths once.
        request(&app, &token, &path).await;
        reads(&db, kind, window, &team).await;
        let (mut http, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..rounds(ROUNDS) {
            http.push(request(&app, &token, &path).await);
            raw.push(reads(&db, kind, window, &team).await);
        }
        let (http, raw) = (p95(http), p95(raw));
        let goal = match kind {
            Reads::All => format!("goal ≤ 150 ms: {}", if ms(http) <= 150.0 { "met" } else { "missed" }),
            _ => {
                format!("goal ≤ 1.3×: {}", if http.as_secs_f64() <= 1.3 * raw.as_secs_f64() { "met" } else { "missed" })
            }
        };
        println!(
            "{:<9} {:<34} {:>7.1} ms {:>7.1} ms {:>6.2}×  {goal}",
            backend.as_str(),
            endpoint,
            ms(http),
            ms(raw),
            http.as_secs_f64() / raw.as_secs_f64(),
        );
    }

    // The organization's databases go with the run: the PostgreSQL server may be shared.
    if let Some(server) = server {
        drop(db);
        cairn_testkit::drop_postgres_databases(app, &[&acme], server).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if only.as_deref().is_none_or(|o| o == backend.as_str()) {
            run(backend, &url).await;
        }
    }
}
