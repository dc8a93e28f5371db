//! Reports rendered by `cairn report run`, read back with poppler: a team report holds the
//! figures the metrics API answers for the same team and period, the audit report the trail's
//! counts, its denials and its verification; both are A4 with embedded fonts, and every page
//! renders.

use std::path::Path;
use std::process::Command;

use cairn_audit::AuditService;
use cairn_charts::{Unit, format_value};
use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use cairn_metrics::Day;
use cairn_reports::jobs::{JobRequest, Jobs, Kind};

use crate::metrics::demo::{cairn, text};

/// A poppler tool's output on `pdf`.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let mut c = Command::new(tool);
    c.args(args).arg(pdf);
    if tool == "pdftotext" {
        c.arg("-");
    }
    let out = c.output().unwrap_or_else(|e| panic!("{tool} runs (Debian's poppler-utils): {e}"));
    assert!(out.status.success(), "{tool}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `pdfinfo`'s field.
fn info(pdf: &Path, name: &str) -> String {
    let out = poppler("pdfinfo", &[], pdf);
    out.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// A4, every font embedded, every page rendering; the page count.
fn well_formed(pdf: &Path) -> usize {
    assert_eq!(info(pdf, "Page size"), "595.276 x 841.89 pts (A4)");
    assert_eq!(info(pdf, "Tagged"), "yes");
    let fonts = poppler("pdffonts", &[], pdf);
    let faces: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(!faces.is_empty() && faces.iter().all(|l| l.contains("Inter")), "{fonts}");
    assert!(faces.iter().all(|l| l.split_whitespace().rev().nth(3) == Some("yes")), "all embedded: {fonts}");
    let pages: usize = info(pdf, "Pages").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    let out = Command::new("pdftoppm").args(["-r", "30", "-png"]).arg(pdf).arg(&prefix).output().unwrap();
    assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), pages, "every page renders");
    pages
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let resp = app.get(path, token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    resp.json().await.unwrap()
}

const FROM: &str = "2026-09-07";
const TO: &str = "2026-12-07";

async fn a_team_report_holds_the_figures_the_api_answers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let out = cairn(&app, &["demo", "seed", "--tenant", "acme", "--size", "small"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let reader = app.token(&acme, Role::Readonly);
    let teams = get(&app, &reader, "/api/v1/metrics/teams").await;
    let team = teams["items"].as_array().unwrap().iter().find(|t| t["name"] == "Platform").unwrap();
    let id = team["id"].as_str().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("platform.pdf");
    let pdf_arg = pdf.to_str().unwrap();
    let args = ["report", "run", "--tenant", "acme", "--kind", "team", "--team", id, "--from", FROM, "--to", TO];
    let out = cairn(&app, &[&args[..], &["--out", pdf_arg]].concat());
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("team report of 7 September \u{2013} 6 December 2026 written to"), "{stdout}");
    let pages = well_formed(&pdf);
    assert!(stdout.contains(&format!("{pages} pages")), "{stdout}");
    assert_eq!(info(&pdf, "Title"), "Team engineering report \u{2014} Platform");

    let read = poppler("pdftotext", &["-raw"], &pdf);
    let board = get(&app, &reader, &format!("/api/v1/metrics/dashboard?from={FROM}&to={TO}&team={id}")).await;
    let github = &board["github"];
    let count = |v: &Value| format_value(v.as_f64().unwrap(), &Unit::Count);
    let commits = &github["team_commits"]["series"][0];
    let expected = [
        ("Commits", count(&commits["total"])),
        ("Active authors", count(&commits["summary"]["active_authors"])),
        ("Issues resolved", count(&board["jira"]["throughput"]["series"][0]["total"])),
    ];
    for (label, value) in &expected {
        assert!(read.contains(&format!("{label}\n{value}")), "{label} {value} in the summary:\n{read}");
    }
    let per_member_week = github["team_active_days"]["series"][0]["summary"]["per_member_week"].as_f64().unwrap();
    assert!(read.contains(&format!("{} per member-week", format_value(per_member_week, &Unit::Plain))));
    // Each week's commits, as the chart's table lists them: `7 Sep 12`.
    for point in commits["points"].as_array().unwrap() {
        let day = jiff::civil::Date::strptime("%Y-%m-%d", point["start"].as_str().unwrap()).unwrap();
        let row = format!("\n{} {}\n", day.strftime("%-d %b"), count(&point["value"]));
        assert!(read.contains(&row), "{row:?} in:\n{read}");
    }
    let velocity = board["jira"]["velocity"]["velocity"].as_f64().unwrap();
    assert!(read.contains(&format_value(velocity, &Unit::Plain)), "velocity {velocity}");
    for section in ["Contents", "Commits", "Active days", "Impact", "Members", "Velocity", "Deployment frequency"] {
        assert!(read.contains(section), "{section}");
    }
    assert!(read.contains(&format!("Page {pages} of {pages}")));

    // A team that does not exist, and a team report without a team, are refused.
    let out = cairn(&app, &["report", "run", "--tenant", "acme", "--kind", "team", "--team", "nope", "--out", pdf_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out).1);
    assert!(text(&out).1.contains("team \"nope\" not found"));
    let out = cairn(&app, &["report", "run", "--tenant", "acme", "--kind", "team", "--out", pdf_arg]);
    assert_eq!(out.status.code(), Some(2));
}
backend_test!(a_team_report_holds_the_figures_the_api_answers);

async fn an_audit_report_counts_the_trail_lists_denials_and_verifies_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let admin = app.token(&acme, Role::Admin);
    let reader = app.token(&acme, Role::Readonly);
    for name in ["Platform", "Payments"] {
        let resp = app.post("/api/v1/metrics/teams", &admin, &json!({"name": name})).send().await.unwrap();
        assert_eq!(resp.status(), 201);
    }
    let resp = app.post("/api/v1/metrics/teams", &reader, &json!({"name": "Nope"})).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    AuditService::checkpoint(&db, app.tokens(), &acme.id.to_string()).await.unwrap().expect("a checkpoint");
    let tally = AuditService::tally(&db, 0, i64::MAX).await.unwrap();
    let entries: i64 = tally.iter().map(|t| t.entries).sum();
    let denied: i64 = tally.iter().filter(|t| t.outcome == "denied").map(|t| t.entries).sum();
    assert_eq!(denied, 1);

    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("audit.pdf");
    let today = jiff::Zoned::now().date();
    let (from, to) =
        (today.yesterday().unwrap().to_string(), today.tomorrow().unwrap().tomorrow().unwrap().to_string());
    let out = cairn(
        &app,
        &[
            "report",
            "run",
            "--tenant",
            "acme",
            "--kind",
            "audit",
            "--from",
            &from,
            "--to",
            &to,
            "--out",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    well_formed(&pdf);
    let read = poppler("pdftotext", &["-raw"], &pdf);
    assert!(read.contains(&format!("Entries\n{entries}")), "{read}");
    assert!(read.contains("Denied\n1"), "{read}");
    assert!(read.contains("metrics.team_created"), "{read}");
    assert!(read.contains("Verification\nIntact"), "{read}");
    assert!(read.contains("The chain is intact"), "{read}");
    assert!(read.contains("The latest signed checkpoint covers the chain up to entry"), "{read}");
    assert!(!read.contains("No request was denied"), "the denial is listed");
}
backend_test!(an_audit_report_counts_the_trail_lists_denials_and_verifies_it);

/// The report `id` once it is no longer queued or running.
async fn settled(app: &TestApp, token: &str, id: &str) -> Value {
    cairn_testkit::eventually("the report to settle", std::time::Duration::from_secs(60), || async {
        let body = get(app, token, &format!("/api/v1/reports/{id}")).await;
        (body["status"] != "queued" && body["status"] != "running").then_some(body)
    })
    .await
}

/// A link to the report with its expiry and signature replaced.
fn with_query(url: &str, expires: i64, signature: &str) -> String {
    format!("{}?expires={expires}&signature={signature}", url.split('?').next().unwrap())
}

async fn a_requested_report_is_rendered_and_downloaded_through_its_link(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let out = cairn(&app, &["demo", "seed", "--tenant", "acme", "--size", "small"]);
    assert!(out.status.success(), "{}", text(&out).1);
    let member = app.token(&acme, Role::Member);
    let teams = get(&app, &member, "/api/v1/metrics/teams").await;
    let team = teams["items"][0]["id"].as_str().unwrap().to_owned();

    let request = json!({"kind": "team", "team": team, "from": FROM, "to": TO});
    let resp = app.post("/api/v1/reports", &member, &request).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let queued: Value = resp.json().await.unwrap();
    assert_eq!((&queued["status"], &queued["kind"], &queued["team"]), (&json!("queued"), &json!("team"), &json!(team)));
    assert!(queued["download_url"].is_null());
    let id = queued["id"].as_str().unwrap().to_owned();

    let ready = settled(&app, &member, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["attempts"], 1);
    assert!(ready["pages"].as_i64().unwrap() > 3 && ready["size"].as_i64().unwrap() > 10_000, "{ready}");
    let url = ready["download_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/reports/{}/{id}.pdf?expires=", app.base_url, acme.id)), "{url}");
    let list = get(&app, &member, "/api/v1/reports").await;
    assert_eq!(list["items"][0]["id"], json!(id));

    // The link needs no token.
    let anyone = reqwest::Client::new();
    let resp = anyone.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let pdf = resp.bytes().await.unwrap();
    assert_eq!(pdf.len() as i64, ready["size"].as_i64().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.pdf");
    std::fs::write(&file, &pdf).unwrap();
    assert_eq!(well_formed(&file) as i64, ready["pages"].as_i64().unwrap());

    // Tampered (another expiry, another signature) is 403; expired is 410; neither says more.
    let expires: i64 = url.split("expires=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let signature = url.split("signature=").nth(1).unwrap();
    for bad in [with_query(&url, expires + 1, signature), with_query(&url, expires, "AAAA")] {
        let resp = anyone.get(&bad).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{bad}");
        assert!(resp.text().await.unwrap().contains("This link is not valid"));
    }
    let past = cairn_domain::now_ms() - 1000;
    let message = format!("{}\n{id}\n{past}", acme.id);
    let expired = with_query(&url, past, &app.store.master_key().mac("report-links v1", message.as_bytes()));
    let resp = anyone.get(&expired).send().await.unwrap();
    assert_eq!(resp.status(), 410);
    assert!(resp.text().await.unwrap().contains("This link has expired"));
    let stranger = with_query(&url.replace(&id, &cairn_domain::TenantId::new().to_string()), expires, signature);
    assert_eq!(anyone.get(&stranger).send().await.unwrap().status(), 403, "another report's name is tampering");

    // Audited: the request and the download.
    let admin = app.token(&acme, Role::Admin);
    let trail = get(&app, &admin, &format!("/api/v1/audit?resource_type=report&resource_id={id}")).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"report.requested") && actions.contains(&"report.downloaded"), "{actions:?}");

    // Deleted: the row, the file, and the link answers 410.
    let resp = app.delete(&format!("/api/v1/reports/{id}"), &member).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(app.get(&format!("/api/v1/reports/{id}"), &member).send().await.unwrap().status(), 404);
    assert_eq!(anyone.get(&url).send().await.unwrap().status(), 410);
    let stored = app.config.data_dir.join("objects/reports").join(acme.id.to_string()).join(format!("{id}.pdf"));
    assert!(!stored.exists(), "{}", stored.display());
}
backend_test!(a_requested_report_is_rendered_and_downloaded_through_its_link);

async fn report_requests_are_checked_and_audit_reports_are_for_admins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (admin, member, reader) =
        (app.token(&acme, Role::Admin), app.token(&acme, Role::Member), app.token(&acme, Role::Readonly));
    let resp = app.post("/api/v1/metrics/teams", &admin, &json!({"name": "Platform"})).send().await.unwrap();
    let team = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let post = |token: &str, body: Value| app.post("/api/v1/reports", token, &body).send();

    let team_report = json!({"kind": "team", "team": team, "from": FROM, "to": TO});
    assert_eq!(post(&reader, team_report).await.unwrap().status(), 403);
    let audit = json!({"kind": "audit", "from": FROM, "to": TO});
    assert_eq!(post(&member, audit.clone()).await.unwrap().status(), 403);
    let cases = [
        (json!({"kind": "pie", "from": FROM, "to": TO}), 400, "kind"),
        (json!({"kind": "team", "from": FROM, "to": TO}), 400, "team"),
        (json!({"kind": "audit", "team": team, "from": FROM, "to": TO}), 400, "team"),
        (json!({"kind": "team", "team": team, "from": TO, "to": FROM}), 400, "to"),
        (json!({"kind": "team", "team": team, "from": "2020-01-01", "to": TO}), 400, "to"),
        (json!({"kind": "team", "team": cairn_domain::TenantId::new().to_string(), "from": FROM, "to": TO}), 404, ""),
    ];
    for (body, status, field) in cases {
        let resp = post(&admin, body.clone()).await.unwrap();
        assert_eq!(resp.status(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], field, "{body}: {err}");
        }
    }
    // Nothing was queued by a refused request.
    assert_eq!(get(&app, &admin, "/api/v1/reports").await["items"], json!([]));

    // An admin's audit report: rendered, but not shown to a member.
    let resp = post(&admin, audit).await.unwrap();
    assert_eq!(resp.status(), 202);
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(settled(&app, &admin, &id).await["status"], "ready");
    assert_eq!(app.get(&format!("/api/v1/reports/{id}"), &member).send().await.unwrap().status(), 404);
    assert_eq!(app.delete(&format!("/api/v1/reports/{id}"), &member).send().await.unwrap().status(), 404);
    assert_eq!(get(&app, &member, "/api/v1/reports").await["items"], json!([]));
    assert_eq!(get(&app, &admin, "/api/v1/reports").await["items"][0]["id"], json!(id));

    // A report whose team is gone by the time it renders fails after its tries, with the
    // reason (queued here beside the API, which refuses an unknown team).
    let (_, db) = app.tenant(&acme).await;
    let request = JobRequest {
        kind: Kind::Team,
        team_id: Some(cairn_domain::TenantId::new().to_string()),
        from: Day::parse(FROM, "from").unwrap(),
        to: Day::parse(TO, "to").unwrap(),
    };
    let actor = cairn_audit::Actor { id: "test".into(), email: None };
    let job = Jobs { db: &db }.request(&request, &actor, &Default::default()).await.unwrap();
    let failed = settled(&app, &member, &job.id).await;
    assert_eq!((&failed["status"], &failed["attempts"]), (&json!("failed"), &json!(3)), "{failed}");
    assert!(failed["error"].as_str().unwrap().contains("not found"), "{failed}");
    assert!(failed["download_url"].is_null());
}
backend_test!(report_requests_are_checked_and_audit_reports_are_for_admins);

async fn expired_reports_and_their_files_are_removed_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (_, db) = app.tenant(&acme).await;
    let admin = app.token(&acme, Role::Admin);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let body = json!({"kind": "audit", "from": FROM, "to": TO});
        let resp = app.post("/api/v1/reports", &admin, &body).send().await.unwrap();
        ids.push(resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        assert_eq!(settled(&app, &admin, id).await["status"], "ready");
    }
    let file =
        |id: &str| app.config.data_dir.join("objects/reports").join(acme.id.to_string()).join(format!("{id}.pdf"));
    assert!(ids.iter().all(|id| file(id).exists()));
    // Two expired; one of them lost its file already.
    let past = cairn_domain::now_ms() - 1;
    for id in &ids[..2] {
        let sql = "UPDATE reports SET expires_at = $1 WHERE id = $2";
        cairn_store::sqlx::query(sql).bind(past).bind(id).execute(db.writer()).await.unwrap();
    }
    std::fs::remove_file(file(&ids[1])).unwrap();
    let objects = cairn_reports::objects::Objects::folder(app.config.data_dir.join("objects")).unwrap();
    let removed = cairn_reports::objects::remove_expired(&db, &objects, cairn_domain::now_ms()).await.unwrap();
    assert_eq!(removed, 2);
    assert!(!file(&ids[0]).exists() && file(&ids[2]).exists());
    let left: Vec<String> = get(&app, &admin, "/api/v1/reports").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, [ids[2].clone()]);
    // Again: nothing more to remove.
    assert_eq!(cairn_reports::objects::remove_expired(&db, &objects, cairn_domain::now_ms()).await.unwrap(), 0);
}
backend_test!(expired_reports_and_their_files_are_removed_and_nothing_else);

async fn the_reports_page_requests_lists_and_deletes_reports(backend: Backend) {
    use cairn_testkit::rp::PASSWORD;
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let resp = app.post("/api/v1/metrics/teams", &admin, &json!({"name": "Platform"})).send().await.unwrap();
    let team = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    app.create_user(&acme, "mia@acme.test", PASSWORD, &[Role::Member]).await;
    app.create_user(&acme, "rob@acme.test", PASSWORD, &[Role::Readonly]).await;
    let mia = app.sign_in(&acme, "mia@acme.test", PASSWORD).await;
    let rob = app.sign_in(&acme, "rob@acme.test", PASSWORD).await;
    assert_eq!(rob.get("/app/reports").await.status, 403);

    let page = mia.get("/app/reports").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("No reports yet") && page.body.contains("Platform"));
    assert!(!page.body.contains("/app/reports/audit"), "an audit report is for admins");
    let csrf = page.input("csrf").unwrap();
    // A refused request says why beside the form, and queues nothing.
    let refused = mia.post_form("/app/reports", &[("csrf", &csrf), ("team", &team), ("from", TO), ("to", FROM)]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("must be after from"), "{}", refused.body);
    let audit = mia.post_form("/app/reports/audit", &[("csrf", &csrf), ("from", FROM), ("to", TO)]).await;
    assert_eq!(audit.status, 403, "an audit report is for admins");
    let done = mia.post_form("/app/reports", &[("csrf", &csrf), ("team", &team), ("from", FROM), ("to", TO)]).await;
    assert_eq!(done.status, 303);
    assert!(done.location.as_deref().unwrap().ends_with("/app/reports?done=requested"));

    let ready = cairn_testkit::eventually("the report listed ready", std::time::Duration::from_secs(60), || async {
        let page = mia.get("/app/reports").await;
        page.body.contains("Download PDF").then_some(page)
    })
    .await;
    assert!(
        ready.body.contains("Team report: Platform") && ready.body.contains("7 September \u{2013} 6 December 2026")
    );
    // The link before "Download PDF", as the page escapes it.
    let before = ready.body.split("\">Download PDF").next().unwrap();
    let href = before.rsplit("href=\"").next().unwrap();
    let href = href.replace("&#38;", "&").replace("&amp;", "&");
    assert!(href.contains(".pdf?expires="), "{href}");
    let pdf = reqwest::get(&href).await.unwrap();
    assert_eq!(pdf.status(), 200, "{href}");
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    let id = ready.body.split("/app/reports/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    // The preview embeds the first page; only that page lets an object in, and only Cairn's.
    let csp = |p: &cairn_testkit::browser::Page| p.headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(!csp(&ready).contains("object-src"), "{}", csp(&ready));
    assert!(ready.body.contains(&format!("/app/reports/{id}/preview")));
    let preview = mia.get(&format!("/app/reports/{id}/preview")).await;
    assert_eq!(preview.status, 200);
    assert!(csp(&preview).contains("object-src 'self'"), "{}", csp(&preview));
    assert!(preview.body.contains(&format!("data=\"/app/reports/{id}/pdf#page=1")), "{}", preview.body);
    assert!(preview.body.contains("Team report: Platform"));
    let inline = mia.get(&format!("/app/reports/{id}/pdf")).await;
    assert_eq!(inline.status, 200);
    assert_eq!(inline.headers["content-type"], "application/pdf");
    assert_eq!(inline.headers["content-disposition"], "inline");
    assert!(inline.body.starts_with("%PDF-"));
    assert_eq!(rob.get(&format!("/app/reports/{id}/pdf")).await.status, 403);
    assert_eq!(mia.get(&format!("/app/reports/{}/preview", cairn_domain::TenantId::new())).await.status, 404);

    let confirm = mia.get(&format!("/app/reports/{id}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete the report of 7 September"));
    let gone = mia.post_form(&format!("/app/reports/{id}/delete"), &[("csrf", &csrf)]).await;
    assert!(gone.location.as_deref().unwrap().ends_with("/app/reports?done=deleted"));
    assert!(mia.get("/app/reports").await.body.contains("No reports yet"));
}
backend_test!(the_reports_page_requests_lists_and_deletes_reports);

async fn report_schedules_are_checked_listed_deleted_and_for_admins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let member = app.token(&acme, Role::Member);
    let resp = app.post("/api/v1/metrics/teams", &admin, &json!({"name": "Platform"})).send().await.unwrap();
    let team = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let good = json!({"kind": "team", "team": team, "cron": "0 7 * * MON", "period": "last_week", "recipients": ["cto@client.test"]});

    let resp = app.post("/api/v1/reports/schedules", &member, &good).send().await.unwrap();
    assert_eq!(resp.status(), 403, "schedules are for admins");
    assert_eq!(app.get("/api/v1/reports/schedules", &member).send().await.unwrap().status(), 403);
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let refused = [
        (with("kind", json!("weekly")), 400, "kind"),
        (with("cron", json!("0 7 * *")), 400, "cron"),
        (with("cron", json!("*/5 * * * *")), 400, "cron"),
        (with("period", json!("fortnight")), 400, "period"),
        (with("recipients", json!([])), 400, "recipients"),
        (with("recipients", json!(["a@b.test", "not an address"])), 400, "recipients[1]"),
        (with("team", Value::Null), 400, "team"),
        (
            json!({"kind": "audit", "team": team, "cron": "@weekly", "period": "last_week", "recipients": ["a@b.test"]}),
            400,
            "team",
        ),
        (with("team", json!(cairn_domain::TenantId::new().to_string())), 404, ""),
    ];
    for (body, status, field) in refused {
        let resp = app.post("/api/v1/reports/schedules", &admin, &body).send().await.unwrap();
        assert_eq!(resp.status(), status, "{body}");
        let err: Value = resp.json().await.unwrap();
        if !field.is_empty() {
            assert_eq!(err["error"]["field"], json!(field), "{body}: {err}");
        }
    }
    assert_eq!(get(&app, &admin, "/api/v1/reports/schedules").await, json!([]), "nothing was stored");

    let resp = app.post("/api/v1/reports/schedules", &admin, &good).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let made: Value = resp.json().await.unwrap();
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!((&made["kind"], &made["team"], &made["period"]), (&json!("team"), &json!(team), &json!("last_week")));
    assert_eq!(made["created_by"], json!("admin@acme"));
    let audit =
        json!({"kind": "audit", "cron": "0 6 1 * *", "period": "last_month", "recipients": ["ciso@client.test"]});
    let resp = app.post("/api/v1/reports/schedules", &admin, &audit).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let all = get(&app, &admin, "/api/v1/reports/schedules").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["id"], json!(id), "oldest first");
    assert_eq!(get(&app, &admin, &format!("/api/v1/reports/schedules/{id}")).await, made);

    let resp = app.delete(&format!("/api/v1/reports/schedules/{id}"), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    for path in [format!("/api/v1/reports/schedules/{id}"), "/api/v1/reports/schedules/nope".to_owned()] {
        assert_eq!(app.get(&path, &admin).send().await.unwrap().status(), 404, "{path}");
        assert_eq!(app.delete(&path, &admin).send().await.unwrap().status(), 404, "{path}");
    }
    let trail = get(&app, &admin, &format!("/api/v1/audit?resource_type=report_schedule&resource_id={id}")).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(
        actions.contains(&"report_schedule.created") && actions.contains(&"report_schedule.deleted"),
        "{actions:?}"
    );
    let denied = get(&app, &admin, "/api/v1/audit?action=access.denied").await;
    assert!(denied["items"].as_array().unwrap().iter().any(|e| e["details"].to_string().contains("report_schedule")));
}
backend_test!(report_schedules_are_checked_listed_deleted_and_for_admins);

async fn admins_add_and_delete_report_schedules_on_the_reports_page(backend: Backend) {
    use cairn_testkit::rp::PASSWORD;
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let resp = app.post("/api/v1/metrics/teams", &admin, &json!({"name": "Platform"})).send().await.unwrap();
    let team = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    app.create_user(&acme, "ada@acme.test", PASSWORD, &[Role::Admin]).await;
    app.create_user(&acme, "mia@acme.test", PASSWORD, &[Role::Member]).await;
    let ada = app.sign_in(&acme, "ada@acme.test", PASSWORD).await;
    let mia = app.sign_in(&acme, "mia@acme.test", PASSWORD).await;
    let page = mia.get("/app/reports").await;
    assert!(!page.body.contains("Add a schedule"), "schedules are for admins");
    let csrf = page.input("csrf").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("subject", "audit"),
        ("cron", "0 7 * * MON"),
        ("period", "last_week"),
        ("recipients", "a@b.test"),
    ];
    assert_eq!(mia.post_form("/app/reports/schedules", &form).await.status, 403);

    let page = ada.get("/app/reports").await;
    assert!(page.body.contains("Add a schedule") && page.body.contains("value=\"0 7 * * MON\""));
    let csrf = page.input("csrf").unwrap();
    // A mistake is shown beside its field, the form kept, nothing stored.
    let bad = [
        ("csrf", csrf.as_str()),
        ("subject", &team),
        ("cron", "0 7 * *"),
        ("period", "last_week"),
        ("recipients", "cto@client.test, lead@client.test"),
    ];
    let refused = ada.post_form("/app/reports/schedules", &bad).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("id=\"s-cron-error\"") && refused.body.contains("cto@client.test, lead@client.test"),
        "{}",
        refused.body
    );
    let bad = [
        ("csrf", csrf.as_str()),
        ("subject", &team),
        ("cron", "0 7 * * MON"),
        ("period", "last_week"),
        ("recipients", "cto@client.test\nnope"),
    ];
    let refused = ada.post_form("/app/reports/schedules", &bad).await;
    assert!(refused.body.contains("id=\"s-recipients-error\""), "{}", refused.body);
    assert_eq!(get(&app, &admin, "/api/v1/reports/schedules").await, json!([]));

    let good = [
        ("csrf", csrf.as_str()),
        ("subject", &team),
        ("cron", "0 7 * * MON"),
        ("period", "last_month"),
        ("recipients", "cto@client.test\nlead@client.test"),
    ];
    let done = ada.post_form("/app/reports/schedules", &good).await;
    assert!(done.location.as_deref().unwrap().ends_with("/app/reports?done=scheduled"));
    let all = get(&app, &admin, "/api/v1/reports/schedules").await;
    assert_eq!(all[0]["recipients"], json!(["cto@client.test", "lead@client.test"]));
    assert_eq!(all[0]["period"], json!("last_month"));
    let id = all[0]["id"].as_str().unwrap();
    let page = ada.get("/app/reports?done=scheduled").await;
    assert!(page.body.contains("Schedule added") && page.body.contains("Team report: Platform"));
    assert!(page.body.contains("cto@client.test, lead@client.test") && page.body.contains("the month before"));

    let confirm = ada.get(&format!("/app/reports/schedules/{id}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete the schedule"));
    let gone = ada.post_form(&format!("/app/reports/schedules/{id}/delete"), &[("csrf", &csrf)]).await;
    assert!(gone.location.as_deref().unwrap().ends_with("/app/reports?done=unscheduled"));
    assert_eq!(get(&app, &admin, "/api/v1/reports/schedules").await, json!([]));
    assert_eq!(ada.get(&format!("/app/reports/schedules/{id}/delete")).await.status, 404);

    // An instances report (no account yet: an empty report) from its own form; a bad window
    // is refused beside that form.
    let bad = ada.post_form("/app/reports/instances", &[("csrf", &csrf), ("from", TO), ("to", FROM)]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"i-to-error\"") && !bad.body.contains("id=\"a-to-error\""), "{}", bad.body);
    let asked = ada.post_form("/app/reports/instances", &[("csrf", &csrf), ("from", FROM), ("to", TO)]).await;
    assert!(asked.location.as_deref().unwrap().ends_with("/app/reports?done=requested"));
    assert_eq!(
        mia.post_form("/app/reports/instances", &[("csrf", &csrf), ("from", FROM), ("to", TO)]).await.status,
        403
    );
    let listed = get(&app, &admin, "/api/v1/reports").await;
    assert_eq!(listed["items"][0]["kind"], json!("instances"));

    // The settings: refused beside the field, then saved.
    let bad = ada.post_form("/app/reports/settings", &[("csrf", &csrf), ("keep_days", "0"), ("link_days", "7")]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"k-keep-error\"") && bad.body.contains("value=\"0\""), "{}", bad.body);
    let saved =
        ada.post_form("/app/reports/settings", &[("csrf", &csrf), ("keep_days", "90"), ("link_days", "3")]).await;
    assert!(saved.location.as_deref().unwrap().ends_with("/app/reports?done=settings"));
    assert_eq!(get(&app, &admin, "/api/v1/reports/settings").await, json!({"keep_days": 90, "link_days": 3}));
    assert!(mia.get("/app/reports").await.body.contains("kept 90 days. A download link lasts 3 days"));
    assert_eq!(mia.post_form("/app/reports/settings", &[("csrf", &csrf), ("keep_days", "9")]).await.status, 403);
}
backend_test!(admins_add_and_delete_report_schedules_on_the_reports_page);

/// An object's tags as boto3 (installed with moto) reads them: `[{"Key", "Value"}]`.
fn s3_tags(moto: &cairn_testkit::moto::MotoServer, bucket: &str, key: &str) -> Value {
    const READ: &str = "import boto3, json, sys\n\
        s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
            aws_access_key_id='test', aws_secret_access_key='test')\n\
        print(json.dumps(s3.get_object_tagging(Bucket=sys.argv[2], Key=sys.argv[3])['TagSet']))";
    let out = Command::new("python3").args(["-c", READ, &moto.url(), bucket, key]).output().unwrap();
    assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn reports_kept_in_s3_are_tagged_presigned_and_removed(backend: Backend) {
    use cairn_reports::objects::{Location, Objects, S3Location};
    use cairn_testkit::moto::{ACCESS_KEY, MotoServer, SECRET_KEY};
    let moto = MotoServer::start();
    let http = reqwest::Client::new();
    // The bucket (moto takes an unsigned request).
    let made = http.put(format!("{}/acme-reports", moto.url())).send().await.unwrap();
    assert!(made.status().is_success(), "{}", made.text().await.unwrap());
    let location = Location::S3(S3Location {
        bucket: "acme-reports".into(),
        prefix: "cairn/test".into(),
        endpoint: Some(moto.url().parse().unwrap()),
        region: Some("eu-central-1".into()),
        keys: Some((ACCESS_KEY.into(), SECRET_KEY.into())),
    });
    let app = TestApp::spawn_with(backend, |c| c.object_store = location.clone()).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let resp = app.post("/api/v1/reports", &admin, &json!({"kind": "audit", "from": FROM, "to": TO})).send().await;
        ids.push(resp.unwrap().json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    let ready = settled(&app, &admin, &ids[0]).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let object = format!("{}/acme-reports/cairn/test/reports/{}/{}.pdf", moto.url(), acme.id, ids[0]);

    // The link is presigned: the bucket's URL with a SigV4 signature, no Cairn in between.
    let url = ready["download_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{object}?")), "{url}");
    assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires="), "{url}");
    let pdf = http.get(url).send().await.unwrap();
    assert_eq!(pdf.status(), 200);
    let pdf = pdf.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(pdf.len() as i64, ready["size"].as_i64().unwrap());
    assert!(!app.config.data_dir.join("objects").exists(), "nothing is kept in the data dir");

    // Tagged with the day it expires, for a lifecycle rule (read with boto3, moto's own client).
    let key = |id: &str| format!("cairn/test/reports/{}/{id}.pdf", acme.id);
    let expires_day = &ready["expires_at"].as_str().unwrap()[..10];
    assert_eq!(s3_tags(&moto, "acme-reports", &key(&ids[0])), json!([{"Key": "cairn-expires", "Value": expires_day}]));

    // Deleted: the object goes too.
    let objects = Objects::open(&location).unwrap();
    let stored = |id: &str| Objects::key(&acme.id.to_string(), id);
    assert!(objects.get(&stored(&ids[0])).await.unwrap().is_some());
    let resp = app.delete(&format!("/api/v1/reports/{}", ids[0]), &admin).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(objects.get(&stored(&ids[0])).await.unwrap(), None);

    // Expired: the cleanup removes the row and the object.
    assert_eq!(settled(&app, &admin, &ids[1]).await["status"], "ready");
    assert!(objects.get(&stored(&ids[1])).await.unwrap().is_some());
    let (_, db) = app.tenant(&acme).await;
    let sql = "UPDATE reports SET expires_at = $1 WHERE id = $2";
    cairn_store::sqlx::query(sql).bind(cairn_domain::now_ms() - 1).bind(&ids[1]).execute(db.writer()).await.unwrap();
    assert_eq!(cairn_reports::objects::remove_expired(&db, &objects, cairn_domain::now_ms()).await.unwrap(), 1);
    assert_eq!(objects.get(&stored(&ids[1])).await.unwrap(), None);
    assert_eq!(get(&app, &admin, "/api/v1/reports").await["items"], json!([]));
}
backend_test!(reports_kept_in_s3_are_tagged_presigned_and_removed);

async fn report_settings_set_how_long_reports_are_kept_and_links_last(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let member = app.token(&acme, Role::Member);
    assert_eq!(get(&app, &admin, "/api/v1/reports/settings").await, json!({"keep_days": 30, "link_days": 7}));
    assert_eq!(app.get("/api/v1/reports/settings", &member).send().await.unwrap().status(), 403);
    let put =
        |token: &str, body: Value| app.client.put(app.url("/api/v1/reports/settings")).bearer_auth(token).json(&body);
    assert_eq!(put(&member, json!({"keep_days": 3, "link_days": 2})).send().await.unwrap().status(), 403);
    for (body, field) in [
        (json!({"keep_days": 0, "link_days": 2}), "keep_days"),
        (json!({"keep_days": 400, "link_days": 2}), "keep_days"),
        (json!({"keep_days": 3, "link_days": 8}), "link_days"),
    ] {
        let resp = put(&admin, body.clone()).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{body}");
        assert_eq!(resp.json::<Value>().await.unwrap()["error"]["field"], json!(field));
    }
    let resp = put(&admin, json!({"keep_days": 3, "link_days": 2})).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get(&app, &admin, "/api/v1/reports/settings").await, json!({"keep_days": 3, "link_days": 2}));

    // A report rendered now is kept 3 days, and its link lasts 2.
    let resp = app.post("/api/v1/reports", &admin, &json!({"kind": "audit", "from": FROM, "to": TO})).send().await;
    let id = resp.unwrap().json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let ready = settled(&app, &admin, &id).await;
    let ms = |field: &str| ready[field].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond();
    assert_eq!(ms("expires_at") - ms("finished_at"), 3 * 86_400_000);
    let link_days = (ms("download_expires_at") - cairn_domain::now_ms()) as f64 / 86_400_000.0;
    assert!((1.99..=2.0).contains(&link_days), "{link_days}");
    // Once a link would outlast the report, the report's expiry wins.
    put(&admin, json!({"keep_days": 1, "link_days": 7})).send().await.unwrap();
    let resp = app.post("/api/v1/reports", &admin, &json!({"kind": "audit", "from": FROM, "to": TO})).send().await;
    let id = resp.unwrap().json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let ready = settled(&app, &admin, &id).await;
    assert_eq!(ready["download_expires_at"], ready["expires_at"]);

    let trail = get(&app, &admin, "/api/v1/audit?action=report_settings.updated").await;
    let changes: Vec<&Value> = trail["items"].as_array().unwrap().iter().map(|e| &e["details"]["changed"]).collect();
    assert_eq!(changes, [&json!({"keep_days": 1, "link_days": 7}), &json!({"keep_days": 3, "link_days": 2})]);
}
backend_test!(report_settings_set_how_long_reports_are_kept_and_links_last);

async fn an_instances_report_lists_every_instance_with_its_state_and_average_cpu(backend: Backend) {
    use cairn_testkit::moto::{ACCESS_KEY, MotoServer, SECRET_KEY};
    let moto = MotoServer::start();
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let member = app.token(&acme, Role::Member);
    let ids = moto.run_instances(ACCESS_KEY, "eu-west-1", 2, "web", &[]).await;
    let account = json!({
        "name": "prod", "regions": ["eu-west-1"], "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
        "endpoint_url": moto.url(),
    });
    let resp = app.post("/api/v1/instances/accounts", &admin, &account).send().await.unwrap();
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    // The last week, in the tenant's zone (its day starts within two hours of UTC's); three
    // samples yesterday evening for one instance, none for the other.
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let from = today.checked_sub(jiff::Span::new().days(7)).unwrap();
    let midnight = jiff::tz::TimeZone::UTC.to_timestamp(today.to_datetime(jiff::civil::Time::midnight())).unwrap();
    let at = |hours_before: i64| midnight.as_millisecond() - hours_before * 3_600_000;
    moto.put_metric(ACCESS_KEY, "eu-west-1", &ids[0], "CPUUtilization", &[(at(5), 10.0), (at(4), 20.0), (at(3), 90.0)])
        .await;

    let body = json!({"kind": "instances", "from": from.to_string(), "to": today.to_string()});
    assert_eq!(app.post("/api/v1/reports", &member, &body).send().await.unwrap().status(), 403, "for admins");
    let with_team = json!({"kind": "instances", "team": ids[0], "from": from.to_string(), "to": today.to_string()});
    assert_eq!(app.post("/api/v1/reports", &admin, &with_team).send().await.unwrap().status(), 400);
    let resp = app.post("/api/v1/reports", &admin, &body).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let id = resp.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let ready = settled(&app, &admin, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(app.get(&format!("/api/v1/reports/{id}"), &member).send().await.unwrap().status(), 404);

    let pdf = reqwest::get(ready["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instances.pdf");
    std::fs::write(&file, &pdf).unwrap();
    well_formed(&file);
    assert_eq!(info(&file, "Title"), "Instances report \u{2014} prod");
    let read = poppler("pdftotext", &["-raw"], &file);
    assert!(read.contains("Account prod"), "{read}");
    // Each instance's row: its name and id, region, type, state and average CPU (120 / 3).
    let row = |id: &str| read.lines().find(|l| l.contains(id)).unwrap_or_else(|| panic!("{id} in {read}")).to_owned();
    assert!(row(&ids[0]).contains("eu-west-1") && row(&ids[0]).contains("running"), "{}", row(&ids[0]));
    assert!(row(&ids[0]).ends_with("40 %"), "{}", row(&ids[0]));
    assert!(row(&ids[1]).ends_with("no samples"), "{}", row(&ids[1]));
    assert!(read.contains("Instances\n2"), "{read}");

    // The same from the command line.
    let out_file = dir.path().join("cli.pdf");
    let (from, to) = (from.to_string(), today.to_string());
    let args = ["report", "run", "--tenant", "acme", "--kind", "instances", "--from", &from, "--to", &to, "--out"];
    let out = cairn(&app, &[&args[..], &[out_file.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", text(&out).1);
    let read = poppler("pdftotext", &["-raw"], &out_file);
    assert!(read.lines().any(|l| l.contains(&ids[0]) && l.ends_with("40 %")), "{read}");
    let out = cairn(&app, &["report", "run", "--tenant", "acme", "--kind", "instances", "--team", "x", "--out", "y"]);
    assert_eq!(out.status.code(), Some(2), "a team is only for a team report");
}
backend_test!(an_instances_report_lists_every_instance_with_its_state_and_average_cpu);

async fn a_report_whose_worker_died_is_rendered_by_another_once_its_lease_ends(backend: Backend) {
    use cairn_reports::jobs::Finished;
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let (_, db) = app.tenant(&acme).await;
    let jobs = Jobs { db: &db };
    // A worker elsewhere claims the report first, then dies without a word.
    let request = JobRequest {
        kind: Kind::Audit,
        team_id: None,
        from: Day::parse(FROM, "from").unwrap(),
        to: Day::parse(TO, "to").unwrap(),
    };
    let actor = cairn_audit::Actor { id: "test".into(), email: None };
    // (Should this server's worker claim a request first, another request is made.)
    let mut held = None;
    for _ in 0..10 {
        let queued = jobs.request(&request, &actor, &Default::default()).await.unwrap();
        if let Some(h) = jobs.claim("elsewhere:1").await.unwrap().filter(|h| h.id == queued.id) {
            held = Some(h);
            break;
        }
    }
    let held = held.expect("the other worker claims a report");
    assert_eq!(held.attempts, 1);
    // While its lease runs, this server's worker leaves the report alone.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let body = get(&app, &admin, &format!("/api/v1/reports/{}", held.id)).await;
    assert_eq!((&body["status"], &body["attempts"]), (&json!("running"), &json!(1)));
    // The lease ends (as five minutes would end it): this server's worker renders it.
    let sql = "UPDATE reports SET next_at = $1 WHERE id = $2";
    cairn_store::sqlx::query(sql).bind(cairn_domain::now_ms() - 1).bind(&held.id).execute(db.writer()).await.unwrap();
    let ready = settled(&app, &admin, &held.id).await;
    assert_eq!((&ready["status"], &ready["attempts"]), (&json!("ready"), &json!(2)), "{ready}");
    // The dead worker, back, cannot mark it: its lease is gone.
    let late = Finished { key: "reports/x.pdf", size: 1, pages: 1, keep_days: 1 };
    assert!(!jobs.finish(acme.id, &held, late).await.unwrap());
    assert_eq!(get(&app, &admin, &format!("/api/v1/reports/{}", held.id)).await["size"], ready["size"]);
}
backend_test!(a_report_whose_worker_died_is_rendered_by_another_once_its_lease_ends);
