//! Start-up time against the number of tenants, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench startup                     # 1,000 tenants
//!   CAIRN_BENCH_TENANTS=10000 cargo bench -p cairn --bench startup
//!
//! Uses `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL. For each
//! backend it registers the tenants (each with a migrated database, as a running
//! installation has them), then measures, five times each, from `Application::build` to the
//! first `200` of `/readyz`: with no tenant (the baseline) and with all of them. Tenant
//! databases are migrated lazily, so the ratio should stay near 1 whatever the count.

use std::time::{Duration, Instant};

use cairn::startup::{Application, Role};
use cairn_store::Backend;

/// Build, serve, wait for `/readyz`, stop; returns the time to ready.
async fn time_to_ready(config: &cairn::config::Config) -> Duration {
    let started = Instant::now();
    let app = Application::build(config.clone(), Role::All).await.expect("builds");
    let url = format!("http://{}/readyz", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    let client = cairn_testkit::http_client().build().unwrap();
    loop {
        if client.get(&url).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ready = started.elapsed();
    let _ = tx.send(());
    server.await.unwrap().unwrap();
    ready
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn run(backend: Backend, postgres_server: &str, tenants: usize) {
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let empty_dir = tempfile::tempdir().unwrap();
    let mut empty = cairn_testkit::fresh_config_on(empty_dir.path(), server);
    empty.shutdown_grace = Duration::ZERO;
    let full_dir = tempfile::tempdir().unwrap();
    let mut full = cairn_testkit::fresh_config_on(full_dir.path(), server);
    full.shutdown_grace = Duration::ZERO;

    let store = cairn::startup::open_store(&full).await.unwrap();
    let made = Instant::now();
    for i in 0..tenants {
        let slug = cairn_domain::TenantSlug::parse(&format!("t{i:05}")).unwrap();
        store.create_tenant(&slug, slug.as_str(), None).await.unwrap();
    }
    store.close().await;
    eprintln!("{}: {tenants} tenants registered and migrated in {:.1?}", backend.as_str(), made.elapsed());

    // The first start of each creates its signing key and first tenant; time the restarts.
    time_to_ready(&empty).await;
    time_to_ready(&full).await;
    let (mut base, mut many) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        base.push(time_to_ready(&empty).await);
        many.push(time_to_ready(&full).await);
    }
    let (base, many) = (median(base), median(many));
    println!(
        "{:<8} ready with 0 tenants {:>8.1?}   with {tenants} tenants {:>8.1?}   ratio {:.2}",
        backend.as_str(),
        base,
        many,
        many.as_secs_f64() / base.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let tenants: usize = std::env::var("CAIRN_BENCH_TENANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    run(Backend::Sqlite, &url, tenants).await;
    run(Backend::Postgres, &url, tenants).await;
}
