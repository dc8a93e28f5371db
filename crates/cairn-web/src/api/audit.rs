//! The audit trail over HTTP. A tenant admin sees the tenant's trail; a platform operator
//! sees the platform's. Which one is decided by the token, never by the request.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_audit::{
    Action, Actor, AuditCursor, AuditEntryView, AuditLimit, AuditService, EntryId, ExportFormat, NewEntry, Outcome,
    RequestMeta, RetentionDays,
};
use cairn_domain::{Principal, Role, ValidationError};
use cairn_store::Db;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams, UuidPageParams};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};
use crate::query::AuditFilterParams;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit, create_audit_entry))
        .routes(routes!(export_audit))
        .routes(routes!(get_audit_settings, put_audit_settings))
        .routes(routes!(get_audit_entry))
}

/// The trail a caller may read and write: its tenant's (admins) or the platform's (operators).
struct Scope {
    db: Db,
    actor: Actor,
    meta: RequestMeta,
}

async fn scope(caller: Caller, state: &AppState, attempted: &str) -> Result<Scope, ApiError> {
    if let Principal::Operator(_) = caller.principal {
        let op = caller.operator(state, attempted).await?;
        return Ok(Scope { db: state.store.control().clone(), actor: op.actor(), meta: op.meta });
    }
    let ctx = caller.in_tenant(state, Role::Admin, attempted).await?;
    Ok(Scope { actor: ctx.actor(), db: ctx.db, meta: ctx.meta })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `jsonl` (default) or `csv`.
    #[param(value_type = Option<ExportFormatName>, inline)]
    pub format: Option<String>,
}

/// The formats of an export.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ExportFormatName {
    Jsonl,
    Csv,
}

/// Query the audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditFilterParams, UuidPageParams),
    responses(
        (status = 200, description = "A page of entries", body = Page<AuditEntryView>),
        (status = 400, description = "Invalid filter, limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin (tenant) or operator (platform)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<AuditFilterParams>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<AuditEntryView>>> {
    let scope = scope(caller, &state, "audit.read").await?;
    let filter = filter.filter()?;
    let limit = AuditLimit::parse(Some(page.limit()?))?;
    let cursor = match page.cursor.as_deref() {
        Some(id) => Some(position(&scope.db, id).await?),
        None => None,
    };
    let (items, next) = AuditService::list(&scope.db, &filter, cursor, limit).await?;
    let next_cursor = next.and(items.last().map(|e| e.id.clone()));
    Ok(Json(Page { items: items.iter().map(AuditEntryView::from).collect(), next_cursor }))
}

/// Where the entry a cursor names sits in the trail (its time and sequence number).
async fn position(db: &Db, id: &str) -> Result<AuditCursor, ApiError> {
    let not_here = || {
        ValidationError::new("cursor", "must be the id of an entry in this trail (it may have passed its retention)")
    };
    let id = EntryId::parse(id, "cursor").map_err(|_| not_here())?;
    let entry = AuditService::get(db, &id).await?.ok_or_else(not_here)?;
    Ok(AuditCursor { time: entry.time, seq: entry.seq })
}

/// One audit entry.
#[utoipa::path(get, path = "/api/v1/audit/{id}", tag = "audit",
    params(("id" = String, Path, description = "Entry id")),
    responses(
        (status = 200, description = "The entry", body = AuditEntryView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin (tenant) or operator (platform)", body = ErrorBody),
        (status = 404, description = "No such entry in this trail", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_audit_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditEntryView>> {
    let scope = scope(caller, &state, "audit.read").await?;
    let not_found = || ApiError::not_found("no such audit entry");
    let id = EntryId::parse(&id, "id").map_err(|_| not_found())?;
    let entry = AuditService::get(&scope.db, &id).await?;
    entry.map(|e| Json(AuditEntryView::from(&e))).ok_or_else(not_found)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAuditEntry {
    /// Dotted lowercase words, e.g. `invoice.approved`.
    #[schema(max_length = 100, pattern = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")]
    pub action: String,
    /// A lowercase word, e.g. `invoice`.
    #[schema(pattern = r"^[a-z][a-z0-9_]{0,63}$")]
    pub resource_type: Option<String>,
    /// Requires `resource_type`.
    #[schema(min_length = 1, max_length = 200)]
    pub resource_id: Option<String>,
    /// `success` (default), `failure` or `denied`.
    #[schema(value_type = Option<OutcomeName>, inline)]
    pub outcome: Option<String>,
    /// A JSON object, at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

/// How an audited action ended.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum OutcomeName {
    Success,
    Failure,
    Denied,
}

const DETAILS_MAX: usize = 16 * 1024;

fn parse_custom(body: CreateAuditEntry, actor: Actor, meta: RequestMeta) -> Result<NewEntry, ValidationError> {
    let action = Action::parse(&body.action)?;
    let outcome = body.outcome.as_deref().map(Outcome::parse).transpose()?.unwrap_or(Outcome::Success);
    let details = body.details.unwrap_or_else(|| serde_json::json!({}));
    if !details.is_object() {
        return Err(ValidationError::new("details", "must be a JSON object"));
    }
    if details.to_string().len() > DETAILS_MAX {
        return Err(ValidationError::new("details", "must be at most 16 KiB"));
    }
    let mut entry = NewEntry::new(actor, action, outcome, meta).details(details);
    match (body.resource_type, body.resource_id) {
        (Some(kind), id) => {
            let ok = !kind.is_empty()
                && kind.len() <= 64
                && kind.as_bytes()[0].is_ascii_lowercase()
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(ValidationError::new("resource_type", "must be a lowercase word, e.g. invoice"));
            }
            if id.as_ref().is_some_and(|i| i.is_empty() || i.len() > 200) {
                return Err(ValidationError::new("resource_id", "must be 1 to 200 characters"));
            }
            entry.resource_type = Some(kind);
            entry.resource_id = id;
        }
        (None, Some(_)) => return Err(ValidationError::new("resource_id", "needs resource_type too")),
        (None, None) => {}
    }
    Ok(entry)
}

/// Write a custom entry; the actor is the caller.
#[utoipa::path(post, path = "/api/v1/audit", tag = "audit",
    request_body = CreateAuditEntry,
    responses(
        (status = 201, description = "Recorded", body = AuditEntryView),
        (status = 400, description = "Invalid entry", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin (tenant) or operator (platform)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_audit_entry(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateAuditEntry>,
) -> ApiResult<(StatusCode, Json<AuditEntryView>)> {
    let scope = scope(caller, &state, "audit.write").await?;
    let entry = parse_custom(body, scope.actor, scope.meta)?;
    let e = AuditService::record_now(&scope.db, entry).await?;
    Ok((StatusCode::CREATED, Json(AuditEntryView::from(&e))))
}

/// Export the entries matching the filters, newest first, streamed.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit",
    params(AuditFilterParams, ExportParams),
    responses(
        (status = 200, description = "JSON lines (`format=jsonl`), or CSV with a header row (`format=csv`)", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Invalid format or filter", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin (tenant) or operator (platform)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn export_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<AuditFilterParams>,
    ApiQuery(export): ApiQuery<ExportParams>,
) -> ApiResult<Response> {
    let scope = scope(caller, &state, "audit.export").await?;
    let format = match export.format.as_deref() {
        None | Some("jsonl") => ExportFormat::Jsonl,
        Some("csv") => ExportFormat::Csv,
        Some(_) => return Err(ValidationError::new("format", "must be jsonl or csv").into()),
    };
    let filter = filter.filter()?;
    let (content_type, file) = match format {
        ExportFormat::Jsonl => ("application/x-ndjson", "audit.jsonl"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "audit.csv"),
    };
    let stream = cairn_audit::export_stream(scope.db, filter, format);
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Entries older than this are deleted (1–3650; default 30).
    #[schema(minimum = 1, maximum = 3650)]
    #[serde(deserialize_with = "super::whole")]
    pub retention_days: i64,
}

/// The trail's retention.
#[utoipa::path(get, path = "/api/v1/audit/settings", tag = "audit",
    responses(
        (status = 200, description = "Current settings", body = AuditSettings),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin (tenant) or operator (platform)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_audit_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<AuditSettings>> {
    let scope = scope(caller, &state, "audit.settings.read").await?;
    let days = AuditService::retention(&scope.db).await?;
    Ok(Json(AuditSettings { retention_days: days.get() }))
}

/// Change the trail's retention (recorded as `audit.settings_changed`).
#[utoipa::path(put, path = "/api/v1/audit/settings", tag = "audit",
    request_body = AuditSettings,
    responses(
        (status = 200, description = "Updated", body = AuditSettings),
        (status = 400, description = "Invalid retention", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin (tenant) or operator (platform)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_audit_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AuditSettings>,
) -> ApiResult<Json<AuditSettings>> {
    let scope = scope(caller, &state, "audit.settings.write").await?;
    let days = RetentionDays::parse(body.retention_days)?;
    let entry = NewEntry::new(scope.actor, Action::fixed("audit.settings_changed"), Outcome::Success, scope.meta);
    AuditService::set_retention(&scope.db, days, entry).await?;
    Ok(Json(AuditSettings { retention_days: days.get() }))
}
