//! The metric endpoints: figures over a window of the tenant's local days, `readonly` and
//! up, in one shape for every series (`metric`, the window, `series` of `key`, `name`,
//! `total`, `summary`, `points`). Every answer carries an `ETag`; a poll that sends it back
//! while nothing changed gets `304`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_domain::{Role, ValidationError};
use cairn_metrics::figures::commits::{CommitFigures, Grouping, WithoutRequests};
use cairn_metrics::figures::cycle::{CycleFigures, CycleTime, Stage};
use cairn_metrics::figures::dashboard::Dashboard;
use cairn_metrics::figures::dora::{
    ChangeFailureRate, DeploymentFrequency, Dora, DoraFigures, LeadTime, Level, TimeToRestore,
};
use cairn_metrics::figures::github::{
    GitHubFigures, Impact, NoSummary, Score, TeamActiveDays, TeamCommits, TeamRanking, UserComments, UserCommits,
};
use cairn_metrics::figures::jira::{
    Estimations, Focus, JiraFigures, Quality, SprintFigures, TeamSprints, Throughput, Velocity,
};
use cairn_metrics::figures::{Figures, Person, Roster, Window};
use cairn_metrics::{Metrics, MetricsError, Settings, Team, TeamId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::metrics::LocalDate;
use super::{UuidText, serialize_number, serialize_opt_number};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(user_commits))
        .routes(routes!(team_commits))
        .routes(routes!(user_active_days))
        .routes(routes!(team_active_days))
        .routes(routes!(user_comments_count))
        .routes(routes!(user_impact))
        .routes(routes!(team_impact))
        .routes(routes!(team_scores))
        .routes(routes!(commits_without_requests))
        .routes(routes!(cycle_time))
        .routes(routes!(dashboard))
        .routes(routes!(dora))
        .routes(routes!(jira_sprints))
        .routes(routes!(jira_velocity))
        .routes(routes!(jira_throughput))
        .routes(routes!(jira_quality))
        .routes(routes!(jira_estimations))
        .routes(routes!(jira_focus))
}

/// `?from=&to=&granularity=&user=&team=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FigureParams {
    /// The window's first local date.
    #[param(value_type = LocalDate)]
    pub from: String,
    /// The day after the window's last (half-open); at most 1,098 days after `from`.
    #[param(value_type = LocalDate)]
    pub to: String,
    /// `day`, `week` (ISO, from Monday; the default) or `month`.
    pub granularity: Option<String>,
    /// Only this person: a GitHub login, a Jira account id or an email.
    pub user: Option<String>,
    /// Only this team (its members while they were in it).
    #[param(value_type = Option<UuidText>)]
    pub team: Option<String>,
    /// `commits-without-requests`: only this repository (`owner/name`).
    pub repository: Option<String>,
    /// `commits-without-requests`: a series per `person` (the default), `team` or
    /// `repository`.
    pub by: Option<String>,
}

/// What a request names, checked: the person or team, which exist.
struct Scope {
    user: Option<Person>,
    team: Option<Team>,
}

impl FigureParams {
    fn scope(&self, roster: &Roster) -> ApiResult<Scope> {
        let user = match &self.user {
            None => None,
            Some(u) => {
                Some(roster.find(u).cloned().ok_or_else(|| ApiError::not_found(format!("user {u:?} not found")))?)
            }
        };
        let team = self.team.as_deref().map(|t| find_team(roster, t)).transpose()?;
        Ok(Scope { user, team })
    }

    fn window(&self) -> ApiResult<Window> {
        Ok(Window::parse(&self.from, &self.to, self.granularity.as_deref())?)
    }
}

/// The team a request names, which exists: 404 otherwise.
fn find_team(roster: &Roster, t: &str) -> ApiResult<Team> {
    let missing = || ApiError::not_found(format!("team {t:?} not found"));
    let id = TeamId::parse(t, "team").map_err(|_| missing())?.to_string();
    roster.teams.iter().find(|x| x.id == id).cloned().ok_or_else(missing)
}

/// One bucket: its first day and its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointBody {
    #[schema(value_type = LocalDate)]
    pub start: String,
    #[serde(serialize_with = "serialize_number")]
    pub value: f64,
}

/// One person's, team's or repository's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesBody<S> {
    /// A GitHub login (else an email), a team id, or a repository.
    pub key: String,
    pub name: String,
    /// The headline figure over the whole window.
    #[serde(serialize_with = "serialize_number")]
    pub total: f64,
    pub summary: S,
    /// One per bucket of the window, in order.
    pub points: Vec<PointBody>,
}

/// A metric over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresBody<S> {
    /// `github/user-commits`, …
    pub metric: String,
    #[schema(value_type = LocalDate)]
    pub from: String,
    #[schema(value_type = LocalDate)]
    pub to: String,
    /// The IANA zone the local dates are in.
    pub time_zone: String,
    /// `day`, `week` or `month`.
    pub granularity: String,
    pub series: Vec<SeriesBody<S>>,
}

impl<S, W: From<S>> From<Figures<S>> for FiguresBody<W> {
    fn from(f: Figures<S>) -> Self {
        FiguresBody {
            metric: f.metric.to_owned(),
            from: f.window.from.to_string(),
            to: f.window.to.to_string(),
            time_zone: f.time_zone,
            granularity: f.window.granularity.as_str().to_owned(),
            series: f
                .series
                .into_iter()
                .map(|s| SeriesBody {
                    key: s.key,
                    name: s.name,
                    total: s.total,
                    summary: s.summary.into(),
                    points: s
                        .points
                        .into_iter()
                        .map(|p| PointBody { start: p.start.to_string(), value: p.value })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Wire forms of the summaries: every figure a JSON number (whole ones as integers).
macro_rules! summary {
    ($(#[$doc:meta])* $wire:ident from $domain:ty { $($(#[$fdoc:meta])* $field:ident),* }) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $wire {
            $(
                $(#[$fdoc])*
                #[serde(serialize_with = "serialize_number")]
                pub $field: f64,
            )*
        }

        impl From<$domain> for $wire {
            #[allow(unused_variables)]
            fn from(s: $domain) -> Self {
                $wire { $($field: s.$field),* }
            }
        }
    };
}

summary!(
    /// `github/user-commits`: `total` is the person's counted commits.
    UserCommitsSummary from UserCommits { active_days, commits_per_active_day, additions, deletions }
);
summary!(
    /// `github/team-commits`: `total` is the commits of the team's members while in it.
    TeamCommitsSummary from TeamCommits { active_authors, commits_per_active_author, additions, deletions }
);
summary!(
    /// `github/user-active-days`: `total` is the person's active days; no companions.
    EmptySummary from NoSummary {}
);
summary!(
    /// `github/team-active-days`: `total` is the sum of the members' active days while in
    /// the team; `per_member_week` = `total ÷ (members × weeks)`.
    TeamActiveDaysSummary from TeamActiveDays {
        /// People who were members on some day of the window.
        members,
        /// The window's days ÷ 7.
        weeks,
        per_member_week
    }
);
summary!(
    /// `github/user-comments-count`: `total` is the person's pull-request comments.
    UserCommentsSummary from UserComments { on_own, on_others }
);
summary!(
    /// `github/user-impact` and `github/team-impact`: `total` is the impact, the sum over
    /// counted commits of each one's size percentile in its repository's trailing 90 days
    /// (each in (0, 1]).
    ImpactSummary from Impact { additions, deletions, changed_files }
);
summary!(
    /// `github/team-scores`: `total` is the member's impact while in the team.
    ScoreSummary from Score {
        active_days,
        commits_per_active_day,
        /// The percentage of the tenant's teams whose impact per active author is at most
        /// this team's.
        team_percentile
    }
);
summary!(
    /// `github/commits-without-requests`: `total` is the counted commits no pull request
    /// has; `share` = `total ÷ commits`.
    WithoutRequestsSummary from WithoutRequests { commits, share }
);

/// One cycle-time stage over the pull requests that went through it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageBody {
    /// `null` when no pull request went through the stage.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub median_hours: Option<f64>,
    /// The nearest-rank 85th percentile.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub p85_hours: Option<f64>,
    /// How many pull requests went through the stage.
    #[serde(serialize_with = "serialize_number")]
    pub pull_requests: f64,
}

impl From<Stage> for StageBody {
    fn from(s: Stage) -> Self {
        StageBody { median_hours: s.median_hours, p85_hours: s.p85_hours, pull_requests: s.pull_requests }
    }
}

/// `github/cycle-time`: `total` is the median cycle in hours (0 without a merged pull
/// request); points are each bucket's median cycle.
#[derive(Debug, Serialize, ToSchema)]
pub struct CycleTimeSummary {
    /// Merged in the window.
    #[serde(serialize_with = "serialize_number")]
    pub pull_requests: f64,
    /// First commit to the pull request's creation.
    pub coding: StageBody,
    /// Creation to the first review by someone else.
    pub pickup: StageBody,
    /// First review to merge.
    pub review: StageBody,
    /// Merge to the repository's next successful deployment.
    pub deploy: StageBody,
    /// First commit (else creation) to production (else merge).
    pub cycle: StageBody,
}

impl From<CycleTime> for CycleTimeSummary {
    fn from(c: CycleTime) -> Self {
        CycleTimeSummary {
            pull_requests: c.pull_requests,
            coding: c.coding.into(),
            pickup: c.pickup.into(),
            review: c.review.into(),
            deploy: c.deploy.into(),
            cycle: c.cycle.into(),
        }
    }
}

/// The answer as JSON with its `ETag`, or `304` when the caller has it already.
fn tagged<T: Serialize>(headers: &HeaderMap, body: &T) -> ApiResult<Response> {
    let json = serde_json::to_vec(body).map_err(|e| ApiError::internal(e.to_string()))?;
    let digest = Sha256::digest(&json);
    let tag = format!("\"{}\"", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
    let etag = HeaderValue::from_str(&tag).map_err(|e| ApiError::internal(e.to_string()))?;
    let seen = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim().trim_start_matches("W/") == tag || t.trim() == "*"));
    if seen {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    // Like every API answer it is `no-store`: a poller keeps the tag and sends it back.
    Ok(([(header::ETAG, etag), (header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json)
        .into_response())
}

/// Figures read once per request for its window (and, where their reads can be narrowed, its
/// scope): the GitHub, the per-commit, the cycle-time or the Jira ones.
trait WindowFigures: Sized {
    async fn read(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &Settings,
        scope: &Scope,
    ) -> Result<Self, cairn_metrics::MetricsError>;
}

impl WindowFigures for GitHubFigures {
    async fn read(m: &Metrics<'_>, w: Window, r: Roster, s: &Settings, scope: &Scope) -> Result<Self, MetricsError> {
        GitHubFigures::read(m, w, r, s, scope.user.as_ref(), scope.team.as_ref()).await
    }
}

impl WindowFigures for CommitFigures {
    async fn read(m: &Metrics<'_>, w: Window, r: Roster, s: &Settings, scope: &Scope) -> Result<Self, MetricsError> {
        CommitFigures::read(m, w, r, s, scope.user.as_ref(), scope.team.as_ref()).await
    }
}

/// A team's rollups and every team's impact, which ranks it (`team-scores`).
struct ScoreFigures(GitHubFigures, TeamRanking);

impl WindowFigures for ScoreFigures {
    async fn read(m: &Metrics<'_>, w: Window, r: Roster, s: &Settings, scope: &Scope) -> Result<Self, MetricsError> {
        let ranking = TeamRanking::read(m, w, &r);
        let rollups = GitHubFigures::read(m, w, r.clone(), s, None, scope.team.as_ref());
        let (rollups, ranking) = tokio::try_join!(rollups, ranking)?;
        Ok(ScoreFigures(rollups, ranking))
    }
}

impl WindowFigures for CycleFigures {
    async fn read(m: &Metrics<'_>, w: Window, r: Roster, s: &Settings, scope: &Scope) -> Result<Self, MetricsError> {
        CycleFigures::read(m, w, r, s, scope.user.as_ref(), scope.team.as_ref()).await
    }
}

impl WindowFigures for JiraFigures {
    async fn read(m: &Metrics<'_>, w: Window, r: Roster, s: &Settings, scope: &Scope) -> Result<Self, MetricsError> {
        JiraFigures::read(m, w, r, s, scope.team.as_ref()).await
    }
}

/// The figures of the request's window, and its checked scope.
async fn figures<F: WindowFigures>(
    state: &AppState,
    caller: Caller,
    q: &FigureParams,
    attempted: &str,
) -> ApiResult<(F, Scope)> {
    let ctx = caller.in_tenant(state, Role::Readonly, attempted).await?;
    let window = q.window()?;
    let metrics = Metrics { db: &ctx.db };
    let (roster, settings) = Roster::load_with_settings(&metrics).await?;
    let scope = q.scope(&roster)?;
    let figures = F::read(&metrics, window, roster, &settings, &scope).await?;
    Ok((figures, scope))
}

/// A metric endpoint: `GET path` for `readonly` and up, answering `body` (with its `ETag`)
/// from the figures `f` of kind `kind` loaded for the request's window, its checked scope
/// `s` and its parameters `q`.
macro_rules! figure {
    ($(#[doc = $doc:literal])* $name:ident, $path:literal, $per:literal, $body:ty, $attempted:literal,
     |$f:ident: $kind:ty, $s:ident, $q:ident| $make:expr) => {
        $(#[doc = $doc])*
        #[utoipa::path(get, path = $path, tag = "metrics", params(FigureParams),
            responses(
                (status = 200, description = $per, body = $body,
                    headers(("ETag" = String, description = "Send back in If-None-Match"))),
                (status = 304, description = "Unchanged since the ETag sent"),
                (status = 400, description = "A bad window, granularity or parameter, naming the field",
                    body = ErrorBody),
                (status = 401, description = "Missing or invalid token", body = ErrorBody),
                (status = 403, description = "Requires readonly", body = ErrorBody),
                (status = 404, description = "No such user or team", body = ErrorBody),
            ),
            security(("bearer" = [])))]
        async fn $name(
            State(state): State<AppState>,
            caller: Caller,
            headers: HeaderMap,
            ApiQuery($q): ApiQuery<FigureParams>,
        ) -> ApiResult<Response> {
            let ($f, $s): ($kind, Scope) = figures(&state, caller, &$q, $attempted).await?;
            let body: $body = $make;
            tagged(&headers, &body)
        }
    };
}

/// The team a per-team figure is of: `team` is required.
fn one_team(scope: Scope) -> ApiResult<Team> {
    scope.team.ok_or_else(|| ApiError::validation(ValidationError::new("team", "is required")))
}

/// How `commits-without-requests` groups its series: `by`.
fn grouping(q: &FigureParams) -> ApiResult<Grouping> {
    match q.by.as_deref() {
        None | Some("person") => Ok(Grouping::Person),
        Some("team") => Ok(Grouping::Team),
        Some("repository") => Ok(Grouping::Repository),
        Some(_) => Err(ApiError::validation(ValidationError::new("by", "must be person, team or repository"))),
    }
}

figure! {
    /// Counted commits per person: default-branch commits with one parent, not by a bot, by
    /// author date.
    user_commits, "/api/v1/metrics/github/user-commits", "A series per person",
    FiguresBody<UserCommitsSummary>, "metrics.github.user_commits",
    |f: GitHubFigures, s, q| f.user_commits(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Counted commits per team, of its members while they were in it.
    team_commits, "/api/v1/metrics/github/team-commits", "A series per team",
    FiguresBody<TeamCommitsSummary>, "metrics.github.team_commits",
    |f: GitHubFigures, s, q| f.team_commits(s.team.as_ref()).into()
}

figure! {
    /// Active days per person: distinct local dates with a counted commit.
    user_active_days, "/api/v1/metrics/github/user-active-days", "A series per person",
    FiguresBody<EmptySummary>, "metrics.github.user_active_days",
    |f: GitHubFigures, s, q| f.user_active_days(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Active days per team: the sum of its members' active days while in it, and that per
    /// member and week.
    team_active_days, "/api/v1/metrics/github/team-active-days", "A series per team",
    FiguresBody<TeamActiveDaysSummary>, "metrics.github.team_active_days",
    |f: GitHubFigures, s, q| f.team_active_days(s.team.as_ref()).into()
}

figure! {
    /// Pull-request comments per person (review and conversation), on their own pull requests
    /// and on others'.
    user_comments_count, "/api/v1/metrics/github/user-comments-count", "A series per person",
    FiguresBody<UserCommentsSummary>, "metrics.github.user_comments_count",
    |f: GitHubFigures, s, q| f.user_comments(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Impact per person: each counted commit's size as a percentile of its repository's
    /// trailing 90 days, summed.
    user_impact, "/api/v1/metrics/github/user-impact", "A series per person",
    FiguresBody<ImpactSummary>, "metrics.github.user_impact",
    |f: GitHubFigures, s, q| f.user_impact(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Impact per team: its members' impact while in it.
    team_impact, "/api/v1/metrics/github/team-impact", "A series per team",
    FiguresBody<ImpactSummary>, "metrics.github.team_impact",
    |f: GitHubFigures, s, q| f.team_impact(s.team.as_ref()).into()
}

figure! {
    /// A team's members, each with impact, active days and commits per active day (points per
    /// bucket are impact), and the team's percentile among the tenant's teams. Needs `team`.
    team_scores, "/api/v1/metrics/github/team-scores", "A series per member",
    FiguresBody<ScoreSummary>, "metrics.github.team_scores",
    |f: ScoreFigures, s, q| f.0.team_scores(&one_team(s)?, &f.1).into()
}

figure! {
    /// Counted commits that no pull request has, and their share, per person (default), team
    /// or repository (`by`).
    commits_without_requests, "/api/v1/metrics/github/commits-without-requests",
    "A series per person, team or repository",
    FiguresBody<WithoutRequestsSummary>, "metrics.github.commits_without_requests",
    |f: CommitFigures, s, q| {
        f.without_requests(grouping(&q)?, s.user.as_ref(), s.team.as_ref(), q.repository.as_deref()).into()
    }
}

figure! {
    /// Pull-request cycle time by stage (coding, pickup, review, deploy) and whole: medians
    /// and 85th percentiles in hours over the pull requests merged in the window, per team
    /// (its members' pull requests, by the merge's day) or for `user`.
    cycle_time, "/api/v1/metrics/github/cycle-time", "A series per team, or the user's",
    FiguresBody<CycleTimeSummary>, "metrics.github.cycle_time",
    |f: CycleFigures, s, q| f.cycle_time(s.user.as_ref(), s.team.as_ref()).into()
}

/// Every GitHub figure of a team (or of every team) over one window.
#[derive(Debug, Serialize, ToSchema)]
pub struct GitHubDashboard {
    pub team_commits: FiguresBody<TeamCommitsSummary>,
    pub team_active_days: FiguresBody<TeamActiveDaysSummary>,
    pub team_impact: FiguresBody<ImpactSummary>,
    /// Grouped by team.
    pub commits_without_requests: FiguresBody<WithoutRequestsSummary>,
    pub user_commits: FiguresBody<UserCommitsSummary>,
    pub user_active_days: FiguresBody<EmptySummary>,
    pub user_impact: FiguresBody<ImpactSummary>,
    pub user_comments_count: FiguresBody<UserCommentsSummary>,
    /// Only with `team`.
    pub team_scores: Option<FiguresBody<ScoreSummary>>,
    pub cycle_time: FiguresBody<CycleTimeSummary>,
}

/// Every Jira figure of a team (or of every team) over one window.
#[derive(Debug, Serialize, ToSchema)]
pub struct JiraDashboard {
    pub throughput: FiguresBody<ThroughputSummary>,
    pub quality: FiguresBody<QualitySummary>,
    pub estimations: FiguresBody<EstimationsSummary>,
    pub focus: FiguresBody<FocusSummary>,
    /// Only with `team`.
    pub sprints: Option<SprintsBody>,
    /// Only with `team`.
    pub velocity: Option<VelocityBody>,
}

/// What a dashboard shows, in one answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardBody {
    #[schema(value_type = LocalDate)]
    pub from: String,
    #[schema(value_type = LocalDate)]
    pub to: String,
    pub time_zone: String,
    pub granularity: String,
    /// The team asked for; `null`: every team.
    pub team: Option<String>,
    pub github: GitHubDashboard,
    pub jira: JiraDashboard,
}

/// Every team figure over one window in one answer, with the numbers the single endpoints
/// give for the same parameters. The rollups, the commits and the Jira rows are read once,
/// concurrently.
#[utoipa::path(get, path = "/api/v1/metrics/dashboard", tag = "metrics", params(FigureParams),
    responses(
        (status = 200, description = "Every figure of the team, or of every team", body = DashboardBody,
            headers(("ETag" = String, description = "Send back in If-None-Match"))),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 400, description = "A bad window or granularity, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
        (status = 404, description = "No such user or team", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FigureParams>,
) -> ApiResult<Response> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "metrics.dashboard").await?;
    let window = q.window()?;
    let metrics = Metrics { db: &ctx.db };
    let (roster, settings) = Roster::load_with_settings(&metrics).await?;
    let scope = q.scope(&roster)?;
    let team = scope.team.as_ref();
    let d = Dashboard::load(&metrics, window, &roster, &settings, scope.user.as_ref(), team).await?;
    let body = DashboardBody {
        from: window.from.to_string(),
        to: window.to.to_string(),
        time_zone: d.time_zone,
        granularity: window.granularity.as_str().to_owned(),
        team: team.map(|t| t.id.clone()),
        github: GitHubDashboard {
            team_commits: d.team_commits.into(),
            team_active_days: d.team_active_days.into(),
            team_impact: d.team_impact.into(),
            commits_without_requests: d.commits_without_requests.into(),
            user_commits: d.user_commits.into(),
            user_active_days: d.user_active_days.into(),
            user_impact: d.user_impact.into(),
            user_comments_count: d.user_comments.into(),
            team_scores: d.team_scores.map(Into::into),
            cycle_time: d.cycle_time.into(),
        },
        jira: JiraDashboard {
            throughput: d.throughput.into(),
            quality: d.quality.into(),
            estimations: d.estimations.into(),
            focus: d.focus.into(),
            sprints: d.sprints.map(Into::into),
            velocity: d.velocity.map(Into::into),
        },
    };
    tagged(&headers, &body)
}

// DORA ------------------------------------------------------------------------------------

/// `?from=&to=&granularity=&team=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DoraParams {
    /// The window's first local date.
    #[param(value_type = LocalDate)]
    pub from: String,
    /// The day after the window's last (half-open); at most 1,098 days after `from`.
    #[param(value_type = LocalDate)]
    pub to: String,
    /// `day`, `week` (ISO, from Monday; the default) or `month`: the points' buckets.
    pub granularity: Option<String>,
    /// Only this team; without it, every team's members and incidents together.
    #[param(value_type = Option<UuidText>)]
    pub team: Option<String>,
}

/// A DORA performance level (the 2023 report's clusters); `null` when there is nothing to
/// rate.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelBody {
    Elite,
    High,
    Medium,
    Low,
}

impl From<Level> for LevelBody {
    fn from(l: Level) -> Self {
        match l {
            Level::Elite => LevelBody::Elite,
            Level::High => LevelBody::High,
            Level::Medium => LevelBody::Medium,
            Level::Low => LevelBody::Low,
        }
    }
}

fn points_body(points: Vec<cairn_metrics::figures::Point>) -> Vec<PointBody> {
    points.into_iter().map(|p| PointBody { start: p.start.to_string(), value: p.value }).collect()
}

/// Deployments of the team made in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentFrequencyBody {
    #[serde(serialize_with = "serialize_number")]
    pub deployments: f64,
    /// Local days with a deployment.
    #[serde(serialize_with = "serialize_number")]
    pub deployment_days: f64,
    /// `deployments ÷ (window days ÷ 7)`.
    #[serde(serialize_with = "serialize_number")]
    pub per_week: f64,
    /// The lower median of the deployment days of each ISO week of the window.
    #[serde(serialize_with = "serialize_number")]
    pub median_days_per_week: f64,
    /// The lower median over the window's months of 1 (a deployment that month) or 0.
    #[serde(serialize_with = "serialize_number")]
    pub median_months_deployed: f64,
    pub level: Option<LevelBody>,
    /// Deployments per bucket.
    pub points: Vec<PointBody>,
}

impl From<DeploymentFrequency> for DeploymentFrequencyBody {
    fn from(d: DeploymentFrequency) -> Self {
        DeploymentFrequencyBody {
            deployments: d.deployments,
            deployment_days: d.deployment_days,
            per_week: d.per_week,
            median_days_per_week: d.median_days_per_week,
            median_months_deployed: d.median_months_deployed,
            level: d.level.map(Into::into),
            points: points_body(d.points),
        }
    }
}

/// Changes (merged pull requests) shipped in the window: first commit, else creation, to the
/// deployment that shipped them.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadTimeBody {
    #[serde(serialize_with = "serialize_number")]
    pub changes: f64,
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub median_hours: Option<f64>,
    /// Nearest rank.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub p85_hours: Option<f64>,
    pub level: Option<LevelBody>,
    /// Each bucket's median in hours, by the deployment's day.
    pub points: Vec<PointBody>,
}

impl From<LeadTime> for LeadTimeBody {
    fn from(l: LeadTime) -> Self {
        LeadTimeBody {
            changes: l.changes,
            median_hours: l.median_hours,
            p85_hours: l.p85_hours,
            level: l.level.map(Into::into),
            points: points_body(l.points),
        }
    }
}

/// The share of the team's deployments after which one of its incidents was opened before
/// its next deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeFailureRateBody {
    #[serde(serialize_with = "serialize_number")]
    pub deployments: f64,
    #[serde(serialize_with = "serialize_number")]
    pub failed: f64,
    /// `failed ÷ deployments`; `null` without a deployment.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub rate: Option<f64>,
    pub level: Option<LevelBody>,
    /// Each bucket's rate, by the deployment's day.
    pub points: Vec<PointBody>,
}

impl From<ChangeFailureRate> for ChangeFailureRateBody {
    fn from(c: ChangeFailureRate) -> Self {
        ChangeFailureRateBody {
            deployments: c.deployments,
            failed: c.failed,
            rate: c.rate,
            level: c.level.map(Into::into),
            points: points_body(c.points),
        }
    }
}

/// The team's incidents resolved in the window: creation to resolution.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeToRestoreBody {
    #[serde(serialize_with = "serialize_number")]
    pub incidents: f64,
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub median_hours: Option<f64>,
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub p85_hours: Option<f64>,
    pub level: Option<LevelBody>,
    /// Each bucket's median in hours, by the resolution's day.
    pub points: Vec<PointBody>,
}

impl From<TimeToRestore> for TimeToRestoreBody {
    fn from(t: TimeToRestore) -> Self {
        TimeToRestoreBody {
            incidents: t.incidents,
            median_hours: t.median_hours,
            p85_hours: t.p85_hours,
            level: t.level.map(Into::into),
            points: points_body(t.points),
        }
    }
}

/// DORA's four keys of a team, or of every team.
#[derive(Debug, Serialize, ToSchema)]
pub struct DoraBody {
    /// `dora`.
    pub metric: String,
    #[schema(value_type = LocalDate)]
    pub from: String,
    #[schema(value_type = LocalDate)]
    pub to: String,
    pub time_zone: String,
    pub granularity: String,
    /// The team asked for; `null`: every team.
    pub team: Option<String>,
    pub deployment_frequency: DeploymentFrequencyBody,
    pub lead_time: LeadTimeBody,
    pub change_failure_rate: ChangeFailureRateBody,
    pub time_to_restore: TimeToRestoreBody,
}

impl From<Dora> for DoraBody {
    fn from(d: Dora) -> Self {
        DoraBody {
            metric: "dora".to_owned(),
            from: d.window.from.to_string(),
            to: d.window.to.to_string(),
            time_zone: d.time_zone,
            granularity: d.window.granularity.as_str().to_owned(),
            team: d.team,
            deployment_frequency: d.deployment_frequency.into(),
            lead_time: d.lead_time.into(),
            change_failure_rate: d.change_failure_rate.into(),
            time_to_restore: d.time_to_restore.into(),
        }
    }
}

/// DORA's four keys over a window: deployment frequency, lead time for changes, change
/// failure rate and time to restore, each with its level. Deployments are successful GitHub
/// deployments to a production environment (else releases); a team's are those that ship
/// its members' pull requests; incidents are the Jira issues the metrics settings name.
#[utoipa::path(get, path = "/api/v1/metrics/dora", tag = "metrics", params(DoraParams),
    responses(
        (status = 200, description = "The team's four keys, or every team's", body = DoraBody,
            headers(("ETag" = String, description = "Send back in If-None-Match"))),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 400, description = "A bad window or granularity, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn dora(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<DoraParams>,
) -> ApiResult<Response> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "metrics.dora").await?;
    let window = Window::parse(&q.from, &q.to, q.granularity.as_deref())?;
    let metrics = Metrics { db: &ctx.db };
    let (roster, settings) = Roster::load_with_settings(&metrics).await?;
    let team = q.team.as_deref().map(|t| find_team(&roster, t)).transpose()?;
    let figures = DoraFigures::load(&metrics, window, roster, &settings, team.as_ref()).await?;
    tagged(&headers, &DoraBody::from(figures.dora(team.as_ref())))
}

// Jira ------------------------------------------------------------------------------------

/// One issue type's resolved issues.
#[derive(Debug, Serialize, ToSchema)]
pub struct TypeThroughputBody {
    pub issue_type: String,
    #[serde(serialize_with = "serialize_number")]
    pub total: f64,
    /// One per ISO week of the window, whatever the granularity.
    pub points: Vec<PointBody>,
}

/// `jira/throughput`: `total` is the team's resolved issues (not sub-tasks).
#[derive(Debug, Serialize, ToSchema)]
pub struct ThroughputSummary {
    /// Per issue type, by name.
    pub by_type: Vec<TypeThroughputBody>,
}

impl From<Throughput> for ThroughputSummary {
    fn from(t: Throughput) -> Self {
        ThroughputSummary {
            by_type: t
                .by_type
                .into_iter()
                .map(|b| TypeThroughputBody {
                    issue_type: b.issue_type,
                    total: b.total,
                    points: b
                        .points
                        .into_iter()
                        .map(|p| PointBody { start: p.start.to_string(), value: p.value })
                        .collect(),
                })
                .collect(),
        }
    }
}

summary!(
    /// `jira/quality`: `total` is the bug share, `bugs ÷ resolved`.
    QualitySummary from Quality {
        /// Resolved issues of type Bug.
        bugs,
        /// The resolved set's size.
        resolved
    }
);
summary!(
    /// `jira/estimations`: `total` is the median of spent ÷ original estimate.
    EstimationsSummary from Estimations {
        /// Share of the ratios within 0.75–1.25.
        within_25pct,
        /// `(Σ spent − Σ estimate) ÷ Σ estimate`.
        effort_variance,
        /// Share of the resolved set with no or a zero estimate.
        no_estimate_share,
        /// Resolved issues with an estimate and time spent.
        issues
    }
);
summary!(
    /// `jira/focus`: `total` is `planned_seconds ÷ all_seconds`.
    FocusSummary from Focus {
        /// Worklog time on issues in an active sprint of the team's board at the time.
        planned_seconds,
        /// All the team's worklog time.
        all_seconds,
        /// `1 − focus` (0 without worklogs).
        unplanned
    }
);

/// One sprint of the team's board. Instants are RFC 3339; figures are story points.
#[derive(Debug, Serialize, ToSchema)]
pub struct SprintBody {
    pub id: i64,
    pub name: String,
    /// `future`, `active` or `closed`.
    pub state: String,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Closed sprints only.
    pub completed_at: Option<String>,
    /// Points at the start of the issues in the sprint then (a snapshot, never rebuilt).
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub commitment: Option<f64>,
    /// Points of the issues in the sprint at its completion that were done then.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub completed: Option<f64>,
    /// Points of issues in the sprint at its completion (now, while active) but not at its
    /// start.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub added: Option<f64>,
    /// Points at the start of issues in the sprint then but not at its completion (now,
    /// while active).
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub removed: Option<f64>,
    /// `completed ÷ commitment`.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub say_do: Option<f64>,
}

impl From<SprintFigures> for SprintBody {
    fn from(s: SprintFigures) -> Self {
        SprintBody {
            id: s.id,
            name: s.name,
            state: s.state.as_str().to_owned(),
            start: s.start.map(cairn_domain::rfc3339),
            end: s.end.map(cairn_domain::rfc3339),
            completed_at: s.completed_at.map(cairn_domain::rfc3339),
            commitment: s.commitment,
            completed: s.completed,
            added: s.added,
            removed: s.removed,
            say_do: s.say_do,
        }
    }
}

/// `jira/sprints`: the team's sprints that overlap the window, by start.
#[derive(Debug, Serialize, ToSchema)]
pub struct SprintsBody {
    /// `jira/sprints`.
    pub metric: String,
    /// The team's id.
    pub team: String,
    pub sprints: Vec<SprintBody>,
}

impl From<TeamSprints> for SprintsBody {
    fn from(t: TeamSprints) -> Self {
        SprintsBody {
            metric: t.metric.to_owned(),
            team: t.team,
            sprints: t.sprints.into_iter().map(SprintBody::from).collect(),
        }
    }
}

/// `jira/velocity`: the team's closed sprints completed in the window, and its velocity as of
/// the window's end.
#[derive(Debug, Serialize, ToSchema)]
pub struct VelocityBody {
    /// `jira/velocity`.
    pub metric: String,
    /// The team's id.
    pub team: String,
    pub sprints: Vec<SprintBody>,
    /// Mean completed over the last 3 closed sprints completed before `to`; null without one.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub velocity: Option<f64>,
    /// `velocity ÷` the mean completed of the 3 closed sprints before those; null when there
    /// are fewer or they completed nothing.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub trend: Option<f64>,
    /// Σ completed ÷ Σ commitment over the sprints of `velocity`.
    #[serde(serialize_with = "serialize_opt_number")]
    #[schema(value_type = Option<f64>)]
    pub say_do: Option<f64>,
}

impl From<Velocity> for VelocityBody {
    fn from(v: Velocity) -> Self {
        let sprints = SprintsBody::from(v.sprints);
        VelocityBody {
            metric: sprints.metric,
            team: sprints.team,
            sprints: sprints.sprints,
            velocity: v.velocity,
            trend: v.trend,
            say_do: v.say_do,
        }
    }
}

figure! {
    /// A team's sprints that overlap the window: commitment, completed, added and removed
    /// story points, and say/do.
    jira_sprints, "/api/v1/metrics/jira/sprints", "The team's sprints",
    SprintsBody, "metrics.jira.sprints",
    |f: JiraFigures, s, q| f.sprints(&one_team(s)?).into()
}

figure! {
    /// A team's velocity: mean completed points of its last 3 closed sprints, the trend against
    /// the 3 before, and the closed sprints completed in the window.
    jira_velocity, "/api/v1/metrics/jira/velocity", "The team's velocity and closed sprints",
    VelocityBody, "metrics.jira.velocity",
    |f: JiraFigures, s, q| f.velocity(&one_team(s)?).into()
}

figure! {
    /// Resolved issues per team (not sub-tasks, by resolution date), per issue type and ISO week.
    jira_throughput, "/api/v1/metrics/jira/throughput", "A series per team",
    FiguresBody<ThroughputSummary>, "metrics.jira.throughput",
    |f: JiraFigures, s, q| f.throughput(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Bug share per team: resolved bugs ÷ resolved issues.
    jira_quality, "/api/v1/metrics/jira/quality", "A series per team",
    FiguresBody<QualitySummary>, "metrics.jira.quality",
    |f: JiraFigures, s, q| f.quality(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Estimation accuracy per team: time spent ÷ original estimate of resolved issues.
    jira_estimations, "/api/v1/metrics/jira/estimations", "A series per team",
    FiguresBody<EstimationsSummary>, "metrics.jira.estimations",
    |f: JiraFigures, s, q| f.estimations(s.user.as_ref(), s.team.as_ref()).into()
}

figure! {
    /// Focus per team: the share of its members' worklog time on issues in an active sprint of
    /// the team's board at the time.
    jira_focus, "/api/v1/metrics/jira/focus", "A series per team",
    FiguresBody<FocusSummary>, "metrics.jira.focus",
    |f: JiraFigures, s, q| f.focus(s.user.as_ref(), s.team.as_ref()).into()
}
