//! The dashboard pages, signed in as a read-only member: the teams side by side, a team's,
//! a person's, a sprint's and a team's cycle-time page. Each chart's CSV holds the numbers
//! the metric endpoints answer for the same window; a sprint's burn-up is checked against
//! hand-computed days; unknown names are 404 and a bad window is said, not a failure.

use cairn_domain::Role;
use cairn_testkit::browser::{Browser, Page};
use cairn_testkit::rp::PASSWORD;
use cairn_testkit::{Backend, TestApp, TestTenant, backend_test};
use serde_json::{Value, json};

const WINDOW: &str = "from=2026-02-01&to=2026-04-01&granularity=week";

pub(super) async fn reader(app: &TestApp, tenant: &TestTenant) -> Browser {
    app.create_user(tenant, "rita@acme.test", PASSWORD, &[Role::Readonly]).await;
    app.sign_in(tenant, "rita@acme.test", PASSWORD).await
}

async fn api(app: &TestApp, token: &str, path: &str) -> Value {
    let resp = app.get(path, token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

/// A chart's CSV: its header and rows, as fields.
pub(super) async fn csv(browser: &Browser, path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let page = browser.get(path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    let kind = page.headers.get("content-type").unwrap().to_str().unwrap();
    assert_eq!(kind, "text/csv; charset=utf-8", "{path}");
    let disposition = page.headers.get("content-disposition").unwrap().to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"") && disposition.ends_with(".csv\""), "{disposition}");
    let mut lines =
        page.body.split("\r\n").filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_owned).collect());
    let head = lines.next().expect("a header row");
    (head, lines.collect())
}

/// `(start, value)` of every point of a series, as the CSV writes them.
fn points(series: &Value) -> Vec<Vec<String>> {
    series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| vec![p["start"].as_str().unwrap().to_owned(), p["value"].to_string()])
        .collect()
}

/// The page's HTML with the escapes of URLs undone (`&#x2f;`, `&#38;`, `&amp;`), to find links in.
fn ok(page: &Page, what: &str) -> String {
    assert_eq!(page.status, 200, "{what}: {}", page.body);
    assert!(page.body.contains("<svg") || page.body.contains("class=\"empty\""), "{what}");
    page.body.replace("&#x2f;", "/").replace("&#38;", "&").replace("&amp;", "&")
}

async fn the_team_pages_show_the_endpoints_numbers(backend: Backend) {
    let (app, acme, token, teams) = super::figures::world_of(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    let rita = reader(&app, &acme).await;

    // The home dashboard: both teams with their commits over the window.
    let home = rita.get(&format!("/app/dashboard?{WINDOW}")).await;
    let html = ok(&home, "home");
    let team_commits = api(&app, &token, &format!("/api/v1/metrics/github/team-commits?{WINDOW}")).await;
    for s in team_commits["series"].as_array().unwrap() {
        let row = format!("/app/dashboard/teams/{}?{WINDOW}", s["key"].as_str().unwrap());
        let at = html.find(&row).unwrap_or_else(|| panic!("a row for {}", s["name"]));
        let cell = format!("<td class=\"num\">{}</td>", s["total"]);
        assert!(html[at..].contains(&cell), "{} commits: {}", s["name"], s["total"]);
    }

    // The team page: every chart, each CSV equal to its endpoint's points.
    let base = format!("/app/dashboard/teams/{platform}");
    let html = ok(&rita.get(&format!("{base}?{WINDOW}")).await, "team");
    for key in ["commits", "active-days", "impact", "members", "comments", "cycle-time", "stages", "velocity"] {
        assert!(html.contains(&format!("id=\"{key}\"")), "the {key} chart");
        assert!(html.contains(&format!("{base}?{WINDOW}&csv={key}")), "{key}'s CSV link");
    }
    let one = format!("{WINDOW}&team={platform}");
    for (key, endpoint, column) in [
        ("commits", "github/team-commits", "Commits"),
        ("active-days", "github/team-active-days", "Active days"),
        ("impact", "github/team-impact", "Impact"),
    ] {
        let body = api(&app, &token, &format!("/api/v1/metrics/{endpoint}?{one}")).await;
        let (head, rows) = csv(&rita, &format!("{base}?{WINDOW}&csv={key}")).await;
        assert_eq!(head, ["Week of", column], "{key}");
        assert_eq!(rows, points(&body["series"][0]), "{key}");
    }
    // Members: each member's commits and active days, as user-commits answers for the team.
    let body = api(&app, &token, &format!("/api/v1/metrics/github/user-commits?{one}")).await;
    let (head, mut rows) = csv(&rita, &format!("{base}?{WINDOW}&csv=members")).await;
    assert_eq!(head[..3], ["Person", "Commits", "Active days"]);
    rows.sort();
    let mut expected: Vec<Vec<String>> = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            vec![s["key"].as_str().unwrap().to_owned(), s["total"].to_string(), s["summary"]["active_days"].to_string()]
        })
        .collect();
    expected.sort();
    assert_eq!(rows.iter().map(|r| r[..3].to_vec()).collect::<Vec<_>>(), expected);
    // Cycle time by stage, in seconds: the endpoint's hours × 3600.
    let body = api(&app, &token, &format!("/api/v1/metrics/github/cycle-time?{one}")).await;
    let (head, rows) = csv(&rita, &format!("{base}?{WINDOW}&csv=stages")).await;
    assert_eq!(head, ["Stage", "Median", "85th percentile", "Pull requests"]);
    for row in rows {
        let stage = &body["series"][0]["summary"][&row[0]];
        let seconds = |v: &Value| v.as_f64().map(|h| (h * 3600.0).to_string()).unwrap_or_default();
        assert_eq!(
            row[1..],
            [seconds(&stage["median_hours"]), seconds(&stage["p85_hours"]), stage["pull_requests"].to_string()],
            "{}",
            row[0]
        );
    }
    let none = rita.get(&format!("{base}?{WINDOW}&csv=nothing")).await;
    assert_eq!(none.status, 404);

    // The cycle-time page: per member, what the endpoint answers for each of them.
    let page = rita.get(&format!("{base}/cycle-time?{WINDOW}")).await;
    ok(&page, "cycle time");
    let (_, rows) = csv(&rita, &format!("{base}/cycle-time?{WINDOW}&csv=members")).await;
    assert!(!rows.is_empty());
    for row in rows {
        let body = api(&app, &token, &format!("/api/v1/metrics/github/cycle-time?{WINDOW}&user={}", row[0])).await;
        let cycle = &body["series"][0]["summary"]["cycle"];
        assert_eq!(row[1], (cycle["median_hours"].as_f64().unwrap() * 3600.0).to_string(), "{}", row[0]);
    }

    // A person's page, by their login.
    let page = rita.get(&format!("/app/dashboard/people/alice?{WINDOW}")).await;
    ok(&page, "person");
    assert!(page.body.contains("Alice Novak"));
    let body = api(&app, &token, &format!("/api/v1/metrics/github/user-commits?{WINDOW}&user=alice")).await;
    let (_, rows) = csv(&rita, &format!("/app/dashboard/people/alice?{WINDOW}&csv=commits")).await;
    assert_eq!(rows, points(&body["series"][0]));

    // Unknown names are 404; a bad window is said on the page, which shows the default.
    for path in [
        "/app/dashboard/teams/01900000-0000-7000-8000-000000000000".to_owned(),
        "/app/dashboard/teams/not-an-id".to_owned(),
        "/app/dashboard/people/nobody".to_owned(),
        format!("{base}/sprints/1"),
    ] {
        assert_eq!(rita.get(&path).await.status, 404, "{path}");
    }
    let page = rita.get(&format!("{base}?from=2026-02-30&to=2026-04-01")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("from: must be a date"), "{}", &page.body[..page.body.len().min(3000)]);

    // Signed out: to the sign-in.
    let stranger = Browser::new(&app.base_url);
    let page = stranger.get(&format!("{base}?{WINDOW}")).await;
    assert!((300..400).contains(&page.status), "{}", page.status);
}
backend_test!(the_team_pages_show_the_endpoints_numbers);

/// Sprint 101 of the Jira world (Europe/Bratislava, UTC+1): P1 (3), P2 (5) and P3 (4 now)
/// from its start on 2 February; P4 (1) in on 4 February; P3 out on 5 February; P1 done on
/// 10 February and P4 on 12 February; completed on 16 February with P2 not done.
async fn a_sprint_page_burns_up_day_by_day(backend: Backend) {
    let (app, acme, token, teams) = super::jira_figures::world_of(backend).await;
    let platform = teams["platform"].as_str().unwrap();
    let rita = reader(&app, &acme).await;
    let base = format!("/app/dashboard/teams/{platform}/sprints/101");
    let page = rita.get(&base).await;
    ok(&page, "sprint");
    assert!(page.body.contains("Sprint 101") && page.body.contains("closed sprint"));
    let (head, rows) = csv(&rita, &format!("{base}?csv=burn-up")).await;
    assert_eq!(head, ["Day", "Scope", "Done"]);
    let mut expected = Vec::new();
    for day in 2..=16 {
        let (scope, done) = match day {
            2 | 3 => (12, 0),
            4 => (13, 0),
            5..=9 => (9, 0),
            10 | 11 => (9, 3),
            _ => (9, 4),
        };
        expected.push(vec![format!("2026-02-{day:02}"), scope.to_string(), done.to_string()]);
    }
    assert_eq!(rows, expected);
    // The sprint's figures are the endpoint's.
    let body =
        api(&app, &token, &format!("/api/v1/metrics/jira/sprints?from=2026-02-01&to=2026-04-01&team={platform}")).await;
    let sprint = &body["sprints"][0];
    assert_eq!(sprint["id"], json!(101));
    for (label, value) in [("Committed", &sprint["commitment"]), ("Completed", &sprint["completed"])] {
        assert!(page.body.contains(&format!("<dt>{label}</dt><dd>{value}</dd>")), "{label} {value}");
    }
    // The team page links each closed sprint and the active one.
    let team = ok(&rita.get(&format!("/app/dashboard/teams/{platform}?from=2026-02-01&to=2026-04-01")).await, "team");
    for sprint in [101, 102, 103] {
        assert!(team.contains(&format!("/app/dashboard/teams/{platform}/sprints/{sprint}?")), "sprint {sprint}");
    }
    // Another board's sprint is not the team's; a sprint that is not a number is not one.
    for path in
        [format!("/app/dashboard/teams/{platform}/sprints/201"), format!("/app/dashboard/teams/{platform}/sprints/x")]
    {
        assert_eq!(rita.get(&path).await.status, 404, "{path}");
    }
}
backend_test!(a_sprint_page_burns_up_day_by_day);

/// A tenant with nothing yet: the dashboard says what to connect, to admins with the links.
async fn an_empty_tenant_is_told_what_to_connect(backend: Backend) {
    let (app, acme, ada) = super::pages::signed_in_admin(backend).await;
    let page = ada.get("/app/dashboard").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No teams yet") && page.body.contains("href=\"/app/metrics/teams\""));
    assert!(page.body.contains("Nothing collected yet") && page.body.contains("href=\"/app/metrics/sources\""));
    let rita = reader(&app, &acme).await;
    let page = rita.get("/app/dashboard").await;
    assert!(page.body.contains("An administrator adds teams"));
    assert!(!page.body.contains("href=\"/app/metrics/sources\""));
}
backend_test!(an_empty_tenant_is_told_what_to_connect);
