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

/// A long-running node peer (e.g. the upstream identity provider), killed on drop.
pub struct NodeServer {
    child: std::process::Child,
    /// The first line it printed (its URL).
    pub url: String,
}

impl std::fmt::Debug for NodeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeServer").field("url", &self.url).finish()
    }
}

impl NodeServer {
    /// Starts `node <script>` with `env` and waits for its first line of output.
    pub fn start(script: &str, env: &[(&str, &str)]) -> NodeServer {
        use std::io::BufRead;
        let dir = dir();
        assert!(dir.join("node_modules").is_dir(), "the npm test peers are not installed: run scripts/test");
        let mut cmd = Command::new("node");
        cmd.arg(script).current_dir(&dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("node runs");
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        out.read_line(&mut line).expect("reads");
        assert!(!line.trim().is_empty(), "{script} printed nothing and exited: {:?}", child.try_wait());
        // Keep draining: a closed pipe would kill the peer at its next write.
        std::thread::spawn(move || for _ in out.lines() {});
        NodeServer { child, url: line.trim().to_owned() }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
