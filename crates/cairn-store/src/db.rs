use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One database (control or a tenant's). SQLite has a single writer connection and a few
/// readers, so write transactions queue in process instead of failing with `SQLITE_BUSY`;
/// on PostgreSQL both are the same pool.
#[derive(Debug, Clone)]
pub struct Db {
    backend: Backend,
    /// The file (SQLite) or the database URL without password (PostgreSQL).
    name: std::sync::Arc<str>,
    read: AnyPool,
    write: AnyPool,
}

impl Db {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Which database this is: its file, or its URL without the password. Stable for the
    /// life of the process, so it can key per-database caches.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pool for statements that only read.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// The pool for statements that write (outside an explicit transaction).
    pub fn writer(&self) -> &AnyPool {
        &self.write
    }

    /// A write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so a transaction that reads then writes never fails to upgrade when another process
    /// writes the same file; it waits (busy timeout) instead.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.write.begin().await,
        }
    }

    /// Refreshes the query planner's statistics where they are stale (SQLite's `PRAGMA
    /// optimize`, bounded by `analysis_limit`); after a bulk write, so that the plans of
    /// later reads fit the tables' sizes. PostgreSQL's autovacuum keeps its own.
    pub async fn optimize(&self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            self.write.execute(sqlx::raw_sql("PRAGMA analysis_limit = 400; PRAGMA optimize;")).await?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.write.close().await;
        if self.backend == Backend::Postgres {
            return;
        }
        self.read.close().await;
    }

    /// Opens a SQLite database file; with `create`, creates it (mode 0600) if missing,
    /// otherwise a missing file is an error (a tenant deleted meanwhile is not re-created).
    pub(crate) async fn open_sqlite(
        path: &Path,
        readers: u32,
        acquire: Duration,
        create: bool,
    ) -> Result<Db, StoreError> {
        install_default_drivers();
        if create {
            create_private_file(path)?;
        }
        let url = format!("sqlite://{}?mode={}", path.display(), if create { "rwc" } else { "rw" });
        // The writer also refreshes the planner's statistics when it opens (SQLite's advice for
        // long-lived connections): without them, a correlated subquery may walk a whole
        // repository's commits per pull request instead of using the pull request's index.
        let opts = |writer: bool| {
            let pragmas = if writer {
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                 PRAGMA synchronous = NORMAL; PRAGMA analysis_limit = 400; PRAGMA optimize = 0x10002;"
            } else {
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                 PRAGMA synchronous = NORMAL;"
            };
            AnyPoolOptions::new()
                .acquire_timeout(acquire)
                // A ping would cost every transaction a round trip to the connection's
                // thread, and an open SQLite file has nothing for it to find broken.
                .test_before_acquire(false)
                .min_connections(0)
                .idle_timeout(Some(Duration::from_secs(300)))
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        conn.execute(sqlx::raw_sql(pragmas)).await?;
                        Ok(())
                    })
                })
        };
        let write = opts(true).max_connections(1).connect(&url).await?;
        let read = opts(false).max_connections(readers.max(1)).connect_lazy(&url)?;
        Ok(Db { backend: Backend::Sqlite, name: path.display().to_string().into(), read, write })
    }

    /// Opens a pool on a PostgreSQL database. Lazy: no connection is made until first use.
    pub(crate) fn open_postgres_lazy(url: &str, max: u32, acquire: Duration) -> Result<Db, StoreError> {
        install_default_drivers();
        let pool = AnyPoolOptions::new()
            .acquire_timeout(acquire)
            .min_connections(0)
            .max_connections(max.max(1))
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_lazy(url)?;
        let name = cairn_domain::redact_url(url).into();
        Ok(Db { backend: Backend::Postgres, name, read: pool.clone(), write: pool })
    }
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| StoreError::Io { path: path.display().to_string(), source };
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(io)?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// Creates a directory (and parents) readable only by the owner when newly made.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}
