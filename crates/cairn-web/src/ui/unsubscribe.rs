//! One-click unsubscribe from publish notifications (RFC 8058). The link in each message
//! carries a sealed (tenant, user) token, so it needs no session. `GET` only shows a
//! confirmation (mail scanners follow links); `POST` — the mail client's one-click request
//! or the page's button — turns the subscription off.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_audit::Actor;
use cairn_identity::User;
use cairn_records::notify;

use super::internal;
use crate::AppState;
use crate::extract::Meta;
use crate::html::{self, Chrome};

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    c: &'a Chrome,
    email: &'a str,
    token: &'a str,
}

fn invalid() -> Response {
    let heading = "This link does not work";
    html::message(
        StatusCode::NOT_FOUND,
        &Chrome::plain(heading),
        heading,
        "The unsubscribe link is incomplete or its account no longer exists. Turn notifications off in your profile instead.",
        None,
    )
}

/// The user and their tenant's database, if the token is genuine and the user exists.
async fn subscriber(
    state: &AppState,
    token: &str,
) -> Result<Option<(cairn_store::Tenant, cairn_store::Db, User)>, Response> {
    let Some((tenant, user_id)) = notify::open_unsubscribe(state.store.master_key(), token) else {
        return Ok(None);
    };
    let Some((tenant, db)) = state.identity.tenant(tenant).await.map_err(internal)? else {
        return Ok(None);
    };
    match state.identity.get_user(&db, &user_id).await {
        Ok(u) => Ok(Some((tenant, db, u))),
        Err(cairn_identity::IdentityError::NotFound(_)) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

pub(super) async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match subscriber(&state, &token).await {
        Ok(Some((tenant, db, user))) => {
            let settings = match state.identity.settings(&db).await {
                Ok(s) => s,
                Err(e) => return internal(e),
            };
            let b = state.identity.branding(&tenant, &settings);
            let c = Chrome::new("Unsubscribe", b.org, b.accent);
            html::render(StatusCode::OK, &c, &UnsubscribePage { c: &c, email: user.email.as_str(), token: &token }, &[])
        }
        Ok(None) => invalid(),
        Err(r) => r,
    }
}

pub(super) async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Meta(meta): Meta,
) -> Response {
    let (_, db, user) = match subscriber(&state, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid(),
        Err(r) => return r,
    };
    if notify::subscribed(&user) {
        let actor = Actor { id: user.id.clone(), email: Some(user.email.to_string()) };
        if let Err(e) = notify::set_subscription(&state.identity, &db, &user.id, false, &actor, &meta).await {
            return internal(e);
        }
    }
    let heading = "You are unsubscribed";
    html::message(
        StatusCode::OK,
        &Chrome::plain(heading),
        heading,
        &format!("{} will get no more publish notifications.", user.email),
        None,
    )
}
