//! The numbers store: the smallest complete product module (model, store, service).

pub mod model;
pub mod service;
mod store;

pub use model::{Cursor, NumberId, NumberItem, NumberStats, NumberValue, Page, PageLimit};
pub use service::{NumbersError, NumbersService};

use cairn_store::Migration;

pub fn tenant_migrations() -> Vec<Migration> {
    vec![
        Migration {
            component: "numbers",
            version: 1,
            name: "numbers",
            sqlite: include_str!("../migrations/sqlite/tenant_0001_numbers.sql"),
            postgres: include_str!("../migrations/postgres/tenant_0001_numbers.sql"),
        },
        Migration {
            component: "numbers",
            version: 2,
            name: "numbers_totals",
            sqlite: include_str!("../migrations/sqlite/tenant_0002_numbers_totals.sql"),
            postgres: include_str!("../migrations/postgres/tenant_0002_numbers_totals.sql"),
        },
    ]
}
