//! `cairn audit`: verify, checkpoint and export a tenant's or the platform's audit trail.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::{Failure, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("trail").required(true).args(["tenant", "platform"])))]
pub struct TrailArgs {
    /// A tenant's trail.
    #[arg(long)]
    tenant: Option<String>,
    /// The platform's trail (tenant lifecycle, operator calls).
    #[arg(long)]
    platform: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
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

pub(super) async fn run(config: Config, cmd: AuditCommand) -> Result<(), Failure> {
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
    let (tokens, _) = startup::tokens(&store, config.issuer(config.listen)).await?;
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
