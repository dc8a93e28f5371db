//! `cairn user`: a tenant's accounts from the command line, for operators and automation.
//! Changes are recorded in the tenant's audit trail with the operating-system user as the
//! actor.

use std::sync::Arc;

use anyhow::Context;
use cairn_audit::RequestMeta;
use cairn_domain::Role;
use cairn_identity::{Email, Identity, NewUser, User};
use clap::Subcommand;
use serde_json::json;

use super::{Failure, cli_actor, identity_failure, open, roles, usage};
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

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id, "email": u.email, "given_name": u.given_name, "family_name": u.family_name,
        "status": u.status.as_str(), "roles": u.roles, "created_at": cairn_domain::rfc3339(u.created_at),
    })
}

/// `tenant create --admin-email`: invites the new tenant's first admin and mails them.
pub(super) async fn invite_first_admin(
    config: &Config,
    store: &cairn_store::Store,
    tenant: &cairn_store::Tenant,
    email: Email,
) -> Result<(), Failure> {
    let new = NewUser { email, given_name: String::new(), family_name: String::new(), roles: vec![Role::Admin] };
    let (identity, _) = startup::identity(config, store, &config.public_url(config.listen)).await?;
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
    // Every consumer a server has, report mail included: this run dispatches whatever events
    // are pending, and an event is dispatched once, to the consumers its dispatcher knows.
    let reports = match startup::report_store(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("the invitation to {} is queued; a running Cairn sends it ({e:#})", user.email);
            return;
        }
    };
    let worker = cairn_events::Worker::new(
        identity.store.clone(),
        bus,
        startup::consumers(identity.clone(), reports),
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

pub(super) async fn run(config: Config, cmd: UserCommand) -> Result<(), Failure> {
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
