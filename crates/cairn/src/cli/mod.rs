//! The command line: the top-level [`Cli`], dispatch to one module per command group, and
//! exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.

mod audit;
mod client;
mod config;
mod demo;
mod events;
mod instances;
mod mail;
mod metrics;
mod migrate;
mod report;
mod serve;
mod tenant;
mod token;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cairn_domain::{Role, TenantSlug};
use cairn_identity::Identity;
use clap::{CommandFactory, Parser, Subcommand};

use crate::config::{Config, ConfigError, Layers};
use crate::startup;

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
    Serve(serve::ServeArgs),
    /// Apply migrations to the control database and every tenant database, and finish
    /// interrupted tenant creations and deletions.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Issue access tokens for automation.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Manage a tenant's users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage a tenant's OpenID Connect clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Inspect outgoing mail.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Engineering metrics: sources and collector runs.
    #[command(subcommand)]
    Metrics(metrics::MetricsCommand),
    /// Demo data: a realistic organization in a tenant's metrics tables.
    #[command(subcommand)]
    Demo(demo::DemoCommand),
    /// A tenant's cloud instances: list them, reboot one.
    #[command(subcommand)]
    Instances(instances::InstancesCommand),
    /// Reports: render a team or audit report to a PDF file.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Dead letters of the event bus.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Verify, checkpoint and export audit trails.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Inspect configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// A failure and its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        let code = if error.downcast_ref::<ConfigError>().is_some() { 2 } else { 1 };
        Failure { code, error }
    }
}

fn usage(msg: impl Into<String>) -> Failure {
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
    if let Command::Serve(serve::ServeArgs { listen: Some(l), .. }) = &cli.command {
        layers.set_flag("listen", l);
    }
    Ok(layers)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let layers = layers(&cli)?;
    if let Command::Config(cmd) = &cli.command {
        return config::run(&layers, cmd);
    }
    if let Command::Completions { shell } = &cli.command {
        clap_complete::generate(*shell, &mut Cli::command(), "cairn", &mut std::io::stdout());
        return Ok(());
    }
    let config = layers.parse().map_err(anyhow::Error::from)?;
    let _logs = crate::telemetry::init(&config);

    match cli.command {
        Command::Serve(args) => serve::run(config, args.role).await,
        Command::Migrate => migrate::run(config).await,
        Command::Tenant(cmd) => tenant::run(config, cmd).await,
        Command::Token(token::TokenCommand::Issue(args)) => token::issue(config, args).await,
        Command::Audit(cmd) => audit::run(config, cmd).await,
        Command::User(cmd) => user::run(config, cmd).await,
        Command::Client(cmd) => client::run(config, cmd).await,
        Command::Mail(cmd) => mail::run(config, cmd).await,
        Command::Events(cmd) => events::run(config, cmd).await,
        Command::Metrics(cmd) => metrics::run(config, cmd).await,
        Command::Demo(cmd) => demo::run(config, cmd).await,
        Command::Instances(cmd) => instances::run(config, cmd).await,
        Command::Report(cmd) => report::run(config, cmd).await,
        Command::Config(_) | Command::Completions { .. } => unreachable!("handled above"),
    }
}

fn slug(s: &str) -> Result<TenantSlug, Failure> {
    TenantSlug::parse(s).map_err(|e| usage(e.to_string()))
}

/// The actor of CLI actions in the platform audit: the operating-system user.
fn cli_actor() -> cairn_audit::Actor {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    cairn_audit::Actor { id: format!("cli:{user}"), email: None }
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

fn roles(raw: &[String]) -> Result<Vec<Role>, Failure> {
    raw.iter().map(|r| r.parse().map_err(|e: cairn_domain::ValidationError| usage(e.to_string()))).collect()
}

/// The identity service, a tenant and its database, for one CLI action.
async fn open(config: &Config, tenant: &str) -> Result<(Arc<Identity>, cairn_store::Tenant, cairn_store::Db), Failure> {
    let slug = slug(tenant)?;
    let store = startup::open_store(config).await?;
    let (identity, _) = startup::identity(config, &store, &config.public_url(config.listen)).await?;
    let tenant = store.tenant_by_slug(&slug).await.context("finding the tenant")?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    Ok((Arc::new(identity), tenant, db))
}

/// Maps validation and conflicts to exit code 2 with the service's message.
fn identity_failure(e: cairn_identity::IdentityError) -> Failure {
    use cairn_identity::IdentityError as E;
    match e {
        E::Validation(v) => usage(format!("--{}: {}", v.field.replace('_', "-"), v.message)),
        E::Conflict(m) => usage(m),
        E::NotFound(what) => usage(format!("no such {what}")),
        other => Failure::from(anyhow::Error::from(other)),
    }
}
