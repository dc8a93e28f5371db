//! Engineering metrics over HTTP: teams (admins change them, `readonly` and up read them)
//! and the tenant's metrics settings.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cairn_domain::{Role, rfc3339};
use cairn_metrics::teams::Member;
use cairn_metrics::{Metrics, MetricsError, SettingsInput, TeamId};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{DisplayName, Page, PageParams, UuidPageParams, UuidText, string_schema};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Caller};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team, list_teams))
        .routes(routes!(get_team, update_team, delete_team))
        .routes(routes!(get_metrics_settings, put_metrics_settings))
}

/// An email address as `Email::parse` reads it, stated by its pattern.
struct EmailText;

impl PartialSchema for EmailText {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "An email address; compared in lower case.",
            Some((3, 254)),
            Some(
                r"^[\x21\x23-\x2b\x2d-\x3a\x3d\x3f\x41-\x5b\x5d-\x7e]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*$",
            ),
            None,
        )
    }
}

impl ToSchema for EmailText {
    fn name() -> Cow<'static, str> {
        "EmailText".into()
    }
}

/// A GitHub login, as `parse_login` reads it.
struct GithubLogin;

impl PartialSchema for GithubLogin {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "A GitHub login (GitHub Enterprise Server's too), a bot's with `[bot]`: letters, digits, `-`, `_` and \
             `.`, not starting with `-` or `.`; compared in lower case.",
            Some((1, 100)),
            Some(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(\[bot\])?$"),
            None,
        )
    }
}

impl ToSchema for GithubLogin {}

/// A local date in the tenant's metrics time zone.
pub(super) struct LocalDate;

impl PartialSchema for LocalDate {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "A date, YYYY-MM-DD, in the tenant's metrics time zone.",
            Some((10, 10)),
            Some(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
            Some("date"),
        )
    }
}

impl ToSchema for LocalDate {}

/// A team member as a request gives it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    /// 1–100 characters, not blank, no control characters; stored trimmed.
    #[schema(value_type = DisplayName)]
    pub name: String,
    /// The person is known by this email (or any of their other emails).
    #[schema(value_type = EmailText)]
    pub email: String,
    /// Other addresses their commits carry: a commit without a GitHub author counts for
    /// the person one of whose emails is its author's. At most 10.
    #[serde(default)]
    #[schema(value_type = Vec<EmailText>, max_items = 10)]
    pub other_emails: Vec<String>,
    #[schema(value_type = Option<GithubLogin>)]
    pub github_login: Option<String>,
    /// The person's Jira Cloud account id.
    #[schema(pattern = r"^[A-Za-z0-9:_-]{1,128}$", max_length = 128)]
    pub jira_account_id: Option<String>,
    /// The first day in the team.
    #[schema(value_type = LocalDate)]
    pub from: String,
    /// The first day no longer in the team; `null`: still in it. After `from`.
    #[schema(value_type = Option<LocalDate>)]
    pub to: Option<String>,
}

impl MemberBody {
    fn draft(self) -> cairn_metrics::MemberDraft {
        cairn_metrics::MemberDraft {
            name: self.name,
            email: self.email,
            other_emails: self.other_emails,
            github_login: self.github_login,
            jira_account_id: self.jira_account_id,
            from: self.from,
            to: self.to,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    /// Unique in the tenant regardless of case.
    #[schema(value_type = DisplayName)]
    pub name: String,
    /// Who is in the team over which dates, at most 500 entries. A person is in one team
    /// at a time: their intervals never overlap, in this team or any other.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub members: Vec<MemberBody>,
    /// The Jira board the team owns (its sprints are the team's); one team per board.
    #[serde(default, deserialize_with = "super::whole_or_null")]
    #[schema(minimum = 1)]
    pub board: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    #[schema(value_type = Option<DisplayName>)]
    pub name: Option<String>,
    /// Replaces the whole member list.
    #[schema(max_items = 500)]
    pub members: Option<Vec<MemberBody>>,
    /// `null` removes the team's board.
    #[serde(default, deserialize_with = "present_board")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub board: Option<Option<i64>>,
}

/// A board that is present, `null` included (`Some(None)`), as opposed to absent (`None`).
fn present_board<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    super::whole_or_null(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamMember {
    /// The person's id: the same in every team they were in.
    pub person_id: String,
    pub name: String,
    pub email: String,
    pub other_emails: Vec<String>,
    pub github_login: Option<String>,
    pub jira_account_id: Option<String>,
    #[schema(value_type = LocalDate)]
    pub from: String,
    #[schema(value_type = Option<LocalDate>)]
    pub to: Option<String>,
}

impl From<Member> for TeamMember {
    fn from(m: Member) -> Self {
        TeamMember {
            person_id: m.person_id,
            name: m.name,
            email: m.email,
            other_emails: m.other_emails,
            github_login: m.github_login,
            jira_account_id: m.jira_account_id,
            from: m.from.to_string(),
            to: m.to.map(|d| d.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub board: Option<i64>,
    /// In the order given.
    pub members: Vec<TeamMember>,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl From<cairn_metrics::Team> for Team {
    fn from(t: cairn_metrics::Team) -> Self {
        Team {
            id: t.id,
            name: t.name,
            board: t.board,
            members: t.members.into_iter().map(Into::into).collect(),
            created_at: rfc3339(t.created_at),
            created_by: t.created_by,
            updated_at: rfc3339(t.updated_at),
            updated_by: t.updated_by,
        }
    }
}

/// The team a path names; an id that cannot exist names none.
fn team_id(id: &str) -> Result<TeamId, MetricsError> {
    TeamId::parse(id, "id").map_err(|_| MetricsError::NotFound("team"))
}

/// Create a team.
#[utoipa::path(post, path = "/api/v1/metrics/teams", tag = "metrics",
    request_body = CreateTeam,
    responses(
        (status = 201, description = "Created", body = Team),
        (status = 400, description = "Invalid body, naming the field (e.g. `members[0].from` for an interval \
            that overlaps the person's membership of another team)", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 409, description = "A team has this name, or owns this board", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTeam>,
) -> ApiResult<(StatusCode, Json<Team>)> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_team.create").await?;
    let draft = cairn_metrics::TeamDraft {
        name: body.name,
        board: body.board,
        members: body.members.into_iter().map(MemberBody::draft).collect(),
    };
    let team = Metrics { db: &ctx.db }.create_team(&draft, &ctx.actor(), &ctx.meta).await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// List teams, in creation order.
#[utoipa::path(get, path = "/api/v1/metrics/teams", tag = "metrics",
    params(UuidPageParams),
    responses(
        (status = 200, description = "A page of teams", body = Page<Team>),
        (status = 400, description = "Invalid limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_teams(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Page<Team>>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "metrics_team.list").await?;
    let limit = q.limit()?;
    let after = q.cursor.as_deref().map(|c| TeamId::parse(c, "cursor")).transpose()?;
    let page = Metrics { db: &ctx.db }.teams(limit, after.as_ref()).await?;
    Ok(Json(Page { items: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/metrics/teams/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Team id")),
    responses(
        (status = 200, description = "The team", body = Team),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_team(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Team>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "metrics_team.read").await?;
    Ok(Json(Metrics { db: &ctx.db }.team(&team_id(&id)?).await?.into()))
}

/// Change a team's name, board or members.
#[utoipa::path(patch, path = "/api/v1/metrics/teams/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Team id")),
    request_body = UpdateTeam,
    responses(
        (status = 200, description = "The team, changed", body = Team),
        (status = 400, description = "Invalid body, naming the field", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
        (status = 409, description = "Another team has this name, or owns this board", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTeam>,
) -> ApiResult<Json<Team>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_team.update").await?;
    let id = team_id(&id)?;
    let draft = cairn_metrics::TeamPatchDraft {
        name: body.name,
        board: body.board,
        members: body.members.map(|m| m.into_iter().map(MemberBody::draft).collect()),
    };
    Ok(Json(Metrics { db: &ctx.db }.update_team(&id, &draft, &ctx.actor(), &ctx.meta).await?.into()))
}

/// Delete a team; its people who are in no other team are forgotten.
#[utoipa::path(delete, path = "/api/v1/metrics/teams/{id}", tag = "metrics",
    params(("id" = UuidText, Path, description = "Team id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
        (status = 404, description = "No such team", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn delete_team(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_team.delete").await?;
    Metrics { db: &ctx.db }.delete_team(&team_id(&id)?, &ctx.actor(), &ctx.meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's metrics settings, all of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettingsBody {
    /// An IANA time zone this server knows, e.g. `Europe/Bratislava`: days, weeks and the
    /// schedule are counted in it. A new zone rebuilds the daily rollups.
    #[schema(pattern = r"^[A-Za-z0-9/_+-]{1,64}$", example = "Europe/Bratislava")]
    pub time_zone: String,
    /// Each run re-reads this many trailing days: 1–365, at most `backfill_days`.
    #[serde(deserialize_with = "super::whole")]
    #[schema(minimum = 1, maximum = 365)]
    pub reload_days: i64,
    /// A source's first run reads this many days back: 1–3650.
    #[serde(deserialize_with = "super::whole")]
    #[schema(minimum = 1, maximum = 3650)]
    pub backfill_days: i64,
    /// When runs start: five cron fields (minute hour day-of-month month day-of-week) or
    /// `@daily`, `@weekly`, …, in `time_zone`; at most once an hour.
    #[schema(min_length = 1, max_length = 100, example = "0 2 * * *")]
    pub schedule: String,
    /// Logins that are bots besides every `…[bot]` login, at most 100: their activity
    /// counts nowhere.
    #[schema(value_type = Vec<GithubLogin>, max_items = 100)]
    pub bots: Vec<String>,
    /// Jira issue types whose issues are incidents (DORA), at most 50; absent: `["Incident"]`.
    #[schema(max_items = 50)]
    pub incident_types: Option<Vec<String>>,
    /// Jira labels that make an issue an incident, at most 50; absent: `["incident"]`.
    #[schema(max_items = 50)]
    pub incident_labels: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsSettings {
    pub time_zone: String,
    pub reload_days: i64,
    pub backfill_days: i64,
    pub schedule: String,
    pub bots: Vec<String>,
    pub incident_types: Vec<String>,
    pub incident_labels: Vec<String>,
    /// RFC 3339, UTC; the epoch while the defaults stand.
    pub updated_at: String,
    /// Who set them last; `cairn` for the defaults.
    pub updated_by: String,
}

impl From<cairn_metrics::Settings> for MetricsSettings {
    fn from(s: cairn_metrics::Settings) -> Self {
        MetricsSettings {
            time_zone: s.time_zone.as_str().to_owned(),
            reload_days: s.reload_days,
            backfill_days: s.backfill_days,
            schedule: s.schedule.as_str().to_owned(),
            bots: s.bots,
            incident_types: s.incident_types,
            incident_labels: s.incident_labels,
            updated_at: rfc3339(s.updated_at),
            updated_by: s.updated_by,
        }
    }
}

/// The tenant's metrics settings.
#[utoipa::path(get, path = "/api/v1/metrics/settings", tag = "metrics",
    responses(
        (status = 200, description = "The settings", body = MetricsSettings),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires readonly", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_metrics_settings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MetricsSettings>> {
    let ctx = caller.in_tenant(&state, Role::Readonly, "metrics_settings.read").await?;
    Ok(Json(Metrics { db: &ctx.db }.settings().await?.into()))
}

/// Replace the tenant's metrics settings.
#[utoipa::path(put, path = "/api/v1/metrics/settings", tag = "metrics",
    request_body = MetricsSettingsBody,
    responses(
        (status = 200, description = "Saved", body = MetricsSettings),
        (status = 400, description = "Invalid value, naming the field (an unknown time zone, a schedule that is \
            not a cron expression or fires more than once an hour, days out of range)", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Requires admin", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_metrics_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<MetricsSettingsBody>,
) -> ApiResult<Json<MetricsSettings>> {
    let ctx = caller.in_tenant(&state, Role::Admin, "metrics_settings.update").await?;
    let defaults = |d: &[&str]| d.iter().map(|v| (*v).to_owned()).collect::<Vec<String>>();
    let types = body.incident_types.unwrap_or_else(|| defaults(&cairn_metrics::settings::DEFAULT_INCIDENT_TYPES));
    let labels = body.incident_labels.unwrap_or_else(|| defaults(&cairn_metrics::settings::DEFAULT_INCIDENT_LABELS));
    let input =
        SettingsInput::parse(&body.time_zone, body.reload_days, body.backfill_days, &body.schedule, &body.bots)?
            .incidents(&types, &labels)?;
    Ok(Json(Metrics { db: &ctx.db }.update_settings(input, &ctx.actor(), &ctx.meta).await?.into()))
}
