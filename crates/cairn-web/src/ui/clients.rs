//! The applications page (admins): register OpenID Connect clients, show a new secret
//! once, rotate it, delete a client.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_domain::Role;
use cairn_identity::{Client, NewClient};
use serde::Deserialize;

use super::{Admin, CsrfForm, Flash, Nav, Page, PageError, Signed, problem};
use crate::AppState;
use crate::html::{self, Chrome};

struct ClientRow {
    id: String,
    name: String,
    kind: &'static str,
    redirect_uris: Vec<String>,
    has_secret: bool,
}

impl From<Client> for ClientRow {
    fn from(c: Client) -> Self {
        Self {
            kind: match (c.public, c.service_role) {
                (_, Some(_)) => "Service",
                (true, None) => "Public",
                (false, None) => "Confidential",
            },
            has_secret: !c.public,
            id: c.client_id,
            name: c.name,
            redirect_uris: c.redirect_uris,
        }
    }
}

/// The registration form as typed, kept when it is sent back with an error.
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
}

/// What a render shows besides the list.
struct Outcome<'a> {
    status: StatusCode,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    revealed: Option<(&'a str, &'a str)>,
}

impl<'a> Outcome<'a> {
    fn ok() -> Self {
        Outcome { status: StatusCode::OK, notice: None, error: None, revealed: None }
    }

    fn fail(status: StatusCode, error: &'a str) -> Self {
        Outcome { status, error: Some(error), ..Outcome::ok() }
    }
}

async fn render(state: &AppState, s: &Signed, out: Outcome<'_>, form: &CreateForm) -> Result<Response, PageError> {
    let clients = state.identity.list_clients(&s.db).await?;
    let (c, nav) = s.shell(state, "Applications", "clients").await;
    let view = ClientsPage {
        c: &c,
        nav: &nav,
        notice: out.notice,
        error: out.error,
        issuer: &state.config.public_url,
        clients: clients.into_iter().map(ClientRow::from).collect(),
        revealed: out.revealed,
        form,
    };
    Ok(s.render(state, out.status, &c, &view))
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Admin>,
    headers: HeaderMap,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let blank = CreateForm { kind: "confidential".into(), ..Default::default() };
    if let Some(flash) = Flash::take(&state, &s, &headers, "clients") {
        let out = Outcome { notice: Some(&flash.notice), revealed: Some((&flash.id, &flash.secret)), ..Outcome::ok() };
        return Ok(Flash::clear(&state, render(&state, &s, out, &blank).await?));
    }
    let notice = match q.done.as_deref() {
        Some("delete") => Some("Application deleted; its refresh tokens are revoked."),
        Some("created") => Some("Application registered."),
        _ => None,
    };
    render(&state, &s, Outcome { notice, ..Outcome::ok() }, &blank).await
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Result<Response, PageError> {
    let service_role = match form.kind.as_str() {
        "service" => match form.service_role.as_deref().map(str::parse::<Role>) {
            Some(Ok(r)) => Some(r),
            _ => {
                return render(&state, &s, Outcome::fail(StatusCode::BAD_REQUEST, "Choose the service role."), &form)
                    .await;
            }
        },
        "public" | "confidential" => None,
        _ => {
            return render(&state, &s, Outcome::fail(StatusCode::BAD_REQUEST, "Choose the application type."), &form)
                .await;
        }
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
            let (status, msg) = problem(e)?;
            render(&state, &s, Outcome::fail(status, &msg), &form).await
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
    let blank = CreateForm { kind: "confidential".into(), ..Default::default() };
    let result = match action.as_str() {
        "rotate" => state.identity.rotate_client_secret(&s.db, &id, &s.actor(), &s.meta).await.map(Some),
        "delete" => state.identity.delete_client(&s.db, &id, &s.actor(), &s.meta).await.map(|()| None),
        _ => return render(&state, &s, Outcome::fail(StatusCode::NOT_FOUND, "No such action."), &blank).await,
    };
    match result {
        Ok(Some(secret)) => {
            let flash = Flash::new(&s, "clients", &id, &secret, "The old secret no longer works.");
            Ok(flash.redirect(&state, &s, "/app/clients"))
        }
        Ok(None) => Ok(s.finish(&state, html::see_other("/app/clients?done=delete"))),
        Err(e) => {
            let (status, msg) = problem(e)?;
            render(&state, &s, Outcome::fail(status, &msg), &blank).await
        }
    }
}

/// Asks before giving an application a new secret or deleting it.
pub(super) async fn confirm(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let clients = state.identity.list_clients(&s.db).await?;
    let Some(client) = clients.into_iter().find(|c| c.client_id == id) else {
        return Ok(s.not_found(&state, "No such application", ("/app/clients", "Applications")).await);
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
    Ok(super::confirm(&state, &s, heading, &question, &action_url, button, "/app/clients").await)
}
