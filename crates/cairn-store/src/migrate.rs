//! Forward-only migrations, one SQL text per backend, keyed by (component, version).
//!
//! Each migration runs in its own transaction together with its bookkeeping row, under a
//! lock that serialises concurrent migrators (PostgreSQL advisory lock; SQLite
//! `BEGIN IMMEDIATE`). An applied migration whose text has since changed is an error:
//! migrations are never edited once released.

use sha2::{Digest, Sha256};
use sqlx::{Acquire, Executor, Row};

use crate::{Backend, Db, StoreError};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The crate (or area) that owns the tables, e.g. `store`, `numbers`.
    pub component: &'static str,
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    fn checksum(&self, backend: Backend) -> String {
        let digest = Sha256::digest(self.sql(backend).as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

const BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS cairn_migrations (
    component  TEXT NOT NULL,
    version    BIGINT NOT NULL,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (component, version)
)";

/// Applies the migrations `db` lacks; returns how many were applied.
pub(crate) async fn run(db: &Db, migrations: &[Migration]) -> Result<usize, StoreError> {
    let backend = db.backend();
    let mut conn = db.writer().acquire().await?;
    conn.execute(BOOKKEEPING).await?;
    let mut applied = 0;
    for m in migrations {
        let fail = |reason: String| StoreError::Migration {
            component: m.component.into(),
            version: m.version,
            name: m.name.into(),
            reason,
        };
        let conn = conn.acquire().await?;
        match backend {
            Backend::Sqlite => conn.execute("BEGIN IMMEDIATE").await?,
            Backend::Postgres => {
                conn.execute("BEGIN").await?;
                conn.execute("SELECT pg_advisory_xact_lock(4242001)").await?
            }
        };
        let result: Result<bool, StoreError> = async {
            let existing = sqlx::query("SELECT checksum FROM cairn_migrations WHERE component = $1 AND version = $2")
                .bind(m.component)
                .bind(m.version)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(row) = existing {
                let sum: String = row.try_get("checksum")?;
                if sum != m.checksum(backend) {
                    return Err(fail("already applied with different text; migrations must not be edited".into()));
                }
                return Ok(false);
            }
            conn.execute(sqlx::raw_sql(m.sql(backend))).await.map_err(|e| fail(e.to_string()))?;
            sqlx::query(
                "INSERT INTO cairn_migrations (component, version, name, checksum, applied_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(m.component)
            .bind(m.version)
            .bind(m.name)
            .bind(m.checksum(backend))
            .bind(cairn_domain::now_ms())
            .execute(&mut *conn)
            .await?;
            Ok(true)
        }
        .await;
        match result {
            Ok(did) => {
                conn.execute("COMMIT").await?;
                applied += usize::from(did);
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                return Err(e);
            }
        }
    }
    Ok(applied)
}
