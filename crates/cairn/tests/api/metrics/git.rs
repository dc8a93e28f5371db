//! The git collector on a real repository the test makes (with the `git` program, which
//! Cairn itself never runs): merges, renames, a force-push; a source checked before it is
//! stored.

use std::path::Path;
use std::process::Command;

use cairn_domain::Role;
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn git(dir: &Path, args: &[&str], at: i64) -> String {
    let date = format!("@{at} +0100");
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Alice Novak")
        .env("GIT_AUTHOR_EMAIL", "Alice@Acme.test")
        .env("GIT_COMMITTER_NAME", "Alice Novak")
        .env("GIT_COMMITTER_EMAIL", "alice@acme.test")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn write(dir: &Path, file: &str, lines: usize, tag: &str) {
    let text: String = (0..lines).map(|i| format!("{tag} line {i}\n")).collect();
    std::fs::write(dir.join(file), text).unwrap();
}

/// main: two commits, a feature branch that renames and edits a file merged with a merge
/// commit, and one more commit; all within the last two weeks.
fn repository(dir: &Path) -> i64 {
    let now = cairn_domain::now_ms() / 1000;
    let t = |days_ago: i64| now - days_ago * DAY;
    git(dir, &["init", "-q", "-b", "main"], t(14));
    write(dir, "lib.rs", 40, "a");
    git(dir, &["add", "."], t(14));
    git(dir, &["commit", "-q", "-m", "first"], t(14));
    write(dir, "README.md", 5, "r");
    git(dir, &["add", "."], t(12));
    git(dir, &["commit", "-q", "-m", "readme"], t(12));
    git(dir, &["checkout", "-q", "-b", "feature"], t(11));
    git(dir, &["mv", "lib.rs", "core.rs"], t(11));
    let mut text = std::fs::read_to_string(dir.join("core.rs")).unwrap();
    text.push_str("added 1\nadded 2\n");
    std::fs::write(dir.join("core.rs"), text).unwrap();
    git(dir, &["add", "-A"], t(11));
    git(dir, &["commit", "-q", "-m", "rename and edit"], t(11));
    git(dir, &["checkout", "-q", "main"], t(10));
    git(dir, &["merge", "-q", "--no-ff", "-m", "merge feature", "feature"], t(10));
    write(dir, "notes.txt", 3, "n");
    git(dir, &["add", "."], t(9));
    git(dir, &["commit", "-q", "-m", "notes"], t(9));
    git(dir, &["rev-list", "--count", "main"], t(9)).parse().unwrap()
}

async fn refusal(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body["error"]["field"].as_str().unwrap_or_default().to_owned())
}

async fn run(app: &TestApp, admin: &str, source: &str) -> Value {
    let resp = app.post(&format!("/api/v1/metrics/sources/{source}/runs"), admin, &json!({})).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let run: Value = resp.json().await.unwrap();
    let path = format!("/api/v1/metrics/runs/{}", run["id"].as_str().unwrap());
    let done = cairn_testkit::eventually("the run to end", std::time::Duration::from_secs(60), || async {
        let r: Value = app.get(&path, admin).send().await.ok()?.json().await.ok()?;
        (r["status"] == "succeeded" || r["status"] == "failed").then_some(r)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    done
}

async fn rows(app: &TestApp, acme: &cairn_testkit::TestTenant) -> Vec<(String, i64, i64, i64, i64, Option<String>)> {
    let (_, db) = app.tenant(acme).await;
    cairn_store::sqlx::query_as(
        "SELECT sha, parent_count, additions, deletions, changed_files, author_email FROM metrics_commits ORDER BY authored_at",
    )
    .fetch_all(db.reader())
    .await
    .unwrap()
}

async fn a_local_repository_is_read_with_its_merges_and_renames(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let repo = tempfile::tempdir().unwrap();
    let total = repository(repo.path());
    let path = repo.path().display().to_string();

    let add = |body: Value| app.post("/api/v1/metrics/sources", &admin, &body).send();
    let nowhere = add(json!({"kind": "git", "name": "mono", "url": format!("{path}/nope")})).await.unwrap();
    assert_eq!(refusal(nowhere).await, (400, "url".into()));
    let relative = add(json!({"kind": "git", "name": "mono", "url": "repos/mono"})).await.unwrap();
    assert_eq!(refusal(relative).await, (400, "url".into()));
    let no_branch = add(json!({"kind": "git", "name": "mono", "url": path, "branch": "nope"})).await.unwrap();
    assert_eq!(refusal(no_branch).await, (400, "branch".into()));
    let with_token = add(json!({"kind": "git", "name": "mono", "url": path, "token": "x"})).await.unwrap();
    assert_eq!(refusal(with_token).await, (400, "token".into()));
    let created = add(json!({"kind": "git", "name": "mono", "url": path})).await.unwrap();
    assert_eq!(created.status(), 201);
    let source: Value = created.json().await.unwrap();
    let id = source["id"].as_str().unwrap();

    let first = run(&app, &admin, id).await;
    assert_eq!(first["counts"]["commits"]["new"], total);
    let stored = rows(&app, &acme).await;
    assert_eq!(stored.len() as i64, total);
    let merges: Vec<_> = stored.iter().filter(|r| r.1 == 2).collect();
    assert_eq!(merges.len(), 1, "one merge, kept with its parents and no line counts");
    assert_eq!((merges[0].2, merges[0].3), (0, 0));
    // The rename with an edit: one changed file, the two added lines (as git counts it).
    let renamed = git(repo.path(), &["rev-parse", "feature"], 0);
    let row = stored.iter().find(|r| r.0 == renamed).unwrap();
    let numstat = git(repo.path(), &["show", "--numstat", "-M", "--format=", &renamed], 0);
    assert!(numstat.starts_with("2\t0\t"), "{numstat}");
    assert_eq!((row.2, row.3, row.4), (2, 0, 1));
    assert_eq!(row.5.as_deref(), Some("alice@acme.test"), "emails are stored in lower case");

    let again = run(&app, &admin, id).await;
    let changed: u64 = again["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["new"].as_u64().unwrap() + c["changed"].as_u64().unwrap() + c["removed"].as_u64().unwrap())
        .sum();
    assert_eq!(changed, 0, "{again}");

    // main loses its newest commit (a force-push): the next run removes it.
    git(repo.path(), &["reset", "-q", "--hard", "HEAD~1"], 0);
    let pushed = run(&app, &admin, id).await;
    assert_eq!(pushed["counts"]["commits"]["removed"], 1, "{pushed}");
    assert_eq!(rows(&app, &acme).await.len() as i64, total - 1);
}
backend_test!(a_local_repository_is_read_with_its_merges_and_renames);
