//! Unauthenticated platform endpoints: liveness, readiness, metrics, keys, API description.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};

pub fn router() -> OpenApiRouter<AppState> {
    probes().routes(routes!(jwks)).routes(routes!(openapi_json))
}

/// Liveness, readiness and metrics: all a worker or scheduler process serves.
pub fn probes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "platform",
    responses((status = 200, description = "Alive", body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: 200 when the control database answers; 503 while draining or when it does not.
#[utoipa::path(get, path = "/readyz", tag = "platform",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Draining, or the control database does not answer", body = ErrorBody),
    ))]
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    if state.draining.load(Ordering::SeqCst) {
        return Err(ApiError::new(ErrorCode::Unavailable, "draining"));
    }
    if !state.store.ping().await {
        return Err(ApiError::new(ErrorCode::Unavailable, "control database does not answer"));
    }
    Ok(Json(Health { status: "ok" }))
}

/// Prometheus text exposition. On the main listener only with `metrics_token` set, and
/// then only to a caller presenting it; the metrics listener (`metrics_listen`) serves it
/// too. Route names, tenant pool counts and delivery rates are not for the public.
#[utoipa::path(get, path = "/metrics", tag = "platform",
    responses(
        (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
        (status = 401, description = "`metrics_token` is set and the request does not carry it", body = ErrorBody),
        (status = 404, description = "No `metrics_token` is set: served only on `metrics_listen`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if state.config.metrics_token.is_none() {
        return Err(ApiError::not_found("metrics are served on the metrics listener, or here with a metrics token"));
    }
    metrics_on_own_listener(State(state), headers).await
}

/// `/metrics` on the metrics listener: the token when one is set, else open (the
/// listener's address is what keeps it private).
pub(crate) async fn metrics_on_own_listener(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(expected) = &state.config.metrics_token {
        let given = match crate::extract::bearer(&headers) {
            Some(Ok(t)) => t,
            _ => "",
        };
        if !crate::html::secret_eq(expected, given) {
            return Err(ApiError::unauthorized("/metrics requires the metrics bearer token"));
        }
    }
    let body = state.metrics.render(&state.store);
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response())
}

/// The public signing keys (JWK set) that verify Cairn's tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "platform",
    responses((status = 200, description = "JWK set (RFC 7517)", body = Object)))]
async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.tokens.keys().jwks())
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/api/openapi.json", tag = "platform",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
async fn openapi_json(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.openapi().clone())
}
