//! The applications page (admins): register OpenID Connect clients, show a new secret
//! once, rotate it, delete a client.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::Role;
use cairn_identity::{Client, NewClient};
use serde::Deserialize;

use super::{Nav, Signed, internal, problem};
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
    csrf: Option<String>,
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

async fn render(state: &AppState, s: &Signed, out: Outcome<'_>, form: &CreateForm) -> Response {
    let clients = match state.identity.list_clients(&s.db).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
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
    s.render(state, out.status, &c, &view)
}

/// An admin's page request, or the 403 page.
async fn admin(state: &AppState, s: Signed) -> Result<Signed, Response> {
    if !s.is(Role::Admin) {
        return Err(s.forbidden(state, "Only admins manage applications.").await);
    }
    Ok(s)
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

pub(super) async fn page(State(state): State<AppState>, s: Signed, Query(q): Query<Done>) -> Response {
    let s = match admin(&state, s).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice =
        (q.done.as_deref() == Some("delete")).then_some("Application deleted; its refresh tokens are revoked.");
    render(
        &state,
        &s,
        Outcome { notice, ..Outcome::ok() },
        &CreateForm { kind: "confidential".into(), ..Default::default() },
    )
    .await
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

pub(super) async fn create(State(state): State<AppState>, s: Signed, Form(form): Form<CreateForm>) -> Response {
    let s = match admin(&state, s).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Outcome::fail(StatusCode::FORBIDDEN, "The form expired; try again."), &form).await;
    }
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
            let out = Outcome {
                status: StatusCode::CREATED,
                notice: Some(&created),
                error: None,
                revealed: secret.as_deref().map(|sec| (client.client_id.as_str(), sec)),
            };
            render(&state, &s, out, &CreateForm { kind: "confidential".into(), ..Default::default() }).await
        }
        Err(e) => match problem(e) {
            Ok((status, msg)) => render(&state, &s, Outcome::fail(status, &msg), &form).await,
            Err(e) => internal(e),
        },
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActionForm {
    csrf: Option<String>,
}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    let s = match admin(&state, s).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let blank = CreateForm { kind: "confidential".into(), ..Default::default() };
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Outcome::fail(StatusCode::FORBIDDEN, "The form expired; try again."), &blank).await;
    }
    let result = match action.as_str() {
        "rotate" => state.identity.rotate_client_secret(&s.db, &id, &s.actor(), &s.meta).await.map(Some),
        "delete" => state.identity.delete_client(&s.db, &id, &s.actor(), &s.meta).await.map(|()| None),
        _ => return render(&state, &s, Outcome::fail(StatusCode::NOT_FOUND, "No such action."), &blank).await,
    };
    match result {
        Ok(Some(secret)) => {
            let out = Outcome {
                revealed: Some((&id, &secret)),
                notice: Some("The old secret no longer works."),
                ..Outcome::ok()
            };
            render(&state, &s, out, &blank).await
        }
        Ok(None) => s.finish(&state, html::see_other("/app/clients?done=delete")),
        Err(e) => match problem(e) {
            Ok((status, msg)) => render(&state, &s, Outcome::fail(status, &msg), &blank).await,
            Err(e) => internal(e),
        },
    }
}
