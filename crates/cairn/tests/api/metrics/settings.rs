//! Metrics settings over the API: the defaults, a replacement with its audit entry, and
//! mistakes refused naming the field.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use super::audit;
use crate::error_code;

const SETTINGS: &str = "/api/v1/metrics/settings";

fn defaults() -> Value {
    json!({"time_zone": "Europe/Bratislava", "reload_days": 28, "backfill_days": 90, "schedule": "0 2 * * *", "bots": ["renovate"],
        "incident_types": ["Incident"], "incident_labels": ["incident"]})
}

async fn put(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.put(SETTINGS, token, body).send().await.unwrap()
}

async fn current(app: &TestApp, token: &str) -> Value {
    let resp = app.get(SETTINGS, token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body: Value = resp.json().await.unwrap();
    let obj = body.as_object_mut().unwrap();
    obj.remove("updated_at");
    obj.remove("updated_by");
    body
}

async fn the_defaults_stand_until_an_admin_replaces_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let reader = app.token(&acme, Role::Readonly);
    assert_eq!(current(&app, &reader).await, defaults());
    let raw: Value = app.get(SETTINGS, &reader).send().await.unwrap().json().await.unwrap();
    assert_eq!(raw["updated_by"], "cairn");

    let next = json!({"time_zone": "america/new_york", "reload_days": 14.0, "backfill_days": 365, "schedule": "30 1 * * 1-5", "bots": ["Renovate", "deploy-bot", "renovate"]});
    let resp = put(&app, &admin, &next).await;
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.unwrap();
    assert_eq!(saved["time_zone"], "America/New_York");
    assert_eq!(saved["bots"], json!(["renovate", "deploy-bot"]));
    assert_eq!((saved["reload_days"].as_i64(), saved["updated_by"].as_str()), (Some(14), Some("admin@acme")));
    let expected = json!({"time_zone": "America/New_York", "reload_days": 14, "backfill_days": 365, "schedule": "30 1 * * 1-5", "bots": ["renovate", "deploy-bot"],
        "incident_types": ["Incident"], "incident_labels": ["incident"]});
    assert_eq!(current(&app, &reader).await, expected);
    let entries = audit(&app, &admin, "metrics.settings_updated").await;
    assert_eq!(entries.len(), 1);
    let changed = &entries[0]["details"]["changed"];
    assert_eq!(changed["time_zone"], "America/New_York");
    assert_eq!(changed["bots"], json!(["renovate", "deploy-bot"]));
    assert_eq!(entries[0]["details"]["rollup_rows_rebuilt"], 0, "a new zone rebuilds the (empty) rollups");

    // The same again changes nothing and records nothing.
    assert_eq!(put(&app, &admin, &expected).await.status(), 200);
    assert_eq!(audit(&app, &admin, "metrics.settings_updated").await.len(), 1);
    // Other tenants keep their own.
    let globex = app.create_tenant("globex").await;
    assert_eq!(current(&app, &app.token(&globex, Role::Readonly)).await, defaults());
}
backend_test!(the_defaults_stand_until_an_admin_replaces_them);

async fn mistakes_are_400_naming_the_field_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let with = |field: &str, value: Value| {
        let mut body = defaults();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = defaults();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let cases = [
        (with("time_zone", json!("Europe/Atlantis")), "time_zone"),
        (with("time_zone", json!("+02:00")), "time_zone"),
        (with("time_zone", json!(1)), "time_zone"),
        (with("schedule", json!("every night")), "schedule"),
        (with("schedule", json!("0 2 * *")), "schedule"),
        (with("schedule", json!("61 2 * * *")), "schedule"),
        (with("schedule", json!("*/5 * * * *")), "schedule"),
        (with("reload_days", json!(0)), "reload_days"),
        (with("reload_days", json!(366)), "reload_days"),
        (with("reload_days", json!(1.5)), "reload_days"),
        (with("reload_days", json!(91)), "reload_days"),
        (with("backfill_days", json!(3651)), "backfill_days"),
        (with("backfill_days", json!("ninety")), "backfill_days"),
        (with("bots", json!(["ok", "not a login"])), "bots[1]"),
        (with("bots", json!("renovate")), "bots"),
        (with("colour", json!("red")), "colour"),
        (without("schedule"), "schedule"),
        (without("bots"), "bots"),
    ];
    for (body, field) in cases {
        let resp = put(&app, &admin, &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(
            (err["error"]["code"].as_str(), err["error"]["field"].as_str()),
            (Some("VALIDATION_ERROR"), Some(field)),
            "{body}: {err}"
        );
    }
    assert_eq!(current(&app, &admin).await, defaults());
    assert!(audit(&app, &admin, "metrics.settings_updated").await.is_empty());
}
backend_test!(mistakes_are_400_naming_the_field_and_change_nothing);

async fn only_admins_change_settings_and_refusals_are_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let mut body = defaults();
    body["reload_days"] = json!(7);
    for role in [Role::Readonly, Role::Member] {
        let token = app.token(&acme, role);
        assert_eq!(app.get(SETTINGS, &token).send().await.unwrap().status(), 200);
        let resp = put(&app, &token, &body).await;
        assert_eq!(resp.status(), 403, "{role}");
        assert_eq!(error_code(resp).await, "FORBIDDEN");
    }
    let denials = audit(&app, &admin, "access.denied").await;
    let refused = denials.iter().filter(|d| d["details"]["attempted"] == "metrics_settings.update").count();
    assert_eq!(refused, 2);
    assert_eq!(current(&app, &admin).await, defaults());
    assert_eq!(app.client.get(app.url(SETTINGS)).send().await.unwrap().status(), 401);
}
backend_test!(only_admins_change_settings_and_refusals_are_audited);
