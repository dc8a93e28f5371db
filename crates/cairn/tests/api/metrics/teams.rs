//! Teams over the API: create, list, read, change, delete; validation that names the field;
//! a person in one team at a time; roles and audit.

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use super::audit;
use crate::error_code;

const TEAMS: &str = "/api/v1/metrics/teams";

fn alice(from: &str, to: Option<&str>) -> Value {
    json!({
        "name": "Alice Novak",
        "email": "Alice@Acme.com",
        "github_login": "Alice",
        "jira_account_id": "5b10ac8d82e05b22cc7d4ef5",
        "from": from,
        "to": to,
    })
}

fn bob() -> Value {
    json!({"name": "Bob Kral", "email": "bob@acme.com", "other_emails": ["bob@home.example"], "github_login": "bob", "from": "2026-01-01"})
}

async fn post(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.post(TEAMS, token, body).send().await.unwrap()
}

async fn patch(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::Response {
    app.client.patch(app.url(&format!("{TEAMS}/{id}"))).bearer_auth(token).json(body).send().await.unwrap()
}

async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// The error body's field, after checking the status and code.
async fn refused_field(resp: reqwest::Response) -> String {
    let body = json_of(resp, 400).await;
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{body}");
    body["error"]["field"].as_str().unwrap_or_default().to_owned()
}

async fn team_count(app: &TestApp, token: &str) -> usize {
    let page = json_of(app.get(&format!("{TEAMS}?limit=500"), token).send().await.unwrap(), 200).await;
    page["items"].as_array().unwrap().len()
}

async fn admins_create_read_change_and_delete_teams(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let reader = app.token(&acme, Role::Readonly);

    let body = json!({"name": "Platform", "board": 7, "members": [alice("2026-01-01", None), bob()]});
    let platform = json_of(post(&app, &admin, &body).await, 201).await;
    assert_eq!((platform["name"].as_str(), platform["board"].as_i64()), (Some("Platform"), Some(7)));
    assert_eq!(platform["created_by"], "admin@acme");
    let a = &platform["members"][0];
    assert_eq!(a["email"], "alice@acme.com", "identities are kept in lower case");
    assert_eq!(a["github_login"], "alice");
    assert_eq!((a["from"].as_str(), a["to"].is_null()), (Some("2026-01-01"), true));
    assert_eq!(platform["members"][1]["other_emails"], json!(["bob@home.example"]));
    let id = platform["id"].as_str().unwrap().to_owned();

    // Read by anyone in the tenant; listed in creation order, a page at a time.
    let got = json_of(app.get(&format!("{TEAMS}/{id}"), &reader).send().await.unwrap(), 200).await;
    assert_eq!(got, platform);
    let web = json_of(post(&app, &admin, &json!({"name": "Web"})).await, 201).await;
    assert_eq!(web["members"], json!([]));
    let first = json_of(app.get(&format!("{TEAMS}?limit=1"), &reader).send().await.unwrap(), 200).await;
    assert_eq!(first["items"][0]["id"], platform["id"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second =
        json_of(app.get(&format!("{TEAMS}?limit=1&cursor={cursor}"), &reader).send().await.unwrap(), 200).await;
    assert_eq!((second["items"][0]["id"].clone(), second["next_cursor"].clone()), (web["id"].clone(), Value::Null));
    for bad in ["limit=0", "limit=501", "cursor=nope"] {
        let resp = app.get(&format!("{TEAMS}?{bad}"), &reader).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }

    // A change: Alice leaves at the end of March, the board goes.
    let change =
        json!({"name": "Platform Core", "board": null, "members": [alice("2026-01-01", Some("2026-04-01")), bob()]});
    let changed = json_of(patch(&app, &admin, &id, &change).await, 200).await;
    assert_eq!((changed["name"].as_str(), changed["board"].is_null()), (Some("Platform Core"), true));
    assert_eq!(changed["members"][0]["to"], "2026-04-01");
    assert_eq!(changed["members"][0]["person_id"], platform["members"][0]["person_id"]);
    assert_eq!(changed["created_at"], platform["created_at"]);
    // Saying what is there changes nothing and records nothing.
    let updates = audit(&app, &admin, "metrics.team_updated").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0]["details"]["changed"], json!(["name", "board", "members"]));
    let same = json_of(patch(&app, &admin, &id, &json!({"name": "Platform Core"})).await, 200).await;
    assert_eq!(same["updated_at"], changed["updated_at"]);
    assert_eq!(audit(&app, &admin, "metrics.team_updated").await.len(), 1);

    // Deleted: gone, and so are the people in no other team (Bob's login is free again).
    let resp = app.delete(&format!("{TEAMS}/{id}"), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    for path in [format!("{TEAMS}/{id}"), format!("{TEAMS}/not-a-team")] {
        let resp = app.get(&path, &reader).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(error_code(resp).await, "NOT_FOUND");
    }
    assert_eq!(app.delete(&format!("{TEAMS}/{id}"), &admin).send().await.unwrap().status(), 404);
    let robert = json!({"name": "Robert", "email": "robert@acme.com", "github_login": "bob", "from": "2026-01-01"});
    json_of(patch(&app, &admin, web["id"].as_str().unwrap(), &json!({"members": [robert]})).await, 200).await;

    // Every change is in the trail, by who made it.
    for (action, count) in [("metrics.team_created", 2), ("metrics.team_updated", 2), ("metrics.team_deleted", 1)] {
        let entries = audit(&app, &admin, action).await;
        assert_eq!(entries.len(), count, "{action}");
        assert_eq!(entries[0]["actor"]["id"], "admin@acme");
        assert_eq!(entries[0]["resource"]["type"], "metrics_team");
    }
    assert_eq!(audit(&app, &admin, "metrics.team_deleted").await[0]["details"]["name"], "Platform Core");
}
backend_test!(admins_create_read_change_and_delete_teams);

async fn mistakes_are_400_naming_the_field_and_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let with = |member: Value| json!({"name": "Platform", "members": [bob(), member]});
    let cases = [
        (json!({}), "name"),
        (json!({"name": " "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "P", "colour": "red"}), "colour"),
        (json!({"name": "P", "board": 0}), "board"),
        (json!({"name": "P", "board": "seven"}), "board"),
        (json!({"name": "P", "members": "alice"}), "members"),
        (with(json!({"name": "A", "email": "alice", "from": "2026-01-01"})), "members[1].email"),
        (with(json!({"name": "A", "email": "a@acme.com"})), "members[1].from"),
        (with(json!({"name": "A", "email": "a@acme.com", "from": "2026-02-30"})), "members[1].from"),
        (with(json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "to": "2026-03-01"})), "members[1].to"),
        (with(json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "to": "later"})), "members[1].to"),
        (with(json!({"name": "", "email": "a@acme.com", "from": "2026-03-01"})), "members[1].name"),
        (
            with(json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "github_login": "a b"})),
            "members[1].github_login",
        ),
        (
            with(json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "jira_account_id": "x y"})),
            "members[1].jira_account_id",
        ),
        (
            with(
                json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "other_emails": ["ok@acme.com", "nope"]}),
            ),
            "members[1].other_emails[1]",
        ),
        (with(json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "age": 3})), "members[1].age"),
        // Bob twice, at once.
        (
            with(
                json!({"name": "Bob Kral", "email": "bob@acme.com", "other_emails": ["bob@home.example"], "github_login": "bob", "from": "2026-06-01"}),
            ),
            "members[1].from",
        ),
        // Someone else with Bob's login, or with one of his emails.
        (
            with(json!({"name": "A", "email": "a@acme.com", "from": "2026-03-01", "github_login": "BOB"})),
            "members[1].github_login",
        ),
        (with(json!({"name": "A", "email": "bob@home.example", "from": "2026-03-01"})), "members[1].email"),
    ];
    for (body, field) in cases {
        assert_eq!(refused_field(post(&app, &admin, &body).await).await, field, "{body}");
    }
    assert_eq!(team_count(&app, &admin).await, 0);
    assert!(audit(&app, &admin, "metrics.team_created").await.is_empty());

    // A change is checked the same way, and a refused one changes nothing.
    let team = json_of(post(&app, &admin, &json!({"name": "Platform", "members": [bob()]})).await, 201).await;
    let id = team["id"].as_str().unwrap();
    let bad = json!({"name": "Renamed", "members": [json!({"name": "Bob Kral", "email": "bob@acme.com", "from": "2026-05-01", "to": "2026-04-01"})]});
    assert_eq!(refused_field(patch(&app, &admin, id, &bad).await).await, "members[0].to");
    assert_eq!(refused_field(patch(&app, &admin, id, &json!({"board": -1})).await).await, "board");
    let after = json_of(app.get(&format!("{TEAMS}/{id}"), &admin).send().await.unwrap(), 200).await;
    assert_eq!(after, team);
    let resp = patch(&app, &admin, "00000000-0000-0000-0000-000000000000", &json!({"name": "X"})).await;
    assert_eq!(resp.status(), 404);
}
backend_test!(mistakes_are_400_naming_the_field_and_store_nothing);

async fn a_person_moves_between_teams_one_team_at_a_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let backend_team = json!({"name": "Backend", "members": [alice("2026-01-01", Some("2026-04-01"))]});
    let backend_team = json_of(post(&app, &admin, &backend_team).await, 201).await;
    // From 1 April she is in Platform: the intervals touch, they do not overlap.
    let platform = json!({"name": "Platform", "members": [alice("2026-04-01", None)]});
    let platform = json_of(post(&app, &admin, &platform).await, 201).await;
    assert_eq!(platform["members"][0]["person_id"], backend_team["members"][0]["person_id"], "one person");

    // A third team cannot have her in March; the error says where she was.
    let march = json!({"name": "Data", "members": [bob(), alice("2026-03-01", Some("2026-03-15"))]});
    let resp = post(&app, &admin, &march).await;
    let body = json_of(resp, 400).await;
    assert_eq!(body["error"]["field"], "members[1].from");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("Backend") && message.contains("2026-01-01"), "{message}");
    // Nor can Backend keep her past March.
    let id = backend_team["id"].as_str().unwrap();
    let resp = patch(&app, &admin, id, &json!({"members": [alice("2026-01-01", None)]})).await;
    assert_eq!(refused_field(resp).await, "members[0].from");
    // Her login is hers alone, in any team.
    let imposter = json!({"name": "Data", "members": [{"name": "Eve", "email": "eve@acme.com", "github_login": "alice", "from": "2026-01-01"}]});
    let body = json_of(post(&app, &admin, &imposter).await, 400).await;
    assert_eq!(body["error"]["field"], "members[0].github_login");
    assert!(body["error"]["message"].as_str().unwrap().contains("alice@acme.com"), "{body}");

    // A person is one: a new login written through Platform shows in Backend too.
    let renamed = json!({"members": [{"name": "Alice Novak", "email": "alice@acme.com", "github_login": "anovak", "from": "2026-04-01"}]});
    json_of(patch(&app, &admin, platform["id"].as_str().unwrap(), &renamed).await, 200).await;
    let backend_now = json_of(app.get(&format!("{TEAMS}/{id}"), &admin).send().await.unwrap(), 200).await;
    assert_eq!(backend_now["members"][0]["github_login"], "anovak");
    assert!(backend_now["members"][0]["jira_account_id"].is_null());

    // Names and boards are one team's each.
    let resp = post(&app, &admin, &json!({"name": "platform"})).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "CONFLICT");
    json_of(patch(&app, &admin, id, &json!({"board": 3})).await, 200).await;
    let resp = post(&app, &admin, &json!({"name": "Data", "board": 3})).await;
    assert_eq!(resp.status(), 409);
    let resp = patch(&app, &admin, platform["id"].as_str().unwrap(), &json!({"name": "BACKEND"})).await;
    assert_eq!(resp.status(), 409);
}
backend_test!(a_person_moves_between_teams_one_team_at_a_time);

async fn readers_read_admins_write_and_refusals_are_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let team = json_of(post(&app, &admin, &json!({"name": "Platform", "members": [bob()]})).await, 201).await;
    let id = team["id"].as_str().unwrap();
    for role in [Role::Readonly, Role::Member] {
        let token = app.token(&acme, role);
        assert_eq!(app.get(TEAMS, &token).send().await.unwrap().status(), 200);
        assert_eq!(app.get(&format!("{TEAMS}/{id}"), &token).send().await.unwrap().status(), 200);
        let refused = [
            post(&app, &token, &json!({"name": "Mine"})).await,
            patch(&app, &token, id, &json!({"name": "Mine"})).await,
            app.delete(&format!("{TEAMS}/{id}"), &token).send().await.unwrap(),
        ];
        for resp in refused {
            assert_eq!(resp.status(), 403, "{role}");
            assert_eq!(error_code(resp).await, "FORBIDDEN");
        }
    }
    let denials = audit(&app, &admin, "access.denied").await;
    let attempted: Vec<&str> = denials.iter().filter_map(|d| d["details"]["attempted"].as_str()).collect();
    for what in ["metrics_team.create", "metrics_team.update", "metrics_team.delete"] {
        assert_eq!(attempted.iter().filter(|a| **a == what).count(), 2, "{what}: {attempted:?}");
    }
    // Without a token, or with an operator's: refused, nothing changed.
    assert_eq!(app.client.get(app.url(TEAMS)).send().await.unwrap().status(), 401);
    let operator = app.operator_token();
    assert_eq!(post(&app, &operator, &json!({"name": "Ops"})).await.status(), 403);
    assert_eq!(team_count(&app, &admin).await, 1);
    let after = json_of(app.get(&format!("{TEAMS}/{id}"), &admin).send().await.unwrap(), 200).await;
    assert_eq!(after, team);
    // Another tenant sees none of it.
    let other = app.create_tenant("globex").await;
    let theirs = app.token(&other, Role::Admin);
    assert_eq!(team_count(&app, &theirs).await, 0);
    assert_eq!(app.get(&format!("{TEAMS}/{id}"), &theirs).send().await.unwrap().status(), 404);
}
backend_test!(readers_read_admins_write_and_refusals_are_audited);
