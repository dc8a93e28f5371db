//! DORA's four keys against hand-built data with hand-computed answers: production
//! deployments (not staging, not failed), releases standing in for a repository without
//! deployments (not drafts, not pre-releases), changes shipped by the first deployment after
//! their merge (one merged before the window), a bot's change and another team's, incidents
//! by type and by label (not another board's, not a plain bug), and the settings that say
//! what an incident is. Then the team's DORA page and its CSV.

use cairn_audit::RequestMeta;
use cairn_domain::Role;
use cairn_metrics::collected::{Board, Deployment, Issue, PrState, PullRequest, Release, StatusCategory};
use cairn_metrics::{Metrics, Page, SettingsInput};
use cairn_testkit::rp::PASSWORD;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

use super::{github_source, refusal_of, tester};

fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn pull(repo: &str, number: i64, author: &str, created: &str, merged: &str) -> PullRequest {
    PullRequest {
        repository_id: repo.into(),
        number,
        author_login: Some(author.into()),
        state: PrState::Merged,
        created_at: at(created),
        merged_at: Some(at(merged)),
        closed_at: Some(at(merged)),
        first_review_at: None,
        additions: 1,
        deletions: 1,
        merge_commit_sha: None,
        updated_at: at(merged),
    }
}

fn deployment(id: &str, environment: &str, when: &str, status: &str) -> Deployment {
    Deployment {
        id: id.into(),
        repository_id: "R_api".into(),
        environment: environment.into(),
        sha: "abc".into(),
        git_ref: Some("main".into()),
        created_at: at(when),
        status: Some(status.into()),
        status_at: Some(at(when)),
    }
}

fn release(id: &str, when: &str, draft: bool, prerelease: bool) -> Release {
    Release {
        id: id.into(),
        repository_id: "R_web".into(),
        tag_name: format!("v{id}"),
        name: None,
        created_at: at(when),
        published_at: Some(at(when)),
        draft,
        prerelease,
    }
}

fn issue(id: &str, project: &str, kind: &str, labels: &[&str], created: &str, resolved: Option<&str>) -> Issue {
    Issue {
        id: id.into(),
        key: format!("{project}-{id}"),
        project_key: project.into(),
        issue_type: kind.into(),
        is_subtask: false,
        status: if resolved.is_some() { "Done".into() } else { "Open".into() },
        status_category: if resolved.is_some() { StatusCategory::Done } else { StatusCategory::New },
        created_at: at(created),
        resolved_at: resolved.map(at),
        points: None,
        original_estimate_seconds: None,
        time_spent_seconds: None,
        assignee_account_id: None,
        parent_id: None,
        updated_at: at(resolved.unwrap_or(created)),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    }
}

/// In UTC. Platform (Alice, Bob; board 10, project PLAT) and Payments (Carol). The window
/// is 1–15 March 2026 (a Sunday to a Sunday): ISO weeks of 23 February, 2 and 9 March.
///
/// - `R_api` deploys to production: d1 on 2 March 12:00, d2 on 4 March 12:00, d3 on 10 March
///   12:00; a staging, a pre-production and a failed deployment count nowhere. `R_web` has no deployment:
///   its release r1 (3 March 09:00) counts, a draft and a pre-release do not.
/// - Platform's changes: P6 (Alice, created 20 January, merged 25 February) and P1 (created
///   1 March 10:00) shipped by d1: 984 h and 26 h; P4 in `R_web` (created 2 March 09:00)
///   by r1: 24 h; P2 (Bob, created 3 March 12:00) by d2: 24 h; P5 merged after d3: never
///   shipped. Carol's P3 (created 4 March 00:00) is shipped by d2 for Payments: 12 h. A bot's
///   pull request shipped by d3 makes d3 nobody's.
/// - Incidents of PLAT: I1 (type Incident) opened 2 March 15:00 after d1, resolved in 2 h;
///   I2 (a Bug labelled `incident`) opened 4 March 13:00 after d2, resolved in 24 h; I5 opened
///   20 February, resolved 1 March 20:00 (236 h); I6 opened 1 October 2025, resolved 10 March
///   (3,840 h). A plain bug and another board's incident are not Platform's.
async fn world(backend: Backend) -> (TestApp, TestTenant, String, Value) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let (github, db) = github_source(&app, &acme).await;
    let metrics = Metrics { db: &db };
    let input = SettingsInput::parse("UTC", 28, 90, "0 2 * * *", &[]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    let (jira, _) = super::jira_source(&app, &acme).await;
    let person = |name: &str, login: &str| json!({"name": name, "email": format!("{login}@acme.com"), "github_login": login, "from": "2026-01-01"});
    let mut teams = json!({});
    for (key, body) in [
        (
            "platform",
            json!({"name": "Platform", "board": 10, "members": [person("Alice", "alice"), person("Bob", "bob")]}),
        ),
        ("payments", json!({"name": "Payments", "members": [person("Carol", "carol")]})),
    ] {
        let resp = app.post("/api/v1/metrics/teams", &admin, &body).send().await.unwrap();
        assert_eq!(resp.status(), 201);
        teams[key] = resp.json::<Value>().await.unwrap()["id"].clone();
    }

    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &github).await.unwrap();
    page.pull_requests(&[
        pull("R_api", 1, "alice", "2026-03-01T10:00:00Z", "2026-03-02T10:00:00Z"),
        pull("R_api", 2, "bob", "2026-03-03T12:00:00Z", "2026-03-04T06:00:00Z"),
        pull("R_api", 3, "carol", "2026-03-04T00:00:00Z", "2026-03-04T08:00:00Z"),
        pull("R_web", 4, "alice", "2026-03-02T09:00:00Z", "2026-03-02T21:00:00Z"),
        pull("R_api", 5, "alice", "2026-03-10T12:30:00Z", "2026-03-10T13:00:00Z"),
        pull("R_api", 6, "alice", "2026-01-20T12:00:00Z", "2026-02-25T12:00:00Z"),
        pull("R_api", 7, "renovate[bot]", "2026-03-09T08:00:00Z", "2026-03-09T09:00:00Z"),
    ])
    .await
    .unwrap();
    page.deployments(&[
        deployment("d1", "production", "2026-03-02T12:00:00Z", "success"),
        deployment("d2", "Production-EU", "2026-03-04T12:00:00Z", "success"),
        deployment("d3", "prod", "2026-03-10T12:00:00Z", "success"),
        deployment("s1", "staging", "2026-03-02T11:00:00Z", "success"),
        deployment("f1", "production", "2026-03-02T11:30:00Z", "failure"),
        deployment("p1", "preprod", "2026-03-02T10:30:00Z", "success"),
    ])
    .await
    .unwrap();
    page.releases(&[
        release("r1", "2026-03-03T09:00:00Z", false, false),
        release("r0", "2026-03-02T22:00:00Z", true, false),
        release("rc", "2026-03-02T23:00:00Z", false, true),
    ])
    .await
    .unwrap();
    drop(page);
    let mut page = Page::open(&db, &mut tx, &jira).await.unwrap();
    page.boards(&[
        Board { id: 10, name: "Platform".into(), kind: "scrum".into(), project_key: Some("PLAT".into()) },
        Board { id: 20, name: "Ops".into(), kind: "scrum".into(), project_key: Some("OPS".into()) },
    ])
    .await
    .unwrap();
    page.issues(&[
        issue("1", "PLAT", "Incident", &[], "2026-03-02T15:00:00Z", Some("2026-03-02T17:00:00Z")),
        issue("2", "PLAT", "Bug", &["customer", "Incident"], "2026-03-04T13:00:00Z", Some("2026-03-05T13:00:00Z")),
        issue("3", "PLAT", "Bug", &["customer"], "2026-03-03T10:00:00Z", Some("2026-03-03T12:00:00Z")),
        issue("4", "OPS", "Incident", &[], "2026-03-03T10:00:00Z", Some("2026-03-03T11:00:00Z")),
        issue("5", "PLAT", "incident", &[], "2026-02-20T00:00:00Z", Some("2026-03-01T20:00:00Z")),
        issue("6", "PLAT", "Incident", &[], "2025-10-01T00:00:00Z", Some("2026-03-10T00:00:00Z")),
    ])
    .await
    .unwrap();
    drop(page);
    tx.commit().await.unwrap();
    let reader = app.token(&acme, Role::Readonly);
    (app, acme, reader, teams)
}

const WINDOW: &str = "from=2026-03-01&to=2026-03-15";

async fn dora(app: &TestApp, token: &str, query: &str) -> Value {
    let resp = app.get(&format!("/api/v1/metrics/dora?{query}"), token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{query}");
    resp.json().await.unwrap()
}

fn values(points: &Value) -> Vec<Value> {
    points.as_array().unwrap().iter().map(|p| p["value"].clone()).collect()
}

async fn the_four_keys_follow_deployments_changes_and_incidents(backend: Backend) {
    let (app, _, reader, teams) = world(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    let body = dora(&app, &reader, &format!("{WINDOW}&team={platform}")).await;
    assert_eq!(
        (&body["metric"], &body["team"], &body["granularity"], &body["time_zone"]),
        (&json!("dora"), &teams["platform"], &json!("week"), &json!("UTC"))
    );
    let df = &body["deployment_frequency"];
    // d1, r1 and d2; weeks of 0, 3 and 0 deployment days; March had one.
    assert_eq!(
        (&df["deployments"], &df["deployment_days"], &df["per_week"], &df["median_days_per_week"]),
        (&json!(3), &json!(3), &json!(1.5), &json!(0))
    );
    assert_eq!((&df["median_months_deployed"], &df["level"]), (&json!(1), &json!("medium")));
    assert_eq!(values(&df["points"]), [json!(0), json!(3), json!(0)]);
    let starts: Vec<&str> = df["points"].as_array().unwrap().iter().map(|p| p["start"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2026-02-23", "2026-03-02", "2026-03-09"]);

    // 24, 24, 26 and 984 hours.
    let lt = &body["lead_time"];
    assert_eq!(
        (&lt["changes"], &lt["median_hours"], &lt["p85_hours"], &lt["level"]),
        (&json!(4), &json!(25), &json!(984), &json!("high"))
    );
    assert_eq!(values(&lt["points"]), [json!(0), json!(25), json!(0)]);

    // d1 (I1 before r1) and d2 (I2 before the window's end) failed; r1 did not.
    let cfr = &body["change_failure_rate"];
    assert_eq!((&cfr["deployments"], &cfr["failed"], &cfr["level"]), (&json!(3), &json!(2), &json!("low")));
    assert!((cfr["rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);

    // 2, 24, 236 and 3,840 hours; by the week of the resolution.
    let ttr = &body["time_to_restore"];
    assert_eq!(
        (&ttr["incidents"], &ttr["median_hours"], &ttr["p85_hours"], &ttr["level"]),
        (&json!(4), &json!(130), &json!(3840), &json!("medium"))
    );
    assert_eq!(values(&ttr["points"]), [json!(236), json!(13), json!(3840)]);

    // Payments: only d2, through Carol's change; without a board no incident is known, so
    // neither its failure rate nor its time to restore is rated.
    let payments = teams["payments"].as_str().unwrap();
    let body = dora(&app, &reader, &format!("{WINDOW}&team={payments}")).await;
    assert_eq!(body["deployment_frequency"]["deployments"], json!(1));
    assert_eq!((&body["lead_time"]["changes"], &body["lead_time"]["median_hours"]), (&json!(1), &json!(12)));
    assert_eq!(
        (&body["change_failure_rate"]["failed"], &body["change_failure_rate"]["rate"]),
        (&json!(0), &Value::Null)
    );
    assert_eq!(body["change_failure_rate"]["level"], Value::Null);
    assert_eq!((&body["time_to_restore"]["incidents"], &body["time_to_restore"]["level"]), (&json!(0), &Value::Null));

    // Every team: the same three deployments (d3 shipped only a bot's change), five changes.
    let body = dora(&app, &reader, WINDOW).await;
    assert_eq!(body["team"], Value::Null);
    assert_eq!(body["deployment_frequency"]["deployments"], json!(3));
    assert_eq!((&body["lead_time"]["changes"], &body["lead_time"]["median_hours"]), (&json!(5), &json!(24)));

    // A window with nothing: no level.
    let body = dora(&app, &reader, &format!("from=2025-01-01&to=2025-02-01&team={platform}")).await;
    assert_eq!(
        (&body["deployment_frequency"]["deployments"], &body["deployment_frequency"]["level"]),
        (&json!(0), &Value::Null)
    );
    assert_eq!(
        (&body["lead_time"]["median_hours"], &body["change_failure_rate"]["rate"]),
        (&Value::Null, &Value::Null)
    );
}
backend_test!(the_four_keys_follow_deployments_changes_and_incidents);

async fn the_settings_say_what_an_incident_is(backend: Backend) {
    let (app, acme, reader, teams) = world(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    let admin = app.token(&acme, Role::Admin);
    let settings = |types: Value, labels: Value| {
        json!({"time_zone": "UTC", "reload_days": 28, "backfill_days": 90, "schedule": "0 2 * * *", "bots": [],
            "incident_types": types, "incident_labels": labels})
    };
    // Only the type: I2, a labelled bug, is no longer an incident (2, 236 and 3,840 hours).
    let resp =
        app.put("/api/v1/metrics/settings", &admin, &settings(json!(["Incident"]), json!([]))).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let saved: Value = resp.json().await.unwrap();
    assert_eq!((&saved["incident_types"], &saved["incident_labels"]), (&json!(["Incident"]), &json!([])));
    let body = dora(&app, &reader, &format!("{WINDOW}&team={platform}")).await;
    assert_eq!(body["change_failure_rate"]["failed"], json!(1));
    assert_eq!(
        (&body["time_to_restore"]["incidents"], &body["time_to_restore"]["median_hours"]),
        (&json!(3), &json!(236))
    );
    // Refused, naming the item; nothing changes.
    let resp = app
        .put("/api/v1/metrics/settings", &admin, &settings(json!(["Incident"]), json!(["two words"])))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["field"], json!("incident_labels[0]"));
    let now: Value = app.get("/api/v1/metrics/settings", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["incident_labels"], json!([]));
    // Without the fields: the defaults again.
    let mut body = settings(json!(null), json!(null));
    body.as_object_mut().unwrap().retain(|k, _| !k.starts_with("incident"));
    let saved: Value = app.put("/api/v1/metrics/settings", &admin, &body).send().await.unwrap().json().await.unwrap();
    assert_eq!((&saved["incident_types"], &saved["incident_labels"]), (&json!(["Incident"]), &json!(["incident"])));
}
backend_test!(the_settings_say_what_an_incident_is);

async fn bad_requests_are_refused(backend: Backend) {
    let (app, _, reader, _) = world(backend).await;
    for (query, status, field) in [
        ("from=2026-03-15&to=2026-03-01", 400, Some("to")),
        ("from=2026-03-01&to=2026-03-15&granularity=year", 400, Some("granularity")),
        ("from=2026-03-01&to=2026-03-15&team=01900000-0000-7000-8000-000000000000", 404, None),
        ("from=2026-03-01&to=2026-03-15&team=nope", 404, None),
    ] {
        let (got, named, _) = refusal_of(&app, &reader, &format!("/api/v1/metrics/dora?{query}")).await;
        assert_eq!((got, named.as_deref()), (status, field), "{query}");
    }
    // A poll with the ETag gets 304.
    let resp = app.get(&format!("/api/v1/metrics/dora?{WINDOW}"), &reader).send().await.unwrap();
    let tag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let again =
        app.get(&format!("/api/v1/metrics/dora?{WINDOW}"), &reader).header("if-none-match", &tag).send().await.unwrap();
    assert_eq!(again.status(), 304);
}
backend_test!(bad_requests_are_refused);

async fn the_dora_page_shows_the_four_keys(backend: Backend) {
    let (app, acme, reader, teams) = world(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    app.create_user(&acme, "rita@acme.test", PASSWORD, &[Role::Readonly]).await;
    let rita = app.sign_in(&acme, "rita@acme.test", PASSWORD).await;
    let base = format!("/app/dashboard/teams/{platform}/dora");
    let page = rita.get(&format!("{base}?{WINDOW}&granularity=week")).await;
    assert_eq!(page.status, 200);
    for text in ["1.5 a week · medium", "25 h median · high", "66.7% · low", "5.42 d median · medium"] {
        assert!(page.body.contains(text), "{text}");
    }
    assert!(page.body.contains("“Incident”") && page.body.contains("“incident”"));
    let csv = rita.get(&format!("{base}?{WINDOW}&granularity=week&csv=deployments")).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.body, "Week of,Deployments\r\n2026-02-23,0\r\n2026-03-02,3\r\n2026-03-09,0\r\n");
    let body = dora(&app, &reader, &format!("{WINDOW}&team={platform}")).await;
    let csv = rita.get(&format!("{base}?{WINDOW}&granularity=week&csv=lead-time")).await;
    let hours: Vec<String> = values(&body["lead_time"]["points"])
        .iter()
        .map(|v| match v.as_f64().unwrap() {
            0.0 => String::new(),
            h => (h * 3600.0).to_string(),
        })
        .collect();
    assert_eq!(
        csv.body,
        format!("Week of,Median\r\n2026-02-23,{}\r\n2026-03-02,{}\r\n2026-03-09,{}\r\n", hours[0], hours[1], hours[2])
    );
    // The team's page links it.
    let team = rita.get(&format!("/app/dashboard/teams/{platform}?{WINDOW}")).await;
    assert!(team.body.replace("&#x2f;", "/").contains(&format!("/app/dashboard/teams/{platform}/dora?")));
}
backend_test!(the_dora_page_shows_the_four_keys);
