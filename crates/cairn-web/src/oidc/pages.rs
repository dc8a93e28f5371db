//! The provider's hosted pages: the sign-in form (under the tenant's path, so that the
//! device cookie is sent), the first-sign-in password change, forgot and reset password,
//! and single sign-on through a tenant's upstream providers.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use cairn_domain::{TenantSlug, now_ms};
use cairn_identity::provider::AUTH_REQUEST_TTL_MS;
use cairn_identity::{AuthRequest, ClientCtx, CurrentSession, IdentityError, ResetOutcome, SignIn, User};
use cairn_store::{Db, Tenant};
use serde::{Deserialize, Serialize};

use super::{DEVICE_COOKIE, chrome, csrf_failed, error_page, expired_request, failed, finish, grant_failed};
use crate::AppState;
use crate::extract::Meta;
use crate::html::{self, Chrome};

const REQUEST_AAD: &str = "cairn-auth-request";
const PENDING_AAD: &str = "cairn-pending-password-change";
/// How long the first-sign-in password form stays valid.
const PENDING_TTL_MS: i64 = 10 * 60_000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/signin", post(sign_in))
        .route("/t/{slug}/signin", post(tenant_sign_in))
        .route("/oauth2/change-password", post(change_password))
        .route("/oauth2/sso", get(sso_start))
        .route("/oauth2/sso/callback", get(sso_callback))
        .route("/t/{slug}/forgot", get(forgot_form).post(forgot))
        .route("/t/{slug}/reset", get(reset_form).post(reset))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    c: &'a Chrome,
    connections: &'a [(String, String)],
    request: &'a str,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    forgot_url: &'a str,
    action: &'a str,
}

#[derive(Template)]
#[template(path = "change_password.html")]
struct ChangePasswordPage<'a> {
    c: &'a Chrome,
    request: &'a str,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

/// Renders the sign-in form for `req`, setting the CSRF cookie when it is new.
pub(super) async fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &ClientCtx,
    req: &AuthRequest,
    email: &str,
    error: Option<(StatusCode, &str)>,
) -> Response {
    let sealed = html::seal_json(state, req, REQUEST_AAD);
    let csrf = html::csrf_token(state, headers);
    let c = chrome(state, &ctx.tenant, &ctx.db, "Sign in").await;
    let forgot = format!("/t/{}/forgot", ctx.tenant.slug);
    let action = format!("/t/{}/signin", ctx.tenant.slug);
    let connections = match state.identity.list_connections(&ctx.db).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let mut targets: Vec<String> = html::origin(&req.redirect_uri).into_iter().collect();
    // The SSO buttons' form ends at the upstream provider (CSP form-action covers redirects).
    targets.extend(connections.iter().filter_map(|c| html::origin(&c.issuer)));
    let buttons: Vec<(String, String)> = connections.into_iter().map(|c| (c.id, c.name)).collect();
    let page = SignInPage {
        c: &c,
        connections: &buttons,
        request: &sealed,
        csrf: &csrf.token,
        email,
        error: error.map(|e| e.1),
        forgot_url: &forgot,
        action: &action,
    };
    let status = error.map(|e| e.0).unwrap_or(StatusCode::OK);
    csrf.attach(html::render(status, &c, &page, &targets))
}

/// Opens a sealed authorization request and finds its client; `None` when it is forged,
/// expired, or its client is gone.
async fn open_request(state: &AppState, sealed: &str) -> Option<(ClientCtx, AuthRequest)> {
    let req: AuthRequest = html::open_json(state, sealed, REQUEST_AAD)?;
    if now_ms() - req.created_at > AUTH_REQUEST_TTL_MS {
        return None;
    }
    let ctx = state.identity.client(&req.client_id).await.ok()??;
    (ctx.tenant.id == req.tenant && ctx.client.redirect_uris.contains(&req.redirect_uri)).then_some((ctx, req))
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    request: String,
    csrf: Option<String>,
    email: String,
    password: String,
}

/// The sign-in form's target before it moved under the tenant's path (forms already open
/// in a browser); it never sees the device cookie.
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(form): Form<SignInForm>,
) -> Response {
    sign_in_to(&state, &headers, meta, None, form).await
}

async fn tenant_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    Form(form): Form<SignInForm>,
) -> Response {
    sign_in_to(&state, &headers, meta, Some(slug), form).await
}

/// The device cookie for `tenant`'s paths.
fn device_cookie(state: &AppState, tenant: &Tenant, token: &str) -> header::HeaderValue {
    let path = format!("/t/{}/", tenant.slug);
    let max_age = cairn_identity::signin::DEVICE_DAYS * 86_400;
    html::set_cookie_at(state, DEVICE_COOKIE, token, &path, Some(max_age))
}

/// Remembers the browser that signed in as `user` on `resp` (a failure to remember is
/// logged: the sign-in itself stands).
async fn remember_device(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &ClientCtx,
    user: &User,
    mut resp: Response,
) -> Response {
    let previous = html::path_cookies(state, headers, DEVICE_COOKIE);
    match state.identity.remember_device(&ctx.db, user, &previous).await {
        Ok(token) => {
            resp.headers_mut().append(header::SET_COOKIE, device_cookie(state, &ctx.tenant, &token));
        }
        Err(e) => tracing::error!(error = %e, "could not remember the signed-in browser"),
    }
    resp
}

async fn sign_in_to(
    state: &AppState,
    headers: &HeaderMap,
    meta: cairn_audit::RequestMeta,
    slug: Option<String>,
    form: SignInForm,
) -> Response {
    // Under a storm of sign-ins, refuse before any database work.
    if state.identity.argon2.saturated() {
        return error_page(StatusCode::TOO_MANY_REQUESTS, "Too many sign-ins right now", crate::ui::BUSY_GO_BACK);
    }
    let Some((ctx, req)) = open_request(state, &form.request).await else { return expired_request() };
    if slug.is_some_and(|s| s != ctx.tenant.slug.as_str()) {
        return expired_request();
    }
    if !html::csrf_form_ok(state, headers, form.csrf.as_deref()) {
        return csrf_failed();
    }
    let devices = html::path_cookies(state, headers, DEVICE_COOKIE);
    let outcome = state.identity.sign_in(&ctx.tenant, &ctx.db, &form.email, &form.password, &devices, &meta).await;
    let email = form.email.trim();
    let retry = |secs: i64| format!("Too many attempts. Try again in {secs} seconds.");
    match outcome {
        Ok(SignIn::Success(user)) => match state.identity.start_session(&ctx.tenant, &ctx.db, &user).await {
            Ok((handle, auth_time)) => {
                let resp = finish(state, &ctx.db, &req, &user, auth_time, Some(handle)).await;
                remember_device(state, headers, &ctx, &user, resp).await
            }
            Err(e) => grant_failed(e),
        },
        Ok(SignIn::MustChangePassword(user)) => change_password_page(state, headers, &ctx, &req, &user, None).await,
        Ok(SignIn::Invalid) => {
            sign_in_page(
                state,
                headers,
                &ctx,
                &req,
                email,
                Some((StatusCode::UNAUTHORIZED, "Incorrect email or password.")),
            )
            .await
        }
        Ok(SignIn::Throttled { retry_after_secs }) => {
            let msg = retry(retry_after_secs);
            let mut resp =
                sign_in_page(state, headers, &ctx, &req, email, Some((StatusCode::TOO_MANY_REQUESTS, &msg))).await;
            resp.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
            resp
        }
        Ok(SignIn::SsoRequired) => {
            html::see_other(&state.identity.error_redirect(&req, "access_denied", cairn_identity::sso::USE_SSO))
        }
        Ok(SignIn::Disabled) => {
            let desc = "this account is disabled";
            html::see_other(&state.identity.error_redirect(&req, "access_denied", desc))
        }
        Ok(SignIn::TemporaryExpired) => {
            sign_in_page(
                state,
                headers,
                &ctx,
                &req,
                email,
                Some((
                    StatusCode::UNAUTHORIZED,
                    "Your temporary password has expired. Ask an administrator for a new one.",
                )),
            )
            .await
        }
        Err(IdentityError::Busy(b)) => {
            let mut resp =
                sign_in_page(state, headers, &ctx, &req, email, Some((StatusCode::TOO_MANY_REQUESTS, crate::ui::BUSY)))
                    .await;
            resp.headers_mut().insert(header::RETRY_AFTER, b.retry_after_secs.into());
            resp
        }
        Err(e) => failed(e),
    }
}

/// What the first-sign-in password form carries (sealed): who proved the temporary
/// password, for which authorization request, and when.
#[derive(Debug, Serialize, Deserialize)]
struct PendingChange {
    req: AuthRequest,
    user_id: String,
    at: i64,
}

async fn change_password_page(
    state: &AppState,
    headers: &HeaderMap,
    ctx: &ClientCtx,
    req: &AuthRequest,
    user: &User,
    error: Option<&str>,
) -> Response {
    let pending = PendingChange { req: req.clone(), user_id: user.id.clone(), at: now_ms() };
    let sealed = html::seal_json(state, &pending, PENDING_AAD);
    let csrf = html::csrf_token(state, headers);
    let c = chrome(state, &ctx.tenant, &ctx.db, "Choose your password").await;
    let page = ChangePasswordPage { c: &c, request: &sealed, csrf: &csrf.token, email: user.email.as_str(), error };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let targets: Vec<String> = html::origin(&req.redirect_uri).into_iter().collect();
    csrf.attach(html::render(status, &c, &page, &targets))
}

#[derive(Debug, Deserialize)]
struct ChangeForm {
    request: String,
    csrf: Option<String>,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(form): Form<ChangeForm>,
) -> Response {
    let pending = html::open_json::<PendingChange>(&state, &form.request, PENDING_AAD)
        .filter(|p| now_ms() - p.at <= PENDING_TTL_MS);
    let Some(pending) = pending else { return expired_request() };
    if !html::csrf_form_ok(&state, &headers, form.csrf.as_deref()) {
        return csrf_failed();
    }
    let Ok(Some(ctx)) = state.identity.client(&pending.req.client_id).await else { return expired_request() };
    if ctx.tenant.id != pending.req.tenant {
        return expired_request();
    }
    let user = match state.identity.get_user(&ctx.db, &pending.user_id).await {
        Ok(u) if u.status == cairn_identity::UserStatus::ForceChangePassword => u,
        Ok(_) | Err(cairn_identity::IdentityError::NotFound(_)) => return expired_request(),
        Err(e) => return failed(e),
    };
    // The first sign-in's change: no sign-in of the user stands yet to keep.
    let changed = state
        .identity
        .change_password(ctx.tenant.id, &ctx.db, &user.id, None, &form.new_password, &CurrentSession::none(), &meta)
        .await;
    match changed {
        Ok(user) => match state.identity.start_session(&ctx.tenant, &ctx.db, &user).await {
            Ok((handle, auth_time)) => {
                let resp = finish(&state, &ctx.db, &pending.req, &user, auth_time, Some(handle)).await;
                remember_device(&state, &headers, &ctx, &user, resp).await
            }
            Err(e) => grant_failed(e),
        },
        Err(IdentityError::Validation(v)) => {
            change_password_page(&state, &headers, &ctx, &pending.req, &user, Some(&v.message)).await
        }
        Err(IdentityError::Busy(b)) => {
            let mut resp =
                change_password_page(&state, &headers, &ctx, &pending.req, &user, Some(crate::ui::BUSY)).await;
            *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            resp.headers_mut().insert(header::RETRY_AFTER, b.retry_after_secs.into());
            resp
        }
        Err(e) => failed(e),
    }
}

// --- Forgot password.

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    c: &'a Chrome,
    action: &'a str,
    csrf: &'a str,
    reset_url: &'a str,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    c: &'a Chrome,
    action: &'a str,
    csrf: &'a str,
    email: &'a str,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

async fn tenant_by_slug(state: &AppState, slug: &str) -> Result<(Tenant, Db), Response> {
    let not_found = || error_page(StatusCode::NOT_FOUND, "No such organization", "Check the link you followed.");
    let slug = TenantSlug::parse(slug).map_err(|_| not_found())?;
    let tenant = match state.store.tenant_by_slug(&slug).await {
        Ok(t) => t,
        Err(cairn_store::StoreError::TenantNotFound(_)) => return Err(not_found()),
        Err(e) => return Err(failed(e)),
    };
    match state.identity.tenant(tenant.id).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(not_found()),
        Err(e) => Err(failed(e)),
    }
}

/// A tenant's hosted page: the tenant, its colours, and the CSRF token (with its cookie,
/// when it must be set).
async fn hosted(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    title: &str,
) -> Result<(Tenant, Chrome, html::CsrfToken), Response> {
    let (tenant, db) = tenant_by_slug(state, slug).await?;
    let csrf = html::csrf_token(state, headers);
    let c = chrome(state, &tenant, &db, title).await;
    Ok((tenant, c, csrf))
}

async fn forgot_form(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let (tenant, c, csrf) = match hosted(&state, &headers, &slug, "Forgot password").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let action = format!("/t/{}/forgot", tenant.slug);
    let reset_url = format!("/t/{}/reset", tenant.slug);
    let page = ForgotPage { c: &c, action: &action, csrf: &csrf.token, reset_url: &reset_url };
    csrf.attach(html::render(StatusCode::OK, &c, &page, &[]))
}

#[derive(Debug, Deserialize)]
struct ForgotForm {
    csrf: Option<String>,
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    Form(form): Form<ForgotForm>,
) -> Response {
    let (tenant, db) = match tenant_by_slug(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !html::csrf_form_ok(&state, &headers, form.csrf.as_deref()) {
        return csrf_failed();
    }
    // The same answer, after the same work, whether or not the email has an account: the
    // request is queued, and the outbox's consumer looks the account up.
    let email = form.email.trim().to_owned();
    let devices = html::path_cookies(&state, &headers, DEVICE_COOKIE);
    if let Err(e) = state.identity.request_reset(tenant.id, &db, &email, devices, &meta).await {
        return failed(e);
    }
    let csrf = html::csrf_token(&state, &headers).token;
    let c = chrome(&state, &tenant, &db, "Reset password").await;
    let action = format!("/t/{}/reset", tenant.slug);
    let notice = "If that email has an account, a code is on its way. It works once, for 15 minutes.";
    let page = ResetPage { c: &c, action: &action, csrf: &csrf, email: &email, notice: Some(notice), error: None };
    html::render(StatusCode::OK, &c, &page, &[])
}

async fn reset_form(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let (tenant, c, csrf) = match hosted(&state, &headers, &slug, "Reset password").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let action = format!("/t/{}/reset", tenant.slug);
    let page = ResetPage { c: &c, action: &action, csrf: &csrf.token, email: "", notice: None, error: None };
    csrf.attach(html::render(StatusCode::OK, &c, &page, &[]))
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    csrf: Option<String>,
    email: String,
    code: String,
    new_password: String,
}

async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Path(slug): Path<String>,
    Form(form): Form<ResetForm>,
) -> Response {
    let (tenant, db) = match tenant_by_slug(&state, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !html::csrf_form_ok(&state, &headers, form.csrf.as_deref()) {
        return csrf_failed();
    }
    let c = chrome(&state, &tenant, &db, "Reset password").await;
    let action = format!("/t/{}/reset", tenant.slug);
    let csrf = html::csrf_token(&state, &headers).token;
    let again = |error: &str, status| {
        let page = ResetPage {
            c: &c,
            action: &action,
            csrf: &csrf,
            email: form.email.trim(),
            notice: None,
            error: Some(error),
        };
        html::render(status, &c, &page, &[])
    };
    let wait = |error: &str, secs: u64| {
        let mut resp = again(error, StatusCode::TOO_MANY_REQUESTS);
        resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
        resp
    };
    match state.identity.finish_reset(tenant.id, &db, &form.email, &form.code, &form.new_password, &meta).await {
        Ok(ResetOutcome::Done) => html::message(
            StatusCode::OK,
            &c,
            "Password changed",
            "Your password is reset. Sign in with it now.",
            Some((&format!("/t/{}/", tenant.slug), "Sign in")),
        ),
        Ok(ResetOutcome::Invalid) => {
            again("That code is wrong or has expired. Ask for a new one.", StatusCode::BAD_REQUEST)
        }
        Ok(ResetOutcome::Throttled { retry_after_secs }) => wait(
            &format!("Too many wrong codes from here. Try again in {retry_after_secs} seconds."),
            retry_after_secs.unsigned_abs(),
        ),
        Err(IdentityError::Validation(v)) => again(&v.to_string(), StatusCode::BAD_REQUEST),
        Err(IdentityError::Busy(b)) => wait(crate::ui::BUSY, b.retry_after_secs),
        Err(e) => failed(e),
    }
}

// --- Single sign-on through a tenant's upstream providers.

const SSO_COOKIE: &str = "cairn_sso";
const SSO_AAD: &str = "cairn-sso-pending";

/// The sign-in in progress while the browser is at the upstream provider.
#[derive(Debug, Serialize, Deserialize)]
struct SsoState {
    req: AuthRequest,
    pending: cairn_identity::sso::Pending,
    at: i64,
}

fn sso_callback_url(state: &AppState) -> String {
    format!("{}/oauth2/sso/callback", state.config.public_url)
}

#[derive(Debug, Deserialize)]
struct SsoStart {
    request: String,
    connection: String,
}

fn upstream_failed(e: impl std::fmt::Display) -> Response {
    tracing::warn!(error = %e, "SSO with the upstream provider failed");
    error_page(
        StatusCode::BAD_GATEWAY,
        "Single sign-on failed",
        "Your organization's identity provider did not answer as expected. Try again, or sign in with your password.",
    )
}

async fn sso_start(State(state): State<AppState>, Query(q): Query<SsoStart>) -> Response {
    let Some((ctx, req)) = open_request(&state, &q.request).await else { return expired_request() };
    let begun = state.identity.sso_begin(&ctx.db, &q.connection, &sso_callback_url(&state)).await;
    let (url, pending) = match begun {
        Ok(v) => v,
        Err(cairn_identity::IdentityError::NotFound(_)) => {
            return error_page(StatusCode::NOT_FOUND, "Cannot sign in", "That sign-in option no longer exists.");
        }
        Err(cairn_identity::IdentityError::Upstream(e)) => return upstream_failed(e),
        Err(e) => return failed(e),
    };
    let sealed = html::seal_json(&state, &SsoState { req, pending, at: now_ms() }, SSO_AAD);
    let mut resp = html::see_other(&url);
    resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(&state, SSO_COOKIE, &sealed, Some(900)));
    resp
}

#[derive(Debug, Deserialize)]
struct SsoCallback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn sso_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(q): Query<SsoCallback>,
) -> Response {
    let saved = html::cookie(&state, &headers, SSO_COOKIE)
        .and_then(|c| html::open_json::<SsoState>(&state, &c, SSO_AAD))
        .filter(|s| now_ms() - s.at <= AUTH_REQUEST_TTL_MS);
    let Some(saved) = saved else { return expired_request() };
    if !html::csrf_ok(Some(&saved.pending.state), q.state.as_deref()) {
        return expired_request();
    }
    let Ok(Some(ctx)) = state.identity.client(&saved.req.client_id).await else { return expired_request() };
    let clear = |mut r: Response| {
        r.headers_mut().append(header::SET_COOKIE, html::set_cookie(&state, SSO_COOKIE, "", Some(0)));
        r
    };
    if let Some(e) = q.error {
        let desc = q.error_description.unwrap_or(e);
        return clear(html::see_other(&state.identity.error_redirect(&saved.req, "access_denied", &desc)));
    }
    let Some(code) = q.code else { return expired_request() };
    let callback = sso_callback_url(&state);
    match state.identity.sso_finish(&ctx.db, &saved.pending, &code, &callback, &meta).await {
        Ok(cairn_identity::sso::SsoOutcome::Success(user)) => {
            match state.identity.start_session(&ctx.tenant, &ctx.db, &user).await {
                Ok((handle, auth_time)) => {
                    clear(finish(&state, &ctx.db, &saved.req, &user, auth_time, Some(handle)).await)
                }
                Err(e) => clear(grant_failed(e)),
            }
        }
        Ok(cairn_identity::sso::SsoOutcome::Denied(why)) => {
            clear(html::see_other(&state.identity.error_redirect(&saved.req, "access_denied", why)))
        }
        Err(cairn_identity::IdentityError::Upstream(e)) => upstream_failed(e),
        Err(e) => failed(e),
    }
}
