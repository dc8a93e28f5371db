//! The metrics pages (admins): teams — the list with a form for a new team, each team's
//! page to change its name, board and members, deleting with a confirmation — and the
//! settings. Each form calls the same `Metrics` methods as the API, with the same checks
//! and audit entries; a mistake shows beside its field (a member's beside that member's
//! field), the form keeping what was typed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::{ValidationError, now_ms};
use cairn_metrics::teams::{Member, TeamPage};
use cairn_metrics::{Day, MemberDraft, Metrics, MetricsError, SettingsInput, Team, TeamDraft, TeamId, TeamPatchDraft};
use serde::Deserialize;

use super::view::{Invalid, When};
use super::{Admin, CsrfForm, Nav, Page, PageError, Signed};
use crate::AppState;
use crate::html::{self, Chrome};

/// Blank member rows a team form offers for new members.
const BLANK_ROWS: usize = 3;
/// Teams the list shows.
const SHOWN: i64 = 500;
const TEAM_FIELDS: [&str; 2] = ["name", "board"];
const SETTINGS_FIELDS: [&str; 7] =
    ["time_zone", "reload_days", "backfill_days", "schedule", "bots", "incident_types", "incident_labels"];

/// One member row of a team form, as typed, with its mistake.
#[derive(Debug, Clone, Default)]
struct MemberRow {
    index: usize,
    name: String,
    email: String,
    /// Comma-separated.
    other_emails: String,
    github_login: String,
    jira_account_id: String,
    from: String,
    to: String,
    removed: bool,
    /// The field at fault (`from`, `email`, …) and what is wrong with it.
    error: Option<(String, String)>,
}

impl MemberRow {
    fn of(index: usize, m: &Member) -> MemberRow {
        MemberRow {
            index,
            name: m.name.clone(),
            email: m.email.clone(),
            other_emails: m.other_emails.join(", "),
            github_login: m.github_login.clone().unwrap_or_default(),
            jira_account_id: m.jira_account_id.clone().unwrap_or_default(),
            from: m.from.to_string(),
            to: m.to.map(|d| d.to_string()).unwrap_or_default(),
            removed: false,
            error: None,
        }
    }

    fn is_blank(&self) -> bool {
        [&self.name, &self.email, &self.other_emails, &self.github_login, &self.jira_account_id, &self.from, &self.to]
            .iter()
            .all(|v| v.trim().is_empty())
    }

    /// The mistake to show beside `field`.
    fn error_on(&self, field: &str) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }

    fn draft(&self) -> MemberDraft {
        let some = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        MemberDraft {
            name: self.name.clone(),
            email: self.email.trim().to_owned(),
            other_emails: self.other_emails.split([',', ' ', '\n']).filter_map(some).collect(),
            github_login: some(&self.github_login),
            jira_account_id: some(&self.jira_account_id),
            from: self.from.trim().to_owned(),
            to: some(&self.to),
        }
    }
}

/// A team form as posted: the name, the board, and one value per member row for each of
/// the member fields (rows a blank row pads), with the indexes of rows to remove.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TeamForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    board: String,
    #[serde(default)]
    member_name: Vec<String>,
    #[serde(default)]
    member_email: Vec<String>,
    #[serde(default)]
    member_other_emails: Vec<String>,
    #[serde(default)]
    member_github_login: Vec<String>,
    #[serde(default)]
    member_jira_account_id: Vec<String>,
    #[serde(default)]
    member_from: Vec<String>,
    #[serde(default)]
    member_to: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

impl TeamForm {
    fn of(team: &Team) -> TeamForm {
        TeamForm {
            name: team.name.clone(),
            board: team.board.map(|b| b.to_string()).unwrap_or_default(),
            ..TeamForm::default()
        }
    }

    fn rows(&self) -> Vec<MemberRow> {
        let columns = [
            &self.member_name,
            &self.member_email,
            &self.member_other_emails,
            &self.member_github_login,
            &self.member_jira_account_id,
            &self.member_from,
            &self.member_to,
        ];
        let n = columns.iter().map(|c| c.len()).max().unwrap_or(0).min(cairn_metrics::teams::MAX_MEMBERS + BLANK_ROWS);
        let at = |c: &Vec<String>, i: usize| c.get(i).cloned().unwrap_or_default();
        (0..n)
            .map(|i| MemberRow {
                index: i,
                name: at(&self.member_name, i),
                email: at(&self.member_email, i),
                other_emails: at(&self.member_other_emails, i),
                github_login: at(&self.member_github_login, i),
                jira_account_id: at(&self.member_jira_account_id, i),
                from: at(&self.member_from, i),
                to: at(&self.member_to, i),
                removed: self.remove.iter().any(|r| r.parse() == Ok(i)),
                error: None,
            })
            .collect()
    }

    /// The board as typed: blank for none.
    fn board(&self) -> Result<Option<i64>, ValidationError> {
        match self.board.trim() {
            "" => Ok(None),
            b => b.parse().map(Some).map_err(|_| ValidationError::new("board", "must be a Jira board id (1 or more)")),
        }
    }
}

/// The members to save (rows neither blank nor removed), and which form row each came from.
fn members(rows: &[MemberRow]) -> (Vec<MemberDraft>, Vec<usize>) {
    rows.iter().filter(|r| !r.removed && !r.is_blank()).map(|r| (r.draft(), r.index)).unzip()
}

/// A mistake placed where the form shows it: `members[2].from` beside the `from` of the
/// form row the third saved member came from.
fn place(v: &ValidationError, rows: &mut [MemberRow], from_row: &[usize]) -> Invalid {
    if let Some(rest) = v.field.strip_prefix("members[")
        && let Some((i, field)) = rest.split_once("].")
        && let Some(row) = i.parse::<usize>().ok().and_then(|i| from_row.get(i)).and_then(|r| rows.get_mut(*r))
    {
        let field = field.split(['[', '.']).next().unwrap_or(field).to_owned();
        row.error = Some((field, v.message.clone()));
        return Invalid::general(format!("Member {}: {}", row.index + 1, v.message));
    }
    Invalid::of(v, &TEAM_FIELDS)
}

fn with_blank_rows(mut rows: Vec<MemberRow>) -> Vec<MemberRow> {
    let start = rows.len();
    rows.extend((start..start + BLANK_ROWS).map(|index| MemberRow { index, ..MemberRow::default() }));
    rows
}

struct TeamRow {
    id: String,
    name: String,
    board: String,
    /// Members today, in the tenant's zone.
    members_now: usize,
    updated_at: When,
}

#[derive(Template)]
#[template(path = "metrics_teams.html")]
struct TeamsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    teams: Vec<TeamRow>,
    more: bool,
    form: &'a TeamForm,
    rows: Vec<MemberRow>,
    invalid: &'a Invalid,
    open_form: bool,
}

/// `?done=`: what the page's notice says was just done.
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    pub(super) done: Option<String>,
}

/// Today's date in the tenant's metrics zone.
async fn today(s: &Signed) -> Result<Day, PageError> {
    let settings = Metrics { db: &s.db }.settings().await?;
    Ok(settings.time_zone.zone().day(now_ms()))
}

async fn render_list(
    state: &AppState,
    s: &Signed,
    notice: Option<&str>,
    form: &TeamForm,
    rows: Vec<MemberRow>,
    invalid: &Invalid,
    status: StatusCode,
) -> Result<Response, PageError> {
    let TeamPage { items, next_cursor } = Metrics { db: &s.db }.teams(SHOWN, None).await?;
    let today = today(s).await?;
    let (c, nav) = s.shell(state, "Teams", "metrics_teams").await;
    let view = TeamsPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        open_form: invalid.is_some() || items.is_empty(),
        teams: items
            .into_iter()
            .map(|t| TeamRow {
                members_now: t.members.iter().filter(|m| m.from <= today && m.to.is_none_or(|to| today < to)).count(),
                id: t.id,
                name: t.name,
                board: t.board.map(|b| b.to_string()).unwrap_or_default(),
                updated_at: When::at(t.updated_at),
            })
            .collect(),
        more: next_cursor.is_some(),
        form,
        rows,
        invalid,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn teams(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = (q.done.as_deref() == Some("deleted")).then_some("Team deleted.");
    let rows = with_blank_rows(Vec::new());
    render_list(&state, &s, notice, &TeamForm::default(), rows, &Invalid::none(), StatusCode::OK).await
}

/// What a refused save says: the status, and the mistake placed in the form.
fn refusal(e: MetricsError, rows: &mut [MemberRow], from_row: &[usize]) -> Result<(StatusCode, Invalid), PageError> {
    match e {
        MetricsError::Validation(v) => Ok((StatusCode::BAD_REQUEST, place(&v, rows, from_row))),
        MetricsError::Conflict(m) => Ok((StatusCode::CONFLICT, Invalid::general(m))),
        other => Err(other.into()),
    }
}

pub(super) async fn create_team(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<TeamForm>,
) -> Result<Response, PageError> {
    let mut rows = form.rows();
    let (drafts, from_row) = members(&rows);
    let outcome = match form.board() {
        Ok(board) => {
            let draft = TeamDraft { name: form.name.clone(), board, members: drafts };
            Metrics { db: &s.db }.create_team(&draft, &s.actor(), &s.meta).await
        }
        Err(v) => Err(v.into()),
    };
    match outcome {
        Ok(team) => Ok(s.finish(&state, html::see_other(&format!("/app/metrics/teams/{}?done=created", team.id)))),
        Err(e) => {
            let (status, invalid) = refusal(e, &mut rows, &from_row)?;
            render_list(&state, &s, None, &form, rows, &invalid, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "metrics_team.html")]
struct TeamPageView<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    id: String,
    title: String,
    created_at: When,
    updated_at: When,
    form: &'a TeamForm,
    rows: Vec<MemberRow>,
    invalid: &'a Invalid,
}

/// The team `id`, or the 404 page when it names none of this organization's.
async fn team(state: &AppState, s: &Signed, id: &str) -> Result<Result<(TeamId, Team), Response>, PageError> {
    let Ok(id) = TeamId::parse(id, "id") else { return Ok(Err(no_team(state, s).await)) };
    match (Metrics { db: &s.db }).team(&id).await {
        Ok(t) => Ok(Ok((id, t))),
        Err(MetricsError::NotFound(_)) => Ok(Err(no_team(state, s).await)),
        Err(e) => Err(e.into()),
    }
}

async fn no_team(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such team", ("/app/metrics/teams", "Teams")).await
}

#[allow(clippy::too_many_arguments)]
async fn render_team(
    state: &AppState,
    s: &Signed,
    team: &Team,
    notice: Option<&str>,
    form: &TeamForm,
    rows: Vec<MemberRow>,
    invalid: &Invalid,
    status: StatusCode,
) -> Result<Response, PageError> {
    let (c, nav) = s.shell(state, &team.name, "metrics_teams").await;
    let view = TeamPageView {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        id: team.id.clone(),
        title: team.name.clone(),
        created_at: When::at(team.created_at),
        updated_at: When::at(team.updated_at),
        form,
        rows,
        invalid,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn show_team(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let (_, team) = match team(&state, &s, &id).await? {
        Ok(t) => t,
        Err(page) => return Ok(page),
    };
    let notice = match q.done.as_deref() {
        Some("created") => Some("Team created."),
        Some("saved") => Some("Team saved."),
        _ => None,
    };
    let rows = with_blank_rows(team.members.iter().enumerate().map(|(i, m)| MemberRow::of(i, m)).collect());
    render_team(&state, &s, &team, notice, &TeamForm::of(&team), rows, &Invalid::none(), StatusCode::OK).await
}

/// Saves a team's form: the same change as `PATCH /api/v1/metrics/teams/{id}` with every
/// field given.
pub(super) async fn save_team(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TeamForm>,
) -> Result<Response, PageError> {
    let (id, current) = match team(&state, &s, &id).await? {
        Ok(t) => t,
        Err(page) => return Ok(page),
    };
    let mut rows = form.rows();
    let (drafts, from_row) = members(&rows);
    let outcome = match form.board() {
        Ok(board) => {
            let patch = TeamPatchDraft { name: Some(form.name.clone()), board: Some(board), members: Some(drafts) };
            Metrics { db: &s.db }.update_team(&id, &patch, &s.actor(), &s.meta).await
        }
        Err(v) => Err(v.into()),
    };
    match outcome {
        Ok(team) => Ok(s.finish(&state, html::see_other(&format!("/app/metrics/teams/{}?done=saved", team.id)))),
        Err(MetricsError::NotFound(_)) => Ok(no_team(&state, &s).await),
        Err(e) => {
            let (status, invalid) = refusal(e, &mut rows, &from_row)?;
            render_team(&state, &s, &current, None, &form, rows, &invalid, status).await
        }
    }
}

/// Asks before deleting a team.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, team) = match team(&state, &s, &id).await? {
        Ok(t) => t,
        Err(page) => return Ok(page),
    };
    let question = format!(
        "Delete the team {}? Its membership history goes with it; people in no other team are forgotten.",
        team.name
    );
    let (action, cancel) =
        (format!("/app/metrics/teams/{}/delete", team.id), format!("/app/metrics/teams/{}", team.id));
    Ok(super::confirm(&state, &s, "Delete team", &question, &action, "Delete", &cancel).await)
}

#[derive(Debug, Deserialize)]
pub(super) struct EmptyForm {}

pub(super) async fn delete_team(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    // An id that cannot exist names no team: as good as deleted.
    let deleted = match TeamId::parse(&id, "id") {
        Ok(id) => Metrics { db: &s.db }.delete_team(&id, &s.actor(), &s.meta).await,
        Err(_) => Err(MetricsError::NotFound("team")),
    };
    match deleted {
        Ok(()) | Err(MetricsError::NotFound(_)) => {
            Ok(s.finish(&state, html::see_other("/app/metrics/teams?done=deleted")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The settings form as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    reload_days: String,
    #[serde(default)]
    backfill_days: String,
    #[serde(default)]
    schedule: String,
    /// One login per line (or separated by commas).
    #[serde(default)]
    bots: String,
    /// One issue type per line (names may hold spaces).
    #[serde(default)]
    incident_types: String,
    /// One label per line.
    #[serde(default)]
    incident_labels: String,
}

/// The non-blank lines of a text area, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

impl SettingsForm {
    fn of(s: &cairn_metrics::Settings) -> SettingsForm {
        SettingsForm {
            time_zone: s.time_zone.as_str().to_owned(),
            reload_days: s.reload_days.to_string(),
            backfill_days: s.backfill_days.to_string(),
            schedule: s.schedule.as_str().to_owned(),
            bots: s.bots.join("\n"),
            incident_types: s.incident_types.join("\n"),
            incident_labels: s.incident_labels.join("\n"),
        }
    }

    fn input(&self) -> Result<SettingsInput, ValidationError> {
        let days = |v: &str, field: &str| {
            v.trim().parse::<i64>().map_err(|_| ValidationError::new(field, "must be a whole number of days"))
        };
        let bots: Vec<String> =
            self.bots.split([',', '\n', '\r', ' ']).filter(|b| !b.is_empty()).map(str::to_owned).collect();
        SettingsInput::parse(
            self.time_zone.trim(),
            days(&self.reload_days, "reload_days")?,
            days(&self.backfill_days, "backfill_days")?,
            &self.schedule,
            &bots,
        )?
        .incidents(&lines(&self.incident_types), &lines(&self.incident_labels))
    }
}

#[derive(Template)]
#[template(path = "metrics_settings.html")]
struct SettingsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    form: &'a SettingsForm,
    invalid: &'a Invalid,
    zones: Vec<String>,
    updated: Option<When>,
}

async fn render_settings(
    state: &AppState,
    s: &Signed,
    notice: Option<&str>,
    form: &SettingsForm,
    updated_at: i64,
    invalid: &Invalid,
) -> Result<Response, PageError> {
    let (c, nav) = s.shell(state, "Metrics settings", "metrics_settings").await;
    let mut zones: Vec<String> = jiff::tz::db().available().map(|n| n.as_str().to_owned()).collect();
    zones.sort();
    let view = SettingsPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        form,
        invalid,
        zones,
        updated: (updated_at > 0).then(|| When::at(updated_at)),
    };
    let status = if invalid.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn settings(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let current = Metrics { db: &s.db }.settings().await?;
    let notice = (q.done.as_deref() == Some("saved")).then_some("Settings saved.");
    render_settings(&state, &s, notice, &SettingsForm::of(&current), current.updated_at, &Invalid::none()).await
}

pub(super) async fn save_settings(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, PageError> {
    let metrics = Metrics { db: &s.db };
    let saved = match form.input() {
        Ok(input) => metrics.update_settings(input, &s.actor(), &s.meta).await,
        Err(v) => Err(v.into()),
    };
    match saved {
        Ok(_) => Ok(s.finish(&state, html::see_other("/app/metrics/settings?done=saved"))),
        Err(MetricsError::Validation(v)) => {
            let updated_at = metrics.settings().await?.updated_at;
            render_settings(&state, &s, None, &form, updated_at, &Invalid::of(&v, &SETTINGS_FIELDS)).await
        }
        Err(e) => Err(e.into()),
    }
}
