//! The canonical encoding of an entry and its hash.

use sha2::{Digest, Sha256};

use crate::AuditEntry;

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) over a JSON array of every field but `hash`, in a fixed order. JSON
/// strings escape unambiguously, so no two different entries share an encoding.
pub(crate) fn entry_hash(e: &AuditEntry) -> String {
    let canonical = serde_json::json!([
        1, // encoding version
        e.seq,
        e.id,
        e.time,
        e.actor_id,
        e.actor_email,
        e.action,
        e.resource_type,
        e.resource_id,
        e.outcome,
        e.details,
        e.ip,
        e.user_agent,
        e.request_id,
        e.prev_hash,
    ]);
    let bytes = serde_json::to_vec(&canonical).expect("JSON values serialize");
    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}
