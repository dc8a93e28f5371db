//! The metric endpoints against small hand-built data with hand-computed answers: local
//! days in the tenant's zone (a commit at 23:30 UTC counts on the next day in Bratislava;
//! the spring DST change), merges, bots and strangers excluded, a person who moves between
//! teams mid-window, and an empty window.

use cairn_audit::RequestMeta;
use cairn_domain::Role;
use cairn_metrics::collected::{Comment, CommentKind, Commit, CommitPullRequest, Deployment, PrState, PullRequest};
use cairn_metrics::{Metrics, Page, SettingsInput};
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

use super::{github_source, refusal_of, tester};

fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn commit(sha: &str, login: Option<&str>, email: &str, when: &str, lines: (i64, i64), parents: i64) -> Commit {
    Commit {
        repository_id: "R_api".into(),
        sha: sha.into(),
        author_login: login.map(str::to_owned),
        author_email: Some(email.into()),
        authored_at: at(when),
        additions: lines.0,
        deletions: lines.1,
        changed_files: 1,
        parent_count: parents,
        on_default_branch: true,
    }
}

fn comment(id: &str, author: &str, pr_author: &str, when: &str) -> Comment {
    Comment {
        kind: CommentKind::Review,
        id: id.into(),
        repository_id: "R_api".into(),
        pr_number: 1,
        author_login: Some(author.into()),
        pr_author_login: Some(pr_author.into()),
        created_at: at(when),
        updated_at: at(when),
    }
}

/// Alice is in Platform until 2 March, then in Payments; Bob stays in Platform. The zone is
/// Europe/Bratislava (CET, CEST from 29 March 01:00 UTC); `renovate` is a configured bot.
async fn world(backend: Backend) -> (TestApp, String, Value) {
    let (app, _, reader, teams) = world_of(backend).await;
    (app, reader, teams)
}

/// The world, with its tenant (for pages signed in as one of its users).
pub(super) async fn world_of(backend: Backend) -> (TestApp, TestTenant, String, Value) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let (source, db) = github_source(&app, &acme).await;
    let metrics = Metrics { db: &db };
    let input = SettingsInput::parse("Europe/Bratislava", 28, 90, "0 2 * * *", &["renovate".into()]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    let alice = json!({"name": "Alice Novak", "email": "alice@acme.com", "other_emails": ["alice@laptop.local"],
        "github_login": "alice"});
    let bob = json!({"name": "Bob Marek", "email": "bob@acme.com", "github_login": "bob", "from": "2026-01-01"});
    let mut alice_platform = alice.clone();
    alice_platform["from"] = json!("2026-01-01");
    alice_platform["to"] = json!("2026-03-02");
    let mut alice_payments = alice.clone();
    alice_payments["from"] = json!("2026-03-02");
    let platform: Value = app
        .post("/api/v1/metrics/teams", &admin, &json!({"name": "Platform", "members": [alice_platform, bob]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payments: Value = app
        .post("/api/v1/metrics/teams", &admin, &json!({"name": "Payments", "members": [alice_payments]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let teams = json!({"platform": platform["id"], "payments": payments["id"]});

    let commits = [
        // Alice in Platform: Friday 20 February.
        commit("c0", Some("alice"), "alice@acme.com", "2026-02-20T10:00:00Z", (7, 1), 1),
        // 23:30 UTC on Sunday 1 March is 00:30 on Monday 2 March in Bratislava: Payments.
        commit("c1", Some("alice"), "alice@acme.com", "2026-03-01T23:30:00Z", (10, 2), 1),
        commit("c2", Some("alice"), "alice@acme.com", "2026-03-02T10:00:00Z", (5, 5), 1),
        // Through an email of hers, without a login: 10 March.
        commit("c3", None, "alice@laptop.local", "2026-03-10T09:00:00Z", (1, 0), 1),
        // Bob: 00:30 and 01:30 on Sunday 29 March (CET, before the change at 01:00 UTC).
        commit("c4", Some("bob"), "bob@acme.com", "2026-03-28T23:30:00Z", (2, 2), 1),
        commit("c5", Some("bob"), "bob@acme.com", "2026-03-29T00:30:00Z", (3, 0), 1),
        // 22:30 UTC on 29 March is 00:30 CEST on Monday 30 March (not 23:30 on the 29th).
        commit("c6", Some("bob"), "bob@acme.com", "2026-03-29T22:30:00Z", (4, 4), 1),
        // Not counted: a merge, bots, a stranger, and a commit outside the window.
        commit("x1", Some("bob"), "bob@acme.com", "2026-03-03T10:00:00Z", (50, 50), 2),
        commit(
            "x2",
            Some("renovate[bot]"),
            "29139614+renovate[bot]@users.noreply.github.com",
            "2026-03-03T10:00:00Z",
            (9, 9),
            1,
        ),
        commit("x3", Some("renovate"), "renovate@acme.com", "2026-03-03T10:00:00Z", (9, 9), 1),
        commit("x4", Some("carol"), "carol@elsewhere.test", "2026-03-03T10:00:00Z", (9, 9), 1),
        commit("x5", Some("alice"), "alice@acme.com", "2026-04-01T10:00:00Z", (9, 9), 1),
    ];
    let comments = [
        comment("k1", "alice", "alice", "2026-02-20T11:00:00Z"),
        comment("k2", "alice", "bob", "2026-03-05T11:00:00Z"),
        comment("k3", "alice", "bob", "2026-03-06T11:00:00Z"),
        comment("k4", "bob", "alice", "2026-03-06T12:00:00Z"),
    ];
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    page.commits(&commits).await.unwrap();
    page.comments(&comments).await.unwrap();
    // c2 and c4 came through pull requests.
    let linked: Vec<(String, String)> = ["c2", "c4"].iter().map(|c| ("R_api".to_owned(), (*c).to_owned())).collect();
    let links: Vec<CommitPullRequest> = linked
        .iter()
        .map(|(r, c)| CommitPullRequest { repository_id: r.clone(), sha: c.clone(), pr_number: 1 })
        .collect();
    page.commit_pull_requests(&linked, &links).await.unwrap();
    let pull = |number: i64, author: &str, created: &str, review: Option<&str>, merged: Option<&str>| PullRequest {
        repository_id: "R_api".into(),
        number,
        author_login: Some(author.into()),
        state: if merged.is_some() { PrState::Merged } else { PrState::Open },
        created_at: at(created),
        merged_at: merged.map(at),
        closed_at: merged.map(at),
        first_review_at: review.map(at),
        additions: 1,
        deletions: 1,
        merge_commit_sha: None,
        updated_at: at(created),
    };
    page.pull_requests(&[
        // c2 (10:00) is its first commit: coding 2 h, pickup 2 h, review 22 h, deploy 6 h.
        pull(1, "alice", "2026-03-02T12:00:00Z", Some("2026-03-02T14:00:00Z"), Some("2026-03-03T12:00:00Z")),
        // No commit on main, no review: deploy 12 h, cycle from creation 24 h.
        pull(2, "bob", "2026-03-10T08:00:00Z", None, Some("2026-03-10T20:00:00Z")),
        // Pickup 1 h, review 3 h, never deployed (the next deployment failed): cycle 4 h.
        pull(3, "bob", "2026-03-20T09:00:00Z", Some("2026-03-20T10:00:00Z"), Some("2026-03-20T13:00:00Z")),
        pull(4, "renovate[bot]", "2026-03-20T09:00:00Z", None, Some("2026-03-20T09:30:00Z")),
        pull(5, "alice", "2026-03-25T09:00:00Z", None, None),
    ])
    .await
    .unwrap();
    let deployment = |id: &str, when: &str, status: &str| Deployment {
        id: id.into(),
        repository_id: "R_api".into(),
        environment: "production".into(),
        sha: "c2".into(),
        git_ref: Some("main".into()),
        created_at: at(when),
        status: Some(status.into()),
        status_at: Some(at(when)),
    };
    page.deployments(&[
        deployment("d1", "2026-03-03T18:00:00Z", "success"),
        deployment("d2", "2026-03-11T08:00:00Z", "success"),
        deployment("d3", "2026-03-20T14:00:00Z", "failure"),
    ])
    .await
    .unwrap();
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

/// A series as `(key, total, summary, points that are not zero)`.
type Row = (String, Value, Value, Vec<(String, Value)>);

fn series(body: &Value) -> Vec<Row> {
    body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["points"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["value"] != json!(0))
                .map(|p| (p["start"].as_str().unwrap().to_owned(), p["value"].clone()))
                .collect();
            (s["key"].as_str().unwrap().to_owned(), s["total"].clone(), s["summary"].clone(), points)
        })
        .collect()
}

const WINDOW: &str = "from=2026-02-01&to=2026-04-01";

async fn commits_and_active_days_follow_local_days_and_team_moves(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/user-commits?{WINDOW}")).await;
    assert_eq!(
        (&body["metric"], &body["from"], &body["to"], &body["time_zone"], &body["granularity"]),
        (
            &json!("github/user-commits"),
            &json!("2026-02-01"),
            &json!("2026-04-01"),
            &json!("Europe/Bratislava"),
            &json!("week")
        )
    );
    let points = body["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 10, "ISO weeks from Monday 26 January to Monday 30 March");
    assert_eq!(points[0]["start"], "2026-01-26");
    assert_eq!(
        series(&body),
        vec![
            (
                "alice".into(),
                json!(4),
                json!({"active_days": 3, "commits_per_active_day": 4.0 / 3.0, "additions": 23, "deletions": 8}),
                vec![("2026-02-16".into(), json!(1)), ("2026-03-02".into(), json!(2)), ("2026-03-09".into(), json!(1))]
            ),
            (
                "bob".into(),
                json!(3),
                json!({"active_days": 2, "commits_per_active_day": 1.5, "additions": 9, "deletions": 6}),
                vec![("2026-03-23".into(), json!(2)), ("2026-03-30".into(), json!(1))]
            ),
        ]
    );

    // By day: the DST night puts Bob's commits on the 29th and the 30th.
    let daily = figure(
        &app,
        &reader,
        "/api/v1/metrics/github/user-active-days?from=2026-03-28&to=2026-04-01&granularity=day&user=bob",
    )
    .await;
    assert_eq!(
        series(&daily),
        vec![(
            "bob".into(),
            json!(2),
            json!({}),
            vec![("2026-03-29".into(), json!(1)), ("2026-03-30".into(), json!(1))]
        )]
    );

    // Teams: Alice's commits count for the team she was in on each local day.
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/team-commits?{WINDOW}&granularity=month")).await;
    let by_team: Vec<(String, Value, Value)> = series(&body).into_iter().map(|(k, t, s, _)| (k, t, s)).collect();
    assert_eq!(
        by_team,
        vec![
            (
                teams["payments"].as_str().unwrap().into(),
                json!(3),
                json!({"active_authors": 1, "commits_per_active_author": 3, "additions": 16, "deletions": 7})
            ),
            (
                teams["platform"].as_str().unwrap().into(),
                json!(4),
                json!({"active_authors": 2, "commits_per_active_author": 2, "additions": 16, "deletions": 7})
            ),
        ]
    );
    let platform = teams["platform"].as_str().unwrap();
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/github/team-active-days?{WINDOW}&team={platform}")).await;
    let weeks = 59.0 / 7.0;
    assert_eq!(
        (&body["series"][0]["total"], &body["series"][0]["summary"]),
        (&json!(3), &json!({"members": 2, "weeks": weeks, "per_member_week": 3.0 / (2.0 * weeks)}))
    );
    // A team's members only while in it: Alice's Payments commits are not Platform's.
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/user-commits?{WINDOW}&team={platform}")).await;
    let totals: Vec<(String, Value)> = series(&body).into_iter().map(|(k, t, _, _)| (k, t)).collect();
    assert_eq!(totals, vec![("alice".into(), json!(1)), ("bob".into(), json!(3))]);

    // Comments on one's own pull requests and on others'.
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/github/user-comments-count?{WINDOW}&user=alice@acme.com"))
            .await;
    assert_eq!(
        (&body["series"][0]["total"], &body["series"][0]["summary"]),
        (&json!(3), &json!({"on_own": 1, "on_others": 2}))
    );

    // An empty window: every person, nothing counted.
    let body = figure(&app, &reader, "/api/v1/metrics/github/user-commits?from=2025-01-01&to=2025-01-08").await;
    assert_eq!(body["series"].as_array().unwrap().len(), 2);
    assert!(body["series"].as_array().unwrap().iter().all(|s| s["total"] == json!(0)));
}
backend_test!(commits_and_active_days_follow_local_days_and_team_moves);

/// A request for one team reads its members' rows only (rollups, commits, pull requests);
/// its answer is the team's part of the answer for every team.
async fn a_team_read_from_its_members_rollups_answers_as_from_everyones(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    for metric in ["team-commits", "team-active-days", "team-impact", "cycle-time"] {
        let all = figure(&app, &reader, &format!("/api/v1/metrics/github/{metric}?{WINDOW}")).await;
        for team in ["platform", "payments"] {
            let id = teams[team].as_str().unwrap();
            let one = figure(&app, &reader, &format!("/api/v1/metrics/github/{metric}?{WINDOW}&team={id}")).await;
            let theirs: Vec<&Value> =
                all["series"].as_array().unwrap().iter().filter(|s| s["key"] == teams[team]).collect();
            assert_eq!(one["series"], json!(theirs), "{metric} of {team}");
        }
    }
    // A person's series is the same whether or not the read was narrowed to them.
    for metric in ["user-commits", "user-active-days", "user-comments-count", "user-impact", "commits-without-requests"]
    {
        let all = figure(&app, &reader, &format!("/api/v1/metrics/github/{metric}?{WINDOW}")).await;
        for user in ["alice", "bob"] {
            let one = figure(&app, &reader, &format!("/api/v1/metrics/github/{metric}?{WINDOW}&user={user}")).await;
            let theirs: Vec<&Value> = all["series"].as_array().unwrap().iter().filter(|s| s["key"] == user).collect();
            assert_eq!(one["series"], json!(theirs), "{metric} of {user}");
        }
    }
}
backend_test!(a_team_read_from_its_members_rollups_answers_as_from_everyones);

/// `a` within a millionth of `b`.
fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Sizes (all one file): c0 8, c1 12, c2 10, Carol's 18, c3 1, c4 4, c5 3, c6 8, in that
/// order of time; a commit's impact is the share of the repository's commits up to it
/// (itself included, bots and merges not) whose size is at most its own.
async fn impact_scores_and_commits_without_requests_per_commit(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let alice = 1.0 + 1.0 + 2.0 / 3.0 + 1.0 / 5.0;
    let bob = 2.0 / 6.0 + 2.0 / 7.0 + 5.0 / 8.0;
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/user-impact?{WINDOW}")).await;
    let rows = series(&body);
    assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
    assert!(close(&rows[0].1, alice) && close(&rows[1].1, bob), "{rows:?}");
    assert_eq!(rows[0].2, json!({"additions": 23, "deletions": 8, "changed_files": 4}));

    let platform = teams["platform"].as_str().unwrap();
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/team-impact?{WINDOW}")).await;
    let by_team: Vec<(String, Value)> = series(&body).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(by_team[0].0, teams["payments"].as_str().unwrap());
    assert!(close(&by_team[0].1, 1.0 + 2.0 / 3.0 + 1.0 / 5.0), "{by_team:?}");
    assert!(close(&by_team[1].1, 1.0 + bob), "{by_team:?}");

    // Platform's impact per active author (1.12) is below Payments' (1.87): the 50th
    // percentile of two teams.
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/team-scores?{WINDOW}&team={platform}")).await;
    let rows = series(&body);
    assert_eq!(rows.len(), 2);
    assert!(close(&rows[0].1, 1.0) && close(&rows[1].1, bob));
    assert_eq!(rows[0].2, json!({"active_days": 1, "commits_per_active_day": 1, "team_percentile": 50}));
    assert_eq!(rows[1].2, json!({"active_days": 2, "commits_per_active_day": 1.5, "team_percentile": 50}));

    let path = format!("/api/v1/metrics/github/commits-without-requests?{WINDOW}");
    let body = figure(&app, &reader, &path).await;
    let rows: Vec<(String, Value, Value)> = series(&body).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(
        rows,
        vec![
            ("alice".into(), json!(3), json!({"commits": 4, "share": 0.75})),
            ("bob".into(), json!(2), json!({"commits": 3, "share": 2.0 / 3.0})),
        ]
    );
    let body = figure(&app, &reader, &format!("{path}&by=repository")).await;
    assert_eq!(
        (&body["series"][0]["key"], &body["series"][0]["total"], &body["series"][0]["summary"]),
        (&json!("R_api"), &json!(6), &json!({"commits": 8, "share": 0.75})),
        "a stranger's commits count for the repository"
    );
    let body = figure(&app, &reader, &format!("{path}&by=team&team={platform}")).await;
    assert_eq!(
        (&body["series"][0]["total"], &body["series"][0]["summary"]),
        (&json!(3), &json!({"commits": 4, "share": 0.75}))
    );
    let resp = app.get(&format!("{path}&by=planet"), &reader).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let resp = app.get(&format!("/api/v1/metrics/github/team-scores?{WINDOW}"), &reader).send().await.unwrap();
    assert_eq!(resp.status(), 400, "team scores need a team");
}
backend_test!(impact_scores_and_commits_without_requests_per_commit);

async fn cycle_time_splits_merged_pull_requests_into_stages(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let body = figure(&app, &reader, &format!("/api/v1/metrics/github/cycle-time?{WINDOW}")).await;
    let stage =
        |median: Value, p85: Value, n: u32| json!({"median_hours": median, "p85_hours": p85, "pull_requests": n});
    let none = stage(Value::Null, Value::Null, 0);
    let rows: Vec<(String, Value, Value)> = series(&body).into_iter().map(|r| (r.0, r.1, r.2)).collect();
    assert_eq!(
        rows,
        vec![
            (
                teams["payments"].as_str().unwrap().into(),
                json!(32),
                json!({"pull_requests": 1, "coding": stage(json!(2), json!(2), 1), "pickup": stage(json!(2), json!(2), 1),
                       "review": stage(json!(22), json!(22), 1), "deploy": stage(json!(6), json!(6), 1),
                       "cycle": stage(json!(32), json!(32), 1)})
            ),
            (
                teams["platform"].as_str().unwrap().into(),
                json!(14),
                json!({"pull_requests": 2, "coding": none, "pickup": stage(json!(1), json!(1), 1),
                       "review": stage(json!(3), json!(3), 1), "deploy": stage(json!(12), json!(12), 1),
                       "cycle": stage(json!(14), json!(24), 2)})
            ),
        ]
    );
    let body =
        figure(&app, &reader, &format!("/api/v1/metrics/github/cycle-time?{WINDOW}&user=bob&granularity=month")).await;
    assert_eq!((&body["series"][0]["key"], &body["series"][0]["total"]), (&json!("bob"), &json!(14)));
    assert_eq!(
        body["series"][0]["points"],
        json!([{"start": "2026-02-01", "value": 0}, {"start": "2026-03-01", "value": 14}])
    );
}
backend_test!(cycle_time_splits_merged_pull_requests_into_stages);

async fn bad_windows_are_400_naming_the_field_and_unknown_names_404(backend: Backend) {
    let (app, reader, _) = world(backend).await;
    let (app, reader) = (&app, &reader);
    let refused = |path: String| async move {
        let (status, field, _) = refusal_of(app, reader, &path).await;
        (status, field)
    };
    let base = "/api/v1/metrics/github/user-commits";
    assert_eq!(refused(format!("{base}?from=2026-02-01&to=2026-02-01")).await, (400, Some("to".into())));
    assert_eq!(refused(format!("{base}?from=2020-01-01&to=2026-02-01")).await, (400, Some("to".into())));
    assert_eq!(refused(format!("{base}?from=2026-13-01&to=2026-02-01")).await, (400, Some("from".into())));
    assert_eq!(refused(format!("{base}?{WINDOW}&granularity=year")).await, (400, Some("granularity".into())));
    assert_eq!(refused(format!("{base}?to=2026-02-01")).await, (400, Some("from".into())));
    assert_eq!(refused(format!("{base}?{WINDOW}&user=nobody")).await.0, 404);
    assert_eq!(refused(format!("{base}?{WINDOW}&team=not-a-team")).await.0, 404);
    let unknown = "01890000-0000-7000-8000-000000000000";
    assert_eq!(refused(format!("/api/v1/metrics/github/team-commits?{WINDOW}&team={unknown}")).await.0, 404);
    // No token, no figures.
    assert_eq!(app.client.get(app.url(&format!("{base}?{WINDOW}"))).send().await.unwrap().status(), 401);
}
backend_test!(bad_windows_are_400_naming_the_field_and_unknown_names_404);

async fn a_poll_with_the_etag_gets_304_until_something_changes(backend: Backend) {
    let (app, reader, _) = world(backend).await;
    let path = format!("/api/v1/metrics/github/user-commits?{WINDOW}");
    let first = app.get(&path, &reader).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.get(&path, &reader).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    let other =
        app.get(&format!("{path}&granularity=day"), &reader).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(other.status(), 200, "another answer, another tag");
}
backend_test!(a_poll_with_the_etag_gets_304_until_something_changes);

/// The dashboard holds every figure, each equal to its single endpoint's answer.
async fn the_dashboard_equals_the_single_endpoints(backend: Backend) {
    let (app, reader, teams) = world(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    for scope in [String::new(), format!("&team={platform}")] {
        let query = format!("{WINDOW}&granularity=day{scope}");
        let board = figure(&app, &reader, &format!("/api/v1/metrics/dashboard?{query}")).await;
        assert_eq!((&board["from"], &board["time_zone"]), (&json!("2026-02-01"), &json!("Europe/Bratislava")));
        let parts = [
            ("team_commits", "github/team-commits"),
            ("team_active_days", "github/team-active-days"),
            ("team_impact", "github/team-impact"),
            ("user_commits", "github/user-commits"),
            ("user_active_days", "github/user-active-days"),
            ("user_impact", "github/user-impact"),
            ("user_comments_count", "github/user-comments-count"),
        ];
        for (part, endpoint) in parts {
            let single = figure(&app, &reader, &format!("/api/v1/metrics/{endpoint}?{query}")).await;
            assert_eq!(board["github"][part], single, "{part} {scope}");
        }
        let single = figure(&app, &reader, &format!("/api/v1/metrics/github/cycle-time?{query}")).await;
        assert_eq!(board["github"]["cycle_time"], single);
        let single =
            figure(&app, &reader, &format!("/api/v1/metrics/github/commits-without-requests?{query}&by=team")).await;
        assert_eq!(board["github"]["commits_without_requests"], single);
        for part in ["throughput", "quality", "estimations", "focus"] {
            let single = figure(&app, &reader, &format!("/api/v1/metrics/jira/{part}?{query}")).await;
            assert_eq!(board["jira"][part], single, "{part} {scope}");
        }
        if scope.is_empty() {
            assert_eq!(board["team"], Value::Null);
            assert_eq!(board["github"]["team_scores"], Value::Null);
            assert_eq!((&board["jira"]["sprints"], &board["jira"]["velocity"]), (&Value::Null, &Value::Null));
        } else {
            assert_eq!(board["team"], json!(platform));
            let single = figure(&app, &reader, &format!("/api/v1/metrics/github/team-scores?{query}")).await;
            assert_eq!(board["github"]["team_scores"], single);
            for part in ["sprints", "velocity"] {
                let single = figure(&app, &reader, &format!("/api/v1/metrics/jira/{part}?{query}")).await;
                assert_eq!(board["jira"][part], single, "{part}");
            }
        }
    }
}
backend_test!(the_dashboard_equals_the_single_endpoints);
