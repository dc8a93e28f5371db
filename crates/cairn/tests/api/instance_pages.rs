//! The instances pages against moto: an admin connects an account through the form (a
//! mistake shown beside its field, nothing stored), everyone sees the instances with their
//! state, filters in the URL and the table block refreshed on its own; an instance's page
//! shows its status checks and charts; an admin stops it after a confirmation that names it;
//! a member is offered no action, and one forced is refused and audited naming the instance.

use cairn_domain::Role;
use cairn_testkit::moto::{ACCESS_KEY, MotoServer, SECRET_KEY};
use cairn_testkit::rp::PASSWORD;
use cairn_testkit::{Backend, backend_test};
use serde_json::Value;

use crate::metrics::pages::{csrf, field_error, signed_in_admin, value_of};

async fn audit(app: &cairn_testkit::TestApp, admin: &str, action: &str) -> Vec<Value> {
    let body: Value =
        app.get(&format!("/api/v1/audit?action={action}"), admin).send().await.unwrap().json().await.unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}

async fn people_use_the_instances_pages(backend: Backend) {
    let (app, acme, ada) = signed_in_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let moto = MotoServer::start();
    let web = moto.run_instances(ACCESS_KEY, "eu-west-1", 2, "web", &[("env", "prod")]).await;
    let db = moto.run_instances(ACCESS_KEY, "eu-west-1", 1, "db", &[("env", "staging")]).await;
    let now = cairn_domain::now_ms();
    let points: Vec<(i64, f64)> = (1..=10).map(|i| (now - i * 60_000, 40.0 + i as f64)).collect();
    moto.put_metric(ACCESS_KEY, "eu-west-1", &web[0], "CPUUtilization", &points).await;

    // Before any account: the list says how to start.
    let empty = ada.get("/app/instances").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("No cloud accounts yet") && empty.body.contains("href=\"/app/instances/accounts\""));

    // The account form: a mistake beside its field, what was typed kept (never the secret).
    let accounts = ada.get("/app/instances/accounts").await;
    assert_eq!(accounts.status, 200);
    let token = csrf(&accounts);
    let form = |regions: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("name", "prod".to_owned()),
            ("regions", regions.to_owned()),
            ("auth", "keys".to_owned()),
            ("access_key_id", ACCESS_KEY.to_owned()),
            ("secret_access_key", SECRET_KEY.to_owned()),
            ("role_arn", String::new()),
            ("external_id", String::new()),
            ("endpoint_url", moto.url()),
        ]
    };
    let as_refs = |f: &Vec<(&'static str, String)>| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let bad = as_refs(&form("eu-west-1 mars-1"));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = ada.post_form("/app/instances/accounts", &bad).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let error = field_error(&refused, "a-regions-error").unwrap_or_else(|| panic!("{}", refused.body));
    assert!(error.contains("region code"), "{error}");
    assert_eq!(value_of(&refused, "a-regions").as_deref(), Some("eu-west-1 mars-1"));
    assert!(!refused.body.contains(SECRET_KEY), "a secret is never shown again");
    let listed: Value = app.get("/api/v1/instances/accounts", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "nothing stored");
    let good = as_refs(&form("eu-west-1"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let added = ada.post_form("/app/instances/accounts", &good).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = ada.follow(added).await;
    assert!(page.body.contains("Account connected") && page.body.contains(">prod</a>"), "{}", page.body);
    assert!(!page.body.contains(SECRET_KEY));

    // The list: every instance with its state, filters in the URL, the block on its own.
    let list = ada.get("/app/instances").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("href=\"/app/instances\" aria-current=\"page\""), "the section is marked");
    for id in web.iter().chain(&db) {
        assert!(list.body.contains(&format!("href=\"/app/instances/prod/eu-west-1/{id}\"")), "{id} listed");
    }
    assert!(list.body.contains("badge state-running"));
    assert!(list.body.contains("data-poll=\"/app/instances/rows?\""), "the block can refresh in place");
    let staging = ada.get("/app/instances?tag=env%3Astaging").await;
    assert!(staging.body.contains(&db[0]) && !staging.body.contains(&web[0]), "filtered by tag");
    assert!(staging.body.contains("data-poll=\"/app/instances/rows?tag=env%3Astaging\""), "the filter is kept");
    let none = ada.get("/app/instances?state=stopped").await;
    assert!(none.body.contains("No instances match"));
    let bad_filter = ada.get("/app/instances?state=asleep").await;
    assert_eq!(bad_filter.status, 400);
    let rows = ada.get("/app/instances/rows?name=db").await;
    assert_eq!(rows.status, 200);
    assert!(rows.body.contains(&db[0]) && !rows.body.contains("<html"), "a block, not a page");

    // An instance's page: status checks and charts; the admin's actions in this state.
    let path = format!("/app/instances/prod/eu-west-1/{}", web[0]);
    let one = ada.get(&path).await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(one.body.contains("<h1>web-0</h1>") && one.body.contains("Status checks"));
    assert!(one.body.contains("badge check-ok"), "{}", one.body);
    assert!(one.body.contains("CPU utilisation") && one.body.matches("<svg").count() >= 8, "charts in two sizes");
    assert!(one.body.contains(&format!("<style nonce=\"{}\"", nonce_of(&one.headers))), "the charts' style is allowed");
    assert!(
        one.body.contains(&format!("href=\"{path}/reboot\"")) && one.body.contains(&format!("href=\"{path}/stop\""))
    );
    assert!(!one.body.contains(&format!("href=\"{path}/start\"")), "a running instance is not started");
    assert!(one.body.contains("env") && one.body.contains("prod"), "its tags");
    let week = ada.get(&format!("{path}?range=7d")).await;
    assert!(week.body.contains("?range=7d\" aria-current=\"true\""));

    // Stop, after a confirmation that names the instance.
    let ask = ada.get(&format!("{path}/stop")).await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains(&format!("Stop web-0 ({}) in prod / eu-west-1?", web[0])), "{}", ask.body);
    let stopped = ada.post_form(&format!("{path}/stop"), &[("csrf", &csrf(&ask))]).await;
    assert_eq!(stopped.status, 303, "{}", stopped.body);
    assert!(stopped.location.as_deref().unwrap().ends_with(&format!("{path}?done=stop")), "{:?}", stopped.location);
    assert_eq!(moto.state_of(ACCESS_KEY, "eu-west-1", &web[0]).await, "stopped");
    let after = ada.follow(stopped).await;
    assert!(after.body.contains("Stop requested") && after.body.contains("badge state-stopped"));
    assert!(after.body.contains(&format!("href=\"{path}/start\"")), "a stopped instance can be started");
    assert_eq!(audit(&app, &admin, "instance.stop").await.len(), 1);
    let forged = ada.post_form(&format!("{path}/stop"), &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403, "a form without the session's token changes nothing");

    // A member sees the instance but is offered no action; one forced is refused, audited.
    let bob = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    let seen = bob.get(&path).await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains(&format!("href=\"{path}/start\"")), "no action offered");
    assert!(!seen.body.contains("href=\"/app/instances/accounts\""), "no accounts link for members");
    let refused = bob.get(&format!("{path}/start")).await;
    assert_eq!(refused.status, 403);
    let denied = audit(&app, &admin, "access.denied").await;
    assert!(
        denied.iter().any(|d| d["details"]["path"] == format!("{path}/start").as_str()),
        "the denial names the instance: {denied:?}"
    );
    assert_eq!(bob.get("/app/instances/accounts").await.status, 403);
    assert_eq!(moto.state_of(ACCESS_KEY, "eu-west-1", &web[0]).await, "stopped", "nothing happened");

    // The account's page: a blank secret keeps the stored one; disconnecting asks first.
    let listed: Value = app.get("/api/v1/instances/accounts", &admin).send().await.unwrap().json().await.unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let edit = ada.get(&format!("/app/instances/accounts/{id}")).await;
    assert_eq!(value_of(&edit, "a-secret").as_deref(), Some(""), "the secret is never shown");
    let saved = ada
        .post_form(
            &format!("/app/instances/accounts/{id}"),
            &[
                ("csrf", &csrf(&edit)),
                ("name", "production"),
                ("regions", "eu-west-1"),
                ("auth", "keys"),
                ("access_key_id", ACCESS_KEY),
                ("secret_access_key", ""),
                ("role_arn", ""),
                ("external_id", ""),
                ("endpoint_url", &moto.url()),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let renamed = ada.get("/app/instances").await;
    assert!(renamed.body.contains(&format!("/app/instances/production/eu-west-1/{}", db[0])), "still reachable");
    let ask = ada.get(&format!("/app/instances/accounts/{id}/delete")).await;
    assert!(ask.body.contains("Disconnect the account production"), "{}", ask.body);
    let gone = ada.post_form(&format!("/app/instances/accounts/{id}/delete"), &[("csrf", &csrf(&ask))]).await;
    assert_eq!(gone.status, 303);
    assert!(ada.get("/app/instances").await.body.contains("No cloud accounts yet"));
}
backend_test!(people_use_the_instances_pages);

/// The CSP nonce a page's styles must carry.
fn nonce_of(headers: &reqwest::header::HeaderMap) -> String {
    let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap_or_default().to_owned()
}
