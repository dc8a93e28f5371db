//! `cairn migrate`: every database brought to this build's migrations, interrupted tenant
//! creations and deletions finished.

use anyhow::Context;

use super::Failure;
use crate::config::Config;
use crate::startup;

pub(super) async fn run(config: Config) -> Result<(), Failure> {
    let store = startup::open_store(&config).await?;
    eprintln!("control database: migrated");
    let report = store
        .migrate_all(|e| match e {
            cairn_store::MigrateEvent::Tenant { slug, applied, done, total } => {
                eprintln!("[{done}/{total}] {slug}: {applied} migration(s) applied")
            }
            cairn_store::MigrateEvent::Repaired { slug, action } => eprintln!("{slug}: {action}"),
            cairn_store::MigrateEvent::Control { applied } => eprintln!("control: {applied} applied"),
        })
        .await
        .context("migrating")?;
    println!(
        "{} tenant(s) migrated, {} migration(s) applied, {} repaired, {} problem(s)",
        report.tenants,
        report.applied,
        report.repaired.len(),
        report.problems.len()
    );
    for p in &report.problems {
        println!("problem: {p}");
    }
    store.close().await;
    if report.problems.is_empty() { Ok(()) } else { Err(anyhow::anyhow!("some tenants need attention").into()) }
}
