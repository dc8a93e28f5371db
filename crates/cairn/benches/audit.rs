//! Audit overhead and throughput, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench audit
//!
//! Prints, per backend: what a numbers write costs with its audit entry against the same
//! write without one (goal ≤ 1.15×), and the sustained audit write rate with 1 and 8
//! writers. PostgreSQL runs twice: on a server with production durability (PostgreSQL's
//! defaults: each commit waits for its WAL flush), which the bench starts, and on a test
//! server that skips fsync (`CAIRN_TEST_POSTGRES_URL`, or one started like it), where the
//! write without the entry is cheapest and the ratio therefore highest.
//!
//! `cargo bench -p cairn --bench audit -- sqlite` runs only the runs whose label contains
//! the argument.
//!
//! The two writes alternate in short rounds, in turn first: a shared 2-core machine moves
//! absolute times by 2× from one minute to the next, and that drift hits both halves of a
//! round alike. The ratio is of the totals over all rounds, so the audited write's rarer
//! costs (SQLite checkpoints more often when more pages are written) count in full; the
//! quartiles of the rounds' own ratios show the spread.

use std::time::{Duration, Instant};

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::now_ms;
use cairn_numbers::{NumberValue, NumbersService};
use cairn_store::{Backend, Db, sqlx};
use cairn_testkit::postgres::{Durability, PostgresServer};

const ROUNDS: usize = 150;
const PER_ROUND: usize = 40;
const RATE_WRITES: usize = 2000;

fn meta() -> RequestMeta {
    RequestMeta { ip: Some("127.0.0.1".into()), user_agent: Some("bench".into()), request_id: Some("bench".into()) }
}

fn actor() -> Actor {
    Actor { id: "bench".into(), email: None }
}

/// The numbers write as the service does it, minus the audit entry.
async fn write_without_audit(db: &Db, v: f64) {
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO numbers (id, value, created_at, created_by) VALUES ($1, $2, $3, $4)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(v)
        .bind(now_ms())
        .bind("bench")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn write_with_audit(db: &Db, v: f64) {
    NumbersService::create(db, NumberValue::parse(v).unwrap(), &actor(), &meta()).await.unwrap();
}

async fn timed(db: &Db, audited: bool) -> Duration {
    let t = Instant::now();
    for i in 0..PER_ROUND {
        if audited {
            write_with_audit(db, i as f64).await;
        } else {
            write_without_audit(db, i as f64).await;
        }
    }
    t.elapsed()
}

/// The first and third quartiles.
fn quartiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.25), at(0.75))
}

async fn overhead(label: &str, db: &Db) {
    for i in 0..200 {
        write_without_audit(db, i as f64).await;
        write_with_audit(db, i as f64).await;
    }
    let (mut ratios, mut plain, mut audited) = (Vec::new(), Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let (p, a) = if round % 2 == 0 {
            let p = timed(db, false).await;
            (p, timed(db, true).await)
        } else {
            let a = timed(db, true).await;
            (timed(db, false).await, a)
        };
        ratios.push(a.as_secs_f64() / p.as_secs_f64());
        plain += p;
        audited += a;
    }
    let (q1, q3) = quartiles(ratios);
    let per_write = |d: Duration| d.as_secs_f64() * 1e6 / (ROUNDS * PER_ROUND) as f64;
    println!(
        "{label:<22} numbers write: {:>6.1} µs without audit, {:>6.1} µs with its entry (+{:.1} µs): {:.3}× \
         (rounds' quartiles {q1:.3}–{q3:.3}; goal ≤ 1.15×)",
        per_write(plain),
        per_write(audited),
        per_write(audited) - per_write(plain),
        audited.as_secs_f64() / plain.as_secs_f64(),
    );
}

async fn audit_rate(db: &Db, writers: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..RATE_WRITES / writers {
                let e = NewEntry::new(actor(), Action::fixed("bench.entry"), Outcome::Success, meta());
                AuditService::record_now(&db, e).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    RATE_WRITES as f64 / start.elapsed().as_secs_f64()
}

async fn run(label: &str, postgres_server: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let config = cairn_testkit::fresh_config_on(dir.path(), postgres_server);
    let store = cairn::startup::open_store(&config).await.unwrap();
    let slug = cairn_domain::TenantSlug::parse("bench").unwrap();
    let tenant = store.create_tenant(&slug, "bench", None).await.unwrap();
    let db = store.tenant_db(tenant.id).await.unwrap();
    overhead(label, &db).await;
    println!(
        "{label:<22} audit writes/s: {:>6.0} (1 writer), {:>6.0} (8 writers)",
        audit_rate(&db, 1).await,
        audit_rate(&db, 8).await
    );
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; the first other argument filters the runs.
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--")).unwrap_or_default();
    let wanted = |label: &str| label.contains(only.as_str());
    if wanted(Backend::Sqlite.as_str()) {
        run(Backend::Sqlite.as_str(), None).await;
    }
    if wanted("postgres (production)") {
        let server = PostgresServer::start_with(Durability::Production).expect("PostgreSQL starts");
        run("postgres (production)", Some(&server.url())).await;
    }
    if wanted("postgres (fsync off)") {
        let (url, _server) = cairn_testkit::postgres::shared_or_started();
        run("postgres (fsync off)", Some(&url)).await;
    }
}
