//! The profile page: names, email subscriptions (user metadata) and password.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_identity::{CurrentSession, User, UserPatch};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::view::Invalid;
use super::{CsrfForm, Nav, Page, PageError, Readonly, Signed, problem_at};

/// The profile page's fields.
const FIELDS: [&str; 4] = ["given_name", "family_name", "current_password", "new_password"];
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
    invalid: &'a Invalid,
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// The signed-in user (a web session is always a user's: users are disabled, never removed).
async fn me(state: &AppState, s: &Signed) -> Result<User, PageError> {
    Ok(state.identity.get_user(&s.db, &s.member.subject).await?)
}

/// What a refused form sends back: its status, the mistake, and the names as typed.
struct Refused<'a> {
    status: StatusCode,
    invalid: Invalid,
    names: Option<(&'a str, &'a str)>,
}

async fn render(
    state: &AppState,
    s: &Signed,
    notice: Option<&str>,
    refused: Option<Refused<'_>>,
) -> Result<Response, PageError> {
    let user = me(state, s).await?;
    let (c, nav) = s.shell(state, "Profile", "profile").await;
    let (status, invalid, names) = match refused {
        Some(r) => (r.status, r.invalid, r.names),
        None => (StatusCode::OK, Invalid::none(), None),
    };
    let (given_name, family_name) = names.unwrap_or((&user.given_name, &user.family_name));
    let view = ProfilePage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        email: user.email.as_str(),
        given_name,
        family_name,
        publish_history: user.user_metadata.get(PUBLISH_HISTORY).and_then(Value::as_bool).unwrap_or(false),
        invalid: &invalid,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match q.done.as_deref() {
        Some("saved") => Some("Profile saved."),
        Some("password") => Some("Password changed."),
        _ => None,
    };
    render(&state, &s, notice, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ProfileForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    publish_history: Option<String>,
}

pub(super) async fn save(
    State(state): State<AppState>,
    s: Page<Readonly>,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Result<Response, PageError> {
    let user = me(&state, &s).await?;
    let mut metadata = Map::new();
    metadata.insert(PUBLISH_HISTORY.into(), Value::Bool(form.publish_history.is_some()));
    let patch = UserPatch {
        given_name: Some(form.given_name.clone()),
        family_name: Some(form.family_name.clone()),
        app_metadata: None,
        user_metadata: Some(metadata),
        sso_required: None,
    };
    match state.identity.update_user(&s.db, &user.id, patch, &s.actor(), &s.meta).await {
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/profile?done=saved"))),
        Err(e) => {
            let (status, invalid) = problem_at(e, &FIELDS)?;
            let names = Some((form.given_name.as_str(), form.family_name.as_str()));
            render(&state, &s, None, Some(Refused { status, invalid, names })).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

pub(super) async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    s: Page<Readonly>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let user = me(&state, &s).await?;
    // This browser stays signed in: its web session's family and its provider session.
    let session = CurrentSession {
        family: s.member.family.clone(),
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
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/profile?done=password"))),
        Err(e) => {
            let (status, invalid) = problem_at(e, &FIELDS)?;
            render(&state, &s, None, Some(Refused { status, invalid, names: None })).await
        }
    }
}
