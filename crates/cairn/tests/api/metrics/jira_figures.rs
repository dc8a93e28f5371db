//! The Jira metric endpoints against small hand-built data with hand-computed answers: a
//! sprint whose issues move after it starts (its commitment kept, added and removed right),
//! an issue carried over between sprints, worklogs on issues outside the team's sprints,
//! estimates against time spent, the bug share, a resolution on the next local day, a
//! person who moves between teams, a closed sprint changed after its completion, and an
//! empty window.

use cairn_audit::RequestMeta;
use cairn_domain::Role;
use cairn_metrics::collected::{
    Board, CommitmentItem, CompletionItem, Issue, Sprint, SprintMembership, SprintState, StatusCategory, Worklog,
};
use cairn_metrics::{Metrics, Page, SettingsInput, SourceId};
use cairn_store::sqlx;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

use super::{refusal_of, tester};

fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// An issue of `project`: `(type, points, resolved, updated)`; estimates are set apart.
fn issue(id: &str, project: &str, kind: &str, points: Option<f64>, resolved: Option<&str>, updated: &str) -> Issue {
    Issue {
        id: id.into(),
        key: format!("{project}-{id}"),
        project_key: project.into(),
        issue_type: kind.into(),
        is_subtask: false,
        status: if resolved.is_some() { "Done".into() } else { "To Do".into() },
        status_category: if resolved.is_some() { StatusCategory::Done } else { StatusCategory::New },
        created_at: at("2026-01-20T08:00:00Z"),
        resolved_at: resolved.map(at),
        points,
        original_estimate_seconds: None,
        time_spent_seconds: None,
        assignee_account_id: Some("acc-alice".into()),
        parent_id: None,
        updated_at: at(updated),
        labels: Vec::new(),
    }
}

fn estimated(mut i: Issue, seconds: i64) -> Issue {
    i.original_estimate_seconds = Some(seconds);
    i
}

fn sprint(id: i64, board: i64, state: SprintState, start: &str, end: &str, complete: Option<&str>) -> Sprint {
    Sprint {
        id,
        board_id: board,
        name: format!("Sprint {id}"),
        state,
        start_at: Some(at(start)),
        end_at: Some(at(end)),
        complete_at: complete.map(at),
    }
}

fn member(sprint: i64, issue: &str, added: &str, removed: Option<&str>) -> SprintMembership {
    SprintMembership { sprint_id: sprint, issue_id: issue.into(), added_at: at(added), removed_at: removed.map(at) }
}

fn worklog(id: &str, issue: &str, author: &str, start: &str, seconds: i64) -> Worklog {
    Worklog {
        id: id.into(),
        issue_id: issue.into(),
        author_account_id: Some(author.into()),
        started_at: at(start),
        seconds,
        updated_at: at(start),
    }
}

fn item(issue: &str, points: Option<f64>) -> CommitmentItem {
    CommitmentItem { issue_id: issue.into(), points }
}

/// Platform owns board 10 (project PLAT); Alice is in it throughout, Bob until 2 March,
/// then in Payments (no board). The zone is Europe/Bratislava (UTC+1 until 29 March).
///
/// Sprint 101 (2–16 February, closed): committed P1 (3), P2 (5), P3 (2, re-estimated to 4
/// after it was taken out on 5 February); P4 (1) came in on 4 February. P1 and P4 were done
/// before it closed; P2 was carried over into sprint 102 (16 February – 2 March, closed) and
/// done there. Sprint 103 (from 2 March) is active with P7. Board 20's sprint 201 holds O1
/// of project OPS.
async fn world(backend: Backend) -> (TestApp, String, Value) {
    let (app, _, reader, teams) = world_of(backend).await;
    (app, reader, teams)
}

/// The world, with its tenant (for pages signed in as one of its users).
pub(super) async fn world_of(backend: Backend) -> (TestApp, TestTenant, String, Value) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let (source, db) = super::jira_source(&app, &acme).await;
    let metrics = Metrics { db: &db };
    let input = SettingsInput::parse("Europe/Bratislava", 28, 90, "0 2 * * *", &[]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();

    let alice = json!({"name": "Alice Novak", "email": "alice@acme.com", "jira_account_id": "acc-alice",
        "from": "2026-01-01"});
    let bob = json!({"name": "Bob Marek", "email": "bob@acme.com", "jira_account_id": "acc-bob"});
    let mut bob_platform = bob.clone();
    bob_platform["from"] = json!("2026-01-01");
    bob_platform["to"] = json!("2026-03-02");
    let mut bob_payments = bob.clone();
    bob_payments["from"] = json!("2026-03-02");
    let mut teams = json!({});
    for (name, body) in [
        ("platform", json!({"name": "Platform", "board": 10, "members": [alice, bob_platform]})),
        ("payments", json!({"name": "Payments", "members": [bob_payments]})),
    ] {
        let resp = app.post("/api/v1/metrics/teams", &admin, &body).send().await.unwrap();
        assert_eq!(resp.status(), 201, "{name}");
        teams[name] = resp.json::<Value>().await.unwrap()["id"].clone();
    }

    let boards = [
        Board { id: 10, name: "Platform".into(), kind: "scrum".into(), project_key: Some("PLAT".into()) },
        Board { id: 20, name: "Ops".into(), kind: "scrum".into(), project_key: Some("OPS".into()) },
    ];
    let sprints = [
        sprint(
            101,
            10,
            SprintState::Closed,
            "2026-02-02T08:00:00Z",
            "2026-02-16T08:00:00Z",
            Some("2026-02-16T09:00:00Z"),
        ),
        sprint(
            102,
            10,
            SprintState::Closed,
            "2026-02-16T10:00:00Z",
            "2026-03-02T08:00:00Z",
            Some("2026-03-02T09:00:00Z"),
        ),
        sprint(103, 10, SprintState::Active, "2026-03-02T10:00:00Z", "2026-03-16T10:00:00Z", None),
        sprint(201, 20, SprintState::Active, "2026-02-01T08:00:00Z", "2026-03-01T08:00:00Z", None),
    ];
    let mut subtask = issue("P6", "PLAT", "Sub-task", None, Some("2026-02-08T10:00:00Z"), "2026-02-08T10:00:00Z");
    subtask.is_subtask = true;
    subtask.parent_id = Some("P1".into());
    let mut p2 =
        estimated(issue("P2", "PLAT", "Story", Some(5.0), Some("2026-02-20T12:00:00Z"), "2026-03-05T12:00:00Z"), 7200);
    p2.assignee_account_id = Some("acc-bob".into());
    let issues = [
        estimated(issue("P1", "PLAT", "Story", Some(3.0), Some("2026-02-10T12:00:00Z"), "2026-02-10T12:00:00Z"), 3600),
        p2,
        issue("P3", "PLAT", "Story", Some(4.0), None, "2026-02-05T10:00:00Z"),
        issue("P4", "PLAT", "Bug", Some(1.0), Some("2026-02-12T10:00:00Z"), "2026-02-12T10:00:00Z"),
        // Resolved at 23:30 UTC on Sunday 1 March: 00:30 on Monday 2 March in Bratislava.
        estimated(issue("P5", "PLAT", "Bug", None, Some("2026-03-01T23:30:00Z"), "2026-03-01T23:30:00Z"), 3600),
        subtask,
        estimated(issue("P7", "PLAT", "Task", Some(2.0), Some("2026-03-20T10:00:00Z"), "2026-03-20T10:00:00Z"), 3600),
        issue("O1", "OPS", "Bug", Some(8.0), Some("2026-02-06T12:00:00Z"), "2026-02-06T12:00:00Z"),
    ];
    let memberships = [
        member(101, "P1", "2026-01-20T08:00:00Z", None),
        member(101, "P2", "2026-01-20T08:00:00Z", None),
        member(102, "P2", "2026-02-16T09:00:00Z", None),
        member(101, "P3", "2026-01-20T08:00:00Z", Some("2026-02-05T10:00:00Z")),
        member(101, "P4", "2026-02-04T10:00:00Z", None),
        member(103, "P7", "2026-03-02T09:00:00Z", None),
        member(201, "O1", "2026-01-20T08:00:00Z", None),
    ];
    let worklogs = [
        // Planned: in sprint 101 while it ran (P6 through its parent P1).
        worklog("w1", "P1", "acc-alice", "2026-02-03T10:00:00Z", 1800),
        worklog("w2", "P1", "acc-alice", "2026-02-09T10:00:00Z", 1800),
        worklog("w6", "P6", "acc-alice", "2026-02-05T10:00:00Z", 1200),
        worklog("w8", "P3", "acc-bob", "2026-02-04T10:00:00Z", 600),
        // Planned in sprint 102, the one P2 was carried into.
        worklog("w4", "P2", "acc-alice", "2026-02-18T10:00:00Z", 5100),
        // Before the window: time spent on P2, not the team's focus.
        worklog("w3", "P2", "acc-bob", "2026-01-25T10:00:00Z", 3600),
        // Unplanned: between sprint 101's completion and sprint 102's start; in no sprint;
        // in another board's sprint; after P3 left the sprint.
        worklog("w11", "P2", "acc-alice", "2026-02-16T09:30:00Z", 300),
        worklog("w5", "P5", "acc-alice", "2026-03-03T10:00:00Z", 2700),
        worklog("w7", "O1", "acc-alice", "2026-02-06T10:00:00Z", 3900),
        worklog("w9", "P3", "acc-bob", "2026-02-06T10:00:00Z", 600),
        // Bob in Payments by then.
        worklog("w10", "P3", "acc-bob", "2026-03-05T10:00:00Z", 1000),
    ];
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    page.boards(&boards).await.unwrap();
    page.sprints(&sprints).await.unwrap();
    page.issues(&issues).await.unwrap();
    let ids: Vec<String> = issues.iter().map(|i| i.id.clone()).collect();
    page.sprint_memberships(&ids, &memberships).await.unwrap();
    page.worklogs(&worklogs).await.unwrap();
    // The commitments as taken at each start: P3 had 2 points then.
    page.commitment(101, &[item("P1", Some(3.0)), item("P2", Some(5.0)), item("P3", Some(2.0))]).await.unwrap();
    page.commitment(102, &[item("P2", Some(5.0))]).await.unwrap();
    page.commitment(103, &[item("P7", Some(2.0))]).await.unwrap();
    drop(page);
    tx.commit().await.unwrap();
    let reader = app.token(&acme, Role::Readonly);
    (app, acme, reader, teams)
}

async fn figure(app: &TestApp, token: &str, path: &str) -> Value {
    let resp = app.get(path, token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

const WINDOW: &str = "from=2026-02-01&to=2026-04-01";

/// A sprint as `(id, state, commitment, completed, added, removed, say_do)`.
fn sprint_rows(body: &Value) -> Vec<Value> {
    body["sprints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["id"], s["state"], s["commitment"], s["completed"], s["added"], s["removed"], s["say_do"]]))
        .collect()
}

/// The points that are not zero, as `(start, value)`.
fn nonzero(points: &Value) -> Vec<(String, Value)> {
    points
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["value"] != json!(0))
        .map(|p| (p["start"].as_str().unwrap().to_owned(), p["value"].clone()))
        .collect()
}

/// An issue type's `(issue_type, total, points that are not zero)`.
type TypeRow = (Value, Value, Vec<(String, Value)>);

/// The series of `team` in a per-team answer.
fn of<'a>(body: &'a Value, team: &Value) -> &'a Value {
    body["series"].as_array().unwrap().iter().find(|s| &s["key"] == team).expect("the team's series")
}

async fn sprints_keep_their_commitment_and_count_what_moved(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/sprints?{WINDOW}&team={platform}")).await;
    assert_eq!((&body["metric"], &body["team"]), (&json!("jira/sprints"), &teams["platform"]));
    assert_eq!(
        sprint_rows(&body),
        vec![
            // Committed 3 + 5 + 2; done P1 (3) and P4 (1, added); P3 removed with its 2
            // points at the start, not the 4 it has now; P2 carried over, not done then.
            json!([101, "closed", 10, 4, 1, 2, 0.4]),
            // P2, done in the sprint it was carried into.
            json!([102, "closed", 5, 5, 0, 0, 1]),
            // Active: no completion yet.
            json!([103, "active", 2, null, 0, 0, null]),
        ]
    );
    let first = &body["sprints"][0];
    assert_eq!(
        (&first["name"], &first["start"], &first["end"], &first["completed_at"]),
        (
            &json!("Sprint 101"),
            &json!("2026-02-02T08:00:00.000Z"),
            &json!("2026-02-16T08:00:00.000Z"),
            &json!("2026-02-16T09:00:00.000Z")
        )
    );
    assert!(body["sprints"][2]["completed_at"].is_null());
    // Only the sprints that overlap the window.
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/sprints?from=2026-02-20&to=2026-02-27&team={platform}"))
            .await;
    assert_eq!(sprint_rows(&body), vec![json!([102, "closed", 5, 5, 0, 0, 1])]);

    // Velocity as of the window's end: the mean of the two closed sprints there are; no
    // trend without three before them.
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?{WINDOW}&team={platform}")).await;
    assert_eq!(
        (&body["metric"], &body["velocity"], &body["trend"], &body["say_do"]),
        (&json!("jira/velocity"), &json!(4.5), &Value::Null, &json!(0.6))
    );
    assert_eq!(sprint_rows(&body).len(), 2, "the closed sprints completed in the window");
    // As of 1 March, only sprint 101 had closed.
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?from=2026-02-01&to=2026-03-01&team={platform}"))
            .await;
    assert_eq!((&body["velocity"], &body["say_do"]), (&json!(4), &json!(0.4)));
    assert_eq!(sprint_rows(&body), vec![json!([101, "closed", 10, 4, 1, 2, 0.4])]);
}
backend_test!(sprints_keep_their_commitment_and_count_what_moved);

/// After sprint 101 closed, P1 is re-estimated from 3 to 8 and P4 reopened. Without its
/// completion snapshot the sprint is read from the issues as they are now; with it, as it
/// was at the close.
async fn a_closed_sprint_counts_its_completion_not_what_changed_since(backend: Backend) {
    let (app, acme, reader, teams) = world_of(backend).await;
    let (_, db) = app.tenant(&acme).await;
    let source: String = sqlx::query_scalar("SELECT id FROM metrics_sources").fetch_one(db.reader()).await.unwrap();
    let source = SourceId::parse(&source, "id").unwrap();
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    let mut p1 = issue("P1", "PLAT", "Story", Some(8.0), Some("2026-02-10T12:00:00Z"), "2026-02-20T12:00:00Z");
    p1.original_estimate_seconds = Some(3600);
    page.issues(&[p1, issue("P4", "PLAT", "Bug", Some(1.0), None, "2026-02-20T12:00:00Z")]).await.unwrap();
    drop(page);
    tx.commit().await.unwrap();
    let platform = teams["platform"].as_str().unwrap();
    let path = format!("/api/v1/metrics/jira/sprints?{WINDOW}&team={platform}");
    let first = |body: &Value| sprint_rows(body)[0].clone();
    // As the issues are now: P1's 8 points done, P4 not done.
    assert_eq!(first(&figure(&app, &reader, &path).await), json!([101, "closed", 10, 8, 1, 2, 0.8]));

    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    let done =
        |issue: &str, points: f64, done: bool| CompletionItem { issue_id: issue.into(), points: Some(points), done };
    let items = [done("P1", 3.0, true), done("P2", 5.0, false), done("P4", 1.0, true)];
    assert!(page.completion(101, &items).await.unwrap());
    drop(page);
    tx.commit().await.unwrap();
    // As at the close: P1's 3 points and P4's 1 done; P2 carried over.
    assert_eq!(first(&figure(&app, &reader, &path).await), json!([101, "closed", 10, 4, 1, 2, 0.4]));
    // The burn-up's last day is the completion too; the days before read points as now.
    let rita = super::dashboard_pages::reader(&app, &acme).await;
    let burn_up = format!("/app/dashboard/teams/{platform}/sprints/101?csv=burn-up");
    let (_, rows) = super::dashboard_pages::csv(&rita, &burn_up).await;
    let last: Vec<&[String]> = rows[rows.len() - 2..].iter().map(Vec::as_slice).collect();
    assert_eq!(last, [["2026-02-15", "14", "8"], ["2026-02-16", "9", "4"]]);
}
backend_test!(a_closed_sprint_counts_its_completion_not_what_changed_since);

/// A request for one team reads that team's rows only (its board's sprints and project, its
/// members' worklogs); its answer is the team's series of the answer for every team. Payments
/// has no board: its focus is Bob's worklog after he joined, unplanned.
async fn a_team_read_from_its_own_rows_answers_as_from_everyones(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    for metric in ["throughput", "quality", "estimations", "focus"] {
        let all = figure(&app, &reader, &format!("/api/v1/metrics/jira/{metric}?{WINDOW}")).await;
        for team in ["platform", "payments"] {
            let id = teams[team].as_str().unwrap();
            let one = figure(&app, &reader, &format!("/api/v1/metrics/jira/{metric}?{WINDOW}&team={id}")).await;
            assert_eq!(one["series"], json!([of(&all, &teams[team])]), "{metric} of {team}");
        }
    }
    let payments = teams["payments"].as_str().unwrap();
    let focus = figure(&app, &reader, &format!("/api/v1/metrics/jira/focus?{WINDOW}&team={payments}")).await;
    assert_eq!(
        (&focus["series"][0]["total"], &focus["series"][0]["summary"]),
        (&json!(0), &json!({"planned_seconds": 0, "all_seconds": 1000, "unplanned": 1}))
    );
}
backend_test!(a_team_read_from_its_own_rows_answers_as_from_everyones);

async fn resolved_issues_give_throughput_quality_and_estimation(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/throughput?{WINDOW}")).await;
    assert_eq!(
        (&body["metric"], &body["time_zone"], &body["granularity"]),
        (&json!("jira/throughput"), &json!("Europe/Bratislava"), &json!("week"))
    );
    let platform = of(&body, &teams["platform"]);
    // P1, P2, P4, P5 and P7: not the sub-task P6, nor OPS's O1.
    assert_eq!(platform["total"], 5);
    assert_eq!(
        nonzero(&platform["points"]),
        vec![
            ("2026-02-09".into(), json!(2)),
            ("2026-02-16".into(), json!(1)),
            ("2026-03-02".into(), json!(1)),
            ("2026-03-16".into(), json!(1)),
        ]
    );
    let by_type: Vec<TypeRow> = platform["summary"]["by_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["issue_type"].clone(), t["total"].clone(), nonzero(&t["points"])))
        .collect();
    assert_eq!(
        by_type,
        vec![
            (json!("Bug"), json!(2), vec![("2026-02-09".into(), json!(1)), ("2026-03-02".into(), json!(1))]),
            (json!("Story"), json!(2), vec![("2026-02-09".into(), json!(1)), ("2026-02-16".into(), json!(1))]),
            (json!("Task"), json!(1), vec![("2026-03-16".into(), json!(1))]),
        ]
    );
    assert_eq!(of(&body, &teams["payments"])["total"], 0, "a team without a board resolves nothing");
    // By day, P5 counts on 2 March, its local date.
    let daily = figure(
        &app,
        &reader,
        &format!(
            "/api/v1/metrics/jira/throughput?from=2026-03-01&to=2026-03-03&granularity=day&team={}",
            teams["platform"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(nonzero(&daily["series"][0]["points"]), vec![("2026-03-02".into(), json!(1))]);

    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/quality?{WINDOW}")).await;
    let platform = of(&body, &teams["platform"]);
    assert_eq!((&platform["total"], &platform["summary"]), (&json!(0.4), &json!({"bugs": 2, "resolved": 5})));
    assert_eq!(nonzero(&platform["points"]), vec![("2026-02-09".into(), json!(0.5)), ("2026-03-02".into(), json!(1))]);

    // Ratios spent ÷ estimate: P1 3600/3600, P2 (9000, a worklog before the window
    // included)/7200, P5 2700/3600; P7 has no time spent, P4 no estimate.
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/estimations?{WINDOW}")).await;
    let platform = of(&body, &teams["platform"]);
    assert_eq!(
        (&platform["total"], &platform["summary"]),
        (
            &json!(1),
            &json!({"within_25pct": 1, "effort_variance": 900.0 / 14400.0, "no_estimate_share": 0.2, "issues": 3})
        )
    );
    assert_eq!(
        nonzero(&platform["points"]),
        vec![("2026-02-09".into(), json!(1)), ("2026-02-16".into(), json!(1.25)), ("2026-03-02".into(), json!(0.75))]
    );
    // Only Bob's issues: P2.
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/estimations?{WINDOW}&user=acc-bob")).await;
    let platform = of(&body, &teams["platform"]);
    assert_eq!((&platform["total"], &platform["summary"]["issues"]), (&json!(1.25), &json!(1)));
}
backend_test!(resolved_issues_give_throughput_quality_and_estimation);

async fn focus_counts_worklogs_in_the_teams_active_sprints(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/focus?{WINDOW}")).await;
    let platform = of(&body, &teams["platform"]);
    // Planned: w1, w2, w6 (a sub-task of P1), w8, w4 (P2 in sprint 102) = 10,500 of 18,000.
    assert_eq!(
        (&platform["total"], &platform["summary"]),
        (
            &json!(10500.0 / 18000.0),
            &json!({"planned_seconds": 10500, "all_seconds": 18000, "unplanned": 1.0 - 10500.0 / 18000.0})
        )
    );
    assert_eq!(
        nonzero(&platform["points"]),
        vec![
            ("2026-02-02".into(), json!(3600.0 / 8100.0)),
            ("2026-02-09".into(), json!(1)),
            ("2026-02-16".into(), json!(5100.0 / 5400.0)),
        ]
    );
    // Bob's worklog after he moved counts for Payments, which has no sprints.
    let payments = of(&body, &teams["payments"]);
    assert_eq!(
        (&payments["total"], &payments["summary"]),
        (&json!(0), &json!({"planned_seconds": 0, "all_seconds": 1000, "unplanned": 1}))
    );
    // One person: Bob's two worklogs on P3, in the sprint and after it left.
    let platform_id = teams["platform"].as_str().unwrap();
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/focus?{WINDOW}&team={platform_id}&user=bob@acme.com"))
            .await;
    assert_eq!(body["series"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&body["series"][0]["total"], &body["series"][0]["summary"]),
        (&json!(0.5), &json!({"planned_seconds": 600, "all_seconds": 1200, "unplanned": 0.5}))
    );
}
backend_test!(focus_counts_worklogs_in_the_teams_active_sprints);

async fn an_empty_window_counts_nothing(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let window = "from=2025-01-01&to=2025-01-08";
    for metric in ["throughput", "quality", "estimations", "focus"] {
        let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/{metric}?{window}")).await;
        let series = body["series"].as_array().unwrap();
        assert_eq!(series.len(), 2, "{metric}: every team");
        assert!(series.iter().all(|s| s["total"] == json!(0) && nonzero(&s["points"]).is_empty()), "{metric}");
    }
    let platform = teams["platform"].as_str().unwrap();
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/sprints?{window}&team={platform}")).await;
    assert_eq!(body["sprints"], json!([]));
    let body = figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?{window}&team={platform}")).await;
    assert_eq!(
        (&body["sprints"], &body["velocity"], &body["trend"], &body["say_do"]),
        (&json!([]), &Value::Null, &Value::Null, &Value::Null)
    );
}
backend_test!(an_empty_window_counts_nothing);

async fn bad_requests_are_refused_naming_the_field_or_the_name(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let (app, reader) = (&app, &reader);
    let refused = |path: String| async move { refusal_of(app, reader, &path).await };
    let platform = teams["platform"].as_str().unwrap();
    for metric in ["velocity", "sprints", "estimations", "throughput", "quality", "focus"] {
        let base = format!("/api/v1/metrics/jira/{metric}");
        let field = |r: (u16, Option<String>, Value)| (r.0, r.1);
        assert_eq!(
            field(refused(format!("{base}?from=2026-02-01&to=2026-02-01&team={platform}")).await),
            (400, Some("to".into()))
        );
        assert_eq!(
            field(refused(format!("{base}?from=2020-01-01&to=2026-02-01&team={platform}")).await),
            (400, Some("to".into()))
        );
        assert_eq!(
            field(refused(format!("{base}?{WINDOW}&granularity=sprint&team={platform}")).await),
            (400, Some("granularity".into()))
        );
        let (status, _, message) = refused(format!("{base}?{WINDOW}&team={platform}&user=nobody")).await;
        assert_eq!(status, 404, "{metric}");
        assert!(message.as_str().unwrap().contains("nobody"), "{message}");
        let unknown = "01890000-0000-7000-8000-000000000000";
        let (status, _, message) = refused(format!("{base}?{WINDOW}&team={unknown}")).await;
        assert_eq!(status, 404, "{metric}");
        assert!(message.as_str().unwrap().contains(unknown), "{message}");
        assert_eq!(app.client.get(app.url(&format!("{base}?{WINDOW}"))).send().await.unwrap().status(), 401);
    }
    // A sprint figure is of one team.
    for metric in ["velocity", "sprints"] {
        let (status, field, _) = refused(format!("/api/v1/metrics/jira/{metric}?{WINDOW}")).await;
        assert_eq!((status, field), (400, Some("team".into())), "{metric}");
    }
}
backend_test!(bad_requests_are_refused_naming_the_field_or_the_name);

async fn a_poll_with_the_etag_gets_304(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    for (path, other) in [
        (
            format!("/api/v1/metrics/jira/velocity?{WINDOW}&team={platform}"),
            format!("/api/v1/metrics/jira/velocity?from=2026-02-01&to=2026-03-01&team={platform}"),
        ),
        (
            format!("/api/v1/metrics/jira/focus?{WINDOW}"),
            format!("/api/v1/metrics/jira/focus?{WINDOW}&granularity=day"),
        ),
    ] {
        let first = app.get(&path, &reader).send().await.unwrap();
        assert_eq!(first.status(), 200);
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app.get(&path, &reader).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
        let other = app.get(&other, &reader).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(other.status(), 200, "another answer, another tag");
    }
}
backend_test!(a_poll_with_the_etag_gets_304);

/// Seven closed weekly sprints of board 10 (UTC), each with one story done before it
/// closed: 1, 2, … 7 points, each committed whole. Velocity is the mean of the last three
/// (5, 6, 7: 6), its trend that over the mean of the three before (2, 3, 4: 3), 2.
async fn velocity_trends_over_the_three_sprints_before(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let (source, db) = super::jira_source(&app, &acme).await;
    let metrics = Metrics { db: &db };
    let input = SettingsInput::parse("UTC", 28, 90, "0 2 * * *", &[]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    let body = json!({"name": "Platform", "board": 10, "members": [{"name": "Alice", "email": "alice@acme.com",
        "jira_account_id": "acc-alice", "from": "2026-01-01"}]});
    let resp = app.post("/api/v1/metrics/teams", &admin, &body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let team = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    // Sprint k runs Monday to the next Monday from 5 January; its story is done on Thursday.
    let monday = |k: i64| jiff::civil::date(2026, 1, 5).checked_add(jiff::Span::new().days(7 * k)).unwrap();
    let stamp = |d: jiff::civil::Date, hour: i8| format!("{d}T{hour:02}:00:00Z");
    let mut sprints = Vec::new();
    let mut issues = Vec::new();
    let mut memberships = Vec::new();
    for k in 0..7 {
        let (start, end) = (stamp(monday(k), 8), stamp(monday(k + 1), 8));
        sprints.push(sprint(400 + k, 10, SprintState::Closed, &start, &end, Some(&end)));
        let id = format!("S{k}");
        let done = stamp(monday(k).checked_add(jiff::Span::new().days(3)).unwrap(), 12);
        issues.push(issue(&id, "PLAT", "Story", Some((k + 1) as f64), Some(&done), &done));
        memberships.push(member(400 + k, &id, &stamp(monday(k), 7), None));
    }
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    page.boards(&[Board { id: 10, name: "Platform".into(), kind: "scrum".into(), project_key: Some("PLAT".into()) }])
        .await
        .unwrap();
    page.sprints(&sprints).await.unwrap();
    page.issues(&issues).await.unwrap();
    let ids: Vec<String> = issues.iter().map(|i| i.id.clone()).collect();
    page.sprint_memberships(&ids, &memberships).await.unwrap();
    for (k, i) in issues.iter().enumerate() {
        page.commitment(400 + k as i64, &[item(&i.id, i.points)]).await.unwrap();
    }
    drop(page);
    tx.commit().await.unwrap();
    let reader = app.token(&acme, Role::Readonly);
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?from=2026-01-01&to=2026-03-01&team={team}"))
            .await;
    assert_eq!((&body["velocity"], &body["trend"], &body["say_do"]), (&json!(6), &json!(2), &json!(1)));
    assert_eq!(sprint_rows(&body).len(), 7);
    // Six closed by the end of the window: the three before the last three are 1, 2, 3.
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?from=2026-01-01&to=2026-02-17&team={team}"))
            .await;
    assert_eq!((&body["velocity"], &body["trend"]), (&json!(5), &json!(2.5)));
    // Five: no trend without three sprints before the last three.
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?from=2026-01-01&to=2026-02-10&team={team}"))
            .await;
    assert_eq!((&body["velocity"], &body["trend"]), (&json!(4), &Value::Null));
    // A window of the last two sprints only: velocity and trend still look at the six
    // closed before its end, and list the two.
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/jira/velocity?from=2026-02-16&to=2026-03-01&team={team}"))
            .await;
    assert_eq!((&body["velocity"], &body["trend"], &body["say_do"]), (&json!(6), &json!(2), &json!(1)));
    assert_eq!(sprint_rows(&body).len(), 2);
    // A sprint's page shows it whatever the period: the first sprint, long before this one.
    let rita = super::dashboard_pages::reader(&app, &acme).await;
    let path = format!("/app/dashboard/teams/{team}/sprints/400?from=2026-02-16&to=2026-03-01&csv=burn-up");
    let (_, rows) = super::dashboard_pages::csv(&rita, &path).await;
    assert_eq!(rows.last().map(|r| r[0].as_str()), Some("2026-01-12"), "{rows:?}");
}
backend_test!(velocity_trends_over_the_three_sprints_before);
