//! Starts a throwaway PostgreSQL server for the test suite, prints its URL on the first
//! line of standard output, and runs until SIGTERM or SIGINT; then stops the server and removes its folder.

use std::io::Write;

fn main() -> std::process::ExitCode {
    let mut server = match cairn_testkit::postgres::PostgresServer::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cairn-test-postgres: {e:#}");
            return std::process::ExitCode::from(1);
        }
    };
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    server.stop();
    std::process::ExitCode::SUCCESS
}
