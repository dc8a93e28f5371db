//! The npm and Python test peers under `tests/peers` (installed by `scripts/test` from their
//! lockfiles). A missing peer is a loud failure, never a skipped test.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `tests/peers` in the workspace.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers").canonicalize().expect("tests/peers exists")
}

/// Runs `node <script>` in `tests/peers` with `env`; panics with how to install the peers
/// when they are missing.
pub async fn node(script: &str, env: &[(&str, &str)]) -> Output {
    let dir = dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "the npm test peers are not installed: run scripts/test, or `npm ci --prefix tests/peers`"
    );
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(&dir).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("node runs (is Node.js installed?)"))
        .await
        .expect("node task")
}
