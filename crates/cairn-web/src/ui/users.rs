//! The users pages (admins): the list with an invitation form, and each user's page to
//! change their names, app metadata, single-sign-on rule and role, disable and enable them,
//! and send a new temporary password (which is also how an invitation is resent). Each
//! change goes through the same `Identity` methods as the API, with the same checks and
//! audit entries.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::Role;
use cairn_identity::{Email, IdentityError, NewUser, User, UserPatch, UserStatus};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::view::{Invalid, When};
use super::{Admin, CsrfForm, Nav, Page, PageError, Signed, problem_at};
use crate::AppState;
use crate::html::{self, Chrome};

const SHOWN: i64 = 500;
const ROLE_OPTIONS: [(&str, &str); 4] =
    [("", "Default role"), ("admin", "Admin"), ("member", "Member"), ("readonly", "Read-only")];
/// The invitation form's fields.
const INVITE_FIELDS: [&str; 4] = ["email", "given_name", "family_name", "role"];
/// The user page's fields.
const EDIT_FIELDS: [&str; 4] = ["given_name", "family_name", "app_metadata", "role"];

struct UserRow {
    id: String,
    email: String,
    name: String,
    status: &'static str,
    status_class: &'static str,
    disabled: bool,
    role: String,
    role_label: &'static str,
    reset_label: &'static str,
    /// The signed-in admin's own row: no disabling, resetting or changing their own role
    /// (the server refuses the first and the last; a reset would sign them out).
    is_me: bool,
}

impl UserRow {
    fn of(u: &User, me: &str) -> Self {
        let (status, status_class) = match u.status {
            UserStatus::Active => ("Active", "active"),
            UserStatus::ForceChangePassword => ("Invited", "invited"),
            UserStatus::Disabled => ("Disabled", "disabled"),
        };
        Self {
            status,
            status_class,
            reset_label: if u.status == UserStatus::ForceChangePassword {
                "Resend invitation"
            } else {
                "Reset password"
            },
            disabled: u.status == UserStatus::Disabled,
            role: u.roles.iter().max().map(|r| r.as_str().to_owned()).unwrap_or_default(),
            role_label: match u.roles.iter().max() {
                Some(Role::Admin) => "Admin",
                Some(Role::Member) => "Member",
                Some(Role::Readonly) => "Read-only",
                None => "Default role",
            },
            is_me: u.id == me,
            id: u.id.clone(),
            email: u.email.to_string(),
            name: format!("{} {}", u.given_name, u.family_name).trim().to_owned(),
        }
    }
}

/// The invitation form as typed, kept when it is sent back with a mistake.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    users: Vec<UserRow>,
    more: bool,
    role_options: &'a [(&'a str, &'a str)],
    form: &'a CreateForm,
    invalid: &'a Invalid,
    open_form: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "User created; the invitation is on its way.",
        "saved" => "Profile saved.",
        "roles" => "Role saved; their sessions have ended.",
        "disable" => "User disabled; their sessions have ended.",
        "enable" => "User enabled.",
        "reset" => "A new temporary password is on its way.",
        _ => return None,
    })
}

async fn render(
    state: &AppState,
    s: &Signed,
    status: StatusCode,
    notice: Option<&str>,
    form: &CreateForm,
    invalid: &Invalid,
) -> Result<Response, PageError> {
    let mut users = state.identity.list_users(&s.db, SHOWN + 1, None).await?;
    let more = users.len() as i64 > SHOWN;
    users.truncate(SHOWN as usize);
    let (c, nav) = s.shell(state, "Users", "users").await;
    let view = UsersPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        users: users.iter().map(|u| UserRow::of(u, &s.member.subject)).collect(),
        more,
        role_options: &ROLE_OPTIONS,
        form,
        invalid,
        // Open when the form has something to say, and for an organization of one.
        open_form: invalid.is_some() || users.len() < 2,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    render(&state, &s, StatusCode::OK, notice(q.done.as_deref()), &CreateForm::default(), &Invalid::none()).await
}

fn role_list(raw: &str) -> Result<Vec<Role>, ()> {
    match raw.trim() {
        "" => Ok(Vec::new()),
        r => r.parse().map(|r| vec![r]).map_err(|_| ()),
    }
}

const CHOOSE_ROLE: &str = "choose a role from the list";

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let refuse = |status, invalid: Invalid| {
        let (state, s, form) = (&state, &s, &form);
        async move { render(state, s, status, None, form, &invalid).await }
    };
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, Invalid::of(&e, &INVITE_FIELDS)).await,
    };
    let Ok(roles) = role_list(&form.role) else {
        return refuse(StatusCode::BAD_REQUEST, Invalid::at("role", CHOOSE_ROLE, &INVITE_FIELDS)).await;
    };
    let new = NewUser { email, given_name: form.given_name.clone(), family_name: form.family_name.clone(), roles };
    match state.identity.create_user(&s.tenant, &s.db, new, &s.actor(), &s.meta).await {
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/users?done=created"))),
        // The one conflict an invitation meets: the email already has an account.
        Err(IdentityError::Conflict(m)) => refuse(StatusCode::CONFLICT, Invalid::at("email", m, &INVITE_FIELDS)).await,
        Err(e) => {
            let (status, invalid) = problem_at(e, &INVITE_FIELDS)?;
            refuse(status, invalid).await
        }
    }
}

/// The user page's profile form as typed (app metadata as JSON text).
#[derive(Debug, Default, Deserialize)]
pub(super) struct EditForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    app_metadata: String,
    sso_required: Option<String>,
}

impl EditForm {
    fn of(u: &User) -> Self {
        Self {
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            app_metadata: if u.app_metadata.is_empty() {
                String::new()
            } else {
                serde_json::to_string_pretty(&u.app_metadata).unwrap_or_default()
            },
            sso_required: u.sso_required.then(|| "on".to_owned()),
        }
    }

    /// The app metadata as a JSON object (empty text is none).
    fn app_metadata(&self) -> Result<Map<String, Value>, Invalid> {
        if self.app_metadata.trim().is_empty() {
            return Ok(Map::new());
        }
        serde_json::from_str::<Map<String, Value>>(&self.app_metadata)
            .map_err(|_| Invalid::at("app_metadata", "must be a JSON object, like {\"plan\": \"pro\"}", &EDIT_FIELDS))
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    u: UserRow,
    created_at: When,
    form: EditForm,
    invalid: &'a Invalid,
    role_options: &'a [(&'a str, &'a str)],
}

/// The page of user `id` (the 404 page for an id of no user here), with `typed` in the
/// profile form when it was refused.
async fn detail(
    state: &AppState,
    s: &Signed,
    id: &str,
    status: StatusCode,
    notice: Option<&str>,
    typed: Option<EditForm>,
    invalid: &Invalid,
) -> Result<Response, PageError> {
    let user = match state.identity.get_user(&s.db, id).await {
        Ok(u) => u,
        Err(IdentityError::NotFound(_)) => return Ok(no_user(state, s).await),
        Err(e) => return Err(e.into()),
    };
    let u = UserRow::of(&user, &s.member.subject);
    let title = if u.name.is_empty() { u.email.clone() } else { u.name.clone() };
    let (c, nav) = s.shell(state, &title, "users").await;
    let view = UserPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        created_at: When::at(user.created_at),
        form: typed.unwrap_or_else(|| EditForm::of(&user)),
        u,
        invalid,
        role_options: &ROLE_OPTIONS,
    };
    Ok(s.render(state, status, &c, &view))
}

async fn no_user(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such user", ("/app/users", "Users")).await
}

pub(super) async fn show(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    detail(&state, &s, &id, StatusCode::OK, notice(q.done.as_deref()), None, &Invalid::none()).await
}

/// Saves the profile form: the same change as `PATCH /api/v1/users/{id}`.
pub(super) async fn save(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Result<Response, PageError> {
    let app_metadata = match form.app_metadata() {
        Ok(m) => m,
        Err(invalid) => return detail(&state, &s, &id, StatusCode::BAD_REQUEST, None, Some(form), &invalid).await,
    };
    let patch = UserPatch {
        given_name: Some(form.given_name.clone()),
        family_name: Some(form.family_name.clone()),
        app_metadata: Some(app_metadata),
        user_metadata: None,
        sso_required: Some(form.sso_required.is_some()),
    };
    match state.identity.update_user(&s.db, &id, patch, &s.actor(), &s.meta).await {
        Ok(u) => Ok(s.finish(&state, html::see_other(&format!("/app/users/{}?done=saved", u.id)))),
        Err(IdentityError::NotFound(_)) => Ok(no_user(&state, &s).await),
        Err(e) => {
            let (status, invalid) = problem_at(e, &EDIT_FIELDS)?;
            detail(&state, &s, &id, status, None, Some(form), &invalid).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    #[serde(default)]
    role: String,
}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let (identity, actor) = (&state.identity, s.actor());
    let result = match action.as_str() {
        "roles" => match role_list(&form.role) {
            Ok(roles) => identity.set_roles(s.tenant.id, &s.db, &id, roles, &actor, &s.meta).await.map(drop),
            Err(()) => {
                let invalid = Invalid::at("role", CHOOSE_ROLE, &EDIT_FIELDS);
                return detail(&state, &s, &id, StatusCode::BAD_REQUEST, None, None, &invalid).await;
            }
        },
        "disable" => identity.set_enabled(s.tenant.id, &s.db, &id, false, &actor, &s.meta).await.map(drop),
        "enable" => identity.set_enabled(s.tenant.id, &s.db, &id, true, &actor, &s.meta).await.map(drop),
        "reset" => identity.reset_to_temporary(&s.tenant, &s.db, &id, &actor, &s.meta).await.map(drop),
        _ => return Ok(s.not_found(&state, "No such page", ("/app/users", "Users")).await),
    };
    match result {
        Ok(()) => Ok(s.finish(&state, html::see_other(&format!("/app/users/{id}?done={action}")))),
        Err(IdentityError::NotFound(_)) => Ok(no_user(&state, &s).await),
        Err(e) => {
            let (status, invalid) = problem_at(e, &EDIT_FIELDS)?;
            detail(&state, &s, &id, status, None, None, &invalid).await
        }
    }
}

/// Asks before disabling a user or resetting their password; other actions have no page.
pub(super) async fn confirm(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let user = match state.identity.get_user(&s.db, &id).await {
        Ok(u) => u,
        Err(IdentityError::NotFound(_)) => return Ok(no_user(&state, &s).await),
        Err(e) => return Err(e.into()),
    };
    let (heading, question, button) = match action.as_str() {
        "disable" => (
            "Disable user",
            format!("Disable {}? They are signed out everywhere and cannot sign in until enabled.", user.email),
            "Disable",
        ),
        "reset" if user.status == UserStatus::ForceChangePassword => (
            "Resend invitation",
            format!("Send {} a new invitation? The temporary password in the last one stops working.", user.email),
            "Resend invitation",
        ),
        "reset" => (
            "Reset password",
            format!(
                "Reset the password of {}? They are signed out everywhere and get a temporary password by mail.",
                user.email
            ),
            "Reset password",
        ),
        _ => return Ok(s.not_found(&state, "No such page", ("/app/users", "Users")).await),
    };
    let action_url = format!("/app/users/{}/{action}", user.id);
    let cancel = format!("/app/users/{}", user.id);
    Ok(super::confirm(&state, &s, heading, &question, &action_url, button, &cancel).await)
}
