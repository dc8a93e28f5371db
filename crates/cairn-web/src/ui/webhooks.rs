//! The webhooks page (admins): add a receiver for event types (its secret shown once),
//! delete it, and read its delivery log.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_domain::{events, rfc3339};
use cairn_events::EventsError;
use cairn_events::webhooks;

use super::{Admin, CsrfForm, Flash, Nav, Page, PageError, Signed};
use crate::AppState;
use crate::html::{self, Chrome};
use serde::Deserialize;

struct HookRow {
    id: String,
    url: String,
    events: String,
    created_at: String,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    revealed: Option<(&'a str, &'a str)>,
    url: &'a str,
    types: Vec<(&'static str, bool)>,
    hooks: Vec<HookRow>,
}

struct AttemptRow {
    time: String,
    event_id: String,
    event_type: String,
    attempt: i64,
    status: String,
    duration_ms: i64,
    error: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    url: String,
    events: String,
    attempts: Vec<AttemptRow>,
}

/// What the add form held, kept when it is shown again with an error.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Draft {
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

async fn render(
    state: &AppState,
    s: &Signed,
    d: &Draft,
    revealed: Option<(&str, &str)>,
    msg: Option<(StatusCode, &str)>,
) -> Result<Response, PageError> {
    let hooks = webhooks::list(&s.db).await?;
    let (c, nav) = s.shell(state, "Webhooks", "webhooks").await;
    let (notice, error) = match msg {
        Some((StatusCode::OK, m)) => (Some(m), None),
        Some((_, m)) => (None, Some(m)),
        None => (None, None),
    };
    let view = WebhooksPage {
        c: &c,
        nav: &nav,
        notice,
        error,
        revealed,
        url: d.url.trim(),
        types: events::ALL.iter().map(|t| (*t, d.events.iter().any(|e| e == t))).collect(),
        hooks: hooks
            .into_iter()
            .map(|h| HookRow { id: h.id, url: h.url, events: h.events.join(", "), created_at: rfc3339(h.created_at) })
            .collect(),
    };
    Ok(s.render(state, msg.map(|m| m.0).unwrap_or(StatusCode::OK), &c, &view))
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
    if let Some(flash) = Flash::take(&state, &s, &headers, "webhooks") {
        let msg = Some((StatusCode::OK, flash.notice.as_str()));
        let page = render(&state, &s, &Draft::default(), Some((&flash.id, &flash.secret)), msg).await?;
        return Ok(Flash::clear(&state, page));
    }
    let msg = (q.done.as_deref() == Some("deleted")).then_some((StatusCode::OK, "Webhook deleted."));
    render(&state, &s, &Draft::default(), None, msg).await
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<Draft>,
) -> Result<Response, PageError> {
    let checked = webhooks::check_url(d.url.trim(), &state.identity.outbound)
        .and_then(|url| Ok((url, webhooks::check_events(&d.events, &events::ALL)?)));
    let (url, types) = match checked {
        Ok(ok) => ok,
        Err(e) => return render(&state, &s, &d, None, Some((StatusCode::BAD_REQUEST, &e.to_string()))).await,
    };
    match webhooks::create(&s.db, state.store.master_key(), url, types, &s.actor(), &s.meta).await {
        Ok((hook, secret)) => {
            let notice = format!("Webhook added for {}.", hook.url);
            Ok(Flash::new(&s, "webhooks", &hook.id, &secret, &notice).redirect(&state, &s, "/app/webhooks"))
        }
        Err(EventsError::Validation(v)) => {
            render(&state, &s, &d, None, Some((StatusCode::BAD_REQUEST, &v.to_string()))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The webhook `id`, or the 404 page when it names none of this organization's.
async fn hook(state: &AppState, s: &Signed, id: &str) -> Result<Result<webhooks::Webhook, Response>, PageError> {
    match webhooks::get(&s.db, id).await {
        Ok(h) => Ok(Ok(h)),
        Err(EventsError::NotFound(_)) => {
            Ok(Err(s.not_found(state, "No such webhook", ("/app/webhooks", "Webhooks")).await))
        }
        Err(e) => Err(e.into()),
    }
}

/// Asks before deleting a webhook.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let hook = match hook(&state, &s, &id).await? {
        Ok(h) => h,
        Err(page) => return Ok(page),
    };
    let question = format!("Delete the webhook to {}? Deliveries still pending to it end unsent.", hook.url);
    let action = format!("/app/webhooks/{}/delete", hook.id);
    Ok(super::confirm(&state, &s, "Delete webhook", &question, &action, "Delete", "/app/webhooks").await)
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteForm {}

pub(super) async fn delete(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(DeleteForm {}): CsrfForm<DeleteForm>,
) -> Result<Response, PageError> {
    match webhooks::delete(&s.db, &id, &s.actor(), &s.meta).await {
        Ok(()) | Err(EventsError::NotFound(_)) => Ok(s.finish(&state, html::see_other("/app/webhooks?done=deleted"))),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn log(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let hook = match hook(&state, &s, &id).await? {
        Ok(h) => h,
        Err(page) => return Ok(page),
    };
    let attempts = webhooks::attempts(&s.db, &id, 200, None).await?;
    let (c, nav) = s.shell(&state, "Webhook deliveries", "webhooks").await;
    let view = WebhookPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: None,
        url: hook.url,
        events: hook.events.join(", "),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptRow {
                time: rfc3339(a.time),
                event_id: a.event_id,
                event_type: a.event_type,
                attempt: a.attempt,
                status: a.status.map(|s| s.to_string()).unwrap_or_else(|| "–".into()),
                duration_ms: a.duration_ms,
                error: a.error.unwrap_or_default(),
            })
            .collect(),
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}
