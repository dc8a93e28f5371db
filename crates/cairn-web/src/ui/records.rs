//! The records pages: the list (updated live from the events stream), a record with its
//! edit, publish and delete forms and its publish history.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn_domain::{Role, ValidationError};
use cairn_records::model::{self, Record, RecordId};
use cairn_records::{RecordInput, RecordPatch, Records, RecordsError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::view::{Invalid, People, Person, When};
use super::{CsrfForm, Member, Nav, Page, PageError, Readonly, Signed};

/// The fields of the record forms, where a mistake is shown.
const FIELDS: [&str; 3] = ["title", "tags", "body"];
use crate::AppState;
use crate::html::{self, Chrome};

/// What the create and edit forms hold (as typed, so an error keeps the input).
#[derive(Debug, Default, Deserialize)]
pub(super) struct RecordForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    body: String,
}

impl RecordForm {
    fn of(r: &Record) -> Self {
        Self { title: r.title.clone(), tags: r.tags.join(", "), body: r.body.clone() }
    }

    fn tags(&self) -> Value {
        json!(self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect::<Vec<_>>())
    }

    fn input(&self) -> Result<RecordInput, ValidationError> {
        RecordInput::parse(&json!({"title": self.title, "body": self.body, "tags": self.tags()}), "")
    }

    fn patch(&self) -> Result<RecordPatch, ValidationError> {
        RecordPatch::parse(&json!({"title": self.title, "body": self.body, "tags": self.tags()}))
    }
}

struct Row {
    id: String,
    title: String,
    /// The first few tags; the rest are counted.
    tags: Vec<String>,
    more_tags: Vec<String>,
    version: i64,
    updated_at: When,
    by: Person,
}

/// Tags a list row shows before "+N more".
const TAGS_SHOWN: usize = 4;

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
    invalid: Invalid,
    rows: Vec<Row>,
    next: Option<String>,
    /// Where the live script reloads this list from (the same page).
    list_url: String,
}

struct HistoryRow {
    version: i64,
    time: When,
    publisher: Person,
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
    updated_at: When,
    updated_by: Person,
    form: RecordForm,
    /// The publish form's note as typed, kept when it is refused.
    note: String,
    invalid: Invalid,
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
    fn cursor(&self) -> Option<RecordId> {
        self.cursor.as_deref().and_then(|c| RecordId::parse(c, "cursor").ok())
    }
}

async fn list(
    state: &AppState,
    s: &Signed,
    q: &PageQuery,
    form: RecordForm,
    invalid: Invalid,
) -> Result<Response, PageError> {
    let (rows, next) = rows(state, s, q).await?;
    let list_url = match q.cursor() {
        Some(c) => format!("/app/records/list?cursor={c}"),
        None => "/app/records/list".into(),
    };
    let (c, nav) = s.shell(state, "Records", "records").await;
    let view = ListPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: invalid.banner(),
        can_write: s.can(Role::Member),
        open_form: invalid.is_some(),
        form,
        invalid: invalid.clone(),
        rows,
        next,
        list_url,
    };
    let status = if invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(s.render(state, status, &c, &view))
}

#[derive(Template)]
#[template(path = "records_list.html")]
struct ListFragment {
    rows: Vec<Row>,
    next: Option<String>,
}

/// A page of rows, and the cursor of the next (older) page.
async fn rows(state: &AppState, s: &Signed, q: &PageQuery) -> Result<(Vec<Row>, Option<String>), PageError> {
    let page = records(state, s).list(PAGE, q.cursor().as_ref(), None).await?;
    let people =
        People::of(state, &s.db, &page.items.iter().map(|r| r.updated_by.as_str()).collect::<Vec<_>>()).await?;
    let rows = page
        .items
        .into_iter()
        .map(|mut r| Row {
            by: people.get(&r.updated_by),
            more_tags: r.tags.split_off(TAGS_SHOWN.min(r.tags.len())),
            id: r.id,
            title: r.title,
            tags: r.tags,
            version: r.version,
            updated_at: When::at(r.updated_at),
        })
        .collect();
    Ok((rows, page.next_cursor))
}

/// The list alone, which the page's script swaps in when an event arrives.
pub(super) async fn fragment(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    let (rows, next) = rows(&state, &s, &q).await?;
    Ok(s.render(&state, StatusCode::OK, &Chrome::plain("Records"), &ListFragment { rows, next }))
}

pub(super) async fn page(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Query(q): Query<PageQuery>,
) -> Result<Response, PageError> {
    list(&state, &s, &q, RecordForm::default(), Invalid::none()).await
}

pub(super) async fn create(
    State(state): State<AppState>,
    s: Page<Member>,
    CsrfForm(form): CsrfForm<RecordForm>,
) -> Result<Response, PageError> {
    let input = match form.input() {
        Ok(i) => i,
        Err(e) => return list(&state, &s, &PageQuery::default(), form, Invalid::of(&e, &FIELDS)).await,
    };
    let created = records(&state, &s).create(vec![input], &s.actor(), &s.meta).await?;
    Ok(s.finish(&state, html::see_other(&format!("/app/records/{}", created[0].id))))
}

/// The 404 page for a record id that names no record of this organization.
async fn no_record(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such record", ("/app/records", "Records")).await
}

async fn one(
    state: &AppState,
    s: &Signed,
    id: &str,
    typed: Typed,
    notice: Option<&str>,
) -> Result<Response, PageError> {
    let Ok(id) = RecordId::parse(id, "id") else { return Ok(no_record(state, s).await) };
    let r = match records(state, s).get(&id).await {
        Ok(r) => r,
        Err(RecordsError::NotFound) => return Ok(no_record(state, s).await),
        Err(e) => return Err(e.into()),
    };
    let history = records(state, s).history(&id).await?;
    let ids = history.iter().map(|h| h.publisher_id.as_str()).chain([r.updated_by.as_str()]);
    let people = People::of(state, &s.db, &ids.collect::<Vec<_>>()).await?;
    let (c, nav) = s.shell(state, &r.title, "records").await;
    let status = if typed.invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let view = RecordPage {
        c: &c,
        nav: &nav,
        notice,
        error: typed.invalid.banner(),
        can_write: s.can(Role::Member),
        id: r.id.clone(),
        title: r.title.clone(),
        version: r.version,
        updated_at: When::at(r.updated_at),
        updated_by: people.get(&r.updated_by),
        form: typed.form.unwrap_or_else(|| RecordForm::of(&r)),
        note: typed.note,
        invalid: typed.invalid.clone(),
        data: if r.data.is_empty() { String::new() } else { serde_json::to_string_pretty(&r.data).unwrap_or_default() },
        history: history
            .into_iter()
            .map(|h| HistoryRow {
                version: h.version,
                time: When::at(h.time),
                publisher: match (people.get(&h.publisher_id), h.publisher_email) {
                    // A publisher no longer in the organization is known by the email kept with the entry.
                    (p, Some(email)) if p.label == h.publisher_id => Person { label: email.clone(), detail: email },
                    (p, _) => p,
                },
                note: h.note,
            })
            .collect(),
    };
    Ok(s.render(state, status, &c, &view))
}

/// What a refused form on a record's page held, shown again with its mistake.
#[derive(Default)]
struct Typed {
    form: Option<RecordForm>,
    note: String,
    invalid: Invalid,
}

/// What a record's page says after a change (post/redirect/get).
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
    version: Option<i64>,
}

pub(super) async fn show(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match (q.done.as_deref(), q.version) {
        (Some("published"), Some(v)) => Some(format!("Published version {v}. Subscribers are being notified.")),
        (Some("saved"), _) => Some("Saved.".to_owned()),
        _ => None,
    };
    one(&state, &s, &id, Typed::default(), notice.as_deref()).await
}

pub(super) async fn save(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RecordForm>,
) -> Result<Response, PageError> {
    let Ok(rid) = RecordId::parse(&id, "id") else { return Ok(no_record(&state, &s).await) };
    let patch = match form.patch() {
        Ok(p) => p,
        Err(e) => {
            let typed = Typed { invalid: Invalid::of(&e, &FIELDS), form: Some(form), note: String::new() };
            return one(&state, &s, &id, typed, None).await;
        }
    };
    match records(&state, &s).update(&rid, patch, &s.actor(), &s.meta).await {
        Ok(_) => Ok(s.finish(&state, html::see_other(&format!("/app/records/{rid}?done=saved")))),
        Err(RecordsError::NotFound) => Ok(no_record(&state, &s).await),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PublishForm {
    #[serde(default)]
    note: String,
}

pub(super) async fn publish(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<PublishForm>,
) -> Result<Response, PageError> {
    let Ok(rid) = RecordId::parse(&id, "id") else { return Ok(no_record(&state, &s).await) };
    let note = match model::parse_note(Some(&json!(form.note))) {
        Ok(n) => n,
        Err(e) => {
            let typed = Typed { invalid: Invalid::of(&e, &["note"]), form: None, note: form.note };
            return one(&state, &s, &id, typed, None).await;
        }
    };
    match records(&state, &s).publish(&rid, note, &s.actor(), &s.meta).await {
        Ok(p) => {
            let to = format!("/app/records/{rid}?done=published&version={}", p.version);
            Ok(s.finish(&state, html::see_other(&to)))
        }
        Err(RecordsError::NotFound) => Ok(no_record(&state, &s).await),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteForm {}

/// Asks before deleting: the delete button leads here, and this page's form posts.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Ok(rid) = RecordId::parse(&id, "id") else { return Ok(no_record(&state, &s).await) };
    let r = match records(&state, &s).get(&rid).await {
        Ok(r) => r,
        Err(RecordsError::NotFound) => return Ok(no_record(&state, &s).await),
        Err(e) => return Err(e.into()),
    };
    let question = format!("Delete “{}”? Its publish history goes with it.", r.title);
    Ok(super::confirm(
        &state,
        &s,
        "Delete record",
        &question,
        &format!("/app/records/{rid}/delete"),
        "Delete",
        &format!("/app/records/{rid}"),
    )
    .await)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
    CsrfForm(DeleteForm {}): CsrfForm<DeleteForm>,
) -> Result<Response, PageError> {
    let Ok(rid) = RecordId::parse(&id, "id") else { return Ok(no_record(&state, &s).await) };
    records(&state, &s).delete(&[rid], &s.actor(), &s.meta).await?;
    Ok(s.finish(&state, html::see_other("/app/records")))
}

/// The records page's live feed: the tenant's events, for a signed-in reader.
pub(super) async fn stream(State(state): State<AppState>, s: Page<Readonly>, headers: HeaderMap) -> Response {
    match crate::stream::live(&state, s.db.clone(), &s.member, &headers).await {
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
