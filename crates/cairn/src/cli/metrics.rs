//! `cairn metrics`: a tenant's metrics sources and collector runs from the command line.
//! Changes are recorded in the tenant's audit trail with the operating-system user as the
//! actor. A source's token is read from the environment variable `--token-env` names (by
//! default `CAIRN_SOURCE_TOKEN`), never from the command line, where it would stay in the
//! shell's history and the process list.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use cairn_audit::RequestMeta;
use cairn_metrics::collect::run::Collectors;
use cairn_metrics::{Day, Metrics, MetricsError, Run, RunId, RunStatus, Source, SourceId, SourceInput};
use clap::Subcommand;
use serde_json::json;

use super::{Failure, cli_actor, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Sources: GitHub, Jira and git repositories the tenant collects from.
    #[command(subcommand)]
    Source(Box<SourceCommand>),
    /// Queue a run of a source now; with --wait, execute it here and follow it.
    Run {
        #[arg(long)]
        tenant: String,
        /// The source's name or id.
        #[arg(long)]
        source: String,
        /// Read from this date (YYYY-MM-DD, in the metrics time zone) instead of the
        /// trailing reload_days.
        #[arg(long)]
        since: Option<String>,
        /// Execute the run in this process (unless a server's worker took it first) and
        /// show its progress until it ends; exit 1 when it fails.
        #[arg(long)]
        wait: bool,
    },
    /// A source's runs, newest first.
    Runs {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        source: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AddSource {
    #[arg(long)]
    tenant: String,
    #[arg(long, value_parser = ["github", "jira", "git"])]
    kind: String,
    #[arg(long)]
    name: String,
    /// GitHub's REST root or the Jira site.
    #[arg(long)]
    base_url: Option<String>,
    #[arg(long)]
    graphql_url: Option<String>,
    /// `owner/name`; repeat for several.
    #[arg(long = "repository")]
    repositories: Vec<String>,
    #[arg(long)]
    organization: Option<String>,
    /// The Jira account the token belongs to.
    #[arg(long)]
    email: Option<String>,
    /// A Jira board id; repeat for several.
    #[arg(long = "board")]
    boards: Vec<i64>,
    #[arg(long)]
    story_points_field: Option<String>,
    /// A git repository's path on this host or its https URL.
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    branch: Option<String>,
    /// The environment variable holding the token.
    #[arg(long, default_value = "CAIRN_SOURCE_TOKEN")]
    token_env: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SourceCommand {
    /// Add a source; its credentials are tried first.
    Add(Box<AddSource>),
    /// List the tenant's sources.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a source; its collected rows go too.
    Remove {
        #[arg(long)]
        tenant: String,
        /// The source's name or id.
        source: String,
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

/// The tenant's database, the store and the outbound client, for one action.
async fn open(config: &Config, tenant: &str) -> Result<(cairn_store::Store, cairn_store::Db), Failure> {
    let slug = slug(tenant)?;
    let store = startup::open_store(config).await?;
    let tenant = store.tenant_by_slug(&slug).await.context("finding the tenant")?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    Ok((store, db))
}

fn failure(e: MetricsError) -> Failure {
    match e {
        MetricsError::Validation(v) => usage(format!("--{}: {}", v.field.replace('_', "-"), v.message)),
        MetricsError::Conflict(m) => usage(m),
        MetricsError::NotFound(what) => usage(format!("no such {what}")),
        other => Failure::from(anyhow::Error::from(other)),
    }
}

/// The live source named `which` (its name, any case, or its id).
async fn find(metrics: &Metrics<'_>, which: &str) -> Result<Source, Failure> {
    let all = metrics.sources().await.map_err(failure)?;
    all.into_iter()
        .filter(|s| !s.deleting)
        .find(|s| s.id == which || s.name.eq_ignore_ascii_case(which))
        .ok_or_else(|| usage(format!("no source named {which:?}; see `cairn metrics source list`")))
}

fn source_json(s: &Source) -> serde_json::Value {
    json!({
        "id": s.id, "kind": s.kind.as_str(), "name": s.name, "base_url": s.base_url, "graphql_url": s.graphql_url,
        "organization": s.organization, "repositories": s.repositories, "email": s.email, "boards": s.boards,
        "story_points_field": s.story_points_field, "url": s.url, "branch": s.branch, "has_token": s.has_token,
        "created_at": cairn_domain::rfc3339(s.created_at),
    })
}

/// What a source reads, in a few words.
fn reads(s: &Source) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(o) = &s.organization {
        parts.push(format!("org {o}"));
    }
    parts.extend(s.repositories.iter().cloned());
    parts.extend(s.boards.iter().map(|b| format!("board {b}")));
    if let Some(u) = &s.url {
        parts.push(u.clone());
    }
    if parts.is_empty() && s.kind == cairn_metrics::SourceKind::Jira {
        parts.push("every board".into());
    }
    parts.join(", ")
}

fn run_json(r: &Run) -> serde_json::Value {
    json!({
        "id": r.id, "source": r.source_id, "status": r.status.as_str(),
        "trigger": r.trigger_key.split(':').next().unwrap_or("manual"),
        "created_at": cairn_domain::rfc3339(r.created_at),
        "started_at": r.started_at.map(cairn_domain::rfc3339),
        "finished_at": r.finished_at.map(cairn_domain::rfc3339),
        "counts": r.counts, "requests": r.requests, "rate_limit_waits": r.rate_limit_waits, "error": r.error,
    })
}

/// `commits +120 ~3 -1, comments +40`: what a run changed so far.
fn summary(r: &Run) -> String {
    let parts: Vec<String> = r
        .counts
        .iter()
        .filter(|(_, c)| c.new + c.changed + c.removed > 0)
        .map(|(t, c)| format!("{t} +{} ~{} -{}", c.new, c.changed, c.removed))
        .collect();
    let changed = if parts.is_empty() { "no changes".to_owned() } else { parts.join(", ") };
    format!("{changed}; {} requests, {} rate-limit waits", r.requests, r.rate_limit_waits)
}

pub(super) async fn run(config: Config, cmd: MetricsCommand) -> Result<(), Failure> {
    let meta = RequestMeta::default();
    match cmd {
        MetricsCommand::Source(source) => source_command(config, *source, &meta).await,
        MetricsCommand::Runs { tenant, source, limit, json } => {
            let (_, db) = open(&config, &tenant).await?;
            let metrics = Metrics { db: &db };
            let id = match &source {
                Some(which) => Some(
                    SourceId::parse(&find(&metrics, which).await?.id, "source").map_err(|e| usage(e.to_string()))?,
                ),
                None => None,
            };
            let runs = metrics.runs(id.as_ref(), limit.clamp(1, 500), None).await.map_err(failure)?;
            if json {
                println!("{}", serde_json::Value::Array(runs.items.iter().map(run_json).collect()));
            } else {
                println!("{:<36}  {:<9}  {:<24}  SUMMARY", "ID", "STATUS", "CREATED");
                for r in &runs.items {
                    println!(
                        "{:<36}  {:<9}  {:<24}  {}",
                        r.id,
                        r.status.as_str(),
                        cairn_domain::rfc3339(r.created_at),
                        summary(r)
                    );
                }
            }
            Ok(())
        }
        MetricsCommand::Run { tenant, source, since, wait } => {
            let (store, db) = open(&config, &tenant).await?;
            let metrics = Metrics { db: &db };
            let s = find(&metrics, &source).await?;
            let id = SourceId::parse(&s.id, "source").map_err(|e| usage(e.to_string()))?;
            let since = since
                .map(|d| Day::parse(&d, "since"))
                .transpose()
                .map_err(|e| usage(format!("--since: {}", e.message)))?;
            let run = metrics.request_run(&id, since, &cli_actor(), &meta).await.map_err(|e| match e {
                MetricsError::Validation(v) if v.field == "since" => usage(format!("--since: {}", v.message)),
                e => failure(e),
            })?;
            if !wait {
                println!("run {} of {} queued", run.id, s.name);
                return Ok(());
            }
            let run_id = RunId::parse(&run.id, "run").map_err(|e| usage(e.to_string()))?;
            let outbound = cairn_outbound::Outbound::new(config.outbound);
            let owner = format!("cli:{}:{}", crate::config::host_name(), std::process::id());
            let collectors = Collectors::new(store.clone(), outbound, &owner, config.data_dir.join("git"));
            let work = async {
                // Runs of the tenant that are due, ours among them (a server's worker may
                // hold ours; then this only watches).
                loop {
                    match collectors.run_due(&db).await {
                        Ok(0) => tokio::time::sleep(Duration::from_secs(1)).await,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "claiming runs failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            };
            let done = tokio::select! {
                done = follow(&metrics, &run_id, &s.name) => done?,
                () = work => unreachable!("the work loop never ends"),
            };
            match done.status {
                RunStatus::Succeeded => Ok(()),
                _ => Err(Failure::from(anyhow::anyhow!(
                    "the run failed: {}",
                    done.error.as_deref().unwrap_or("no reason recorded")
                ))),
            }
        }
    }
}

/// Shows the run's progress until it ends: a spinner on a terminal, a line per change
/// otherwise.
async fn follow(metrics: &Metrics<'_>, id: &RunId, source: &str) -> Result<Run, Failure> {
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {prefix}: {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_prefix(source.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last = String::new();
    loop {
        let run = metrics.run(id).await.map_err(failure)?;
        let line = format!("{}: {}", run.status.as_str(), summary(&run));
        if line != last {
            match &bar {
                Some(b) => b.set_message(line.clone()),
                None => eprintln!("{source}: {line}"),
            }
            last = line;
        }
        if matches!(run.status, RunStatus::Succeeded | RunStatus::Failed) {
            if let Some(b) = bar {
                b.finish_with_message(last);
            }
            println!("run {} {}", run.id, run.status.as_str());
            return Ok(run);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn source_command(config: Config, cmd: SourceCommand, meta: &RequestMeta) -> Result<(), Failure> {
    match cmd {
        SourceCommand::Add(add) => {
            let AddSource {
                tenant,
                kind,
                name,
                base_url,
                graphql_url,
                repositories,
                organization,
                email,
                boards,
                story_points_field,
                url,
                branch,
                token_env,
                json,
            } = *add;
            let token = std::env::var(&token_env).ok().filter(|t| !t.is_empty());
            if kind != "git" && token.is_none() {
                return Err(usage(format!("set the source's token in ${token_env}")));
            }
            let (store, db) = open(&config, &tenant).await?;
            let outbound = cairn_outbound::Outbound::new(config.outbound);
            let input = SourceInput {
                kind,
                name,
                base_url,
                graphql_url,
                token,
                repositories,
                organization,
                email,
                boards,
                story_points_field,
                url,
                branch,
            };
            let s = Metrics { db: &db }
                .create_source(store.master_key(), &outbound, input, &cli_actor(), meta)
                .await
                .map_err(failure)?;
            if json {
                println!("{}", source_json(&s));
            } else {
                println!("source {} ({}) added: {}", s.name, s.id, reads(&s));
            }
            Ok(())
        }
        SourceCommand::List { tenant, json } => {
            let (_, db) = open(&config, &tenant).await?;
            let all: Vec<Source> =
                Metrics { db: &db }.sources().await.map_err(failure)?.into_iter().filter(|s| !s.deleting).collect();
            if json {
                println!("{}", serde_json::Value::Array(all.iter().map(source_json).collect()));
            } else {
                println!("{:<36}  {:<6}  {:<24}  READS", "ID", "KIND", "NAME");
                for s in &all {
                    println!("{:<36}  {:<6}  {:<24}  {}", s.id, s.kind.as_str(), s.name, reads(s));
                }
            }
            Ok(())
        }
        SourceCommand::Remove { tenant, source, yes } => {
            if !yes {
                return Err(usage("removing a source deletes its collected rows; confirm with --yes"));
            }
            let (_, db) = open(&config, &tenant).await?;
            let metrics = Metrics { db: &db };
            let s = find(&metrics, &source).await?;
            let id = SourceId::parse(&s.id, "source").map_err(|e| usage(e.to_string()))?;
            metrics.delete_source(&id, &cli_actor(), meta).await.map_err(failure)?;
            // Its rows go now rather than at a worker's next round.
            let removed = cairn_metrics::collect::run::purge_deleted(&db).await.map_err(failure)?;
            println!("source {} removed with {removed} collected rows", s.name);
            Ok(())
        }
    }
}
