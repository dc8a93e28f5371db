//! Cairn's vocabulary: identifiers and value types that are parsed once at the edge,
//! roles, the request principal, and sealing of secrets at rest. No IO happens here.

pub mod events;
pub mod id;
pub mod principal;
pub mod secret;
pub mod tenant;

pub use id::{Id, IdKind};
pub use principal::{Member, Operator, Principal, Role, TenantRef};
pub use secret::{MasterKey, SecretError, random_token, redact_url};
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

/// A stored time as the API speaks it: RFC 3339, UTC, always three fractional digits.
pub fn rfc3339(ms: i64) -> String {
    let printer = jiff::fmt::temporal::DateTimePrinter::new().precision(Some(3));
    jiff::Timestamp::from_millisecond(ms).map(|t| printer.timestamp_to_string(&t)).unwrap_or_default()
}

/// Milliseconds since the Unix epoch, UTC: the one time representation in storage.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_has_fixed_millis() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339(1_795_327_153_990), "2026-11-22T05:59:13.990Z");
    }
}
