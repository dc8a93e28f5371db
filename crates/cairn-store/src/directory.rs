//! The tenant directory: the control database's `tenants` table, the lifecycle of each
//! tenant's database, and a bounded least-recently-used set of open tenant pools.
//!
//! Lifecycle protocol (crash-safe): create writes the row as `creating`, then creates and
//! migrates the database, then marks the row `active`; delete marks the row `deleting`,
//! closes and drops the database, then removes the row. Only `active` rows are tenants.
//! A process that dies midway leaves a `creating`/`deleting` row that [`Store::migrate_all`]
//! drives to its end, so a registry row never outlives its database or the reverse.
//!
//! Tenant databases are migrated lazily: when a process first opens a tenant's pool and the
//! directory's `schema_version` is below the number of tenant migrations it knows, and by a
//! background sweep ([`Store::migrate_pending`]); start-up never waits for them.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_domain::{MasterKey, TenantId, TenantSlug, now_ms};
use lru::LruCache;
use sqlx::{Connection, Executor, Row};

use crate::db::create_private_dir;
use crate::migrate::{self, Migration};
use crate::{Backend, Db, StoreError};

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// `None` → SQLite files under `data_dir`; `Some(postgres://…)` → PostgreSQL.
    pub database_url: Option<url::Url>,
    pub control_max_connections: u32,
    pub tenant_max_connections: u32,
    pub max_open_tenant_pools: usize,
    pub acquire_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantState {
    Creating,
    Active,
    Deleting,
}

impl TenantState {
    fn as_str(self) -> &'static str {
        match self {
            TenantState::Creating => "creating",
            TenantState::Active => "active",
            TenantState::Deleting => "deleting",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: String,
    /// The PostgreSQL server holding this tenant's database, when not the control server.
    /// Contains credentials: never log or return it unredacted.
    pub placement: Option<String>,
    pub state: TenantState,
    pub created_at: i64,
    /// How many tenant migrations its database had when a process last checked (see
    /// `control_0002_tenant_schema.sql`); `None` when not known.
    pub schema_version: Option<i64>,
}

/// Progress of [`Store::migrate_all`], reported as it goes.
#[derive(Debug)]
pub enum MigrateEvent<'a> {
    Control { applied: usize },
    Tenant { slug: &'a str, applied: usize, done: usize, total: usize },
    Repaired { slug: &'a str, action: &'static str },
}

#[derive(Debug, Default)]
pub struct MigrateReport {
    pub tenants: usize,
    pub applied: usize,
    pub repaired: Vec<String>,
    /// What could not be repaired automatically, one line each.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: StoreConfig,
    key: MasterKey,
    control: Db,
    tenant_migrations: Vec<Migration>,
    pools: Mutex<LruCache<TenantId, OpenPool>>,
    /// Tenants the running migration sweep has still to check.
    sweep_remaining: AtomicUsize,
}

#[derive(Debug, Clone)]
struct OpenPool {
    db: Db,
    /// When the directory last confirmed the tenant is active.
    checked: Instant,
}

/// How long a creation or deletion may go without progress before the background sweep
/// takes it for interrupted and finishes it (`cairn migrate` does not wait).
const STALLED_AFTER: Duration = Duration::from_secs(600);

/// How long an open pool is trusted before the directory is asked again whether its tenant
/// is still active (another replica may have deleted it).
const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

impl Store {
    /// Opens the control database (creating it if needed) and applies control migrations.
    pub async fn open(
        config: StoreConfig,
        key: MasterKey,
        control_migrations: Vec<Migration>,
        tenant_migrations: Vec<Migration>,
    ) -> Result<Store, StoreError> {
        let control = match &config.database_url {
            None => {
                create_private_dir(&config.data_dir)
                    .map_err(|source| StoreError::Io { path: config.data_dir.display().to_string(), source })?;
                Db::open_sqlite(
                    &config.data_dir.join("control.db"),
                    config.control_max_connections,
                    config.acquire_timeout,
                    true,
                )
                .await?
            }
            Some(url) => {
                ensure_postgres_database(url.as_str()).await?;
                Db::open_postgres_lazy(url.as_str(), config.control_max_connections, config.acquire_timeout)?
            }
        };
        migrate::run(&control, &control_migrations).await?;
        let cap = NonZeroUsize::new(config.max_open_tenant_pools.max(1)).expect("nonzero");
        Ok(Store {
            inner: Arc::new(Inner {
                config,
                key,
                control,
                tenant_migrations,
                pools: Mutex::new(LruCache::new(cap)),
                sweep_remaining: AtomicUsize::new(0),
            }),
        })
    }

    pub fn backend(&self) -> Backend {
        self.inner.control.backend()
    }

    pub fn control(&self) -> &Db {
        &self.inner.control
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.inner.key
    }

    /// Tenants the migration sweep ([`Store::migrate_pending`]) has still to check.
    pub fn migrations_pending(&self) -> usize {
        self.inner.sweep_remaining.load(Ordering::Relaxed)
    }

    /// The schema version of an up-to-date tenant database: how many tenant migrations
    /// this build knows (they are forward-only, so the count only grows).
    fn tenant_schema(&self) -> i64 {
        self.inner.tenant_migrations.len() as i64
    }

    /// How many tenant pools are open now.
    pub fn open_tenant_pools(&self) -> usize {
        self.inner.pools.lock().expect("pool map").len()
    }

    /// Whether the control database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(self.control().reader()).await.is_ok()
    }

    pub async fn close(&self) {
        let pools: Vec<Db> = {
            let mut map = self.inner.pools.lock().expect("pool map");
            let all = map.iter().map(|(_, open)| open.db.clone()).collect();
            map.clear();
            all
        };
        for db in pools {
            db.close().await;
        }
        self.inner.control.close().await;
    }

    // ---- directory queries -------------------------------------------------------------

    const COLUMNS: &'static str = "id, slug, name, placement, state, created_at, schema_version";

    fn tenant_from_row(&self, row: &sqlx::any::AnyRow) -> Result<Tenant, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { table: "tenants", reason };
        let id: String = row.try_get("id")?;
        let id: TenantId = id.parse().map_err(|e: cairn_domain::ValidationError| corrupt(e.to_string()))?;
        let slug: String = row.try_get("slug")?;
        let state: String = row.try_get("state")?;
        let placement: Option<String> = row.try_get("placement")?;
        let placement = match placement {
            Some(sealed) => Some(
                String::from_utf8(self.inner.key.open(&sealed, &placement_aad(id))?)
                    .map_err(|_| corrupt("placement is not UTF-8".into()))?,
            ),
            None => None,
        };
        Ok(Tenant {
            id,
            slug: TenantSlug::parse(&slug).map_err(|e| corrupt(e.to_string()))?,
            name: row.try_get("name")?,
            placement,
            state: match state.as_str() {
                "creating" => TenantState::Creating,
                "active" => TenantState::Active,
                "deleting" => TenantState::Deleting,
                other => return Err(corrupt(format!("unknown state {other}"))),
            },
            created_at: row.try_get("created_at")?,
            schema_version: row.try_get("schema_version")?,
        })
    }

    /// Active tenants, ordered by slug.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.query_tenants("WHERE state = 'active' ORDER BY slug", None).await
    }

    /// Active tenants in id (creation) order after `after` (a tenant id), at most `limit`.
    pub async fn list_tenants_after(&self, limit: i64, after: Option<&str>) -> Result<Vec<Tenant>, StoreError> {
        let sql =
            format!("SELECT {} FROM tenants WHERE state = 'active' AND id > $1 ORDER BY id LIMIT $2", Self::COLUMNS);
        let rows = sqlx::query(&sql).bind(after.unwrap_or("")).bind(limit).fetch_all(self.control().reader()).await?;
        rows.iter().map(|r| self.tenant_from_row(r)).collect()
    }

    async fn query_tenants(&self, tail: &str, bind: Option<&str>) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {} FROM tenants {tail}", Self::COLUMNS);
        let mut q = sqlx::query(&sql);
        if let Some(b) = bind {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.control().reader()).await?;
        rows.iter().map(|r| self.tenant_from_row(r)).collect()
    }

    pub async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Tenant, StoreError> {
        self.query_tenants("WHERE slug = $1 AND state = 'active'", Some(slug.as_str()))
            .await?
            .pop()
            .ok_or_else(|| StoreError::TenantNotFound(slug.to_string()))
    }

    pub async fn tenant_by_id(&self, id: TenantId) -> Result<Tenant, StoreError> {
        self.query_tenants("WHERE id = $1 AND state = 'active'", Some(&id.to_string()))
            .await?
            .pop()
            .ok_or_else(|| StoreError::TenantNotFound(id.to_string()))
    }

    // ---- lifecycle -----------------------------------------------------------------------

    /// Creates a tenant and its database. `placement` names a PostgreSQL server
    /// (`postgres://user:pass@host:port/maintenance_db`) for the tenant's database.
    pub async fn create_tenant(
        &self,
        slug: &TenantSlug,
        name: &str,
        placement: Option<&str>,
    ) -> Result<Tenant, StoreError> {
        if let Some(url) = placement {
            if self.backend() != Backend::Postgres {
                return Err(StoreError::Placement(
                    "a placement needs the PostgreSQL backend (set CAIRN_DATABASE_URL)".into(),
                ));
            }
            check_postgres_url(url)?;
        }
        let id = TenantId::new();
        let now = now_ms();
        let sealed = placement.map(|p| self.inner.key.seal(p.as_bytes(), &placement_aad(id)));
        let inserted = sqlx::query(
            "INSERT INTO tenants (id, slug, name, placement, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'creating', $5, $5)",
        )
        .bind(id.to_string())
        .bind(slug.as_str())
        .bind(name)
        .bind(sealed)
        .bind(now)
        .execute(self.control().writer())
        .await;
        match inserted {
            Err(e) if crate::is_unique_violation(&e) => return Err(StoreError::SlugTaken(slug.to_string())),
            other => other?,
        };
        let tenant = Tenant {
            id,
            slug: slug.clone(),
            name: name.to_owned(),
            placement: placement.map(str::to_owned),
            state: TenantState::Creating,
            created_at: now,
            schema_version: None,
        };
        if let Err(e) = self.create_database(&tenant).await {
            // Nothing was created: give the slug back at once.
            sqlx::query("DELETE FROM tenants WHERE id = $1")
                .bind(id.to_string())
                .execute(self.control().writer())
                .await?;
            return Err(match (e, placement) {
                (StoreError::Database(db), Some(_)) => {
                    StoreError::Placement(format!("cannot create the tenant database on the placement server: {db}"))
                }
                (e, _) => e,
            });
        }
        match self.activate(&tenant).await {
            Ok(()) => Ok(Tenant { state: TenantState::Active, ..tenant }),
            Err(e) => {
                // Undo what was done; if even that fails, the 'creating' row tells
                // `cairn migrate` to finish the job.
                tracing::error!(tenant = %tenant.slug, error = %e, "tenant creation failed; rolling back");
                if let Err(undo) = self.finish_delete(&tenant).await {
                    tracing::error!(tenant = %tenant.slug, error = %undo, "rollback failed; `cairn migrate` will repair");
                }
                Err(e)
            }
        }
    }

    /// The rest of a creation once the database exists: migrate it (opening its pool does),
    /// mark the tenant active.
    async fn activate(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.open_tenant_pool(tenant).await?;
        self.set_state(tenant.id, TenantState::Active).await
    }

    /// Deletes a tenant and drops its database.
    pub async fn delete_tenant(&self, slug: &TenantSlug) -> Result<Tenant, StoreError> {
        let tenant = self.tenant_by_slug(slug).await?;
        self.set_state(tenant.id, TenantState::Deleting).await?;
        self.finish_delete(&tenant).await?;
        Ok(tenant)
    }

    async fn finish_delete(&self, tenant: &Tenant) -> Result<(), StoreError> {
        self.close_pool(tenant.id).await;
        self.drop_database(tenant).await?;
        sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(tenant.id.to_string())
            .execute(self.control().writer())
            .await?;
        Ok(())
    }

    async fn set_state(&self, id: TenantId, state: TenantState) -> Result<(), StoreError> {
        sqlx::query("UPDATE tenants SET state = $1, updated_at = $2 WHERE id = $3")
            .bind(state.as_str())
            .bind(now_ms())
            .bind(id.to_string())
            .execute(self.control().writer())
            .await?;
        Ok(())
    }

    fn sqlite_path(&self, id: TenantId) -> PathBuf {
        self.inner.config.data_dir.join("tenants").join(format!("{id}.db"))
    }

    /// The PostgreSQL server URL (any database on it) where the tenant's database lives.
    fn server_url(&self, tenant: &Tenant) -> String {
        tenant
            .placement
            .clone()
            .or_else(|| self.inner.config.database_url.as_ref().map(url::Url::to_string))
            .expect("PostgreSQL backend has a database URL")
    }

    async fn create_database(&self, tenant: &Tenant) -> Result<(), StoreError> {
        match self.backend() {
            // The file is created when the pool opens.
            Backend::Sqlite => Ok(()),
            Backend::Postgres => {
                let mut conn = sqlx::AnyConnection::connect(&self.server_url(tenant)).await?;
                let sql = format!("CREATE DATABASE \"{}\"", tenant.id.database_name());
                match conn.execute(sql.as_str()).await {
                    Ok(_) => Ok(()),
                    // 42P04 duplicate_database: an interrupted earlier attempt made it.
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    async fn drop_database(&self, tenant: &Tenant) -> Result<(), StoreError> {
        match self.backend() {
            Backend::Sqlite => {
                let path = self.sqlite_path(tenant.id);
                for suffix in ["", "-wal", "-shm"] {
                    let p = PathBuf::from(format!("{}{suffix}", path.display()));
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(StoreError::Io { path: p.display().to_string(), source }),
                    }
                }
                Ok(())
            }
            Backend::Postgres => {
                let mut conn = sqlx::AnyConnection::connect(&self.server_url(tenant)).await?;
                let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", tenant.id.database_name());
                conn.execute(sql.as_str()).await?;
                Ok(())
            }
        }
    }

    async fn close_pool(&self, id: TenantId) {
        let open = self.inner.pools.lock().expect("pool map").pop(&id);
        if let Some(open) = open {
            open.db.close().await;
        }
    }

    /// A new pool on the tenant's database (not kept: see [`Store::open_tenant_pool`]).
    async fn connect(&self, tenant: &Tenant) -> Result<Db, StoreError> {
        let cfg = &self.inner.config;
        match self.backend() {
            Backend::Sqlite => {
                // Only a creation makes the file: an active tenant's file that is gone (the
                // tenant deleted meanwhile) stays gone.
                let create = tenant.state == TenantState::Creating;
                Db::open_sqlite(&self.sqlite_path(tenant.id), cfg.tenant_max_connections, cfg.acquire_timeout, create)
                    .await
            }
            Backend::Postgres => {
                let url = with_database(&self.server_url(tenant), &tenant.id.database_name())?;
                Db::open_postgres_lazy(&url, cfg.tenant_max_connections, cfg.acquire_timeout)
            }
        }
    }

    /// Applies the tenant migrations `db` lacks — only when the directory says some may be
    /// missing, unless `always` — and records the schema version reached. Safe when several
    /// processes do it at once: each migration runs under a lock in the tenant's database,
    /// and the recorded version only grows.
    async fn bring_up_to_date(&self, tenant: &Tenant, db: &Db, always: bool) -> Result<usize, StoreError> {
        let target = self.tenant_schema();
        if !always && tenant.schema_version.is_some_and(|v| v >= target) {
            return Ok(0);
        }
        let applied = migrate::run(db, &self.inner.tenant_migrations).await?;
        sqlx::query(
            "UPDATE tenants SET schema_version = $1 WHERE id = $2 AND (schema_version IS NULL OR schema_version < $1)",
        )
        .bind(target)
        .bind(tenant.id.to_string())
        .execute(self.control().writer())
        .await?;
        if applied > 0 {
            tracing::info!(tenant = %tenant.slug, applied, schema_version = target, "tenant database migrated");
        }
        Ok(applied)
    }

    /// The tenant's pool, opened (and its database migrated, if the directory says it is
    /// behind) when it is not open yet. A database whose migration fails is not kept open:
    /// the next request tries again.
    async fn open_tenant_pool(&self, tenant: &Tenant) -> Result<Db, StoreError> {
        if let Some(open) = self.inner.pools.lock().expect("pool map").get_mut(&tenant.id) {
            open.checked = Instant::now();
            return Ok(open.db.clone());
        }
        let db = self.connect(tenant).await?;
        if let Err(e) = self.bring_up_to_date(tenant, &db, false).await {
            db.close().await;
            return Err(e);
        }
        // The lock is never held across an await: decide under it, act after it.
        let (db, surplus, evicted) = {
            let mut map = self.inner.pools.lock().expect("pool map");
            match map.get(&tenant.id) {
                // Another task opened it meanwhile; keep theirs.
                Some(existing) => (existing.db.clone(), Some(db), None),
                None => {
                    let open = OpenPool { db: db.clone(), checked: Instant::now() };
                    let evicted = map.push(tenant.id, open).filter(|(id, _)| *id != tenant.id);
                    (db, None, evicted)
                }
            }
        };
        if let Some(surplus) = surplus {
            surplus.close().await;
        }
        if let Some((_, old)) = evicted {
            tokio::spawn(async move { old.db.close().await });
        }
        Ok(db)
    }

    /// The database of an active tenant, opening its pool if needed. An open pool is used
    /// as is for up to a second; after that the directory confirms the tenant still exists.
    pub async fn tenant_db(&self, id: TenantId) -> Result<Db, StoreError> {
        if let Some(open) = self.inner.pools.lock().expect("pool map").get(&id)
            && open.checked.elapsed() < REVALIDATE_AFTER
        {
            return Ok(open.db.clone());
        }
        match self.tenant_by_id(id).await {
            Ok(tenant) => self.open_tenant_pool(&tenant).await,
            Err(e @ StoreError::TenantNotFound(_)) => {
                self.close_pool(id).await;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    // ---- migrate and repair --------------------------------------------------------------

    /// Applies migrations to every tenant database, finishes interrupted creates and
    /// deletes, and reports what it cannot repair (`cairn migrate`).
    pub async fn migrate_all(&self, progress: impl FnMut(MigrateEvent<'_>)) -> Result<MigrateReport, StoreError> {
        self.sweep(false, progress).await
    }

    /// As [`Store::migrate_all`], for the tenants the directory says are behind (or
    /// interrupted) only: the background sweep of a running server, which serves requests
    /// meanwhile (a tenant's first request migrates it if the sweep has not yet).
    pub async fn migrate_pending(&self, progress: impl FnMut(MigrateEvent<'_>)) -> Result<MigrateReport, StoreError> {
        self.sweep(true, progress).await
    }

    async fn sweep(
        &self,
        pending_only: bool,
        mut progress: impl FnMut(MigrateEvent<'_>),
    ) -> Result<MigrateReport, StoreError> {
        let mut report = MigrateReport::default();
        let all = if pending_only {
            // Both bounds are this process's own numbers, not caller input. A creation or
            // deletion is repaired here only once it has made no progress for a while: a
            // younger one is most likely still running in some process.
            let stalled = now_ms() - STALLED_AFTER.as_millis() as i64;
            let tail = format!(
                "WHERE (state <> 'active' AND updated_at < {stalled}) \
                 OR (state = 'active' AND (schema_version IS NULL OR schema_version < {})) ORDER BY slug",
                self.tenant_schema()
            );
            self.query_tenants(&tail, None).await?
        } else {
            self.query_tenants("ORDER BY slug", None).await?
        };
        let total = all.len();
        self.inner.sweep_remaining.store(total, Ordering::Relaxed);
        for (i, tenant) in all.iter().enumerate() {
            let slug = tenant.slug.as_str();
            match tenant.state {
                TenantState::Creating => match async {
                    self.create_database(tenant).await?;
                    self.activate(tenant).await
                }
                .await
                {
                    Ok(()) => {
                        progress(MigrateEvent::Repaired { slug, action: "finished interrupted creation" });
                        report.repaired.push(format!("{slug}: finished interrupted creation"));
                    }
                    Err(e) => report.problems.push(format!("{slug}: cannot finish creation: {e}")),
                },
                TenantState::Deleting => match self.finish_delete(tenant).await {
                    Ok(()) => {
                        progress(MigrateEvent::Repaired { slug, action: "finished interrupted deletion" });
                        report.repaired.push(format!("{slug}: finished interrupted deletion"));
                    }
                    Err(e) => report.problems.push(format!("{slug}: cannot finish deletion: {e}")),
                },
                TenantState::Active => match self.migrate_tenant(tenant).await {
                    Ok(n) => {
                        report.applied += n;
                        report.tenants += 1;
                        progress(MigrateEvent::Tenant { slug, applied: n, done: i + 1, total });
                    }
                    Err(e) => report.problems.push(format!("{slug}: {e}")),
                },
            }
            self.inner.sweep_remaining.store(total - i - 1, Ordering::Relaxed);
        }
        if !pending_only && self.backend() == Backend::Sqlite {
            report.problems.extend(self.orphan_files(&all));
        }
        Ok(report)
    }

    /// Migrates one tenant's database through its open pool, or a pool opened for this
    /// alone (a sweep over thousands of tenants does not churn the pools requests use).
    async fn migrate_tenant(&self, tenant: &Tenant) -> Result<usize, StoreError> {
        let open = self.inner.pools.lock().expect("pool map").peek(&tenant.id).map(|o| o.db.clone());
        match open {
            Some(db) => self.bring_up_to_date(tenant, &db, true).await,
            None => {
                let db = self.connect(tenant).await?;
                let result = self.bring_up_to_date(tenant, &db, true).await;
                db.close().await;
                result
            }
        }
    }

    /// Tenant database files that no directory row names.
    fn orphan_files(&self, known: &[Tenant]) -> Vec<String> {
        let dir = self.inner.config.data_dir.join("tenants");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stem = name.strip_suffix(".db")?;
                let id: TenantId = stem.parse().ok()?;
                (!known.iter().any(|t| t.id == id)).then(|| {
                    format!("{}: database file without a tenant; inspect and remove it by hand", e.path().display())
                })
            })
            .collect()
    }
}

fn placement_aad(id: TenantId) -> String {
    format!("tenants.placement:{id}")
}

fn check_postgres_url(url: &str) -> Result<(), StoreError> {
    let parsed = url::Url::parse(url).map_err(|e| StoreError::Placement(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") || parsed.host_str().is_none() {
        return Err(StoreError::Placement("must be a postgres://user@host:port/database URL".into()));
    }
    Ok(())
}

/// The same server URL pointing at another database.
fn with_database(url: &str, database: &str) -> Result<String, StoreError> {
    let mut parsed = url::Url::parse(url).map_err(|e| StoreError::Placement(format!("not a URL: {e}")))?;
    parsed.set_path(&format!("/{database}"));
    Ok(parsed.into())
}

/// Creates the database the URL names if the server does not have it yet.
async fn ensure_postgres_database(url: &str) -> Result<(), StoreError> {
    sqlx::any::install_default_drivers();
    match sqlx::AnyConnection::connect(url).await {
        Ok(conn) => {
            let _ = conn.close().await;
            Ok(())
        }
        // 3D000 invalid_catalog_name: the database does not exist.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let parsed = url::Url::parse(url).map_err(|e| StoreError::Placement(e.to_string()))?;
            let name = parsed.path().trim_start_matches('/').to_owned();
            let mut conn = sqlx::AnyConnection::connect(&with_database(url, "postgres")?).await?;
            let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
            match conn.execute(sql.as_str()).await {
                Ok(_) => Ok(()),
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_in_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5/ctl?sslmode=disable", "cairn_t_x").unwrap(),
            "postgres://u:p@h:5/cairn_t_x?sslmode=disable"
        );
    }

    #[test]
    fn placement_urls() {
        assert!(check_postgres_url("postgres://u@h:1/db").is_ok());
        assert!(check_postgres_url("mysql://u@h/db").is_err());
        assert!(check_postgres_url("nonsense").is_err());
    }
}
