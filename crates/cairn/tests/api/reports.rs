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
