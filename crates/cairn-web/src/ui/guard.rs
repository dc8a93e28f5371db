//! What a page handler takes to say what it needs, so it cannot forget a check:
//!
//! - [`Page<R>`]: a signed-in user holding at least the role `R` ([`Readonly`], [`Member`],
//!   [`Admin`]). Anyone else gets the 403 page, and the denial is in the tenant's audit trail
//!   (`access.denied`) first, as the API's guards do. Signed-out visitors go to sign-in.
//! - [`CsrfForm<T>`]: a form posted with the session's CSRF token (compared in constant
//!   time); anything else gets the "form expired" page and changes nothing. It follows a
//!   `Page<R>` (or `Signed`) in the handler's arguments, which finds the session.
//! - [`PageError`]: what a handler's `?` turns a service error into — the generic 500 page
//!   (the cause logged once), or 503 when a database does not answer.
//!
//! No handler compares a role or a CSRF token itself (`tests/invariants.rs` checks).

use std::marker::PhantomData;
use std::ops::Deref;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_domain::Role;
use serde::de::DeserializeOwned;

use super::{Signed, WEB_AAD, WEB_COOKIE, WebSession};
use crate::AppState;
use crate::html::{self, Chrome};

/// The least role a page needs.
pub(crate) trait Needs: Send + Sync {
    const ROLE: Role;
}

/// Any member of the organization (the least role).
pub(crate) struct Readonly;
/// Members and admins: pages that change records and numbers.
pub(crate) struct Member;
/// Admins: users, applications, webhooks, the audit log, failed deliveries.
pub(crate) struct Admin;

impl Needs for Readonly {
    const ROLE: Role = Role::Readonly;
}
impl Needs for Member {
    const ROLE: Role = Role::Member;
}
impl Needs for Admin {
    const ROLE: Role = Role::Admin;
}

/// A signed-in request whose user holds at least `R`; derefs to [`Signed`].
pub(crate) struct Page<R: Needs> {
    signed: Signed,
    role: PhantomData<R>,
}

impl<R: Needs> Deref for Page<R> {
    type Target = Signed;

    fn deref(&self) -> &Signed {
        &self.signed
    }
}

impl<R: Needs> FromRequestParts<AppState> for Page<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed = Signed::from_request_parts(parts, state).await?;
        if !signed.member.has_role(R::ROLE) {
            let path = parts.extensions.get::<MatchedPath>().map_or(parts.uri.path(), MatchedPath::as_str);
            let attempted = format!("{} {path}", parts.method);
            return Err(signed.forbidden(state, &attempted, &format!("requires the {} role", R::ROLE)).await);
        }
        Ok(Page { signed, role: PhantomData })
    }
}

impl Signed {
    /// Whether a page offers what needs `role`: which buttons and forms to show. The
    /// handlers those forms post to are guarded by their own [`Page`] type.
    pub fn can(&self, role: Role) -> bool {
        self.member.has_role(role)
    }
}

/// What the session's extractor leaves for a form extractor later in the same request:
/// the CSRF token to compare, and the refreshed session cookie a refusal must still set.
#[derive(Clone)]
pub(super) struct SessionForm {
    pub csrf: String,
    pub set_cookie: Option<String>,
}

/// A form posted with the session's CSRF token, parsed into `T` (repeated names, such as a
/// list of checkboxes, fill a `Vec`).
pub(crate) struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let Some(session) = req.extensions().get::<SessionForm>().cloned() else {
            return Err(html::internal("a CSRF-checked form was read before its page's session"));
        };
        let refused = |resp: Response| keep_session(state, &session, resp);
        let body = Bytes::from_request(req, state).await.map_err(|e| refused(e.into_response()))?;
        let given = url::form_urlencoded::parse(&body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
        if !html::csrf_ok(Some(&session.csrf), given.as_deref()) {
            return Err(refused(expired()));
        }
        match serde_html_form::from_bytes::<T>(&body) {
            Ok(form) => Ok(CsrfForm(form)),
            Err(e) => {
                let text = format!("The form could not be read ({e}); go back and try again.");
                let c = Chrome::plain("Form not valid");
                Err(refused(html::message(StatusCode::BAD_REQUEST, &c, "Form not valid", &text, None)))
            }
        }
    }
}

/// The page for a form whose CSRF token is missing or not this session's.
fn expired() -> Response {
    let c = Chrome::plain("Form expired");
    let text = "The form expired or came from another page; go back, reload it and try again.";
    html::message(StatusCode::FORBIDDEN, &c, "Form expired", text, Some(("/app/numbers", "Back")))
}

/// A refusal still sets a session cookie refreshed on the way in: the old one's refresh
/// token is spent.
fn keep_session(state: &AppState, session: &SessionForm, mut resp: Response) -> Response {
    if let Some(c) = &session.set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, WEB_COOKIE, c, None));
    }
    resp
}

/// An error a page handler passes on with `?`.
#[derive(Debug)]
pub(crate) enum PageError {
    /// A fault of Cairn's: the generic 500 page; the cause is logged once.
    Internal(String),
    /// A database does not answer now: 503 with `Retry-After`.
    Unavailable(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Internal(cause) => html::internal(cause),
            PageError::Unavailable(cause) => html::unavailable(cause),
        }
    }
}

impl PageError {
    fn from_sqlx(e: &cairn_store::sqlx::Error) -> Self {
        if crate::error::database_unreachable(e) {
            PageError::Unavailable(e.to_string())
        } else {
            PageError::Internal(e.to_string())
        }
    }
}

impl From<cairn_store::sqlx::Error> for PageError {
    fn from(e: cairn_store::sqlx::Error) -> Self {
        PageError::from_sqlx(&e)
    }
}

impl From<cairn_store::StoreError> for PageError {
    fn from(e: cairn_store::StoreError) -> Self {
        match &e {
            cairn_store::StoreError::Database(inner) => PageError::from_sqlx(inner),
            // A tenant database that cannot be brought up to date fails that tenant only.
            cairn_store::StoreError::Migration { .. } => PageError::Unavailable(e.to_string()),
            _ => PageError::Internal(e.to_string()),
        }
    }
}

/// The service errors a page does not show the user (what it can act on — validation,
/// conflicts — a handler matches before `?`) are Cairn's faults, or the database's absence.
macro_rules! page_errors {
    ($($error:ty => $sqlx:path),* $(,)?) => {$(
        impl From<$error> for PageError {
            fn from(e: $error) -> Self {
                match &e {
                    $sqlx(inner) => PageError::from_sqlx(inner),
                    _ => PageError::Internal(e.to_string()),
                }
            }
        }
    )*};
}

page_errors!(
    cairn_identity::IdentityError => cairn_identity::IdentityError::Database,
    cairn_records::RecordsError => cairn_records::RecordsError::Database,
    cairn_events::EventsError => cairn_events::EventsError::Database,
    cairn_audit::AuditError => cairn_audit::AuditError::Database,
    cairn_numbers::NumbersError => cairn_numbers::NumbersError::Database,
);

/// The sign-out form: the session as its cookie holds it (not refreshed: signing out must
/// work for a session whose tokens lapsed) and the form's CSRF token checked against it.
/// `None` when there is no session to end.
pub(super) struct SignOutForm(pub Option<WebSession>);

impl FromRequest<AppState> for SignOutForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let session: Option<WebSession> = super::open(state, req.headers(), WEB_COOKIE, WEB_AAD);
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        let Some(session) = session else { return Ok(SignOutForm(None)) };
        let given = url::form_urlencoded::parse(&body).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
        if !html::csrf_ok(Some(&session.csrf), given.as_deref()) {
            return Err(expired());
        }
        Ok(SignOutForm(Some(session)))
    }
}

const FLASH_COOKIE: &str = "cairn_flash";
const FLASH_AAD: &str = "cairn-web-flash";
/// How long a secret waits for the page that shows it.
const FLASH_SECS: i64 = 300;

/// A secret shown once on the page a successful form redirects to (post/redirect/get):
/// sealed in a short-lived cookie, bound to the signed-in user, and cleared by the page that
/// shows it, so a refresh neither repeats the change nor shows the secret again.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Flash {
    /// Which page shows it (`clients`, `webhooks`).
    pub page: String,
    /// What the secret belongs to (a client id, a webhook id).
    pub id: String,
    pub secret: String,
    pub notice: String,
    subject: String,
}

impl Flash {
    pub fn new(s: &Signed, page: &str, id: &str, secret: &str, notice: &str) -> Self {
        Flash {
            page: page.into(),
            id: id.into(),
            secret: secret.into(),
            notice: notice.into(),
            subject: s.member.subject.clone(),
        }
    }

    /// A 303 to `location` carrying this flash.
    pub fn redirect(&self, state: &AppState, s: &Signed, location: &str) -> Response {
        let mut resp = html::see_other(location);
        let sealed = html::seal_json(state, self, FLASH_AAD);
        resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, FLASH_COOKIE, &sealed, Some(FLASH_SECS)));
        s.finish(state, resp)
    }

    /// The flash for `page` this browser carries for its signed-in user, if any.
    pub fn take(state: &AppState, s: &Signed, headers: &axum::http::HeaderMap, page: &str) -> Option<Flash> {
        let sealed = html::cookie(state, headers, FLASH_COOKIE)?;
        html::open_json::<Flash>(state, &sealed, FLASH_AAD).filter(|f| f.page == page && f.subject == s.member.subject)
    }

    /// Clears the flash cookie on the response of the page that showed it.
    pub fn clear(state: &AppState, mut resp: Response) -> Response {
        resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, FLASH_COOKIE, "", Some(0)));
        resp
    }
}
