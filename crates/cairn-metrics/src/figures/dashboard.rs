//! Every team figure over one window, read once: the dashboard call and the dashboard pages
//! answer from it. The rollups, the counted commits, the merged pull requests, the Jira rows
//! and, for one team, everyone's impact (which ranks the team) are read concurrently (the
//! team's rows only, when there is one); each figure is then the one its single endpoint
//! computes.

use super::commits::{CommitFigures, Grouping, WithoutRequests};
use super::cycle::{CycleFigures, CycleTime};
use super::github::{
    GitHubFigures, Impact, NoSummary, Score, TeamActiveDays, TeamCommits, TeamRanking, UserComments, UserCommits,
};
use super::jira::{Estimations, Focus, JiraFigures, Quality, TeamSprints, Throughput, Velocity};
use super::{Figures, Person, Roster, Window};
use crate::teams::Team;
use crate::{Metrics, MetricsError, Settings};

/// The figures of a team (or of every team), optionally narrowed to one person.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub window: Window,
    pub time_zone: String,
    pub team_commits: Figures<TeamCommits>,
    pub team_active_days: Figures<TeamActiveDays>,
    pub team_impact: Figures<Impact>,
    /// Grouped by team.
    pub commits_without_requests: Figures<WithoutRequests>,
    pub user_commits: Figures<UserCommits>,
    pub user_active_days: Figures<NoSummary>,
    pub user_impact: Figures<Impact>,
    pub user_comments: Figures<UserComments>,
    /// Only for one team.
    pub team_scores: Option<Figures<Score>>,
    pub cycle_time: Figures<CycleTime>,
    pub throughput: Figures<Throughput>,
    pub quality: Figures<Quality>,
    pub estimations: Figures<Estimations>,
    pub focus: Figures<Focus>,
    /// Only for one team.
    pub sprints: Option<TeamSprints>,
    /// Only for one team.
    pub velocity: Option<Velocity>,
}

impl Dashboard {
    /// Reads the window's rows once, concurrently, and computes every figure for `team`
    /// (every team when `None`) and `user` (every member when `None`).
    pub async fn load(
        metrics: &Metrics<'_>,
        window: Window,
        roster: &Roster,
        settings: &Settings,
        user: Option<&Person>,
        team: Option<&Team>,
    ) -> Result<Dashboard, MetricsError> {
        let zone = settings.time_zone.zone().clone();
        let time_zone = settings.time_zone.as_str().to_owned();
        let (start, end) = (zone.start_ms(window.from), zone.start_ms(window.to));
        // The team's rows only; everyone's impact to rank the team.
        let keys = roster.keys_of(None, team, window.from, window.to);
        let (days, counted, merged, jira, ranking) = tokio::try_join!(
            metrics.person_days_between(window.from, window.to, keys.as_deref()),
            metrics.counted_commits(start, end, keys.as_deref()),
            metrics.merged_pull_requests(start, end, keys.as_deref()),
            JiraFigures::read(metrics, window, roster.clone(), settings, team),
            async {
                match team {
                    Some(_) => TeamRanking::read(metrics, window, roster).await.map(Some),
                    None => Ok(None),
                }
            },
        )?;
        let rollups = GitHubFigures::new(roster.clone(), window, time_zone.clone(), days);
        let commits = CommitFigures::new(roster.clone(), window, time_zone.clone(), &zone, counted);
        let cycle = CycleFigures::new(roster.clone(), window, time_zone.clone(), &zone, merged);
        Ok(Dashboard {
            window,
            team_commits: rollups.team_commits(team),
            team_active_days: rollups.team_active_days(team),
            team_impact: rollups.team_impact(team),
            commits_without_requests: commits.without_requests(Grouping::Team, user, team, None),
            user_commits: rollups.user_commits(user, team),
            user_active_days: rollups.user_active_days(user, team),
            user_impact: rollups.user_impact(user, team),
            user_comments: rollups.user_comments(user, team),
            team_scores: team.zip(ranking.as_ref()).map(|(t, r)| rollups.team_scores(t, r)),
            cycle_time: cycle.cycle_time(user, team),
            throughput: jira.throughput(user, team),
            quality: jira.quality(user, team),
            estimations: jira.estimations(user, team),
            focus: jira.focus(user, team),
            sprints: team.map(|t| jira.sprints(t)),
            velocity: team.map(|t| jira.velocity(t)),
            time_zone,
        })
    }
}
