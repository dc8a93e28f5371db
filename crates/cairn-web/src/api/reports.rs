//! Reports as jobs: `POST /api/v1/reports` queues one (members for team reports, admins for
//! audit reports), a worker renders it, and `GET /api/v1/reports/{id}` gives its status and,
//! once ready, an expiring download link. Audit reports are visible to admins only.
//! `/reports/{tenant}/{report}.pdf?expires=&signature=` serves the PDF to whoever holds a
//! valid link: a tampered link is `403`, an expired one `410`, and neither says whether the
//! report exists. Requests, deletions and downloads are audited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome};
use cairn_domain::{Role, TenantId, ValidationError, now_ms, rfc3339};
use cairn_metrics::figures::{Roster, Window};
use cairn_metrics::{Metrics, TeamId};
use cairn_reports::jobs::{Job, JobError, JobRequest, Jobs, Kind, ReportId, Status};
use cairn_reports::links::{LINK_DAYS, LinkCheck, check_link, download_path};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageParams, UuidText};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller, TenantCtx};

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

/// A ready report's download link and when it expires: 7 days, at most the report's expiry.
pub(crate) fn link(state: &AppState, tenant: &str, j: &Job) -> Option<(String, i64)> {
    match (j.status, j.expires_at) {
        (Status::Ready, Some(expires)) => {
            let until = (now_ms() + LINK_DAYS * 86_400_000).min(expires);
            let path = download_path(state.store.master_key(), tenant, &j.id, until);
            Some((format!("{}{path}", state.config.public_url.trim_end_matches('/')), until))
        }
        _ => None,
    }
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

/// The role a kind of report needs: members for a team's, admins for the audit trail's.
pub(crate) fn required(kind: Kind) -> Role {
    match kind {
        Kind::Team => Role::Member,
        Kind::Audit => Role::Admin,
    }
}

/// Whether the caller may see reports of `kind`.
fn may_see(ctx: &TenantCtx, kind: Kind) -> bool {
    ctx.member.has_role(required(kind))
}

/// Why a report request is refused.
pub(crate) enum Refused {
    Invalid(ValidationError),
    /// The team named does not exist.
    NoTeam(String),
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        match r {
            Refused::Invalid(v) => ApiError::validation(v),
            Refused::NoTeam(t) => ApiError::not_found(format!("team {t:?} not found")),
        }
    }
}

/// A request checked as the API and the reports page check it: a window of local days, and
/// for a team report a team that exists.
pub(crate) async fn checked(
    db: &cairn_store::Db,
    kind: Kind,
    team: Option<&str>,
    from: &str,
    to: &str,
) -> Result<Result<JobRequest, Refused>, cairn_metrics::MetricsError> {
    let window = match Window::parse(from, to, None) {
        Ok(w) => w,
        Err(v) => return Ok(Err(Refused::Invalid(v))),
    };
    let invalid = |field: &str, message: &str| Ok(Err(Refused::Invalid(ValidationError::new(field, message))));
    let team_id = match (kind, team) {
        (Kind::Team, None) => return invalid("team", "is required for a team report"),
        (Kind::Team, Some(t)) => {
            let roster = Roster::load(&Metrics { db }).await?;
            let id = TeamId::parse(t, "team").map(|id| id.to_string()).ok();
            match id.filter(|id| roster.teams.iter().any(|x| &x.id == id)) {
                Some(id) => Some(id),
                None => return Ok(Err(Refused::NoTeam(t.to_owned()))),
            }
        }
        (Kind::Audit, Some(_)) => return invalid("team", "is only for a team report"),
        (Kind::Audit, None) => None,
    };
    Ok(Ok(JobRequest { kind, team_id, from: window.from, to: window.to }))
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

/// `?expires=&signature=` of a download link.
#[derive(Debug, Deserialize)]
pub(crate) struct LinkParams {
    expires: Option<String>,
    signature: Option<String>,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem\"><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let mut resp = (status, html).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn gone() -> Response {
    page(
        StatusCode::GONE,
        "This link has expired",
        "Download links to reports last a few days. Ask for a new link where you found this one.",
    )
}

/// `GET /reports/{tenant}/{report}.pdf`: the report's PDF, to whoever holds a valid link.
pub(crate) async fn download(
    State(state): State<AppState>,
    Path((tenant, file)): Path<(String, String)>,
    Query(q): Query<LinkParams>,
    parts: axum::http::request::Parts,
) -> Response {
    let refused = || page(StatusCode::FORBIDDEN, "This link is not valid", "Check that it was copied whole.");
    let report = file.strip_suffix(".pdf").unwrap_or(&file);
    let (Some(expires), Some(signature)) = (q.expires.and_then(|e| e.parse::<i64>().ok()), q.signature) else {
        return refused();
    };
    match check_link(state.store.master_key(), &tenant, report, expires, &signature, now_ms()) {
        LinkCheck::Tampered => return refused(),
        LinkCheck::Expired => return gone(),
        LinkCheck::Valid => {}
    }
    // The link is Cairn's: from here on, what it names existed when it was made.
    let (Ok(tenant_id), Ok(report_id)) = (tenant.parse::<TenantId>(), ReportId::parse(report, "report")) else {
        return gone();
    };
    let Ok(db) = state.store.tenant_db(tenant_id).await else { return gone() };
    let jobs = Jobs { db: &db };
    let job = match jobs.get(&report_id).await {
        Ok(Some(job)) if job.status == Status::Ready => job,
        Ok(_) => return gone(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let bytes = match job.object_key.as_deref() {
        Some(key) => match state.reports.get(key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return gone(),
            Err(e) => return ApiError::internal(e).into_response(),
        },
        None => return gone(),
    };
    let meta = crate::extract::request_meta(&parts, state.config.trust_proxy_headers);
    let actor = Actor { id: "link".into(), email: None };
    let entry = NewEntry::new(actor, Action::fixed("report.downloaded"), Outcome::Success, meta)
        .resource("report", job.id.clone())
        .details(serde_json::json!({"kind": job.kind.as_str(), "size": bytes.len()}));
    if let Err(e) = AuditService::record_now(&db, entry).await {
        return ApiError::from(e).into_response();
    }
    let name = format!("report-{}-{}-{}.pdf", job.kind.as_str(), job.from, job.to);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        bytes,
    )
        .into_response()
}
