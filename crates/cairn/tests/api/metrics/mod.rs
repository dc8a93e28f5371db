//! Engineering metrics: teams, settings, sources and runs over the API and the pages, and
//! the store's upserts of collected rows with their daily rollups.

mod collected;
mod dashboard_pages;
pub(crate) mod demo;
mod dora;
mod figures;
mod git;
mod github;
mod jira;
mod jira_figures;
pub(crate) mod pages;
mod runs;
mod settings;
mod source_pages;
mod sources;
mod teams;

use cairn_audit::{Actor, RequestMeta};
use cairn_metrics::sources::{NewSource, SourceKind};
use cairn_metrics::{Metrics, SourceId};
use cairn_store::Db;
use cairn_testkit::{TestApp, TestTenant};
use serde_json::Value;

/// The actor of changes a test makes through the services.
fn tester() -> Actor {
    Actor { id: "test-admin".into(), email: None }
}

/// A GitHub source of `tenant`, stored as the sources API stores one; its id and the
/// tenant's database.
async fn github_source(app: &TestApp, tenant: &TestTenant) -> (SourceId, Db) {
    let (_, db) = app.tenant(tenant).await;
    let source = Metrics { db: &db }
        .add_source(app.store.master_key(), github_source_fields(), &tester(), &RequestMeta::default())
        .await
        .expect("source stored");
    (SourceId::parse(&source.id, "id").unwrap(), db)
}

/// A Jira source of `tenant` for the site `acme.atlassian.net`, stored as the sources API
/// stores one; its id and the tenant's database.
async fn jira_source(app: &TestApp, tenant: &TestTenant) -> (SourceId, Db) {
    let (_, db) = app.tenant(tenant).await;
    let fields = NewSource {
        kind: SourceKind::Jira,
        name: "Jira".into(),
        base_url: Some("https://acme.atlassian.net".into()),
        graphql_url: None,
        url: None,
        branch: None,
        organization: None,
        repositories: Vec::new(),
        boards: Vec::new(),
        email: Some("bot@acme.com".into()),
        story_points_field: None,
        token: Some("jira-token".into()),
    };
    let source = Metrics { db: &db }
        .add_source(app.store.master_key(), fields, &tester(), &RequestMeta::default())
        .await
        .expect("source stored");
    (SourceId::parse(&source.id, "id").unwrap(), db)
}

/// A GitHub source for the organization `acme`.
fn github_source_fields() -> NewSource {
    NewSource {
        kind: SourceKind::Github,
        name: "GitHub".into(),
        base_url: Some("https://api.github.com".into()),
        graphql_url: None,
        url: None,
        branch: None,
        organization: Some("acme".into()),
        repositories: Vec::new(),
        boards: Vec::new(),
        email: None,
        story_points_field: None,
        token: Some("ghp_secret".into()),
    }
}

/// The newest audit entries of `action`.
async fn audit(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let body: Value =
        app.get(&format!("/api/v1/audit?action={action}"), admin).send().await.unwrap().json().await.unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}

/// A refused request's status, the field its error names, and its message.
async fn refusal_of(app: &TestApp, token: &str, path: &str) -> (u16, Option<String>, Value) {
    let resp = app.get(path, token).send().await.unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body["error"]["field"].as_str().map(str::to_owned), body["error"]["message"].clone())
}
