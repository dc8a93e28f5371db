//! The API does what its OpenAPI document says, for what schemathesis found it did not
//! (`scripts/api-fuzz` runs it over the whole document).

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

/// Asserts a `400 VALIDATION_ERROR` naming `field`, whose message is `field: message`.
async fn refused(resp: reqwest::Response, field: &str, message: &str) {
    let url = resp.url().to_string();
    assert_eq!(resp.status(), 400, "{url}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{url}: {body}");
    assert_eq!(body["error"]["field"], field, "{url}: {body}");
    assert_eq!(body["error"]["message"], format!("{field}: {message}"), "{url}: {body}");
}

async fn json_of(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    body
}

/// A request with `body` sent as it is, with a JSON content type.
fn raw(app: &TestApp, method: reqwest::Method, path: &str, token: &str, body: &'static str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(token).header("content-type", "application/json").body(body)
}

async fn record(app: &TestApp, token: &str) -> String {
    let created =
        json_of(app.post("/api/v1/records", token, &json!({"title": "Handbook"})).send().await.unwrap()).await;
    created["id"].as_str().unwrap().to_owned()
}

async fn admin(app: &TestApp) -> (TestTenant, String) {
    let acme = app.create_tenant("acme").await;
    let token = app.token(&acme, Role::Admin);
    (acme, token)
}

async fn a_body_is_an_object_and_an_optional_body_may_be_null(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = admin(&app).await;
    let hook = json_of(
        app.post(
            "/api/v1/webhooks",
            &admin,
            &json!({"url": "https://hooks.example.com/x", "events": ["records_created"]}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let path = format!("/api/v1/webhooks/{}", hook["id"].as_str().unwrap());

    // serde reads a struct from an array; the API refuses it, and changes nothing.
    refused(
        raw(&app, reqwest::Method::PATCH, &path, &admin, "[null, null]").send().await.unwrap(),
        "body",
        "must be an object",
    )
    .await;
    refused(
        raw(&app, reqwest::Method::POST, "/api/v1/numbers", &admin, "[42]").send().await.unwrap(),
        "body",
        "must be an object",
    )
    .await;
    let now = json_of(app.get(&path, &admin).send().await.unwrap()).await;
    assert_eq!(now["events"], json!(["records_created"]));
    assert_eq!(crate::count(&app, &admin).await, 0);

    // The publish note is optional, and so is its body: absent, empty or `null`.
    let id = record(&app, &admin).await;
    let publish = format!("/api/v1/records/{id}/publish");
    let first = json_of(raw(&app, reqwest::Method::POST, &publish, &admin, "null").send().await.unwrap()).await;
    assert_eq!((first["version"].as_i64(), first["note"].as_str()), (Some(1), Some("")));
    refused(
        raw(&app, reqwest::Method::POST, &publish, &admin, r#"["a note"]"#).send().await.unwrap(),
        "body",
        "must be an object",
    )
    .await;
    let second =
        json_of(raw(&app, reqwest::Method::POST, &publish, &admin, r#"{"note": null}"#).send().await.unwrap()).await;
    assert_eq!(second["version"], 2);
}
backend_test!(a_body_is_an_object_and_an_optional_body_may_be_null);

async fn whole_numbers_may_be_written_with_a_zero_fraction(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = admin(&app).await;
    let put = |path: &str, body: &'static str| raw(&app, reqwest::Method::PUT, path, &admin, body).send();
    let patch = |path: &str, body: &'static str| raw(&app, reqwest::Method::PATCH, path, &admin, body).send();

    // JSON Schema's `integer` counts 90.0 as 90.
    let audit = json_of(put("/api/v1/audit/settings", r#"{"retention_days": 90.0}"#).await.unwrap()).await;
    assert_eq!(audit["retention_days"], 90);
    let settings = json_of(patch("/api/v1/identity/settings", r#"{"access_ttl_secs": 600.0}"#).await.unwrap()).await;
    assert_eq!(settings["access_ttl_secs"], 600);
    let mut whole = settings.clone();
    whole["session_ttl_secs"] = json!(3600.0);
    let replaced = json_of(
        app.client.put(app.url("/api/v1/identity/settings")).bearer_auth(&admin).json(&whole).send().await.unwrap(),
    )
    .await;
    assert_eq!(replaced["session_ttl_secs"], 3600);

    // A fraction is still refused, in the same words as before.
    refused(
        patch("/api/v1/identity/settings", r#"{"access_ttl_secs": 600.5}"#).await.unwrap(),
        "access_ttl_secs",
        "must be a whole number from 0 to 4294967295",
    )
    .await;
    refused(
        put("/api/v1/audit/settings", r#"{"retention_days": 1.5}"#).await.unwrap(),
        "retention_days",
        "must be a whole number",
    )
    .await;
    refused(
        put("/api/v1/audit/settings", r#"{"retention_days": "30"}"#).await.unwrap(),
        "retention_days",
        "must be a whole number",
    )
    .await;
    let kept = json_of(app.get("/api/v1/identity/settings", &admin).send().await.unwrap()).await;
    assert_eq!(kept["access_ttl_secs"], 600);
}
backend_test!(whole_numbers_may_be_written_with_a_zero_fraction);

async fn limits_count_what_was_given(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = admin(&app).await;
    let create = |body: Value| app.post("/api/v1/records", &admin, &body).send();

    // 201 characters with the blanks around them: over the documented 200.
    let padded = format!(" {} ", "t".repeat(199));
    refused(create(json!({"title": padded})).await.unwrap(), "title", "at most 200 characters, no control characters")
        .await;
    // 21 tags given, though they are one tag repeated.
    refused(create(json!({"title": "Handbook", "tags": vec!["ops"; 21]})).await.unwrap(), "tags", "at most 20 tags")
        .await;
    refused(
        create(json!({"title": "Handbook", "tags": [format!(" {} ", "t".repeat(39))]})).await.unwrap(),
        "tags",
        "each tag has 1 to 40 characters",
    )
    .await;
    let list = json_of(app.get("/api/v1/records", &admin).send().await.unwrap()).await;
    assert_eq!(list["items"], json!([]), "nothing was stored");

    // Within the limits, blanks are still trimmed and repeats dropped.
    let ok = json_of(create(json!({"title": " Handbook ", "tags": vec!["ops"; 20]})).await.unwrap()).await;
    assert_eq!((ok["title"].as_str(), &ok["tags"]), (Some("Handbook"), &json!(["ops"])));
    let id = ok["id"].as_str().unwrap();
    let note = format!(" {} ", "n".repeat(999));
    let resp = app.post(&format!("/api/v1/records/{id}/publish"), &admin, &json!({"note": note})).send().await.unwrap();
    refused(resp, "note", "at most 1000 characters").await;

    // An action prefix is at most 100 characters, as an action is.
    let prefix = format!("{}.*", "a".repeat(98));
    json_of(app.get(&format!("/api/v1/audit?action={prefix}"), &admin).send().await.unwrap()).await;
    let resp = app.get(&format!("/api/v1/audit?action=a{prefix}"), &admin).send().await.unwrap();
    refused(resp, "action", "must be an action name or a prefix like user.*").await;
}
backend_test!(limits_count_what_was_given);

async fn cursors_and_filters_are_read_as_documented(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, admin) = admin(&app).await;
    let id = record(&app, &admin).await;
    let history = format!("/api/v1/records/{id}/publish-history");
    for _ in 0..2 {
        json_of(app.post(&format!("/api/v1/records/{id}/publish"), &admin, &json!({})).send().await.unwrap()).await;
    }

    // A publish history's cursor is a version number as the API writes it.
    let page = json_of(app.get(&format!("{history}?limit=1"), &admin).send().await.unwrap()).await;
    assert_eq!(page["next_cursor"], "2");
    let rest = json_of(app.get(&format!("{history}?cursor=2"), &admin).send().await.unwrap()).await;
    assert_eq!(rest["items"][0]["version"], 1);
    for bad in ["%2B2", "02", "0", "-1", "2.0"] {
        let resp = app.get(&format!("{history}?cursor={bad}"), &admin).send().await.unwrap();
        refused(resp, "cursor", "must be a version number from this history").await;
    }

    // An empty query value counts as absent, as the document's `allowEmptyValue` says.
    let empty = json_of(app.get(&format!("{history}?limit=&cursor="), &admin).send().await.unwrap()).await;
    assert_eq!(empty["items"].as_array().unwrap().len(), 2);
}
backend_test!(cursors_and_filters_are_read_as_documented);

// The document states what every operation shares and the limits the handlers enforce.
async fn the_document_states_the_limits_the_api_enforces(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let doc: Value = app.client.get(app.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let param = |path: &str, name: &str| {
        op(path, "get")["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap()
    };
    let limit = param("/api/v1/users", "limit");
    assert_eq!((&limit["schema"]["minimum"], &limit["schema"]["maximum"]), (&json!(1), &json!(500)));
    assert_eq!(limit["allowEmptyValue"], true);
    for (path, method) in [("/api/v1/numbers", "post"), ("/api/v1/records/{id}", "patch"), ("/api/v1/users", "post")] {
        assert!(op(path, method)["responses"]["413"].is_object(), "{method} {path}");
    }
    assert!(op("/api/v1/numbers", "get")["responses"]["413"].is_null(), "no body, no 413");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["CreateNumber"]["properties"]["value"]["maximum"].as_f64(), Some(1e15));
    assert_eq!(schemas["NewRecord"]["required"], json!(["title"]));
    assert_eq!(schemas["Role"]["enum"], json!(["readonly", "member", "admin"]));
    assert_eq!(schemas["AuditSettings"]["properties"]["retention_days"]["maximum"], 3650);
}
backend_test!(the_document_states_the_limits_the_api_enforces);
