//! Webhooks over HTTP: admins only. The secret is returned once, at creation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, events, rfc3339};
use cairn_events::EventsError;
use cairn_events::webhooks::{self, Attempt, EventTypes, Webhook as Hook, WebhookId, WebhookUrl};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{OutboundUrl, Page, PageParams};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(rotate_webhook_secret))
        .routes(routes!(webhook_deliveries))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// The receiver: https (http only where the operator allows it), no credentials.
    /// Private, loopback and link-local addresses are refused unless the operator allows
    /// them.
    #[schema(value_type = OutboundUrl)]
    pub url: String,
    /// 1–20 event types to receive; repeats are dropped.
    #[schema(min_items = 1, max_items = 20, value_type = Vec<EventType>)]
    pub events: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// The receiver, by the same rules as at registration.
    #[schema(value_type = Option<OutboundUrl>)]
    pub url: Option<String>,
    /// 1–20 event types; repeats are dropped.
    #[schema(min_items = 1, max_items = 20, value_type = Option<Vec<EventType>>)]
    pub events: Option<Vec<String>>,
}

/// The event types a webhook may receive.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum EventType {
    RecordsCreated,
    RecordUpdated,
    RecordsDeleted,
    RecordPublished,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewSecret {
    /// The new `whsec_…` secret, shown only now; the old one stops signing at once.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
    pub created_by: String,
}

impl From<Hook> for Webhook {
    fn from(h: Hook) -> Self {
        Self { id: h.id, url: h.url, events: h.events, created_at: rfc3339(h.created_at), created_by: h.created_by }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_…`: verifies the `webhook-signature` header. Shown only now.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// 1 for the first attempt of this event.
    pub attempt: i64,
    pub time: String,
    /// The receiver's status code; absent when it did not answer.
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

impl From<Attempt> for DeliveryAttempt {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id,
            event_id: a.event_id,
            event_type: a.event_type,
            attempt: a.attempt,
            time: rfc3339(a.time),
            status: a.status,
            duration_ms: a.duration_ms,
            error: a.error,
        }
    }
}

/// The webhook a path names; an id that cannot exist names none.
fn webhook_id(id: &str) -> Result<WebhookId, EventsError> {
    WebhookId::parse(id, "id").map_err(|_| EventsError::NotFound("webhook"))
}

/// Register a webhook.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Registered; the secret is shown only now", body = CreatedWebhook),
        (status = 400, description = "Invalid URL or event types", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.create").await?;
    let url = WebhookUrl::parse(&body.url, &state.identity.outbound)?;
    let types = EventTypes::parse(&body.events, &events::ALL)?;
    let key = state.store.master_key();
    let (hook, secret) = webhooks::create(&ctx.db, key, url, types, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(CreatedWebhook { webhook: hook.into(), secret })))
}

/// List webhooks, in id (creation) order.
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    params(PageParams),
    responses(
        (status = 200, description = "A page of webhooks", body = Page<Webhook>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Webhook>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.list").await?;
    let limit = q.limit()?;
    let items = webhooks::list_after(&ctx.db, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(items, limit, |h| h.id.clone()).map(Into::into)))
}

/// One webhook.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Webhook>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.read").await?;
    Ok(Json(webhooks::get(&ctx.db, &webhook_id(&id)?).await?.into()))
}

/// Change a webhook's receiver or event types.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    request_body = UpdateWebhook,
    responses(
        (status = 200, description = "The webhook, changed", body = Webhook),
        (status = 400, description = "Invalid URL or event types", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhook>,
) -> ApiResult<Json<Webhook>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.update").await?;
    let id = webhook_id(&id)?;
    let url = body.url.as_deref().map(|u| WebhookUrl::parse(u, &state.identity.outbound)).transpose()?;
    let types = body.events.as_deref().map(|e| EventTypes::parse(e, &events::ALL)).transpose()?;
    Ok(Json(webhooks::update(&ctx.db, &id, url, types, &ctx.actor(), &ctx.meta).await?.into()))
}

/// Replace a webhook's secret; the new one is shown only now.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The new secret", body = NewSecret),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn rotate_webhook_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<NewSecret>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.rotate_secret").await?;
    let id = webhook_id(&id)?;
    let secret = webhooks::rotate_secret(&ctx.db, state.store.master_key(), &id, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(NewSecret { secret }))
}

/// Remove a webhook; deliveries not yet made are dropped.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.delete").await?;
    webhooks::delete(&ctx.db, &webhook_id(&id)?, &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The webhook's delivery log: every attempt with its status code and timing, newest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Webhook id"), PageParams),
    responses(
        (status = 200, description = "Attempts, newest first", body = Page<DeliveryAttempt>),
        (status = 400, description = "Invalid limit", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn webhook_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<DeliveryAttempt>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "webhook.read").await?;
    let limit = q.limit()?;
    let id = webhook_id(&id)?;
    webhooks::get(&ctx.db, &id).await?;
    let items = webhooks::attempts(&ctx.db, &id, limit + 1, q.cursor.as_deref()).await?;
    Ok(Json(Page::cut(items, limit, |a| a.id.clone()).map(Into::into)))
}
