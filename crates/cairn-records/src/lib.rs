//! Records: titled documents with tags and JSON data, their publish history, the events
//! each change emits, and the email notice subscribers get when a record is published.

pub mod model;
pub mod notify;
pub mod service;
mod store;

pub use model::{PublishEntry, Record, RecordId, RecordInput, RecordPatch};
pub use service::{Records, RecordsError};

use cairn_store::Migration;

pub fn tenant_migrations() -> Vec<Migration> {
    vec![Migration {
        component: "records",
        version: 1,
        name: "records and publish history",
        sqlite: include_str!("../migrations/sqlite/tenant_0001_records.sql"),
        postgres: include_str!("../migrations/postgres/tenant_0001_records.sql"),
    }]
}
