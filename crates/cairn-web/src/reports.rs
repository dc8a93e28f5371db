//! What the reports API and the reports page share: a request's checks, the role each kind
//! needs, and a ready report's download link.

use cairn_domain::{Role, ValidationError, now_ms};
use cairn_metrics::figures::{Roster, Window};
use cairn_metrics::{Metrics, TeamId};
use cairn_reports::jobs::{Job, JobRequest, Kind};
use cairn_reports::objects::LinkSigning;
use cairn_reports::schedules::ScheduleInput;
use cairn_reports::settings::ReportSettings;

use crate::AppState;

/// The role a kind of report needs: members for a team's, admins for the audit trail's and
/// the instances'.
pub(crate) fn required(kind: Kind) -> Role {
    match kind {
        Kind::Team => Role::Member,
        Kind::Audit | Kind::Instances => Role::Admin,
    }
}

/// Why a report request is refused.
pub(crate) enum Refused {
    Invalid(ValidationError),
    /// The team named does not exist.
    NoTeam(String),
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
    Ok(team_of(db, kind, team).await?.map(|team_id| JobRequest { kind, team_id, from: window.from, to: window.to }))
}

/// The team a report of `kind` is about: required for a team report, and one that exists;
/// none for the others.
pub(crate) async fn team_of(
    db: &cairn_store::Db,
    kind: Kind,
    team: Option<&str>,
) -> Result<Result<Option<String>, Refused>, cairn_metrics::MetricsError> {
    let invalid = |field: &str, message: &str| Ok(Err(Refused::Invalid(ValidationError::new(field, message))));
    Ok(Ok(match (kind, team) {
        (Kind::Team, None) => return invalid("team", "is required for a team report"),
        (Kind::Team, Some(t)) => {
            let roster = Roster::load(&Metrics { db }).await?;
            let id = TeamId::parse(t, "team").map(|id| id.to_string()).ok();
            match id.filter(|id| roster.teams.iter().any(|x| &x.id == id)) {
                Some(id) => Some(id),
                None => return Ok(Err(Refused::NoTeam(t.to_owned()))),
            }
        }
        (Kind::Audit | Kind::Instances, Some(_)) => return invalid("team", "is only for a team report"),
        (Kind::Audit | Kind::Instances, None) => None,
    }))
}

/// A schedule checked as the API and the reports page check it: its kind's team, its cron
/// expression, period and recipients.
pub(crate) async fn schedule_checked(
    db: &cairn_store::Db,
    kind: Kind,
    team: Option<&str>,
    cron: &str,
    period: &str,
    recipients: &[String],
) -> Result<Result<ScheduleInput, Refused>, cairn_metrics::MetricsError> {
    let team_id = match team_of(db, kind, team).await? {
        Ok(t) => t,
        Err(r) => return Ok(Err(r)),
    };
    Ok(ScheduleInput::parse(kind, team_id, cron, period, recipients).map_err(Refused::Invalid))
}

/// A ready report's download link and when it expires: the tenant's `link_days`, at most the
/// report's expiry (a presigned URL when reports are kept in S3). `None` for a report that is
/// not ready, or when the store cannot sign one (logged).
pub(crate) async fn link(state: &AppState, tenant: &str, j: &Job, settings: &ReportSettings) -> Option<(String, i64)> {
    let signing = LinkSigning { key: state.store.master_key(), public_url: &state.config.public_url, tenant };
    match state.reports.link(&signing, j, settings.link_days, now_ms()).await {
        Ok(link) => link,
        Err(e) => {
            tracing::warn!(report = %j.id, error = %e, "a report's download link could not be made");
            None
        }
    }
}
