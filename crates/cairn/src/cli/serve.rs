//! `cairn serve`: the server, its start-up banner, and a clean stop on SIGTERM or SIGINT.

use std::io::Write;

use anyhow::Context;
use clap::Args;

use super::Failure;
use crate::config::Config;
use crate::startup::{self, Application};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which duties this process takes on.
    #[arg(long, value_enum, default_value = "all")]
    pub(super) role: startup::Role,
    /// Address to bind (overrides CAIRN_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub(super) listen: Option<String>,
}

pub(super) async fn run(config: Config, role: startup::Role) -> Result<(), Failure> {
    // Handlers go in before anything else, so a signal during start-up is a clean stop too.
    let shutdown = shutdown_signal().context("installing signal handlers")?;
    let app = Application::build(config, role).await?;
    let url = app.public_url().to_owned();
    // One write, before serving starts, so the banner is never interleaved with logs.
    let mut banner = format!("Cairn is listening on {url}\n");
    if let Some(addr) = app.metrics_addr() {
        banner.push_str(&format!("Prometheus metrics on http://{addr}/metrics\n"));
    }
    if let Some(b) = &app.bootstrap {
        banner.push_str(&format!(
            "\nFirst start: created organization '{}' with its first admin. Shown once:\n\n  \
             sign in at:          {}\n  email:               {}\n  temporary password:  {}\n\n\
             You will choose your own password at first sign-in. Platform operator tokens come from \
             `cairn token issue --operator`.\n",
            b.tenant, b.sign_in_url, b.email, b.temporary_password
        ));
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
    }
    app.run_until(shutdown).await?;
    Ok(())
}

/// A future that resolves at SIGTERM or SIGINT; the handlers are installed at once.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
