//! A quarter's reports on the bench organization (`cairn demo seed --size bench`), on SQLite
//! and PostgreSQL: for the team engineering report and the audit report, the time to read
//! their figures and to render the PDF, and the file's size and pages. Goal: a quarter's team
//! report in ≤ 1 s and ≤ 2 MB. (The instances report's time is CloudWatch's: not measured
//! here.)
//!
//!   cargo bench -p cairn --bench reports [-- sqlite|postgres]
//!
//! `BENCH_ROUNDS` sets the rounds (default 5); the p95 of each phase is reported. Uses
//! `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL; the seeded
//! databases are dropped at the end.

use std::time::Instant;

use cairn_audit::{Actor, RequestMeta};
use cairn_metrics::demo::OrgSize;
use cairn_metrics::figures::{Granularity, Roster, Window};
use cairn_metrics::{Day, Metrics};
use cairn_reports::audit::{AuditScope, audit_report};
use cairn_reports::team::team_report;
use cairn_reports::{Fonts, Letterhead, Report, render};
use cairn_testkit::bench::{ms, p95, rounds};
use cairn_testkit::{Backend, TestApp};

const SEED: u64 = 2026;

/// Makes and renders a report `BENCH_ROUNDS` times (default 5); prints the p95 of each phase
/// and the file's size and pages.
async fn measure(backend: Backend, what: &str, fonts: &Fonts, mut make: impl AsyncFnMut() -> Report) {
    let rounds = rounds(5);
    let (mut reads, mut renders, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    let (mut size, mut pages) = (0, 0);
    for _ in 0..rounds {
        let t0 = Instant::now();
        let doc = make().await;
        let t1 = Instant::now();
        let rendered = render(&doc, fonts).unwrap();
        let t2 = Instant::now();
        reads.push(t1 - t0);
        renders.push(t2 - t1);
        totals.push(t2 - t0);
        (size, pages) = (rendered.pdf.len(), rendered.pages);
    }
    let total = p95(totals);
    println!(
        "{:<9} {what}, a quarter: figures {:.0} ms + render {:.0} ms = {:.0} ms (goal ≤ 1000 ms: {}); \
         {pages} pages, {:.0} KB (goal ≤ 2 MB: {})",
        backend.as_str(),
        ms(p95(reads)),
        ms(p95(renders)),
        ms(total),
        if ms(total) <= 1000.0 { "met" } else { "missed" },
        size as f64 / 1024.0,
        if size <= 2 << 20 { "met" } else { "missed" },
    );
}

async fn run(backend: Backend, postgres_server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let app = TestApp::spawn_config(backend, config, dir).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let metrics = Metrics { db: &db };
    let t0 = Instant::now();
    let actor = Actor { id: "bench".into(), email: None };
    let report = metrics
        .seed_demo(SEED, OrgSize::Bench, &actor, &RequestMeta::default(), &mut |_| {})
        .await
        .expect("the bench organization seeds");
    println!("{:<9} seeded in {:.0} s", backend.as_str(), t0.elapsed().as_secs_f64());

    let last = metrics.settings().await.unwrap().time_zone.zone().day(report.end - 1);
    let window = Window {
        from: Day::from_number(last.number() - 90),
        to: Day::from_number(last.number() + 1),
        granularity: Granularity::Week,
    };
    let team = Roster::load(&metrics).await.unwrap().teams.first().expect("teams").id.clone();
    let head = Letterhead { tenant: "Acme".into(), accent: Some("#0f766e".into()) };
    let fonts = Fonts::load();
    let now = cairn_domain::now_ms;
    measure(backend, "team report", &fonts, async || team_report(&metrics, &team, window, &head, now()).await.unwrap())
        .await;
    let zone = metrics.settings().await.unwrap().time_zone.zone().clone();
    let tenant = acme.id.to_string();
    let scope = AuditScope {
        db: &db,
        scope: &tenant,
        from: zone.start_ms(window.from),
        to: zone.start_ms(window.to),
        period: cairn_reports::period_text(window.from, window.to),
        zone: zone.time_zone().clone(),
    };
    measure(backend, "audit report", &fonts, async || audit_report(&scope, app.tokens(), &head, now()).await.unwrap())
        .await;

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
