//! The records pages: the list (updated live from the events stream), a record with its
//! edit, publish and delete forms and its publish history.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_domain::{Role, rfc3339};
use cairn_records::model::{self, Record};
use cairn_records::{RecordInput, RecordPatch, Records, RecordsError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Nav, Signed, internal};
use crate::AppState;
use crate::html::{self, Chrome};

/// What the create and edit forms hold (as typed, so an error keeps the input).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RecordForm {
    csrf: Option<String>,
    #[serde(default)]
    title: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    body: String,
}

impl RecordForm {
    fn of(r: &Record) -> Self {
        Self { csrf: None, title: r.title.clone(), tags: r.tags.join(", "), body: r.body.clone() }
    }

    fn tags(&self) -> Value {
        json!(self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect::<Vec<_>>())
    }

    fn input(&self) -> Result<RecordInput, String> {
        RecordInput::parse(&json!({"title": self.title, "body": self.body, "tags": self.tags()}), "")
            .map_err(|e| format!("{}: {}", e.field, e.message))
    }

    fn patch(&self) -> Result<RecordPatch, String> {
        RecordPatch::parse(&json!({"title": self.title, "body": self.body, "tags": self.tags()}))
            .map_err(|e| format!("{}: {}", e.field, e.message))
    }
}

struct Row {
    id: String,
    title: String,
    tags: String,
    version: i64,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "records.html")]
struct ListPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    can_write: bool,
    open_form: bool,
    form: RecordForm,
    rows: Vec<Row>,
    next: Option<String>,
    /// Where the live script reloads this list from (the same page).
    list_url: String,
}

struct HistoryRow {
    version: i64,
    time: String,
    publisher: String,
    note: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct RecordPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    can_write: bool,
    id: String,
    title: String,
    version: i64,
    updated_at: String,
    updated_by: String,
    form: RecordForm,
    data: String,
    history: Vec<HistoryRow>,
}

fn records<'a>(state: &'a AppState, s: &'a Signed) -> Records<'a> {
    Records { tenant: s.tenant.id, db: &s.db, bus: &state.bus }
}

/// Records a page lists.
const PAGE: i64 = 100;

/// `?cursor=`: where an older page starts (a record id; anything else is the first page).
#[derive(Debug, Default, Deserialize)]
pub(super) struct PageQuery {
    cursor: Option<String>,
}

impl PageQuery {
    fn cursor(&self) -> Option<String> {
        self.cursor.as_deref().and_then(|c| model::parse_id(c, "cursor").ok())
    }
}

async fn list(
    state: &AppState,
    s: &Signed,
    q: &PageQuery,
    form: RecordForm,
    error: Option<(StatusCode, &str)>,
) -> Response {
    if !s.is(Role::Readonly) {
        return s.forbidden(state, "Your role cannot see records.").await;
    }
    let (rows, next) = match rows(state, s, q).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    let list_url = match q.cursor() {
        Some(c) => format!("/app/records/list?cursor={c}"),
        None => "/app/records/list".into(),
    };
    let (c, nav) = s.shell(state, "Records", "records").await;
    let view = ListPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: error.map(|e| e.1),
        can_write: s.is(Role::Member),
        open_form: error.is_some(),
        form,
        rows,
        next,
        list_url,
    };
    s.render(state, error.map(|e| e.0).unwrap_or(StatusCode::OK), &c, &view)
}

#[derive(Template)]
#[template(path = "records_list.html")]
struct ListFragment {
    rows: Vec<Row>,
    next: Option<String>,
}

/// A page of rows, and the cursor of the next (older) page.
async fn rows(state: &AppState, s: &Signed, q: &PageQuery) -> Result<(Vec<Row>, Option<String>), RecordsError> {
    let page = records(state, s).list(PAGE, q.cursor().as_deref(), None).await?;
    let rows = page
        .items
        .into_iter()
        .map(|r| Row {
            id: r.id,
            title: r.title,
            tags: r.tags.join(", "),
            version: r.version,
            updated_at: rfc3339(r.updated_at),
        })
        .collect();
    Ok((rows, page.next_cursor))
}

/// The list alone, which the page's script swaps in when an event arrives.
pub(super) async fn fragment(State(state): State<AppState>, s: Signed, Query(q): Query<PageQuery>) -> Response {
    if !s.is(Role::Readonly) {
        return s.forbidden(&state, "Your role cannot see records.").await;
    }
    match rows(&state, &s, &q).await {
        Ok((rows, next)) => s.render(&state, StatusCode::OK, &Chrome::plain("Records"), &ListFragment { rows, next }),
        Err(e) => internal(e),
    }
}

pub(super) async fn page(State(state): State<AppState>, s: Signed, Query(q): Query<PageQuery>) -> Response {
    list(&state, &s, &q, RecordForm::default(), None).await
}

pub(super) async fn create(State(state): State<AppState>, s: Signed, Form(form): Form<RecordForm>) -> Response {
    if !s.csrf_ok(form.csrf.as_deref()) {
        return list(
            &state,
            &s,
            &PageQuery::default(),
            form,
            Some((StatusCode::FORBIDDEN, "The form expired; try again.")),
        )
        .await;
    }
    if !s.is(Role::Member) {
        return list(
            &state,
            &s,
            &PageQuery::default(),
            form,
            Some((StatusCode::FORBIDDEN, "Your role cannot create records.")),
        )
        .await;
    }
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => return list(&state, &s, &PageQuery::default(), form, Some((StatusCode::BAD_REQUEST, &e))).await,
    };
    match records(&state, &s).create(vec![input], &s.actor(), &s.meta).await {
        Ok(created) => s.finish(&state, html::see_other(&format!("/app/records/{}", created[0].id))),
        Err(e) => internal(e),
    }
}

async fn one(
    state: &AppState,
    s: &Signed,
    id: &str,
    form: Option<RecordForm>,
    msg: Option<(StatusCode, &str)>,
) -> Response {
    if !s.is(Role::Readonly) {
        return s.forbidden(state, "Your role cannot see records.").await;
    }
    let not_found = || html::see_other("/app/records");
    let Ok(id) = model::parse_id(id, "id") else { return not_found() };
    let r = match records(state, s).get(&id).await {
        Ok(r) => r,
        Err(RecordsError::NotFound) => return not_found(),
        Err(e) => return internal(e),
    };
    let history = match records(state, s).history(&id).await {
        Ok(h) => h,
        Err(e) => return internal(e),
    };
    let (c, nav) = s.shell(state, &r.title, "records").await;
    let (notice, error) = match msg {
        Some((StatusCode::OK, m)) => (Some(m), None),
        Some((_, m)) => (None, Some(m)),
        None => (None, None),
    };
    let view = RecordPage {
        c: &c,
        nav: &nav,
        notice,
        error,
        can_write: s.is(Role::Member),
        id: r.id.clone(),
        title: r.title.clone(),
        version: r.version,
        updated_at: rfc3339(r.updated_at),
        updated_by: r.updated_by.clone(),
        form: form.unwrap_or_else(|| RecordForm::of(&r)),
        data: if r.data.is_empty() { String::new() } else { serde_json::to_string_pretty(&r.data).unwrap_or_default() },
        history: history
            .into_iter()
            .map(|h| HistoryRow {
                version: h.version,
                time: rfc3339(h.time),
                publisher: h.publisher_email.unwrap_or(h.publisher_id),
                note: h.note,
            })
            .collect(),
    };
    s.render(state, msg.map(|m| m.0).unwrap_or(StatusCode::OK), &c, &view)
}

pub(super) async fn show(State(state): State<AppState>, s: Signed, Path(id): Path<String>) -> Response {
    one(&state, &s, &id, None, None).await
}

/// Checks the form's CSRF token and the member role; the refusal page when either fails.
async fn may_change(state: &AppState, s: &Signed, id: &str, csrf: Option<&str>) -> Option<Response> {
    if !s.csrf_ok(csrf) {
        return Some(one(state, s, id, None, Some((StatusCode::FORBIDDEN, "The form expired; try again."))).await);
    }
    if !s.is(Role::Member) {
        return Some(one(state, s, id, None, Some((StatusCode::FORBIDDEN, "Your role cannot change records."))).await);
    }
    None
}

pub(super) async fn save(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<RecordForm>,
) -> Response {
    if let Some(refused) = may_change(&state, &s, &id, form.csrf.as_deref()).await {
        return refused;
    }
    let Ok(rid) = model::parse_id(&id, "id") else { return html::see_other("/app/records") };
    let patch = match form.patch() {
        Ok(p) => p,
        Err(e) => return one(&state, &s, &id, Some(form), Some((StatusCode::BAD_REQUEST, &e))).await,
    };
    match records(&state, &s).update(&rid, patch, &s.actor(), &s.meta).await {
        Ok(_) => s.finish(&state, html::see_other(&format!("/app/records/{rid}"))),
        Err(RecordsError::NotFound) => html::see_other("/app/records"),
        Err(e) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PublishForm {
    csrf: Option<String>,
    #[serde(default)]
    note: String,
}

pub(super) async fn publish(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<PublishForm>,
) -> Response {
    if let Some(refused) = may_change(&state, &s, &id, form.csrf.as_deref()).await {
        return refused;
    }
    let Ok(rid) = model::parse_id(&id, "id") else { return html::see_other("/app/records") };
    let note = match model::parse_note(Some(&json!(form.note))) {
        Ok(n) => n,
        Err(e) => return one(&state, &s, &id, None, Some((StatusCode::BAD_REQUEST, &e.message))).await,
    };
    match records(&state, &s).publish(&rid, note, &s.actor(), &s.meta).await {
        Ok(p) => {
            let msg = format!("Published version {}. Subscribers are being notified.", p.version);
            s.finish(&state, one(&state, &s, &rid, None, Some((StatusCode::OK, &msg))).await)
        }
        Err(RecordsError::NotFound) => html::see_other("/app/records"),
        Err(e) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    csrf: Option<String>,
}

pub(super) async fn delete(
    State(state): State<AppState>,
    s: Signed,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = may_change(&state, &s, &id, form.csrf.as_deref()).await {
        return refused;
    }
    let Ok(rid) = model::parse_id(&id, "id") else { return html::see_other("/app/records") };
    match records(&state, &s).delete(&[rid], &s.actor(), &s.meta).await {
        Ok(_) => s.finish(&state, html::see_other("/app/records")),
        Err(e) => internal(e),
    }
}

/// The records page's live feed: the tenant's events, for a signed-in reader.
pub(super) async fn stream(State(state): State<AppState>, s: Signed, headers: HeaderMap) -> Response {
    if !s.is(Role::Readonly) {
        return s.forbidden(&state, "Your role cannot see records.").await;
    }
    match crate::api::events::live(&state, s.db.clone(), s.tenant.id, &s.principal, &headers).await {
        Ok(sse) => sse.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The link in publish notices: the record, once signed in to its organization.
pub(super) async fn link(Path((slug, id)): Path<(String, String)>, s: Result<Signed, Response>) -> Response {
    match s {
        Ok(s) if s.tenant.slug.as_str() == slug => html::see_other(&format!("/app/records/{id}")),
        _ => html::see_other(&format!("/t/{slug}/")),
    }
}
