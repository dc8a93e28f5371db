//! The OpenID Connect provider over HTTP: discovery, authorization with the hosted
//! sign-in and first-sign-in password change, the token, userinfo, revocation and
//! introspection endpoints, RP-initiated logout, and the forgot-password pages.
//!
//! Protocol errors use OAuth's bodies (`{"error","error_description"}`), not the API's.
//! An authorization request whose client or redirect URI cannot be trusted gets an
//! error page, never a redirect.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use cairn_domain::{TenantSlug, now_ms};
use cairn_identity::provider::{AUTH_REQUEST_TTL_MS, SCOPES};
use cairn_identity::{
    AuthRequest, AuthorizeError, AuthorizeParams, ClientCtx, CurrentSession, Grant, IdentityError, OAuthError,
    ResetOutcome, SignIn, User,
};
use cairn_store::{Db, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::extract::Meta;
use crate::html::{self, Chrome, internal};

/// Cookie of the provider's browser session (the SSO session behind `prompt=none`).
pub const SESSION_COOKIE: &str = "cairn_session";
/// A browser that signed in to an account (a random token, stored as its SHA-256), for
/// the tenant's paths only: it lets its owner past the account's pause on unrecognised
/// clients. The sign-in form posts under `/t/<slug>/` so that it is sent.
pub const DEVICE_COOKIE: &str = "cairn_device";
const REQUEST_AAD: &str = "cairn-auth-request";
const PENDING_AAD: &str = "cairn-pending-password-change";
/// How long the first-sign-in password form stays valid.
const PENDING_TTL_MS: i64 = 10 * 60_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/signin", post(sign_in))
        .route("/t/{slug}/signin", post(tenant_sign_in))
        .route("/oauth2/change-password", post(change_password))
        .route("/oauth2/sso", get(sso_start))
        .route("/oauth2/sso/callback", get(sso_callback))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/logout", get(logout).post(logout_confirmed))
        .route("/t/{slug}/forgot", get(forgot_form).post(forgot))
        .route("/t/{slug}/reset", get(reset_form).post(reset))
        .route("/static/cairn.css", get(stylesheet))
        .route("/static/live.js", get(live_script))
}

async fn live_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/live.js"),
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/cairn.css"),
    )
        .into_response()
}

/// Discovery (OpenID Connect Discovery 1.0 §3): exactly what is implemented.
async fn discovery(State(state): State<AppState>) -> Json<serde_json::Value> {
    let base = &state.config.public_url;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "userinfo_endpoint": format!("{base}/oauth2/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "end_session_endpoint": format!("{base}/oauth2/logout"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "email", "email_verified",
            "given_name", "family_name", "name", "cairn/tenant", "cairn/roles"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    }))
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
async fn sign_in_page(
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
        Err(e) => return internal(e),
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

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let (ctx, req) = match state.identity.authorize(&params).await {
        Ok(v) => v,
        Err(AuthorizeError::Page(text)) => return error_page(StatusCode::BAD_REQUEST, "Cannot sign in", &text),
        Err(AuthorizeError::Redirect(to)) => return html::see_other(&to),
        Err(AuthorizeError::Internal(e)) => return internal(e),
    };
    if !req.prompt_login
        && let Some(handle) = html::cookie(&state, &headers, SESSION_COOKIE)
    {
        match state.identity.session_user(ctx.tenant.id, &ctx.db, &handle).await {
            Ok(Some((user, auth_time))) => return finish(&state, &ctx.db, &req, &user, auth_time, None).await,
            Ok(None) => {}
            Err(e) => return internal(e),
        }
    }
    if req.prompt_none {
        return html::see_other(&state.identity.error_redirect(&req, "login_required", "the user is not signed in"));
    }
    let hint = req.login_hint.clone().unwrap_or_default();
    sign_in_page(&state, &headers, &ctx, &req, &hint, None).await
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
    let max_age = cairn_identity::service::DEVICE_DAYS * 86_400;
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
        Err(e) => internal(e),
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
        Err(e) => return internal(e),
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
        Err(e) => internal(e),
    }
}

// --- Token, userinfo, revocation, introspection.

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token: Option<String>,
}

fn oauth_error(e: &OAuthError, basic: bool) -> Response {
    if let OAuthError::Internal(inner) = e {
        tracing::error!(error = %inner, "token endpoint failure");
    }
    let status = match e {
        OAuthError::InvalidClient(_) | OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        OAuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut resp = (status, Json(json!({ "error": e.code(), "error_description": e.description() }))).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    if status == StatusCode::UNAUTHORIZED {
        let challenge = match e {
            OAuthError::InvalidToken(_) => {
                format!("Bearer error=\"invalid_token\", error_description=\"{}\"", e.description())
            }
            _ if basic => "Basic realm=\"cairn\"".to_owned(),
            _ => String::new(),
        };
        if let Ok(v) = challenge.parse()
            && !challenge.is_empty()
        {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: form-urlencoded id and
/// secret) or the body; both at once is an error.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Result<(String, Option<String>, bool), OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")));
    match (basic, &form.client_id, &form.client_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::InvalidRequest("use one client authentication method".into())),
        (Some(b64), body_id, None) => {
            let bad = || OAuthError::InvalidClient("malformed Basic credentials".into());
            let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let (id, secret) = (decode(id), decode(secret));
            if body_id.as_ref().is_some_and(|b| *b != id) {
                return Err(OAuthError::InvalidRequest(
                    "client_id in the body differs from the Basic credentials".into(),
                ));
            }
            Ok((id, Some(secret), true))
        }
        (None, Some(id), secret) => Ok((id.clone(), secret.clone(), false)),
        (None, None, _) => Err(OAuthError::InvalidClient("client authentication is required".into())),
    }
}

async fn authenticated(state: &AppState, headers: &HeaderMap, form: &TokenForm) -> Result<(ClientCtx, bool), Response> {
    let (id, secret, basic) = client_credentials(headers, form).map_err(|e| oauth_error(&e, false))?;
    state
        .identity
        .authenticate_client(&id, secret.as_deref())
        .await
        .map(|c| (c, basic))
        .map_err(|e| oauth_error(&e, basic))
}

fn form_or_error(form: Result<Form<TokenForm>, FormRejection>) -> Result<TokenForm, OAuthError> {
    form.map(|f| f.0).map_err(|r| {
        OAuthError::InvalidRequest(format!("expected an application/x-www-form-urlencoded body: {}", r.body_text()))
    })
}

async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match form_or_error(form) {
        Ok(f) => f,
        Err(e) => return oauth_error(&e, false),
    };
    let (ctx, basic) = match authenticated(&state, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let missing = |name: &str| OAuthError::InvalidRequest(format!("{name} is required"));
    let grant = match form.grant_type.as_deref() {
        Some("authorization_code") => match &form.code {
            Some(code) => Grant::AuthorizationCode {
                code: code.clone(),
                redirect_uri: form.redirect_uri.clone(),
                code_verifier: form.code_verifier.clone(),
            },
            None => return oauth_error(&missing("code"), basic),
        },
        Some("refresh_token") => match &form.refresh_token {
            Some(t) => Grant::RefreshToken { refresh_token: t.clone(), scope: form.scope.clone() },
            None => return oauth_error(&missing("refresh_token"), basic),
        },
        Some("client_credentials") => Grant::ClientCredentials { scope: form.scope.clone() },
        Some(other) => {
            return oauth_error(&OAuthError::UnsupportedGrantType(format!("{other:?} is not supported")), basic);
        }
        None => return oauth_error(&missing("grant_type"), basic),
    };
    match state.identity.token(&ctx, grant, &meta).await {
        Ok(set) => ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], Json(set)).into_response(),
        Err(e) => oauth_error(&e, basic),
    }
}

async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(Ok(token)) = crate::extract::bearer(&headers) else {
        let mut resp = StatusCode::UNAUTHORIZED.into_response();
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
        return resp;
    };
    match state.identity.userinfo(token).await {
        Ok(claims) => ([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response(),
        Err(e) => oauth_error(&e, false),
    }
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match form_or_error(form) {
        Ok(f) => f,
        Err(e) => return oauth_error(&e, false),
    };
    let (ctx, basic) = match authenticated(&state, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(token) = &form.token else {
        return oauth_error(&OAuthError::InvalidRequest("token is required".into()), basic);
    };
    match state.identity.revoke(&ctx, token, &meta).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => oauth_error(&e, basic),
    }
}

async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match form_or_error(form) {
        Ok(f) => f,
        Err(e) => return oauth_error(&e, false),
    };
    let (ctx, basic) = match authenticated(&state, &headers, &form).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if ctx.client.public {
        return oauth_error(&OAuthError::InvalidClient("introspection requires a confidential client".into()), basic);
    }
    let Some(token) = &form.token else {
        return oauth_error(&OAuthError::InvalidRequest("token is required".into()), basic);
    };
    match state.identity.introspect(&ctx, token).await {
        Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
        Err(e) => oauth_error(&e, basic),
    }
}

#[derive(Debug, Deserialize)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    c: &'a Chrome,
    app: Option<&'a str>,
    csrf: &'a str,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    logout_state: Option<&'a str>,
}

/// RP-initiated logout. With a valid `id_token_hint` (the application proves it signed this
/// user in) the provider session ends at once. Without one, anyone's page could sign the
/// user out with a link or an image, so a browser that holds a session is asked to confirm
/// with a CSRF-checked form first; one without a session has nothing to lose.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(p): Query<LogoutParams>,
) -> Response {
    let session = html::cookie(&state, &headers, SESSION_COOKIE);
    // A hint lets the sign-out proceed at once only when it names this browser's signed-in
    // user: any id token Cairn ever issued (the attacker's own) must not sign others out.
    let hint = p.id_token_hint.as_deref().and_then(|t| state.tokens.verify_id_token_hint(t).ok());
    let hinted = match (&hint, &session) {
        (Some(h), Some(handle)) => hint_names_session(&state, h, handle).await,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !hinted && session.is_some() {
        let csrf = html::csrf_token(&state, &headers);
        let client = match p.client_id.as_deref() {
            Some(id) => state.identity.client(id).await.ok().flatten(),
            None => None,
        };
        let c = Chrome::plain("Sign out");
        let page = LogoutPage {
            c: &c,
            app: client.as_ref().map(|ctx| ctx.client.name.as_str()),
            csrf: &csrf.token,
            client_id: p.client_id.as_deref(),
            post_logout_redirect_uri: p.post_logout_redirect_uri.as_deref(),
            logout_state: p.state.as_deref(),
        };
        let targets: Vec<String> = p.post_logout_redirect_uri.as_deref().and_then(html::origin).into_iter().collect();
        return csrf.attach(html::render(StatusCode::OK, &c, &page, &targets));
    }
    end_session_and_leave(&state, &headers, &meta, &p).await
}

/// Whether the provider session `handle` is the hint's user's, in the hint's tenant.
async fn hint_names_session(state: &AppState, hint: &cairn_identity::IdTokenHint, handle: &str) -> bool {
    let Ok(Some((_, db))) = state.identity.tenant(hint.tenant).await else { return false };
    matches!(
        state.identity.session_user(hint.tenant, &db, handle).await,
        Ok(Some((user, _))) if user.id == hint.subject
    )
}

#[derive(Debug, Deserialize)]
struct LogoutConfirm {
    csrf: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// The confirmation form of [`logout`]: signs out, then leaves as a hinted logout would
/// (to a `post_logout_redirect_uri` registered for the named client, or the signed-out page).
async fn logout_confirmed(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(form): Form<LogoutConfirm>,
) -> Response {
    if !html::csrf_form_ok(&state, &headers, form.csrf.as_deref()) {
        return csrf_failed();
    }
    let p = LogoutParams {
        id_token_hint: None,
        client_id: form.client_id,
        post_logout_redirect_uri: form.post_logout_redirect_uri,
        state: form.state,
    };
    end_session_and_leave(&state, &headers, &meta, &p).await
}

/// Ends the provider session, then returns to a registered `post_logout_redirect_uri` or
/// shows a signed-out page.
async fn end_session_and_leave(
    state: &AppState,
    headers: &HeaderMap,
    meta: &cairn_audit::RequestMeta,
    p: &LogoutParams,
) -> Response {
    if let Some(handle) = html::cookie(state, headers, SESSION_COOKIE)
        && let Err(e) = state.identity.end_session(&handle, meta).await
    {
        return internal(e);
    }
    let target = state
        .identity
        .logout_redirect(
            p.id_token_hint.as_deref(),
            p.client_id.as_deref(),
            p.post_logout_redirect_uri.as_deref(),
            p.state.as_deref(),
        )
        .await;
    let mut resp = match target {
        Ok(Some(to)) => html::see_other(&to),
        Ok(None) => html::message(
            StatusCode::OK,
            &Chrome::plain("Signed out"),
            "Signed out",
            "You are signed out. You can close this window.",
            None,
        ),
        Err(e) => return internal(e),
    };
    resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, SESSION_COOKIE, "", Some(0)));
    resp
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
        Err(e) => return Err(internal(e)),
    };
    match state.identity.tenant(tenant.id).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(not_found()),
        Err(e) => Err(internal(e)),
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
        return match e {
            cairn_identity::IdentityError::Database(db_error) if crate::error::database_unreachable(&db_error) => {
                html::unavailable(db_error)
            }
            other => internal(other),
        };
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
        Err(e) => internal(e),
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

/// A session or code that could not be granted: the account changed while signing in (the
/// person signs in again), or an internal failure.
fn grant_failed(e: IdentityError) -> Response {
    match e {
        IdentityError::Conflict(why) => error_page(StatusCode::CONFLICT, "Sign in again", &why),
        other => internal(other),
    }
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
        Err(e) => return internal(e),
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
        Err(e) => internal(e),
    }
}
