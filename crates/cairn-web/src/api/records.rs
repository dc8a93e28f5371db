//! Records over HTTP: `readonly` reads, `member` creates, edits, deletes and publishes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, ValidationError, rfc3339};
use cairn_records::model::{self, PublishEntry as Entry, Record as Item, RecordId};
use cairn_records::{RecordInput, RecordPatch, Records};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams, UuidPageParams, UuidText};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller, TenantCtx};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_record, list_records))
        .routes(routes!(bulk_create))
        .routes(routes!(bulk_delete))
        .routes(routes!(get_record, update_record, delete_record))
        .routes(routes!(publish_record))
        .routes(routes!(publish_history))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Record {
    pub id: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    /// Any JSON object.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, Value>,
    /// The latest published version; 0 until first published.
    pub version: i64,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl From<Item> for Record {
    fn from(r: Item) -> Self {
        Self {
            id: r.id,
            title: r.title,
            body: r.body,
            tags: r.tags,
            data: r.data,
            version: r.version,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by,
            updated_at: rfc3339(r.updated_at),
            updated_by: r.updated_by,
        }
    }
}

/// A new record. Only `title` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewRecord {
    #[schema(value_type = Title)]
    pub title: String,
    /// Up to 64 KiB of text.
    #[serde(default)]
    #[schema(max_length = 65536)]
    pub body: String,
    /// Up to 20 tags; repeats are dropped.
    #[serde(default)]
    #[schema(max_items = 20, value_type = Vec<Tag>)]
    pub tags: Vec<String>,
    /// A JSON object up to 64 KiB.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, Value>,
}

/// A change to a record: the fields of [`NewRecord`], none required; those given replace
/// the record's, the others stay.
pub struct RecordChange;

impl utoipa::PartialSchema for RecordChange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        let mut schema = <NewRecord as utoipa::PartialSchema>::schema();
        if let utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(object)) = &mut schema {
            object.required.clear();
            object.description = Some("The fields given replace the record's; the others stay.".into());
        }
        schema
    }
}

impl ToSchema for RecordChange {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::Schema>)>) {
        <NewRecord as ToSchema>::schemas(schemas);
    }
}

/// A record's title as the OpenAPI document states it.
pub struct Title;

impl utoipa::PartialSchema for Title {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        super::string_schema(
            "1–200 characters, not blank, no control characters; stored trimmed.",
            Some((1, model::MAX_TITLE)),
            Some(super::ONE_LINE),
            None,
        )
    }
}

impl ToSchema for Title {}

/// A tag as the OpenAPI document states it.
pub struct Tag;

impl utoipa::PartialSchema for Tag {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        super::string_schema(
            "1–40 characters, not blank, no control characters; stored trimmed.",
            Some((1, model::MAX_TAG)),
            Some(super::ONE_LINE),
            None,
        )
    }
}

impl ToSchema for Tag {}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordList {
    pub items: Vec<Record>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct BulkCreate {
    /// 1–100 records.
    #[schema(min_items = 1, max_items = 100)]
    pub records: Vec<NewRecord>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkDelete {
    /// 1–100 record ids; ids that do not exist are skipped.
    #[schema(min_items = 1, max_items = 100, value_type = Vec<UuidText>)]
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// The records that existed and are gone.
    pub deleted: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Publish {
    /// Up to 1000 characters, shown in the history and the notification; stored trimmed.
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishEntry {
    pub record_id: String,
    pub version: i64,
    pub publisher: Publisher,
    pub time: String,
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Publisher {
    pub id: String,
    pub email: Option<String>,
}

impl From<Entry> for PublishEntry {
    fn from(e: Entry) -> Self {
        Self {
            record_id: e.record_id,
            version: e.version,
            publisher: Publisher { id: e.publisher_id, email: e.publisher_email },
            time: rfc3339(e.time),
            note: e.note,
        }
    }
}

/// The paging parameters of a publish history, as the OpenAPI document states them (the
/// cursor is a version number); [`PageParams`] parses them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct VersionPageParams {
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// A previous page's `next_cursor`: the last entry's version.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    cursor: Option<String>,
}

/// A publish history's cursor: a version number as this API writes it (digits, no leading
/// zero).
fn version_cursor(c: &str) -> Result<i64, ValidationError> {
    Some(c)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()) && !c.starts_with('0'))
        .and_then(|c| c.parse::<i64>().ok())
        .ok_or_else(|| ValidationError::new("cursor", "must be a version number from this history"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagParam {
    /// Only records carrying this tag.
    pub tag: Option<String>,
}

fn records<'a>(ctx: &'a TenantCtx, state: &'a AppState) -> Records<'a> {
    Records { tenant: ctx.tenant().id, db: &ctx.db, bus: &state.bus }
}

fn record_id(id: &str) -> Result<RecordId, crate::ApiError> {
    // An id that cannot exist is simply not found.
    RecordId::parse(id, "id").map_err(|_| crate::ApiError::not_found("record not found"))
}

/// Create a record.
#[utoipa::path(post, path = "/api/v1/records", tag = "records",
    request_body = NewRecord,
    responses(
        (status = 201, description = "Created; emits `records_created`", body = Record),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_record(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Record>)> {
    let ctx = caller.in_tenant(&state, Role::Member, "record.create").await?;
    let input = RecordInput::parse(&body, "")?;
    let mut created = records(&ctx, &state).create(vec![input], &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(created.remove(0).into())))
}

/// Create up to 100 records at once (all or none; one `records_created` event).
#[utoipa::path(post, path = "/api/v1/records/bulk", tag = "records",
    request_body = BulkCreate,
    responses(
        (status = 201, description = "Created, in the order given", body = RecordList),
        (status = 400, description = "Invalid body; names the first record at fault", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn bulk_create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<RecordList>)> {
    let ctx = caller.in_tenant(&state, Role::Member, "record.create").await?;
    let items = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ValidationError::new("records", "must be an array of records"))?;
    let inputs = items
        .iter()
        .enumerate()
        .map(|(i, v)| RecordInput::parse(v, &format!("records[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let created = records(&ctx, &state).create(inputs, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(RecordList { items: created.into_iter().map(Into::into).collect() })))
}

/// Delete up to 100 records at once (one `records_deleted` event naming those deleted).
#[utoipa::path(post, path = "/api/v1/records/bulk-delete", tag = "records",
    request_body = BulkDelete,
    responses(
        (status = 200, description = "The ids deleted", body = Deleted),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn bulk_delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<BulkDelete>,
) -> ApiResult<Json<Deleted>> {
    let ctx = caller.in_tenant(&state, Role::Member, "record.delete").await?;
    let ids = body
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| RecordId::parse(id, &format!("ids[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = records(&ctx, &state).delete(&ids, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(Deleted { deleted }))
}

/// List records, newest first.
#[utoipa::path(get, path = "/api/v1/records", tag = "records",
    params(UuidPageParams, TagParam),
    responses(
        (status = 200, description = "A page of records", body = Page<Record>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_records(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
    ApiQuery(t): ApiQuery<TagParam>,
) -> ApiResult<Json<Page<Record>>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "record.list").await?;
    let limit = q.limit()?;
    let cursor = q.cursor.as_deref().map(|c| RecordId::parse(c, "cursor")).transpose()?;
    let page = records(&ctx, &state).list(limit, cursor.as_ref(), t.tag.as_deref()).await?;
    Ok(Json(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// One record.
#[utoipa::path(get, path = "/api/v1/records/{id}", tag = "records",
    params(("id" = UuidText, Path, description = "Record id")),
    responses(
        (status = 200, description = "The record", body = Record),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_record(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Record>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "record.read").await?;
    Ok(Json(records(&ctx, &state).get(&record_id(&id)?).await?.into()))
}

/// Change a record's fields; emits `record_updated` with the fields that changed.
#[utoipa::path(patch, path = "/api/v1/records/{id}", tag = "records",
    params(("id" = UuidText, Path, description = "Record id")),
    request_body = RecordChange,
    responses(
        (status = 200, description = "The record, changed", body = Record),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Record>> {
    let ctx = caller.in_tenant(&state, Role::Member, "record.update").await?;
    let id = record_id(&id)?;
    let patch = RecordPatch::parse(&body)?;
    Ok(Json(records(&ctx, &state).update(&id, patch, &ctx.actor(), &ctx.meta).await?.into()))
}

/// Delete a record; emits `records_deleted`.
#[utoipa::path(delete, path = "/api/v1/records/{id}", tag = "records",
    params(("id" = UuidText, Path, description = "Record id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_record(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Member, "record.delete").await?;
    let deleted = records(&ctx, &state).delete(&[record_id(&id)?], &ctx.actor(), &ctx.meta).await?;
    if deleted.is_empty() {
        return Err(crate::ApiError::not_found("record not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Publish the record's next version; emits `record_published`, which mails subscribers.
#[utoipa::path(post, path = "/api/v1/records/{id}/publish", tag = "records",
    params(("id" = UuidText, Path, description = "Record id")),
    request_body(content = Option<Publish>, description = "Optional (no body, `null` or `{}`): a note for this version"),
    responses(
        (status = 201, description = "The new publish-history entry", body = PublishEntry),
        (status = 400, description = "Invalid note", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn publish_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<ApiJson<Value>>,
) -> ApiResult<(StatusCode, Json<PublishEntry>)> {
    let ctx = caller.in_tenant(&state, Role::Member, "record.publish").await?;
    let id = record_id(&id)?;
    // The note is optional, and so is the body (absent, or `null`).
    let body = body.map(|ApiJson(b)| b).unwrap_or_else(|| Value::Object(Default::default()));
    let obj = body.as_object().ok_or_else(|| ValidationError::new("body", "must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| *k != "note") {
        return Err(ValidationError::new(k.clone(), "unknown field; known: note").into());
    }
    let note = model::parse_note(obj.get("note"))?;
    let entry = records(&ctx, &state).publish(&id, note, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// The record's publications, latest first; the cursor is the last entry's version.
#[utoipa::path(get, path = "/api/v1/records/{id}/publish-history", tag = "records",
    params(("id" = UuidText, Path, description = "Record id"), VersionPageParams),
    responses(
        (status = 200, description = "A page of the publish history", body = Page<PublishEntry>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
        (status = 404, description = "No such record", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn publish_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<PublishEntry>>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "record.read").await?;
    let limit = q.limit()?;
    let before = q.cursor.as_deref().map(version_cursor).transpose()?;
    let items = records(&ctx, &state).history_before(&record_id(&id)?, before, limit + 1).await?;
    Ok(Json(Page::cut(items, limit, |e| e.version.to_string()).map(Into::into)))
}
