//! `cairn client`: a tenant's OpenID Connect clients (relying parties) from the command
//! line. Changes are recorded in the tenant's audit trail with the operating-system user as
//! the actor.

use cairn_audit::RequestMeta;
use cairn_identity::{Client, NewClient};
use clap::Subcommand;
use serde_json::json;

use super::{Failure, cli_actor, identity_failure, open, roles, usage};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an OpenID Connect client; prints its id (and secret, once).
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// Exact-match redirect URI (https, or http on loopback); repeat for several.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Where logout may return to; repeat for several.
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// No secret: the client uses PKCE (single-page and native apps).
        #[arg(long)]
        public: bool,
        /// A service client (client_credentials) acting with this role.
        #[arg(long, value_parser = ["admin", "member", "readonly"])]
        service_role: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's clients.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a confidential client a new secret; the old one stops working.
    RotateSecret {
        #[arg(long)]
        tenant: String,
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and revoke its refresh tokens.
    Delete {
        #[arg(long)]
        tenant: String,
        client_id: String,
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

fn client_json(c: &Client, secret: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "client_id": c.client_id, "name": c.name, "public": c.public, "service_role": c.service_role,
        "redirect_uris": c.redirect_uris, "post_logout_redirect_uris": c.post_logout_uris,
        "created_at": cairn_domain::rfc3339(c.created_at),
    });
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    v
}

pub(super) async fn run(config: Config, cmd: ClientCommand) -> Result<(), Failure> {
    let meta = RequestMeta::default();
    match cmd {
        ClientCommand::Create { tenant, name, redirect_uris, post_logout_uris, public, service_role, json } => {
            let service_role = service_role.map(|r| roles(&[r])).transpose()?.and_then(|v| v.into_iter().next());
            let new = NewClient { name, redirect_uris, post_logout_uris, public, service_role };
            let (identity, tenant, db) = open(&config, &tenant).await?;
            let (c, secret) =
                identity.create_client(&tenant, &db, new, &cli_actor(), &meta).await.map_err(identity_failure)?;
            if json {
                println!("{}", client_json(&c, secret.as_deref()));
            } else {
                println!("client_id:     {}", c.client_id);
                if let Some(s) = &secret {
                    println!("client_secret: {s}\n\nThe secret is shown once; store it now.");
                }
            }
            Ok(())
        }
        ClientCommand::List { tenant, json } => {
            let (identity, _, db) = open(&config, &tenant).await?;
            let all = identity.list_clients(&db).await.map_err(identity_failure)?;
            if json {
                println!("{}", serde_json::Value::Array(all.iter().map(|c| client_json(c, None)).collect()));
            } else {
                println!("{:<56} {:<12} NAME", "CLIENT ID", "TYPE");
                for c in &all {
                    let kind = match (c.public, c.service_role) {
                        (_, Some(_)) => "service",
                        (true, None) => "public",
                        (false, None) => "confidential",
                    };
                    println!("{:<56} {:<12} {}", c.client_id, kind, c.name);
                }
            }
            Ok(())
        }
        ClientCommand::RotateSecret { tenant, client_id, json } => {
            let (identity, _, db) = open(&config, &tenant).await?;
            let secret =
                identity.rotate_client_secret(&db, &client_id, &cli_actor(), &meta).await.map_err(identity_failure)?;
            if json {
                println!("{}", json!({"client_id": client_id, "client_secret": secret}));
            } else {
                println!("client_secret: {secret}\n\nThe secret is shown once; the old one no longer works.");
            }
            Ok(())
        }
        ClientCommand::Delete { tenant, client_id, yes } => {
            if !yes {
                return Err(usage("client delete revokes everything the client holds; pass --yes to confirm"));
            }
            let (identity, _, db) = open(&config, &tenant).await?;
            identity.delete_client(&db, &client_id, &cli_actor(), &meta).await.map_err(identity_failure)?;
            println!("deleted client {client_id}");
            Ok(())
        }
    }
}
