//! The profile page: names, email subscriptions (user metadata) and password.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_identity::{CurrentSession, IdentityError, User, UserPatch};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Nav, Signed, internal, problem};
use crate::AppState;
use crate::html::{self, Chrome};

/// The user-metadata key of the publish-history email subscription.
pub const PUBLISH_HISTORY: &str = "publish_history";

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    email: &'a str,
    given_name: &'a str,
    family_name: &'a str,
    publish_history: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

async fn me(state: &AppState, s: &Signed) -> Result<User, Response> {
    match state.identity.get_user(&s.db, &s.principal.subject).await {
        Ok(u) => Ok(u),
        Err(IdentityError::NotFound(_)) => Err(s.forbidden(state, "This session belongs to no user.").await),
        Err(e) => Err(internal(e)),
    }
}

async fn render(state: &AppState, s: &Signed, message: Result<Option<&str>, (StatusCode, &str)>) -> Response {
    let user = match me(state, s).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let (c, nav) = s.shell(state, "Profile", "profile").await;
    let (notice, error, status) = match message {
        Ok(n) => (n, None, StatusCode::OK),
        Err((status, e)) => (None, Some(e), status),
    };
    let view = ProfilePage {
        c: &c,
        nav: &nav,
        notice,
        error,
        email: user.email.as_str(),
        given_name: &user.given_name,
        family_name: &user.family_name,
        publish_history: user.user_metadata.get(PUBLISH_HISTORY).and_then(Value::as_bool).unwrap_or(false),
    };
    s.render(state, status, &c, &view)
}

pub(super) async fn page(State(state): State<AppState>, s: Signed, Query(q): Query<Done>) -> Response {
    let notice = match q.done.as_deref() {
        Some("saved") => Some("Profile saved."),
        Some("password") => Some("Password changed."),
        _ => None,
    };
    render(&state, &s, Ok(notice)).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ProfileForm {
    csrf: Option<String>,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    publish_history: Option<String>,
}

pub(super) async fn save(State(state): State<AppState>, s: Signed, Form(form): Form<ProfileForm>) -> Response {
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Err((StatusCode::FORBIDDEN, "The form expired; try again."))).await;
    }
    let user = match me(&state, &s).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let mut metadata = Map::new();
    metadata.insert(PUBLISH_HISTORY.into(), Value::Bool(form.publish_history.is_some()));
    let patch = UserPatch {
        given_name: Some(form.given_name),
        family_name: Some(form.family_name),
        app_metadata: None,
        user_metadata: Some(metadata),
        sso_required: None,
    };
    match state.identity.update_user(&s.db, &user.id, patch, &s.actor(), &s.meta).await {
        Ok(_) => s.finish(&state, html::see_other("/app/profile?done=saved")),
        Err(e) => match problem(e) {
            Ok((status, msg)) => render(&state, &s, Err((status, &msg))).await,
            Err(e) => internal(e),
        },
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    csrf: Option<String>,
    current_password: String,
    new_password: String,
}

pub(super) async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Signed,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Err((StatusCode::FORBIDDEN, "The form expired; try again."))).await;
    }
    let user = match me(&state, &s).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    // This browser stays signed in: its web session's family and its provider session.
    let session = CurrentSession {
        family: s.principal.family.clone(),
        provider_session: html::cookie(&state, &headers, crate::oidc::SESSION_COOKIE),
    };
    let changed = state
        .identity
        .change_password(
            s.tenant.id,
            &s.db,
            &user.id,
            Some(&form.current_password),
            &form.new_password,
            &session,
            &s.meta,
        )
        .await;
    match changed {
        Ok(_) => s.finish(&state, html::see_other("/app/profile?done=password")),
        Err(e) => match problem(e) {
            Ok((status, msg)) => render(&state, &s, Err((status, &msg))).await,
            Err(e) => internal(e),
        },
    }
}
