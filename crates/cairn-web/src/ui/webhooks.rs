//! The webhooks pages (admins): add a receiver for event types (its secret shown once), and
//! each webhook's page to change its URL and event types, send it a test event, roll its
//! secret, delete it, and read its delivery log — through the same `cairn_events::webhooks`
//! functions and checks as the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use cairn_domain::{ValidationError, events};
use cairn_events::EventsError;
use cairn_events::webhooks::{self, EventTypes, Webhook, WebhookId, WebhookUrl};
use serde::Deserialize;

use super::view::{Invalid, People, Person, Shown, When};
use super::{Admin, CsrfForm, Flash, Nav, Page, PageError, Signed};
use crate::AppState;
use crate::html::{self, Chrome};

const FIELDS: [&str; 2] = ["url", "events"];

struct HookRow {
    id: String,
    url: String,
    events: Vec<String>,
    created_at: When,
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
    invalid: &'a Invalid,
    open_form: bool,
    hooks: Vec<HookRow>,
}

struct AttemptRow {
    time: When,
    event_id: String,
    event_type: String,
    attempt: i64,
    status: String,
    /// The receiver answered 2xx.
    ok: bool,
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
    id: String,
    /// The receiver's host (and port), the page's title.
    host: String,
    hook_url: String,
    created_at: When,
    created_by: Person,
    revealed: Option<(&'a str, &'a str)>,
    url: &'a str,
    types: Vec<(&'static str, bool)>,
    invalid: &'a Invalid,
    attempts: Vec<AttemptRow>,
}

/// What the add and settings forms hold, kept when shown again with a mistake.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Draft {
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

impl Draft {
    fn of(h: &Webhook) -> Self {
        Draft { url: h.url.clone(), events: h.events.clone() }
    }

    fn types(&self) -> Vec<(&'static str, bool)> {
        events::ALL.iter().map(|t| (*t, self.events.iter().any(|e| e == t))).collect()
    }

    /// The URL and event types, checked as the API checks them.
    fn checked(&self, state: &AppState) -> Result<(WebhookUrl, EventTypes), ValidationError> {
        let url = WebhookUrl::parse(self.url.trim(), &state.identity.outbound)?;
        Ok((url, EventTypes::parse(&self.events, &events::ALL)?))
    }
}

async fn render(
    state: &AppState,
    s: &Signed,
    d: &Draft,
    revealed: Option<(&str, &str)>,
    notice: Option<&str>,
    invalid: &Invalid,
) -> Result<Response, PageError> {
    let hooks = webhooks::list(&s.db).await?;
    let (c, nav) = s.shell(state, "Webhooks", "webhooks").await;
    let view = WebhooksPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        revealed,
        url: d.url.trim(),
        types: d.types(),
        invalid,
        open_form: invalid.is_some() || hooks.is_empty(),
        hooks: hooks
            .into_iter()
            .map(|h| HookRow { id: h.id, url: h.url, events: h.events, created_at: When::at(h.created_at) })
            .collect(),
    };
    let status = if invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(s.render(state, status, &c, &view))
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
        let revealed = Some((flash.id.as_str(), flash.secret.as_str()));
        let page = render(&state, &s, &Draft::default(), revealed, Some(&flash.notice), &Invalid::none()).await?;
        return Ok(Flash::clear(&state, page));
    }
    let notice = (q.done.as_deref() == Some("deleted")).then_some("Webhook deleted.");
    render(&state, &s, &Draft::default(), None, notice, &Invalid::none()).await
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<Draft>,
) -> Result<Response, PageError> {
    let (url, types) = match d.checked(&state) {
        Ok(ok) => ok,
        Err(e) => return render(&state, &s, &d, None, None, &Invalid::of(&e, &FIELDS)).await,
    };
    match webhooks::create(&s.db, state.store.master_key(), url, types, &s.actor(), &s.meta).await {
        Ok((hook, secret)) => {
            let notice = format!("Webhook added for {}.", hook.url);
            Ok(Flash::new(&s, "webhooks", &hook.id, &secret, &notice).redirect(&state, &s, "/app/webhooks"))
        }
        Err(EventsError::Validation(v)) => render(&state, &s, &d, None, None, &Invalid::of(&v, &FIELDS)).await,
        Err(e) => Err(e.into()),
    }
}

/// The webhook `id`, or the 404 page when it names none of this organization's.
async fn hook(state: &AppState, s: &Signed, id: &str) -> Result<Result<(WebhookId, Webhook), Response>, PageError> {
    let Ok(id) = WebhookId::parse(id, "id") else { return Ok(Err(no_hook(state, s).await)) };
    match webhooks::get(&s.db, &id).await {
        Ok(h) => Ok(Ok((id, h))),
        Err(EventsError::NotFound(_)) => Ok(Err(no_hook(state, s).await)),
        Err(e) => Err(e.into()),
    }
}

async fn no_hook(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such webhook", ("/app/webhooks", "Webhooks")).await
}

/// The webhook's page: its settings, actions and delivery log.
async fn detail(state: &AppState, s: &Signed, id: &str, shown: Shown<'_, Draft>) -> Result<Response, PageError> {
    let (id, hook) = match hook(state, s, id).await? {
        Ok(h) => h,
        Err(page) => return Ok(page),
    };
    let attempts = webhooks::attempts(&s.db, &id, 200, None).await?;
    let people = People::of(state, &s.db, &[hook.created_by.as_str()]).await?;
    let draft = shown.typed.unwrap_or_else(|| Draft::of(&hook));
    let (c, nav) = s.shell(state, "Webhook", "webhooks").await;
    let view = WebhookPage {
        c: &c,
        nav: &nav,
        notice: shown.notice,
        error: shown.invalid.banner(),
        id: hook.id.clone(),
        host: url::Url::parse(&hook.url)
            .ok()
            .and_then(|u| Some(format!("{}{}", u.host_str()?, u.port().map(|p| format!(":{p}")).unwrap_or_default())))
            .unwrap_or_else(|| hook.url.clone()),
        hook_url: hook.url.clone(),
        created_at: When::at(hook.created_at),
        created_by: people.get(&hook.created_by),
        revealed: shown.revealed,
        url: draft.url.trim(),
        types: draft.types(),
        invalid: &shown.invalid,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptRow {
                time: When::at(a.time),
                event_id: a.event_id,
                event_type: a.event_type,
                attempt: a.attempt,
                status: a.status.map(|s| s.to_string()).unwrap_or_else(|| "–".into()),
                ok: a.status.is_some_and(|s| (200..300).contains(&s)),
                duration_ms: a.duration_ms,
                error: a.error.unwrap_or_default(),
            })
            .collect(),
    };
    let status = if shown.invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn show(
    State(state): State<AppState>,
    s: Page<Admin>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    if let Some(flash) = Flash::take(&state, &s, &headers, "webhooks").filter(|f| f.id == id) {
        return Ok(Flash::clear(&state, detail(&state, &s, &id, Shown::secret(&flash)).await?));
    }
    let notice = match q.done.as_deref() {
        Some("saved") => Some("Webhook saved."),
        Some("test") => Some("Test event queued; its delivery shows below in a moment."),
        _ => None,
    };
    detail(&state, &s, &id, Shown::notice(notice)).await
}

/// Saves the settings form: the same change as `PATCH /api/v1/webhooks/{id}`.
pub(super) async fn save(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(d): CsrfForm<Draft>,
) -> Result<Response, PageError> {
    let refuse = |v: ValidationError, d: Draft| {
        let (state, s, id) = (&state, &s, &id);
        async move { detail(state, s, id, Shown::refused(d, Invalid::of(&v, &FIELDS))).await }
    };
    let Ok(hook_id) = WebhookId::parse(&id, "id") else { return Ok(no_hook(&state, &s).await) };
    let (url, types) = match d.checked(&state) {
        Ok(ok) => ok,
        Err(e) => return refuse(e, d).await,
    };
    match webhooks::update(&s.db, &hook_id, Some(url), Some(types), &s.actor(), &s.meta).await {
        Ok(h) => Ok(s.finish(&state, html::see_other(&format!("/app/webhooks/{}?done=saved", h.id)))),
        Err(EventsError::NotFound(_)) => Ok(no_hook(&state, &s).await),
        Err(EventsError::Validation(v)) => refuse(v, d).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct EmptyForm {}

/// Sends the webhook a test event of its own, then shows its page (and log).
pub(super) async fn test(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Ok(id) = WebhookId::parse(&id, "id") else { return Ok(no_hook(&state, &s).await) };
    match webhooks::send_test(&s.db, s.tenant.id, &id, &s.actor(), &s.meta).await {
        Ok(_) => {
            state.bus.committed(s.tenant.id).await;
            Ok(s.finish(&state, html::see_other(&format!("/app/webhooks/{id}?done=test"))))
        }
        Err(EventsError::NotFound(_)) => Ok(no_hook(&state, &s).await),
        Err(e) => Err(e.into()),
    }
}

/// Asks before rolling a webhook's secret.
pub(super) async fn confirm_rotate(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, hook) = match hook(&state, &s, &id).await? {
        Ok(h) => h,
        Err(page) => return Ok(page),
    };
    let question = format!(
        "Give the webhook to {} a new secret? Deliveries from now on are signed with it; the receiver must \
         know it first.",
        hook.url
    );
    let (action, cancel) = (format!("/app/webhooks/{}/rotate", hook.id), format!("/app/webhooks/{}", hook.id));
    Ok(super::confirm(&state, &s, "Roll secret", &question, &action, "Roll secret", &cancel).await)
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Ok(id) = WebhookId::parse(&id, "id") else { return Ok(no_hook(&state, &s).await) };
    match webhooks::rotate_secret(&s.db, state.store.master_key(), &id, &s.actor(), &s.meta).await {
        Ok(secret) => {
            let notice = "New secret made; the old one no longer signs.";
            let flash = Flash::new(&s, "webhooks", &id.to_string(), &secret, notice);
            Ok(flash.redirect(&state, &s, &format!("/app/webhooks/{id}")))
        }
        Err(EventsError::NotFound(_)) => Ok(no_hook(&state, &s).await),
        Err(e) => Err(e.into()),
    }
}

/// Asks before deleting a webhook.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, hook) = match hook(&state, &s, &id).await? {
        Ok(h) => h,
        Err(page) => return Ok(page),
    };
    let question = format!("Delete the webhook to {}? Deliveries still pending to it end unsent.", hook.url);
    let (action, cancel) = (format!("/app/webhooks/{}/delete", hook.id), format!("/app/webhooks/{}", hook.id));
    Ok(super::confirm(&state, &s, "Delete webhook", &question, &action, "Delete", &cancel).await)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    // An id that cannot exist names no webhook: as good as deleted.
    let deleted = match WebhookId::parse(&id, "id") {
        Ok(id) => webhooks::delete(&s.db, &id, &s.actor(), &s.meta).await,
        Err(_) => Err(EventsError::NotFound("webhook")),
    };
    match deleted {
        Ok(()) | Err(EventsError::NotFound(_)) => Ok(s.finish(&state, html::see_other("/app/webhooks?done=deleted"))),
        Err(e) => Err(e.into()),
    }
}
