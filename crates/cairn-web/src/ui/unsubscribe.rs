//! One-click unsubscribe (RFC 8058) from publish notifications and from scheduled reports.
//! The link in each message carries a sealed token — (tenant, user), or (tenant, schedule,
//! address) — so it needs no session. `GET` only shows a
//! confirmation (mail scanners follow links); `POST` — the mail client's one-click request
//! or the page's button — turns the subscription off.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_audit::Actor;
use cairn_identity::User;
use cairn_records::notify;
use cairn_reports::schedules::{self, Schedule, ScheduleId, Schedules};

use super::internal;
use crate::AppState;
use crate::extract::Meta;
use crate::html::{self, Chrome};

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    c: &'a Chrome,
    heading: &'a str,
    text: &'a str,
    action: &'a str,
}

/// The confirmation, in the tenant's name and colour: a GET only asks (mail scanners follow
/// links); the button posts to `action`.
async fn ask(
    state: &AppState,
    tenant: &cairn_store::Tenant,
    db: &cairn_store::Db,
    heading: &str,
    text: &str,
    action: &str,
) -> Response {
    let settings = match state.identity.settings(db).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let b = state.identity.branding(tenant, &settings);
    let c = Chrome::new("Unsubscribe", b.org, b.accent);
    html::render(StatusCode::OK, &c, &UnsubscribePage { c: &c, heading, text, action }, &[])
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
            let text = format!(
                "{} will no longer get an email when a record is published. You can turn them back on in your profile.",
                user.email
            );
            let action = format!("/unsubscribe/{token}");
            ask(&state, &tenant, &db, "Stop publish notifications?", &text, &action).await
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

fn invalid_report_link() -> Response {
    let heading = "This link does not work";
    html::message(
        StatusCode::NOT_FOUND,
        &Chrome::plain(heading),
        heading,
        "The unsubscribe link is incomplete, or its schedule no longer exists.",
        None,
    )
}

/// The tenant's database, the schedule and the address a report mail's token names, if it
/// is genuine and the schedule exists.
async fn report_recipient(
    state: &AppState,
    token: &str,
) -> Result<Option<(cairn_store::Tenant, cairn_store::Db, Schedule, String)>, Response> {
    let Some((tenant, schedule, email)) = schedules::open_unsubscribe(state.store.master_key(), token) else {
        return Ok(None);
    };
    let Some((tenant, db)) = state.identity.tenant(tenant).await.map_err(internal)? else {
        return Ok(None);
    };
    let Ok(id) = ScheduleId::parse(&schedule, "schedule") else { return Ok(None) };
    match (Schedules { db: &db }).get(&id).await {
        Ok(Some(s)) => Ok(Some((tenant, db, s, email))),
        Ok(None) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

pub(super) async fn confirm_report(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let (tenant, db, schedule, email) = match report_recipient(&state, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid_report_link(),
        Err(r) => return r,
    };
    let text = format!(
        "{email} will no longer get the {} report scheduled \u{201c}{}\u{201d}. Its other recipients still will.",
        schedule.kind.as_str(),
        schedule.cron
    );
    let action = format!("/unsubscribe/reports/{token}");
    ask(&state, &tenant, &db, "Stop this scheduled report?", &text, &action).await
}

pub(super) async fn unsubscribe_report(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Meta(meta): Meta,
) -> Response {
    let (_, db, schedule, email) = match report_recipient(&state, &token).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid_report_link(),
        Err(r) => return r,
    };
    // Already off the list (a second click): the same answer, nothing recorded again.
    if let Err(e) = (Schedules { db: &db }).unsubscribe(&schedule.id, &email, &meta).await {
        return internal(e);
    }
    let heading = "You are unsubscribed";
    html::message(
        StatusCode::OK,
        &Chrome::plain(heading),
        heading,
        &format!("{email} will get no more of this scheduled report."),
        None,
    )
}
