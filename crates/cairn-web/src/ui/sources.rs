//! The metrics sources and runs pages (admins): the sources list with a form for a new
//! source, each source's page to change it (a blank token keeps the stored one), ask for a
//! run or delete it (with a confirmation), the run history of one source or of all, and each
//! run's page, which follows a queued or running run as it goes. The forms call the same
//! `Metrics` methods as the API: credentials are tried before anything is stored, a refused
//! token shows beside the token field, and the form keeps what was typed — never the token.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cairn_domain::{ValidationError, now_ms};
use cairn_metrics::runs::RunPage;
use cairn_metrics::sources::GITHUB_API;
use cairn_metrics::{
    Day, Metrics, MetricsError, Run, RunId, RunStatus, Source, SourceId, SourceInput, SourceKind, SourcePatch,
};
use serde::Deserialize;

use super::metrics::{Done, EmptyForm};
use super::view::{Invalid, People, Person, When};
use super::{Admin, CsrfForm, Nav, Page, PageError, Signed};
use crate::AppState;
use crate::html::{self, Chrome};

/// Where a mistake can show: the fields of the source forms and of the run form.
const FIELDS: [&str; 15] = [
    "name",
    "kind",
    "github_base_url",
    "graphql_url",
    "github_token",
    "repositories",
    "organization",
    "jira_base_url",
    "email",
    "jira_token",
    "boards",
    "story_points_field",
    "url",
    "branch",
    "since",
];
/// Runs a history page shows.
const RUNS_SHOWN: i64 = 50;
/// Runs a source's page shows.
const RECENT_RUNS: i64 = 5;
/// Repositories the sources list names before "and N more".
const NAMED: usize = 3;
/// The kinds the new-source form offers, with their labels.
const KINDS: [(&str, &str); 3] = [("github", "GitHub"), ("jira", "Jira"), ("git", "Git")];

fn kind_label(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Github => "GitHub",
        SourceKind::Jira => "Jira",
        SourceKind::Git => "Git",
    }
}

/// A source form as typed. Each kind has its own URL and token fields, so the new-source
/// form can hold all three kinds at once and send only the chosen one's.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SourceForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    github_base_url: String,
    #[serde(default)]
    graphql_url: String,
    #[serde(default)]
    github_token: String,
    /// `owner/name`, one per line (or separated by commas).
    #[serde(default)]
    repositories: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    jira_base_url: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    jira_token: String,
    /// Board ids, one per line (or separated by commas).
    #[serde(default)]
    boards: String,
    #[serde(default)]
    story_points_field: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    branch: String,
}

fn blank_to_none(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl SourceForm {
    /// The form for a new source: GitHub, at github.com.
    fn new_source() -> SourceForm {
        SourceForm { kind: "github".into(), github_base_url: GITHUB_API.into(), ..SourceForm::default() }
    }

    /// A stored source's form; the token fields stay blank.
    fn of(s: &Source) -> SourceForm {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut form = SourceForm { kind: s.kind.as_str().into(), name: s.name.clone(), ..SourceForm::default() };
        match s.kind {
            SourceKind::Github => {
                form.github_base_url = text(&s.base_url);
                form.graphql_url = text(&s.graphql_url);
                form.repositories = s.repositories.join("\n");
                form.organization = text(&s.organization);
            }
            SourceKind::Jira => {
                form.jira_base_url = text(&s.base_url);
                form.email = text(&s.email);
                form.boards = s.boards.iter().map(i64::to_string).collect::<Vec<_>>().join("\n");
                form.story_points_field = text(&s.story_points_field);
            }
            SourceKind::Git => {
                form.url = text(&s.url);
                form.branch = text(&s.branch);
            }
        }
        form
    }

    /// The same form to show again after a refusal: everything typed but the tokens.
    fn without_tokens(mut self) -> SourceForm {
        self.github_token.clear();
        self.jira_token.clear();
        self
    }

    fn repository_list(&self) -> Vec<String> {
        self.repositories.split(['\n', '\r', ',']).filter_map(blank_to_none).collect()
    }

    fn board_entries(&self) -> Vec<String> {
        self.boards.split(['\n', '\r', ',', ' ']).filter_map(blank_to_none).collect()
    }

    fn board_list(&self) -> Result<Vec<i64>, ValidationError> {
        self.board_entries()
            .iter()
            .map(|b| {
                b.parse::<i64>().map_err(|_| {
                    ValidationError::new("boards", format!("{b}: must be a board id, the number in the board's URL"))
                })
            })
            .collect()
    }

    /// What the new-source form says, for `Metrics::create_source`: the chosen kind's fields
    /// only.
    fn input(&self) -> Result<SourceInput, ValidationError> {
        let kind = self.kind.trim();
        let mut input = SourceInput { kind: kind.to_owned(), name: self.name.clone(), ..SourceInput::default() };
        match SourceKind::parse(kind) {
            Some(SourceKind::Github) => {
                input.base_url = Some(blank_to_none(&self.github_base_url).unwrap_or_else(|| GITHUB_API.into()));
                input.graphql_url = blank_to_none(&self.graphql_url);
                input.token = blank_to_none(&self.github_token);
                input.repositories = self.repository_list();
                input.organization = blank_to_none(&self.organization);
            }
            Some(SourceKind::Jira) => {
                input.base_url = blank_to_none(&self.jira_base_url);
                input.email = blank_to_none(&self.email);
                input.token = blank_to_none(&self.jira_token);
                input.boards = self.board_list()?;
                input.story_points_field = blank_to_none(&self.story_points_field);
            }
            Some(SourceKind::Git) => {
                input.url = blank_to_none(&self.url);
                input.branch = blank_to_none(&self.branch);
            }
            // The service names the field.
            None => {}
        }
        Ok(input)
    }

    /// What a source's form says, for `Metrics::update_source`: every field of the source's
    /// kind; a blank token keeps the stored one, a blank optional field clears it.
    fn patch(&self, current: &Source) -> Result<SourcePatch, ValidationError> {
        let optional = |typed: &str| Some(blank_to_none(typed));
        let mut patch = SourcePatch { name: Some(self.name.clone()), ..SourcePatch::default() };
        match current.kind {
            SourceKind::Github => {
                patch.base_url = Some(Some(blank_to_none(&self.github_base_url).unwrap_or_else(|| GITHUB_API.into())));
                patch.graphql_url = optional(&self.graphql_url);
                patch.token = blank_to_none(&self.github_token);
                patch.repositories = Some(self.repository_list());
                patch.organization = optional(&self.organization);
            }
            SourceKind::Jira => {
                patch.base_url = Some(Some(self.jira_base_url.trim().to_owned()));
                patch.email = Some(self.email.trim().to_owned());
                patch.token = blank_to_none(&self.jira_token);
                patch.boards = Some(self.board_list()?);
                patch.story_points_field = optional(&self.story_points_field);
            }
            SourceKind::Git => {
                patch.url = Some(self.url.trim().to_owned());
                patch.branch = optional(&self.branch);
            }
        }
        Ok(patch)
    }
}

/// A mistake the service names, placed in the form: `token` and `base_url` beside the
/// fields of the source's kind, `repositories[1]` beside the repositories with the entry
/// it is about.
fn place(v: &ValidationError, kind: &str, form: &SourceForm) -> Invalid {
    let (base, index) = match v.field.split_once('[') {
        Some((base, rest)) => (base, rest.split(']').next().and_then(|i| i.parse::<usize>().ok())),
        None => (v.field.as_str(), None),
    };
    let entry = match (base, index) {
        ("repositories", Some(i)) => form.repository_list().get(i).cloned(),
        ("boards", Some(i)) => form.board_entries().get(i).cloned(),
        _ => None,
    };
    let message = match entry {
        Some(e) => format!("{e}: {}", v.message),
        None => v.message.clone(),
    };
    match base {
        "token" | "base_url" => Invalid::at(&format!("{kind}_{base}"), message, &FIELDS),
        other => Invalid::at(other, message, &FIELDS),
    }
}

/// What a refused save says: the status, and the mistake placed in the form (a name taken
/// beside the name, an upstream that did not answer above the form).
fn refusal(e: MetricsError, kind: &str, form: &SourceForm) -> Result<(StatusCode, Invalid), PageError> {
    match e {
        MetricsError::Validation(v) => Ok((StatusCode::BAD_REQUEST, place(&v, kind, form))),
        MetricsError::Conflict(m) => Ok((StatusCode::CONFLICT, Invalid::at("name", m, &FIELDS))),
        MetricsError::Upstream(m) => Ok((StatusCode::BAD_GATEWAY, Invalid::general(m))),
        other => Err(other.into()),
    }
}

/// A run as a row of a history.
struct RunRow {
    id: String,
    /// The source's id and name, in the history of every source.
    source: Option<(String, String)>,
    status: &'static str,
    trigger: &'static str,
    queued: When,
    started: Option<When>,
    finished: Option<When>,
    duration: String,
    /// `commits: 12 new, 3 changed`, one per table that changed.
    changes: Vec<(String, String)>,
    requests: i64,
    rate_limit_waits: i64,
    error: Option<String>,
}

/// A schedule's fire (`schedule:<ms>`), rather than an admin's Run now (`manual:<id>`).
fn scheduled(run: &Run) -> bool {
    run.trigger_key.starts_with("schedule:")
}

fn trigger(run: &Run) -> &'static str {
    if scheduled(run) { "Schedule" } else { "Run now" }
}

/// `850 ms`, `12.4 s`, `3 min 5 s`, `2 h 10 min`.
fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// How long the run took, or has taken so far.
fn run_duration(run: &Run) -> String {
    match (run.started_at, run.finished_at) {
        (Some(start), Some(end)) => duration(end - start),
        (Some(start), None) => format!("{} so far", duration(now_ms() - start)),
        _ => String::new(),
    }
}

fn changes(run: &Run) -> Vec<(String, String)> {
    run.counts
        .iter()
        .filter_map(|(table, c)| {
            let parts: Vec<String> = [(c.new, "new"), (c.changed, "changed"), (c.removed, "removed")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, what)| format!("{n} {what}"))
                .collect();
            (!parts.is_empty()).then(|| (table.clone(), parts.join(", ")))
        })
        .collect()
}

fn run_row(run: &Run, source: Option<(String, String)>) -> RunRow {
    RunRow {
        id: run.id.clone(),
        source,
        status: run.status.as_str(),
        trigger: trigger(run),
        queued: When::at(run.created_at),
        started: run.started_at.map(When::at),
        finished: run.finished_at.map(When::at),
        duration: run_duration(run),
        changes: changes(run),
        requests: run.requests,
        rate_limit_waits: run.rate_limit_waits,
        error: run.error.clone(),
    }
}

/// A source as a row of the list.
struct SourceRow {
    id: String,
    name: String,
    kind: &'static str,
    /// What it reads, one line each: repositories or the organization, the site and its
    /// boards, the repository and branch.
    reads: Vec<String>,
    /// Where, when it is not the kind's usual place (GitHub Enterprise Server).
    at: Option<String>,
    has_token: bool,
    /// Holds demo data: nothing to run.
    demo: bool,
    last_run: Option<(String, &'static str, When)>,
}

fn reads(s: &Source) -> (Vec<String>, Option<String>) {
    match s.kind {
        SourceKind::Github => {
            let mut lines = Vec::new();
            if let Some(org) = &s.organization {
                lines.push(format!("Every repository of {org}"));
            }
            lines.extend(s.repositories.iter().take(NAMED).cloned());
            if s.repositories.len() > NAMED {
                lines.push(format!("and {} more", s.repositories.len() - NAMED));
            }
            (lines, s.base_url.clone().filter(|u| u != GITHUB_API))
        }
        SourceKind::Jira => {
            let boards = if s.boards.is_empty() {
                "No boards named".to_owned()
            } else {
                let ids: Vec<String> = s.boards.iter().map(i64::to_string).collect();
                format!("{} {}", if ids.len() == 1 { "Board" } else { "Boards" }, ids.join(", "))
            };
            (vec![s.base_url.clone().unwrap_or_default(), boards], None)
        }
        SourceKind::Git => {
            let branch = match &s.branch {
                Some(b) => format!("Branch {b}"),
                None => "The default branch".to_owned(),
            };
            (vec![s.url.clone().unwrap_or_default(), branch], None)
        }
    }
}

#[derive(Template)]
#[template(path = "metrics_sources.html")]
struct SourcesPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    sources: Vec<SourceRow>,
    form: &'a SourceForm,
    kinds: [(&'static str, &'static str); 3],
    editing: bool,
    invalid: &'a Invalid,
    open_form: bool,
}

/// The sources not being deleted, in creation order.
async fn live_sources(s: &Signed) -> Result<Vec<Source>, PageError> {
    Ok(Metrics { db: &s.db }.sources().await?.into_iter().filter(|s| !s.deleting).collect())
}

async fn render_list(
    state: &AppState,
    s: &Signed,
    notice: Option<&str>,
    form: &SourceForm,
    invalid: &Invalid,
    status: StatusCode,
) -> Result<Response, PageError> {
    let metrics = Metrics { db: &s.db };
    let mut rows = Vec::new();
    for source in live_sources(s).await? {
        let id = SourceId::parse(&source.id, "id").map_err(MetricsError::from)?;
        let last = metrics.runs(Some(&id), 1, None).await?.items.into_iter().next();
        let (reads, at) = reads(&source);
        rows.push(SourceRow {
            last_run: last.map(|r| {
                let at = r.finished_at.or(r.started_at).unwrap_or(r.created_at);
                (r.id, r.status.as_str(), When::at(at))
            }),
            id: source.id,
            name: source.name,
            kind: kind_label(source.kind),
            reads,
            at,
            has_token: source.has_token,
            demo: source.demo,
        });
    }
    let (c, nav) = s.shell(state, "Sources", "metrics_sources").await;
    let view = SourcesPage {
        c: &c,
        nav: &nav,
        notice,
        error: invalid.banner(),
        open_form: invalid.is_some() || rows.is_empty(),
        sources: rows,
        form,
        kinds: KINDS,
        editing: false,
        invalid,
    };
    Ok(s.render(state, status, &c, &view))
}

pub(super) async fn sources(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let notice = (q.done.as_deref() == Some("deleted"))
        .then_some("Source deleted. Its collected rows are being removed in the background.");
    render_list(&state, &s, notice, &SourceForm::new_source(), &Invalid::none(), StatusCode::OK).await
}

pub(super) async fn create_source(
    State(state): State<AppState>,
    s: Page<Admin>,
    CsrfForm(form): CsrfForm<SourceForm>,
) -> Result<Response, PageError> {
    let outcome = match form.input() {
        Ok(input) => {
            Metrics { db: &s.db }
                .create_source(state.store.master_key(), &state.identity.outbound, input, &s.actor(), &s.meta)
                .await
        }
        Err(v) => Err(v.into()),
    };
    match outcome {
        Ok(source) => {
            Ok(s.finish(&state, html::see_other(&format!("/app/metrics/sources/{}?done=created", source.id))))
        }
        Err(e) => {
            let kind = form.kind.trim().to_owned();
            let (status, invalid) = refusal(e, &kind, &form)?;
            render_list(&state, &s, None, &form.without_tokens(), &invalid, status).await
        }
    }
}

#[derive(Template)]
#[template(path = "metrics_source.html")]
struct SourcePageView<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    id: String,
    title: String,
    kind: &'static str,
    has_token: bool,
    /// Holds demo data (`cairn demo seed`): no upstream to run or change.
    demo: bool,
    created_at: When,
    created_by: Person,
    updated_at: When,
    runs: Vec<RunRow>,
    show_source: bool,
    /// The few columns a source's page has room for.
    compact: bool,
    more_runs: bool,
    since: &'a str,
    reload_days: i64,
    form: &'a SourceForm,
    kinds: [(&'static str, &'static str); 3],
    editing: bool,
    invalid: &'a Invalid,
}

/// The live source `id`, or the 404 page when it names none of this organization's.
async fn source(state: &AppState, s: &Signed, id: &str) -> Result<Result<(SourceId, Source), Response>, PageError> {
    let Ok(id) = SourceId::parse(id, "id") else { return Ok(Err(no_source(state, s).await)) };
    match (Metrics { db: &s.db }).source(&id).await {
        Ok(source) if !source.deleting => Ok(Ok((id, source))),
        Ok(_) | Err(MetricsError::NotFound(_)) => Ok(Err(no_source(state, s).await)),
        Err(e) => Err(e.into()),
    }
}

async fn no_source(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such source", ("/app/metrics/sources", "Sources")).await
}

/// What a source's page shows besides the source: a notice, the forms as typed, a mistake.
struct Shown<'a> {
    notice: Option<&'a str>,
    form: Option<SourceForm>,
    since: &'a str,
    invalid: Invalid,
    status: StatusCode,
}

impl Default for Shown<'_> {
    fn default() -> Self {
        Shown { notice: None, form: None, since: "", invalid: Invalid::none(), status: StatusCode::OK }
    }
}

async fn render_source(
    state: &AppState,
    s: &Signed,
    id: &SourceId,
    source: &Source,
    shown: Shown<'_>,
) -> Result<Response, PageError> {
    let metrics = Metrics { db: &s.db };
    let RunPage { items, next_cursor } = metrics.runs(Some(id), RECENT_RUNS, None).await?;
    let settings = metrics.settings().await?;
    let people = People::of(state, &s.db, &[source.created_by.as_str()]).await?;
    let form = shown.form.unwrap_or_else(|| SourceForm::of(source));
    let (c, nav) = s.shell(state, &source.name, "metrics_sources").await;
    let view = SourcePageView {
        c: &c,
        nav: &nav,
        notice: shown.notice,
        error: shown.invalid.banner(),
        id: source.id.clone(),
        title: source.name.clone(),
        kind: kind_label(source.kind),
        has_token: source.has_token,
        demo: source.demo,
        created_at: When::at(source.created_at),
        created_by: people.get(&source.created_by),
        updated_at: When::at(source.updated_at),
        runs: items.iter().map(|r| run_row(r, None)).collect(),
        show_source: false,
        compact: true,
        more_runs: next_cursor.is_some(),
        since: shown.since,
        reload_days: settings.reload_days,
        form: &form,
        kinds: KINDS,
        editing: true,
        invalid: &shown.invalid,
    };
    Ok(s.render(state, shown.status, &c, &view))
}

pub(super) async fn show_source(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Result<Response, PageError> {
    let (id, source) = match source(&state, &s, &id).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let notice = match q.done.as_deref() {
        Some("created") => Some("Source added: its credentials work. Its first run comes with the schedule, or now."),
        Some("saved") => Some("Source saved."),
        _ => None,
    };
    render_source(&state, &s, &id, &source, Shown { notice, ..Shown::default() }).await
}

/// Saves a source's form: the same change as `PATCH /api/v1/metrics/sources/{id}` with every
/// field of its kind given, and the token only when one was typed.
pub(super) async fn save_source(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SourceForm>,
) -> Result<Response, PageError> {
    let (id, current) = match source(&state, &s, &id).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let outcome = match form.patch(&current) {
        Ok(patch) => {
            Metrics { db: &s.db }
                .update_source(state.store.master_key(), &state.identity.outbound, &id, patch, &s.actor(), &s.meta)
                .await
        }
        Err(v) => Err(v.into()),
    };
    match outcome {
        Ok(saved) => Ok(s.finish(&state, html::see_other(&format!("/app/metrics/sources/{}?done=saved", saved.id)))),
        Err(MetricsError::NotFound(_)) => Ok(no_source(&state, &s).await),
        Err(e) => {
            let (status, invalid) = refusal(e, current.kind.as_str(), &form)?;
            let form = SourceForm { kind: current.kind.as_str().into(), ..form.without_tokens() };
            render_source(&state, &s, &id, &current, Shown { form: Some(form), invalid, status, ..Shown::default() })
                .await
        }
    }
}

/// The run form: where to start reading, blank for the source's usual window.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RunForm {
    #[serde(default)]
    since: String,
}

/// Queues a run of the source (what `POST /api/v1/metrics/sources/{id}/runs` does) and goes
/// to the run's page.
pub(super) async fn run_now(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<RunForm>,
) -> Result<Response, PageError> {
    let (id, current) = match source(&state, &s, &id).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let metrics = Metrics { db: &s.db };
    let since = blank_to_none(&form.since).map(|d| Day::parse(&d, "since")).transpose();
    let queued = match since {
        Ok(since) => metrics.request_run(&id, since, &s.actor(), &s.meta).await,
        Err(e) => Err(e.into()),
    };
    match queued {
        Ok(run) => {
            // Workers on every replica hear of the tenant's new work.
            state.bus.committed(s.tenant.id).await;
            Ok(s.finish(&state, html::see_other(&format!("/app/metrics/runs/{}", run.id))))
        }
        Err(MetricsError::Validation(v)) => {
            let shown = Shown {
                since: &form.since,
                invalid: Invalid::of(&v, &FIELDS),
                status: StatusCode::BAD_REQUEST,
                ..Shown::default()
            };
            render_source(&state, &s, &id, &current, shown).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Asks before deleting a source.
pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, source) = match source(&state, &s, &id).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    let question = format!(
        "Delete the source {}? Everything collected from it goes too, removed in the background, \
         and the metrics built on it change.",
        source.name
    );
    let (action, cancel) =
        (format!("/app/metrics/sources/{}/delete", source.id), format!("/app/metrics/sources/{}", source.id));
    Ok(super::confirm(&state, &s, "Delete source", &question, &action, "Delete", &cancel).await)
}

pub(super) async fn delete_source(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    CsrfForm(EmptyForm {}): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    // An id that cannot exist names no source: as good as deleted.
    let deleted = match SourceId::parse(&id, "id") {
        Ok(id) => Metrics { db: &s.db }.delete_source(&id, &s.actor(), &s.meta).await,
        Err(_) => Err(MetricsError::NotFound("source")),
    };
    match deleted {
        Ok(()) | Err(MetricsError::NotFound(_)) => {
            Ok(s.finish(&state, html::see_other("/app/metrics/sources?done=deleted")))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "metrics_runs.html")]
struct RunsPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    /// The source whose runs these are (id, name); `None`: every source's.
    of: Option<(String, String)>,
    /// Every source, for the filter: id, name, chosen.
    sources: Vec<(String, String, bool)>,
    runs: Vec<RunRow>,
    show_source: bool,
    compact: bool,
    /// The link to the next (older) page.
    older: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RunsQuery {
    /// Only this source's runs (the filter's choice; blank for all).
    source: Option<String>,
    /// Runs older than this one.
    before: Option<String>,
}

async fn render_runs(
    state: &AppState,
    s: &Signed,
    of: Option<(SourceId, Source)>,
    before: Option<&str>,
) -> Result<Response, PageError> {
    let metrics = Metrics { db: &s.db };
    let before = blank_to_none(before.unwrap_or_default())
        .map(|b| RunId::parse(&b, "before"))
        .transpose()
        .map_err(MetricsError::from)?;
    let sources = metrics.sources().await?;
    let name_of = |id: &str| sources.iter().find(|s| s.id == id).map(|s| s.name.clone());
    let RunPage { items, next_cursor } =
        metrics.runs(of.as_ref().map(|(id, _)| id), RUNS_SHOWN, before.as_ref()).await?;
    let runs = items
        .iter()
        .map(|r| {
            let source = match of {
                Some(_) => None,
                None => Some((r.source_id.clone(), name_of(&r.source_id).unwrap_or_else(|| "Deleted source".into()))),
            };
            run_row(r, source)
        })
        .collect();
    let base = match &of {
        Some((id, _)) => format!("/app/metrics/sources/{id}/runs?"),
        None => "/app/metrics/runs?".to_owned(),
    };
    let title = match &of {
        Some((_, source)) => format!("Runs of {}", source.name),
        None => "Runs".to_owned(),
    };
    let (c, nav) = s.shell(state, &title, "metrics_runs").await;
    let chosen = of.as_ref().map(|(_, source)| source.id.clone());
    let view = RunsPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: None,
        sources: sources
            .iter()
            .filter(|s| !s.deleting)
            .map(|s| (s.id.clone(), s.name.clone(), chosen.as_deref() == Some(s.id.as_str())))
            .collect(),
        show_source: of.is_none(),
        compact: false,
        of: of.map(|(_, source)| (source.id, source.name)),
        runs,
        older: next_cursor.map(|n| format!("{base}before={n}")),
    };
    Ok(s.render(state, StatusCode::OK, &c, &view))
}

/// Every source's runs, newest first; `?source=` (the filter) goes to that source's.
pub(super) async fn runs(
    State(state): State<AppState>,
    s: Page<Admin>,
    Query(q): Query<RunsQuery>,
) -> Result<Response, PageError> {
    if let Some(id) = q.source.as_deref().and_then(blank_to_none) {
        return Ok(s.finish(&state, html::see_other(&format!("/app/metrics/sources/{}/runs", urlencoded(&id)))));
    }
    render_runs(&state, &s, None, q.before.as_deref()).await
}

/// What the filter sent, safe in a path.
fn urlencoded(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One source's runs, newest first.
pub(super) async fn source_runs(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Result<Response, PageError> {
    let found = match source(&state, &s, &id).await? {
        Ok(found) => found,
        Err(page) => return Ok(page),
    };
    render_runs(&state, &s, Some(found), q.before.as_deref()).await
}

/// A run's status, times, figures and counts per table: the part of the run's page that
/// `static/cairn.js` fetches again while the run is live.
struct RunProgress {
    id: String,
    status: &'static str,
    /// Queued or running: the page follows it.
    live: bool,
    started: Option<When>,
    finished: Option<When>,
    duration: String,
    requests: i64,
    rate_limit_waits: i64,
    error: Option<String>,
    /// Per table: name, new, changed, removed.
    counts: Vec<(String, u64, u64, u64)>,
    /// The steps whose progress is saved (where a worker taking the run over goes on).
    steps: Vec<String>,
    attempts: i64,
}

impl RunProgress {
    fn of(run: &Run) -> RunProgress {
        RunProgress {
            id: run.id.clone(),
            status: run.status.as_str(),
            live: matches!(run.status, RunStatus::Queued | RunStatus::Running),
            started: run.started_at.map(When::at),
            finished: run.finished_at.map(When::at),
            duration: run_duration(run),
            requests: run.requests,
            rate_limit_waits: run.rate_limit_waits,
            error: run.error.clone(),
            counts: run.counts.iter().map(|(t, c)| (t.clone(), c.new, c.changed, c.removed)).collect(),
            steps: run.progress.keys().cloned().collect(),
            attempts: run.attempts,
        }
    }
}

#[derive(Template)]
#[template(path = "metrics_run.html")]
struct RunPageView<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    /// The source's id and name; `None` once it is deleted.
    source: Option<(String, String)>,
    trigger: &'static str,
    requested_by: Option<Person>,
    queued: When,
    since: Option<String>,
    progress: RunProgress,
}

/// The run `id`, or the 404 page when it names none of this organization's.
async fn run(state: &AppState, s: &Signed, id: &str) -> Result<Result<Run, Response>, PageError> {
    let Ok(id) = RunId::parse(id, "id") else { return Ok(Err(no_run(state, s).await)) };
    match (Metrics { db: &s.db }).run(&id).await {
        Ok(run) => Ok(Ok(run)),
        Err(MetricsError::NotFound(_)) => Ok(Err(no_run(state, s).await)),
        Err(e) => Err(e.into()),
    }
}

async fn no_run(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "No such run", ("/app/metrics/runs", "Runs")).await
}

pub(super) async fn show_run(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let run = match run(&state, &s, &id).await? {
        Ok(run) => run,
        Err(page) => return Ok(page),
    };
    let metrics = Metrics { db: &s.db };
    let source = match SourceId::parse(&run.source_id, "source") {
        Ok(id) => match metrics.source(&id).await {
            Ok(source) if !source.deleting => Some((source.id, source.name)),
            Ok(_) | Err(MetricsError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        },
        Err(_) => None,
    };
    let requested_by = if !scheduled(&run) {
        Some(People::of(&state, &s.db, &[run.requested_by.as_str()]).await?.get(&run.requested_by))
    } else {
        None
    };
    let since = match run.since {
        Some(ms) => Some(metrics.settings().await?.time_zone.zone().day(ms).to_string()),
        None => None,
    };
    let title = match &source {
        Some((_, name)) => format!("Run of {name}"),
        None => "Run".to_owned(),
    };
    let (c, nav) = s.shell(&state, &title, "metrics_runs").await;
    let view = RunPageView {
        c: &c,
        nav: &nav,
        notice: None,
        error: None,
        source,
        trigger: trigger(&run),
        requested_by,
        queued: When::at(run.created_at),
        since,
        progress: RunProgress::of(&run),
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

#[derive(Template)]
#[template(path = "metrics_run_progress.html")]
struct RunProgressFragment {
    progress: RunProgress,
}

/// The run's progress alone, for the page to swap in while the run is live.
pub(super) async fn run_progress(
    State(state): State<AppState>,
    s: Page<Admin>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let run = match run(&state, &s, &id).await? {
        Ok(run) => run,
        Err(page) => return Ok(page),
    };
    Ok(s.render(
        &state,
        StatusCode::OK,
        &Chrome::plain("Run"),
        &RunProgressFragment { progress: RunProgress::of(&run) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_their_scale() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(185_000), "3 min 5 s");
        assert_eq!(duration(7_800_000), "2 h 10 min");
        assert_eq!(duration(-5), "0 ms");
    }

    #[test]
    fn a_refusal_sits_beside_the_field_of_the_sources_kind() {
        let form = SourceForm { repositories: "acme/api\n\nacme/nope".into(), ..SourceForm::default() };
        let token = place(&ValidationError::new("token", "GitHub refused the credentials"), "github", &form);
        assert_eq!(token.on("github_token"), Some("GitHub refused the credentials"));
        let site = place(&ValidationError::new("base_url", "is not a URL"), "jira", &form);
        assert_eq!(site.on("jira_base_url"), Some("is not a URL"));
        let repo = place(&ValidationError::new("repositories[1]", "not found"), "github", &form);
        assert_eq!(repo.on("repositories"), Some("acme/nope: not found"));
        assert!(place(&ValidationError::new("somewhere", "wrong"), "github", &form).banner().is_some());
    }

    #[test]
    fn the_new_source_form_sends_only_the_chosen_kinds_fields() {
        let form = SourceForm {
            kind: "jira".into(),
            name: "Jira".into(),
            github_base_url: GITHUB_API.into(),
            github_token: "ghp_x".into(),
            jira_base_url: " https://acme.atlassian.net ".into(),
            email: "bot@acme.com".into(),
            jira_token: "t".into(),
            boards: "1\n2, 3".into(),
            ..SourceForm::default()
        };
        let input = form.input().unwrap();
        assert_eq!(input.base_url.as_deref(), Some("https://acme.atlassian.net"));
        assert_eq!((input.token.as_deref(), input.boards), (Some("t"), vec![1, 2, 3]));
        assert!(input.repositories.is_empty() && input.graphql_url.is_none());
        let bad = SourceForm { boards: "1\nseven".into(), ..form };
        assert_eq!(bad.input().unwrap_err().field, "boards");
        let blank = SourceForm { kind: "github".into(), ..SourceForm::default() };
        assert_eq!(blank.input().unwrap().base_url.as_deref(), Some(GITHUB_API));
    }
}
