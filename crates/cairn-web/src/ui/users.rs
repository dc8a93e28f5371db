//! The users page (admins): invite, change roles, disable and enable, and send a new
//! temporary password (which is also how an invitation is resent).

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::Role;
use cairn_identity::{Email, NewUser, User, UserStatus};
use serde::Deserialize;

use super::{Nav, Signed, internal, problem};
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
    reset_label: &'static str,
}

impl From<User> for UserRow {
    fn from(u: User) -> Self {
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
) -> Response {
    if !s.is(Role::Admin) {
        return s.forbidden(state, "Only admins manage users.").await;
    }
    let mut users = match state.identity.list_users(&s.db, SHOWN + 1, None).await {
        Ok(u) => u,
        Err(e) => return internal(e),
    };
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
        users: users.into_iter().map(UserRow::from).collect(),
        more,
        role_options: &ROLE_OPTIONS,
        form_email: email,
    };
    s.render(state, status, &c, &view)
}

pub(super) async fn page(State(state): State<AppState>, s: Signed, Query(q): Query<Done>) -> Response {
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
    csrf: Option<String>,
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    role: Option<String>,
}

pub(super) async fn create(State(state): State<AppState>, s: Signed, Form(form): Form<CreateForm>) -> Response {
    if !s.is(Role::Admin) {
        return s.forbidden(&state, "Only admins manage users.").await;
    }
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Err((StatusCode::FORBIDDEN, "The form expired; try again.")), &form.email).await;
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(e) => return render(&state, &s, Err((StatusCode::BAD_REQUEST, &e.to_string())), &form.email).await,
    };
    let Ok(roles) = role_list(form.role.as_deref()) else {
        return render(&state, &s, Err((StatusCode::BAD_REQUEST, "Choose a role from the list.")), &form.email).await;
    };
    let new = NewUser { email, given_name: form.given_name, family_name: form.family_name, roles };
    match state.identity.create_user(&s.tenant, &s.db, new, &s.actor(), &s.meta).await {
        Ok((_, invitation)) => {
            state.identity.deliver(invitation.message);
            s.finish(&state, html::see_other("/app/users?done=created"))
        }
        Err(e) => match problem(e) {
            Ok((status, msg)) => render(&state, &s, Err((status, &msg)), &form.email).await,
            Err(e) => internal(e),
        },
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    csrf: Option<String>,
    role: Option<String>,
}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !s.is(Role::Admin) {
        return s.forbidden(&state, "Only admins manage users.").await;
    }
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Err((StatusCode::FORBIDDEN, "The form expired; try again.")), "").await;
    }
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
        "reset" => identity
            .reset_to_temporary(&s.tenant, &s.db, &id, &actor, &s.meta)
            .await
            .map(|(_, invitation)| identity.deliver(invitation.message)),
        _ => return render(&state, &s, Err((StatusCode::NOT_FOUND, "No such action.")), "").await,
    };
    match result {
        Ok(()) => s.finish(&state, html::see_other(&format!("/app/users?done={action}"))),
        Err(e) => match problem(e) {
            Ok((status, msg)) => render(&state, &s, Err((status, &msg)), "").await,
            Err(e) => internal(e),
        },
    }
}
