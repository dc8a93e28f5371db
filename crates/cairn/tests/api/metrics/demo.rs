//! Demo data: `cairn demo seed` writes the demo organization's teams and collected rows once,
//! under demo sources no run reaches; and the rows are those the collectors store when they
//! read the fixture worlds built from the same plan.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};

use cairn_audit::RequestMeta;
use cairn_domain::Role;
use cairn_metrics::collect::run::Collectors;
use cairn_metrics::demo::OrgSize;
use cairn_metrics::{Metrics, RunId, RunStatus, SourceId, SourceInput};
use cairn_store::{Db, sqlx};
use cairn_testkit::fixtures::{GitHubServer, GitHubWorld, JiraServer, JiraWorld};
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use super::{audit, tester};

const SEED: u64 = 11;
const DAY: i64 = 86_400_000;

/// Every table the demo writes.
const TABLES: [&str; 15] = [
    "metrics_repositories",
    "metrics_commits",
    "metrics_commit_pull_requests",
    "metrics_pull_requests",
    "metrics_reviews",
    "metrics_comments",
    "metrics_deployments",
    "metrics_releases",
    "metrics_boards",
    "metrics_sprints",
    "metrics_issues",
    "metrics_sprint_issues",
    "metrics_sprint_commitments",
    "metrics_sprint_completions",
    "metrics_worklogs",
];

/// `cairn` run against the app's data directory and control database.
pub(crate) fn cairn(app: &TestApp, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CAIRN_DATA_DIR", &app.config.data_dir)
        .env("CAIRN_LOG", "warn")
        // The server's outbound policy (loopback peers over http).
        .env("CAIRN_OUTBOUND_ALLOW_PRIVATE", app.config.outbound.allow_private.to_string())
        .env("CAIRN_OUTBOUND_ALLOW_HTTP", app.config.outbound.allow_http.to_string())
        .current_dir(&app.config.data_dir);
    if let Some(url) = &app.config.database_url {
        c.env("CAIRN_DATABASE_URL", url.as_str());
    }
    c.stdin(Stdio::null()).output().expect("cairn runs")
}

pub(crate) fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn rows(db: &Db) -> BTreeMap<&'static str, i64> {
    let mut out = BTreeMap::new();
    for t in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {t}")).fetch_one(db.reader()).await.unwrap();
        out.insert(t, n);
    }
    out
}

async fn strings(db: &Db, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(db.reader()).await.unwrap()
}

/// The rollups without their source: person, day and figures.
async fn rollups(db: &Db) -> Vec<String> {
    let mut days: Vec<String> = Metrics { db }
        .person_days(None)
        .await
        .unwrap()
        .into_iter()
        .map(|d| format!("{} {} {} {:?}", d.person_key, d.day, d.active, d.figures))
        .collect();
    days.sort();
    days
}

async fn the_command_line_seeds_the_demo_organization_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let seed = ["demo", "seed", "--tenant", "acme", "--size", "small", "--seed", "11"];

    let out = cairn(&app, &seed);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("seeded") && stdout.contains("2 teams created"), "{stdout}");
    assert!(stderr.contains("demo: ") && stderr.contains("rows"), "plain progress lines off a terminal: {stderr}");

    // Every table holds rows; the rollups are what a rebuild counts.
    let first = rows(&db).await;
    assert!(first.values().all(|n| *n > 0), "{first:?}");
    let metrics = Metrics { db: &db };
    let kept = rollups(&db).await;
    assert!(!kept.is_empty());
    metrics.rebuild_rollups().await.unwrap();
    assert_eq!(rollups(&db).await, kept, "the rollups equal a rebuild");

    // Teams with their people (someone may have moved between them: people ≤ memberships).
    let teams = metrics.teams(100, None).await.unwrap().items;
    assert_eq!(teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Platform", "Payments"]);
    assert!(teams.iter().all(|t| t.board.is_some() && !t.members.is_empty()));
    let people: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_people").fetch_one(db.reader()).await.unwrap();
    assert_eq!(people, 8);

    // Two demo sources: shown as such, never run.
    let admin = app.token(&acme, Role::Admin);
    let body: Value = app.get("/api/v1/metrics/sources", &admin).send().await.unwrap().json().await.unwrap();
    let listed: Vec<(String, bool)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s["demo"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [("Demo GitHub".to_owned(), true), ("Demo Jira".to_owned(), true)]);
    let id = body["items"][0]["id"].as_str().unwrap().to_owned();
    let run = app.post(&format!("/api/v1/metrics/sources/{id}/runs"), &admin, &json!({})).send().await.unwrap();
    assert_eq!(run.status(), 409, "a demo source has no upstream");
    let patch =
        app.patch(&format!("/api/v1/metrics/sources/{id}"), &admin, &json!({"name": "Other"})).send().await.unwrap();
    assert_eq!(patch.status(), 409, "a demo source is not changed");
    assert_eq!(cairn_metrics::collect::run::queue_fires(&db, cairn_domain::now_ms() + 2 * DAY).await.unwrap(), 0);

    // Again: nothing new, nothing changed.
    let out = cairn(&app, &seed);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("nothing changed") && stdout.contains("0 teams created"), "{stdout}");
    assert_eq!(rows(&db).await, first);
    assert_eq!(rollups(&db).await, kept);
    assert_eq!(audit(&app, &admin, "metrics.demo_seeded").await.len(), 2, "each seed is audited");

    // Another organization over this one is refused, and so is a tenant with its own sources.
    let out = cairn(&app, &["demo", "seed", "--tenant", "acme", "--seed", "12"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("seed 11"), "{}", text(&out).1);
    let other = app.create_tenant("other").await;
    let (_, other_db) = app.tenant(&other).await;
    Metrics { db: &other_db }
        .add_source(app.store.master_key(), super::github_source_fields(), &tester(), &RequestMeta::default())
        .await
        .unwrap();
    let out = cairn(&app, &["demo", "seed", "--tenant", "other"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("own sources"), "{}", text(&out).1);
    assert_eq!(rows(&other_db).await.values().sum::<i64>(), 0, "nothing written");
}
backend_test!(the_command_line_seeds_the_demo_organization_once);

async fn collecting_the_fixture_worlds_stores_the_demo_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let demo = app.create_tenant("demo").await;
    let (_, demo_db) = app.tenant(&demo).await;
    let report = Metrics { db: &demo_db }
        .seed_demo(SEED, OrgSize::Small, &tester(), &RequestMeta::default(), &mut |_| {})
        .await
        .unwrap();

    // The same organization, served by the fixtures and collected into another tenant.
    let collected = app.create_tenant("collected").await;
    let (_, db) = app.tenant(&collected).await;
    let gh = GitHubServer::start(GitHubWorld::organization_until(SEED, OrgSize::Small, report.end)).await;
    gh.set_rate_limit(1_000_000);
    let jira = JiraServer::start(JiraWorld::organization_until(SEED, OrgSize::Small, report.end)).await;
    let outbound = cairn_outbound::Outbound::new(cairn_outbound::Policy { allow_private: true, allow_http: true });
    let metrics = Metrics { db: &db };
    let zone = metrics.settings().await.unwrap().time_zone.zone().clone();
    let since = zone.day(report.end - (OrgSize::Small.days() + 10) * DAY);
    let inputs = [
        SourceInput {
            kind: "github".into(),
            name: "GitHub".into(),
            base_url: Some(gh.base_url.clone()),
            graphql_url: Some(gh.graphql_url.clone()),
            token: Some("t0ken".into()),
            organization: Some("acme".into()),
            ..SourceInput::default()
        },
        SourceInput {
            kind: "jira".into(),
            name: "Jira".into(),
            base_url: Some(jira.base_url.clone()),
            email: Some("bot@acme.test".into()),
            token: Some("t0ken".into()),
            ..SourceInput::default()
        },
    ];
    let mut runs = Vec::new();
    for input in inputs {
        let source = metrics
            .create_source(app.store.master_key(), &outbound, input, &tester(), &RequestMeta::default())
            .await
            .unwrap();
        let id = SourceId::parse(&source.id, "id").unwrap();
        runs.push(metrics.request_run(&id, Some(since), &tester(), &RequestMeta::default()).await.unwrap());
    }
    let workers = Collectors::new(app.store.clone(), outbound, "test", app.config.data_dir.join("git"));
    assert_eq!(workers.run_due(&db).await.unwrap(), 2);
    for run in runs {
        let done = metrics.run(&RunId::parse(&run.id, "id").unwrap()).await.unwrap();
        assert_eq!(done.status, RunStatus::Succeeded, "{:?}", done.error);
    }

    assert_eq!(rows(&db).await, rows(&demo_db).await, "every table holds as many rows");
    for sql in [
        "SELECT sha FROM metrics_commits ORDER BY sha",
        "SELECT issue_key FROM metrics_issues ORDER BY issue_key",
        "SELECT CAST(number AS TEXT) || ' ' || state FROM metrics_pull_requests ORDER BY 1",
    ] {
        assert_eq!(strings(&db, sql).await, strings(&demo_db, sql).await, "{sql}");
    }
    let (collected, seeded) = (rollups(&db).await, rollups(&demo_db).await);
    let only_collected: Vec<&String> = collected.iter().filter(|d| !seeded.contains(d)).take(5).collect();
    let only_seeded: Vec<&String> = seeded.iter().filter(|d| !collected.contains(d)).take(5).collect();
    assert!(
        only_collected.is_empty() && only_seeded.is_empty(),
        "the same figures per person and day: collected {only_collected:#?}, seeded {only_seeded:#?}"
    );
}
backend_test!(collecting_the_fixture_worlds_stores_the_demo_rows);
