//! Bodies and query strings that do not fit are refused with the field at fault and what it
//! must be, in plain words: never the deserializer's own text.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

/// Asserts a `400 VALIDATION_ERROR` naming `field`, whose message is `field: message`.
async fn refused(resp: reqwest::Response, field: &str, message: &str) {
    let url = resp.url().to_string();
    assert_eq!(resp.status(), 400, "{url}");
    let body: Value = resp.json().await.unwrap();
    let error = &body["error"];
    assert_eq!(error["code"], "VALIDATION_ERROR", "{url}: {body}");
    assert_eq!(error["field"], field, "{url}: {body}");
    assert_eq!(error["message"], format!("{field}: {message}"), "{url}: {body}");
    assert!(!error["message"].as_str().unwrap().contains("Failed to deserialize"), "{url}: {body}");
}

async fn bad_bodies_and_queries_name_the_field_in_plain_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let ann = app.create_user(&acme, "ann@acme.test", "correct horse battery", &[Role::Member]).await;
    let put = |path: &str, body: Value| app.client.put(app.url(path)).bearer_auth(&admin).json(&body).send();
    let patch = |path: &str, body: Value| app.client.patch(app.url(path)).bearer_auth(&admin).json(&body).send();

    // An unknown enum variant, inside an array.
    let roles = format!("/api/v1/users/{}/roles", ann.id);
    refused(
        put(&roles, json!({"roles": ["member", "owner"]})).await.unwrap(),
        "roles[1]",
        "must be one of: readonly, member, admin",
    )
    .await;
    refused(put(&roles, json!({"roles": [1]})).await.unwrap(), "roles[0]", "must be a string").await;
    refused(
        patch("/api/v1/identity/settings", json!({"default_role": "root"})).await.unwrap(),
        "default_role",
        "must be one of: readonly, member, admin",
    )
    .await;
    // Wrong types.
    let resp = app
        .post("/api/v1/webhooks", &admin, &json!({"url": "https://hooks.example.com/x", "events": "records_created"}))
        .send()
        .await
        .unwrap();
    refused(resp, "events", "must be an array").await;
    refused(app.post("/api/v1/users", &admin, &json!({"email": 5})).send().await.unwrap(), "email", "must be a string")
        .await;
    refused(
        app.post("/api/v1/users", &admin, &json!({"email": "bo@"})).send().await.unwrap(),
        "email",
        "is not a valid email address",
    )
    .await;
    refused(
        patch("/api/v1/identity/settings", json!({"access_ttl_secs": -5})).await.unwrap(),
        "access_ttl_secs",
        "must be a whole number from 0 to 4294967295",
    )
    .await;
    refused(
        patch(&format!("/api/v1/users/{}", ann.id), json!({"sso_required": "yes"})).await.unwrap(),
        "sso_required",
        "must be true or false",
    )
    .await;
    // Missing and unknown fields.
    refused(
        app.post("/api/v1/clients", &admin, &json!({"redirect_uris": []})).send().await.unwrap(),
        "name",
        "is required",
    )
    .await;
    refused(put(&roles, json!({})).await.unwrap(), "roles", "is required").await;
    let op = app.operator_token();
    refused(
        app.post("/api/v1/tenants", &op, &json!({"slug": "globex", "owner": "me"})).send().await.unwrap(),
        "owner",
        "unknown field; known: slug, name, placement",
    )
    .await;
    // Malformed JSON, and a body that is not JSON at all.
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/users"))
            .bearer_auth(&admin)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    refused(raw(r#"{"email": "bo@acme.test""#, "application/json").await.unwrap(), "body", "is not valid JSON").await;
    refused(
        raw(r#"{"email": "bo@acme.test"} trailing"#, "application/json").await.unwrap(),
        "body",
        "is not valid JSON",
    )
    .await;
    refused(
        raw("email=bo@acme.test", "application/x-www-form-urlencoded").await.unwrap(),
        "body",
        "must be JSON, sent with content-type: application/json",
    )
    .await;
    // Bad query values.
    refused(app.get("/api/v1/users?limit=ten", &admin).send().await.unwrap(), "limit", "must be a whole number").await;
    refused(app.get("/api/v1/audit?limit=2.5", &admin).send().await.unwrap(), "limit", "must be a whole number").await;
    refused(
        app.get("/api/v1/records?limit=99999999999999999999", &admin).send().await.unwrap(),
        "limit",
        "must be a smaller whole number",
    )
    .await;

    // Nothing was changed by any of them.
    let user: Value = app.get(&format!("/api/v1/users/{}", ann.id), &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(user["roles"], json!(["member"]));
    assert_eq!(user["sso_required"], false);
    let users: Value = app.get("/api/v1/users", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
    let tenants: Value = app.get("/api/v1/tenants", &op).send().await.unwrap().json().await.unwrap();
    assert!(tenants["items"].as_array().unwrap().iter().all(|t| t["slug"] != "globex"));
    let settings: Value = app.get("/api/v1/identity/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["default_role"], "member");
    assert!(settings["access_ttl_secs"].as_u64().unwrap() > 0);
}
backend_test!(bad_bodies_and_queries_name_the_field_in_plain_words);

/// Asserts a `404 NOT_FOUND` whose message is `message`.
async fn not_found(resp: reqwest::Response, message: &str) {
    let url = resp.url().to_string();
    assert_eq!(resp.status(), 404, "{url}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["error"]["code"].as_str(), body["error"]["message"].as_str()), (Some("NOT_FOUND"), Some(message)));
}

async fn a_path_id_that_cannot_exist_names_nothing_after_the_role_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let reader = app.token(&acme, Role::Readonly);
    let unknown = uuid::Uuid::now_v7().to_string();
    for id in ["not-an-id", unknown.as_str()] {
        not_found(app.get(&format!("/api/v1/users/{id}"), &admin).send().await.unwrap(), "user not found").await;
        let enable = app.post(&format!("/api/v1/users/{id}/enable"), &admin, &json!({})).send().await.unwrap();
        not_found(enable, "user not found").await;
        not_found(app.get(&format!("/api/v1/webhooks/{id}"), &admin).send().await.unwrap(), "webhook not found").await;
        let deliveries = app.get(&format!("/api/v1/webhooks/{id}/deliveries"), &admin).send().await.unwrap();
        not_found(deliveries, "webhook not found").await;
        let replay = app.post(&format!("/api/v1/events/dead/{id}/replay"), &admin, &json!({})).send().await.unwrap();
        not_found(replay, "dead letter not found").await;
        let sso = app.delete(&format!("/api/v1/sso-connections/{id}"), &admin).send().await.unwrap();
        not_found(sso, "SSO connection not found").await;
        not_found(app.get(&format!("/api/v1/records/{id}"), &admin).send().await.unwrap(), "record not found").await;
    }
    let other_tenant_client = format!("{}.abc", uuid::Uuid::now_v7().simple());
    for id in ["not-an-id", other_tenant_client.as_str()] {
        not_found(app.get(&format!("/api/v1/clients/{id}"), &admin).send().await.unwrap(), "client not found").await;
    }
    // The role is checked (and a refusal audited) before the id is read.
    let resp = app.get("/api/v1/webhooks/not-an-id", &reader).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let resp = app.post("/api/v1/events/dead/not-an-id/discard", &reader, &json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 403);
}
backend_test!(a_path_id_that_cannot_exist_names_nothing_after_the_role_check);
