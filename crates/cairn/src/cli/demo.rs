//! `cairn demo seed`: writes the demo organization into a tenant's metrics tables (see
//! `cairn_metrics::demo`), so dashboards and benchmarks have data without any upstream. The
//! seed is recorded in the tenant's audit trail with the operating-system user as the actor.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_audit::RequestMeta;
use cairn_metrics::demo::{OrgSize, SeedProgress};
use cairn_metrics::{Metrics, MetricsError};
use clap::Subcommand;

use super::{Failure, cli_actor, slug, usage};
use crate::config::Config;
use crate::startup;

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write a realistic engineering organization into the tenant's metrics tables: teams,
    /// two demo sources and every collected row. Seeding again changes nothing; a tenant
    /// with sources of its own is refused.
    Seed {
        #[arg(long)]
        tenant: String,
        /// `small` (8 engineers, 120 days) or `bench` (200 engineers, 25 teams, 300
        /// repositories, three years).
        #[arg(long, default_value = "small", value_parser = ["small", "bench"])]
        size: String,
        /// The seed the organization is drawn from.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

pub(super) async fn run(config: Config, cmd: DemoCommand) -> Result<(), Failure> {
    let DemoCommand::Seed { tenant, size, seed } = cmd;
    let size = OrgSize::parse(&size).ok_or_else(|| usage("--size: small or bench"))?;
    let slug = slug(&tenant)?;
    let store = startup::open_store(&config).await?;
    let tenant = store.tenant_by_slug(&slug).await.context("finding the tenant")?;
    let db = store.tenant_db(tenant.id).await.context("opening the tenant database")?;
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let bar = terminal.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} rows {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    // Plain lines: one per tenth of the rows.
    let mut reported = 0;
    let mut show = |p: SeedProgress<'_>| match &bar {
        Some(b) => {
            b.set_length(p.total);
            b.set_position(p.done);
            b.set_message(p.step.to_owned());
        }
        None => {
            let tenth = (p.done * 10).checked_div(p.total).unwrap_or(10);
            if p.done == 0 || tenth > reported {
                reported = tenth;
                eprintln!("demo: {}/{} rows ({})", p.done, p.total, p.step);
            }
        }
    };
    let report = Metrics { db: &db }
        .seed_demo(seed, size, &cli_actor(), &RequestMeta::default(), &mut show)
        .await
        .map_err(|e| match e {
            MetricsError::Conflict(m) => usage(m),
            other => Failure::from(anyhow::Error::from(other)),
        })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let tables: Vec<String> =
        report.counts.iter().map(|(t, c)| format!("{t} +{} ~{} ={}", c.new, c.changed, c.unchanged)).collect();
    println!(
        "demo organization (seed {seed}, {}) {} in {:.1} s: {} teams created; {}",
        size.as_str(),
        if report.changed() { "seeded" } else { "already there, nothing changed" },
        started.elapsed().as_secs_f64(),
        report.teams_created,
        tables.join(", ")
    );
    Ok(())
}
