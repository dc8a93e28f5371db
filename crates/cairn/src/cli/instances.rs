//! `cairn instances`: a tenant's EC2 instances from the command line, as the console lists
//! them, and a reboot, recorded in the tenant's audit trail with the operating-system user as
//! the actor.

use anyhow::Context;
use cairn_audit::RequestMeta;
use cairn_instances::{InstanceAction, Instances, InstancesError, ListFilter};
use clap::Subcommand;

use super::{Failure, cli_actor, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// List the instances of every account and region the tenant connected.
    List {
        #[arg(long)]
        tenant: String,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Reboot an instance, named by its id (unique across the tenant's accounts) or as
    /// `account/region/id`.
    Reboot {
        #[arg(long)]
        tenant: String,
        instance: String,
    },
}

fn failure(e: InstancesError) -> Failure {
    match e {
        InstancesError::NotFound(_) | InstancesError::Aws { error: cairn_instances::AwsError::NotFound { .. }, .. } => {
            usage("Instance not found")
        }
        InstancesError::Validation(v) => usage(v.to_string()),
        InstancesError::Conflict(m) => usage(m),
        other => Failure::from(anyhow::Error::from(other)),
    }
}

pub(super) async fn run(config: Config, cmd: InstancesCommand) -> Result<(), Failure> {
    let tenant = match &cmd {
        InstancesCommand::List { tenant, .. } | InstancesCommand::Reboot { tenant, .. } => slug(tenant)?,
    };
    let store = startup::open_store(&config).await?;
    let tenant = store.tenant_by_slug(&tenant).await.context("finding the tenant")?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    let cloud = startup::cloud(&config, cairn_outbound::Outbound::new(config.outbound));
    let tenant_id = tenant.id.to_string();
    let console = Instances { db: &db, tenant: &tenant_id, cloud: &cloud, key: store.master_key() };
    match cmd {
        InstancesCommand::List { json, .. } => {
            let listing = console.list(&ListFilter::default(), true).await.map_err(failure)?;
            for u in &listing.unavailable {
                eprintln!("{}/{}: not listed: {}", u.account, u.region, u.error);
            }
            if json {
                for i in listing.iter() {
                    let line = serde_json::json!({
                        "id": i.id, "account": i.account, "region": i.region, "name": i.name, "state": i.state,
                        "type": i.instance_type, "launched_at": i.launched_at.map(cairn_domain::rfc3339),
                        "private_ip": i.private_ip, "public_ip": i.public_ip, "tags": i.tags,
                    });
                    println!("{line}");
                }
            } else {
                println!("{:<20} {:<12} {:<15} {:<14} {:<12} NAME", "ID", "ACCOUNT", "REGION", "STATE", "TYPE");
                for i in listing.iter() {
                    println!(
                        "{:<20} {:<12} {:<15} {:<14} {:<12} {}",
                        i.id,
                        i.account,
                        i.region,
                        i.state,
                        i.instance_type,
                        i.name.as_deref().unwrap_or("-")
                    );
                }
            }
            if listing.none_answered() {
                return Err(Failure::from(anyhow::anyhow!("no account answered")));
            }
            Ok(())
        }
        InstancesCommand::Reboot { instance, .. } => {
            let target = match instance.splitn(3, '/').collect::<Vec<_>>().as_slice() {
                [account, region, id] => cairn_instances::Target {
                    account: (*account).to_owned(),
                    region: (*region).to_owned(),
                    id: (*id).to_owned(),
                },
                [id] => console.locate(id).await.map_err(failure)?,
                _ => return Err(usage("name the instance by its id or as account/region/id")),
            };
            let meta = RequestMeta { user_agent: Some("cairn-cli".into()), ..RequestMeta::default() };
            console.act(InstanceAction::Reboot, &target, &cli_actor(), &meta).await.map_err(failure)?;
            println!("reboot of {} ({}/{}) accepted", target.id, target.account, target.region);
            Ok(())
        }
    }
}
