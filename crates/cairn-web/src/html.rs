//! What every HTML response shares: the strict Content-Security-Policy (with a per-page
//! nonce for the one style block that carries the tenant's accent colour), cookies,
//! and CSRF tokens.

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::AppState;

/// Page chrome: title, organization name and accent colour, and the CSP nonce.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    pub org: String,
    pub accent: String,
    pub nonce: String,
}

impl Chrome {
    pub fn new(title: impl Into<String>, org: impl Into<String>, accent: impl Into<String>) -> Self {
        Self { title: title.into(), org: org.into(), accent: accent.into(), nonce: random_token(16) }
    }

    /// Cairn's own pages, before an organization is known.
    pub fn plain(title: impl Into<String>) -> Self {
        Self::new(title, "Cairn", "#2563eb")
    }
}

pub use cairn_domain::random_token;

/// Whether cookies carry `Secure`: always, unless the public URL is plain http (loopback
/// development).
pub fn secure(state: &AppState) -> bool {
    state.config.public_url.starts_with("https://")
}

/// `value` as JSON, sealed with the master key for browser state that must come back
/// unaltered (forms, cookies); `aad` names what it is, so one kind cannot pass as another.
pub fn seal_json(state: &AppState, value: &impl serde::Serialize, aad: &str) -> String {
    state.store.master_key().seal(&serde_json::to_vec(value).expect("browser state serialises"), aad)
}

/// Opens what [`seal_json`] sealed; `None` when forged, damaged or of another kind.
pub fn open_json<T: serde::de::DeserializeOwned>(state: &AppState, sealed: &str, aad: &str) -> Option<T> {
    serde_json::from_slice(&state.store.master_key().open(sealed, aad).ok()?).ok()
}

/// The page for a fault of Cairn's: generic; the cause is logged once here.
pub fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "internal error");
    let heading = "Something went wrong";
    message(StatusCode::INTERNAL_SERVER_ERROR, &Chrome::plain(heading), heading, "Please try again in a moment.", None)
}

/// Renders `page` with `status` and the security headers. `form_targets` are origins a
/// form on the page may end up at (a sign-in form redirects to the client).
pub fn render(status: StatusCode, chrome: &Chrome, page: &impl Template, form_targets: &[String]) -> Response {
    let body = match page.render() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    let mut form_action = String::from("'self'");
    for t in form_targets {
        form_action.push(' ');
        form_action.push_str(t);
    }
    let csp = format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'nonce-{}'; img-src 'self' data:; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'",
        chrome.nonce
    );
    let mut resp = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Every 429 page says when to come back; a handler that knows better overrides it.
    if status == StatusCode::TOO_MANY_REQUESTS {
        h.insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_SECS));
    }
    resp
}

/// When a page refused for load (passwords being hashed) asks to be retried.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The origin of a URL (`scheme://host[:port]`), for CSP source lists.
pub fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let o = u.origin();
    o.is_tuple().then(|| o.ascii_serialization())
}

/// A 303 to `location` (after a form post, or into a flow).
pub fn see_other(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure` unless the
/// public URL is plain http (loopback development). `max_age` of 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age_secs: Option<i64>, secure: bool) -> HeaderValue {
    set_cookie_at(name, value, "/", max_age_secs, secure)
}

/// As [`set_cookie`], for the path `path` and below only.
pub fn set_cookie_at(name: &str, value: &str, path: &str, max_age_secs: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age_secs {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).expect("cookie values are URL-safe text")
}

/// Compares a submitted CSRF token with the expected one in constant time.
pub fn csrf_ok(expected: Option<&str>, given: Option<&str>) -> bool {
    match (expected, given) {
        (Some(e), Some(g)) if !e.is_empty() => bool::from(e.as_bytes().ct_eq(g.as_bytes())),
        _ => false,
    }
}

/// The pre-sign-in CSRF cookie (double submit: the form carries the same value).
pub const CSRF_COOKIE: &str = "cairn_csrf";

/// The CSRF cookie's value, or a new one to set.
pub fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE).filter(|v| v.len() >= 22) {
        Some(v) => (v, false),
        None => (random_token(24), true),
    }
}

/// Error page content.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub c: &'a Chrome,
    pub heading: &'a str,
    pub text: &'a str,
    pub link: Option<(&'a str, &'a str)>,
}

/// A full-page message (errors the user can read, "signed out", "check your mail").
pub fn message(status: StatusCode, chrome: &Chrome, heading: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    render(status, chrome, &MessagePage { c: chrome, heading, text, link }, &[])
}
