//! Cairn's vocabulary: identifiers and value types that are parsed once at the edge,
//! roles, the request principal, and sealing of secrets at rest. No IO happens here.

pub mod principal;
pub mod secret;
pub mod tenant;

pub use principal::{Principal, Role, TenantRef};
pub use secret::{MasterKey, SecretError, redact_url};
pub use tenant::{TenantId, TenantSlug};

/// A caller-supplied value that failed to parse; names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Milliseconds since the Unix epoch, UTC: the one time representation in storage.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
