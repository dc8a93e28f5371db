//! `cairn token issue`: access tokens for automation, each recorded in the platform audit
//! trail (who it names and grants, never the token).

use anyhow::Context;
use cairn_domain::Role;
use cairn_identity::AccessGrant;
use clap::{Args, Subcommand};

use super::{Failure, record_cli, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print an access token.
    Issue(TokenArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["tenant", "operator"])))]
pub struct TokenArgs {
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

pub(super) async fn issue(config: Config, args: TokenArgs) -> Result<(), Failure> {
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
    let issuer = config.issuer(config.listen);
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
