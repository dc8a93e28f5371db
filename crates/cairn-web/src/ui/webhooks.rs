//! The webhooks page (admins): add a receiver for event types (its secret shown once),
//! delete it, and read its delivery log.

use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::{Role, events, rfc3339};
use cairn_events::EventsError;
use cairn_events::webhooks;

use super::{Nav, Signed, internal};
use crate::AppState;
use crate::html::{self, Chrome};

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
#[derive(Default)]
struct Draft {
    csrf: Option<String>,
    url: String,
    events: Vec<String>,
}

fn draft(body: &[u8]) -> Draft {
    let mut d = Draft::default();
    for (k, v) in url::form_urlencoded::parse(body) {
        match k.as_ref() {
            "csrf" => d.csrf = Some(v.into_owned()),
            "url" => d.url = v.trim().to_owned(),
            "events" => d.events.push(v.into_owned()),
            _ => {}
        }
    }
    d
}

async fn render(
    state: &AppState,
    s: &Signed,
    d: &Draft,
    revealed: Option<(&str, &str)>,
    msg: Option<(StatusCode, &str)>,
) -> Response {
    if !s.is(Role::Admin) {
        return s.forbidden(state, "Only admins manage webhooks.").await;
    }
    let hooks = match webhooks::list(&s.db).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
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
        url: &d.url,
        types: events::ALL.iter().map(|t| (*t, d.events.iter().any(|e| e == t))).collect(),
        hooks: hooks
            .into_iter()
            .map(|h| HookRow { id: h.id, url: h.url, events: h.events.join(", "), created_at: rfc3339(h.created_at) })
            .collect(),
    };
    s.render(state, msg.map(|m| m.0).unwrap_or(StatusCode::OK), &c, &view)
}

pub(super) async fn page(State(state): State<AppState>, s: Signed) -> Response {
    render(&state, &s, &Draft::default(), None, None).await
}

pub(super) async fn create(State(state): State<AppState>, s: Signed, RawForm(body): RawForm) -> Response {
    let d = draft(&body);
    if !s.csrf_ok(d.csrf.as_deref()) {
        return render(&state, &s, &d, None, Some((StatusCode::FORBIDDEN, "The form expired; try again."))).await;
    }
    if !s.is(Role::Admin) {
        return s.forbidden(&state, "Only admins manage webhooks.").await;
    }
    let checked = webhooks::check_url(&d.url, &state.identity.outbound)
        .and_then(|url| Ok((url, webhooks::check_events(&d.events, &events::ALL)?)));
    let (url, types) = match checked {
        Ok(ok) => ok,
        Err(e) => return render(&state, &s, &d, None, Some((StatusCode::BAD_REQUEST, &e.to_string()))).await,
    };
    match webhooks::create(&s.db, state.store.master_key(), url, types, &s.actor(), &s.meta).await {
        Ok((hook, secret)) => {
            let page = render(&state, &s, &Draft::default(), Some((&hook.id, &secret)), None).await;
            s.finish(&state, page)
        }
        Err(EventsError::Validation(v)) => {
            render(&state, &s, &d, None, Some((StatusCode::BAD_REQUEST, &v.to_string()))).await
        }
        Err(e) => internal(e),
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let d = draft(&body);
    if !s.csrf_ok(d.csrf.as_deref()) {
        return render(
            &state,
            &s,
            &Draft::default(),
            None,
            Some((StatusCode::FORBIDDEN, "The form expired; try again.")),
        )
        .await;
    }
    if !s.is(Role::Admin) {
        return s.forbidden(&state, "Only admins manage webhooks.").await;
    }
    match webhooks::delete(&s.db, &id, &s.actor(), &s.meta).await {
        Ok(()) | Err(EventsError::NotFound(_)) => s.finish(&state, html::see_other("/app/webhooks")),
        Err(e) => internal(e),
    }
}

pub(super) async fn log(State(state): State<AppState>, s: Signed, Path(id): Path<String>) -> Response {
    if !s.is(Role::Admin) {
        return s.forbidden(&state, "Only admins manage webhooks.").await;
    }
    let hook = match webhooks::get(&s.db, &id).await {
        Ok(h) => h,
        Err(EventsError::NotFound(_)) => return html::see_other("/app/webhooks"),
        Err(e) => return internal(e),
    };
    let attempts = match webhooks::attempts(&s.db, &id, 200, None).await {
        Ok(a) => a,
        Err(e) => return internal(e),
    };
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
    s.render(&state, StatusCode::OK, &c, &view)
}
