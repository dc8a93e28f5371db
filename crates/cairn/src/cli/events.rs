//! `cairn events`: a tenant's dead letters from the command line. Replays and discards are
//! recorded in the tenant's audit trail with the operating-system user as the actor.

use anyhow::Context;
use cairn_audit::RequestMeta;
use cairn_events::{DeadSelection, EventsError};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{Failure, cli_actor, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Deliveries that exhausted their attempts.
    #[command(subcommand)]
    Dead(DeadCommand),
}

#[derive(Debug, Subcommand)]
pub enum DeadCommand {
    /// List dead letters, most recent first.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Queue dead letters again with a fresh attempt budget.
    Replay(Which),
    /// Give up on dead letters for good.
    Discard(Which),
}

#[derive(Debug, Args)]
pub struct Which {
    #[arg(long)]
    tenant: String,
    /// The dead letter's id (from `list`).
    #[arg(conflicts_with = "all")]
    id: Option<String>,
    /// Every dead letter of the tenant.
    #[arg(long)]
    all: bool,
}

pub(crate) async fn run(config: Config, cmd: EventsCommand) -> Result<(), Failure> {
    let EventsCommand::Dead(cmd) = cmd;
    let tenant = match &cmd {
        DeadCommand::List { tenant, .. }
        | DeadCommand::Replay(Which { tenant, .. })
        | DeadCommand::Discard(Which { tenant, .. }) => slug(tenant)?,
    };
    let store = startup::open_store(&config).await?;
    let tenant = store.tenant_by_slug(&tenant).await.context("finding the tenant")?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    let failure = |e: EventsError| match e {
        EventsError::NotFound(what) => usage(format!("no such {what}")),
        other => Failure::from(anyhow::Error::from(other)),
    };
    let meta = RequestMeta::default();
    match cmd {
        DeadCommand::List { limit, json, .. } => {
            let dead = cairn_events::dead_letters(&db, limit.clamp(1, 10_000)).await.map_err(failure)?;
            if json {
                let items: Vec<_> = dead
                    .iter()
                    .map(|d| {
                        json!({"id": d.id, "event_id": d.event_id, "event_type": d.event_type, "consumer": d.consumer,
                               "attempts": d.attempts, "last_error": d.last_error,
                               "failed_at": cairn_domain::rfc3339(d.failed_at)})
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else if dead.is_empty() {
                println!("no dead letters in {}", tenant.slug);
            } else {
                for d in &dead {
                    println!(
                        "{}  {}  {:<18} {:<40} attempts={} {}",
                        d.id,
                        cairn_domain::rfc3339(d.failed_at),
                        d.event_type,
                        d.consumer,
                        d.attempts,
                        d.last_error.as_deref().unwrap_or("")
                    );
                }
            }
        }
        DeadCommand::Replay(w) | DeadCommand::Discard(w) if w.id.is_none() && !w.all => {
            return Err(usage("name a dead letter id or --all"));
        }
        DeadCommand::Replay(w) => {
            let n = cairn_events::replay(&db, &selection(w)?, &cli_actor(), &meta).await.map_err(failure)?;
            cairn_events::Bus::new(store.control().clone()).committed(tenant.id).await;
            println!("{n} queued again");
        }
        DeadCommand::Discard(w) => {
            let n = cairn_events::discard(&db, &selection(w)?, &cli_actor(), &meta).await.map_err(failure)?;
            println!("{n} discarded");
        }
    }
    store.close().await;
    Ok(())
}

fn selection(w: Which) -> Result<DeadSelection, Failure> {
    match w.id {
        Some(id) if !w.all => {
            // An id that cannot exist names no dead letter.
            cairn_events::DeliveryId::parse(&id, "id").map(DeadSelection::One).map_err(|_| usage("no such dead letter"))
        }
        _ => Ok(DeadSelection::All),
    }
}
