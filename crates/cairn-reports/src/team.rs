//! The team engineering report: a team's metrics over a period — commits, active days,
//! impact, members, comments, cycle time, velocity and sprints, throughput, bug share,
//! estimation, focus and DORA — each chart with its numbers in a table. The charts are the
//! dashboard's ([`cairn_metrics::panels`]), computed by the same figures, so a report and the
//! team's dashboard page for the same period show the same numbers.

use cairn_charts::{Unit, format_value};
use cairn_metrics::figures::dashboard::Dashboard;
use cairn_metrics::figures::dora::DoraFigures;
use cairn_metrics::figures::{Roster, Window};
use cairn_metrics::panels::{NoLinks, count, dora_data, only, percent, team_data};
use cairn_metrics::{Metrics, TeamId};

use crate::kinds::{Letterhead, ReportError, data_section, period_text};
use crate::pdf::{Block, Report, Section};

/// The report of team `team` (its id) over `window`, generated at `now` (epoch ms).
pub async fn team_report(
    metrics: &Metrics<'_>,
    team: &str,
    window: Window,
    head: &Letterhead,
    now: i64,
) -> Result<Report, ReportError> {
    let (roster, settings) = Roster::load_with_settings(metrics).await?;
    let missing = || ReportError::NotFound(format!("team {team:?}"));
    let id = TeamId::parse(team, "team").map_err(|_| missing())?.to_string();
    let team = roster.teams.iter().find(|t| t.id == id).cloned().ok_or_else(missing)?;
    let (d, dora) = tokio::try_join!(
        Dashboard::load(metrics, window, &roster, &settings, None, Some(&team)),
        DoraFigures::load(metrics, window, roster.clone(), &settings, Some(&team)),
    )?;
    let zone = settings.time_zone.zone().clone();

    let mut facts = Vec::new();
    if let Some(t) = only(&d.team_commits) {
        facts.push(("Commits".to_owned(), format_value(t.total, &Unit::Count)));
        facts.push(("Active authors".to_owned(), format_value(t.summary.active_authors, &Unit::Count)));
    }
    if let Some(h) = only(&d.cycle_time).and_then(|c| c.summary.cycle.median_hours) {
        facts.push(("Cycle time (median)".to_owned(), format_value(h * 3600.0, &Unit::Seconds)));
    }
    if let Some(v) = d.velocity.as_ref().and_then(|v| v.velocity) {
        facts.push(("Velocity".to_owned(), format_value(v, &Unit::Plain)));
    }
    if let Some(s) = d.velocity.as_ref().and_then(|v| v.say_do) {
        facts.push(("Say/do".to_owned(), format_value(percent(s), &Unit::Percent)));
    }
    if let Some(t) = only(&d.throughput) {
        facts.push(("Issues resolved".to_owned(), format_value(t.total, &Unit::Count)));
    }
    let members = roster.members_between(&team, window.from, window.to).len() as f64;
    let summary = Section {
        title: "Summary".to_owned(),
        blocks: vec![
            Block::Facts(facts),
            Block::Paragraph(format!(
                "{} over the period, in {} time, by {}. Each figure follows the definitions in Cairn's metrics documentation; the same figures answer the team's dashboard and the metrics API.",
                count(members, "member", "members"),
                settings.time_zone.as_str(),
                window.granularity.as_str().replace("week", "ISO week"),
            )),
        ],
    };
    let mut data = team_data(&d, &team, &NoLinks);
    data.extend(dora_data(&dora.dora(Some(&team)), &window));
    let mut sections = vec![summary];
    sections.extend(data.iter().map(|d| data_section(d, "Nothing in this period")));
    Ok(Report {
        title: "Team engineering report".to_owned(),
        subject: team.name.clone(),
        tenant: head.tenant.clone(),
        accent: head.accent.clone(),
        period: period_text(window.from, window.to),
        generated: jiff::Timestamp::from_millisecond(now).unwrap_or_default().to_zoned(zone.time_zone().clone()),
        sections,
    })
}
