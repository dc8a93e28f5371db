//! The web UI. It signs in through Cairn's own provider like any other client
//! (authorization code + PKCE with the tenant's built-in web client) and keeps the
//! resulting tokens in a sealed, `HttpOnly`, `SameSite=Lax` cookie (`Secure` unless the
//! public URL is plain http). Every form carries the session's CSRF token.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use cairn_audit::{Actor, RequestMeta};
use cairn_domain::{Principal, Role, TenantId, TenantSlug, now_ms};
use cairn_identity::model::web_client_id;
use cairn_identity::provider::pkce_challenge;
use cairn_identity::{ClientCtx, Grant};
use cairn_store::{Db, Tenant};
use serde::{Deserialize, Serialize};

mod audit;
mod clients;
mod dashboard;
mod events;
mod guard;
mod instances;
mod metrics;
mod numbers;
mod profile;
mod records;
mod reports;
mod sources;
mod unsubscribe;
mod users;
mod view;
mod webhooks;

pub(crate) use self::guard::{Admin, CsrfForm, Flash, Member, Page, PageError, Readonly};
use crate::AppState;
use crate::extract::Meta;
pub(super) use crate::html::internal;
use crate::html::{self, Chrome};

const WEB_COOKIE: &str = "cairn_web";
const WEB_AAD: &str = "cairn-web-session";
const LOGIN_COOKIE: &str = "cairn_web_login";
const LOGIN_AAD: &str = "cairn-web-login";
const LOGIN_TTL_MS: i64 = 30 * 60_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/signin", get(choose_org))
        .route("/t/{slug}/", get(start_sign_in))
        .route("/auth/callback", get(callback))
        .route("/app/numbers", get(numbers::page).post(numbers::add))
        .route("/app/users", get(users::page).post(users::create))
        .route("/app/users/{id}", get(users::show).post(users::save))
        .route("/app/users/{id}/{action}", get(users::confirm).post(users::act))
        .route("/app/profile", get(profile::page).post(profile::save))
        .route("/app/profile/password", post(profile::password))
        .route("/app/clients", get(clients::page).post(clients::create))
        .route("/app/clients/{id}", get(clients::show).post(clients::save))
        .route("/app/clients/{id}/{action}", get(clients::confirm).post(clients::act))
        .route("/app/audit", get(audit::page))
        .route("/app/audit/{id}", get(audit::entry))
        .route("/app/records", get(records::page).post(records::create))
        .route("/app/records/stream", get(records::stream))
        .route("/app/records/list", get(records::fragment))
        .route("/app/records/{id}", get(records::show).post(records::save))
        .route("/app/records/{id}/publish", post(records::publish))
        .route("/app/records/{id}/delete", get(records::confirm_delete).post(records::delete))
        .route("/t/{slug}/records/{id}", get(records::link))
        .route("/app/webhooks", get(webhooks::page).post(webhooks::create))
        .route("/app/webhooks/{id}", get(webhooks::show).post(webhooks::save))
        .route("/app/webhooks/{id}/test", post(webhooks::test))
        .route("/app/webhooks/{id}/rotate", get(webhooks::confirm_rotate).post(webhooks::rotate))
        .route("/app/webhooks/{id}/delete", get(webhooks::confirm_delete).post(webhooks::delete))
        .route("/app/dashboard", get(dashboard::home))
        .route("/app/dashboard/teams/{id}", get(dashboard::team))
        .route("/app/dashboard/teams/{id}/cycle-time", get(dashboard::cycle_time))
        .route("/app/dashboard/teams/{id}/dora", get(dashboard::dora))
        .route("/app/dashboard/teams/{id}/sprints/{sprint}", get(dashboard::sprint))
        .route("/app/dashboard/people/{key}", get(dashboard::person))
        .route("/app/metrics/teams", get(metrics::teams).post(metrics::create_team))
        .route("/app/metrics/teams/{id}", get(metrics::show_team).post(metrics::save_team))
        .route("/app/metrics/teams/{id}/delete", get(metrics::confirm_delete).post(metrics::delete_team))
        .route("/app/metrics/settings", get(metrics::settings).post(metrics::save_settings))
        .route("/app/metrics/sources", get(sources::sources).post(sources::create_source))
        .route("/app/metrics/sources/{id}", get(sources::show_source).post(sources::save_source))
        .route("/app/metrics/sources/{id}/runs", get(sources::source_runs).post(sources::run_now))
        .route("/app/metrics/sources/{id}/delete", get(sources::confirm_delete).post(sources::delete_source))
        .route("/app/metrics/runs", get(sources::runs))
        .route("/app/metrics/runs/{id}", get(sources::show_run))
        .route("/app/metrics/runs/{id}/progress", get(sources::run_progress))
        .route("/app/instances", get(instances::page))
        .route("/app/instances/rows", get(instances::rows))
        .route("/app/instances/accounts", get(instances::accounts).post(instances::create_account))
        .route("/app/instances/accounts/{id}", get(instances::show_account).post(instances::save_account))
        .route(
            "/app/instances/accounts/{id}/delete",
            get(instances::confirm_delete_account).post(instances::delete_account),
        )
        .route("/app/instances/{account}/{region}/{id}", get(instances::show))
        .route("/app/instances/{account}/{region}/{id}/{action}", get(instances::confirm).post(instances::act))
        .route("/app/reports", get(reports::page).post(reports::request))
        .route("/app/reports/audit", post(reports::request_audit))
        .route("/app/reports/instances", post(reports::request_instances))
        .route("/app/reports/schedules", post(reports::schedule))
        .route("/app/reports/settings", post(reports::save_settings))
        .route("/app/reports/schedules/{id}/delete", get(reports::confirm_unschedule).post(reports::unschedule))
        // A report's expiring download link (a capability: no session, no token).
        .route("/reports/{tenant}/{file}", get(reports::download))
        .route("/app/reports/{id}/delete", get(reports::confirm_delete).post(reports::delete))
        .route("/app/reports/{id}/preview", get(reports::preview))
        .route("/app/reports/{id}/pdf", get(reports::inline_pdf))
        .route("/app/events", get(events::page))
        .route("/app/events/{id}/{action}", get(events::confirm).post(events::act))
        .route("/app/signout", post(sign_out))
        .route("/unsubscribe/{token}", get(unsubscribe::confirm).post(unsubscribe::unsubscribe))
        .route("/unsubscribe/reports/{token}", get(unsubscribe::confirm_report).post(unsubscribe::unsubscribe_report))
}

/// The signed-in web session, sealed in its cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WebSession {
    tenant: TenantId,
    access: String,
    refresh: String,
    csrf: String,
}

/// A sign-in in progress: the PKCE verifier, state and nonce, sealed in a cookie.
#[derive(Debug, Serialize, Deserialize)]
struct WebLogin {
    tenant: TenantId,
    verifier: String,
    state: String,
    at: i64,
}

fn callback_url(state: &AppState) -> String {
    format!("{}/auth/callback", state.config.public_url)
}

fn open<T: serde::de::DeserializeOwned>(state: &AppState, headers: &HeaderMap, cookie: &str, aad: &str) -> Option<T> {
    html::open_json(state, &html::cookie(state, headers, cookie)?, aad)
}

#[derive(Template)]
#[template(path = "choose_org.html")]
struct ChooseOrgPage<'a> {
    c: &'a Chrome,
    /// What was typed, kept when it is refused.
    org: &'a str,
    error: Option<&'a str>,
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if open::<WebSession>(&state, &headers, WEB_COOKIE, WEB_AAD).is_some() {
        return html::see_other("/app/numbers");
    }
    let c = Chrome::plain("Sign in");
    html::render(StatusCode::OK, &c, &ChooseOrgPage { c: &c, org: "", error: None }, &[])
}

#[derive(Debug, Deserialize)]
struct OrgQuery {
    org: Option<String>,
}

async fn choose_org(Query(q): Query<OrgQuery>) -> Response {
    let typed = q.org.as_deref().unwrap_or_default();
    match TenantSlug::parse(typed.trim()) {
        Ok(slug) => html::see_other(&format!("/t/{slug}/")),
        Err(_) => {
            let c = Chrome::plain("Sign in");
            let error = Some("Enter your organization's short name: lower-case letters, digits and dashes.");
            html::render(StatusCode::BAD_REQUEST, &c, &ChooseOrgPage { c: &c, org: typed, error }, &[])
        }
    }
}

/// Starts signing in to the tenant `slug`: a PKCE pair and state, then the provider.
/// Also how a signed-in user switches organization.
async fn start_sign_in(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let not_found = || {
        html::message(
            StatusCode::NOT_FOUND,
            &Chrome::plain("No such organization"),
            "No such organization",
            "Check the sign-in link you followed.",
            Some(("/", "Choose an organization")),
        )
    };
    let Ok(slug) = TenantSlug::parse(&slug) else { return not_found() };
    let tenant = match state.store.tenant_by_slug(&slug).await {
        Ok(t) => t,
        Err(cairn_store::StoreError::TenantNotFound(_)) => return not_found(),
        Err(e) => return internal(e),
    };
    let login =
        WebLogin { tenant: tenant.id, verifier: html::random_token(48), state: html::random_token(24), at: now_ms() };
    let mut url =
        url::Url::parse(&format!("{}/oauth2/authorize", state.config.public_url)).expect("public URL is a URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &web_client_id(tenant.id))
        .append_pair("redirect_uri", &callback_url(&state))
        .append_pair("scope", "openid profile email")
        .append_pair("state", &login.state)
        .append_pair("code_challenge", &pkce_challenge(&login.verifier))
        .append_pair("code_challenge_method", "S256");
    let mut resp = html::see_other(url.as_str());
    let cookie = html::seal_json(&state, &login, LOGIN_AAD);
    resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(&state, LOGIN_COOKIE, &cookie, Some(1800)));
    resp
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn web_client(state: &AppState, tenant: TenantId) -> Result<Option<ClientCtx>, Response> {
    state.identity.client(&web_client_id(tenant)).await.map_err(internal)
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let restart = |text: &str| {
        html::message(
            StatusCode::BAD_REQUEST,
            &Chrome::plain("Sign-in failed"),
            "Sign-in failed",
            text,
            Some(("/", "Start again")),
        )
    };
    let Some(login) =
        open::<WebLogin>(&state, &headers, LOGIN_COOKIE, LOGIN_AAD).filter(|l| now_ms() - l.at < LOGIN_TTL_MS)
    else {
        return restart("This sign-in was not started in this browser, or it took too long.");
    };
    if !q.state.as_deref().is_some_and(|given| html::secret_eq(&login.state, given)) {
        return restart("The response does not belong to this sign-in.");
    }
    if let Some(e) = q.error {
        return restart(&q.error_description.unwrap_or(e));
    }
    let Some(code) = q.code else { return restart("The provider sent no code.") };
    let ctx = match web_client(&state, login.tenant).await {
        Ok(Some(c)) => c,
        Ok(None) => return restart("The organization no longer exists."),
        Err(r) => return r,
    };
    let grant = Grant::AuthorizationCode {
        code,
        redirect_uri: Some(callback_url(&state)),
        code_verifier: Some(login.verifier),
    };
    let tokens = match state.identity.token(&ctx, grant, &meta).await {
        Ok(t) => t,
        Err(cairn_identity::OAuthError::Internal(e)) => return internal(e),
        Err(e) => return restart(&e.description()),
    };
    let Some(refresh) = tokens.refresh_token else { return internal("web client got no refresh token") };
    let session =
        WebSession { tenant: login.tenant, access: tokens.access_token, refresh, csrf: html::random_token(24) };
    let mut resp = html::see_other("/app/numbers");
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        html::set_cookie(&state, WEB_COOKIE, &html::seal_json(&state, &session, WEB_AAD), None),
    );
    h.append(header::SET_COOKIE, html::set_cookie(&state, LOGIN_COOKIE, "", Some(0)));
    resp
}

/// A signed-in page request: the member (of the session's tenant, as its token says), the
/// tenant and its database, and the session (refreshed, with a new cookie to set, when its
/// access token had expired).
pub(super) struct Signed {
    pub member: cairn_domain::Member,
    pub tenant: Tenant,
    pub db: Db,
    session: WebSession,
    set_cookie: Option<String>,
    pub meta: RequestMeta,
}

/// What the shell around every signed-in page shows.
pub(super) struct Nav {
    pub section: &'static str,
    pub who: String,
    pub csrf: String,
    pub admin: bool,
    pub org: String,
}

impl Signed {
    pub fn actor(&self) -> Actor {
        crate::extract::member_actor(&self.member)
    }

    /// Sets the refreshed session cookie, if the session was refreshed.
    pub fn finish(&self, state: &AppState, mut resp: Response) -> Response {
        if let Some(c) = &self.set_cookie {
            resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, WEB_COOKIE, c, None));
        }
        resp
    }

    /// The chrome and navigation of a page in `section`.
    pub async fn shell(&self, state: &AppState, title: &str, section: &'static str) -> (Chrome, Nav) {
        let settings = state.identity.settings(&self.db).await.unwrap_or_default();
        let b = state.identity.branding(&self.tenant, &settings);
        let nav = Nav {
            section,
            who: self.member.email.clone().unwrap_or_else(|| self.member.subject.clone()),
            csrf: self.session.csrf.clone(),
            admin: self.can(Role::Admin),
            org: self.tenant.slug.to_string(),
        };
        (Chrome::new(title, b.org, b.accent), nav)
    }

    /// Renders a signed-in page.
    pub fn render(&self, state: &AppState, status: StatusCode, chrome: &Chrome, view: &impl Template) -> Response {
        self.finish(state, html::render(status, chrome, view, &[]))
    }

    /// The 403 page for `attempted` (`GET /app/users`) at `path`; the denial is recorded in
    /// the tenant's audit trail first.
    async fn forbidden(&self, state: &AppState, attempted: &str, reason: &str, path: &str) -> Response {
        crate::extract::record_denial_at(&self.db, self.actor(), &self.meta, attempted, reason, Some(path)).await;
        let (c, _) = self.shell(state, "Not allowed", "").await;
        let text = format!("This page {reason}.");
        self.finish(
            state,
            html::message(StatusCode::FORBIDDEN, &c, "Not allowed", &text, Some(("/app/numbers", "Back"))),
        )
    }

    /// The page for something that is not there (an unknown or deleted id).
    pub async fn not_found(&self, state: &AppState, heading: &str, back: (&str, &str)) -> Response {
        let (c, _) = self.shell(state, heading, "").await;
        let text = "It may have been deleted, or the link is wrong.";
        self.finish(state, html::message(StatusCode::NOT_FOUND, &c, heading, text, Some(back)))
    }
}

/// Handlers take `Signed` as an argument; signed-out visitors get the redirect to sign-in.
impl axum::extract::FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<Self, Response> {
        let meta = crate::extract::request_meta(parts, state.config.trust_proxy_headers);
        let signed = signed_in(state, &parts.headers, meta).await?;
        parts
            .extensions
            .insert(guard::SessionForm { csrf: signed.session.csrf.clone(), set_cookie: signed.set_cookie.clone() });
        Ok(signed)
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    heading: &'a str,
    question: &'a str,
    action: &'a str,
    button: &'a str,
    cancel: &'a str,
}

/// The page a destructive action's button leads to: the question, a button whose form
/// posts to `action` (with the CSRF token), and a way back to `cancel`. Works without
/// JavaScript; nothing changes until the form is sent.
pub(super) async fn confirm(
    state: &AppState,
    s: &Signed,
    heading: &str,
    question: &str,
    action: &str,
    button: &str,
    cancel: &str,
) -> Response {
    let (c, nav) = s.shell(state, heading, "").await;
    let view = ConfirmPage { c: &c, nav: &nav, notice: None, error: None, heading, question, action, button, cancel };
    s.render(state, StatusCode::OK, &c, &view)
}

/// The message a page shows for an identity error the admin or user can act on
/// (validation 400, conflict 409, gone 404); anything else stays an internal error.
/// What a page says when passwords cannot be hashed now (load shedding); sent as a 429
/// with `Retry-After`.
pub(crate) const BUSY: &str = "Too many passwords are being checked right now. Try again in a moment.";
/// As [`BUSY`], on a page without the form.
pub(crate) const BUSY_GO_BACK: &str =
    "Too many passwords are being checked right now. Go back and try again in a moment.";

/// As [`problem`], with a validation mistake placed beside its field when the form shows it.
pub(super) fn problem_at(
    e: cairn_identity::IdentityError,
    shown: &[&str],
) -> Result<(StatusCode, view::Invalid), cairn_identity::IdentityError> {
    match e {
        cairn_identity::IdentityError::Validation(v) => Ok((StatusCode::BAD_REQUEST, view::Invalid::of(&v, shown))),
        other => problem(other).map(|(status, message)| (status, view::Invalid::general(message))),
    }
}

pub(super) fn problem(e: cairn_identity::IdentityError) -> Result<(StatusCode, String), cairn_identity::IdentityError> {
    use cairn_identity::IdentityError as E;
    match e {
        E::Validation(v) => Ok((StatusCode::BAD_REQUEST, v.message)),
        E::Conflict(m) => Ok((StatusCode::CONFLICT, m)),
        E::NotFound(what) => Ok((StatusCode::NOT_FOUND, format!("That {what} no longer exists."))),
        E::Busy(_) => Ok((StatusCode::TOO_MANY_REQUESTS, BUSY.into())),
        other => Err(other),
    }
}

/// Signed-out visitors go to sign-in. A session whose grant ended goes to its organization's
/// sign-in, where a live provider session signs in again without a password (e.g. after two
/// tabs raced to refresh the same token and reuse detection revoked it).
async fn signed_in(state: &AppState, headers: &HeaderMap, meta: RequestMeta) -> Result<Signed, Response> {
    let to = |location: &str| {
        let mut r = html::see_other(location);
        r.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, WEB_COOKIE, "", Some(0)));
        r
    };
    let to_sign_in = || to("/");
    let Some(mut session) = open::<WebSession>(state, headers, WEB_COOKIE, WEB_AAD) else { return Err(to_sign_in()) };
    let Some((tenant, db)) = state.identity.tenant(session.tenant).await.map_err(internal)? else {
        return Err(to_sign_in());
    };
    let mut set_cookie = None;
    let principal = match state.tokens.verify_access(&session.access).await {
        Err(cairn_identity::TokenError::Unavailable(e)) => return Err(html::unavailable(e)),
        Ok(p) => {
            if !state.identity.grant_active(&db, &session.refresh).await.map_err(internal)? {
                return Err(to(&format!("/t/{}/", tenant.slug)));
            }
            p
        }
        Err(_) => {
            let Some(ctx) = web_client(state, session.tenant).await? else { return Err(to_sign_in()) };
            let grant = Grant::RefreshToken { refresh_token: session.refresh.clone(), scope: None };
            match state.identity.token(&ctx, grant, &meta).await {
                Ok(t) => {
                    session.access = t.access_token;
                    session.refresh = t.refresh_token.unwrap_or_default();
                    set_cookie = Some(html::seal_json(state, &session, WEB_AAD));
                    state.tokens.verify_access(&session.access).await.map_err(|e| match e {
                        cairn_identity::TokenError::Unavailable(cause) => html::unavailable(cause),
                        other => internal(other),
                    })?
                }
                Err(cairn_identity::OAuthError::Internal(e)) => return Err(internal(e)),
                Err(_) => return Err(to(&format!("/t/{}/", tenant.slug))),
            }
        }
    };
    // Only a member of the session's own tenant has pages here.
    let member = match principal {
        Principal::Member(m) if m.tenant.id == tenant.id => m,
        Principal::Member(_) | Principal::Operator(_) => return Err(to_sign_in()),
    };
    crate::context::note_caller(Some(tenant.slug.as_str()), &member.subject);
    Ok(Signed { member, tenant, db, session, set_cookie, meta })
}

/// Signs out: revokes the session's refresh tokens, ends the provider session (same
/// origin, so no round trip through RP-initiated logout, which would ask again), and
/// clears both cookies.
async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: guard::SignOutForm,
) -> Response {
    let clear = |mut r: Response| {
        let h = r.headers_mut();
        h.append(header::SET_COOKIE, html::set_cookie(&state, WEB_COOKIE, "", Some(0)));
        h.append(header::SET_COOKIE, html::set_cookie(&state, crate::oidc::SESSION_COOKIE, "", Some(0)));
        r
    };
    let guard::SignOutForm(Some(session)) = form else {
        return clear(html::see_other("/"));
    };
    if let Ok(Some(ctx)) = web_client(&state, session.tenant).await
        && let Err(e) = state.identity.revoke(&ctx, &session.refresh, &meta).await
    {
        tracing::warn!(error = %e, "could not revoke the web session's refresh token");
    }
    if let Some(handle) = html::cookie(&state, &headers, crate::oidc::SESSION_COOKIE)
        && let Err(e) = state.identity.end_session(&handle, &meta).await
    {
        tracing::warn!(error = %e, "could not end the provider session");
    }
    clear(html::see_other("/"))
}
