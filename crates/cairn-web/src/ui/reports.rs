//! The reports page (members): request a team report (admins also an audit report), see each
//! report's status, download a ready one through its expiring link, delete one — the same
//! checks and rows as `/api/v1/reports`. Audit reports are shown to admins only. Admins also
//! add and delete report schedules (`/api/v1/reports/schedules`).
//!
//! `/reports/{tenant}/{report}.pdf?expires=&signature=` serves the PDF to whoever holds a
//! valid link: a tampered link is `403`, an expired one `410`, and neither says whether the
//! report exists. Downloads are audited.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::response::Response;
use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome};
use cairn_charts::{Unit, format_value};
use cairn_domain::{Role, TenantId, now_ms};
use cairn_metrics::figures::{DEFAULT_WEEKS, Granularity, Roster, Window};
use cairn_metrics::{Day, Metrics};
use cairn_reports::jobs::{Job, Jobs, Kind, ReportId, Status};
use cairn_reports::links::{LinkCheck, check_link};
use serde::Deserialize;

use super::view::{Invalid, When};
use super::{Admin, CsrfForm, Member, Nav, Page, PageError, Signed};
use crate::AppState;
use crate::html::{self, Chrome};
use crate::reports::{Refused, checked, link, required, schedule_checked};
use cairn_domain::ValidationError;
use cairn_reports::schedules::{Period, ScheduleError, ScheduleId, Schedules};
use cairn_reports::settings::ReportSettings;

const FIELDS: [&str; 3] = ["team", "from", "to"];
const SCHEDULE_FIELDS: [&str; 4] = ["subject", "cron", "period", "recipients"];

struct Row {
    id: String,
    ready: bool,
    what: String,
    period: String,
    status: &'static str,
    detail: String,
    requested: When,
    download: Option<String>,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    invalid: &'a Invalid,
    draft: &'a Draft,
    teams: Vec<(String, String)>,
    admin: bool,
    busy: bool,
    rows: Vec<Row>,
    /// Which form `invalid` is about: `report` or `schedule`.
    form: &'static str,
    sdraft: &'a ScheduleDraft,
    schedules: Vec<ScheduleRow>,
    periods: Vec<(&'static str, &'static str)>,
    time_zone: String,
    /// The settings form's values.
    settings: &'a SettingsDraft,
    /// The saved settings.
    keep_days: i64,
    link_days: i64,
}

struct ScheduleRow {
    id: String,
    what: String,
    cron: String,
    period: &'static str,
    recipients: String,
    next: Option<When>,
}

/// The schedule form, kept when shown again with a mistake.
#[derive(Debug, Deserialize)]
pub(super) struct ScheduleDraft {
    /// A team's id, or `audit`.
    #[serde(default)]
    subject: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    period: String,
    /// Addresses separated by commas, spaces or lines.
    #[serde(default)]
    recipients: String,
}

impl Default for ScheduleDraft {
    fn default() -> Self {
        ScheduleDraft {
            subject: String::new(),
            cron: "0 7 * * MON".into(),
            period: Period::LastWeek.as_str().into(),
            recipients: String::new(),
        }
    }
}

/// The request form, kept when shown again with a mistake.
#[derive(Debug, Deserialize)]
pub(super) struct Draft {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    team: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl Draft {
    /// The window the dashboards show by default.
    fn default_for(today: Day) -> Draft {
        let w = Window::last_weeks(today, DEFAULT_WEEKS, Granularity::Week);
        Draft { kind: "team".into(), team: String::new(), from: w.from.to_string(), to: w.to.to_string() }
    }
}

async fn row(state: &AppState, s: &Signed, j: &Job, teams: &[(String, String)], settings: &ReportSettings) -> Row {
    let what = match (j.kind, &j.team_id) {
        (Kind::Team, team) => format!("Team report: {}", team_name(teams, team.as_ref())),
        (kind, _) => kind.title().to_owned(),
    };
    let what = if j.schedule_id.is_some() { format!("{what} (scheduled)") } else { what };
    let detail = match j.status {
        Status::Ready => format!(
            "{} pages, {}; kept until {}",
            j.pages.unwrap_or(0),
            format_value(j.size.unwrap_or(0) as f64, &Unit::Bytes),
            When::at(j.expires_at.unwrap_or(0)).utc
        ),
        Status::Failed => j.error.clone().unwrap_or_default(),
        Status::Queued if j.attempts > 0 => format!("Tried {} times; trying again", j.attempts),
        _ => String::new(),
    };
    Row {
        id: j.id.clone(),
        ready: j.status == Status::Ready,
        what,
        period: cairn_reports::period_text(j.from, j.to),
        status: j.status.as_str(),
        detail,
        requested: When::at(j.requested_at),
        download: link(state, &s.tenant.id.to_string(), j, settings).await.map(|(url, _)| url),
    }
}

fn team_name<'a>(teams: &'a [(String, String)], id: Option<&String>) -> &'a str {
    teams.iter().find(|(t, _)| Some(t) == id).map_or("a deleted team", |(_, n)| n.as_str())
}

/// What a form shown again carries: the report form's draft, or the schedule form's.
enum Shown<'a> {
    Fresh,
    Report(&'a Draft),
    Schedule(&'a ScheduleDraft),
    Settings(&'a SettingsDraft),
}

/// The settings form, kept when shown again with a mistake.
#[derive(Debug, Deserialize)]
pub(super) struct SettingsDraft {
    #[serde(default)]
    keep_days: String,
    #[serde(default)]
    link_days: String,
}

async fn render(
    state: &AppState,
    s: &Signed,
    shown: Shown<'_>,
    notice: Option<&str>,
    invalid: &Invalid,
) -> Result<Response, PageError> {
    let metrics = Metrics { db: &s.db };
    let (roster, metrics_settings) = Roster::load_with_settings(&metrics).await?;
    let teams: Vec<(String, String)> = roster.teams.iter().map(|t| (t.id.clone(), t.name.clone())).collect();
    let admin = s.can(Role::Admin);
    let jobs = Jobs { db: &s.db }.list(100, None).await?;
    let fallback = Draft::default_for(metrics_settings.time_zone.zone().day(now_ms()));
    let fresh_schedule = ScheduleDraft::default();
    let report_settings = ReportSettings::read(&s.db).await?;
    let saved = SettingsDraft {
        keep_days: report_settings.keep_days.to_string(),
        link_days: report_settings.link_days.to_string(),
    };
    let (draft, sdraft, form, settings_form) = match shown {
        Shown::Fresh => (&fallback, &fresh_schedule, "report", &saved),
        Shown::Report(d) => (d, &fresh_schedule, "report", &saved),
        Shown::Schedule(d) => (&fallback, d, "schedule", &saved),
        Shown::Settings(d) => (&fallback, &fresh_schedule, "settings", d),
    };
    let mut rows: Vec<Row> = Vec::new();
    for j in jobs.iter().take(100).filter(|j| s.can(required(j.kind))) {
        rows.push(row(state, s, j, &teams, &report_settings).await);
    }
    let busy = rows.iter().any(|r| r.status == "queued" || r.status == "running");
    let zone = metrics_settings.time_zone.zone().time_zone();
    let schedules = if admin {
        let all = Schedules { db: &s.db }.list().await?;
        all.into_iter()
            .map(|x| ScheduleRow {
                what: match x.kind {
                    Kind::Team => format!("Team report: {}", team_name(&teams, x.team_id.as_ref())),
                    kind => kind.title().to_owned(),
                },
                next: x.next_fire(zone, now_ms()).map(When::at),
                cron: x.cron,
                period: x.period.label(),
                recipients: x.recipients.join(", "),
                id: x.id,
            })
            .collect()
    } else {
        Vec::new()
    };
    let periods = Period::ALL.iter().map(|p| (p.as_str(), p.label())).collect();
    let (c, nav) = s.shell(state, "Reports", "reports").await;
    let view = ReportsPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        invalid,
        draft,
        teams,
        admin,
        busy,
        rows,
        form,
        sdraft,
        schedules,
        periods,
        time_zone: metrics_settings.time_zone.as_str().to_owned(),
        settings: settings_form,
        keep_days: report_settings.keep_days,
        link_days: report_settings.link_days,
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
    s: Page<Member>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = match q.done.as_deref() {
        Some("requested") => Some("Report requested. It is ready in a moment: refresh to see it."),
        Some("deleted") => Some("Report deleted."),
        Some("scheduled") => Some("Schedule added. Each fire renders the report and mails it to the recipients."),
        Some("unscheduled") => Some("Schedule deleted. The reports it made stay until they expire."),
        Some("settings") => Some("Settings saved. They apply to reports rendered from now on."),
        _ => None,
    };
    render(&state, &s, Shown::Fresh, notice, &Invalid::none()).await
}

/// Requests a team report.
pub(super) async fn request(
    State(state): State<AppState>,
    s: Page<Member>,
    CsrfForm(d): CsrfForm<Draft>,
) -> Result<Response, PageError> {
    queue(&state, &s, Draft { kind: "team".into(), ..d }).await
}

/// Requests an audit report (admins).
pub(super) async fn request_audit(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<Draft>,
) -> Result<Response, PageError> {
    queue(&state, &s, Draft { kind: "audit".into(), team: String::new(), ..d }).await
}

/// Requests an instances report (admins).
pub(super) async fn request_instances(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<Draft>,
) -> Result<Response, PageError> {
    queue(&state, &s, Draft { kind: "instances".into(), team: String::new(), ..d }).await
}

async fn queue(state: &AppState, s: &Signed, d: Draft) -> Result<Response, PageError> {
    let refuse = |v: cairn_domain::ValidationError| Invalid::of(&v, &FIELDS);
    let kind = Kind::parse(&d.kind).unwrap_or(Kind::Team);
    let team = (kind == Kind::Team).then_some(d.team.as_str()).filter(|t| !t.is_empty());
    let request = match checked(&s.db, kind, team, &d.from, &d.to).await? {
        Ok(r) => r,
        Err(Refused::Invalid(v)) => return render(state, s, Shown::Report(&d), None, &refuse(v)).await,
        Err(Refused::NoTeam(_)) => {
            let v = cairn_domain::ValidationError::new("team", "no longer exists");
            return render(state, s, Shown::Report(&d), None, &refuse(v)).await;
        }
    };
    Jobs { db: &s.db }.request(&request, &s.actor(), &s.meta).await?;
    Ok(s.finish(state, html::see_other("/app/reports?done=requested")))
}

/// The report `id`, when the caller may see it.
async fn visible(s: &Signed, id: &str) -> Result<Option<Job>, PageError> {
    let Ok(id) = ReportId::parse(id, "id") else { return Ok(None) };
    let job = Jobs { db: &s.db }.get(&id).await?;
    Ok(job.filter(|j| s.can(required(j.kind))))
}

/// Asks before deleting a report.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(job) = visible(&s, &id).await? else {
        return Ok(s.not_found(&state, "No such report", ("/app/reports", "Reports")).await);
    };
    let question = format!(
        "Delete the report of {}? Its file goes too, and links to it stop working.",
        cairn_reports::period_text(job.from, job.to)
    );
    let action = format!("/app/reports/{}/delete", job.id);
    Ok(super::confirm(&state, &s, "Delete report", &question, &action, "Delete", "/app/reports").await)
}

#[derive(Debug, Deserialize)]
pub(super) struct EmptyForm {}

pub(super) async fn delete(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let Some(job) = visible(&s, &id).await? else {
        return Ok(s.not_found(&state, "No such report", ("/app/reports", "Reports")).await);
    };
    let id = ReportId::parse(&job.id, "id").map_err(|v| PageError::invalid(&v))?;
    let removed = Jobs { db: &s.db }.delete(&id, &s.actor(), &s.meta).await?;
    if let Some(Some(key)) = removed {
        state.reports.delete(&key).await?;
    }
    Ok(s.finish(&state, html::see_other("/app/reports?done=deleted")))
}

/// Adds a schedule (admins).
pub(super) async fn schedule(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<ScheduleDraft>,
) -> Result<Response, PageError> {
    let (kind, team) = match Kind::parse(&d.subject) {
        Ok(kind @ (Kind::Audit | Kind::Instances)) => (kind, None),
        _ => (Kind::Team, Some(d.subject.as_str())),
    };
    let team = team.filter(|t| !t.is_empty());
    let recipients: Vec<String> = d
        .recipients
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    let input = match schedule_checked(&s.db, kind, team, &d.cron, &d.period, &recipients).await? {
        Ok(i) => i,
        Err(refused) => {
            let v = match refused {
                Refused::Invalid(v) if v.field == "team" => ValidationError::new("subject", v.message),
                Refused::Invalid(v) => v,
                Refused::NoTeam(_) => ValidationError::new("subject", "no longer exists"),
            };
            let invalid = Invalid::of(&v, &SCHEDULE_FIELDS);
            return render(&state, &s, Shown::Schedule(&d), None, &invalid).await;
        }
    };
    match (Schedules { db: &s.db }).create(&input, &s.actor(), &s.meta).await {
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/reports?done=scheduled"))),
        Err(ScheduleError::TooMany) => {
            let invalid = Invalid::at("subject", ScheduleError::TooMany.to_string(), &SCHEDULE_FIELDS);
            render(&state, &s, Shown::Schedule(&d), None, &invalid).await
        }
        Err(ScheduleError::Job(e)) => Err(e.into()),
    }
}

/// Saves how long reports are kept and their links last (admins).
pub(super) async fn save_settings(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(d): CsrfForm<SettingsDraft>,
) -> Result<Response, PageError> {
    let number = |text: &str, field: &str| {
        text.trim().parse::<i64>().map_err(|_| ValidationError::new(field, "must be a whole number of days"))
    };
    let parsed = number(&d.keep_days, "keep_days")
        .and_then(|keep| Ok((keep, number(&d.link_days, "link_days")?)))
        .and_then(|(keep, link)| ReportSettings::parse(keep, link));
    match parsed {
        Ok(settings) => {
            settings.save(&s.db, &s.actor(), &s.meta).await?;
            Ok(s.finish(&state, html::see_other("/app/reports?done=settings")))
        }
        Err(v) => {
            let invalid = Invalid::of(&v, &["keep_days", "link_days"]);
            render(&state, &s, Shown::Settings(&d), None, &invalid).await
        }
    }
}

/// Asks before deleting a schedule.
pub(super) async fn confirm_unschedule(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let found = match ScheduleId::parse(&id, "id") {
        Ok(id) => Schedules { db: &s.db }.get(&id).await?,
        Err(_) => None,
    };
    let Some(schedule) = found else {
        return Ok(s.not_found(&state, "No such schedule", ("/app/reports", "Reports")).await);
    };
    let question = format!(
        "Delete the schedule \u{201c}{}\u{201d}? Its recipients get no more reports; the reports it made stay until they expire.",
        schedule.cron
    );
    let action = format!("/app/reports/schedules/{}/delete", schedule.id);
    Ok(super::confirm(&state, &s, "Delete schedule", &question, &action, "Delete", "/app/reports").await)
}

pub(super) async fn unschedule(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let gone = match ScheduleId::parse(&id, "id") {
        Ok(id) => Schedules { db: &s.db }.delete(&id, &s.actor(), &s.meta).await?,
        Err(_) => false,
    };
    if !gone {
        return Ok(s.not_found(&state, "No such schedule", ("/app/reports", "Reports")).await);
    }
    Ok(s.finish(&state, html::see_other("/app/reports?done=unscheduled")))
}

#[derive(Template)]
#[template(path = "report_preview.html")]
struct PreviewPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    id: &'a str,
    what: &'a str,
    period: &'a str,
    pages: i64,
    download: Option<String>,
}

/// A ready report's first page, embedded (the browser's PDF viewer draws it).
pub(super) async fn preview(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let Some(job) = visible(&s, &id).await?.filter(|j| j.status == Status::Ready) else {
        return Ok(s.not_found(&state, "No such report", ("/app/reports", "Reports")).await);
    };
    let roster = Roster::load(&Metrics { db: &s.db }).await?;
    let teams: Vec<(String, String)> = roster.teams.iter().map(|t| (t.id.clone(), t.name.clone())).collect();
    let settings = ReportSettings::read(&s.db).await?;
    let r = row(&state, &s, &job, &teams, &settings).await;
    let (mut c, nav) = s.shell(&state, &r.what, "reports").await;
    c.embeds_pdf = true;
    let view = PreviewPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: None,
        id: &job.id,
        what: &r.what,
        period: &r.period,
        pages: job.pages.unwrap_or(0),
        download: r.download,
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

/// `GET /app/reports/{id}/pdf`: a ready report's PDF to a signed-in member who may see it,
/// shown in the page (the preview embeds it). Audited as a download.
pub(super) async fn inline_pdf(
    State(state): State<AppState>,
    s: Page<Member>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let found = visible(&s, &id).await?.filter(|j| j.status == Status::Ready);
    let Some((job, key)) = found.and_then(|j| j.object_key.clone().map(|k| (j, k))) else {
        return Ok(s.not_found(&state, "No such report", ("/app/reports", "Reports")).await);
    };
    let Some(bytes) = state.reports.get(&key).await? else {
        return Ok(s.not_found(&state, "No such report", ("/app/reports", "Reports")).await);
    };
    let entry = NewEntry::new(s.actor(), Action::fixed("report.downloaded"), Outcome::Success, s.meta.clone())
        .resource("report", job.id.clone())
        .details(serde_json::json!({"kind": job.kind.as_str(), "size": bytes.len(), "via": "preview"}));
    AuditService::record_now(&s.db, entry).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/pdf")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

/// `?expires=&signature=` of a download link.
#[derive(Debug, Deserialize)]
pub(super) struct LinkParams {
    expires: Option<String>,
    signature: Option<String>,
}

/// A link's refusal, as a page: no session, so no navigation.
fn link_page(status: StatusCode, title: &str, text: &str) -> Response {
    let mut resp = html::message(status, &Chrome::plain(title), title, text, None);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn gone() -> Response {
    link_page(
        StatusCode::GONE,
        "This link has expired",
        "Download links to reports last a few days. Ask for a new link where you found this one.",
    )
}

/// `GET /reports/{tenant}/{report}.pdf`: the report's PDF, to whoever holds a valid link.
pub(super) async fn download(
    State(state): State<AppState>,
    Path((tenant, file)): Path<(String, String)>,
    Query(q): Query<LinkParams>,
    parts: axum::http::request::Parts,
) -> Response {
    let refused = || link_page(StatusCode::FORBIDDEN, "This link is not valid", "Check that it was copied whole.");
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
        Err(e) => return PageError::from(e).into_response(),
    };
    let bytes = match job.object_key.as_deref() {
        Some(key) => match state.reports.get(key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return gone(),
            Err(e) => return PageError::from(e).into_response(),
        },
        None => return gone(),
    };
    let meta = crate::extract::request_meta(&parts, state.config.trust_proxy_headers);
    let actor = Actor { id: "link".into(), email: None };
    let entry = NewEntry::new(actor, Action::fixed("report.downloaded"), Outcome::Success, meta)
        .resource("report", job.id.clone())
        .details(serde_json::json!({"kind": job.kind.as_str(), "size": bytes.len()}));
    if let Err(e) = AuditService::record_now(&db, entry).await {
        return PageError::from(e).into_response();
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
