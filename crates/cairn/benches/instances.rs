//! The instances list served by Cairn, for 2 accounts × 2 regions × 500 instances in moto:
//! read cold (every account and region asked again) and from the short cache, against the
//! same page of the numbers store in the same run, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench instances
//!
//! Needs `moto_server` (scripts/test installs it). Uses `CAIRN_TEST_POSTGRES_URL` when set,
//! else starts a throwaway PostgreSQL. Each figure is the latency of one `GET` of a page of
//! 100 over HTTP on loopback, one request at a time: p50 and p95 of `COLD` cold reads
//! (`fresh=true`), then of `WARM` cached reads and `WARM` reads of `/api/v1/numbers?limit=100`,
//! interleaved so both see the same machine. The goal: the cached list's p95 within 1.5× the
//! numbers page's.

use std::time::{Duration, Instant};

use cairn_domain::Role;
use cairn_testkit::bench::{ms, percentile};
use cairn_testkit::moto::{ACCESS_KEY, MotoServer, SECRET_KEY};
use cairn_testkit::{Backend, TestApp};
use serde_json::json;

const PER_REGION: usize = 500;
const COLD: usize = 20;
const WARM: usize = 300;
const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const ROLE: &str = "arn:aws:iam::222222222222:role/cairn-console";

fn summary(mut d: Vec<Duration>) -> (Duration, Duration) {
    d.sort();
    (percentile(&d, 0.5), percentile(&d, 0.95))
}

async fn timed(app: &TestApp, token: &str, path: &str) -> Duration {
    let t0 = Instant::now();
    let resp = app.get(path, token).send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    let _ = resp.bytes().await.unwrap();
    t0.elapsed()
}

async fn run(backend: Backend, postgres_server: &str, moto: &MotoServer) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let app = TestApp::spawn_config(backend, config, dir).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    for (name, auth) in [
        ("prod", json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY})),
        ("dev", json!({"role_arn": ROLE})),
    ] {
        let mut body = json!({"name": name, "regions": REGIONS, "endpoint_url": moto.url()});
        body.as_object_mut().unwrap().extend(auth.as_object().unwrap().clone());
        let resp = app.post("/api/v1/instances/accounts", &admin, &body).send().await.unwrap();
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    }
    for i in 0..150 {
        assert_eq!(app.add_number(&admin, json!(i)).await.status(), 201);
    }
    let listed: serde_json::Value =
        app.get("/api/v1/instances?fresh=true&limit=500", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 500);
    assert_eq!(listed["unavailable"], json!([]));

    let cold = {
        let mut d = Vec::new();
        for _ in 0..COLD {
            d.push(timed(&app, &admin, "/api/v1/instances?fresh=true&limit=100").await);
        }
        summary(d)
    };
    let (mut cached, mut numbers) = (Vec::new(), Vec::new());
    for _ in 0..WARM {
        cached.push(timed(&app, &admin, "/api/v1/instances?limit=100").await);
        numbers.push(timed(&app, &admin, "/api/v1/numbers?limit=100").await);
    }
    let (cached, numbers) = (summary(cached), summary(numbers));
    println!(
        "{:<9} {} instances: cold p50 {:>7.1} ms p95 {:>7.1} ms; cached p50 {:>5.2} ms p95 {:>5.2} ms; \
         numbers page p50 {:>5.2} ms p95 {:>5.2} ms; cached p95 / numbers p95 = {:.2}× (goal ≤ 1.5×)",
        backend.as_str(),
        PER_REGION * REGIONS.len() * 2,
        ms(cold.0),
        ms(cold.1),
        ms(cached.0),
        ms(cached.1),
        ms(numbers.0),
        ms(numbers.1),
        cached.1.as_secs_f64() / numbers.1.as_secs_f64(),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    let moto = MotoServer::start();
    let dev_key = moto.role_access_key(ROLE).await;
    for region in REGIONS {
        for key in [ACCESS_KEY, dev_key.as_str()] {
            let made = moto.run_many(key, region, PER_REGION, "bench").await;
            assert_eq!(made.len(), PER_REGION);
        }
    }
    run(Backend::Sqlite, &url, &moto).await;
    run(Backend::Postgres, &url, &moto).await;
}
