//! The canonical encoding of an entry and its hash.
//!
//! `hash = SHA-256(prev_hash ":" seq ":" content_digest)` in lowercase hex, where
//! `content_digest` is the SHA-256 of a JSON array of every content field in a fixed order.
//! JSON strings escape unambiguously, so no two different entries share an encoding. The
//! outer step is simple enough for PostgreSQL to compute in the appending statement itself
//! (`sha256(convert_to(…))`), so an append costs one round trip.

use sha2::{Digest, Sha256};

use crate::AuditEntry;

pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of an entry's content: everything but its chain position and hashes.
pub(crate) fn content_digest(e: &AuditEntry) -> String {
    let canonical = serde_json::json!([
        2, // encoding version
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
    ]);
    hex(&Sha256::digest(serde_json::to_vec(&canonical).expect("JSON values serialize")))
}

/// The chain link: what an entry at `seq` with `content_digest` after `prev_hash` hashes to.
pub(crate) fn link_hash(prev_hash: &str, seq: i64, content_digest: &str) -> String {
    hex(&Sha256::digest(format!("{prev_hash}:{seq}:{content_digest}").as_bytes()))
}

pub(crate) fn entry_hash(e: &AuditEntry) -> String {
    link_hash(&e.prev_hash, e.seq, &content_digest(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_hash_is_sha256_of_the_joined_text() {
        // sha256 of "0:1:abc", as `printf 0:1:abc | sha256sum` prints it.
        assert_eq!(link_hash("0", 1, "abc"), "1b63f1d821d3b9bffa5d185370173a868197d05378b5a1fa5badf079a1828b4e");
    }
}
