//! The `cairn` binary as a user runs it: commands, output, exit codes, signals.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cairn_testkit::{Backend, backend_test};
use serde_json::{Value, json};

/// A data directory (and, on PostgreSQL, a control database) that commands share.
struct Install {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

impl Install {
    fn new(backend: Backend) -> Install {
        let database_url = (backend == Backend::Postgres).then(|| {
            cairn_testkit::with_database(
                &cairn_testkit::postgres_url(),
                &format!("cairn_ctl_{}", uuid::Uuid::now_v7().simple()),
            )
        });
        Install { dir: tempfile::tempdir().unwrap(), database_url }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cairn"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CAIRN_DATA_DIR", self.dir.path())
            .env("CAIRN_LOG", "warn")
            .current_dir(self.dir.path());
        if let Some(url) = &self.database_url {
            c.env("CAIRN_DATABASE_URL", url);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().expect("cairn runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "cairn {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts `cairn serve` on a free port; returns the child and the URL it listens on.
    fn serve(&self, extra_env: &[(&str, &str)]) -> (Child, String) {
        self.serve_logging(extra_env, Stdio::null())
    }

    fn serve_logging(&self, extra_env: &[(&str, &str)], stderr: Stdio) -> (Child, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let listen = format!("127.0.0.1:{port}");
        let mut cmd = self.command(&["serve", "--listen", &listen]);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(stderr).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("serve prints its URL").unwrap();
        assert!(first.starts_with("Cairn is listening on "), "{first}");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        // The address it listens on (the printed URL is the public one, when one is set).
        (child, format!("http://{listen}"))
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not signalled")
}

/// Waits for `child` to exit; its exit code.
async fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let exited = cairn_testkit::eventually("the process to exit", within, || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await;
    exited.code().expect("exited normally")
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap().success();
    assert!(ok);
}

#[test]
fn every_command_has_help_and_completions_exist() {
    let install = Install::new(Backend::Sqlite);
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["tenant", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["tenant", "list", "--help"],
        vec!["tenant", "show", "--help"],
        vec!["tenant", "delete", "--help"],
        vec!["token", "--help"],
        vec!["token", "issue", "--help"],
        vec!["metrics", "--help"],
        vec!["metrics", "source", "add", "--help"],
        vec!["metrics", "run", "--help"],
        vec!["config", "--help"],
        vec!["config", "show", "--help"],
        vec!["completions", "--help"],
    ] {
        let out = install.run(&args);
        assert_eq!(code(&out), 0, "{args:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"), "{args:?}");
    }
    for shell in ["bash", "zsh", "fish"] {
        assert!(install.ok(&["completions", shell]).contains("cairn"));
    }
    assert!(!install.dir.path().join("control.db").exists(), "help touches no data");
}

#[test]
fn bad_usage_and_bad_config_exit_2_with_one_clear_line() {
    let install = Install::new(Backend::Sqlite);
    for (args, env, needle) in [
        (vec!["serve"], ("CAIRN_LISTEN", "nowhere"), "CAIRN_LISTEN"),
        (vec!["serve"], ("CAIRN_LOG_FORMAT", "xml"), "CAIRN_LOG_FORMAT"),
        (vec!["migrate"], ("CAIRN_DATABASE_URL", "mysql://h/db"), "CAIRN_DATABASE_URL"),
        (vec!["tenant", "list"], ("CAIRN_BODY_LIMIT", "lots"), "CAIRN_BODY_LIMIT"),
        (vec!["config", "show"], ("CAIRN_MASTER_KEY", "tooshort"), "CAIRN_MASTER_KEY"),
        (vec!["serve"], ("CAIRN_PUBLIC_URL", "localhost:8080"), "CAIRN_PUBLIC_URL"),
        (vec!["serve"], ("CAIRN_LOG", "cairn_web=loud"), "CAIRN_LOG"),
        (vec!["serve"], ("CAIRN_BOOTSTRAP_EMAIL", "admin"), "CAIRN_BOOTSTRAP_EMAIL"),
        (vec!["mail", "list"], ("CAIRN_MAIL_URL", "smtp://mail.example.com?tls=sometimes"), "CAIRN_MAIL_URL"),
        (vec!["serve"], ("CAIRN_MAIL_FROM", "Cairn <no-reply>"), "CAIRN_MAIL_FROM"),
        (vec!["migrate"], ("CAIRN_DB_ACQUIRE_TIMEOUT", "soon"), "CAIRN_DB_ACQUIRE_TIMEOUT"),
        (vec!["serve"], ("CAIRN_METRICS_LISTEN", "9464"), "CAIRN_METRICS_LISTEN"),
    ] {
        let out = install.command(&args).env(env.0, env.1).output().unwrap();
        assert_eq!(code(&out), 2, "{args:?} {env:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(needle), "{stderr}");
    }
    for args in [
        vec!["frobnicate"],
        vec!["tenant", "create"],
        vec!["tenant", "create", "Bad Slug"],
        vec!["tenant", "delete", "acme"],
        vec!["token", "issue", "--subject", "x"],
        vec!["token", "issue", "--operator", "--tenant", "a", "--subject", "x"],
        vec!["token", "issue", "--tenant", "acme", "--role", "king", "--subject", "x"],
        vec!["token", "issue", "--operator", "--subject", "x", "--ttl", "forever"],
        vec!["serve", "--role", "boss"],
    ] {
        assert_eq!(code(&install.run(&args)), 2, "{args:?}");
    }
    assert!(!install.dir.path().join("control.db").exists(), "bad usage touches no data");
    let file = install.dir.path().join("bad.toml");
    std::fs::write(&file, "listen = [1]\n").unwrap();
    let out = install.run(&["--config", file.to_str().unwrap(), "config", "show"]);
    assert_eq!(code(&out), 2);
}

async fn tenant_commands_manage_the_lifecycle(backend: Backend) {
    let install = Install::new(backend);
    let created: Value =
        serde_json::from_str(&install.ok(&["tenant", "create", "acme", "--name", "Acme Inc", "--json"])).unwrap();
    assert_eq!(created["slug"], "acme");
    assert_eq!(created["name"], "Acme Inc");
    let out = install.run(&["tenant", "create", "acme"]);
    assert_eq!(code(&out), 1, "duplicate slug");
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let listed: Value = serde_json::from_str(&install.ok(&["tenant", "list", "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(install.ok(&["tenant", "list"]).contains("acme"));
    let shown: Value = serde_json::from_str(&install.ok(&["tenant", "show", "acme", "--json"])).unwrap();
    assert_eq!(shown, created);
    assert!(install.ok(&["tenant", "show", "acme"]).contains("Acme Inc"));
    assert!(install.ok(&["tenant", "delete", "acme", "--yes"]).contains("deleted"));
    assert_eq!(code(&install.run(&["tenant", "show", "acme"])), 1);
    assert_eq!(code(&install.run(&["tenant", "delete", "acme", "--yes"])), 1);
    if backend == Backend::Sqlite {
        let files: Vec<_> = std::fs::read_dir(install.dir.path().join("tenants")).unwrap().collect();
        assert!(files.is_empty(), "tenant file removed");
    }
}
backend_test!(tenant_commands_manage_the_lifecycle);

async fn a_tenant_is_created_with_its_first_admin_and_listed_in_columns(backend: Backend) {
    let install = Install::new(backend);
    let out = install.run(&["tenant", "create", "acme"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cairn user create --tenant acme"),
        "says how to add an admin"
    );
    let bad = install.run(&["tenant", "create", "globex", "--admin-email", "not an email"]);
    assert_eq!(code(&bad), 2);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--admin-email"));
    assert!(install.ok(&["tenant", "list"]).lines().all(|l| !l.contains("globex")), "nothing was created");
    let long = "a-tenant-whose-slug-is-longer-than-the-old-column";
    let out = install.run(&["tenant", "create", long, "--admin-email", "ada@globex.test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invitation sent to ada@globex.test"));
    let users: Value = serde_json::from_str(&install.ok(&["user", "list", "--tenant", long, "--json"])).unwrap();
    assert_eq!(
        (users[0]["email"].as_str(), users[0]["roles"].clone()),
        (Some("ada@globex.test"), serde_json::json!(["admin"]))
    );
    assert!(install.ok(&["mail", "list"]).contains("ada@globex.test"));
    // Columns line up whatever the slugs' lengths.
    let list = install.ok(&["tenant", "list"]);
    let starts: Vec<usize> =
        list.lines().map(|l| l.find("  ").map(|i| i + l[i..].find(|c: char| c != ' ').unwrap()).unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] == w[1]), "{list}");
    // `token issue` says which issuer it signs for.
    let out = install.run(&["token", "issue", "--operator", "--subject", "ops"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("issuer: http://127.0.0.1:8080"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
backend_test!(a_tenant_is_created_with_its_first_admin_and_listed_in_columns);

async fn migrate_is_idempotent_and_repairs(backend: Backend) {
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    let first = install.ok(&["migrate"]);
    assert!(first.contains("1 tenant(s) migrated, 0 migration(s) applied, 0 repaired, 0 problem(s)"), "{first}");
    assert_eq!(install.ok(&["migrate"]), first);
    if backend == Backend::Sqlite {
        // A database file that no tenant names is reported, not deleted.
        let stray = install.dir.path().join("tenants").join(format!("{}.db", uuid::Uuid::now_v7()));
        std::fs::write(&stray, b"").unwrap();
        let out = install.run(&["migrate"]);
        assert_eq!(code(&out), 1);
        assert!(String::from_utf8_lossy(&out.stdout).contains("database file without a tenant"));
        assert!(stray.exists());
    }
}
backend_test!(migrate_is_idempotent_and_repairs);

async fn issued_tokens_work_against_the_server(backend: Backend) {
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    let log_path = install.dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (mut child, url) = install.serve_logging(&[("CAIRN_LOG", "info"), ("CAIRN_LOG_FORMAT", "json")], log.into());
    // The CLI signs as the server does when it sees the same public URL.
    let issue = |args: &[&str]| {
        let out = install.command(args).env("CAIRN_PUBLIC_URL", &url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let member =
        issue(&["token", "issue", "--tenant", "acme", "--role", "member", "--subject", "ci-bot", "--ttl", "10m"]);
    let operator = issue(&["token", "issue", "--operator", "--subject", "ops"]);
    let client = cairn_testkit::http_client().build().unwrap();
    let resp = client
        .post(format!("{url}/api/v1/numbers"))
        .bearer_auth(&member)
        .header("x-request-id", "req-cli-1")
        .json(&serde_json::json!({"value": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["created_by"], "ci-bot");
    let resp = client.get(format!("{url}/api/v1/tenants")).bearer_auth(&operator).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client.get(format!("{url}/api/v1/tenants")).bearer_auth(&member).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    signal(&child, "TERM");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)).await, 0);
    // The request logs one line with its id, method, route, status, latency, tenant and
    // subject as JSON values; any other line logged while serving it carries its id in its
    // span. No token leaks.
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = logs.lines().map(|l| serde_json::from_str(l).expect(l)).collect();
    let done: Vec<&Value> =
        lines.iter().filter(|l| l["message"] == "request completed" && l["request_id"] == "req-cli-1").collect();
    assert_eq!(done.len(), 1, "{logs}");
    let line = done[0];
    assert_eq!(
        (&line["method"], &line["route"], &line["status"]),
        (&json!("POST"), &json!("/api/v1/numbers"), &json!(201)),
        "{line}"
    );
    assert_eq!((&line["tenant"], &line["subject"]), (&json!("acme"), &json!("ci-bot")), "{line}");
    assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
    assert!(line.get("span").is_none(), "the completion line stands alone: {line}");
    let inner = lines.iter().filter(|l| l["span"]["request_id"] == "req-cli-1");
    assert!(inner.clone().all(|l| l["span"]["route"] == "/api/v1/numbers"), "{logs}");
    let denied =
        lines.iter().find(|l| l["message"] == "request completed" && l["status"] == 403).expect("the 403's line");
    assert_eq!((&denied["tenant"], &denied["subject"]), (&json!("acme"), &json!("ci-bot")), "{denied}");
    assert!(!logs.contains(&member) && !logs.contains(&operator), "a token was logged");
}
backend_test!(issued_tokens_work_against_the_server);

async fn sigterm_drains_in_flight_requests_and_exits_0(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    let (mut child, url) = install.serve(&[("CAIRN_SHUTDOWN_GRACE", "1s")]);
    let token = {
        let out = install
            .command(&["token", "issue", "--tenant", "acme", "--role", "member", "--subject", "t"])
            .env("CAIRN_PUBLIC_URL", &url)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let addr = url.trim_start_matches("http://").to_owned();
    let body = br#"{"value": 7}"#;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/numbers HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..4]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, "TERM");
    // While draining, readiness is false but the process still answers.
    let client = cairn_testkit::http_client().build().unwrap();
    cairn_testkit::eventually("readyz to turn 503", Duration::from_secs(5), || async {
        let status = client.get(format!("{url}/readyz")).send().await.unwrap().status();
        (status == 503).then_some(())
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "still draining");
    stream.write_all(&body[4..]).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)).await, 0);
}
backend_test!(sigterm_drains_in_flight_requests_and_exits_0);

async fn first_start_prints_credentials_once(backend: Backend) {
    let install = Install::new(backend);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let install = &install;
    let run_once = move || async move {
        let mut child = install
            .command(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut text = String::new();
        out.read_line(&mut text).unwrap();
        assert!(text.starts_with("Cairn is listening"), "{text}");
        // Whatever else start-up prints comes before the server runs; stop it and read the rest.
        signal(&child, "TERM");
        std::io::Read::read_to_string(&mut out, &mut text).unwrap();
        assert_eq!(wait_exit(&mut child, Duration::from_secs(30)).await, 0);
        text
    };
    let first = run_once().await;
    assert!(first.contains("First start: created organization 'default'"), "{first}");
    let field = |name: &str| {
        first.lines().find_map(|l| l.trim().strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
    };
    assert_eq!(field("sign in at:"), format!("http://127.0.0.1:{port}/t/default/"));
    assert_eq!(field("email:"), "admin@localhost");
    assert_eq!(field("temporary password:").len(), 23, "{first}");
    let second = run_once().await;
    assert!(!second.contains("First start"), "{second}");
    assert!(install.ok(&["tenant", "list"]).contains("default"));
}
backend_test!(first_start_prints_credentials_once);

#[test]
fn config_show_redacts_secrets_and_names_sources() {
    let install = Install::new(Backend::Sqlite);
    let out = install
        .command(&["config", "show", "--database-url", "postgres://cairn:hunter2@db.internal:5432/cairn"])
        .env("CAIRN_MASTER_KEY", "00".repeat(32))
        .env("CAIRN_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("hunter2") && !text.contains(&"00".repeat(32)), "{text}");
    assert!(text.contains("postgres://cairn:redacted@db.internal:5432/cairn"), "{text}");
    let line = |k: &str| text.lines().find(|l| l.starts_with(k)).unwrap().to_owned();
    assert!(line("log ").contains("from env"));
    assert!(line("database_url").contains("from flag"));
    assert!(line("listen").contains("from default"));
}

#[test]
fn sqlite_files_and_the_key_file_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let install = Install::new(Backend::Sqlite);
    install.ok(&["tenant", "create", "acme"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&install.dir.path().join("control.db")), 0o600);
    assert_eq!(mode(&install.dir.path().join("master.key")), 0o600);
    for f in std::fs::read_dir(install.dir.path().join("tenants")).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    // Sealed at rest: the key file opens the signing key; another key does not.
    install.ok(&["token", "issue", "--operator", "--subject", "x"]);
    let out = install
        .command(&["token", "issue", "--operator", "--subject", "x"])
        .env("CAIRN_MASTER_KEY", "11".repeat(32))
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn audit_commands_verify_checkpoint_and_export(backend: Backend) {
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    // The CLI's own actions land in the platform trail.
    let platform: Vec<Value> =
        install.ok(&["audit", "export", "--platform"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(platform.len(), 1);
    assert_eq!(platform[0]["action"], "tenant.created");
    assert!(platform[0]["actor"]["id"].as_str().unwrap().starts_with("cli:"));
    assert!(install.ok(&["audit", "verify", "--platform"]).starts_with("intact: 1 entries"));

    let (mut child, url) = install.serve(&[]);
    let out = install
        .command(&["token", "issue", "--tenant", "acme", "--role", "admin", "--subject", "t"])
        .env("CAIRN_PUBLIC_URL", &url)
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let client = cairn_testkit::http_client().build().unwrap();
    // The server and the CLI both append to the platform trail; neither forks it.
    let out = install
        .command(&["token", "issue", "--operator", "--subject", "ops"])
        .env("CAIRN_PUBLIC_URL", &url)
        .output()
        .unwrap();
    let operator = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let list = || client.get(format!("{url}/api/v1/tenants")).bearer_auth(&operator).send();
    assert_eq!(list().await.unwrap().status(), 200);
    install.ok(&["tenant", "create", "other"]);
    assert_eq!(list().await.unwrap().status(), 200);
    for v in 0..3 {
        let resp = client
            .post(format!("{url}/api/v1/numbers"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"value": v}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    signal(&child, "TERM");
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)).await, 0);

    // tenant.created acme, token.issued ×2, tenant.listed, tenant.created other, tenant.listed
    let platform = install.ok(&["audit", "verify", "--platform"]);
    assert!(platform.starts_with("intact: 6 entries"), "{platform}");
    let issued = install.ok(&["audit", "export", "--platform", "--action", "token.issued"]);
    assert_eq!(issued.lines().count(), 2, "{issued}");
    assert!(!issued.contains(&token) && !issued.contains(&operator), "a token was recorded");
    assert!(issued.contains(r#""subject":"ops""#), "{issued}");
    assert!(install.ok(&["audit", "checkpoint", "--tenant", "acme"]).contains("checkpoint recorded at entry 3"));
    assert!(install.ok(&["audit", "checkpoint", "--tenant", "acme"]).contains("nothing new"));
    let verified = install.ok(&["audit", "verify", "--tenant", "acme"]);
    assert!(verified.starts_with("intact: 3 entries (from 1 to 3), 1 checkpoint(s)"), "{verified}");
    let csv = install.ok(&["audit", "export", "--tenant", "acme", "--format", "csv", "--action", "number.*"]);
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert_eq!(code(&install.run(&["audit", "export", "--tenant", "acme", "--action", "Bad"])), 2);
    assert_eq!(code(&install.run(&["audit", "verify"])), 2);

    // Tamper with the tenant's database directly; verify names the entry and fails.
    let edit = "UPDATE audit_entries SET details = '{\"value\":1000}' WHERE seq = 2";
    let shown: Value = serde_json::from_str(&install.ok(&["tenant", "show", "acme", "--json"])).unwrap();
    let id = shown["id"].as_str().unwrap();
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", install.dir.path().join("tenants").join(format!("{id}.db")).display());
            let mut conn =
                <cairn_store::sqlx::SqliteConnection as cairn_store::sqlx::Connection>::connect(&url).await.unwrap();
            cairn_store::sqlx::query(edit).execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let db = format!("cairn_t_{}", id.replace('-', ""));
            let url = cairn_testkit::with_database(&cairn_testkit::postgres_url(), &db);
            let mut conn =
                <cairn_store::sqlx::PgConnection as cairn_store::sqlx::Connection>::connect(&url).await.unwrap();
            cairn_store::sqlx::query(edit).execute(&mut conn).await.unwrap();
        }
    }
    let out = install.run(&["audit", "verify", "--tenant", "acme"]);
    assert_eq!(code(&out), 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BROKEN at entry 2") && stdout.contains("altered"), "{stdout}");
}
backend_test!(audit_commands_verify_checkpoint_and_export);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_and_scheduler_roles_serve_only_probes() {
    let install = Install::new(Backend::Sqlite);
    for role in ["worker", "scheduler"] {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = install
            .command(&["serve", "--role", role, "--listen", &format!("127.0.0.1:{port}")])
            .env("CAIRN_METRICS_LISTEN", format!("127.0.0.1:{metrics_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let url = first.trim().strip_prefix("Cairn is listening on ").unwrap().to_owned();
        let status = |url: &str| {
            let out = Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url]).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let get = |path: &str| status(&format!("{url}{path}"));
        assert_eq!(get("/healthz"), "200", "{role}");
        assert_eq!(get("/readyz"), "200", "{role}");
        assert_eq!(get("/metrics"), "404", "{role}: no metrics on the main listener without a token");
        assert_eq!(status(&format!("http://127.0.0.1:{metrics_port}/metrics")), "200", "{role}");
        assert_eq!(get("/api/v1/numbers"), "404", "{role} serves no API");
        signal(&child, "TERM");
        assert_eq!(wait_exit(&mut child, Duration::from_secs(30)).await, 0);
    }
}

async fn users_clients_and_mail_from_the_command_line(backend: Backend) {
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    let created: Value = serde_json::from_str(&install.ok(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "ops@acme.test",
        "--role",
        "admin",
        "--given-name",
        "Oli",
        "--json",
    ]))
    .unwrap();
    assert_eq!(created["status"], "FORCE_CHANGE_PASSWORD");
    assert_eq!(created["roles"], serde_json::json!(["admin"]));
    let mail = install.ok(&["mail", "list"]);
    assert!(mail.contains("ops@acme.test") && mail.contains("Your acme account"), "{mail}");
    let dup = install.run(&["user", "create", "--tenant", "acme", "--email", "OPS@acme.test"]);
    assert_eq!(code(&dup), 2, "{}", String::from_utf8_lossy(&dup.stderr));
    let weak = install.run(&[
        "user",
        "set-password",
        "--tenant",
        "acme",
        "--email",
        "ops@acme.test",
        "--password",
        "password",
        "--permanent",
    ]);
    assert_eq!(code(&weak), 2);
    assert!(String::from_utf8_lossy(&weak.stderr).contains("--password"), "{}", String::from_utf8_lossy(&weak.stderr));
    install.ok(&[
        "user",
        "set-password",
        "--tenant",
        "acme",
        "--email",
        "ops@acme.test",
        "--password",
        "tidal marble orchard",
        "--permanent",
    ]);
    let users: Value = serde_json::from_str(&install.ok(&["user", "list", "--tenant", "acme", "--json"])).unwrap();
    assert_eq!(users[0]["status"], "ACTIVE");

    let public: Value = serde_json::from_str(&install.ok(&[
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "SPA",
        "--redirect-uri",
        "http://127.0.0.1:3000/cb",
        "--public",
        "--json",
    ]))
    .unwrap();
    assert!(public.get("client_secret").is_none());
    let conf: Value = serde_json::from_str(&install.ok(&[
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Portal",
        "--redirect-uri",
        "https://portal.example/cb",
        "--post-logout-uri",
        "https://portal.example/",
        "--json",
    ]))
    .unwrap();
    let id = conf["client_id"].as_str().unwrap();
    assert!(conf["client_secret"].as_str().unwrap().len() >= 43);
    let rotated: Value =
        serde_json::from_str(&install.ok(&["client", "rotate-secret", "--tenant", "acme", id, "--json"])).unwrap();
    assert_ne!(rotated["client_secret"], conf["client_secret"]);
    let insecure = install.run(&[
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "X",
        "--redirect-uri",
        "http://portal.example/cb",
    ]);
    assert_eq!(code(&insecure), 2);
    assert_eq!(code(&install.run(&["client", "delete", "--tenant", "acme", id])), 2, "needs --yes");
    install.ok(&["client", "delete", "--tenant", "acme", id, "--yes"]);
    let list = install.ok(&["client", "list", "--tenant", "acme"]);
    assert!(list.contains("SPA") && !list.contains("Portal"), "{list}");
    // Each change is in the tenant's trail, by the operating-system user.
    let trail = install.ok(&["audit", "export", "--tenant", "acme", "--action", "client.*"]);
    assert_eq!(trail.lines().count(), 4, "{trail}");
    let users_trail = install.ok(&["audit", "export", "--tenant", "acme", "--action", "user.*"]);
    assert!(users_trail.contains("\"user.created\"") && users_trail.contains("\"cli:"), "{users_trail}");
}
backend_test!(users_clients_and_mail_from_the_command_line);

async fn a_killed_worker_process_loses_no_event_and_dead_letters_are_handled_from_the_cli(backend: Backend) {
    use cairn_testkit::receiver::Receiver;
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    let public = "http://cairn.test";
    let env = [
        ("CAIRN_PUBLIC_URL", public),
        // A consumer gets half the lease: 3 s, during which the first process is killed.
        ("CAIRN_EVENTS_LEASE", "6s"),
        ("CAIRN_EVENTS_POLL_INTERVAL", "500ms"),
        ("CAIRN_EVENTS_RETRY_BASE", "100ms"),
        ("CAIRN_EVENTS_MAX_ATTEMPTS", "1"),
        // The receiver is plain http on loopback (the former name of the private setting).
        ("CAIRN_WEBHOOKS_ALLOW_PRIVATE", "true"),
        ("CAIRN_OUTBOUND_ALLOW_HTTP", "true"),
    ];
    let token = {
        let out = install
            .command(&["token", "issue", "--tenant", "acme", "--role", "admin", "--subject", "t"])
            .env("CAIRN_PUBLIC_URL", public)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let receiver = Receiver::start().await;
    receiver.set_delay(Duration::from_secs(60));
    let (mut first, url) = install.serve(&env);
    let client = cairn_testkit::http_client().build().unwrap();
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{url}{path}")).bearer_auth(&token).json(&body).send()
    };
    let hook = post("/api/v1/webhooks", serde_json::json!({"url": receiver.url, "events": ["records_created"]}))
        .await
        .unwrap();
    assert_eq!(hook.status(), 201);
    for i in 0..3 {
        assert_eq!(post("/api/v1/records", serde_json::json!({"title": format!("r{i}")})).await.unwrap().status(), 201);
    }
    cairn_testkit::eventually("three deliveries in flight", Duration::from_secs(20), || async {
        (receiver.started() == 3).then_some(())
    })
    .await;
    signal(&first, "KILL");
    first.wait().unwrap();
    assert!(receiver.answered().is_empty());

    // Another process takes the deliveries over once the dead one's leases end.
    receiver.set_delay(Duration::ZERO);
    let (mut second, url) = install.serve(&env);
    let got = receiver.wait_for(3, Duration::from_secs(30)).await;
    assert!(got.iter().all(|r| r.status == 200));
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every event, each once");
    assert!(install.ok(&["events", "dead", "list", "--tenant", "acme"]).contains("no dead letters"));

    // One attempt only: a failure is a dead letter at once, for the CLI to list and replay.
    receiver.set_default(500);
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{url}{path}")).bearer_auth(&token).json(&body).send()
    };
    assert_eq!(post("/api/v1/records", serde_json::json!({"title": "fails"})).await.unwrap().status(), 201);
    let dead = cairn_testkit::eventually("a dead letter", Duration::from_secs(20), || async {
        let listed: Value =
            serde_json::from_str(&install.ok(&["events", "dead", "list", "--tenant", "acme", "--json"])).unwrap();
        (listed.as_array().unwrap().len() == 1).then_some(listed[0].clone())
    })
    .await;
    assert_eq!(dead["last_error"], "the receiver answered 500");
    let usage = install.run(&["events", "dead", "replay", "--tenant", "acme"]);
    assert_eq!(code(&usage), 2);
    assert_eq!(code(&install.run(&["events", "dead", "replay", "--tenant", "acme", "no-such-id"])), 2);
    receiver.set_default(200);
    let replayed = install.ok(&["events", "dead", "replay", "--tenant", "acme", dead["id"].as_str().unwrap()]);
    assert!(replayed.contains("1 queued again"), "{replayed}");
    let got = receiver.wait_for(4 + 1, Duration::from_secs(30)).await;
    assert_eq!(got.last().unwrap().status, 200);
    assert!(install.ok(&["events", "dead", "discard", "--tenant", "acme", "--all"]).contains("0 discarded"));
    signal(&second, "TERM");
    assert_eq!(wait_exit(&mut second, Duration::from_secs(30)).await, 0);
}
backend_test!(a_killed_worker_process_loses_no_event_and_dead_letters_are_handled_from_the_cli);

async fn metrics_sources_and_runs_from_the_command_line(backend: Backend) {
    use cairn_testkit::fixtures::{GitHubServer, GitHubWorld, NewCommit};
    let install = Install::new(backend);
    install.ok(&["tenant", "create", "acme"]);
    let mut world = GitHubWorld::new("ghp_cli");
    world.user("alice", "Alice", "alice@acme.test");
    world.repository("acme/api", "main");
    world.commit(
        "acme/api",
        NewCommit::on("main").by("alice").at_ms(cairn_domain::now_ms() - 86_400_000).lines(3, 1, 1),
    );
    let gh = GitHubServer::start(world).await;
    let with = |args: &[&str], token: Option<&str>| {
        let mut c = install.command(args);
        // The fixture listens on loopback over plain http.
        c.env("CAIRN_OUTBOUND_ALLOW_PRIVATE", "true").env("CAIRN_OUTBOUND_ALLOW_HTTP", "true");
        if let Some(t) = token {
            c.env("CAIRN_SOURCE_TOKEN", t);
        }
        c.stdin(Stdio::null()).output().unwrap()
    };
    let add = |token: Option<&str>| {
        with(
            &[
                "metrics",
                "source",
                "add",
                "--tenant",
                "acme",
                "--kind",
                "github",
                "--name",
                "GitHub",
                "--base-url",
                &gh.base_url,
                "--graphql-url",
                &gh.graphql_url,
                "--repository",
                "acme/api",
            ],
            token,
        )
    };
    let out = add(None);
    assert_eq!(code(&out), 2, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CAIRN_SOURCE_TOKEN"));
    let out = add(Some("wrong"));
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = add(Some("ghp_cli"));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let list = install.ok(&["metrics", "source", "list", "--tenant", "acme"]);
    assert!(list.contains("GitHub") && list.contains("acme/api"), "{list}");
    assert!(!list.contains("ghp_cli"));

    let out = with(&["metrics", "run", "--tenant", "acme", "--source", "github", "--since", "2999-01-01"], None);
    assert_eq!(code(&out), 2, "a run cannot start reading in the future");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since: must not be in the future"));
    let out =
        with(&["metrics", "run", "--tenant", "acme", "--source", "github", "--since", "2026-01-01", "--wait"], None);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("succeeded"));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("commits +1"),
        "progress lines: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs: Value = serde_json::from_str(&install.ok(&["metrics", "runs", "--tenant", "acme", "--json"])).unwrap();
    assert_eq!(
        (runs[0]["status"].as_str(), runs[0]["counts"]["commits"]["new"].as_u64()),
        (Some("succeeded"), Some(1))
    );

    let out = install.run(&["metrics", "source", "remove", "--tenant", "acme", "GitHub"]);
    assert_eq!(code(&out), 2, "removal asks for --yes");
    let removed = install.ok(&["metrics", "source", "remove", "--tenant", "acme", "GitHub", "--yes"]);
    assert!(removed.contains("removed"), "{removed}");
    assert!(!install.ok(&["metrics", "source", "list", "--tenant", "acme"]).contains("acme/api"));
}
backend_test!(metrics_sources_and_runs_from_the_command_line);
