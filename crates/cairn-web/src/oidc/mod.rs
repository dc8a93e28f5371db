//! The OpenID Connect provider over HTTP, in two parts: the protocol endpoints
//! ([`protocol`]: discovery, authorize, token, userinfo, revocation, introspection,
//! RP-initiated logout) and the hosted pages ([`pages`]: sign-in, first-sign-in password
//! change, forgot and reset, single sign-on through a tenant's upstream providers). This
//! module merges their routes and holds what they share: the provider's cookies, the page
//! chrome and error pages, and issuing the code once a user is signed in. The JSON bodies
//! of the token, userinfo and introspection endpoints are in [`responses`].
//!
//! Protocol errors use OAuth's bodies (`{"error","error_description"}`), not the API's.
//! An authorization request whose client or redirect URI cannot be trusted gets an
//! error page, never a redirect.

mod pages;
mod protocol;
mod responses;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::Response;
use cairn_identity::{AuthRequest, IdentityError, User};
use cairn_store::{Db, Tenant};

use crate::AppState;
use crate::html::{self, Chrome, internal};
use crate::ui::PageError;

/// Cookie of the provider's browser session (the SSO session behind `prompt=none`).
pub const SESSION_COOKIE: &str = "cairn_session";
/// A browser that signed in to an account (a random token, stored as its SHA-256), for
/// the tenant's paths only: it lets its owner past the account's pause on unrecognised
/// clients. The sign-in form posts under `/t/<slug>/` so that it is sent.
pub const DEVICE_COOKIE: &str = "cairn_device";

pub fn router() -> Router<AppState> {
    Router::new().merge(protocol::router()).merge(pages::router())
}

/// Page chrome in a tenant's colours.
async fn chrome(state: &AppState, tenant: &Tenant, db: &Db, title: &str) -> Chrome {
    let settings = state.identity.settings(db).await.unwrap_or_default();
    let b = state.identity.branding(tenant, &settings);
    Chrome::new(title, b.org, b.accent)
}

fn error_page(status: StatusCode, heading: &str, text: &str) -> Response {
    html::message(status, &Chrome::plain(heading), heading, text, None)
}

/// Issues the code and redirects to the client, optionally setting the session cookie.
async fn finish(
    state: &AppState,
    db: &Db,
    req: &AuthRequest,
    user: &User,
    auth_time: i64,
    session: Option<String>,
) -> Response {
    match state.identity.complete_authorization(db, req, user, auth_time).await {
        Ok(to) => {
            let mut resp = html::see_other(&to);
            if let Some(handle) = session {
                resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, SESSION_COOKIE, &handle, None));
            }
            resp
        }
        Err(e) => grant_failed(e),
    }
}

fn expired_request() -> Response {
    error_page(StatusCode::BAD_REQUEST, "This sign-in has expired", "Go back to the application and sign in again.")
}

fn csrf_failed() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Your session changed",
        "The form was not sent from this browser session. Go back to the application and try again.",
    )
}

/// A session or code that could not be granted: the account changed while signing in (the
/// person signs in again), or another failure.
fn grant_failed(e: IdentityError) -> Response {
    match e {
        IdentityError::Conflict(why) => error_page(StatusCode::CONFLICT, "Sign in again", &why),
        other => failed(other),
    }
}

/// A failure a hosted page does not handle itself, with the status the console's pages
/// give it (`503` with `Retry-After` when a database does not answer, `500` only for
/// Cairn's own faults), in the hosted pages' chrome, which has no console links.
fn failed(e: impl Into<PageError>) -> Response {
    match e.into() {
        PageError::Refused(status, text) => error_page(status, "Cannot continue", &text),
        PageError::Internal(cause) => internal(cause),
        PageError::Unavailable(cause) => html::unavailable(cause),
    }
}
