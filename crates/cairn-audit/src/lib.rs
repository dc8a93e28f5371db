//! The audit trail: every state change and every denial, written in the transaction of the
//! change, chained by SHA-256 so that editing, deleting, inserting or reordering entries is
//! detectable, with signed checkpoints that keep the chain verifiable after retention
//! prunes its oldest part.

mod chain;
pub mod model;
pub mod service;
mod store;

pub use model::{
    Action, ActionPattern, Actor, AuditCursor, AuditEntry, AuditFilter, AuditLimit, Change, EntryId, NewEntry, Outcome,
    Param, RequestMeta, RetentionDays,
};
pub use service::{
    ActorView, AuditEntryView, AuditError, AuditService, Checkpoint, ExportFormat, ResourceView, Signer, Tally,
    VerifyReport, Violation, export_chunk, export_stream,
};

use cairn_store::Migration;

/// The audit tables; the same text serves tenant databases and (for the platform audit)
/// the control database.
pub fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            component: "audit",
            version: 1,
            name: "audit",
            sqlite: include_str!("../migrations/sqlite/0001_audit.sql"),
            postgres: include_str!("../migrations/postgres/0001_audit.sql"),
        },
        Migration {
            component: "audit",
            version: 2,
            name: "batched_indexes",
            sqlite: include_str!("../migrations/sqlite/0002_batched_indexes.sql"),
            postgres: include_str!("../migrations/postgres/0002_batched_indexes.sql"),
        },
    ]
}
