//! The event bus over HTTP: recent events and the live stream (`readonly`), dead letters
//! with replay and discard (`admin`).

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, Sse};
use cairn_domain::{Role, rfc3339};
use cairn_events::{DeadLetter as Dead, DeadSelection, DeliveryId, EventsError};
use futures_util::Stream;
use serde::Serialize;
use serde_json::Value;
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
    let items = cairn_events::recent(&ctx.db, ctx.tenant().id, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(items, limit, |e| e.id.clone()).map(|e| e.envelope())))
}

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
    crate::stream::live(&state, ctx.db, &ctx.member, &headers).await
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

/// The dead letter a path names; an id that cannot exist names none.
fn dead_letter(id: &str) -> Result<DeadSelection, EventsError> {
    DeliveryId::parse(id, "id").map(DeadSelection::One).map_err(|_| EventsError::NotFound("dead letter"))
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
    let count = cairn_events::replay(&ctx.db, &dead_letter(&id)?, &ctx.actor(), &ctx.meta).await?;
    state.bus.committed(ctx.tenant().id).await;
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
    let count = cairn_events::discard(&ctx.db, &dead_letter(&id)?, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(Settled { count }))
}
