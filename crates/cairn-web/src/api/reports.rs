//! Reports as jobs: `POST /api/v1/reports` queues one (members for team reports, admins for
//! audit reports), a worker renders it, and `GET /api/v1/reports/{id}` gives its status and,
//! once ready, an expiring download link (served by the pages: `ui/reports.rs`). Audit reports
//! are visible to admins only. Requests and deletions are audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, rfc3339};
use cairn_reports::jobs::{Job, JobError, Jobs, Kind, ReportId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams, UuidText};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller, TenantCtx};
use crate::reports::{Refused, checked, link, required};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request_report, list_reports)).routes(routes!(get_report, delete_report))
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Database(db) => ApiError::database(&db),
            JobError::Audit(a) => a.into(),
        }
    }
}

/// `{"kind": "team", "team": "…", "from": "2026-09-01", "to": "2026-12-01"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestReport {
    /// `team` or `audit`.
    pub kind: String,
    /// The team's id, for a team report.
    #[schema(value_type = Option<UuidText>)]
    pub team: Option<String>,
    /// The first local day, in the tenant's metrics time zone.
    #[schema(value_type = String, format = Date)]
    pub from: String,
    /// The day after the last one.
    #[schema(value_type = String, format = Date)]
    pub to: String,
}

/// A report and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportBody {
    pub id: String,
    /// `team` or `audit`.
    pub kind: String,
    pub team: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub from: String,
    #[schema(value_type = String, format = Date)]
    pub to: String,
    /// `queued`, `running`, `ready` or `failed`.
    pub status: String,
    pub requested_by: String,
    pub requested_at: String,
    /// Renders tried so far.
    pub attempts: i64,
    /// Why the last try failed.
    pub error: Option<String>,
    /// Bytes, once ready.
    pub size: Option<i64>,
    pub pages: Option<i64>,
    pub finished_at: Option<String>,
    /// When the report and its file are removed.
    pub expires_at: Option<String>,
    /// Once ready: a link anyone holding it may download the PDF from, until
    /// `download_expires_at`.
    pub download_url: Option<String>,
    pub download_expires_at: Option<String>,
}

fn body(state: &AppState, tenant: &str, j: Job) -> ReportBody {
    let link = link(state, tenant, &j);
    ReportBody {
        id: j.id,
        kind: j.kind.as_str().to_owned(),
        team: j.team_id,
        from: j.from.to_string(),
        to: j.to.to_string(),
        status: j.status.as_str().to_owned(),
        requested_by: j.requested_email.unwrap_or(j.requested_by),
        requested_at: rfc3339(j.requested_at),
        attempts: j.attempts,
        error: j.error,
        size: j.size,
        pages: j.pages,
        finished_at: j.finished_at.map(rfc3339),
        expires_at: j.expires_at.map(rfc3339),
        download_url: link.as_ref().map(|(url, _)| url.clone()),
        download_expires_at: link.map(|(_, until)| rfc3339(until)),
    }
}

/// Whether the caller may see reports of `kind`.
fn may_see(ctx: &TenantCtx, kind: Kind) -> bool {
    ctx.member.has_role(required(kind))
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Invalid(v) => ApiError::validation(v),
            Refused::NoTeam(t) => ApiError::not_found(format!("team {t:?} not found")),
        }
    }
}

/// Requests a report: queued, then rendered by a worker.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports", request_body = RequestReport,
    responses(
        (status = 202, description = "Queued", body = ReportBody),
        (status = 400, description = "A bad kind, team or window, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member (team) or admin (audit)", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn request_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RequestReport>,
) -> ApiResult<(StatusCode, Json<ReportBody>)> {
    let kind = Kind::parse(&req.kind)?;
    let ctx = caller.in_tenant(&state, required(kind), "report.request").await?;
    let request = checked(&ctx.db, kind, req.team.as_deref(), &req.from, &req.to).await??;
    let job = Jobs { db: &ctx.db }.request(&request, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::ACCEPTED, Json(body(&state, &ctx.tenant().id.to_string(), job))))
}

/// The reports the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(super::UuidPageParams),
    responses(
        (status = 200, description = "One page", body = Page<ReportBody>),
        (status = 400, description = "A bad limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_reports(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<ReportBody>>> {
    let ctx = caller.in_tenant(&state, Role::Member, "report.list").await?;
    let limit = page.limit()?;
    let after = page.cursor.as_deref().map(|c| ReportId::parse(c, "cursor")).transpose()?;
    let jobs = Jobs { db: &ctx.db }.list(limit, after.as_ref()).await?;
    // The cursor is the last row read, seen or not, so hidden rows do not stop the paging.
    let page = Page::cut(jobs, limit, |j| j.id.clone());
    let tenant = ctx.tenant().id.to_string();
    let items = page.items.into_iter().filter(|j| may_see(&ctx, j.kind)).map(|j| body(&state, &tenant, j)).collect();
    Ok(Json(Page { items, next_cursor: page.next_cursor }))
}

async fn visible(ctx: &TenantCtx, id: &str) -> ApiResult<Job> {
    let missing = || ApiError::not_found("report not found");
    let id = ReportId::parse(id, "id").map_err(|_| missing())?;
    let job = Jobs { db: &ctx.db }.get(&id).await?.ok_or_else(missing)?;
    if !may_see(ctx, job.kind) {
        return Err(missing());
    }
    Ok(job)
}

/// One report: its status, and a download link once ready.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports",
    params(("id" = UuidText, Path, description = "Report id")),
    responses(
        (status = 200, description = "The report", body = ReportBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
        (status = 404, description = "No such report (or an audit report, to a non-admin)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportBody>> {
    let ctx = caller.in_tenant(&state, Role::Member, "report.get").await?;
    let job = visible(&ctx, &id).await?;
    Ok(Json(body(&state, &ctx.tenant().id.to_string(), job)))
}

/// Deletes a report and its file.
#[utoipa::path(delete, path = "/api/v1/reports/{id}", tag = "reports",
    params(("id" = UuidText, Path, description = "Report id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires member", body = ErrorBody),
        (status = 404, description = "No such report (or an audit report, to a non-admin)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_report(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Member, "report.delete").await?;
    let job = visible(&ctx, &id).await?;
    let id = ReportId::parse(&job.id, "id")?;
    let jobs = Jobs { db: &ctx.db };
    if let Some(Some(key)) = jobs.delete(&id, &ctx.actor(), &ctx.meta).await? {
        state.reports.delete(&key).await.map_err(ApiError::internal)?;
    }
    Ok(StatusCode::NO_CONTENT)
}
