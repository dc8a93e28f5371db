use cairn_audit::{Actor, AuditError};
use cairn_domain::{Id, IdKind, TenantId, ValidationError, rfc3339};
use cairn_store::sqlx;
use serde_json::{Value, json};

/// The envelope's version: bumped when its shape changes incompatibly.
pub const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] AuditError),
}

/// What a [`DeliveryId`] names: one event's delivery to one consumer (a dead letter, once
/// its attempts ran out).
#[derive(Debug)]
pub enum DeliveryKind {}

impl IdKind for DeliveryKind {
    const WHAT: &'static str = "delivery";
}

/// A delivery's id.
pub type DeliveryId = Id<DeliveryKind>;

/// What a change emits; [`crate::emit`] adds the id, time, tenant and actor.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub payload: Value,
}

/// One event as stored in the outbox and delivered to consumers.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// UUIDv7: ordered by time.
    pub id: String,
    /// The event type, e.g. `record_published`.
    pub kind: String,
    pub tenant: TenantId,
    pub time: i64,
    pub actor: Actor,
    pub resource_type: String,
    pub resource_id: String,
    pub payload: Value,
    pub schema_version: i64,
}

impl Event {
    /// The envelope as webhooks, the live stream and the API carry it.
    pub fn envelope(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind,
            "tenant": self.tenant.to_string(),
            "time": rfc3339(self.time),
            "actor": { "id": self.actor.id, "email": self.actor.email },
            "resource": { "type": self.resource_type, "id": self.resource_id },
            "payload": self.payload,
            "schema_version": self.schema_version,
        })
    }
}

/// A delivery that exhausted its attempts (or failed permanently).
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub consumer: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub failed_at: i64,
    pub event_time: i64,
}
