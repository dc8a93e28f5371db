//! The command line. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cairn_domain::{Role, TenantSlug};
use cairn_identity::AccessGrant;
use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::config::{ConfigError, Layers};
use crate::startup::{self, Application};

#[derive(Debug, Parser)]
#[command(name = "cairn", version, about = "Cairn: a self-hosted multi-tenant platform", propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./cairn.toml when present.
    #[arg(long, global = true, env = "CAIRN_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides CAIRN_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    /// PostgreSQL URL of the control database (overrides CAIRN_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Apply migrations to the control database and every tenant database, and finish
    /// interrupted tenant creations and deletions.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Issue access tokens for automation.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage a tenant's users.
    #[command(subcommand)]
    User(crate::accounts::UserCommand),
    /// Manage a tenant's OpenID Connect clients.
    #[command(subcommand)]
    Client(crate::accounts::ClientCommand),
    /// Inspect outgoing mail.
    #[command(subcommand)]
    Mail(crate::accounts::MailCommand),
    /// Dead letters of the event bus.
    #[command(subcommand)]
    Events(crate::events::EventsCommand),
    /// Verify, checkpoint and export audit trails.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Which duties this process takes on.
    #[arg(long, value_enum, default_value = "all")]
    role: startup::Role,
    /// Address to bind (overrides CAIRN_LISTEN).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant and its database.
    Create {
        /// `^[a-z][a-z0-9-]{1,62}$`
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// PostgreSQL server for the tenant's database (default: the control server).
        #[arg(long, value_name = "POSTGRES_URL")]
        placement: Option<String>,
        /// Invite this person as the tenant's first admin (mailed a temporary password).
        #[arg(long, value_name = "EMAIL")]
        admin_email: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one tenant.
    Show {
        slug: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant and drop its database.
    Delete {
        slug: String,
        /// Confirm: the tenant's data is destroyed.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print an access token.
    Issue(TokenArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["tenant", "operator"])))]
struct TokenArgs {
    /// Tenant the token acts in.
    #[arg(long, requires = "role")]
    tenant: Option<String>,
    /// Role within the tenant.
    #[arg(long, value_parser = ["admin", "member", "readonly"])]
    role: Option<String>,
    /// A platform-operator token instead of a tenant token.
    #[arg(long, conflicts_with_all = ["tenant", "role"])]
    operator: bool,
    /// Who the token names (`sub`).
    #[arg(long)]
    subject: String,
    /// Lifetime, e.g. 15m, 1h, 1d.
    #[arg(long, default_value = "1h")]
    ttl: String,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("trail").required(true).args(["tenant", "platform"])))]
struct TrailArgs {
    /// A tenant's trail.
    #[arg(long)]
    tenant: Option<String>,
    /// The platform's trail (tenant lifecycle, operator calls).
    #[arg(long)]
    platform: bool,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain and its signed checkpoints. Exits 0 when intact; otherwise
    /// names the first broken entry and exits 1.
    Verify(TrailArgs),
    /// Record the chain head as a signed checkpoint now (the worker does so periodically).
    Checkpoint(TrailArgs),
    /// Write entries to standard output, newest first.
    Export {
        #[command(flatten)]
        trail: TrailArgs,
        #[arg(long, value_parser = ["jsonl", "csv"], default_value = "jsonl")]
        format: String,
        /// Only this actor.
        #[arg(long)]
        user: Option<String>,
        /// An action or a prefix like `user.*`.
        #[arg(long)]
        action: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

/// A failure and its exit code.
pub(crate) struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        let code = if error.downcast_ref::<ConfigError>().is_some() { 2 } else { 1 };
        Failure { code, error }
    }
}

pub(crate) fn usage(msg: impl Into<String>) -> Failure {
    Failure { code: 2, error: anyhow::anyhow!(msg.into()) }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn layers(cli: &Cli) -> Result<Layers, Failure> {
    let file = cli.config.clone().or_else(|| {
        let default = PathBuf::from("cairn.toml");
        default.exists().then_some(default)
    });
    let mut layers = Layers::load(file.as_deref(), &|k| std::env::var(k).ok()).map_err(anyhow::Error::from)?;
    if let Some(d) = &cli.data_dir {
        layers.set_flag("data_dir", d);
    }
    if let Some(u) = &cli.database_url {
        layers.set_flag("database_url", u);
    }
    if let Command::Serve(ServeArgs { listen: Some(l), .. }) = &cli.command {
        layers.set_flag("listen", l);
    }
    Ok(layers)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let layers = layers(&cli)?;
    if let Command::Config(ConfigCommand::Show) = &cli.command {
        layers.parse().map_err(anyhow::Error::from)?;
        let mut out = std::io::stdout().lock();
        for (name, env, value, source) in layers.show() {
            let source = source.map(|s| s.as_str()).unwrap_or("-");
            let _ = writeln!(out, "{name:<26} {value:<40} # {env}, from {source}");
        }
        return Ok(());
    }
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(*shell, &mut Cli::command(), "cairn", &mut std::io::stdout());
        return Ok(());
    }
    let config = layers.parse().map_err(anyhow::Error::from)?;
    let _logs = crate::telemetry::init(&config);

    match cli.command {
        Command::Serve(args) => serve(config, args.role).await,
        Command::Migrate => migrate(config).await,
        Command::Tenant(cmd) => tenant(config, cmd).await,
        Command::Token(TokenCommand::Issue(args)) => token_issue(config, args).await,
        Command::Audit(cmd) => audit(config, cmd).await,
        Command::User(cmd) => crate::accounts::user(config, cmd).await,
        Command::Client(cmd) => crate::accounts::client(config, cmd).await,
        Command::Mail(cmd) => crate::accounts::mail(config, cmd).await,
        Command::Events(cmd) => crate::events::run(config, cmd).await,
        Command::Config(_) | Command::Completions { .. } => unreachable!("handled above"),
    }
}

async fn serve(config: crate::config::Config, role: startup::Role) -> Result<(), Failure> {
    // Handlers go in before anything else, so a signal during start-up is a clean stop too.
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    let app = Application::build(config, role).await?;
    let url = app.public_url().to_owned();
    // One write, before serving starts, so the banner is never interleaved with logs.
    let mut banner = format!("Cairn is listening on {url}\n");
    if let Some(addr) = app.metrics_addr() {
        banner.push_str(&format!("Prometheus metrics on http://{addr}/metrics\n"));
    }
    if let Some(b) = &app.bootstrap {
        banner.push_str(&format!(
            "\nFirst start: created organization '{}' with its first admin. Shown once:\n\n  \
             sign in at:          {}\n  email:               {}\n  temporary password:  {}\n\n\
             You will choose your own password at first sign-in. Platform operator tokens come from \
             `cairn token issue --operator`.\n",
            b.tenant, b.sign_in_url, b.email, b.temporary_password
        ));
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
    }
    app.run_until(shutdown).await?;
    Ok(())
}

/// A future that resolves at SIGTERM or SIGINT; the handlers are installed at once.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

async fn migrate(config: crate::config::Config) -> Result<(), Failure> {
    let store = startup::open_store(&config).await?;
    eprintln!("control database: migrated");
    let report = store
        .migrate_all(|e| match e {
            cairn_store::MigrateEvent::Tenant { slug, applied, done, total } => {
                eprintln!("[{done}/{total}] {slug}: {applied} migration(s) applied")
            }
            cairn_store::MigrateEvent::Repaired { slug, action } => eprintln!("{slug}: {action}"),
            cairn_store::MigrateEvent::Control { applied } => eprintln!("control: {applied} applied"),
        })
        .await
        .context("migrating")?;
    println!(
        "{} tenant(s) migrated, {} migration(s) applied, {} repaired, {} problem(s)",
        report.tenants,
        report.applied,
        report.repaired.len(),
        report.problems.len()
    );
    for p in &report.problems {
        println!("problem: {p}");
    }
    store.close().await;
    if report.problems.is_empty() { Ok(()) } else { Err(anyhow::anyhow!("some tenants need attention").into()) }
}

pub(crate) fn slug(s: &str) -> Result<TenantSlug, Failure> {
    TenantSlug::parse(s).map_err(|e| usage(e.to_string()))
}

fn tenant_json(t: &cairn_store::Tenant) -> serde_json::Value {
    serde_json::json!({
        "id": t.id.to_string(),
        "slug": t.slug.to_string(),
        "name": t.name,
        "placement": t.placement.as_deref().map(cairn_domain::redact_url),
        "created_at": cairn_domain::rfc3339(t.created_at),
    })
}

fn print_tenant(t: &cairn_store::Tenant, json: bool) {
    if json {
        println!("{}", tenant_json(t));
    } else {
        let v = tenant_json(t);
        println!(
            "slug:       {}\nname:       {}\nid:         {}\nplacement:  {}\ncreated_at: {}",
            t.slug,
            t.name,
            t.id,
            v["placement"].as_str().unwrap_or("default"),
            v["created_at"].as_str().unwrap_or("")
        );
    }
}

async fn tenant(config: crate::config::Config, cmd: TenantCommand) -> Result<(), Failure> {
    // Validate arguments before touching any data.
    match &cmd {
        TenantCommand::Delete { yes: false, .. } => {
            return Err(usage("tenant delete destroys the tenant's data; pass --yes to confirm"));
        }
        TenantCommand::Create { slug: s, admin_email, .. } => {
            slug(s)?;
            if let Some(e) = admin_email {
                cairn_identity::Email::parse(e).map_err(|e| usage(format!("--admin-email: {}", e.message)))?;
            }
        }
        TenantCommand::Show { slug: s, .. } | TenantCommand::Delete { slug: s, .. } => {
            slug(s)?;
        }
        TenantCommand::List { .. } => {}
    }
    let store = startup::open_store(&config).await?;
    let result = match cmd {
        TenantCommand::Create { slug: s, name, placement, admin_email, json } => {
            let s = slug(&s)?;
            let name = name.unwrap_or_else(|| s.to_string());
            let t = store.create_tenant(&s, &name, placement.as_deref()).await.map_err(|e| match e {
                cairn_store::StoreError::Placement(m) => usage(format!("--placement: {m}")),
                other => Failure::from(anyhow::Error::from(other)),
            })?;
            record_platform(&store, "tenant.created", &t).await?;
            print_tenant(&t, json);
            match admin_email {
                Some(email) => crate::accounts::invite_first_admin(&config, &store, &t, &email).await,
                None => {
                    if !json {
                        eprintln!(
                            "no admin yet: invite one with `cairn user create --tenant {} --email EMAIL --role admin`",
                            t.slug
                        );
                    }
                    Ok(())
                }
            }
        }
        TenantCommand::List { json } => {
            let all = store.list_tenants().await.context("listing tenants")?;
            if json {
                println!("{}", serde_json::Value::Array(all.iter().map(tenant_json).collect()));
            } else {
                let width = all.iter().map(|t| t.slug.as_str().len()).max().unwrap_or(0).max("SLUG".len());
                println!("{:<width$}  {:<36}  NAME", "SLUG", "ID");
                for t in &all {
                    println!("{:<width$}  {:<36}  {}", t.slug.as_str(), t.id.to_string(), t.name);
                }
            }
            Ok(())
        }
        TenantCommand::Show { slug: s, json } => {
            let t = store.tenant_by_slug(&slug(&s)?).await.context("finding the tenant")?;
            print_tenant(&t, json);
            Ok(())
        }
        TenantCommand::Delete { slug: s, .. } => {
            let t = store.delete_tenant(&slug(&s)?).await.context("deleting the tenant")?;
            record_platform(&store, "tenant.deleted", &t).await?;
            println!("deleted tenant {} and its database", t.slug);
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn token_issue(config: crate::config::Config, args: TokenArgs) -> Result<(), Failure> {
    let ttl = crate::config::parse_duration(&args.ttl).map_err(|e| usage(format!("--ttl: {e}")))?;
    if ttl.is_zero() || ttl > std::time::Duration::from_secs(366 * 86_400) {
        return Err(usage("--ttl: must be between 1s and 366d"));
    }
    let subject = args.subject.trim();
    if subject.is_empty() || subject.len() > 255 {
        return Err(usage("--subject: must be 1 to 255 characters"));
    }
    let tenant_slug = args.tenant.as_deref().map(slug).transpose()?;
    let role: Option<Role> = args
        .role
        .as_deref()
        .map(|r| r.parse())
        .transpose()
        .map_err(|e: cairn_domain::ValidationError| usage(e.to_string()))?;
    let store = startup::open_store(&config).await?;
    let issuer = config.public_url(config.listen);
    // A token is only accepted by a server whose public URL is its issuer.
    eprintln!("issuer: {issuer} (the server must run with this CAIRN_PUBLIC_URL)");
    let (tokens, _) = startup::tokens(&store, issuer).await?;
    let grant = match (tenant_slug, role) {
        (Some(s), Some(role)) => {
            let t = store.tenant_by_slug(&s).await.context("finding the tenant")?;
            AccessGrant::Tenant { id: t.id, slug: t.slug, roles: vec![role] }
        }
        _ if args.operator => AccessGrant::Operator,
        _ => return Err(usage("give --tenant with --role, or --operator")),
    };
    let token = tokens.issue_access(subject, &grant, "cairn-cli", ttl).context("signing")?;
    // The token itself is a secret and is never recorded; who it names and grants is.
    let (resource, granted) = match &grant {
        AccessGrant::Tenant { id, slug, roles } => {
            (Some(("tenant", id.to_string())), serde_json::json!({"tenant": slug, "roles": roles}))
        }
        AccessGrant::Operator => (None, serde_json::json!({"operator": true})),
    };
    let details = serde_json::json!({"subject": subject, "grant": granted, "ttl_seconds": ttl.as_secs()});
    record_cli(&store, "token.issued", resource, details).await?;
    println!("{token}");
    store.close().await;
    Ok(())
}

/// The actor of CLI actions in the platform audit: the operating-system user.
pub(crate) fn cli_actor() -> cairn_audit::Actor {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    cairn_audit::Actor { id: format!("cli:{user}"), email: None }
}

async fn record_platform(
    store: &cairn_store::Store,
    action: &'static str,
    tenant: &cairn_store::Tenant,
) -> Result<(), Failure> {
    let details = serde_json::json!({"slug": tenant.slug, "via": "cli"});
    record_cli(store, action, Some(("tenant", tenant.id.to_string())), details).await
}

/// Records a CLI action in the platform audit trail.
async fn record_cli(
    store: &cairn_store::Store,
    action: &'static str,
    resource: Option<(&str, String)>,
    details: serde_json::Value,
) -> Result<(), Failure> {
    let mut entry = cairn_audit::NewEntry::new(
        cli_actor(),
        cairn_audit::Action::fixed(action),
        cairn_audit::Outcome::Success,
        cairn_audit::RequestMeta::default(),
    )
    .details(details);
    if let Some((kind, id)) = resource {
        entry = entry.resource(kind, id);
    }
    cairn_audit::AuditService::record_now(store.control(), entry).await.context("recording in the platform audit")?;
    Ok(())
}

async fn audit(config: crate::config::Config, cmd: AuditCommand) -> Result<(), Failure> {
    let trail = match &cmd {
        AuditCommand::Verify(t) | AuditCommand::Checkpoint(t) | AuditCommand::Export { trail: t, .. } => t,
    };
    let tenant_slug = trail.tenant.as_deref().map(slug).transpose()?;
    let filter = match &cmd {
        AuditCommand::Export { user, action, .. } => cairn_audit::AuditFilter {
            user: user.clone(),
            action: action
                .as_deref()
                .map(cairn_audit::ActionPattern::parse)
                .transpose()
                .map_err(|e| usage(format!("--action: {}", e.message)))?,
            ..Default::default()
        },
        _ => Default::default(),
    };
    let store = startup::open_store(&config).await?;
    let (scope, db) = match &tenant_slug {
        Some(s) => {
            let t = store.tenant_by_slug(s).await.context("finding the tenant")?;
            (t.id.to_string(), store.tenant_db(t.id).await.context("opening the tenant database")?)
        }
        None => ("platform".to_owned(), store.control().clone()),
    };
    let (tokens, _) = startup::tokens(&store, config.public_url(config.listen)).await?;
    let result = match cmd {
        AuditCommand::Verify(_) => {
            let r = cairn_audit::AuditService::verify(&db, &tokens, &scope).await.context("verifying")?;
            match r.violation {
                None => {
                    println!(
                        "intact: {} entries (from {} to {}), {} checkpoint(s)",
                        r.entries,
                        r.first_seq.map_or("-".into(), |s| s.to_string()),
                        r.head_seq,
                        r.checkpoints
                    );
                    Ok(())
                }
                Some(v) => {
                    println!("BROKEN at {v}");
                    Err(Failure { code: 1, error: anyhow::anyhow!("audit chain is broken at {v}") })
                }
            }
        }
        AuditCommand::Checkpoint(_) => {
            match cairn_audit::AuditService::checkpoint(&db, &tokens, &scope).await.context("checkpointing")? {
                Some(seq) => println!("checkpoint recorded at entry {seq}"),
                None => println!("nothing new to checkpoint"),
            }
            Ok(())
        }
        AuditCommand::Export { format, .. } => {
            use futures_util::StreamExt;
            let format =
                if format == "csv" { cairn_audit::ExportFormat::Csv } else { cairn_audit::ExportFormat::Jsonl };
            let mut stream = std::pin::pin!(cairn_audit::export_stream(db.clone(), filter, format));
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.context("reading the audit trail")?;
                out.write_all(&chunk).context("writing")?;
            }
            Ok(())
        }
    };
    store.close().await;
    result
}
