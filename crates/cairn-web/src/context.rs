//! Per-request context: the request id (taken from `x-request-id` or generated), the
//! tracing span every log line of the request belongs to, the request timeout, the
//! request metrics, and what every response carries: `nosniff`, HSTS on https,
//! `no-store` on the API, and the error body in place of the framework's plain-text
//! rejections.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

tokio::task_local! {
    static REQUEST: Arc<RequestScope>;
}

/// What a request's log line says beyond what the middleware sees: who the caller was,
/// once a token or session named them.
#[derive(Debug, Default)]
struct RequestScope {
    id: String,
    caller: Mutex<Option<(Option<String>, String)>>,
}

/// Notes the tenant (slug) and subject of the current request for its `request completed`
/// line (nothing outside a request).
pub fn note_caller(tenant: Option<&str>, subject: &str) {
    let _ = REQUEST.try_with(|r| {
        *r.caller.lock().unwrap_or_else(|e| e.into_inner()) = Some((tenant.map(str::to_owned), subject.to_owned()));
    });
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The current request's id, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST.try_with(|r| r.id.clone()).unwrap_or_else(|_| "-".into())
}

/// A caller's id is kept when it is a short token, 1–64 of `[A-Za-z0-9._-]`; otherwise one
/// is made. The id goes into logs, error bodies and the audit trail, so it must not carry
/// quotes, markup or log-line noise (a leading `-` stays possible: CSV exports quote it).
fn request_id_from(value: Option<&HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// Whether `host` (a URL's or a `Host` header's, without the port) names this machine.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// On one machine, a browser that opens `localhost` while the public URL says `127.0.0.1`
/// (or the reverse) would get cookies for one name and be sent back to the other, and its
/// sign-in would fail. A page request on another loopback name than the public URL's is
/// redirected to the public URL first, before any cookie is set. Only between loopback
/// names: behind a proxy that rewrites `Host`, a redirect could loop.
pub(crate) async fn canonical_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let page = matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD)
        && !req.uri().path().starts_with("/api/")
        && !matches!(req.uri().path(), "/healthz" | "/readyz" | "/metrics");
    if let (true, Some(canonical)) = (page, state.loopback_public_host.as_deref()) {
        let asked = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        if let Some(asked) = asked {
            let asked_host = asked
                .rsplit_once(':')
                .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
                .map_or(asked.as_str(), |(h, _)| h);
            if asked != canonical && is_loopback_host(asked_host) {
                let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
                if let Ok(location) = HeaderValue::from_str(&format!("{}{path}", state.config.public_url)) {
                    return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response();
                }
            }
        }
    }
    next.run(req).await
}

/// `host[:port]` of `public_url` when its host names this machine: the name
/// [`canonical_host`] sends other loopback names to.
pub(crate) fn loopback_host_of(public_url: &str) -> Option<String> {
    let public = url::Url::parse(public_url).ok()?;
    let host = public.host_str().filter(|h| is_loopback_host(h))?;
    Some(match public.port() {
        None => host.to_owned(),
        Some(p) => format!("{host}:{p}"),
    })
}

pub(crate) async fn request_context(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request_id_from(req.headers().get(REQUEST_ID_HEADER));
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    // Every line logged while serving the request carries its id, method and route; the
    // span's fields are fixed when it opens (recording more later costs a re-encoding of
    // them all per field). The one `request completed` line, logged outside the span, has
    // every field at its top level: id, method, route, status, latency, tenant, subject.
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let timeout = state.config.request_timeout;
    let api = req.uri().path().starts_with("/api/");
    let page = wants_page(req.headers(), req.uri().path());
    let scope = Arc::new(RequestScope { id: request_id, caller: Mutex::default() });
    let response = REQUEST
        .scope(scope.clone(), async move {
            let resp = match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(resp) => resp,
                Err(_) => {
                    tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out");
                    ApiError::new(ErrorCode::Unavailable, "request timed out").into_response()
                }
            };
            if page { with_error_page(resp) } else { with_error_body(resp).await }
        })
        .instrument(span)
        .await;
    let mut response = response;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let caller = scope.caller.lock().unwrap_or_else(|e| e.into_inner()).take();
    let (tenant, subject) = caller.as_ref().map_or((None, None), |(t, s)| (t.as_deref(), Some(s.as_str())));
    tracing::info!(
        request_id = %scope.id,
        method = %method,
        route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        tenant,
        subject,
        "request completed"
    );
    state.metrics.observe_request(route, &method, status, elapsed);
    if let Ok(v) = HeaderValue::from_str(&scope.id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if api {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.public_url.starts_with("https://") {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    response
}

/// Two years, subdomains included: once a browser has seen Cairn on https it never tries
/// plain http again (the preload list's minimum is one year).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Whether a request is a browser's for a page: it accepts HTML and its path is none of the
/// machine interfaces (the API, the provider's JSON endpoints, discovery, the probes). Such
/// a request's errors are pages, not JSON.
pub(crate) fn wants_page(headers: &axum::http::HeaderMap, path: &str) -> bool {
    let machine =
        ["/api/", "/oauth2/token", "/oauth2/userinfo", "/oauth2/revoke", "/oauth2/introspect", "/.well-known/"]
            .iter()
            .any(|p| path.starts_with(p))
            || matches!(path, "/healthz" | "/readyz" | "/metrics");
    !machine
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// A framework or fallback error for a page request, as a page (404, 405, 413, 500…): the
/// heading says what happened, a link leads back to Cairn. Cairn's own pages answer HTML
/// already and pass through.
fn with_error_page(resp: Response) -> Response {
    let status = resp.status();
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || html {
        return resp;
    }
    let (heading, text) = match status {
        StatusCode::NOT_FOUND => ("Page not found", "There is nothing at this address. Check the link you followed."),
        StatusCode::METHOD_NOT_ALLOWED => ("Not allowed here", "This address does not take that kind of request."),
        StatusCode::PAYLOAD_TOO_LARGE => ("Too large", "What you sent is larger than Cairn accepts."),
        StatusCode::SERVICE_UNAVAILABLE => ("Cairn cannot answer right now", "Please try again in a few seconds."),
        s if s.is_server_error() => ("Something went wrong", "Please try again in a moment."),
        _ => ("The request could not be read", "Go back and try again."),
    };
    let mut page =
        crate::html::message(status, &crate::html::Chrome::plain(heading), heading, text, Some(("/", "Go to Cairn")));
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = resp.headers().get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

/// The framework answers some malformed requests itself, in plain text: a path segment
/// that is not UTF-8, a query or form that does not parse, a wrong content type, a body
/// too large. Cairn's own handlers never answer an error in plain text (the API uses
/// [`ApiError`], pages render HTML, the OAuth endpoints OAuth's JSON), so such an answer is
/// given the error body here, keeping the framework's message.
async fn with_error_body(resp: Response) -> Response {
    let status = resp.status();
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return resp;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::CONFLICT => ErrorCode::Conflict,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::InternalError,
        // 400, 415, 422: the request was malformed.
        _ => ErrorCode::ValidationError,
    };
    if code == ErrorCode::InternalError {
        return ApiError::new(code, "internal error").into_response();
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 2048).await.unwrap_or_default();
    let mut message: String = String::from_utf8_lossy(&text).trim().chars().take(300).collect();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("request failed").to_lowercase();
    }
    let mut fixed = ApiError::new(code, message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            fixed.headers_mut().insert(name, v.clone());
        }
    }
    fixed
}

/// Settings of the request path.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub public_url: String,
    pub body_limit: usize,
    pub request_timeout: Duration,
    /// Take the client address from `X-Forwarded-For` (behind a trusted load balancer).
    pub trust_proxy_headers: bool,
    /// The bearer token `/metrics` requires; without one, only the metrics listener serves it.
    pub metrics_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert_eq!(request_id_from(Some(&HeaderValue::from_static("abc-123"))), "abc-123");
        let made = request_id_from(Some(&HeaderValue::from_static("has space")));
        assert!(uuid::Uuid::parse_str(&made).is_ok());
        assert_eq!(request_id_from(Some(&HeaderValue::from_static("trace.A_1-z"))), "trace.A_1-z");
        let longest = "x".repeat(64);
        assert_eq!(request_id_from(Some(&HeaderValue::from_str(&longest).unwrap())), longest);
        for bad in ["x".repeat(65), "<script>".into(), "a\"b".into(), "=1+2".into(), "a/b".into(), "a;b".into()] {
            let made = request_id_from(Some(&HeaderValue::from_str(&bad).unwrap()));
            assert!(uuid::Uuid::parse_str(&made).is_ok(), "{bad:?} was kept as {made:?}");
        }
        assert!(uuid::Uuid::parse_str(&request_id_from(None)).is_ok());
    }
}
