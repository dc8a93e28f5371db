//! Tenant lifecycle under failure, restarts and graceful shutdown.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cairn_domain::{Role, TenantId, now_ms};
use cairn_store::sqlx;
use cairn_testkit::rp::RelyingParty;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use crate::count;
use crate::tenants::database_exists;

async fn data_survives_a_restart(backend: Backend) {
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
}
backend_test!(data_survives_a_restart);

// A process that died after registering a tenant but before creating its database left a
// `creating` row; one that died mid-delete left a `deleting` row. `migrate_all` finishes both.
async fn interrupted_creates_and_deletes_are_repaired(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let half_created = TenantId::new();
    sqlx::query("INSERT INTO tenants (id, slug, name, placement, state, created_at, updated_at) VALUES ($1, 'half', 'half', NULL, 'creating', $2, $2)")
        .bind(half_created.to_string()).bind(now_ms()).execute(app.store.control().writer()).await.unwrap();
    let doomed = app.create_tenant("doomed").await;
    sqlx::query("UPDATE tenants SET state = 'deleting' WHERE id = $1")
        .bind(doomed.id.to_string())
        .execute(app.store.control().writer())
        .await
        .unwrap();

    // Neither is a tenant while in progress.
    let op = app.operator_token();
    let listed: Value = app.get("/api/v1/tenants", &op).send().await.unwrap().json().await.unwrap();
    assert!(
        listed["items"].as_array().unwrap().iter().all(|t| t["slug"] != "half" && t["slug"] != "doomed"),
        "{listed}"
    );
    // This replica had the pool open; it notices the change within a second.
    let doomed_token = app.token(&doomed, Role::Admin);
    cairn_testkit::eventually(
        "a tenant being deleted to stop answering",
        std::time::Duration::from_secs(5),
        || async {
            let status = app.get("/api/v1/numbers", &doomed_token).send().await.unwrap().status();
            (status == 401).then_some(())
        },
    )
    .await;

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
}
backend_test!(interrupted_creates_and_deletes_are_repaired);

async fn tenant_pools_are_bounded(backend: Backend) {
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
}
backend_test!(tenant_pools_are_bounded);

async fn shutdown_lets_an_in_flight_request_finish(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    let body = br#"{"value": 99}"#;
    // Send the headers and half the body, then ask the server to stop.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/numbers HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {member}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
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
}
backend_test!(shutdown_lets_an_in_flight_request_finish);

/// Whether `table` exists in `db`.
async fn has_table(db: &cairn_store::Db, table: &str) -> bool {
    let sql = match db.backend() {
        cairn_store::Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        cairn_store::Backend::Postgres => "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = $1",
    };
    sqlx::query_scalar::<_, i64>(sql).bind(table).fetch_one(db.reader()).await.unwrap() > 0
}

async fn schema_version(app: &TestApp, id: TenantId) -> Option<i64> {
    sqlx::query_scalar("SELECT schema_version FROM tenants WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(app.store.control().reader())
        .await
        .unwrap()
}

// A new release brings a tenant migration: opening the store waits for no tenant database;
// a tenant's first use migrates it, and the background sweep migrates the rest.
async fn tenant_databases_are_migrated_on_first_use_and_by_the_sweep(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    let current = cairn::startup::tenant_migrations().len() as i64;
    assert_eq!(schema_version(&app, acme.id).await, Some(current), "a new tenant is up to date");

    let mut newer = cairn::startup::tenant_migrations();
    newer.push(cairn_store::Migration {
        component: "lifecycle-test",
        version: 1,
        name: "probe",
        sqlite: "CREATE TABLE lazy_probe (id TEXT PRIMARY KEY)",
        postgres: "CREATE TABLE lazy_probe (id TEXT PRIMARY KEY)",
    });
    let c = &app.config;
    let config = cairn_store::StoreConfig {
        data_dir: std::path::absolute(&c.data_dir).unwrap(),
        database_url: c.database_url.clone(),
        control_max_connections: 4,
        tenant_max_connections: 2,
        max_open_tenant_pools: 8,
        acquire_timeout: std::time::Duration::from_secs(10),
    };
    let upgraded =
        cairn_store::Store::open(config, app.store.master_key().clone(), cairn::startup::control_migrations(), newer)
            .await
            .unwrap();
    let (_, acme_db) = app.tenant(&acme).await;
    let (_, globex_db) = app.tenant(&globex).await;
    assert!(
        !has_table(&acme_db, "lazy_probe").await && !has_table(&globex_db, "lazy_probe").await,
        "opening migrated nothing"
    );

    upgraded.tenant_db(acme.id).await.unwrap();
    assert!(has_table(&acme_db, "lazy_probe").await, "the first use migrated acme");
    assert!(!has_table(&globex_db, "lazy_probe").await, "and only acme");
    assert_eq!(schema_version(&app, acme.id).await, Some(current + 1));

    // An older process (the running app) never lowers the recorded version.
    let resp = app.add_number(&app.token(&acme, Role::Member), json!(1)).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(schema_version(&app, acme.id).await, Some(current + 1));

    let mut swept = Vec::new();
    let report = upgraded
        .migrate_pending(|e| {
            if let cairn_store::MigrateEvent::Tenant { slug, .. } = e {
                swept.push(slug.to_owned());
            }
        })
        .await
        .unwrap();
    assert!(swept.contains(&"globex".to_owned()) && !swept.contains(&"acme".to_owned()), "{swept:?}");
    assert_eq!(report.applied, report.tenants, "one migration each: {report:?}");
    assert!(has_table(&globex_db, "lazy_probe").await);
    assert_eq!(upgraded.migrations_pending(), 0);
    let again = upgraded.migrate_pending(|_| {}).await.unwrap();
    assert_eq!(again.tenants, 0, "nothing left: {again:?}");
    upgraded.close().await;
}
backend_test!(tenant_databases_are_migrated_on_first_use_and_by_the_sweep);

// One tenant whose database cannot be migrated answers 503 for itself only, and recovers
// once the database is fixed, without a restart.
async fn a_tenant_whose_migration_fails_is_unavailable_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let globex = app.create_tenant("globex").await;
    // acme's bookkeeping forgets the numbers tables, so migrating them again fails.
    let (_, acme_db) = app.tenant(&acme).await;
    let forgotten: Vec<(String, i64, String, String, i64)> = sqlx::query_as(
        "SELECT component, version, name, checksum, applied_at FROM cairn_migrations WHERE component = 'numbers'",
    )
    .fetch_all(acme_db.reader())
    .await
    .unwrap();
    assert!(!forgotten.is_empty());
    sqlx::query("DELETE FROM cairn_migrations WHERE component = 'numbers'").execute(acme_db.writer()).await.unwrap();
    sqlx::query("UPDATE tenants SET schema_version = NULL WHERE id = $1")
        .bind(acme.id.to_string())
        .execute(app.store.control().writer())
        .await
        .unwrap();
    let app = app.restart().await;

    let resp = app.get("/api/v1/numbers/stats", &app.token(&acme, Role::Member)).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(crate::error_code(resp).await, "UNAVAILABLE");
    let resp = app.get("/api/v1/numbers/stats", &app.token(&globex, Role::Member)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "another tenant is served");

    // Fixed by hand, beside Cairn (whose own pool for acme does not open).
    let url = match &app.config.database_url {
        None => {
            format!("sqlite://{}/tenants/{}.db", std::path::absolute(&app.config.data_dir).unwrap().display(), acme.id)
        }
        Some(control) => cairn_testkit::with_database(control.as_str(), &acme.id.database_name()),
    };
    let acme_db = sqlx::AnyPool::connect(&url).await.unwrap();
    for (component, version, name, checksum, applied_at) in &forgotten {
        sqlx::query(
            "INSERT INTO cairn_migrations (component, version, name, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(component)
        .bind(version)
        .bind(name)
        .bind(checksum)
        .bind(applied_at)
        .execute(&acme_db)
        .await
        .unwrap();
    }
    acme_db.close().await;
    let resp = app.get("/api/v1/numbers/stats", &app.token(&acme, Role::Member)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "repaired without a restart");
}
backend_test!(a_tenant_whose_migration_fails_is_unavailable_alone);

// The database stops answering: the API says 503 UNAVAILABLE with Retry-After (the caller
// did nothing wrong), and recovers by itself when the database is back, with every
// acknowledged write kept. PostgreSQL only: SQLite has no server to lose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_unavailable_then_recovers_postgres() {
    let mut server = cairn_testkit::postgres::PostgresServer::start().expect("PostgreSQL starts");
    let dir = tempfile::tempdir().unwrap();
    let mut config = cairn_testkit::fresh_config_on(dir.path(), Some(&server.url()));
    config.db_acquire_timeout = std::time::Duration::from_secs(2);
    let rp = RelyingParty::on(TestApp::spawn_config(cairn_testkit::Backend::Postgres, config, dir).await, true).await;
    let app = &rp.app;
    let member = app.token(&rp.tenant, Role::Member);
    assert_eq!(app.add_number(&member, json!(7)).await.status(), 201);

    server.interrupt();
    let resp = app.get("/api/v1/numbers/stats", &member).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(crate::error_code(resp).await, "UNAVAILABLE");
    let resp = app.add_number(&member, json!(8)).await;
    assert_eq!(resp.status(), 503, "a write during the outage is refused, not half done");
    // The hosted pages say the same to a person signing in.
    let page = app.client.get(rp.authorize_url(&[])).send().await.unwrap();
    assert_eq!(page.status(), 503);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("Cairn cannot answer right now"));

    server.resume().unwrap();
    let stats = cairn_testkit::eventually("the API to recover", std::time::Duration::from_secs(30), || async {
        let resp = app.get("/api/v1/numbers/stats", &member).send().await.ok()?;
        (resp.status() == 200).then_some(())?;
        resp.json::<Value>().await.ok()
    })
    .await;
    assert_eq!(stats["count"], 1, "the acknowledged write is there, the refused one is not");
    rp.app.stop().await;
}
