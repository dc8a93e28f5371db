//! `cairn user`, `cairn client` and `cairn mail`: a tenant's accounts and relying parties
//! from the command line, for operators and automation. Changes are recorded in the
//! tenant's audit trail with the operating-system user as the actor.

use std::sync::Arc;

use anyhow::Context;
use cairn_audit::RequestMeta;
use cairn_domain::Role;
use cairn_identity::{Client, Email, Identity, NewClient, NewUser, User};
use clap::Subcommand;
use serde_json::json;

use crate::cli::{Failure, cli_actor, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; they are mailed an invitation with a temporary password.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        /// Repeat for several roles; none means the tenant's default role.
        #[arg(long = "role", value_parser = ["admin", "member", "readonly"])]
        roles: Vec<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (as Cognito's admin-set-user-password). Without --permanent
    /// the user must change it at next sign-in.
    SetPassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        permanent: bool,
    },
    /// List a tenant's users.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

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

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the messages the file transport wrote (CAIRN_MAIL_URL=file://…), oldest first.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn roles(raw: &[String]) -> Result<Vec<Role>, Failure> {
    raw.iter().map(|r| r.parse().map_err(|e: cairn_domain::ValidationError| usage(e.to_string()))).collect()
}

/// The identity service, a tenant and its database, for one CLI action.
async fn open(config: &Config, tenant: &str) -> Result<(Arc<Identity>, cairn_store::Tenant, cairn_store::Db), Failure> {
    let slug = slug(tenant)?;
    let store = startup::open_store(config).await?;
    let (identity, _) = startup::identity(config, &store, config.public_url(config.listen)).await?;
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

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id, "email": u.email, "given_name": u.given_name, "family_name": u.family_name,
        "status": u.status.as_str(), "roles": u.roles, "created_at": cairn_domain::rfc3339(u.created_at),
    })
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

/// `tenant create --admin-email`: invites the new tenant's first admin and mails them.
pub(crate) async fn invite_first_admin(
    config: &Config,
    store: &cairn_store::Store,
    tenant: &cairn_store::Tenant,
    email: &str,
) -> Result<(), Failure> {
    let new = NewUser {
        email: Email::parse(email).map_err(|e| usage(format!("--admin-email: {}", e.message)))?,
        given_name: String::new(),
        family_name: String::new(),
        roles: vec![Role::Admin],
    };
    let (identity, _) = startup::identity(config, store, config.public_url(config.listen)).await?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    let (user, invitation) = identity
        .create_user(tenant, &db, new, &cli_actor(), &RequestMeta::default())
        .await
        .map_err(identity_failure)?;
    report_invitation(config, &Arc::new(identity), tenant, &db, &user, &invitation).await;
    Ok(())
}

/// Delivers the invitation queued in the tenant's outbox now, as a server's worker would
/// (the CLI is one more process that may run deliveries), and says on standard error
/// whether it went out. When the mail server does not answer, the delivery stays queued
/// and a running Cairn retries it.
async fn report_invitation(
    config: &Config,
    identity: &Arc<Identity>,
    tenant: &cairn_store::Tenant,
    db: &cairn_store::Db,
    user: &User,
    invitation: &cairn_identity::Invitation,
) {
    let Some(event) = &invitation.mail_event else { return };
    let bus = identity.tokens.revocations().bus().clone();
    let worker = cairn_events::Worker::new(
        identity.store.clone(),
        bus,
        startup::consumers(identity.clone()),
        config.events.clone(),
    )
    .with_host(&crate::config::host_name());
    let sent = match worker.run_tenant(tenant.id).await {
        Ok(_) => cairn_events::delivered(db, event, cairn_identity::mail::MAIL_CONSUMER).await.unwrap_or(false),
        Err(_) => false,
    };
    if sent {
        eprintln!("invitation sent to {} through {}", user.email, identity.mailer.describe());
    } else {
        eprintln!(
            "warning: the invitation to {} is queued but not sent yet (the mail server did not take it); \
             a running Cairn retries it, and `cairn events dead --tenant {}` lists it if it gives up",
            user.email, tenant.slug
        );
    }
}

pub(crate) async fn user(config: Config, cmd: UserCommand) -> Result<(), Failure> {
    let meta = RequestMeta::default();
    match cmd {
        UserCommand::Create { tenant, email, roles: r, given_name, family_name, json } => {
            let new = NewUser {
                email: Email::parse(&email).map_err(|e| usage(format!("--email: {}", e.message)))?,
                given_name: given_name.unwrap_or_default(),
                family_name: family_name.unwrap_or_default(),
                roles: roles(&r)?,
            };
            let (identity, tenant, db) = open(&config, &tenant).await?;
            let (user, invitation) =
                identity.create_user(&tenant, &db, new, &cli_actor(), &meta).await.map_err(identity_failure)?;
            if json {
                println!("{}", user_json(&user));
            } else {
                println!("created {} ({}) in {}", user.email, user.id, tenant.slug);
            }
            report_invitation(&config, &identity, &tenant, &db, &user, &invitation).await;
            Ok(())
        }
        UserCommand::SetPassword { tenant, email, password, permanent } => {
            let email = Email::parse(&email).map_err(|e| usage(format!("--email: {}", e.message)))?;
            let (identity, tenant, db) = open(&config, &tenant).await?;
            let user = identity.user_by_email(&db, &email).await.map_err(identity_failure)?;
            let user = identity
                .set_password(tenant.id, &db, &user.id, &password, permanent, &cli_actor(), &meta)
                .await
                .map_err(identity_failure)?;
            println!("password set for {}; status {}", user.email, user.status.as_str());
            Ok(())
        }
        UserCommand::List { tenant, json } => {
            let (identity, _, db) = open(&config, &tenant).await?;
            let mut all = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = identity.list_users(&db, 500, after.as_deref()).await.map_err(identity_failure)?;
                let done = page.len() < 500;
                after = page.last().map(|u| u.id.clone());
                all.extend(page);
                if done {
                    break;
                }
            }
            if json {
                println!("{}", serde_json::Value::Array(all.iter().map(user_json).collect()));
            } else {
                println!("{:<36} {:<22} {:<16} EMAIL", "ID", "STATUS", "ROLES");
                for u in &all {
                    let r: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
                    println!("{:<36} {:<22} {:<16} {}", u.id, u.status.as_str(), r.join(","), u.email);
                }
            }
            Ok(())
        }
    }
}

pub(crate) async fn client(config: Config, cmd: ClientCommand) -> Result<(), Failure> {
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

pub(crate) async fn mail(config: Config, cmd: MailCommand) -> Result<(), Failure> {
    let MailCommand::List { json } = cmd;
    let mailer = startup::mailer(&config, &config.public_url(config.listen))?;
    let Some(dir) = mailer.file_dir() else {
        return Err(usage(format!("mail goes to {}, not to files; nothing to list", mailer.describe())));
    };
    let all = cairn_mail::list_files(dir).with_context(|| format!("reading {}", dir.display()))?;
    if json {
        let items: Vec<_> = all
            .iter()
            .map(|m| json!({"file": m.file.display().to_string(), "date": m.date, "to": m.to, "subject": m.subject}))
            .collect();
        println!("{}", serde_json::Value::Array(items));
    } else {
        for m in &all {
            println!("{}  {:<32} {}\n    {}", m.date, m.to, m.subject, m.file.display());
        }
        if all.is_empty() {
            println!("no mail in {}", dir.display());
        }
    }
    Ok(())
}
