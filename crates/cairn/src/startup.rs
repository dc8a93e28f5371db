//! Wiring: builds the store, keys and HTTP app from a [`Config`], and runs it until a
//! shutdown signal, draining in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use cairn_domain::MasterKey;
use cairn_identity::{Identity, NewUser, Revocations, SigningKeys, Tokens};
use cairn_store::{Migration, Store, StoreConfig};
use cairn_web::{AppState, WebConfig};
use tokio::net::TcpListener;

use crate::config::{Config, issuer};

/// Which duties a `serve` process takes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// API, worker and scheduler in one process.
    All,
    /// HTTP API, web pages and the identity provider.
    Api,
    /// Background work.
    Worker,
    /// Time-based triggers.
    Scheduler,
}

pub fn control_migrations() -> Vec<Migration> {
    let mut all = cairn_store::control_migrations();
    all.extend(cairn_identity::control_migrations());
    // The platform audit trail.
    all.extend(cairn_audit::migrations());
    all.extend(cairn_events::control_migrations());
    all
}

pub fn tenant_migrations() -> Vec<Migration> {
    let mut all = cairn_audit::migrations();
    all.extend(cairn_identity::tenant_migrations());
    all.extend(cairn_numbers::tenant_migrations());
    all.extend(cairn_events::tenant_migrations());
    all.extend(cairn_records::tenant_migrations());
    all.extend(cairn_metrics::tenant_migrations());
    all.extend(cairn_instances::tenant_migrations());
    all.extend(cairn_reports::tenant_migrations());
    all
}

/// Every consumer of events: publish notifications and scheduled reports' mail (each a
/// fan-out, then one mail per recipient), account mail, and webhooks.
pub fn consumers(identity: Arc<Identity>, reports: cairn_reports::objects::Objects) -> cairn_events::Consumers {
    use cairn_identity::{mail, reset};
    use cairn_records::notify;
    let key = identity.store.master_key().clone();
    let outbound = identity.outbound.clone();
    cairn_events::Consumers::default()
        .subscribe(
            notify::CONSUMER,
            &[cairn_domain::events::RECORD_PUBLISHED],
            Arc::new(notify::FanOut { identity: identity.clone() }),
        )
        .handle(notify::MAIL, Arc::new(notify::Mailer { identity: identity.clone() }))
        .subscribe(
            mail::MAIL_CONSUMER,
            &[mail::ACCOUNT_MAIL],
            Arc::new(mail::AccountMailer { identity: identity.clone() }),
        )
        .subscribe(
            cairn_reports::mail::CONSUMER,
            &[cairn_domain::events::REPORT_READY],
            Arc::new(cairn_reports::mail::FanOut),
        )
        .handle(
            cairn_reports::mail::MAIL,
            Arc::new(cairn_reports::mail::Mailer { identity: identity.clone(), objects: reports }),
        )
        .subscribe(reset::RESET_CONSUMER, &[reset::RESET_REQUESTED], Arc::new(reset::ResetRequests { identity }))
        .handle("webhook", Arc::new(cairn_events::webhooks::Deliverer::new(key, outbound)))
}

/// Where rendered reports are kept.
pub fn report_store(config: &Config) -> anyhow::Result<cairn_reports::objects::Objects> {
    cairn_reports::objects::Objects::open(&config.object_store).context("opening the report store")
}

/// The master key from config, else from `<data_dir>/master.key` (created 0600 if absent).
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    if let Some(k) = &config.master_key {
        return Ok(k.clone());
    }
    let path = config.data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::parse(&text).with_context(|| format!("{} is not a valid master key", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_new_key(&path),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_new_key(path: &Path) -> anyhow::Result<MasterKey> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = MasterKey::generate();
    let mut f = match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(f) => f,
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return MasterKey::parse(&std::fs::read_to_string(path)?).context("reading master key");
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
    };
    writeln!(f, "{}", key.to_hex())?;
    f.sync_all()?;
    Ok(key)
}

/// Opens the store (control migrations applied) with the configured key.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let key = master_key(config)?;
    let data_dir = std::path::absolute(&config.data_dir).context("resolving the data directory")?;
    let store_config = StoreConfig {
        data_dir,
        database_url: config.database_url.clone(),
        control_max_connections: config.db_max_connections,
        tenant_max_connections: config.tenant_db_max_connections,
        max_open_tenant_pools: config.max_open_tenant_pools,
        acquire_timeout: config.db_acquire_timeout,
    };
    Store::open(store_config, key, control_migrations(), tenant_migrations())
        .await
        .context("opening the control database")
}

/// Token service for `issuer`, generating the first signing key if needed; the flag says
/// whether this was the platform's first start.
pub async fn tokens(store: &Store, issuer: String) -> anyhow::Result<(Tokens, bool)> {
    let (keys, first_start) = SigningKeys::load_or_create(store).await.context("loading signing keys")?;
    let revocations = Revocations::new(store.clone(), cairn_events::Bus::new(store.control().clone()));
    Ok((Tokens::new(issuer, keys, revocations), first_start))
}

/// The mailer the configuration names; the default sender is `no-reply@<public host>`.
pub fn mailer(config: &Config, public_url: &url::Url) -> anyhow::Result<cairn_mail::Mailer> {
    let from = match &config.mail_from {
        Some(f) => f.clone(),
        None => {
            // A name with a dot; an address or `localhost` is no mail domain.
            let domain = match public_url.host() {
                Some(url::Host::Domain(d)) if d.contains('.') => d,
                _ => "localhost",
            };
            let address = cairn_mail::Address::new("no-reply", domain)
                .or_else(|_| cairn_mail::Address::new("no-reply", "localhost"))
                .context("the default sender")?;
            cairn_mail::Mailbox::new(Some("Cairn".into()), address)
        }
    };
    cairn_mail::Mailer::new(&config.mail_url, from, &config.data_dir).context("CAIRN_MAIL_URL")
}

/// The identity service over `store` for a server reached at `public_url`, for the CLI and
/// the server alike.
pub async fn identity(config: &Config, store: &Store, public_url: &url::Url) -> anyhow::Result<(Identity, bool)> {
    let mailer = mailer(config, public_url)?;
    let public_url = issuer(public_url);
    let (tokens, first_start) = tokens(store, public_url.clone()).await?;
    // The one client for requests made on a tenant's behalf (SSO here, webhooks through
    // `consumers`), guarded as the operator's policy says.
    let outbound = cairn_outbound::Outbound::new(config.outbound);
    let argon2 = cairn_identity::Argon2Pool::for_this_machine();
    Ok((Identity { store: store.clone(), tokens: Arc::new(tokens), mailer, public_url, outbound, argon2 }, first_start))
}

/// The instances console's AWS client, over the guarded outbound client, for the server and
/// the CLI alike.
pub fn cloud(config: &Config, outbound: cairn_outbound::Outbound) -> Arc<cairn_instances::Cloud> {
    Arc::new(cairn_instances::Cloud::new(outbound, config.aws_platform.clone(), config.instances_cache_ttl))
}

/// What first start created, to tell the person who started it: the first admin and
/// their temporary password (shown once, never stored in clear).
#[derive(Debug)]
pub struct Bootstrap {
    pub tenant: String,
    pub email: String,
    pub temporary_password: String,
    pub sign_in_url: String,
}

/// A built application, bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    /// `metrics_listen`: serves only `/metrics`.
    metrics_listener: Option<TcpListener>,
    state: AppState,
    role: Role,
    config: Config,
    pub bootstrap: Option<Bootstrap>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("role", &self.role).finish_non_exhaustive()
    }
}

impl Application {
    pub async fn build(config: Config, role: Role) -> anyhow::Result<Application> {
        let store = open_store(&config).await?;
        let listener = TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let bound = listener.local_addr()?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.with_context(|| format!("binding metrics_listen {addr}"))?)
            }
            None => None,
        };
        let (identity, first_start) = identity(&config, &store, &config.public_url(bound)).await?;
        let public_url = identity.public_url.clone();
        let bootstrap = if first_start { Some(bootstrap(&config, &identity).await?) } else { None };
        identity.argon2.warm_up().await;
        let web = WebConfig {
            public_url,
            body_limit: config.body_limit,
            request_timeout: config.request_timeout,
            trust_proxy_headers: config.trust_proxy_headers,
            metrics_token: config.metrics_token.clone(),
        };
        let cloud = cloud(&config, identity.outbound.clone());
        let reports = report_store(&config)?;
        let state = AppState::new(identity, web, cloud, reports);
        Ok(Application { listener, metrics_listener, state, role, config, bootstrap })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// The metrics listener's address, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn public_url(&self) -> &str {
        &self.state.config.public_url
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn identity(&self) -> Arc<Identity> {
        self.state.identity.clone()
    }

    pub fn tokens(&self) -> Arc<Tokens> {
        self.state.tokens.clone()
    }

    /// Serves until `shutdown` resolves, then: readiness turns false, new requests are still
    /// accepted for `shutdown_grace`, then the listener closes and in-flight requests get up
    /// to `shutdown_timeout` to finish.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application { listener, metrics_listener, state, role, config, .. } = self;
        let draining = state.draining.clone();
        let store = state.store.clone();
        let mut background = Vec::new();
        // Metrics collector runs: a scheduler queues each schedule fire once (whatever the
        // number of schedulers), workers execute them under a lease.
        let collectors = cairn_metrics::collect::run::Collectors::new(
            store.clone(),
            state.identity.outbound.clone(),
            &format!("{}:{}", crate::config::host_name(), std::process::id()),
            config.data_dir.join("git"),
        );
        if matches!(role, Role::All | Role::Scheduler) {
            background.push(tokio::spawn(collectors.clone().schedule()));
            background.push(tokio::spawn(crate::background::report_schedules(store.clone())));
        }
        if matches!(role, Role::All | Role::Worker) {
            background.push(tokio::spawn(collectors.work(state.bus.subscribe())));
        }
        // Tenant databases are migrated when first used, and by this sweep; start-up does
        // not wait for them.
        background.push(tokio::spawn(migrate_pending(store.clone())));
        if matches!(role, Role::All | Role::Worker) {
            background.push(tokio::spawn(crate::background::audit_maintenance(
                store.clone(),
                state.tokens.clone(),
                config.clone(),
            )));
            let consumers = consumers(state.identity.clone(), state.reports.clone());
            let worker = cairn_events::Worker::new(store.clone(), state.bus.clone(), consumers, config.events.clone())
                .with_stats(state.metrics.delivery_stats.clone())
                .with_host(&crate::config::host_name());
            background.push(tokio::spawn(worker.run()));
            let reports = crate::background::ReportWorker {
                store: store.clone(),
                identity: state.identity.clone(),
                tokens: state.tokens.clone(),
                objects: state.reports.clone(),
                cloud: state.cloud.clone(),
                bus: state.bus.clone(),
                owner: format!("{}:{}", crate::config::host_name(), std::process::id()),
                retry_base: config.events.retry_base,
            };
            background.push(tokio::spawn(reports.run()));
        }
        // Ended sessions heard on the bus (this process's, and other replicas' through the
        // relay) make the next token check re-read that tenant's revocation epochs.
        let revocations = state.tokens.revocations().clone();
        background.push(tokio::spawn(revocations.follow(state.bus.subscribe_sessions())));
        if let Some(url) = &config.database_url {
            // Other replicas' commits wake this one's workers and live streams.
            background.push(tokio::spawn(state.bus.clone().relay_postgres(url.to_string())));
        }
        if let Some(metrics_listener) = metrics_listener {
            // Scrapes are read-only: the listener simply stops with the background duties.
            let metrics = cairn_web::metrics_app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
            background.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(metrics_listener, metrics).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            }));
        }
        let app = match role {
            Role::All | Role::Api => cairn_web::app(state),
            Role::Worker | Role::Scheduler => cairn_web::probes_app(state),
        }
        .into_make_service_with_connect_info::<SocketAddr>();
        let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = config.shutdown_grace;
        let stop_accepting = async move {
            shutdown.await;
            draining.store(true, Ordering::SeqCst);
            tracing::info!(grace_ms = grace.as_millis() as u64, "shutdown requested; draining");
            tokio::time::sleep(grace).await;
            let _ = drained_tx.send(());
        };
        let server = axum::serve(listener, app).with_graceful_shutdown(stop_accepting);
        let timeout = config.shutdown_timeout;
        let server = tokio::spawn(async move { server.await });
        tokio::pin!(server);
        tokio::select! {
            res = &mut server => { res??; }
            _ = drained_rx => {
                match tokio::time::timeout(timeout, &mut server).await {
                    Ok(res) => res??,
                    Err(_) => tracing::warn!(timeout_ms = timeout.as_millis() as u64, "in-flight requests outlived the shutdown timeout"),
                }
            }
        }
        for task in background {
            task.abort();
        }
        store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The background sweep over tenant databases that are behind this build's migrations (or
/// whose creation or deletion was interrupted), logging its progress.
async fn migrate_pending(store: Store) {
    let started = std::time::Instant::now();
    let report = store
        .migrate_pending(|e| match e {
            cairn_store::MigrateEvent::Tenant { slug, applied, done, total } => {
                if applied > 0 || done == total || done % 100 == 0 {
                    tracing::info!(tenant = slug, applied, done, total, "tenant migration sweep");
                }
            }
            cairn_store::MigrateEvent::Repaired { slug, action } => {
                tracing::info!(tenant = slug, action, "tenant repaired")
            }
            cairn_store::MigrateEvent::Control { .. } => {}
        })
        .await;
    match report {
        Ok(r) => {
            for problem in &r.problems {
                tracing::warn!(problem = %problem, "tenant migration problem; `cairn migrate` shows details");
            }
            if r.tenants > 0 || !r.repaired.is_empty() || !r.problems.is_empty() {
                tracing::info!(
                    tenants = r.tenants,
                    applied = r.applied,
                    repaired = r.repaired.len(),
                    problems = r.problems.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "tenant migration sweep finished"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "tenant migration sweep failed; requests still migrate each tenant"),
    }
}

/// First start: the bootstrap tenant and its first admin, whose temporary password the
/// person who started Cairn signs in with (and must change at once).
async fn bootstrap(config: &Config, identity: &Identity) -> anyhow::Result<Bootstrap> {
    let store = &identity.store;
    let slug = &config.bootstrap_tenant;
    let tenant = match store.create_tenant(slug, slug.as_str(), None).await {
        Ok(t) => t,
        // Another replica bootstrapped at the same moment.
        Err(cairn_store::StoreError::SlugTaken(_)) => store.tenant_by_slug(slug).await?,
        Err(e) => return Err(e.into()),
    };
    let system = cairn_audit::Actor { id: "system:first-start".into(), email: None };
    let entry = cairn_audit::NewEntry::new(
        system.clone(),
        cairn_audit::Action::fixed("tenant.created"),
        cairn_audit::Outcome::Success,
        cairn_audit::RequestMeta::default(),
    )
    .resource("tenant", tenant.id.to_string())
    .details(
        serde_json::json!({"slug": tenant.slug, "via": "first start", "first_admin": config.bootstrap_email.as_str()}),
    );
    cairn_audit::AuditService::record_now(store.control(), entry).await.context("recording the first start")?;
    let db = store.tenant_db(tenant.id).await?;
    let new = NewUser {
        email: config.bootstrap_email.clone(),
        given_name: String::new(),
        family_name: String::new(),
        roles: vec![cairn_domain::Role::Admin],
    };
    let meta = cairn_audit::RequestMeta::default();
    // The password is printed, not mailed: the first admin may have no mailbox yet.
    let (_, invitation) =
        identity.create_user_unmailed(&tenant, &db, new, &system, &meta).await.context("creating the first admin")?;
    Ok(Bootstrap {
        tenant: tenant.slug.to_string(),
        email: config.bootstrap_email.to_string(),
        temporary_password: invitation.temporary_password,
        sign_in_url: identity.sign_in_url(&tenant),
    })
}
