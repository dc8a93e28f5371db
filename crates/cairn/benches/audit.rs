//! Audit overhead and throughput, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench audit
//!
//! Uses `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL. Prints, per
//! backend: the cost of a numbers write with its audit entry against the same write
//! without one (goal ≤ 1.15×), and the sustained audit write rate with 1 and 8 writers.

use std::time::{Duration, Instant};

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::now_ms;
use cairn_numbers::{NumberValue, NumbersService};
use cairn_store::{Backend, Db, sqlx};
use cairn_testkit::TestApp;

const ROUNDS: usize = 5;
const PER_ROUND: usize = 400;
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

async fn run(backend: Backend, postgres_server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let app = TestApp::spawn_config(backend, config, dir).await;
    let tenant = app.create_tenant("bench").await;
    let db = app.store.tenant_db(tenant.id).await.unwrap();
    // Warm up both paths.
    for i in 0..100 {
        write_without_audit(&db, i as f64).await;
        write_with_audit(&db, i as f64).await;
    }
    let (mut plain, mut audited) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        for i in 0..PER_ROUND {
            write_without_audit(&db, i as f64).await;
        }
        plain += t.elapsed();
        let t = Instant::now();
        for i in 0..PER_ROUND {
            write_with_audit(&db, i as f64).await;
        }
        audited += t.elapsed();
    }
    let n = (ROUNDS * PER_ROUND) as f64;
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n;
    println!(
        "{:<9} numbers write: {:>7.1} µs without audit, {:>7.1} µs with audit entry: {:.3}× (goal ≤ 1.15×)",
        backend.as_str(),
        per(plain),
        per(audited),
        audited.as_secs_f64() / plain.as_secs_f64()
    );
    println!(
        "{:<9} audit writes/s: {:>8.0} (1 writer), {:>8.0} (8 writers)",
        backend.as_str(),
        audit_rate(&db, 1).await,
        audit_rate(&db, 8).await
    );
    app.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    run(Backend::Sqlite, &url).await;
    run(Backend::Postgres, &url).await;
}
