//! Test harness: the real application on port 0 against SQLite or PostgreSQL, with
//! helpers that read like the feature (`app.token(&acme, Role::Member)`).
//!
//! PostgreSQL tests use the server named by `CAIRN_TEST_POSTGRES_URL` (scripts/test starts
//! one with the `cairn-test-postgres` launcher); each app gets its own control database on it.

pub mod bench;
pub mod browser;
pub mod fixtures;
pub mod mail;
pub mod moto;
pub mod peers;
pub mod postgres;
pub mod receiver;
pub mod rp;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use cairn::config::{Config, Layers};
use cairn::startup::{Application, Role as ServeRole};
use cairn_audit::{Actor, RequestMeta};
use cairn_domain::{Role, TenantId, TenantSlug};
use cairn_identity::{AccessGrant, Email, Identity, NewClient, NewUser, Tokens, User};
use cairn_store::{Backend as StoreBackend, Store};

pub use cairn_store::Backend;

/// An HTTP client for tests. TLS in the workspace is rustls on ring, installed here as in
/// the server (`cairn_outbound::Outbound::new`).
pub fn http_client() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(30))
}

/// The environment variable naming the shared test PostgreSQL server.
pub const POSTGRES_URL_ENV: &str = "CAIRN_TEST_POSTGRES_URL";

/// The shared test server's URL; a loud failure when it is not configured.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_ENV} is not set. PostgreSQL tests need a server: run scripts/test, or \
             `cargo run -p cairn-testkit --bin cairn-test-postgres` and export the URL it prints."
        )
    })
}

/// The same server URL naming another database.
pub fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("valid PostgreSQL URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

/// A configuration for a fresh, isolated instance on `backend`: its own data dir and (on
/// PostgreSQL) its own control database.
pub fn fresh_config(backend: Backend, data_dir: &std::path::Path) -> Config {
    let server = (backend == StoreBackend::Postgres).then(postgres_url);
    fresh_config_on(data_dir, server.as_deref())
}

/// As [`fresh_config`], on the PostgreSQL server `postgres_server` (SQLite when `None`).
pub fn fresh_config_on(data_dir: &std::path::Path, postgres_server: Option<&str>) -> Config {
    let mut layers = Layers::load(None, &|_| None).expect("defaults load");
    layers.set_flag("data_dir", data_dir.display().to_string());
    layers.set_flag("listen", "127.0.0.1:0");
    layers.set_flag("metrics_listen", "127.0.0.1:0");
    // Event deliveries retry in a blink; webhooks and SSO reach the tests' peers on loopback over http.
    layers.set_flag("events_retry_base", "100ms");
    layers.set_flag("events_retry_max", "1s");
    layers.set_flag("events_poll_interval", "1s");
    layers.set_flag("outbound_allow_private", "true");
    layers.set_flag("outbound_allow_http", "true");
    // The platform's own AWS key, with which tenants' roles are assumed (moto's).
    layers.set_flag("aws_access_key_id", moto::ACCESS_KEY);
    layers.set_flag("aws_secret_access_key", moto::SECRET_KEY);
    if let Some(server) = postgres_server {
        let db = format!("cairn_ctl_{}", uuid::Uuid::now_v7().simple());
        layers.set_flag("database_url", with_database(server, &db));
    }
    layers.parse().expect("test config parses")
}

/// Polls `check` every 50 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A tenant created through the store, as a test refers to it.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: TenantId,
    pub slug: TenantSlug,
}

pub struct TestApp {
    pub backend: Backend,
    pub base_url: String,
    /// The metrics listener (`metrics_listen`), when configured.
    pub metrics_url: Option<String>,
    pub client: reqwest::Client,
    pub config: Config,
    pub store: Store,
    tokens: Arc<Tokens>,
    pub identity: Arc<Identity>,
    /// What first start printed (the first admin's temporary password), when this app started fresh.
    pub bootstrap: Option<cairn::startup::Bootstrap>,
    data_dir: Arc<tempfile::TempDir>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp").field("backend", &self.backend).field("base_url", &self.base_url).finish()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Spawns with a configuration adjusted by `adjust`.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = fresh_config(backend, dir.path());
        adjust(&mut config);
        Self::start(backend, config, dir).await
    }

    /// Spawns with exactly `config`, whose data dir is `data_dir`.
    pub async fn spawn_config(backend: Backend, config: Config, data_dir: tempfile::TempDir) -> TestApp {
        Self::start(backend, config, Arc::new(data_dir)).await
    }

    async fn start(backend: Backend, config: Config, data_dir: Arc<tempfile::TempDir>) -> TestApp {
        let mut app = Application::build(config.clone(), ServeRole::All).await.expect("application builds");
        let bootstrap = app.bootstrap.take();
        let base_url = format!("http://{}", app.local_addr());
        let metrics_url = app.metrics_addr().map(|a| format!("http://{a}/metrics"));
        let store = app.store().clone();
        let tokens = app.tokens();
        let identity = app.identity();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        TestApp {
            backend,
            base_url,
            metrics_url,
            client: http_client().build().expect("client"),
            config,
            store,
            tokens,
            identity,
            bootstrap,
            data_dir,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Graceful stop; waits until the server has drained.
    pub async fn stop(mut self) {
        self.stop_inner().await;
    }

    async fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran cleanly");
        }
    }

    /// Stops and starts again on the same data (same data dir, same databases), on a new port.
    pub async fn restart(mut self) -> TestApp {
        self.stop_inner().await;
        let dir = self.data_dir.clone();
        let config = self.config.clone();
        Self::start(self.backend, config, dir).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn issuer(&self) -> &str {
        self.tokens.issuer()
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    pub async fn create_tenant(&self, slug: &str) -> TestTenant {
        let slug = TenantSlug::parse(slug).expect("valid slug");
        let t = self.store.create_tenant(&slug, slug.as_str(), None).await.expect("tenant created");
        TestTenant { id: t.id, slug: t.slug }
    }

    /// The tenant's record and database.
    pub async fn tenant(&self, tenant: &TestTenant) -> (cairn_store::Tenant, cairn_store::Db) {
        self.identity.tenant(tenant.id).await.expect("tenant lookup").expect("tenant exists")
    }

    /// An `ACTIVE` user with a permanent password (as `cairn user set-password --permanent`).
    pub async fn create_user(&self, tenant: &TestTenant, email: &str, password: &str, roles: &[Role]) -> User {
        let (t, db) = self.tenant(tenant).await;
        let admin = Actor { id: "test-admin".into(), email: None };
        let new = NewUser {
            email: Email::parse(email).expect("valid email"),
            given_name: "Test".into(),
            family_name: "User".into(),
            roles: roles.to_vec(),
        };
        // No invitation: the user gets a password at once, and tests count the mail they cause.
        let (user, _) =
            self.identity.create_user_unmailed(&t, &db, new, &admin, &RequestMeta::default()).await.expect("user");
        let user = self
            .identity
            .set_password(t.id, &db, &user.id, password, true, &admin, &RequestMeta::default())
            .await
            .expect("password");
        // Setting a password refuses the user's tokens issued up to that millisecond (the
        // same millisecond counts as before); a test mints tokens at once, so let it pass.
        let set = cairn_domain::now_ms();
        while cairn_domain::now_ms() <= set {
            tokio::task::yield_now().await;
        }
        user
    }

    /// A registered client; returns its id and secret (confidential clients).
    pub async fn create_client(&self, tenant: &TestTenant, new: NewClient) -> (String, Option<String>) {
        let (t, db) = self.tenant(tenant).await;
        let admin = Actor { id: "test-admin".into(), email: None };
        let (client, secret) =
            self.identity.create_client(&t, &db, new, &admin, &RequestMeta::default()).await.expect("client");
        (client.client_id, secret)
    }

    /// Waits until every event of `tenant` is dispatched and none of its deliveries is
    /// pending: everything its changes set going (mail, webhooks) has been done or has failed.
    pub async fn settled(&self, tenant: &TestTenant) {
        let (_, db) = self.tenant(tenant).await;
        eventually("the tenant's outbox to settle", Duration::from_secs(20), || async {
            let open: i64 = cairn_store::sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL) \
                 + (SELECT COUNT(*) FROM deliveries WHERE state = 'pending')",
            )
            .fetch_one(db.reader())
            .await
            .ok()?;
            (open == 0).then_some(())
        })
        .await
    }

    /// The newest mail to `to` containing `text`, once the outbox's worker has sent it
    /// (account mail and notices go out after their change commits).
    pub async fn mail_to(&self, to: &str, text: &str) -> String {
        let header = format!("To: {to}");
        eventually(&format!("a mail to {to} containing {text:?}"), Duration::from_secs(20), || async {
            self.mail().into_iter().rev().find(|m| m.contains(&header) && m.contains(text))
        })
        .await
    }

    /// The `.eml` messages the file mail transport wrote, oldest first.
    pub fn mail(&self) -> Vec<String> {
        let dir = self.config.data_dir.join("mail");
        cairn_mail::list_files(&dir)
            .expect("mail dir")
            .into_iter()
            .map(|m| std::fs::read_to_string(m.file).expect("mail file"))
            .collect()
    }

    /// A one-hour access token in `tenant` with `role`, for subject `<role>@<slug>`.
    pub fn token(&self, tenant: &TestTenant, role: Role) -> String {
        self.token_for(tenant, role, &format!("{role}@{}", tenant.slug))
    }

    pub fn token_for(&self, tenant: &TestTenant, role: Role, subject: &str) -> String {
        let grant = AccessGrant::Tenant { id: tenant.id, slug: tenant.slug.clone(), roles: vec![role] };
        self.tokens.issue_access(subject, &grant, "cairn-test", Duration::from_secs(3600)).expect("token")
    }

    pub fn operator_token(&self) -> String {
        self.tokens
            .issue_access("operator@test", &AccessGrant::Operator, "cairn-test", Duration::from_secs(3600))
            .expect("token")
    }

    pub fn get(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(token).json(body)
    }

    pub fn put(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.client.put(self.url(path)).bearer_auth(token).json(body)
    }

    pub fn patch(&self, path: &str, token: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.client.patch(self.url(path)).bearer_auth(token).json(body)
    }

    pub fn delete(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.delete(self.url(path)).bearer_auth(token)
    }

    /// The Prometheus text the metrics listener serves.
    pub async fn metrics(&self) -> String {
        let url = self.metrics_url.as_deref().expect("this app has a metrics listener");
        let resp = self.client.get(url).send().await.expect("metrics request");
        assert_eq!(resp.status(), 200, "metrics listener");
        resp.text().await.expect("metrics text")
    }

    /// Stores a number as `token`'s holder; returns the response.
    pub async fn add_number(&self, token: &str, value: serde_json::Value) -> reqwest::Response {
        self.post("/api/v1/numbers", token, &serde_json::json!({ "value": value })).send().await.expect("request")
    }

    /// Creates a record titled `title` as `token`'s holder (`POST /api/v1/records`); its id.
    pub async fn create_record(&self, token: &str, title: &str) -> String {
        let resp =
            self.post("/api/v1/records", token, &serde_json::json!({ "title": title })).send().await.expect("request");
        assert_eq!(resp.status(), 201, "creating the record {title:?}");
        let record: serde_json::Value = resp.json().await.expect("the record");
        record["id"].as_str().expect("the record's id").to_owned()
    }

    /// Registers a webhook to `url` for `events` as one of `tenant`'s admins; its id and
    /// its secret (shown this once).
    pub async fn add_webhook(&self, tenant: &TestTenant, url: &str, events: &[&str]) -> (String, String) {
        let admin = self.token(tenant, Role::Admin);
        let body = serde_json::json!({ "url": url, "events": events });
        let resp = self.post("/api/v1/webhooks", &admin, &body).send().await.expect("request");
        assert_eq!(resp.status(), 201, "registering a webhook to {url}");
        let hook: serde_json::Value = resp.json().await.expect("the webhook");
        (hook["id"].as_str().expect("an id").to_owned(), hook["secret"].as_str().expect("a secret").to_owned())
    }

    /// Invites `email` into `tenant` with `roles`, as its admins do (`POST /api/v1/users`),
    /// and waits for the invitation mail.
    pub async fn invite(&self, tenant: &TestTenant, email: &str, roles: &[Role]) -> Invitation {
        let admin = self.token(tenant, Role::Admin);
        let mut body = serde_json::json!({ "email": email });
        if !roles.is_empty() {
            body["roles"] = roles.iter().map(ToString::to_string).collect();
        }
        let resp = self.post("/api/v1/users", &admin, &body).send().await.expect("request");
        assert_eq!(resp.status(), 201, "inviting {email}");
        let user: serde_json::Value = resp.json().await.expect("the user");
        let mail = self.mail_to(email, mail::TEMPORARY_PASSWORD).await;
        Invitation {
            user_id: user["id"].as_str().expect("the user's id").to_owned(),
            temporary_password: mail::value_after(&mail, mail::TEMPORARY_PASSWORD),
            mail,
        }
    }

    /// A browser signed in to `tenant`'s web UI as `email`, through the provider's hosted
    /// sign-in as a person would (see [`browser::Browser::web_sign_in`]).
    pub async fn sign_in(&self, tenant: &TestTenant, email: &str, password: &str) -> browser::Browser {
        let browser = browser::Browser::new(&self.base_url);
        browser.web_sign_in(tenant.slug.as_str(), email, password).await;
        browser
    }
}

/// Stops `app` and drops its PostgreSQL databases on `server` (its control database and
/// `tenants`'): a benchmark's seeded organization does not outlive its run on a shared server.
pub async fn drop_postgres_databases(app: TestApp, tenants: &[&TestTenant], server: &str) {
    use cairn_store::sqlx::{self, Connection, Executor};
    let control = app.config.database_url.as_ref().map(|u| u.path().trim_start_matches('/').to_owned());
    drop(app);
    let mut conn = sqlx::AnyConnection::connect(server).await.expect("the server answers");
    for name in tenants.iter().map(|t| t.id.database_name()).chain(control) {
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        conn.execute(sql.as_str()).await.expect("the database drops");
    }
}

/// A user invited by [`TestApp::invite`], and the mail that invited them.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub user_id: String,
    pub temporary_password: String,
    pub mail: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs an async test once per backend:
///
/// ```ignore
/// async fn name(backend: Backend) { … }
/// backend_test!(name);
/// ```
///
/// expands to the tests `name::sqlite` and `name::postgres`, each calling `name` (a module
/// and a function live in different namespaces). Attributes in the call apply to both
/// tests — `backend_test!(#[should_panic] name);` —; a `#[cfg(…)]` goes on the function
/// and in the call alike.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* $name:ident $(,)?) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$meta])*
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$meta])*
            async fn postgres() {
                super::$name($crate::Backend::Postgres).await
            }
        }
    };
}
