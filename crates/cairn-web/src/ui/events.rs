//! Failed deliveries (dead letters) for admins: replay or discard them.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::{Role, rfc3339};
use cairn_events::{DeadSelection, EventsError};
use serde::Deserialize;

use super::{Nav, Signed, internal};
use crate::AppState;
use crate::html::{self, Chrome};

struct Row {
    id: String,
    event_id: String,
    event_type: String,
    consumer: String,
    attempts: i64,
    last_error: String,
    failed_at: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    rows: Vec<Row>,
}

async fn render(state: &AppState, s: &Signed, msg: Option<(StatusCode, &str)>) -> Response {
    if !s.is(Role::Admin) {
        return s.forbidden(state, "Only admins see failed deliveries.").await;
    }
    let dead = match cairn_events::dead_letters(&s.db, 500).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let (c, nav) = s.shell(state, "Failed deliveries", "events").await;
    let (notice, error) = match msg {
        Some((StatusCode::OK, m)) => (Some(m), None),
        Some((_, m)) => (None, Some(m)),
        None => (None, None),
    };
    let rows = dead
        .into_iter()
        .map(|d| Row {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            consumer: d.consumer,
            attempts: d.attempts,
            last_error: d.last_error.unwrap_or_default(),
            failed_at: rfc3339(d.failed_at),
        })
        .collect();
    let view = EventsPage { c: &c, nav: &nav, notice, error, rows };
    s.render(state, msg.map(|m| m.0).unwrap_or(StatusCode::OK), &c, &view)
}

pub(super) async fn page(State(state): State<AppState>, s: Signed) -> Response {
    render(&state, &s, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct ActForm {
    csrf: Option<String>,
}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActForm>,
) -> Response {
    if !s.csrf_ok(form.csrf.as_deref()) {
        return render(&state, &s, Some((StatusCode::FORBIDDEN, "The form expired; try again."))).await;
    }
    if !s.is(Role::Admin) {
        return s.forbidden(&state, "Only admins replay or discard failed deliveries.").await;
    }
    let which = if id == "all" { DeadSelection::All } else { DeadSelection::One(id) };
    let done = match action.as_str() {
        "replay" => cairn_events::replay(&s.db, &which, &s.actor(), &s.meta).await,
        "discard" => cairn_events::discard(&s.db, &which, &s.actor(), &s.meta).await,
        _ => return html::see_other("/app/events"),
    };
    match done {
        Ok(n) => {
            if action == "replay" {
                state.bus.committed(s.tenant.id).await;
            }
            let verb = if action == "replay" { "queued again" } else { "discarded" };
            s.finish(&state, render(&state, &s, Some((StatusCode::OK, &format!("{n} {verb}.")))).await)
        }
        Err(EventsError::NotFound(_)) => {
            render(&state, &s, Some((StatusCode::NOT_FOUND, "That delivery is no longer failed."))).await
        }
        Err(e) => internal(e),
    }
}
