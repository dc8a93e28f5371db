//! Tenant lifecycle under failure, restarts and graceful shutdown.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cairn_domain::{Role, TenantId, now_ms};
use cairn_store::sqlx;
use cairn_testkit::{TestApp, backend_test};
use serde_json::{Value, json};

use crate::count;
use crate::tenants::database_exists;

backend_test!(async fn data_survives_a_restart(backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    app.add_number(&admin, json!(11)).await;
    app.add_number(&admin, json!(31)).await;
    let app = app.restart().await;
    // Same signing keys, same data; the issuer changed with the port, so mint again.
    let admin = app.token(&acme, Role::Admin);
    let stats: Value = app.get("/api/v1/numbers/stats", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["count"], 2);
    assert_eq!(stats["sum"], 42);
    let jwks_before = app.tokens().keys().jwks();
    let app = app.restart().await;
    assert_eq!(app.tokens().keys().jwks(), jwks_before, "keys persist across restarts");
});

// A process that died after registering a tenant but before creating its database left a
// `creating` row; one that died mid-delete left a `deleting` row. `migrate_all` finishes both.
backend_test!(async fn interrupted_creates_and_deletes_are_repaired(backend) {
    let app = TestApp::spawn(backend).await;
    let half_created = TenantId::new();
    sqlx::query("INSERT INTO tenants (id, slug, name, placement, state, created_at, updated_at) VALUES ($1, 'half', 'half', NULL, 'creating', $2, $2)")
        .bind(half_created.to_string()).bind(now_ms()).execute(app.store.control().writer()).await.unwrap();
    let doomed = app.create_tenant("doomed").await;
    sqlx::query("UPDATE tenants SET state = 'deleting' WHERE id = $1")
        .bind(doomed.id.to_string()).execute(app.store.control().writer()).await.unwrap();

    // Neither is a tenant while in progress.
    let op = app.operator_token();
    let listed: Value = app.get("/api/v1/tenants", &op).send().await.unwrap().json().await.unwrap();
    assert!(listed.as_array().unwrap().iter().all(|t| t["slug"] != "half" && t["slug"] != "doomed"), "{listed}");
    // This replica had the pool open; it notices the change within a second.
    let doomed_token = app.token(&doomed, Role::Admin);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = app.get("/api/v1/numbers", &doomed_token).send().await.unwrap().status();
        if status == 401 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "a tenant being deleted still answers {status}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let report = app.store.migrate_all(|_| {}).await.unwrap();
    assert_eq!(report.repaired.len(), 2, "{report:?}");
    assert!(report.problems.is_empty(), "{report:?}");
    assert!(database_exists(&app, &half_created.to_string()).await);
    assert!(!database_exists(&app, &doomed.id.to_string()).await);
    let half = app.store.tenant_by_slug(&cairn_domain::TenantSlug::parse("half").unwrap()).await.unwrap();
    let token = app.token(&cairn_testkit::TestTenant { id: half.id, slug: half.slug }, Role::Member);
    assert_eq!(app.add_number(&token, json!(1)).await.status(), 201, "the repaired tenant works");
    assert!(app.store.tenant_by_slug(&cairn_domain::TenantSlug::parse("doomed").unwrap()).await.is_err());
    // Running it again is a no-op.
    let again = app.store.migrate_all(|_| {}).await.unwrap();
    assert!(again.repaired.is_empty() && again.applied == 0 && again.problems.is_empty(), "{again:?}");
});

backend_test!(async fn tenant_pools_are_bounded(backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_open_tenant_pools = 2).await;
    let mut tokens = Vec::new();
    for slug in ["one", "two", "three", "four"] {
        let t = app.create_tenant(slug).await;
        tokens.push(app.token(&t, Role::Member));
    }
    for (i, token) in tokens.iter().enumerate() {
        assert_eq!(app.add_number(token, json!(i)).await.status(), 201);
        assert!(app.store.open_tenant_pools() <= 2);
    }
    // Evicted pools reopen on demand, with their data.
    for token in &tokens {
        assert_eq!(count(&app, token).await, 1);
    }
    assert_eq!(app.store.open_tenant_pools(), 2);
});

backend_test!(async fn shutdown_lets_an_in_flight_request_finish(backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let body = br#"{"value": 99}"#;
    // Send the headers and half the body, then ask the server to stop.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!("POST /api/v1/numbers HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {member}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the in-flight request");
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "no new connections while draining");
    stream.write_all(&body[5..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    stopping.await.unwrap();
});
