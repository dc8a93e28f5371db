//! Cairn's event bus: the transactional outbox, delivery of each event to each consumer
//! with leases, retries with backoff and jitter, dead letters, webhooks, and the wake-ups
//! that keep latency low.
//!
//! A change writes its event with [`emit`] in its own transaction, then calls
//! [`Bus::committed`]. A [`Worker`] (any number, on any replica) dispatches new events to
//! the consumers subscribed to their type, claims due deliveries with a lease, runs the
//! consumer's [`Handler`] and records the outcome. A delivery whose lease expires (its
//! worker died) becomes claimable again, so nothing is lost; handlers are idempotent by
//! event id, so nothing happens twice.

mod bus;
mod model;
mod store;
pub mod webhooks;
mod worker;

pub use bus::Bus;
pub use model::{DeadLetter, DeliveryId, Event, EventsError, NewEvent};
pub use worker::{Consumers, DeliverySettings, DeliveryStats, Failure, Handler, HandlerFuture, Job, Worker};

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{TenantId, now_ms};
use cairn_store::{Db, Migration, sqlx};
use sqlx::AnyConnection;

pub fn control_migrations() -> Vec<Migration> {
    vec![Migration {
        component: "events",
        version: 1,
        name: "event_work",
        sqlite: include_str!("../migrations/sqlite/control_0001_event_work.sql"),
        postgres: include_str!("../migrations/postgres/control_0001_event_work.sql"),
    }]
}

pub fn tenant_migrations() -> Vec<Migration> {
    vec![Migration {
        component: "events",
        version: 1,
        name: "outbox, deliveries, webhooks",
        sqlite: include_str!("../migrations/sqlite/tenant_0001_events.sql"),
        postgres: include_str!("../migrations/postgres/tenant_0001_events.sql"),
    }]
}

/// Writes `event` to the outbox on `conn`, which must be the transaction of the change.
pub async fn emit(
    conn: &mut AnyConnection,
    tenant: TenantId,
    actor: &Actor,
    event: NewEvent,
) -> Result<Event, sqlx::Error> {
    let event = Event {
        id: uuid::Uuid::now_v7().to_string(),
        kind: event.kind.to_owned(),
        tenant,
        time: now_ms(),
        actor: actor.clone(),
        resource_type: event.resource_type.to_owned(),
        resource_id: event.resource_id,
        payload: event.payload,
        schema_version: model::SCHEMA_VERSION,
    };
    store::insert_event(conn, &event).await?;
    Ok(event)
}

/// Adds the delivery of an existing event to `consumer`, unless it exists: the key
/// (event id, consumer) is what makes a fan-out idempotent.
pub async fn enqueue(conn: &mut AnyConnection, event_id: &str, consumer: &str) -> Result<bool, sqlx::Error> {
    store::insert_delivery(conn, event_id, consumer, now_ms()).await
}

/// The tenant's recent events, newest first, older than `before` (an event id) when given.
/// Internal events (`internal.*`: account mail, reset requests) are never listed.
pub async fn recent(db: &Db, tenant: TenantId, limit: i64, before: Option<&str>) -> Result<Vec<Event>, EventsError> {
    Ok(store::recent(db, tenant, limit, before).await?)
}

/// Events after `after` (an event id) in id order, at most `limit`: the live stream's reads.
pub async fn after(db: &Db, tenant: TenantId, after: Option<&str>, limit: i64) -> Result<Vec<Event>, EventsError> {
    Ok(store::after(db, tenant, after, limit).await?)
}

/// Whether the delivery of event `event_id` to `consumer` is done (delivered).
pub async fn delivered(db: &Db, event_id: &str, consumer: &str) -> Result<bool, EventsError> {
    Ok(store::delivery_state(db, event_id, consumer).await?.as_deref() == Some("done"))
}

/// Dead letters, newest first.
pub async fn dead_letters(db: &Db, limit: i64) -> Result<Vec<DeadLetter>, EventsError> {
    dead_letters_before(db, None, limit).await
}

/// Dead letters, newest first, older than `before` (a dead letter's id) when given.
pub async fn dead_letters_before(db: &Db, before: Option<&str>, limit: i64) -> Result<Vec<DeadLetter>, EventsError> {
    Ok(store::dead_letters(db, before, limit).await?)
}

/// Retention: deletes up to `batch` events older than `before` whose deliveries all ended
/// (done or discarded), with their deliveries, and as many webhook attempts older than
/// `before`. Events with a pending delivery or a dead letter stay. Returns how many rows went.
pub async fn sweep(db: &Db, before: i64, batch: i64) -> Result<u64, EventsError> {
    Ok(store::sweep(db, before, batch).await?)
}

/// Which dead letters an operation applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadSelection {
    One(DeliveryId),
    All,
}

/// Puts dead letters back in the queue with a fresh attempt budget; returns how many.
pub async fn replay(db: &Db, which: &DeadSelection, actor: &Actor, meta: &RequestMeta) -> Result<u64, EventsError> {
    settle_dead(db, which, "pending", "event.replayed", actor, meta).await
}

/// Gives up on dead letters for good (they stay listed in history as `discarded`).
pub async fn discard(db: &Db, which: &DeadSelection, actor: &Actor, meta: &RequestMeta) -> Result<u64, EventsError> {
    settle_dead(db, which, "discarded", "event.discarded", actor, meta).await
}

async fn settle_dead(
    db: &Db,
    which: &DeadSelection,
    to: &str,
    action: &'static str,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<u64, EventsError> {
    let mut tx = db.begin().await?;
    let id = match which {
        DeadSelection::One(id) => Some(id.to_string()),
        DeadSelection::All => None,
    };
    let id = id.as_deref();
    let n = store::settle_dead(&mut tx, id, to, now_ms()).await?;
    if n == 0 {
        if id.is_some() {
            return Err(EventsError::NotFound("dead letter"));
        }
        return Ok(0);
    }
    let entry = NewEntry::new(actor.clone(), Action::fixed(action), Outcome::Success, meta.clone())
        .resource("delivery", id.unwrap_or("*"))
        .details(serde_json::json!({ "count": n }));
    AuditService::record(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(n)
}
