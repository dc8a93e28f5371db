//! `cairn config show`: the effective configuration, where each value came from, secrets
//! redacted.

use std::io::Write;

use clap::Subcommand;

use super::Failure;
use crate::config::Layers;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration, secrets redacted.
    Show,
}

/// Runs before the rest of the CLI needs a parsed configuration: it validates the layers
/// (a bad value still exits 2) and prints them.
pub(super) fn run(layers: &Layers, cmd: &ConfigCommand) -> Result<(), Failure> {
    let ConfigCommand::Show = cmd;
    layers.parse().map_err(anyhow::Error::from)?;
    let mut out = std::io::stdout().lock();
    for (name, env, value, source) in layers.show() {
        let source = source.map(|s| s.as_str()).unwrap_or("-");
        let _ = writeln!(out, "{name:<26} {value:<40} # {env}, from {source}");
    }
    Ok(())
}
