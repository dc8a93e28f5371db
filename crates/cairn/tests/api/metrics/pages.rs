//! The metrics pages: admins add, change and delete teams and change the settings through
//! CSRF-checked forms (post/redirect/get), with mistakes beside their fields; others are
//! refused, and the refusal is audited.

use cairn_domain::Role;
use cairn_testkit::browser::{Browser, Page};
use cairn_testkit::rp::PASSWORD;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

use super::audit;

pub(crate) fn csrf(page: &Page) -> String {
    page.input("csrf").expect("the page has a CSRF token")
}

/// The `value` of the input whose id is `id`.
pub(crate) fn value_of(page: &Page, id: &str) -> Option<String> {
    let at = page.body.find(&format!("id=\"{id}\""))?;
    let tag = &page.body[page.body[..at].rfind('<')?..at + page.body[at..].find('>')?];
    let v = tag.find("value=\"")? + 7;
    Some(tag[v..v + tag[v..].find('"')?].replace("&#x2f;", "/").replace("&amp;", "&"))
}

/// The message beside the field whose error id is `id`.
pub(crate) fn field_error(page: &Page, id: &str) -> Option<String> {
    let at = page.body.find(&format!("class=\"field-error\" id=\"{id}\">"))?;
    let rest = &page.body[at..];
    let start = rest.find('>')? + 1;
    Some(rest[start..start + rest[start..].find('<')?].to_owned())
}

pub(crate) async fn signed_in_admin(backend: Backend) -> (TestApp, TestTenant, Browser) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    app.create_user(&acme, "ada@acme.test", PASSWORD, &[Role::Admin]).await;
    app.create_user(&acme, "bob@acme.test", PASSWORD, &[Role::Member]).await;
    let ada = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    (app, acme, ada)
}

/// A team form's fields: name, board, then each member row (name, email, other emails,
/// login, account, from, to), then the rows to remove.
fn team_form<'a>(
    token: &'a str,
    name: &'a str,
    board: &'a str,
    rows: &'a [[&'a str; 7]],
    remove: &'a [&'a str],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![("csrf", token), ("name", name), ("board", board)];
    const COLUMNS: [&str; 7] = [
        "member_name",
        "member_email",
        "member_other_emails",
        "member_github_login",
        "member_jira_account_id",
        "member_from",
        "member_to",
    ];
    for row in rows {
        for (c, v) in COLUMNS.iter().zip(row) {
            f.push((c, v));
        }
    }
    f.extend(remove.iter().map(|r| ("remove", *r)));
    f
}

const ALICE: [&str; 7] = ["Alice Novak", "alice@acme.com", "", "alice", "5b10ac8d", "2026-01-01", ""];
const BOB: [&str; 7] = ["Bob Kral", "bob@acme.com", "bob@home.example, bob@old.example", "bob", "", "2026-02-01", ""];
const BLANK: [&str; 7] = ["", "", "", "", "", "", ""];

async fn api_team(app: &TestApp, admin: &str, id: &str) -> (u16, Value) {
    let resp = app.get(&format!("/api/v1/metrics/teams/{id}"), admin).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn admins_add_change_and_delete_teams_on_their_pages(backend: Backend) {
    let (app, acme, ada) = signed_in_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let list = ada.get("/app/metrics/teams").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("href=\"/app/metrics/teams\" aria-current=\"page\""), "the section is marked");
    assert!(list.body.contains("No teams yet"));
    let token = csrf(&list);

    // A mistake in the second member row shows beside that row's field, what was typed kept.
    let late = ["Bob Kral", "bob@acme.com", "", "bob", "", "2026-03-01", "2026-02-01"];
    let refused =
        ada.post_form("/app/metrics/teams", &team_form(&token, "Platform", "", &[ALICE, late, BLANK], &[])).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(field_error(&refused, "m1-to-error").as_deref(), Some("must be after from"), "{}", refused.body);
    assert_eq!(value_of(&refused, "m1-to").as_deref(), Some("2026-02-01"));
    assert_eq!(value_of(&refused, "t-name").as_deref(), Some("Platform"));
    let teams: Value = app.get("/api/v1/metrics/teams", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(teams["items"], json!([]), "nothing stored");
    let bad_board = ada.post_form("/app/metrics/teams", &team_form(&token, "Platform", "seven", &[ALICE], &[])).await;
    assert_eq!(bad_board.status, 400);
    assert!(field_error(&bad_board, "t-board-error").is_some(), "{}", bad_board.body);

    // Added: to the team's page (post/redirect/get), with Alice; blank rows are ignored.
    let added =
        ada.post_form("/app/metrics/teams", &team_form(&token, "Platform", "7", &[ALICE, BLANK, BLANK], &[])).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let location = added.location.clone().unwrap();
    let id = location.split("/app/metrics/teams/").nth(1).unwrap().split('?').next().unwrap().to_owned();
    let page = ada.follow(added).await;
    assert!(page.body.contains("Team created."), "{}", page.body);
    assert_eq!(value_of(&page, "m0-email").as_deref(), Some("alice@acme.com"));
    assert_eq!(value_of(&page, "t-board").as_deref(), Some("7"));
    let (_, team) = api_team(&app, &admin, &id).await;
    assert_eq!((team["name"].as_str(), team["members"].as_array().unwrap().len()), (Some("Platform"), 1));

    // Bob joins in February, with two more emails.
    let token = csrf(&page);
    let path = format!("/app/metrics/teams/{id}");
    let saved = ada.post_form(&path, &team_form(&token, "Platform", "7", &[ALICE, BOB, BLANK], &[])).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, team) = api_team(&app, &admin, &id).await;
    assert_eq!(team["members"][1]["other_emails"], json!(["bob@home.example", "bob@old.example"]));
    // A refused change names the row and changes nothing.
    let overlap = ["Alice Novak", "alice@acme.com", "", "alice", "5b10ac8d", "2026-06-01", ""];
    let refused = ada.post_form(&path, &team_form(&token, "Platform", "7", &[ALICE, BOB, overlap], &[])).await;
    assert_eq!(refused.status, 400);
    assert!(field_error(&refused, "m2-from-error").is_some_and(|e| e.contains("overlaps")), "{}", refused.body);
    assert_eq!(api_team(&app, &admin, &id).await.1, team);
    // Alice removed from the team.
    let saved = ada.post_form(&path, &team_form(&token, "Platform", "", &[ALICE, BOB], &["0"])).await;
    assert_eq!(saved.status, 303);
    let (_, team) = api_team(&app, &admin, &id).await;
    assert_eq!(team["members"].as_array().unwrap().len(), 1);
    assert_eq!((team["members"][0]["name"].as_str(), team["board"].is_null()), (Some("Bob Kral"), true));

    // Deleting asks first; then the team is gone.
    let ask = ada.get(&format!("/app/metrics/teams/{id}/delete")).await;
    assert!(ask.status == 200 && ask.body.contains("Delete the team Platform?"), "{}", ask.body);
    assert_eq!(api_team(&app, &admin, &id).await.0, 200, "asking changes nothing");
    let done = ada.post_form(&format!("/app/metrics/teams/{id}/delete"), &[("csrf", &csrf(&ask))]).await;
    assert_eq!(done.status, 303);
    assert!(ada.follow(done).await.body.contains("Team deleted."));
    assert_eq!(api_team(&app, &admin, &id).await.0, 404);
    assert_eq!(ada.get(&path).await.status, 404);
    assert_eq!(ada.get("/app/metrics/teams/not-a-team").await.status, 404);

    for action in ["metrics.team_created", "metrics.team_updated", "metrics.team_deleted"] {
        let entries = audit(&app, &admin, action).await;
        assert!(!entries.is_empty(), "{action}");
        assert_eq!(entries[0]["actor"]["email"], "ada@acme.test", "{action}");
    }
}
backend_test!(admins_add_change_and_delete_teams_on_their_pages);

async fn admins_change_the_metrics_settings_on_their_page(backend: Backend) {
    let (app, acme, ada) = signed_in_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let page = ada.get("/app/metrics/settings").await;
    assert_eq!(page.status, 200);
    assert_eq!(value_of(&page, "s-zone").as_deref(), Some("Europe/Bratislava"));
    assert!(page.body.contains("<option value=\"America/New_York\">"), "the zones are offered");
    let token = csrf(&page);
    let form = |zone: &'static str, schedule: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("time_zone", zone.to_owned()),
            ("reload_days", "14".to_owned()),
            ("backfill_days", "365".to_owned()),
            ("schedule", schedule.to_owned()),
            ("bots", "renovate\ndeploy-bot".to_owned()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let ada = &ada;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ada.post_form("/app/metrics/settings", &fields).await
        }
    };
    let refused = post(form("Mars/Olympus", "0 2 * * *")).await;
    assert_eq!(refused.status, 400);
    assert!(field_error(&refused, "s-zone-error").is_some(), "{}", refused.body);
    assert_eq!(value_of(&refused, "s-zone").as_deref(), Some("Mars/Olympus"), "what was typed stays");
    let refused = post(form("UTC", "every night")).await;
    assert!(field_error(&refused, "s-schedule-error").is_some(), "{}", refused.body);
    let current: Value = app.get("/api/v1/metrics/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(current["time_zone"], "Europe/Bratislava", "nothing changed");

    let saved = post(form("America/New_York", "30 1 * * *")).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(ada.follow(saved).await.body.contains("Settings saved."));
    let current: Value = app.get("/api/v1/metrics/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (current["time_zone"].as_str(), current["reload_days"].as_i64(), current["schedule"].as_str()),
        (Some("America/New_York"), Some(14), Some("30 1 * * *"))
    );
    assert_eq!(current["bots"], json!(["renovate", "deploy-bot"]));
    assert_eq!(audit(&app, &admin, "metrics.settings_updated").await[0]["actor"]["email"], "ada@acme.test");
}
backend_test!(admins_change_the_metrics_settings_on_their_page);

async fn the_metrics_pages_are_for_admins_and_their_forms_need_the_sessions_token(backend: Backend) {
    let (app, acme, ada) = signed_in_admin(backend).await;
    let admin = app.token(&acme, Role::Admin);
    let bob = app.sign_in(&acme, "bob@acme.test", PASSWORD).await;
    let token = csrf(&bob.get("/app/numbers").await);
    assert!(!bob.get("/app/numbers").await.body.contains("/app/metrics/teams"), "members are not offered the pages");
    for path in ["/app/metrics/teams", "/app/metrics/settings"] {
        assert_eq!(bob.get(path).await.status, 403, "GET {path}");
        let post = bob.post_form(path, &[("csrf", &token), ("name", "Mine"), ("time_zone", "UTC")]).await;
        assert_eq!(post.status, 403, "POST {path}");
    }
    let denied = audit(&app, &admin, "access.denied").await;
    let attempted: Vec<&str> = denied.iter().filter_map(|d| d["details"]["attempted"].as_str()).collect();
    for what in ["GET /app/metrics/teams", "POST /app/metrics/teams", "POST /app/metrics/settings"] {
        assert!(attempted.contains(&what), "{what}: {attempted:?}");
    }
    // Bob's token is not Ada's session's: her form with it changes nothing.
    let forged = ada.post_form("/app/metrics/teams", &team_form(&token, "Forged", "", &[], &[])).await;
    assert_eq!(forged.status, 403);
    let teams: Value = app.get("/api/v1/metrics/teams", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(teams["items"], json!([]));
    let settings: Value = app.get("/api/v1/metrics/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(settings["time_zone"], "Europe/Bratislava");
}
backend_test!(the_metrics_pages_are_for_admins_and_their_forms_need_the_sessions_token);
