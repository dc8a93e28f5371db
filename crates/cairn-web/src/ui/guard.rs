//! What a page handler takes to say what it needs, so it cannot forget a check:
//!
//! - [`Page<R>`]: a signed-in user holding at least the role `R` ([`Readonly`], [`Member`],
//!   [`Admin`]). Anyone else gets the 403 page, and the denial is in the tenant's audit trail
//!   (`access.denied`) first, as the API's guards do. Signed-out visitors go to sign-in.
//! - [`CsrfForm<T>`]: a form posted with the session's CSRF token (compared in constant
//!   time); anything else gets the "form expired" page and changes nothing. It follows a
//!   `Page<R>` (or `Signed`) in the handler's arguments, which finds the session.
//! - [`PageError`]: what a handler's `?` turns a service error into — a page saying why
//!   for what the caller can act on (400, 404, 409, 429), the generic 500 page (the cause
//!   logged once), or 503 when a database does not answer.
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
            let reason = format!("requires the {} role", R::ROLE);
            return Err(signed.forbidden(state, &attempted, &reason, parts.uri.path()).await);
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
    /// What the caller asked for cannot be done (bad input, gone, a conflict, busy): a page
    /// with that status saying why. Handlers that can show it beside the form match it
    /// before `?`.
    Refused(StatusCode, String),
    /// A fault of Cairn's: the generic 500 page; the cause is logged once.
    Internal(String),
    /// A database does not answer now: 503 with `Retry-After`.
    Unavailable(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Refused(status, text) => {
                let heading = match status {
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::CONFLICT => "Not possible now",
                    StatusCode::BAD_GATEWAY => "No answer upstream",
                    StatusCode::TOO_MANY_REQUESTS => "Busy",
                    _ => "Not valid",
                };
                html::message(status, &Chrome::plain(heading), heading, &text, Some(("/app/numbers", "Back")))
            }
            PageError::Internal(cause) => html::internal(cause),
            PageError::Unavailable(cause) => html::unavailable(cause),
        }
    }
}

// As `ApiError`'s, each domain error's variants are matched one by one: a new variant does
// not compile until someone decides what a page says of it.

impl PageError {
    fn from_sqlx(e: &cairn_store::sqlx::Error) -> Self {
        if crate::error::database_unreachable(e) {
            PageError::Unavailable(e.to_string())
        } else {
            PageError::Internal(e.to_string())
        }
    }

    pub(super) fn invalid(v: &cairn_domain::ValidationError) -> Self {
        PageError::Refused(StatusCode::BAD_REQUEST, v.message.clone())
    }

    pub(super) fn gone(what: &str) -> Self {
        PageError::Refused(StatusCode::NOT_FOUND, format!("That {what} no longer exists."))
    }
}

impl From<cairn_reports::jobs::JobError> for PageError {
    fn from(e: cairn_reports::jobs::JobError) -> Self {
        use cairn_reports::jobs::JobError as E;
        match e {
            E::Database(db) => PageError::from_sqlx(&db),
            E::Audit(a) => a.into(),
            E::Metrics(m) => m.into(),
        }
    }
}

impl From<cairn_reports::objects::ObjectError> for PageError {
    fn from(e: cairn_reports::objects::ObjectError) -> Self {
        PageError::Internal(e.to_string())
    }
}

impl From<cairn_store::sqlx::Error> for PageError {
    fn from(e: cairn_store::sqlx::Error) -> Self {
        PageError::from_sqlx(&e)
    }
}

impl From<cairn_store::StoreError> for PageError {
    fn from(e: cairn_store::StoreError) -> Self {
        use cairn_store::StoreError as E;
        match &e {
            E::Database(inner) => PageError::from_sqlx(inner),
            // A tenant database that cannot be brought up to date fails that tenant only.
            E::Migration { .. } => PageError::Unavailable(e.to_string()),
            E::TenantNotFound(_) => PageError::gone("organization"),
            E::SlugTaken(_) | E::Placement(_) | E::Io { .. } | E::Secret(_) | E::Corrupt { .. } => {
                PageError::Internal(e.to_string())
            }
        }
    }
}

impl From<cairn_audit::AuditError> for PageError {
    fn from(e: cairn_audit::AuditError) -> Self {
        use cairn_audit::AuditError as E;
        match &e {
            E::Database(inner) => PageError::from_sqlx(inner),
            E::Signing(_) | E::HeadMoved => PageError::Internal(e.to_string()),
        }
    }
}

impl From<cairn_identity::IdentityError> for PageError {
    fn from(e: cairn_identity::IdentityError) -> Self {
        use cairn_identity::{IdentityError as E, TokenError};
        match e {
            E::Validation(v) => PageError::invalid(&v),
            E::NotFound(what) => PageError::gone(what),
            E::Conflict(m) => PageError::Refused(StatusCode::CONFLICT, m),
            E::Busy(_) => PageError::Refused(StatusCode::TOO_MANY_REQUESTS, super::BUSY_GO_BACK.into()),
            E::Store(s) => s.into(),
            E::Database(db) => PageError::from_sqlx(&db),
            E::Audit(a) => a.into(),
            E::Token(TokenError::Unavailable(cause)) => PageError::Unavailable(cause),
            failed @ (E::Token(_) | E::Key(_) | E::Mail(_) | E::Upstream(_)) => PageError::Internal(failed.to_string()),
        }
    }
}

impl From<cairn_records::RecordsError> for PageError {
    fn from(e: cairn_records::RecordsError) -> Self {
        use cairn_records::RecordsError as E;
        match e {
            E::NotFound => PageError::gone("record"),
            E::Validation(v) => PageError::invalid(&v),
            E::Database(db) => PageError::from_sqlx(&db),
            E::Audit(a) => a.into(),
        }
    }
}

impl From<cairn_events::EventsError> for PageError {
    fn from(e: cairn_events::EventsError) -> Self {
        use cairn_events::EventsError as E;
        match e {
            E::NotFound(what) => PageError::gone(what),
            E::Validation(v) => PageError::invalid(&v),
            E::Database(db) => PageError::from_sqlx(&db),
            E::Audit(a) => a.into(),
        }
    }
}

impl From<cairn_metrics::MetricsError> for PageError {
    fn from(e: cairn_metrics::MetricsError) -> Self {
        use cairn_metrics::MetricsError as E;
        match e {
            E::NotFound(what) => PageError::gone(what),
            E::Validation(v) => PageError::invalid(&v),
            E::Conflict(m) => PageError::Refused(StatusCode::CONFLICT, m),
            E::Upstream(m) => PageError::Refused(StatusCode::BAD_GATEWAY, m),
            E::Database(db) => PageError::from_sqlx(&db),
            E::Audit(a) => a.into(),
            failed @ E::Corrupt { .. } => PageError::Internal(failed.to_string()),
        }
    }
}

impl From<cairn_numbers::NumbersError> for PageError {
    fn from(e: cairn_numbers::NumbersError) -> Self {
        use cairn_numbers::NumbersError as E;
        match e {
            E::NotFound => PageError::gone("number"),
            E::Database(db) => PageError::from_sqlx(&db),
            E::Audit(a) => a.into(),
        }
    }
}

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

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use cairn_audit::AuditError;
    use cairn_domain::ValidationError;
    use cairn_identity::{IdentityError, TokenError};

    use super::PageError;

    fn status(e: impl Into<PageError>) -> StatusCode {
        e.into().into_response().status()
    }

    #[test]
    fn what_a_caller_can_act_on_is_never_a_500_page() {
        let bad = || ValidationError::new("title", "must not be empty");
        assert_eq!(status(cairn_records::RecordsError::Validation(bad())), StatusCode::BAD_REQUEST);
        assert_eq!(status(cairn_records::RecordsError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(cairn_events::EventsError::NotFound("webhook")), StatusCode::NOT_FOUND);
        assert_eq!(status(cairn_numbers::NumbersError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(cairn_metrics::MetricsError::NotFound("team")), StatusCode::NOT_FOUND);
        assert_eq!(status(cairn_metrics::MetricsError::Conflict("taken".into())), StatusCode::CONFLICT);
        assert_eq!(status(cairn_metrics::MetricsError::Validation(bad())), StatusCode::BAD_REQUEST);
        assert_eq!(status(IdentityError::Conflict("taken".into())), StatusCode::CONFLICT);
        let busy = IdentityError::Busy(cairn_identity::password::Busy { retry_after_secs: 1 });
        let resp = PageError::from(busy).into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().contains_key("retry-after"));
        match PageError::from(IdentityError::Validation(bad())) {
            PageError::Refused(s, text) => {
                assert_eq!((s, text.as_str()), (StatusCode::BAD_REQUEST, "must not be empty"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreachable_database_is_503_and_cairns_faults_500() {
        let unreachable = || cairn_store::sqlx::Error::PoolTimedOut;
        assert_eq!(
            status(cairn_records::RecordsError::Audit(AuditError::Database(unreachable()))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(IdentityError::Token(TokenError::Unavailable("down".into()))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(cairn_events::EventsError::Database(unreachable())), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(AuditError::HeadMoved), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(IdentityError::Key("corrupt".into())), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
