//! Sources over the API: credentials tried before anything is stored, tokens sealed and
//! never shown, refusals naming their field, runs asked for and read back.

use cairn_domain::Role;
use cairn_testkit::fixtures::{GitHubServer, GitHubWorld};
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use super::audit;

const TOKEN: &str = "ghp_fixture_secret";

fn world() -> GitHubWorld {
    let mut w = GitHubWorld::new(TOKEN);
    w.repository("acme/api", "main");
    w.repository("acme/web", "main");
    w.add_organization("acme");
    w
}

fn github(gh: &GitHubServer, token: &str, repositories: &[&str]) -> Value {
    json!({
        "kind": "github", "name": "GitHub", "base_url": gh.base_url, "graphql_url": gh.graphql_url,
        "token": token, "repositories": repositories,
    })
}

async fn refusal(resp: reqwest::Response) -> (u16, String, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or_default().into(),
        body["error"]["field"].as_str().unwrap_or_default().into(),
    )
}

async fn listed(app: &TestApp, admin: &str) -> Vec<Value> {
    let body: Value = app.get("/api/v1/metrics/sources", admin).send().await.unwrap().json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

async fn a_source_is_stored_once_its_credentials_work(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let gh = GitHubServer::start(world()).await;

    let resp = app.post("/api/v1/metrics/sources", &admin, &github(&gh, "wrong", &["acme/api"])).send().await.unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "token".into()));
    let resp = app
        .post("/api/v1/metrics/sources", &admin, &github(&gh, TOKEN, &["acme/api", "acme/nope"]))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "repositories[1]".into()));
    let resp = app
        .post(
            "/api/v1/metrics/sources",
            &admin,
            &json!({"kind": "github", "name": "G", "token": TOKEN, "base_url": gh.base_url, "organization": "nope"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "organization".into()));
    let resp = app
        .post(
            "/api/v1/metrics/sources",
            &admin,
            &json!({"kind": "github", "name": "G", "token": TOKEN, "base_url": gh.base_url}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "repositories".into()));
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let resp = app
        .post("/api/v1/metrics/sources", &admin, &json!({"kind": "github", "name": "G", "token": TOKEN, "base_url": format!("http://{closed}"), "repositories": ["acme/api"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refusal(resp).await.0, 502);
    assert!(listed(&app, &admin).await.is_empty(), "nothing stored after a refusal");

    let resp = app.post("/api/v1/metrics/sources", &admin, &github(&gh, TOKEN, &["acme/api"])).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(TOKEN), "the token is never returned: {text}");
    let source: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((source["has_token"].as_bool(), source["repositories"].clone()), (Some(true), json!(["acme/api"])));
    let id = source["id"].as_str().unwrap();
    let created = audit(&app, &admin, "metrics.source_created").await;
    assert_eq!(created.len(), 1);
    assert!(!created[0].to_string().contains(TOKEN));

    let resp = app.post("/api/v1/metrics/sources", &admin, &github(&gh, TOKEN, &["acme/web"])).send().await.unwrap();
    assert_eq!(resp.status(), 409, "names are unique");

    // A new token is tried the same way.
    let path = format!("/api/v1/metrics/sources/{id}");
    let resp = app.patch(&path, &admin, &json!({"token": "wrong"})).send().await.unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "token".into()));
    let resp = app
        .patch(&path, &admin, &json!({"repositories": ["acme/api", "acme/web"], "name": "Acme GitHub"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let changed: Value = resp.json().await.unwrap();
    assert_eq!(
        (changed["name"].as_str(), changed["repositories"].as_array().map(Vec::len)),
        (Some("Acme GitHub"), Some(2))
    );
    let updated = audit(&app, &admin, "metrics.source_updated").await;
    assert_eq!(updated[0]["details"]["changed"], json!(["name", "repositories"]));
    // An optional field is cleared with `null` (and tried like any new place to read); a
    // field left out stays.
    let resp = app.patch(&path, &admin, &json!({"graphql_url": null})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let cleared: Value = resp.json().await.unwrap();
    assert_eq!((cleared["graphql_url"].clone(), cleared["name"].as_str()), (Value::Null, Some("Acme GitHub")));
    // Without the organization or repositories there is nothing to read: refused, naming it.
    let resp = app.patch(&path, &admin, &json!({"repositories": [], "organization": null})).send().await.unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "repositories".into()));
    let resp = app.patch(&path, &admin, &json!({"base_url": 7})).send().await.unwrap();
    assert_eq!(resp.status(), 400, "a URL is text");

    // Members do not see sources; the refusal is audited.
    let member = app.token(&acme, Role::Member);
    assert_eq!(app.get("/api/v1/metrics/sources", &member).send().await.unwrap().status(), 403);
    let denied = audit(&app, &admin, "access.denied").await;
    assert_eq!(denied[0]["details"]["attempted"], "metrics_source.list");

    assert_eq!(app.delete(&path, &admin).send().await.unwrap().status(), 204);
    assert_eq!(app.get(&path, &admin).send().await.unwrap().status(), 404);
    assert!(listed(&app, &admin).await.is_empty());
    assert_eq!(app.delete(&path, &admin).send().await.unwrap().status(), 404);
}
backend_test!(a_source_is_stored_once_its_credentials_work);

async fn a_private_address_is_refused_unless_the_operator_allows_it(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.outbound.allow_private = false).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let gh = GitHubServer::start(world()).await;
    let resp = app.post("/api/v1/metrics/sources", &admin, &github(&gh, TOKEN, &["acme/api"])).send().await.unwrap();
    let (status, code, field) = refusal(resp).await;
    assert_eq!((status, code.as_str(), field.as_str()), (400, "VALIDATION_ERROR", "base_url"));
    assert_eq!(gh.requests().len(), 0, "nothing was sent");
    assert!(listed(&app, &admin).await.is_empty());
}
backend_test!(a_private_address_is_refused_unless_the_operator_allows_it);

async fn a_run_is_asked_for_then_read_back_done(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let gh = GitHubServer::start(world()).await;
    let source: Value = app
        .post("/api/v1/metrics/sources", &admin, &github(&gh, TOKEN, &["acme/api"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = source["id"].as_str().unwrap();
    let runs = format!("/api/v1/metrics/sources/{id}/runs");
    let resp = app.post(&runs, &admin, &json!({"since": "2999-01-01"})).send().await.unwrap();
    assert_eq!(refusal(resp).await, (400, "VALIDATION_ERROR".into(), "since".into()));
    let resp = app.post(&runs, &admin, &json!({"since": "2026-13-01"})).send().await.unwrap();
    assert_eq!(refusal(resp).await.2, "since");

    let resp = app.post(&runs, &admin, &json!({"since": "2026-09-01"})).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let run: Value = resp.json().await.unwrap();
    assert_eq!((run["status"].as_str(), run["trigger"].as_str()), (Some("queued"), Some("manual")));
    assert_eq!(audit(&app, &admin, "metrics.run_requested").await.len(), 1);
    let run_path = format!("/api/v1/metrics/runs/{}", run["id"].as_str().unwrap());
    // The server's worker takes it.
    let done = cairn_testkit::eventually("the run to finish", std::time::Duration::from_secs(60), || async {
        let r: Value = app.get(&run_path, &admin).send().await.ok()?.json().await.ok()?;
        (r["status"] == "succeeded" || r["status"] == "failed").then_some(r)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["counts"]["repositories"]["new"], 1);
    assert!(done["requests"].as_i64().unwrap() > 0);
    let listed: Value =
        app.get(&format!("/api/v1/metrics/runs?source={id}"), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"][0]["id"], run["id"]);
    assert_eq!(app.get("/api/v1/metrics/runs/nope", &admin).send().await.unwrap().status(), 404);
}
backend_test!(a_run_is_asked_for_then_read_back_done);
