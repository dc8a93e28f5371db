//! Per-request context: the request id (taken from `x-request-id` or generated), the
//! tracing span every log line of the request belongs to, the request timeout, and the
//! request metrics.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The current request's id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "-".into())
}

/// A caller's id is kept when it is 1–128 visible ASCII characters; otherwise one is made.
fn request_id_from(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

pub(crate) async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_from(req.headers().get(REQUEST_ID_HEADER));
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        tenant = tracing::field::Empty,
        subject = tracing::field::Empty,
    );
    let timeout = state.config.request_timeout;
    let response = REQUEST_ID
        .scope(request_id.clone(), async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => {
                    tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
                    ApiError::new(ErrorCode::Unavailable, "request timed out").into_response()
                }
            }
        })
        .instrument(span.clone())
        .await;
    let mut response = response;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, "request completed");
    });
    state.metrics.observe_request(&route, method.as_str(), status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// Settings of the request path.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub public_url: String,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Take the client address from `X-Forwarded-For` (behind a trusted load balancer).
    pub trust_proxy_headers: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert_eq!(request_id_from(Some(&HeaderValue::from_static("abc-123"))), "abc-123");
        let made = request_id_from(Some(&HeaderValue::from_static("has space")));
        assert!(uuid::Uuid::parse_str(&made).is_ok());
        let long = "x".repeat(129);
        assert_ne!(request_id_from(Some(&HeaderValue::from_str(&long).unwrap())), long);
        assert!(uuid::Uuid::parse_str(&request_id_from(None)).is_ok());
    }
}
