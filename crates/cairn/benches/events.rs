//! Event delivery latency and throughput, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench events
//!
//! Uses `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL. A probe
//! consumer subscribed to `records_created` notes when each delivery starts. Prints, per
//! backend: the latency from the start of the committing call (a record created through
//! the records service, which commits and wakes the workers) to the consumer's start, p50
//! and p99 over sequential events; and how many events per second one worker delivers
//! from a backlog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_audit::{Actor, RequestMeta};
use cairn_domain::TenantId;
use cairn_domain::events::RECORDS_CREATED;
use cairn_events::{Bus, Consumers, DeliverySettings, Failure, Handler, HandlerFuture, Job, Worker};
use cairn_records::{RecordInput, Records};
use cairn_store::{Backend, Db};
use cairn_testkit::bench::{ms, percentile};
use tokio::sync::mpsc;

const LATENCY_EVENTS: usize = 300;
const BACKLOG: usize = 2000;

struct Probe(mpsc::UnboundedSender<Instant>);

impl Handler for Probe {
    fn handle<'a>(&'a self, _job: &'a Job) -> HandlerFuture<'a> {
        let _ = self.0.send(Instant::now());
        Box::pin(async { Ok::<(), Failure>(()) })
    }
}

fn worker(store: &cairn_store::Store, bus: &Bus, tx: mpsc::UnboundedSender<Instant>) -> Worker {
    let consumers = Consumers::default().subscribe("probe", &[RECORDS_CREATED], Arc::new(Probe(tx)));
    let settings = DeliverySettings { poll_interval: Duration::from_secs(5), ..DeliverySettings::default() };
    Worker::new(store.clone(), bus.clone(), consumers, settings)
}

async fn create(tenant: TenantId, db: &Db, bus: &Bus, title: &str) {
    let input = RecordInput::parse(&serde_json::json!({ "title": title }), "").unwrap();
    let actor = Actor { id: "bench".into(), email: None };
    Records { tenant, db, bus }.create(vec![input], &actor, &RequestMeta::default()).await.unwrap();
}

async fn run(backend: Backend, postgres_server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let store = cairn::startup::open_store(&config).await.unwrap();
    let slug = cairn_domain::TenantSlug::parse("bench").unwrap();
    let tenant = store.create_tenant(&slug, "bench", None).await.unwrap();
    let db = store.tenant_db(tenant.id).await.unwrap();
    let bus = Bus::new(store.control().clone());
    if let Some(url) = &config.database_url {
        tokio::spawn(bus.clone().relay_postgres(url.to_string()));
    }

    // Latency: one event at a time, each waited for.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let running = tokio::spawn(worker(&store, &bus, tx).run());
    for i in 0..20 {
        create(tenant.id, &db, &bus, &format!("warm {i}")).await;
        rx.recv().await.unwrap();
    }
    let mut latencies = Vec::with_capacity(LATENCY_EVENTS);
    for i in 0..LATENCY_EVENTS {
        let t0 = Instant::now();
        create(tenant.id, &db, &bus, &format!("r{i}")).await;
        let started = rx.recv().await.unwrap();
        latencies.push(started.saturating_duration_since(t0));
    }
    running.abort();
    latencies.sort();
    println!(
        "{:<9} commit → consumer start: p50 {:>6.2} ms, p99 {:>6.2} ms ({} sequential events)",
        backend.as_str(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        LATENCY_EVENTS
    );

    // Throughput: a backlog written while no worker runs, then drained by one worker.
    for i in 0..BACKLOG {
        create(tenant.id, &db, &bus, &format!("b{i}")).await;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let t0 = Instant::now();
    let running = tokio::spawn(worker(&store, &bus, tx).run());
    for _ in 0..BACKLOG {
        rx.recv().await.unwrap();
    }
    let elapsed = t0.elapsed();
    running.abort();
    println!(
        "{:<9} delivery: {:>7.0} events/s (a backlog of {BACKLOG} drained by one worker in {:.2} s)",
        backend.as_str(),
        BACKLOG as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    run(Backend::Sqlite, &url).await;
    run(Backend::Postgres, &url).await;
}
