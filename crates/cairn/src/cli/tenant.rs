//! `cairn tenant`: create, list, show and delete tenants. Each change is recorded in the
//! platform audit trail.

use anyhow::Context;
use cairn_domain::TenantSlug;
use cairn_identity::Email;
use clap::Subcommand;

use super::{Failure, record_cli, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
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

/// A tenant command with its arguments parsed, before any data is touched.
enum Action {
    Create { slug: TenantSlug, name: Option<String>, placement: Option<String>, admin: Option<Email>, json: bool },
    List { json: bool },
    Show { slug: TenantSlug, json: bool },
    Delete { slug: TenantSlug },
}

impl Action {
    fn parse(cmd: TenantCommand) -> Result<Action, Failure> {
        Ok(match cmd {
            TenantCommand::Delete { yes: false, .. } => {
                return Err(usage("tenant delete destroys the tenant's data; pass --yes to confirm"));
            }
            TenantCommand::Create { slug: s, name, placement, admin_email, json } => Action::Create {
                slug: slug(&s)?,
                name,
                placement,
                admin: admin_email
                    .map(|e| Email::parse(&e).map_err(|e| usage(format!("--admin-email: {}", e.message))))
                    .transpose()?,
                json,
            },
            TenantCommand::List { json } => Action::List { json },
            TenantCommand::Show { slug: s, json } => Action::Show { slug: slug(&s)?, json },
            TenantCommand::Delete { slug: s, yes: true } => Action::Delete { slug: slug(&s)? },
        })
    }
}

pub(super) async fn run(config: Config, cmd: TenantCommand) -> Result<(), Failure> {
    let action = Action::parse(cmd)?;
    let store = startup::open_store(&config).await?;
    let result = match action {
        Action::Create { slug: s, name, placement, admin, json } => {
            let name = name.unwrap_or_else(|| s.to_string());
            let t = store.create_tenant(&s, &name, placement.as_deref()).await.map_err(|e| match e {
                cairn_store::StoreError::Placement(m) => usage(format!("--placement: {m}")),
                other => Failure::from(anyhow::Error::from(other)),
            })?;
            record_platform(&store, "tenant.created", &t).await?;
            print_tenant(&t, json);
            match admin {
                Some(email) => super::user::invite_first_admin(&config, &store, &t, email).await,
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
        Action::List { json } => {
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
        Action::Show { slug: s, json } => {
            let t = store.tenant_by_slug(&s).await.context("finding the tenant")?;
            print_tenant(&t, json);
            Ok(())
        }
        Action::Delete { slug: s } => {
            let t = store.delete_tenant(&s).await.context("deleting the tenant")?;
            record_platform(&store, "tenant.deleted", &t).await?;
            println!("deleted tenant {} and its database", t.slug);
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn record_platform(
    store: &cairn_store::Store,
    action: &'static str,
    tenant: &cairn_store::Tenant,
) -> Result<(), Failure> {
    let details = serde_json::json!({"slug": tenant.slug, "via": "cli"});
    record_cli(store, action, Some(("tenant", tenant.id.to_string())), details).await
}
