//! The event bus over HTTP: recent events and the live stream (`readonly`), dead letters
//! with replay and discard (`admin`).

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use cairn_domain::{Principal, Role, TenantId, rfc3339};
use cairn_events::{DeadLetter as Dead, DeadSelection, Event};
use cairn_identity::Tokens;
use cairn_store::Db;
use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(event_stream))
        .routes(routes!(list_dead))
        .routes(routes!(replay_dead))
        .routes(routes!(discard_dead))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetter {
    /// The delivery's id (what replay and discard take).
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `webhook:<id>`, `publish_history`, `publish_mail:<user id>`.
    pub consumer: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub failed_at: String,
    pub event_time: String,
}

impl From<Dead> for DeadLetter {
    fn from(d: Dead) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            consumer: d.consumer,
            attempts: d.attempts,
            last_error: d.last_error,
            failed_at: rfc3339(d.failed_at),
            event_time: rfc3339(d.event_time),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Settled {
    /// How many dead letters changed.
    pub count: u64,
}

/// The tenant's events, newest first.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(PageParams),
    responses(
        (status = 200, description = "A page of envelopes (`id`, `type`, `tenant`, `time`, `actor`, `resource`, `payload`, `schema_version`)", body = Page<Value>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Value>>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "event.list").await?;
    let limit = q.limit()?;
    let items = cairn_events::recent(&ctx.db, ctx.tenant.id, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(items, limit, |e| e.id.clone()).map(|e| e.envelope())))
}

/// Follows a tenant's outbox for one live stream.
struct Follow {
    db: Db,
    tenant: TenantId,
    /// Every event at or before this id was sent (or predates the stream).
    cursor: String,
    /// Ids after `cursor` already sent. Ids are taken before their transaction commits, so a
    /// later id can commit first: the stream keeps looking behind its newest event until
    /// `SETTLE_MS` has passed, and sends each event once.
    sent: BTreeSet<String>,
    wakeups: broadcast::Receiver<TenantId>,
    ready: VecDeque<Event>,
    /// Read the outbox before waiting (at the start: a resumed stream may be behind).
    due: bool,
    /// The stream ends when the token that opened it expires (epoch ms); the client
    /// reconnects with a fresh one and `Last-Event-ID`.
    until: i64,
    /// It also ends when the token is revoked (its user's sessions ended), checked against
    /// the revocation epoch (from memory) at every turn, at least once a second.
    principal: Principal,
    tokens: Arc<Tokens>,
    draining: Arc<AtomicBool>,
}

/// How long an event id may wait for its transaction to commit and still be streamed.
const SETTLE_MS: i64 = 5_000;
/// Events read at once.
const READ: i64 = 500;

/// The smallest UUIDv7 of the millisecond `ms`, as text (ids compare as text).
fn first_id_at(ms: i64) -> String {
    let ms = ms.max(0) as u64;
    format!("{:08x}-{:04x}-0000-0000-000000000000", ms >> 16, ms & 0xffff)
}

impl Follow {
    /// Queues the events not yet sent, and moves the cursor past what has settled.
    fn take(&mut self, events: Vec<Event>) {
        let full = events.len() as i64 == READ;
        let last = events.last().map(|e| e.id.clone());
        for e in events {
            if self.sent.insert(e.id.clone()) {
                self.ready.push_back(e);
            }
        }
        let settled = first_id_at(cairn_domain::now_ms() - SETTLE_MS);
        while self.sent.first().is_some_and(|first| *first < settled) {
            self.cursor = self.sent.pop_first().unwrap_or_default();
        }
        // A burst larger than one read: move on rather than read the same rows again.
        if full
            && self.ready.is_empty()
            && let Some(last) = last
        {
            self.sent.retain(|id| *id > last);
            self.cursor = last;
        }
    }

    /// The next event, waiting for a wake-up (or polling every few seconds, for events
    /// another replica committed on SQLite). `None` ends the stream: shutting down.
    async fn next(&mut self) -> Option<Event> {
        let mut quiet = 0;
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(e);
            }
            if self.draining.load(Ordering::SeqCst) || cairn_domain::now_ms() >= self.until {
                return None;
            }
            if self.tokens.revocations().check(&self.principal).await.is_err() {
                return None;
            }
            let woke = std::mem::take(&mut self.due)
                || match tokio::time::timeout(Duration::from_secs(1), self.wakeups.recv()).await {
                    Ok(Ok(t)) => t == self.tenant,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => true,
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Err(_) => {
                        quiet += 1;
                        quiet % 5 == 0
                    }
                };
            if !woke {
                continue;
            }
            match cairn_events::after(&self.db, self.tenant, Some(&self.cursor), READ).await {
                Ok(events) => self.take(events),
                Err(e) => tracing::warn!(error = %e, "live stream read failed"),
            }
        }
    }
}

/// How often an idle live stream sends a comment line.
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Server-sent events: each of the tenant's events as it commits (`event:` the type,
/// `id:` the event id, `data:` the envelope). Reconnecting with `Last-Event-ID` resumes
/// after that event.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event")),
    responses(
        (status = 200, description = "text/event-stream of event envelopes", content_type = "text/event-stream", body = String),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn event_stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "event.stream").await?;
    live(&state, ctx.db, ctx.tenant.id, &ctx.principal, &headers).await
}

/// The live stream of `tenant`'s events from now (or after `Last-Event-ID`) until
/// `principal`'s token expires or is revoked; the web UI's records page uses it too.
pub(crate) async fn live(
    state: &AppState,
    db: Db,
    tenant: TenantId,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>>, crate::ApiError> {
    let wakeups = state.bus.subscribe();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| uuid::Uuid::parse_str(v).is_ok())
        .map(str::to_owned);
    let cursor = match resume {
        Some(c) => c,
        None => cairn_events::recent(&db, tenant, 1, None).await?.pop().map(|e| e.id).unwrap_or_default(),
    };
    let follow = Follow {
        db,
        tenant,
        cursor,
        wakeups,
        sent: BTreeSet::new(),
        ready: VecDeque::new(),
        due: true,
        until: principal.expires_at,
        principal: principal.clone(),
        tokens: state.tokens.clone(),
        draining: state.draining.clone(),
    };
    let events = futures_util::stream::unfold(follow, |mut f| async move {
        let e = f.next().await?;
        let sse = SseEvent::default().id(e.id.clone()).event(e.kind.clone()).data(e.envelope().to_string());
        Some((Ok(sse), f))
    });
    // A comment at once, so the client (and any proxy) sees the stream open before the
    // first event, and one every 15 s so idle connections are not cut.
    let opened = futures_util::stream::once(async { Ok(SseEvent::default().comment("connected")) });
    let stream = futures_util::StreamExt::chain(opened, events);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")))
}

/// Deliveries that exhausted their attempts, newest first.
#[utoipa::path(get, path = "/api/v1/events/dead", tag = "events",
    params(PageParams),
    responses(
        (status = 200, description = "A page of dead letters", body = Page<DeadLetter>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_dead(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<DeadLetter>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "event.dead_list").await?;
    let limit = q.limit()?;
    let items = cairn_events::dead_letters_before(&ctx.db, q.cursor.as_deref(), limit + 1).await?;
    Ok(Json(Page::cut(items, limit, |d| d.id.clone()).map(Into::into)))
}

/// Put a dead letter back in the queue with a fresh attempt budget.
#[utoipa::path(post, path = "/api/v1/events/dead/{id}/replay", tag = "events",
    params(("id" = String, Path, description = "Dead letter (delivery) id")),
    responses(
        (status = 200, description = "Queued again", body = Settled),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such dead letter", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn replay_dead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Settled>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "event.replay").await?;
    let count = cairn_events::replay(&ctx.db, &DeadSelection::One(id), &ctx.actor(), &ctx.meta).await?;
    state.bus.committed(ctx.tenant.id).await;
    Ok(Json(Settled { count }))
}

/// Give up on a dead letter for good.
#[utoipa::path(post, path = "/api/v1/events/dead/{id}/discard", tag = "events",
    params(("id" = String, Path, description = "Dead letter (delivery) id")),
    responses(
        (status = 200, description = "Discarded", body = Settled),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such dead letter", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn discard_dead(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Settled>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "event.discard").await?;
    let count = cairn_events::discard(&ctx.db, &DeadSelection::One(id), &ctx.actor(), &ctx.meta).await?;
    Ok(Json(Settled { count }))
}

#[cfg(test)]
mod tests {
    use super::first_id_at;

    #[test]
    fn the_first_id_of_a_millisecond_orders_with_real_ids() {
        let id = uuid::Uuid::now_v7().to_string();
        let ms = cairn_domain::now_ms();
        assert!(first_id_at(ms - 5_000) < id);
        assert!(first_id_at(ms + 5_000) > id);
        assert_eq!(first_id_at(0), "00000000-0000-0000-0000-000000000000");
    }
}
