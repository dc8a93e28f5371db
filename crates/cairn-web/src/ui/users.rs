//! The users page (admins): invite, change roles, disable and enable, and send a new
//! temporary password (which is also how an invitation is resent).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::Role;
use cairn_identity::{Email, NewUser, User, UserStatus};
use serde::Deserialize;

use super::{Admin, CsrfForm, Nav, Page, PageError, Signed, problem};
use crate::AppState;
use crate::html::{self, Chrome};

const SHOWN: i64 = 500;
const ROLE_OPTIONS: [(&str, &str); 4] =
    [("", "Default role"), ("admin", "Admin"), ("member", "Member"), ("readonly", "Read-only")];

struct UserRow {
    id: String,
    email: String,
    name: String,
    status: &'static str,
    disabled: bool,
    role: String,
    role_label: &'static str,
    reset_label: &'static str,
    /// The signed-in admin's own row: no disabling, resetting or changing their own role
    /// from here (the server refuses the first and the last; a reset would sign them out).
    is_me: bool,
}

impl UserRow {
    fn of(u: User, me: &str) -> Self {
        let name = format!("{} {}", u.given_name, u.family_name).trim().to_owned();
        Self {
            status: match u.status {
                UserStatus::Active => "Active",
                UserStatus::ForceChangePassword => "Invited",
                UserStatus::Disabled => "Disabled",
            },
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
            id: u.id,
            email: u.email.to_string(),
            name,
        }
    }
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
    form_email: &'a str,
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "User created; the invitation is on its way.",
        "roles" => "Role saved.",
        "disable" => "User disabled; their sessions have ended.",
        "enable" => "User enabled.",
        "reset" => "A new temporary password is on its way.",
        _ => return None,
    })
}

async fn render(
    state: &AppState,
    s: &Signed,
    message: Result<Option<&str>, (StatusCode, &str)>,
    email: &str,
) -> Result<Response, PageError> {
    let mut users = state.identity.list_users(&s.db, SHOWN + 1, None).await?;
    let more = users.len() as i64 > SHOWN;
    users.truncate(SHOWN as usize);
    let (c, nav) = s.shell(state, "Users", "users").await;
    let (notice, error, status) = match message {
        Ok(n) => (n, None, StatusCode::OK),
        Err((status, e)) => (None, Some(e), status),
    };
    let view = UsersPage {
        c: &c,
        nav: &nav,
        notice,
        error,
        users: users.into_iter().map(|u| UserRow::of(u, &s.principal.subject)).collect(),
        more,
        role_options: &ROLE_OPTIONS,
        form_email: email,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    render(&state, &s, Ok(notice(q.done.as_deref())), "").await
}

fn role_list(raw: Option<&str>) -> Result<Vec<Role>, ()> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(Vec::new()),
        Some(r) => r.parse().map(|r| vec![r]).map_err(|_| ()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CreateForm {
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    role: Option<String>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return render(&state, &s, Err((StatusCode::BAD_REQUEST, &e.to_string())), &form.email).await,
    };
    let Ok(roles) = role_list(form.role.as_deref()) else {
        return render(&state, &s, Err((StatusCode::BAD_REQUEST, "Choose a role from the list.")), &form.email).await;
    };
    let new = NewUser { email, given_name: form.given_name, family_name: form.family_name, roles };
    match state.identity.create_user(&s.tenant, &s.db, new, &s.actor(), &s.meta).await {
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/users?done=created"))),
        Err(e) => {
            let (status, msg) = problem(e)?;
            render(&state, &s, Err((status, &msg)), &form.email).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    role: Option<String>,
}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let (identity, actor) = (&state.identity, s.actor());
    let result = match action.as_str() {
        "roles" => match role_list(form.role.as_deref()) {
            Ok(roles) => identity.set_roles(s.tenant.id, &s.db, &id, roles, &actor, &s.meta).await.map(drop),
            Err(()) => {
                return render(&state, &s, Err((StatusCode::BAD_REQUEST, "Choose a role from the list.")), "").await;
            }
        },
        "disable" => identity.set_enabled(s.tenant.id, &s.db, &id, false, &actor, &s.meta).await.map(drop),
        "enable" => identity.set_enabled(s.tenant.id, &s.db, &id, true, &actor, &s.meta).await.map(drop),
        "reset" => identity.reset_to_temporary(&s.tenant, &s.db, &id, &actor, &s.meta).await.map(drop),
        _ => return render(&state, &s, Err((StatusCode::NOT_FOUND, "No such action.")), "").await,
    };
    match result {
        Ok(()) => Ok(s.finish(&state, html::see_other(&format!("/app/users?done={action}")))),
        Err(e) => {
            let (status, msg) = problem(e)?;
            render(&state, &s, Err((status, &msg)), "").await
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
        Err(cairn_identity::IdentityError::NotFound(_)) => {
            return Ok(s.not_found(&state, "No such user", ("/app/users", "Users")).await);
        }
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
    Ok(super::confirm(&state, &s, heading, &question, &action_url, button, "/app/users").await)
}
