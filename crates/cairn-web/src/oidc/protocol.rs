//! The provider's protocol endpoints: discovery, authorization (which shows the hosted
//! sign-in when no session stands), the token, userinfo, revocation and introspection
//! endpoints, and RP-initiated logout.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use cairn_identity::provider::SCOPES;
use cairn_identity::{AuthorizeError, AuthorizeParams, ClientCtx, Grant, OAuthError};
use serde::Deserialize;
use serde_json::json;

use super::pages::sign_in_page;
use super::responses::{IntrospectionResponse, TokenResponse, UserInfoResponse};
use super::{SESSION_COOKIE, csrf_failed, error_page, failed, finish};
use crate::AppState;
use crate::extract::Meta;
use crate::html::{self, Chrome};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/logout", get(logout).post(logout_confirmed))
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

async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    let (ctx, req) = match state.identity.authorize(&params).await {
        Ok(v) => v,
        Err(AuthorizeError::Page(text)) => return error_page(StatusCode::BAD_REQUEST, "Cannot sign in", &text),
        Err(AuthorizeError::Redirect(to)) => return html::see_other(&to),
        Err(AuthorizeError::Internal(e)) => return failed(e),
    };
    if !req.prompt_login
        && let Some(handle) = html::cookie(&state, &headers, SESSION_COOKIE)
    {
        match state.identity.session_user(ctx.tenant.id, &ctx.db, &handle).await {
            Ok(Some((user, auth_time))) => return finish(&state, &ctx.db, &req, &user, auth_time, None).await,
            Ok(None) => {}
            Err(e) => return failed(e),
        }
    }
    if req.prompt_none {
        return html::see_other(&state.identity.error_redirect(&req, "login_required", "the user is not signed in"));
    }
    let hint = req.login_hint.clone().unwrap_or_default();
    sign_in_page(&state, &headers, &ctx, &req, &hint, None).await
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
    // Every variant by name (RFC 6749 §5.2): a new one does not compile until its status is
    // decided.
    let status = match e {
        OAuthError::InvalidClient(_) | OAuthError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        OAuthError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthError::InvalidRequest(_)
        | OAuthError::InvalidGrant(_)
        | OAuthError::UnauthorizedClient(_)
        | OAuthError::UnsupportedGrantType(_)
        | OAuthError::InvalidScope(_) => StatusCode::BAD_REQUEST,
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
        Ok(issued) => {
            let body = TokenResponse::from(issued);
            ([(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")], Json(body)).into_response()
        }
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
        Ok(claims) => ([(header::CACHE_CONTROL, "no-store")], Json(UserInfoResponse::from(claims))).into_response(),
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
        Ok(found) => ([(header::CACHE_CONTROL, "no-store")], Json(IntrospectionResponse::from(found))).into_response(),
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
        return failed(e);
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
        Err(e) => return failed(e),
    };
    resp.headers_mut().append(header::SET_COOKIE, html::set_cookie(state, SESSION_COOKIE, "", Some(0)));
    resp
}
