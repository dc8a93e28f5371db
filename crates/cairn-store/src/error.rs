#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no tenant {0}")]
    TenantNotFound(String),
    #[error("tenant slug {0} is taken")]
    SlugTaken(String),
    #[error("placement: {0}")]
    Placement(String),
    #[error("migration {component}/{version} ({name}): {reason}")]
    Migration { component: String, version: i64, name: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("sealed placement: {0}")]
    Secret(#[from] cairn_domain::SecretError),
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
}

/// Whether `e` is a unique-constraint violation (on either backend).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
