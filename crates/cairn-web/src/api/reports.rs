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
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::extract::{ApiJson, ApiQuery, Caller, TenantCtx};
use crate::reports::{Refused, checked, link, required, schedule_checked};
use cairn_reports::schedules::{Schedule, ScheduleError, ScheduleId, Schedules};
use cairn_reports::settings::ReportSettings;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_report, list_reports))
        .routes(routes!(get_report, delete_report))
        .routes(routes!(create_schedule, list_schedules))
        .routes(routes!(get_schedule, delete_schedule))
        .routes(routes!(get_report_settings, put_report_settings))
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Database(db) => ApiError::database(&db),
            JobError::Audit(a) => a.into(),
            JobError::Metrics(m) => m.into(),
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
    /// The schedule whose fire queued it, if one did.
    #[schema(value_type = Option<UuidText>)]
    pub schedule: Option<String>,
}

async fn body(state: &AppState, tenant: &str, j: Job, settings: &ReportSettings) -> ReportBody {
    let link = link(state, tenant, &j, settings).await;
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
        schedule: j.schedule_id,
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
    let settings = ReportSettings::read(&ctx.db).await?;
    Ok((StatusCode::ACCEPTED, Json(body(&state, &ctx.tenant().id.to_string(), job, &settings).await)))
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
    let settings = ReportSettings::read(&ctx.db).await?;
    let mut items = Vec::new();
    for j in page.items.into_iter().filter(|j| may_see(&ctx, j.kind)) {
        items.push(body(&state, &tenant, j, &settings).await);
    }
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
    let settings = ReportSettings::read(&ctx.db).await?;
    Ok(Json(body(&state, &ctx.tenant().id.to_string(), job, &settings).await))
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

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        match e {
            ScheduleError::TooMany => ApiError::new(ErrorCode::Conflict, e.to_string()),
            ScheduleError::Job(j) => j.into(),
        }
    }
}

/// `{"kind": "team", "team": "…", "cron": "0 7 * * MON", "period": "last_week",
/// "recipients": ["cto@client.com"]}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// `team` or `audit`.
    pub kind: String,
    /// The team's id, for a team report.
    #[schema(value_type = Option<UuidText>)]
    pub team: Option<String>,
    /// Five fields (minute, hour, day of month, month, day of week) or a nickname such as
    /// `@weekly`, read in the tenant's metrics time zone; at most one fire an hour.
    pub cron: String,
    /// `last_week`, `last_month`, `last_quarter`, `last_7_days` or `last_30_days`: the days
    /// before the fire's day that each report covers.
    pub period: String,
    /// 1–50 addresses, each mailed each fire's report once.
    pub recipients: Vec<String>,
}

/// A report schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleBody {
    pub id: String,
    pub kind: String,
    pub team: Option<String>,
    pub cron: String,
    pub period: String,
    /// Those still subscribed, in the order they were added.
    pub recipients: Vec<String>,
    /// The zone `cron` is read in (the tenant's metrics time zone).
    pub time_zone: String,
    pub next_fire_at: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

fn schedule_body(s: Schedule, zone: &cairn_metrics::TimeZoneName) -> ScheduleBody {
    let next = s.next_fire(zone.zone().time_zone(), cairn_domain::now_ms());
    ScheduleBody {
        id: s.id,
        kind: s.kind.as_str().to_owned(),
        team: s.team_id,
        cron: s.cron,
        period: s.period.as_str().to_owned(),
        recipients: s.recipients,
        time_zone: zone.as_str().to_owned(),
        next_fire_at: next.map(rfc3339),
        created_by: s.created_email.unwrap_or(s.created_by),
        created_at: rfc3339(s.created_at),
    }
}

async fn time_zone(ctx: &TenantCtx) -> ApiResult<cairn_metrics::TimeZoneName> {
    Ok(cairn_metrics::Metrics { db: &ctx.db }.settings().await?.time_zone)
}

/// Adds a schedule: each fire queues a report of the period before it and mails it to the
/// recipients.
#[utoipa::path(post, path = "/api/v1/reports/schedules", tag = "reports", request_body = CreateSchedule,
    responses(
        (status = 201, description = "Created", body = ScheduleBody),
        (status = 400, description = "A bad kind, team, cron, period or recipient, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
        (status = 409, description = "The tenant has 100 schedules already", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateSchedule>,
) -> ApiResult<(StatusCode, Json<ScheduleBody>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "report_schedule.create").await?;
    let kind = Kind::parse(&req.kind)?;
    let input = schedule_checked(&ctx.db, kind, req.team.as_deref(), &req.cron, &req.period, &req.recipients).await??;
    let schedule = Schedules { db: &ctx.db }.create(&input, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(schedule_body(schedule, &time_zone(&ctx).await?))))
}

/// The tenant's report schedules, oldest first.
#[utoipa::path(get, path = "/api/v1/reports/schedules", tag = "reports",
    responses(
        (status = 200, description = "Every schedule", body = Vec<ScheduleBody>),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_schedules(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ScheduleBody>>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "report_schedule.list").await?;
    let zone = time_zone(&ctx).await?;
    let all = Schedules { db: &ctx.db }.list().await?;
    Ok(Json(all.into_iter().map(|s| schedule_body(s, &zone)).collect()))
}

fn schedule_id(id: &str) -> ApiResult<ScheduleId> {
    ScheduleId::parse(id, "id").map_err(|_| ApiError::not_found("schedule not found"))
}

/// One schedule.
#[utoipa::path(get, path = "/api/v1/reports/schedules/{id}", tag = "reports",
    params(("id" = UuidText, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleBody>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "report_schedule.get").await?;
    let id = schedule_id(&id)?;
    let schedule =
        Schedules { db: &ctx.db }.get(&id).await?.ok_or_else(|| ApiError::not_found("schedule not found"))?;
    Ok(Json(schedule_body(schedule, &time_zone(&ctx).await?)))
}

/// Deletes a schedule; the reports it queued stay until they expire.
#[utoipa::path(delete, path = "/api/v1/reports/schedules/{id}", tag = "reports",
    params(("id" = UuidText, Path, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "report_schedule.delete").await?;
    let id = schedule_id(&id)?;
    if !(Schedules { db: &ctx.db }).delete(&id, &ctx.actor(), &ctx.meta).await? {
        return Err(ApiError::not_found("schedule not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `{"keep_days": 30, "link_days": 7}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// How long a report and its file are kept after it is rendered: 1–365 days (30 by
    /// default). A change applies to reports rendered after it.
    pub keep_days: i64,
    /// How long a download link lasts: 1–7 days (7 by default), never past the report's
    /// expiry.
    pub link_days: i64,
}

impl From<ReportSettings> for SettingsBody {
    fn from(s: ReportSettings) -> Self {
        SettingsBody { keep_days: s.keep_days, link_days: s.link_days }
    }
}

/// The tenant's report settings.
#[utoipa::path(get, path = "/api/v1/reports/settings", tag = "reports",
    responses(
        (status = 200, description = "The settings", body = SettingsBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_report_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SettingsBody>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "report_settings.read").await?;
    Ok(Json(ReportSettings::read(&ctx.db).await?.into()))
}

/// Sets how long reports are kept and their links last.
#[utoipa::path(put, path = "/api/v1/reports/settings", tag = "reports", request_body = SettingsBody,
    responses(
        (status = 200, description = "The settings", body = SettingsBody),
        (status = 400, description = "A number of days out of range, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_report_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SettingsBody>,
) -> ApiResult<Json<SettingsBody>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "report_settings.update").await?;
    let settings = ReportSettings::parse(req.keep_days, req.link_days)?;
    settings.save(&ctx.db, &ctx.actor(), &ctx.meta).await?;
    Ok(Json(settings.into()))
}
