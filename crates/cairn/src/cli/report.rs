//! `cairn report run`: renders a report of a tenant to a PDF file, from the same figures the
//! dashboards and the audit API read.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_domain::now_ms;
use cairn_metrics::Metrics;
use cairn_metrics::figures::{DEFAULT_WEEKS, Granularity, Window};
use cairn_reports::jobs::{JobRequest, Kind};
use cairn_reports::{Fonts, Letterhead, ReportError, Sources, build, render};
use clap::Subcommand;

use super::{Failure, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Render a report to a PDF file (A4, tagged, PDF/A-2b).
    Run {
        #[arg(long)]
        tenant: String,
        /// `team` (a team's engineering metrics, with `--team`), `audit` (the audit trail) or
        /// `instances` (every cloud instance's state and average CPU).
        #[arg(long, value_parser = ["team", "audit", "instances"])]
        kind: String,
        /// The team's id, for `--kind team`.
        #[arg(long)]
        team: Option<String>,
        /// The first local day (`YYYY-MM-DD`); with `--to`, a half-open window in the
        /// tenant's zone. Default: the last 12 ISO weeks, this one included.
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// The day after the last one.
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Where to write the PDF.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

pub(super) async fn run(config: Config, cmd: ReportCommand) -> Result<(), Failure> {
    let ReportCommand::Run { tenant, kind, team, from, to, out } = cmd;
    let kind = Kind::parse(&kind).map_err(|e| usage(format!("--kind {}", e.message)))?;
    match (kind, &team) {
        (Kind::Team, None) => return Err(usage("--team is required for a team report")),
        (Kind::Audit | Kind::Instances, Some(_)) => return Err(usage("--team is only for a team report")),
        _ => {}
    }
    let slug = slug(&tenant)?;
    let store = startup::open_store(&config).await?;
    let tenant = store.tenant_by_slug(&slug).await.context("finding the tenant")?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    let metrics = Metrics { db: &db };
    let settings = metrics.settings().await.context("reading the metrics settings")?;
    let zone = settings.time_zone.zone().clone();
    let window = match (&from, &to) {
        (Some(f), Some(t)) => Window::parse(f, t, None).map_err(|e| usage(format!("--{}: {}", e.field, e.message)))?,
        _ => Window::last_weeks(zone.day(now_ms()), DEFAULT_WEEKS, Granularity::Week),
    };
    let (identity, _) = startup::identity(&config, &store, &config.public_url(config.listen)).await?;
    let head = Letterhead::read(&identity, &tenant, &db).await.context("reading the tenant's settings")?;
    let (tokens, _) = startup::tokens(&store, config.issuer(config.listen)).await?;
    let cloud = startup::cloud(&config, identity.outbound.clone());

    let started = Instant::now();
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let step = |what: &str| match &spinner {
        Some(s) => s.set_message(what.to_owned()),
        None => eprintln!("report: {what}"),
    };
    step("reading the figures");
    let now = now_ms();
    let request = JobRequest { kind, team_id: team, from: window.from, to: window.to };
    let sources = Sources { tenant: &tenant, db: &db, signer: &tokens, cloud: &cloud, key: store.master_key() };
    let report = build(&request, &sources, &head, now).await.map_err(|e| match e {
        ReportError::NotFound(_) => usage(e.to_string()),
        other => Failure::from(anyhow::Error::from(other)),
    })?;
    step("rendering");
    let rendered = render(&report, &Fonts::load()).context("rendering the PDF")?;
    std::fs::write(&out, &rendered.pdf).with_context(|| format!("writing {}", out.display()))?;
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    println!(
        "{} report of {} written to {}: {} pages, {} bytes, in {:.1} s",
        kind.as_str(),
        report.period,
        out.display(),
        rendered.pages,
        rendered.pdf.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
