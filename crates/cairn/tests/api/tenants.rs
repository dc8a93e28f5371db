//! The operator API for tenants.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use crate::error_code;

/// Whether the tenant's database exists on its backend.
pub async fn database_exists(app: &TestApp, id: &str) -> bool {
    match app.backend {
        Backend::Sqlite => app.config.data_dir.join("tenants").join(format!("{id}.db")).exists(),
        Backend::Postgres => {
            let name = format!("cairn_t_{}", id.replace('-', ""));
            let url = cairn_testkit::with_database(&cairn_testkit::postgres_url(), "postgres");
            let mut conn =
                <cairn_store::sqlx::PgConnection as cairn_store::sqlx::Connection>::connect(&url).await.unwrap();
            let n: i64 = cairn_store::sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            n == 1
        }
    }
}

async fn operators_create_list_show_and_delete_tenants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let op = app.operator_token();
    let resp =
        app.post("/api/v1/tenants", &op, &json!({"slug": "globex", "name": "Globex Corp"})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["slug"], "globex");
    assert_eq!(created["name"], "Globex Corp");
    assert!(created["placement"].is_null());
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(database_exists(&app, &id).await);

    let listed: Value = app.get("/api/v1/tenants", &op).send().await.unwrap().json().await.unwrap();
    let slugs: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert!(slugs.contains(&"globex"), "{listed}");
    let shown: Value = app.get("/api/v1/tenants/globex", &op).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown, created);

    // The new tenant is usable at once.
    let globex =
        cairn_testkit::TestTenant { id: id.parse().unwrap(), slug: cairn_domain::TenantSlug::parse("globex").unwrap() };
    assert_eq!(app.add_number(&app.token(&globex, Role::Member), json!(1)).await.status(), 201);

    assert_eq!(app.delete("/api/v1/tenants/globex", &op).send().await.unwrap().status(), 204);
    assert!(!database_exists(&app, &id).await, "the tenant database is dropped");
    let resp = app.get("/api/v1/tenants/globex", &op).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "NOT_FOUND");
    assert_eq!(app.delete("/api/v1/tenants/globex", &op).send().await.unwrap().status(), 404);
    // The slug is free again.
    let resp = app.post("/api/v1/tenants", &op, &json!({"slug": "globex"})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
}
backend_test!(operators_create_list_show_and_delete_tenants);

async fn bad_tenant_requests_are_rejected_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let op = app.operator_token();
    let before: Value = app.get("/api/v1/tenants", &op).send().await.unwrap().json().await.unwrap();
    for body in [
        json!({"slug": "A"}),
        json!({"slug": "1abc"}),
        json!({"slug": "x"}),
        json!({"slug": "has space"}),
        json!({"slug": format!("a{}", "b".repeat(63))}),
        json!({}),
        json!({"slug": 5}),
        json!({"slug": "okay", "name": ""}),
        json!({"slug": "okay", "name": "n".repeat(201)}),
        json!({"slug": "okay", "extra": true}),
    ] {
        let resp = app.post("/api/v1/tenants", &op, &body).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(error_code(resp).await, "VALIDATION_ERROR");
    }
    if backend == Backend::Sqlite {
        let resp = app
            .post("/api/v1/tenants", &op, &json!({"slug": "placed", "placement": "postgres://x@127.0.0.1:1/db"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "placement needs PostgreSQL");
    } else {
        let resp = app
            .post("/api/v1/tenants", &op, &json!({"slug": "placed", "placement": "mysql://x/db"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
    }
    assert_eq!(app.post("/api/v1/tenants", &op, &json!({"slug": "dup"})).send().await.unwrap().status(), 201);
    let resp = app.post("/api/v1/tenants", &op, &json!({"slug": "dup"})).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "CONFLICT");
    let after: Value = app.get("/api/v1/tenants", &op).send().await.unwrap().json().await.unwrap();
    assert_eq!(after["items"].as_array().unwrap().len(), before["items"].as_array().unwrap().len() + 1);
}
backend_test!(bad_tenant_requests_are_rejected_and_change_nothing);

async fn only_operators_reach_the_tenant_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    assert_eq!(app.get("/api/v1/tenants", &admin).send().await.unwrap().status(), 403);
    assert_eq!(app.get("/api/v1/tenants/acme", &admin).send().await.unwrap().status(), 403);
    assert_eq!(app.post("/api/v1/tenants", &admin, &json!({"slug": "evil"})).send().await.unwrap().status(), 403);
    assert_eq!(app.delete("/api/v1/tenants/acme", &admin).send().await.unwrap().status(), 403);
    assert_eq!(app.client.get(app.url("/api/v1/tenants")).send().await.unwrap().status(), 401);
    let op = app.operator_token();
    assert_eq!(app.get("/api/v1/tenants/acme", &op).send().await.unwrap().status(), 200);
}
backend_test!(only_operators_reach_the_tenant_api);

/// Placements exist only on PostgreSQL; the SQLite refusal is tested above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_puts_the_tenant_database_on_the_named_server() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let op = app.operator_token();
    let server = cairn_testkit::with_database(&cairn_testkit::postgres_url(), "postgres");
    let resp = app.post("/api/v1/tenants", &op, &json!({"slug": "placed", "placement": server})).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert!(created["placement"].as_str().unwrap().starts_with("postgres://"));
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(database_exists(&app, &id).await);
    let placed =
        cairn_testkit::TestTenant { id: id.parse().unwrap(), slug: cairn_domain::TenantSlug::parse("placed").unwrap() };
    assert_eq!(app.add_number(&app.token(&placed, Role::Member), json!(5)).await.status(), 201);
    assert_eq!(app.delete("/api/v1/tenants/placed", &op).send().await.unwrap().status(), 204);
    assert!(!database_exists(&app, &id).await);
}

/// A placement server that does not answer is the caller's mistake: 400, and nothing kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_placement_is_400_and_frees_the_slug() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let op = app.operator_token();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("postgres://cairn:secret@127.0.0.1:{port}/postgres");
    let resp = app.post("/api/v1/tenants", &op, &json!({"slug": "lost", "placement": nowhere})).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["field"], "placement");
    assert!(!body.to_string().contains("secret"), "{body}");
    assert_eq!(app.post("/api/v1/tenants", &op, &json!({"slug": "lost"})).send().await.unwrap().status(), 201);
    let report = app.store.migrate_all(|_| {}).await.unwrap();
    assert!(report.repaired.is_empty() && report.problems.is_empty(), "{report:?}");
}
