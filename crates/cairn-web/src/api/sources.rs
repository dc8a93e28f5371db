//! Metrics sources and their collector runs, admins only. A source's credentials are tried
//! before it is stored (a refused token is a `400` naming `token`, an upstream that does
//! not answer a `502`), its token is sealed and never returned (`has_token`), and a run
//! can be asked for at any time besides the schedule's.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, rfc3339};
use cairn_metrics::runs::TableCounts;
use cairn_metrics::{Day, Metrics, Run, RunId, Source, SourceId, SourceInput, SourcePatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DisplayName, Page, PageParams, UuidPageParams, UuidText};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_source, list_sources))
        .routes(routes!(get_source, update_source, delete_source))
        .routes(routes!(request_run))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
}

/// A source as the API shows it; its token never.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    pub id: String,
    /// `github`, `jira` or `git`.
    pub kind: String,
    pub name: String,
    pub base_url: Option<String>,
    pub graphql_url: Option<String>,
    pub organization: Option<String>,
    pub repositories: Vec<String>,
    pub email: Option<String>,
    pub boards: Vec<i64>,
    pub story_points_field: Option<String>,
    pub url: Option<String>,
    pub branch: Option<String>,
    /// A token is stored (sealed); it is never returned.
    pub has_token: bool,
    /// Holds demo data written by `cairn demo seed`: it has no upstream, so it is never run
    /// (a run is refused with `409`) and cannot be changed; deleting it removes the data.
    pub demo: bool,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

impl From<Source> for SourceView {
    fn from(s: Source) -> Self {
        Self {
            id: s.id,
            kind: s.kind.as_str().to_owned(),
            name: s.name,
            base_url: s.base_url,
            graphql_url: s.graphql_url,
            organization: s.organization,
            repositories: s.repositories,
            email: s.email,
            boards: s.boards,
            story_points_field: s.story_points_field,
            url: s.url,
            branch: s.branch,
            has_token: s.has_token,
            demo: s.demo,
            created_at: rfc3339(s.created_at),
            created_by: s.created_by,
            updated_at: rfc3339(s.updated_at),
        }
    }
}

/// A source to collect from. GitHub: `base_url` (default `https://api.github.com`; GitHub
/// Enterprise Server: `https://HOST/api/v3`), optional `graphql_url` (default
/// `<base_url>/graphql`; Enterprise Server: `https://HOST/api/graphql`), `token`, and
/// `repositories` or `organization`. Jira: `base_url` (the site), `email`, `token`, optional
/// `boards` and `story_points_field`. Git: `url` (a path on the server or an https URL) and
/// optional `branch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    #[schema(pattern = "^(github|jira|git)$")]
    pub kind: String,
    #[schema(value_type = DisplayName)]
    pub name: String,
    #[schema(format = "uri", max_length = 2048)]
    pub base_url: Option<String>,
    #[schema(format = "uri", max_length = 2048)]
    pub graphql_url: Option<String>,
    /// Sealed with the master key; never returned or logged.
    #[schema(max_length = 2000, write_only)]
    pub token: Option<String>,
    /// `owner/name` each.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub repositories: Vec<String>,
    /// Every repository of this organization, those added later too.
    pub organization: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(max_items = 200)]
    pub boards: Vec<i64>,
    #[schema(max_length = 100)]
    pub story_points_field: Option<String>,
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[schema(max_length = 250)]
    pub branch: Option<String>,
}

/// Fields to change; those left out stay. A new token (or a new place to read) is tried
/// before anything changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    #[schema(value_type = Option<DisplayName>)]
    pub name: Option<String>,
    /// GitHub: `null` goes back to `https://api.github.com`.
    #[schema(format = "uri", max_length = 2048)]
    #[serde(default, deserialize_with = "super::present")]
    pub base_url: Option<Option<String>>,
    /// `null` goes back to GraphQL beside the REST root.
    #[schema(format = "uri", max_length = 2048)]
    #[serde(default, deserialize_with = "super::present")]
    pub graphql_url: Option<Option<String>>,
    #[schema(max_length = 2000, write_only)]
    pub token: Option<String>,
    #[schema(max_items = 1000)]
    pub repositories: Option<Vec<String>>,
    /// `null` stops reading the organization (the repositories listed stay).
    #[serde(default, deserialize_with = "super::present")]
    pub organization: Option<Option<String>>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    #[schema(max_items = 200)]
    pub boards: Option<Vec<i64>>,
    /// `null` goes back to finding the field by its name.
    #[schema(max_length = 100)]
    #[serde(default, deserialize_with = "super::present")]
    pub story_points_field: Option<Option<String>>,
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// `null` goes back to the repository's default branch.
    #[schema(max_length = 250)]
    #[serde(default, deserialize_with = "super::present")]
    pub branch: Option<Option<String>>,
}

fn source_id(id: &str) -> Result<SourceId, ApiError> {
    SourceId::parse(id, "id").map_err(|_| ApiError::not_found("source not found"))
}

/// A source that exists and is not being deleted.
async fn live(metrics: &Metrics<'_>, id: &SourceId) -> ApiResult<Source> {
    let source = metrics.source(id).await?;
    if source.deleting {
        return Err(ApiError::not_found("source not found"));
    }
    Ok(source)
}

/// Add a source; its credentials are tried first, and nothing is stored if they fail.
#[utoipa::path(post, path = "/api/v1/metrics/sources", tag = "metrics",
    request_body = CreateSource,
    responses(
        (status = 201, description = "Stored", body = SourceView),
        (status = 400, description = "Invalid body or refused credentials, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 409, description = "Another source has this name, or a demo source (it cannot be changed)", body = ErrorBody),
        (status = 502, description = "The upstream did not answer", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_source(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSource>,
) -> ApiResult<(StatusCode, Json<SourceView>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_source.create").await?;
    let input = SourceInput {
        kind: body.kind,
        name: body.name,
        base_url: body.base_url,
        graphql_url: body.graphql_url,
        token: body.token,
        repositories: body.repositories,
        organization: body.organization,
        email: body.email,
        boards: body.boards,
        story_points_field: body.story_points_field,
        url: body.url,
        branch: body.branch,
    };
    let source = Metrics { db: &ctx.db }
        .create_source(state.store.master_key(), &state.identity.outbound, input, &ctx.actor(), &ctx.meta)
        .await?;
    Ok((StatusCode::CREATED, Json(source.into())))
}

/// The tenant's sources, in creation order.
#[utoipa::path(get, path = "/api/v1/metrics/sources", tag = "metrics",
    params(UuidPageParams),
    responses(
        (status = 200, description = "A page of sources", body = Page<SourceView>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_sources(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<SourceView>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_source.list").await?;
    let limit = q.limit()?;
    let after = q.cursor.as_deref().map(|c| SourceId::parse(c, "cursor")).transpose()?.map(|c| c.to_string());
    let sources: Vec<Source> = Metrics { db: &ctx.db }
        .sources()
        .await?
        .into_iter()
        .filter(|s| !s.deleting && after.as_ref().is_none_or(|a| s.id > *a))
        .take(limit as usize + 1)
        .collect();
    Ok(Json(Page::cut(sources, limit, |s| s.id.clone()).map(Into::into)))
}

/// One source.
#[utoipa::path(get, path = "/api/v1/metrics/sources/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Source id")),
    responses(
        (status = 200, description = "The source", body = SourceView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such source", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SourceView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_source.read").await?;
    Ok(Json(live(&Metrics { db: &ctx.db }, &source_id(&id)?).await?.into()))
}

/// Change a source; a new token, or a new place to read, is tried first.
#[utoipa::path(patch, path = "/api/v1/metrics/sources/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Source id")),
    request_body = UpdateSource,
    responses(
        (status = 200, description = "The source, changed", body = SourceView),
        (status = 400, description = "Invalid body or refused credentials, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such source", body = ErrorBody),
        (status = 409, description = "Another source has this name", body = ErrorBody),
        (status = 502, description = "The upstream did not answer", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_source(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateSource>,
) -> ApiResult<Json<SourceView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_source.update").await?;
    let id = source_id(&id)?;
    let patch = SourcePatch {
        name: body.name,
        base_url: body.base_url,
        graphql_url: body.graphql_url,
        token: body.token,
        repositories: body.repositories,
        organization: body.organization,
        email: body.email,
        boards: body.boards,
        story_points_field: body.story_points_field,
        url: body.url,
        branch: body.branch,
    };
    let source = Metrics { db: &ctx.db }
        .update_source(state.store.master_key(), &state.identity.outbound, &id, patch, &ctx.actor(), &ctx.meta)
        .await?;
    Ok(Json(source.into()))
}

/// Delete a source; its collected rows are removed in the background.
#[utoipa::path(delete, path = "/api/v1/metrics/sources/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Source id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such source", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_source(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_source.delete").await?;
    Metrics { db: &ctx.db }.delete_source(&source_id(&id)?, &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A run to ask for.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestRun {
    /// Read from this date (in the metrics time zone) instead of the trailing `reload_days`.
    #[schema(format = "date", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
    pub since: Option<String>,
}

/// A collector run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub source: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// `manual` or `schedule`.
    pub trigger: String,
    /// The start of the window read, when the run was asked for with one.
    pub since: Option<String>,
    pub requested_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Per table: rows new, changed and removed.
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, RunCounts>,
    pub requests: i64,
    pub rate_limit_waits: i64,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunCounts {
    pub new: u64,
    pub changed: u64,
    pub removed: u64,
}

impl From<Run> for RunView {
    fn from(r: Run) -> Self {
        let counts = r
            .counts
            .into_iter()
            .map(|(t, c): (String, TableCounts)| (t, RunCounts { new: c.new, changed: c.changed, removed: c.removed }))
            .collect();
        Self {
            trigger: r.trigger_key.split(':').next().unwrap_or("manual").to_owned(),
            id: r.id,
            source: r.source_id,
            status: r.status.as_str().to_owned(),
            since: r.since.map(rfc3339),
            requested_by: r.requested_by,
            created_at: rfc3339(r.created_at),
            started_at: r.started_at.map(rfc3339),
            finished_at: r.finished_at.map(rfc3339),
            counts,
            requests: r.requests,
            rate_limit_waits: r.rate_limit_waits,
            error: r.error,
        }
    }
}

/// Ask for a run of the source now; it is queued for a worker.
#[utoipa::path(post, path = "/api/v1/metrics/sources/{id}/runs", tag = "metrics",
    params(("id" = UuidText, Path, description = "Source id")),
    request_body(content = RequestRun, description = "Optional: where to start reading"),
    responses(
        (status = 202, description = "Queued", body = RunView),
        (status = 400, description = "Invalid `since`", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such source", body = ErrorBody),
        (status = 409, description = "A demo source: it has no upstream to run", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn request_run(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Option<ApiJson<RequestRun>>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_run.create").await?;
    let metrics = Metrics { db: &ctx.db };
    let id = source_id(&id)?;
    live(&metrics, &id).await?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let since = body.since.as_deref().map(|d| Day::parse(d, "since")).transpose()?;
    let run = metrics.request_run(&id, since, &ctx.actor(), &ctx.meta).await?;
    // Workers on every replica hear of the tenant's new work.
    state.bus.committed(ctx.tenant().id).await;
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// `?source=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsParams {
    /// Only this source's runs.
    #[param(value_type = Option<UuidText>)]
    pub source: Option<String>,
    /// 1–500, default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// A previous page's `next_cursor`.
    #[param(value_type = Option<UuidText>)]
    pub cursor: Option<String>,
}

/// Runs, newest first.
#[utoipa::path(get, path = "/api/v1/metrics/runs", tag = "metrics",
    params(RunsParams),
    responses(
        (status = 200, description = "A page of runs", body = Page<RunView>),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RunsParams>,
) -> ApiResult<Json<Page<RunView>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_run.list").await?;
    let limit = super::page_limit(q.limit)?;
    let source = q.source.as_deref().map(|s| SourceId::parse(s, "source")).transpose()?;
    let before = q.cursor.as_deref().map(|c| RunId::parse(c, "cursor")).transpose()?;
    let page = Metrics { db: &ctx.db }.runs(source.as_ref(), limit, before.as_ref()).await?;
    Ok(Json(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// One run: its status, progress and counts.
#[utoipa::path(get, path = "/api/v1/metrics/runs/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_run(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<RunView>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_run.read").await?;
    let id = RunId::parse(&id, "id").map_err(|_| ApiError::not_found("run not found"))?;
    Ok(Json(Metrics { db: &ctx.db }.run(&id).await?.into()))
}
