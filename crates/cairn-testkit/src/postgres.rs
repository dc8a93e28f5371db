//! A throwaway PostgreSQL server from the Debian binaries: `initdb` + `postgres` on a free
//! loopback port in a temporary folder, run as the unprivileged `postgres` user when we
//! are root (initdb refuses root). Stopping it removes the folder.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug)]
pub struct PostgresServer {
    child: Child,
    dir: Option<tempfile::TempDir>,
    port: u16,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    durability: Durability,
}

/// The folder holding `initdb` and `postgres`: `$CAIRN_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("CAIRN_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL binaries not found under /usr/lib/postgresql (apt-get install postgresql)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p).context("no PostgreSQL version with initdb under /usr/lib/postgresql")
}

/// uid and gid of the `postgres` user, when we are root.
fn run_as() -> anyhow::Result<Option<(u32, u32)>> {
    if !is_root() {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() > 3 && f[0] == "postgres" {
            return Ok(Some((f[2].parse()?, f[3].parse()?)));
        }
    }
    bail!("running as root and there is no 'postgres' user to run initdb as (useradd -M postgres)")
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn command(bin: &Path, name: &str, user: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin.join(name));
    if let Some((uid, gid)) = user {
        c.uid(uid).gid(gid);
    }
    c
}

/// How a throwaway server treats durability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Tests: no fsync, no synchronous commit, no full-page writes. Fast, and loses data
    /// on a crash, which a test server may.
    Off,
    /// PostgreSQL's defaults, as a production server runs: each commit waits for its WAL
    /// flush. Benchmarks of write cost use this.
    Production,
}

impl PostgresServer {
    /// A test server ([`Durability::Off`]).
    pub fn start() -> anyhow::Result<PostgresServer> {
        Self::start_with(Durability::Off)
    }

    pub fn start_with(durability: Durability) -> anyhow::Result<PostgresServer> {
        let bin = bin_dir()?;
        let user = run_as()?;
        let dir = tempfile::Builder::new().prefix("cairn-pg-").tempdir().context("creating a temp dir")?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))?;
        let data = dir.path().join("data");
        let out = command(&bin, "initdb", user)
            .args(["-D"])
            .arg(&data)
            .args(["-U", "cairn", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let port = free_port()?;
        std::fs::File::create(dir.path().join("postgres.log"))?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path().join("postgres.log"), Some(uid), Some(gid))?;
        }
        let child = spawn_postgres(&bin, user, dir.path(), port, durability)?;
        let mut server = PostgresServer { child, dir: Some(dir), port, bin, user, durability };
        server.wait_ready()?;
        Ok(server)
    }

    /// Stops the server process (fast shutdown) and keeps its data: an outage, ended by
    /// [`PostgresServer::resume`].
    pub fn interrupt(&mut self) {
        self.shut_down();
    }

    /// Starts the server again on the same port and data after [`PostgresServer::interrupt`].
    pub fn resume(&mut self) -> anyhow::Result<()> {
        let dir = self.dir.as_ref().context("the server was stopped for good")?.path().to_owned();
        self.child = spawn_postgres(&self.bin, self.user, &dir, self.port, self.durability)?;
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let bin = self.bin.clone();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("postgres exited with {status}: {}", self.log());
            }
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "cairn", "-d", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("postgres did not become ready within 60 s: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        self.dir.as_ref().and_then(|d| std::fs::read_to_string(d.path().join("postgres.log")).ok()).unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of the server's `postgres` database, as the superuser `cairn`.
    pub fn url(&self) -> String {
        format!("postgres://cairn@127.0.0.1:{}/postgres", self.port)
    }

    /// Fast shutdown, then removes the folder.
    pub fn stop(&mut self) {
        self.shut_down();
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }

    fn shut_down(&mut self) {
        let pid = self.child.id() as i32;
        // SIGINT = PostgreSQL's "fast" shutdown.
        let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `postgres` on `port` over the data in `dir/data`, logging (appending) to `dir/postgres.log`.
fn spawn_postgres(
    bin: &Path,
    user: Option<(u32, u32)>,
    dir: &Path,
    port: u16,
    durability: Durability,
) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new().append(true).open(dir.join("postgres.log"))?;
    let mut postgres = command(bin, "postgres", user);
    postgres
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
        .arg("-k")
        .arg(dir)
        .args(["-c", "max_connections=600", "-c", "shared_buffers=128MB"]);
    if durability == Durability::Off {
        postgres.args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
    }
    postgres.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log).spawn().context("starting postgres")
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// For benchmarks: the shared test server named by `CAIRN_TEST_POSTGRES_URL`, or a
/// throwaway one started now (kept alive by the returned handle).
pub fn shared_or_started() -> (String, Option<PostgresServer>) {
    match std::env::var(crate::POSTGRES_URL_ENV) {
        Ok(url) => (url, None),
        Err(_) => {
            let server = PostgresServer::start().expect("PostgreSQL starts");
            (server.url(), Some(server))
        }
    }
}
