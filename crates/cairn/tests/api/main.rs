//! API integration tests: the real application on port 0, each on SQLite and PostgreSQL.

mod audit;
mod contract;
mod events;
mod input;
mod instance_pages;
mod instances;
mod lifecycle;
mod metrics;
mod numbers;
mod oidc;
mod pages;
mod platform;
mod records;
mod reports;
mod security;
mod tenants;
mod tokens;
mod ui;
mod users;

use cairn_testkit::TestApp;
use serde_json::Value;

/// The error code of an error body.
pub async fn error_code(resp: reqwest::Response) -> String {
    let body: Value = resp.json().await.expect("JSON error body");
    body["error"]["code"].as_str().expect("error.code").to_owned()
}

pub async fn count(app: &TestApp, token: &str) -> i64 {
    let resp = app.get("/api/v1/numbers/stats", token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json::<Value>().await.unwrap()["count"].as_i64().unwrap()
}
