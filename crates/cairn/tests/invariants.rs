//! Boundaries ARCHITECTURE.md states, checked over the sources (every crate's `src/`, read
//! from the directory, so a new file or crate is covered without being listed here).

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().expect("crates/")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

/// `(crate name, source file)` for every crate but `skip`.
fn sources(skip: &[&str]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if skip.contains(&name.as_str()) || !dir.join("src").is_dir() {
            continue;
        }
        out.extend(rust_files(&dir.join("src")).into_iter().map(|f| (name.clone(), f)));
    }
    assert!(out.len() > 50, "the scan found only {} files: is it looking in the right place?", out.len());
    out
}

/// Lines of `files` containing any of `needles`, as `path:line: text`.
fn offending(files: &[(String, PathBuf)], needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (_, file) in files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|needle| code.contains(needle)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_the_binary_reads_the_environment() {
    // The binary's configuration (`cairn/src/config.rs`) is the one place settings come
    // from; a library reading a variable would be a setting `cairn config show` cannot see.
    // The test kit reads the test harness's variables.
    let libraries = sources(&["cairn", "cairn-testkit"]);
    let found = offending(&libraries, &["env::var", "env::vars", "var_os(", "env::args"]);
    assert!(found.is_empty(), "environment read outside the binary:\n{}", found.join("\n"));
}

#[test]
fn sql_lives_only_in_store_modules() {
    // Services say what happens; the SQL of a crate's tables is in its `store.rs` (or under
    // `store/`), and `cairn-store` owns connections, migrations and the tenant directory.
    let files: Vec<_> = sources(&["cairn-store", "cairn-testkit"])
        .into_iter()
        .filter(|(_, f)| {
            f.file_name().is_none_or(|n| n != "store.rs") && !f.components().any(|c| c.as_os_str() == "store")
        })
        .collect();
    let found = offending(
        &files,
        &["sqlx::query", "query_scalar(", "query_as(", "fetch_one(", "fetch_all(", "fetch_optional(", ".execute(\""],
    );
    assert!(found.is_empty(), "SQL outside a store module:\n{}", found.join("\n"));
}

#[test]
fn the_scans_see_what_they_look_for() {
    // The needles match the forms the sources use, so the two tests above can fail.
    let store = crates_dir().join("cairn-events/src/store.rs");
    let files = vec![("cairn-events".to_owned(), store)];
    assert!(!offending(&files, &["sqlx::query"]).is_empty());
    let config = vec![("cairn".to_owned(), crates_dir().join("cairn/src/config.rs"))];
    assert!(!offending(&config, &["env::var"]).is_empty());
}

#[test]
fn no_page_handler_checks_a_role_or_a_csrf_token_itself() {
    // The web UI's handlers take `Page<R>` and `CsrfForm<T>` (ui/guard.rs), which check the
    // role (auditing a denial) and the form's token; nothing else in ui/ compares either,
    // or reads a form past the check.
    let ui = crates_dir().join("cairn-web/src/ui");
    let files: Vec<_> = rust_files(&ui)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "guard.rs"))
        .map(|f| ("cairn-web".to_owned(), f))
        .collect();
    assert!(files.len() >= 8, "the scan found only {} files in {}", files.len(), ui.display());
    let found = offending(&files, &["csrf_ok(", "has_role(", ": Form<", "RawForm", "csrf_form_ok("]);
    assert!(found.is_empty(), "a role or CSRF check outside ui/guard.rs:\n{}", found.join("\n"));
}

#[test]
fn the_web_ui_takes_nothing_from_the_api_modules() {
    // What the pages share with the API (the live events stream, the audit filters) lives
    // in modules both use (`stream.rs`, `query.rs`), so the API's handlers can change
    // without reaching into the pages, and the other way round.
    let ui = crates_dir().join("cairn-web/src/ui");
    let files: Vec<_> = rust_files(&ui).into_iter().map(|f| ("cairn-web".to_owned(), f)).collect();
    assert!(files.len() >= 8, "the scan found only {} files in {}", files.len(), ui.display());
    let needles = ["crate::api", "super::api", "{api", " api::"];
    let found = offending(&files, &needles);
    assert!(found.is_empty(), "the web UI names the API modules:\n{}", found.join("\n"));
    // The needles match the form the crate's other modules use, so the scan can fail.
    let metrics = vec![("cairn-web".to_owned(), crates_dir().join("cairn-web/src/metrics.rs"))];
    assert!(!offending(&metrics, &needles).is_empty(), "metrics.rs no longer names crate::api: pick another witness");
}

#[test]
fn mail_is_sent_only_by_outbox_consumers() {
    // Account mail and notices go through the event outbox (retried, listed when they fail);
    // a `Mailer::send` anywhere else would be a mail a crash or an outage can lose.
    let consumers = [
        Path::new("cairn-identity/src/mail.rs"),
        Path::new("cairn-records/src/notify.rs"),
        Path::new("cairn-reports/src/mail.rs"),
    ];
    let files: Vec<_> = sources(&["cairn-mail", "cairn-testkit"])
        .into_iter()
        .filter(|(_, f)| !consumers.iter().any(|c| f.ends_with(c)))
        .collect();
    let found = offending(&files, &["mailer.send(", ".send(&message)"]);
    assert!(found.is_empty(), "mail sent outside an outbox consumer:\n{}", found.join("\n"));
}

#[test]
fn api_routes_are_registered_only_through_the_openapi_router() {
    // Every `/api/v1` route goes through `OpenApiRouter` (`routes!`), so the OpenAPI document
    // and the router come from the same registrations: a bare `.route(` would serve what the
    // document does not describe. Every file under `api/`, read from the directory, so a new
    // module is covered without being listed here.
    let web = crates_dir().join("cairn-web/src");
    let mut files: Vec<_> = rust_files(&web.join("api")).into_iter().map(|f| ("cairn-web".to_owned(), f)).collect();
    files.push(("cairn-web".to_owned(), web.join("lib.rs")));
    let registering = files.iter().filter(|(_, f)| std::fs::read_to_string(f).unwrap().contains("routes!(")).count();
    assert!(registering >= 10, "only {registering} of {} files under api/ register routes", files.len());
    let found = offending(&files, &[".route("]);
    assert!(found.is_empty(), "a route registered outside the OpenAPI router:\n{}", found.join("\n"));
    // The needle matches the form a plain router uses, so the scan can fail.
    let metrics = vec![("cairn-web".to_owned(), web.join("metrics.rs"))];
    assert!(!offending(&metrics, &[".route("]).is_empty(), "metrics.rs no longer calls .route(: pick another witness");
}
