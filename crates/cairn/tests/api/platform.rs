//! Platform endpoints and the request path: health, readiness, metrics, request ids,
//! error bodies, body limit, JWKS and the OpenAPI description.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use crate::error_code;

async fn health_and_readiness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"status": "ok"}));
}
backend_test!(health_and_readiness);

async fn readiness_fails_when_the_control_database_is_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.store.control().close().await;
    let resp = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(error_code(resp).await, "UNAVAILABLE");
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
}
backend_test!(readiness_fails_when_the_control_database_is_gone);

async fn metrics_count_requests_by_route_and_status(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.add_number(&app.token(&acme, Role::Readonly), json!(1)).await;
    let text = app.metrics().await;
    assert!(text.contains(r#"cairn_http_requests_total{route="/healthz",method="GET",status="200"} 3"#), "{text}");
    assert!(
        text.contains(r#"cairn_http_requests_total{route="/api/v1/numbers",method="POST",status="403"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"cairn_http_request_duration_seconds_count{route="/healthz",method="GET"} 3"#), "{text}");
    let pools: Vec<&str> = text.lines().filter(|l| l.starts_with("cairn_store_open_tenant_pools")).collect();
    // The bootstrap tenant and acme.
    assert_eq!(pools, ["cairn_store_open_tenant_pools 2"]);
}
backend_test!(metrics_count_requests_by_route_and_status);

async fn request_ids_are_echoed_and_in_error_bodies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.client.get(app.url("/api/v1/numbers")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-me-42");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "trace-me-42");
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
}
backend_test!(request_ids_are_echoed_and_in_error_bodies);

async fn unknown_routes_and_methods_use_the_error_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let resp = app.client.get(app.url("/api/v1/nothing-here")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(error_code(resp).await, "NOT_FOUND");
    let resp = app.client.put(app.url("/api/v1/numbers")).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(error_code(resp).await, "METHOD_NOT_ALLOWED");
}
backend_test!(unknown_routes_and_methods_use_the_error_body);

async fn bodies_over_the_limit_are_413(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let big = format!(r#"{{"value": 1, "pad": "{}"}}"#, "x".repeat(1024 * 1024 + 10));
    let resp = app
        .client
        .post(app.url("/api/v1/numbers"))
        .bearer_auth(&member)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "PAYLOAD_TOO_LARGE");
    assert_eq!(crate::count(&app, &member).await, 0);
}
backend_test!(bodies_over_the_limit_are_413);

async fn jwks_publishes_the_verifying_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let jwks: Value = app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].is_string() && key["n"].is_string() && key["e"].is_string());
    assert!(key.get("d").is_none(), "no private material");
    // The key verifies tokens the server issues.
    let acme = app.create_tenant("acme").await;
    let token = app.token(&acme, Role::Admin);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let public =
        jsonwebtoken::DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["cairn-api"]);
    validation.set_issuer(&[app.issuer()]);
    let claims = jsonwebtoken::decode::<Value>(&token, &public, &validation)
        .expect("the published key verifies the token")
        .claims;
    assert_eq!(claims["cairn/tenant"]["slug"], "acme");
    // It verifies only what the server signed: the same signature over other claims fails.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut other = claims.clone();
    other["sub"] = json!("someone-else");
    let forged = format!("{}.{}.{}", parts[0], b64.encode(serde_json::to_vec(&other).unwrap()), parts[2]);
    let refused = jsonwebtoken::decode::<Value>(&forged, &public, &validation).unwrap_err();
    assert_eq!(refused.kind(), &jsonwebtoken::errors::ErrorKind::InvalidSignature);
}
backend_test!(jwks_publishes_the_verifying_key);

/// The OpenAPI document is valid 3.1 (checked by Python's openapi-spec-validator), and every
/// documented operation is routed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_is_valid_and_matches_the_router() {
    let app = TestApp::spawn(cairn_testkit::Backend::Sqlite).await;
    let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; from openapi_spec_validator import validate; from openapi_spec_validator.readers import read_from_filename; d,_=read_from_filename(sys.argv[1]); validate(d); print('valid')"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{id}", &uuid::Uuid::now_v7().to_string()).replace("{slug}", "acme");
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = app.client.request(m, app.url(&concrete)).send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            assert!(
                status != 405 && !body.contains("no such route"),
                "{method} {path} is documented but not routed ({status})"
            );
            // Every operation documents its errors with the shared body.
            let responses = op["responses"].as_object().unwrap();
            for (code, r) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    assert!(operations >= 12, "{operations} operations documented");
}

async fn a_request_that_outlives_the_timeout_is_503(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(backend, |c| c.request_timeout = std::time::Duration::from_millis(300)).await;
    let acme = app.create_tenant("acme").await;
    let member = app.token(&acme, Role::Member);
    let addr = app.base_url.trim_start_matches("http://").to_owned();
    // A body that never finishes arriving keeps the handler waiting past the timeout.
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/numbers HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {member}\r\nContent-Type: application/json\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{{\"val"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains(r#""code":"UNAVAILABLE""#), "{response}");
    assert_eq!(crate::count(&app, &member).await, 0);
}
backend_test!(a_request_that_outlives_the_timeout_is_503);

async fn an_internal_failure_is_a_generic_500(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let reader = app.token(&acme, Role::Readonly);
    assert_eq!(app.get("/api/v1/numbers", &reader).send().await.unwrap().status(), 200);
    // Break the tenant's database under the running app.
    app.store.tenant_db(acme.id).await.unwrap().close().await;
    let resp = app.get("/api/v1/numbers", &reader).header("x-request-id", "boom-1").send().await.unwrap();
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"error": {"code": "INTERNAL_ERROR", "message": "internal error", "request_id": "boom-1"}}));
}
backend_test!(an_internal_failure_is_a_generic_500);

async fn browsers_get_error_pages_and_api_clients_json(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = app.client.get(app.url("/no/such/page")).header("accept", html).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let body = page.text().await.unwrap();
    assert!(body.contains("Page not found") && body.contains("href=\"/\""), "{body}");
    // A form route asked with the wrong method: a page too, with the methods it takes.
    let wrong = app.client.delete(app.url("/app/numbers")).header("accept", html).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    assert!(wrong.headers().contains_key("allow"));
    assert!(wrong.text().await.unwrap().contains("Not allowed here"));
    // API clients, and browsers on the API, keep the JSON error body.
    for (path, accept) in [("/no/such/page", "application/json"), ("/api/v1/nothing", html), ("/no/such/page", "*/*")] {
        let resp = app.client.get(app.url(path)).header("accept", accept).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path} {accept}");
        assert_eq!(error_code(resp).await, "NOT_FOUND", "{path} {accept}");
    }
}
backend_test!(browsers_get_error_pages_and_api_clients_json);

async fn the_audit_export_sends_the_content_types_the_document_declares(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let declared: Vec<String> = doc["paths"]["/api/v1/audit/export"]["get"]["responses"]["200"]["content"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for format in ["jsonl", "csv"] {
        let resp = app.get(&format!("/api/v1/audit/export?format={format}"), &admin).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let sent = resp.headers()["content-type"].to_str().unwrap().split(';').next().unwrap().to_owned();
        assert!(declared.contains(&sent), "{format} sends {sent}, the document declares {declared:?}");
    }
}
backend_test!(the_audit_export_sends_the_content_types_the_document_declares);
