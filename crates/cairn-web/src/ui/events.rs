//! Failed deliveries (dead letters) for admins: replay or discard them.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_events::{DeadLetter, DeadSelection, DeliveryId, EventsError};
use serde::Deserialize;

use super::view::{People, When};
use super::{Admin, CsrfForm, Nav, Page, PageError, Signed};
use crate::AppState;
use crate::html::{self, Chrome};

struct Row {
    id: String,
    event_id: String,
    event_type: String,
    to: Destination,
    attempts: i64,
    last_error: String,
    failed_at: When,
}

/// Where a delivery was going, in words: a webhook's URL, a person's mail.
#[derive(Clone)]
struct Destination {
    label: String,
    /// What kind of consumer, or its name when it is not one of Cairn's own.
    what: String,
    href: Option<String>,
}

/// Names each dead letter's consumer (`webhook:<id>`, `publish_mail:<user id>`, …).
async fn destinations(state: &AppState, s: &Signed, dead: &[DeadLetter]) -> Result<Vec<Destination>, PageError> {
    use cairn_identity::mail::MAIL_CONSUMER;
    use cairn_identity::reset::RESET_CONSUMER;
    use cairn_records::notify::{CONSUMER as PUBLISH, MAIL as PUBLISH_MAIL};
    let hooks = if dead.iter().any(|d| d.consumer.starts_with("webhook:")) {
        cairn_events::webhooks::list(&s.db).await?
    } else {
        Vec::new()
    };
    let mailed = dead.iter().filter_map(|d| d.consumer.strip_prefix(PUBLISH_MAIL)?.strip_prefix(':'));
    let people = People::of(state, &s.db, &mailed.collect::<Vec<_>>()).await?;
    let plain = |label: &str, what: &str| Destination { label: label.into(), what: what.into(), href: None };
    Ok(dead
        .iter()
        .map(|d| match d.consumer.split_once(':') {
            Some(("webhook", id)) => match hooks.iter().find(|h| h.id == id) {
                Some(h) => Destination {
                    label: h.url.clone(),
                    what: "Webhook".into(),
                    href: Some(format!("/app/webhooks/{id}")),
                },
                None => plain("A deleted webhook", "Webhook"),
            },
            Some((kind, user)) if kind == PUBLISH_MAIL => plain(&people.get(user).label, "Publish notice mail"),
            _ if d.consumer == PUBLISH => plain("Subscribers", "Publish notices"),
            _ if d.consumer == MAIL_CONSUMER => plain("Account mail", "Invitations, resets and lockouts"),
            _ if d.consumer == RESET_CONSUMER => plain("Password reset requests", "Account mail"),
            _ => plain(&d.consumer, "Consumer"),
        })
        .collect())
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

async fn render(state: &AppState, s: &Signed, msg: Option<(StatusCode, &str)>) -> Result<Response, PageError> {
    let dead = cairn_events::dead_letters(&s.db, 500).await?;
    let to = destinations(state, s, &dead).await?;
    let (c, nav) = s.shell(state, "Failed deliveries", "events").await;
    let (notice, error) = match msg {
        Some((StatusCode::OK, m)) => (Some(m), None),
        Some((_, m)) => (None, Some(m)),
        None => (None, None),
    };
    let rows = dead
        .into_iter()
        .zip(to)
        .map(|(d, to)| Row {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            to,
            attempts: d.attempts,
            last_error: d.last_error.unwrap_or_default(),
            failed_at: When::at(d.failed_at),
        })
        .collect();
    let view = EventsPage { c: &c, nav: &nav, notice, error, rows };
    Ok(s.render(state, msg.map(|m| m.0).unwrap_or(StatusCode::OK), &c, &view))
}

/// What the page says after a replay or discard (post/redirect/get).
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
    n: Option<u64>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match (q.done.as_deref(), q.n) {
        (Some("replay"), Some(n)) => Some(format!("{n} queued again.")),
        (Some("discard"), Some(n)) => Some(format!("{n} discarded.")),
        (Some("gone"), _) => None,
        _ => None,
    };
    match (q.done.as_deref(), notice) {
        (Some("gone"), _) => {
            render(&state, &s, Some((StatusCode::NOT_FOUND, "That delivery is no longer failed."))).await
        }
        (_, Some(n)) => render(&state, &s, Some((StatusCode::OK, &n))).await,
        _ => render(&state, &s, None).await,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ActForm {}

pub(super) async fn act(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(ActForm {}): CsrfForm<ActForm>,
) -> Result<Response, PageError> {
    let which = match id.as_str() {
        "all" => DeadSelection::All,
        one => match DeliveryId::parse(one, "id") {
            Ok(id) => DeadSelection::One(id),
            // An id that cannot exist names no failed delivery.
            Err(_) => return Ok(s.finish(&state, html::see_other("/app/events?done=gone"))),
        },
    };
    let done = match action.as_str() {
        "replay" => cairn_events::replay(&s.db, &which, &s.actor(), &s.meta).await,
        "discard" => cairn_events::discard(&s.db, &which, &s.actor(), &s.meta).await,
        _ => return Ok(s.finish(&state, html::see_other("/app/events"))),
    };
    match done {
        Ok(n) => {
            if action == "replay" {
                state.bus.committed(s.tenant.id).await;
            }
            Ok(s.finish(&state, html::see_other(&format!("/app/events?done={action}&n={n}"))))
        }
        Err(EventsError::NotFound(_)) => Ok(s.finish(&state, html::see_other("/app/events?done=gone"))),
        Err(e) => Err(e.into()),
    }
}

/// Asks before discarding a failed delivery, or replaying them all.
pub(super) async fn confirm(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (heading, question, button) = match (id.as_str(), action.as_str()) {
        ("all", "replay") => {
            let n = cairn_events::dead_letters(&s.db, 500).await?.len();
            ("Replay all", format!("Queue all {n} failed deliveries again?"), "Replay all")
        }
        (_, "discard") => {
            let dead = cairn_events::dead_letters(&s.db, 500).await?;
            let Some(d) = dead.into_iter().find(|d| d.id == id) else {
                return Ok(s.not_found(&state, "No such failed delivery", ("/app/events", "Failed deliveries")).await);
            };
            let to = destinations(&state, &s, std::slice::from_ref(&d)).await?.remove(0);
            (
                "Discard delivery",
                format!(
                    "Discard the {} delivery of {} to {} ({})? It is not sent again.",
                    d.event_type, d.event_id, to.label, to.what
                ),
                "Discard",
            )
        }
        _ => return Ok(s.not_found(&state, "No such page", ("/app/events", "Failed deliveries")).await),
    };
    let action_url = format!("/app/events/{id}/{action}");
    Ok(super::confirm(&state, &s, heading, &question, &action_url, button, "/app/events").await)
}
