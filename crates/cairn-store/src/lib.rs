//! Storage for Cairn: the control database, one database per tenant, migrations, and the
//! dialect differences between SQLite and PostgreSQL. No product table is known here:
//! each product crate hands its migrations in as [`Migration`] values.

mod db;
mod directory;
mod error;
mod migrate;

pub use db::{Backend, Db};
pub use directory::{MigrateEvent, MigrateReport, Store, StoreConfig, Tenant, TenantState};
pub use error::{StoreError, is_unique_violation};
pub use migrate::Migration;

/// The store's own control-database migrations (the tenant directory).
pub fn control_migrations() -> Vec<Migration> {
    vec![
        Migration {
            component: "store",
            version: 1,
            name: "tenants",
            sqlite: include_str!("../migrations/sqlite/control_0001_tenants.sql"),
            postgres: include_str!("../migrations/postgres/control_0001_tenants.sql"),
        },
        Migration {
            component: "store",
            version: 2,
            name: "tenant_schema",
            sqlite: include_str!("../migrations/sqlite/control_0002_tenant_schema.sql"),
            postgres: include_str!("../migrations/postgres/control_0002_tenant_schema.sql"),
        },
    ]
}

/// Re-exported so product crates name one sqlx.
pub use sqlx;
