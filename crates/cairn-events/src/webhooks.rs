//! Webhooks: endpoints an admin registers for event types. Each delivery is a POST of the
//! event's envelope signed as Standard Webhooks specifies (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<id>.<timestamp>.<body>`), with the same retries and dead letters as every consumer, and
//! a log of every attempt. Requests go through the guarded outbound client
//! (`cairn-outbound`): private, loopback and link-local addresses are refused unless the
//! operator allows them, and no redirect is followed.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Id, IdKind, MasterKey, TenantId, ValidationError, now_ms};
use cairn_outbound::Outbound;
use cairn_store::Db;

use crate::model::{Event, EventsError, NewEvent};
use crate::store;
use crate::worker::{Failure, Handler, HandlerFuture, Job};

/// The type of the event [`send_test`] sends: to the one webhook asked for, never to any
/// other consumer (no webhook can subscribe to it).
pub const TEST_EVENT: &str = "webhook.test";

/// Most webhooks per tenant.
pub const MAX_WEBHOOKS: i64 = 50;
/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`WebhookId`] names.
#[derive(Debug)]
pub enum WebhookKind {}

impl IdKind for WebhookKind {
    const WHAT: &'static str = "webhook";
}

/// A webhook's id.
pub type WebhookId = Id<WebhookKind>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: i64,
    pub created_by: String,
}

/// One POST to a receiver, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempt: i64,
    pub time: i64,
    /// The receiver's status code; absent when no response came.
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

/// A receiver URL that passed the outbound client's check (https unless plain http is
/// allowed, a host, no credentials — the signature authenticates Cairn — and no refused
/// literal address). Names are checked again when they resolve, at each delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    /// `raw` as `outbound`'s policy allows it; errors name the field `url`.
    pub fn parse(raw: &str, outbound: &Outbound) -> Result<Self, ValidationError> {
        outbound.check_url("url", raw).map(Self)
    }

    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

/// The event types a webhook subscribes to: 1–20 distinct known types, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    /// `events`, each one of `known`; duplicates dropped. Errors name the field `events`.
    pub fn parse(events: &[String], known: &[&str]) -> Result<Self, ValidationError> {
        if events.is_empty() || events.len() > 20 {
            return Err(ValidationError::new("events", "name 1 to 20 event types"));
        }
        let mut out: Vec<String> = Vec::new();
        for e in events {
            if !known.contains(&e.as_str()) {
                return Err(ValidationError::new(
                    "events",
                    format!("unknown event type {e:?}; known: {}", known.join(", ")),
                ));
            }
            if !out.contains(e) {
                out.push(e.clone());
            }
        }
        Ok(Self(out))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A new secret: `whsec_` and 32 random bytes in base64.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::Rng::fill(&mut rand::thread_rng(), &mut bytes);
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` header for a body: `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`
/// where the key is the secret's base64 part decoded: 24 to 64 bytes, as Standard Webhooks
/// requires (an empty or short key would sign with nothing a receiver could trust).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, ValidationError> {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
        .filter(|k| (24..=64).contains(&k.len()))
        .ok_or_else(|| ValidationError::new("secret", "not a webhook secret"))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    Ok(format!("v1,{}", STANDARD.encode(ctx.sign().as_ref())))
}

fn aad(id: &str) -> String {
    format!("webhook:{id}")
}

/// Registers a webhook; returns it with its secret, which is shown only this once.
pub async fn create(
    db: &Db,
    key: &MasterKey,
    url: WebhookUrl,
    events: EventTypes,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<(Webhook, String), EventsError> {
    let hook = Webhook {
        id: WebhookId::new().to_string(),
        url: url.0.to_string(),
        events: events.0,
        created_at: now_ms(),
        created_by: actor.id.clone(),
    };
    let secret = new_secret();
    let mut tx = db.begin().await?;
    if store::count_webhooks(&mut tx).await? >= MAX_WEBHOOKS {
        return Err(ValidationError::new("webhooks", format!("a tenant has at most {MAX_WEBHOOKS}")).into());
    }
    store::insert_webhook(&mut tx, &hook, &key.seal(secret.as_bytes(), &aad(&hook.id))).await?;
    let entry = NewEntry::new(actor.clone(), Action::fixed("webhook.created"), Outcome::Success, meta.clone())
        .resource("webhook", &hook.id)
        .details(serde_json::json!({ "url": hook.url, "events": hook.events }));
    AuditService::record(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok((hook, secret))
}

pub async fn list(db: &Db) -> Result<Vec<Webhook>, EventsError> {
    Ok(store::webhooks(&mut *db.reader().acquire().await?).await?)
}

/// Webhooks in id order after `after` (a webhook id), at most `limit`: one page of a list.
pub async fn list_after(db: &Db, limit: i64, after: Option<&str>) -> Result<Vec<Webhook>, EventsError> {
    Ok(store::webhooks_after(db, after, limit).await?)
}

pub async fn get(db: &Db, id: &WebhookId) -> Result<Webhook, EventsError> {
    store::webhook(&mut *db.reader().acquire().await?, &id.to_string()).await?.ok_or(EventsError::NotFound("webhook"))
}

/// Changes a webhook's receiver or event types (`None` keeps it). New types apply to events
/// committed from now on.
pub async fn update(
    db: &Db,
    id: &WebhookId,
    url: Option<WebhookUrl>,
    events: Option<EventTypes>,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<Webhook, EventsError> {
    let id = &id.to_string();
    let mut tx = db.begin().await?;
    let mut hook = store::webhook(&mut tx, id).await?.ok_or(EventsError::NotFound("webhook"))?;
    if let Some(u) = url {
        hook.url = u.0.to_string();
    }
    if let Some(e) = events {
        hook.events = e.0;
    }
    store::update_webhook(&mut tx, &hook).await?;
    let entry = NewEntry::new(actor.clone(), Action::fixed("webhook.updated"), Outcome::Success, meta.clone())
        .resource("webhook", id)
        .details(serde_json::json!({ "url": hook.url, "events": hook.events }));
    AuditService::record(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(hook)
}

/// Replaces a webhook's secret; returns the new one, shown only this once. Deliveries made
/// from now on are signed with it.
pub async fn rotate_secret(
    db: &Db,
    key: &MasterKey,
    id: &WebhookId,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<String, EventsError> {
    let id = &id.to_string();
    let secret = new_secret();
    let mut tx = db.begin().await?;
    if !store::set_webhook_secret(&mut tx, id, &key.seal(secret.as_bytes(), &aad(id))).await? {
        return Err(EventsError::NotFound("webhook"));
    }
    let entry = NewEntry::new(actor.clone(), Action::fixed("webhook.secret_rotated"), Outcome::Success, meta.clone())
        .resource("webhook", id);
    AuditService::record(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(secret)
}

/// Queues a test event for webhook `id` alone: an event of type [`TEST_EVENT`] and its one
/// delivery, committed with the audit entry; then delivered, retried and logged like any
/// other. The caller wakes the workers ([`crate::Bus::committed`]).
pub async fn send_test(
    db: &Db,
    tenant: TenantId,
    id: &WebhookId,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<Event, EventsError> {
    let id = &id.to_string();
    let mut tx = db.begin().await?;
    let hook = store::webhook(&mut tx, id).await?.ok_or(EventsError::NotFound("webhook"))?;
    let test = NewEvent {
        kind: TEST_EVENT,
        resource_type: "webhook",
        resource_id: hook.id.clone(),
        payload: serde_json::json!({ "message": "A test event, sent on request.", "url": hook.url }),
    };
    let event = crate::emit(&mut tx, tenant, actor, test).await?;
    crate::enqueue(&mut tx, &event.id, &format!("webhook:{}", hook.id)).await?;
    let entry = NewEntry::new(actor.clone(), Action::fixed("webhook.test_sent"), Outcome::Success, meta.clone())
        .resource("webhook", id)
        .details(serde_json::json!({ "event_id": event.id }));
    AuditService::record(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(event)
}

/// Removes a webhook; its pending deliveries end without a request.
pub async fn delete(db: &Db, id: &WebhookId, actor: &Actor, meta: &RequestMeta) -> Result<(), EventsError> {
    let id = &id.to_string();
    let mut tx = db.begin().await?;
    if !store::delete_webhook(&mut tx, id).await? {
        return Err(EventsError::NotFound("webhook"));
    }
    let entry = NewEntry::new(actor.clone(), Action::fixed("webhook.deleted"), Outcome::Success, meta.clone())
        .resource("webhook", id);
    AuditService::record(db, &mut tx, entry).await?;
    tx.commit().await?;
    Ok(())
}

/// The delivery log, newest first; `before` is an attempt id from a previous page.
pub async fn attempts(
    db: &Db,
    webhook_id: &WebhookId,
    limit: i64,
    before: Option<&str>,
) -> Result<Vec<Attempt>, EventsError> {
    let webhook_id = &webhook_id.to_string();
    Ok(store::webhook_attempts(&mut *db.reader().acquire().await?, webhook_id, limit, before).await?)
}

/// The `webhook:<id>` consumer: POSTs the envelope to the receiver through the guarded
/// outbound client.
#[derive(Debug, Clone)]
pub struct Deliverer {
    key: MasterKey,
    outbound: Outbound,
}

impl Deliverer {
    pub fn new(key: MasterKey, outbound: Outbound) -> Self {
        Self { key, outbound }
    }

    async fn post(&self, job: &Job) -> Result<(), Failure> {
        let retry = |e: cairn_store::sqlx::Error| Failure::Retry(e.to_string());
        let mut conn = job.db.reader().acquire().await.map_err(retry)?;
        let found = store::webhook_with_secret(&mut conn, job.key()).await.map_err(retry)?;
        drop(conn);
        // Deleted since the event: nothing to send.
        let Some((hook, secret)) = found else { return Ok(()) };
        let secret =
            self.key.open(&secret, &aad(&hook.id)).ok().and_then(|s| String::from_utf8(s).ok()).ok_or_else(|| {
                Failure::Permanent("the webhook's secret cannot be opened with this master key".into())
            })?;
        let body = serde_json::to_vec(&job.event.envelope()).unwrap_or_default();
        let timestamp = now_ms() / 1000;
        let signature =
            sign(&secret, &job.event.id, timestamp, &body).map_err(|e| Failure::Permanent(e.to_string()))?;
        let started = Instant::now();
        let sent = match self.outbound.post(&hook.url) {
            Err(e) => Err(e),
            Ok(request) => {
                request
                    .timeout(TIMEOUT)
                    .header("content-type", "application/json")
                    .header("webhook-id", &job.event.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(body)
                    .send()
                    .await
            }
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        let (status, error) = match &sent {
            Ok(r) => (Some(i64::from(r.status().as_u16())), None),
            Err(e) => (None, Some(e.to_string())),
        };
        // An address the operator does not allow stays refused: no retry will change that.
        let refused = matches!(sent, Err(cairn_outbound::OutboundError::Refused(_)));
        let attempt = store::NewAttempt {
            webhook_id: &hook.id,
            event_id: &job.event.id,
            event_type: &job.event.kind,
            attempt: job.attempt,
            status,
            duration_ms,
            error: error.as_deref(),
        };
        let logged = match job.db.writer().acquire().await {
            Ok(mut conn) => store::log_attempt(&mut conn, &attempt).await,
            Err(e) => Err(e),
        };
        if let Err(e) = logged {
            tracing::warn!(error = %e, "webhook attempt not logged");
        }
        match (status, error) {
            (Some(s), _) if (200..300).contains(&s) => Ok(()),
            (Some(410), _) => Err(Failure::Permanent("the receiver answered 410 Gone".into())),
            (Some(s), _) => Err(Failure::Retry(format!("the receiver answered {s}"))),
            (None, e) if refused => Err(Failure::Permanent(e.unwrap_or_default())),
            (None, e) => Err(Failure::Retry(e.unwrap_or_default())),
        }
    }
}

impl Handler for Deliverer {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(self.post(job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference libraries' own signing vector.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signatures_match_the_standard_webhooks_vector() {
        assert_eq!(sign(SECRET, ID, TIMESTAMP, BODY).unwrap(), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_signed_part_counts() {
        let reference = sign(SECRET, ID, TIMESTAMP, BODY).unwrap();
        let changed = [
            sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJel", TIMESTAMP, BODY).unwrap(),
            sign(SECRET, ID, TIMESTAMP + 1, BODY).unwrap(),
            sign(SECRET, ID, TIMESTAMP, br#"{"test": 2432232315}"#).unwrap(),
            sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", ID, TIMESTAMP, BODY).unwrap(),
        ];
        for other in &changed {
            assert_ne!(other, &reference);
        }
        // The dots keep the parts apart: moving a digit from the id to the timestamp is
        // another signature.
        assert_ne!(sign(SECRET, "msg_1", 23, BODY).unwrap(), sign(SECRET, "msg_12", 3, BODY).unwrap());
    }

    #[test]
    fn only_a_webhook_secret_signs() {
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_",
            "whsec_MfKQ9r8GKYqr",
        ] {
            let err = sign(bad, ID, TIMESTAMP, BODY).unwrap_err();
            assert_eq!(err.field, "secret", "{bad}");
        }
    }

    #[test]
    fn new_secrets_are_32_random_bytes_that_sign() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        for s in [&a, &b] {
            let key = STANDARD.decode(s.strip_prefix("whsec_").expect("the whsec_ prefix")).unwrap();
            assert_eq!(key.len(), 32, "{s}");
            assert!(sign(s, ID, TIMESTAMP, BODY).unwrap().starts_with("v1,"));
        }
    }
}
