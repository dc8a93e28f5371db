//! The applications pages (admins): register OpenID Connect clients (a new secret shown
//! once), and each application's page to change its name and redirect URIs, give it a new
//! secret or delete it — through the same `Identity` methods as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_domain::Role;
use cairn_identity::{Client, ClientPatch, IdentityError, NewClient};
use serde::Deserialize;

use super::view::{Invalid, Shown, When};
use super::{Admin, CsrfForm, Flash, Nav, Page, PageError, Signed, problem_at};
use crate::AppState;
use crate::html::{self, Chrome};

/// The registration form's fields, as the service names them.
const CREATE_FIELDS: [&str; 5] = ["name", "kind", "service_role", "redirect_uris", "post_logout_redirect_uris"];
/// The settings form's fields.
const EDIT_FIELDS: [&str; 3] = ["name", "redirect_uris", "post_logout_redirect_uris"];
const SERVICE_ROLES: [(&str, &str); 3] = [("readonly", "Read-only"), ("member", "Member"), ("admin", "Admin")];

struct ClientRow {
    id: String,
    name: String,
    kind: &'static str,
    redirect_uris: Vec<String>,
    has_secret: bool,
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> Self {
        Self {
            kind: match (c.public, c.service_role) {
                (_, Some(_)) => "Service",
                (true, None) => "Public",
                (false, None) => "Confidential",
            },
            has_secret: !c.public,
            id: c.client_id.clone(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.clone(),
        }
    }
}

/// The registration form as typed, kept when it is sent back with a mistake.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    service_role: Option<String>,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_uris: String,
}

#[derive(Template)]
#[template(path = "clients.html")]
struct ClientsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    issuer: &'a str,
    clients: Vec<ClientRow>,
    revealed: Option<(&'a str, &'a str)>,
    form: &'a CreateForm,
    invalid: &'a Invalid,
    open_form: bool,
    service_roles: &'a [(&'a str, &'a str)],
}

/// What a render shows besides the list.
struct Outcome<'a> {
    status: StatusCode,
    notice: Option<&'a str>,
    invalid: Invalid,
    revealed: Option<(&'a str, &'a str)>,
}

impl<'a> Outcome<'a> {
    fn ok() -> Self {
        Outcome { status: StatusCode::OK, notice: None, invalid: Invalid::none(), revealed: None }
    }

    fn fail(status: StatusCode, invalid: Invalid) -> Self {
        Outcome { status, invalid, ..Outcome::ok() }
    }
}

async fn render(state: &AppState, s: &Signed, out: Outcome<'_>, form: &CreateForm) -> Result<Response, PageError> {
    let clients = state.identity.list_clients(&s.db).await?;
    let (c, nav) = s.shell(state, "Applications", "clients").await;
    let view = ClientsPage {
        c: &c,
        nav: &nav,
        notice: out.notice,
        error: out.invalid.banner(),
        issuer: &state.config.public_url,
        open_form: out.invalid.is_some() || clients.is_empty(),
        clients: clients.iter().map(ClientRow::from).collect(),
        revealed: out.revealed,
        form,
        invalid: &out.invalid,
        service_roles: &SERVICE_ROLES,
    };
    Ok(s.render(state, out.status, &c, &view))
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

fn blank() -> CreateForm {
    CreateForm { kind: "confidential".into(), ..Default::default() }
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Admin>,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    if let Some(flash) = Flash::take(&state, &s, &headers, "clients") {
        let out = Outcome { notice: Some(&flash.notice), revealed: Some((&flash.id, &flash.secret)), ..Outcome::ok() };
        return Ok(Flash::clear(&state, render(&state, &s, out, &blank()).await?));
    }
    let notice = match q.done.as_deref() {
        Some("delete") => Some("Application deleted; its refresh tokens are revoked."),
        Some("created") => Some("Application registered."),
        _ => None,
    };
    render(&state, &s, Outcome { notice, ..Outcome::ok() }, &blank()).await
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let refuse = |invalid| render(&state, &s, Outcome::fail(StatusCode::BAD_REQUEST, invalid), &form);
    let service_role = match form.kind.as_str() {
        "service" => match form.service_role.as_deref().map(str::parse::<Role>) {
            Some(Ok(r)) => Some(r),
            _ => return refuse(Invalid::at("service_role", "choose the service role", &CREATE_FIELDS)).await,
        },
        "public" | "confidential" => None,
        _ => return refuse(Invalid::at("kind", "choose the application type", &CREATE_FIELDS)).await,
    };
    let new = NewClient {
        name: form.name.clone(),
        redirect_uris: if service_role.is_some() { Vec::new() } else { lines(&form.redirect_uris) },
        post_logout_uris: if service_role.is_some() { Vec::new() } else { lines(&form.post_logout_uris) },
        public: form.kind == "public",
        service_role,
    };
    match state.identity.create_client(&s.tenant, &s.db, new, &s.actor(), &s.meta).await {
        Ok((client, secret)) => {
            let created = format!("Registered {}.", client.name);
            Ok(match secret {
                Some(secret) => {
                    Flash::new(&s, "clients", &client.client_id, &secret, &created).redirect(&state, &s, "/app/clients")
                }
                None => s.finish(&state, html::see_other("/app/clients?done=created")),
            })
        }
        Err(e) => {
            let (status, invalid) = problem_at(e, &CREATE_FIELDS)?;
            render(&state, &s, Outcome::fail(status, invalid), &form).await
        }
    }
}

/// The settings form as typed (URIs one per line).
#[derive(Debug, Default, Deserialize)]
pub(super) struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    post_logout_uris: String,
}

impl EditForm {
    fn of(c: &Client) -> Self {
        Self {
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_uris: c.post_logout_uris.join("\n"),
        }
    }
}

#[derive(Template)]
#[template(path = "client.html")]
struct ClientPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    issuer: &'a str,
    client: ClientRow,
    service_role: Option<&'static str>,
    created_at: When,
    form: EditForm,
    invalid: &'a Invalid,
    revealed: Option<(&'a str, &'a str)>,
}

async fn detail(
    state: &AppState,
    s: &Signed,
    id: &str,
    status: StatusCode,
    shown: Shown<'_, EditForm>,
) -> Result<Response, PageError> {
    let client = match state.identity.get_client(&s.db, id).await {
        Ok(c) => c,
        Err(IdentityError::NotFound(_)) => return Ok(no_client(state, s).await),
        Err(e) => return Err(e.into()),
    };
    let (c, nav) = s.shell(state, &client.name, "clients").await;
    let view = ClientPage {
        c: &c,
        nav: &nav,
        notice: shown.notice,
        error: shown.invalid.banner(),
        issuer: &state.config.public_url,
        service_role: client.service_role.map(|r| match r {
            Role::Admin => "Admin",
            Role::Member => "Member",
            Role::Readonly => "Read-only",
        }),
        created_at: When::at(client.created_at),
        form: shown.typed.unwrap_or_else(|| EditForm::of(&client)),
        client: ClientRow::from(&client),
        invalid: &shown.invalid,
        revealed: shown.revealed,
    };
    Ok(s.render(state, status, &c, &view))
}

async fn no_client(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such application", ("/app/clients", "Applications")).await
}

pub(super) async fn show(
    State(state): State<AppState>,
    s: Page<Admin>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    if let Some(flash) = Flash::take(&state, &s, &headers, "clients").filter(|f| f.id == id) {
        return Ok(Flash::clear(&state, detail(&state, &s, &id, StatusCode::OK, Shown::secret(&flash)).await?));
    }
    let notice = (q.done.as_deref() == Some("saved")).then_some("Application saved.");
    detail(&state, &s, &id, StatusCode::OK, Shown::notice(notice)).await
}

/// Saves the settings form: name and redirect URIs, checked as at registration.
pub(super) async fn save(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<EditForm>,
) -> Result<Response, PageError> {
    let patch = ClientPatch {
        name: Some(form.name.clone()),
        redirect_uris: Some(lines(&form.redirect_uris)),
        post_logout_uris: Some(lines(&form.post_logout_uris)),
    };
    match state.identity.update_client(&s.db, &id, patch, &s.actor(), &s.meta).await {
        Ok(c) => Ok(s.finish(&state, html::see_other(&format!("/app/clients/{}?done=saved", c.client_id)))),
        Err(IdentityError::NotFound(_)) => Ok(no_client(&state, &s).await),
        Err(e) => {
            let (status, invalid) = problem_at(e, &EDIT_FIELDS)?;
            detail(&state, &s, &id, status, Shown::refused(form, invalid)).await
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(ActionForm {}): CsrfForm<ActionForm>,
) -> Result<Response, PageError> {
    let result = match action.as_str() {
        "rotate" => state.identity.rotate_client_secret(&s.db, &id, &s.actor(), &s.meta).await.map(Some),
        "delete" => state.identity.delete_client(&s.db, &id, &s.actor(), &s.meta).await.map(|()| None),
        _ => return Ok(s.not_found(&state, "No such page", ("/app/clients", "Applications")).await),
    };
    match result {
        Ok(Some(secret)) => {
            let flash = Flash::new(&s, "clients", &id, &secret, "The old secret no longer works.");
            Ok(flash.redirect(&state, &s, &format!("/app/clients/{id}")))
        }
        Ok(None) => Ok(s.finish(&state, html::see_other("/app/clients?done=delete"))),
        Err(IdentityError::NotFound(_)) => Ok(no_client(&state, &s).await),
        Err(e) => {
            let (status, invalid) = problem_at(e, &[])?;
            detail(&state, &s, &id, status, Shown { invalid, ..Shown::default() }).await
        }
    }
}

/// Asks before giving an application a new secret or deleting it.
pub(super) async fn confirm(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let client = match state.identity.get_client(&s.db, &id).await {
        Ok(c) => c,
        Err(IdentityError::NotFound(_)) => return Ok(no_client(&state, &s).await),
        Err(e) => return Err(e.into()),
    };
    let (heading, question, button) = match action.as_str() {
        "rotate" if !client.public => (
            "New secret",
            format!("Give {} a new secret? The current one stops working at once.", client.name),
            "Make a new secret",
        ),
        "delete" => (
            "Delete application",
            format!(
                "Delete {}? Its users' refresh tokens are revoked and it can no longer sign anyone in.",
                client.name
            ),
            "Delete",
        ),
        _ => return Ok(s.not_found(&state, "No such page", ("/app/clients", "Applications")).await),
    };
    let action_url = format!("/app/clients/{}/{action}", client.client_id);
    let cancel = format!("/app/clients/{}", client.client_id);
    Ok(super::confirm(&state, &s, heading, &question, &action_url, button, &cancel).await)
}
