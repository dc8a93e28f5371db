//! DORA's four keys for a team (or the whole organization): deployment frequency, lead time
//! for changes, change failure rate and time to restore, each with the performance level of
//! the 2023 DORA report's clusters as DevLake tabulates them.
//!
//! - A **deployment** is what reached production (`production_events`): a successful GitHub
//!   deployment to an environment whose name starts with `prod`, or, in a repository that has
//!   none in the range read, a published release.
//! - A **change** is a merged pull request; it is **shipped** by its repository's first
//!   deployment at or after its merge. A deployment is the team's when it ships a pull
//!   request of someone who was a member on the merge's local day (DevLake maps
//!   repositories to projects instead; Cairn's teams are people over time, so a deployment
//!   that ships two teams' work counts for both).
//! - An **incident** is a Jira issue (not a sub-task) of one of the settings' incident types
//!   or with one of their labels; a team's are those of its board's project.
//!
//! Figures over the window `[from, to)` of local days: deployments made in it, changes
//! shipped in it, incidents resolved in it. Pull requests merged up to [`LOOKBACK_DAYS`]
//! before the window are read, so that the deployments in the window that ship them count.
//! A team without a Jira board has no incidents to count: its change failure rate and time
//! to restore are not rated.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::cycle::{MergedPull, p85};
use super::{Buckets, Granularity, Person, Point, Roster, Window, median, ratio};
use crate::collected::store::{issues_opened_or_resolved, production_events, rows_where};
use crate::collected::{Board, Issue};
use crate::day::{Day, Zone};
use crate::teams::Team;
use crate::{Metrics, MetricsError, Settings};

/// How far before the window pull requests and incidents are read.
pub const LOOKBACK_DAYS: i64 = 90;

/// A deployment (or a release): what reached production, when.
#[derive(Debug, Clone, PartialEq)]
pub struct Shipped {
    pub repository: String,
    /// Unique across sources.
    pub id: String,
    pub at: i64,
}

/// A performance level of the 2023 DORA report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Elite,
    High,
    Medium,
    Low,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Elite => "elite",
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }
}

/// Deployments of the team made in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentFrequency {
    pub deployments: f64,
    /// Local days with at least one.
    pub deployment_days: f64,
    /// `deployments ÷ (window days ÷ 7)`.
    pub per_week: f64,
    /// The lower median, over the ISO weeks of the window, of each week's deployment days.
    pub median_days_per_week: f64,
    /// The share of the window's months with a deployment, as the lower median of 0 or 1 per
    /// month.
    pub median_months_deployed: f64,
    /// Elite: a median of 3 or more deployment days a week; high: 1 or more; medium: a
    /// deployment in most months; low: less. `None` without a deployment.
    pub level: Option<Level>,
    /// Deployments per bucket.
    pub points: Vec<Point>,
}

/// Changes shipped in the window: first commit (else the pull request's creation) to the
/// deployment that shipped it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadTime {
    pub changes: f64,
    pub median_hours: Option<f64>,
    pub p85_hours: Option<f64>,
    /// Elite: a median under a day; high: under a week; medium: under 30 days; low: more.
    pub level: Option<Level>,
    /// Each bucket's median, by the deployment's day (0 without a change).
    pub points: Vec<Point>,
}

/// The share of the team's deployments in the window after which one of its incidents was
/// opened before its next deployment (or the window's end).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeFailureRate {
    pub deployments: f64,
    pub failed: f64,
    /// `failed ÷ deployments`; `None` without a deployment, or without a board to find
    /// incidents on.
    pub rate: Option<f64>,
    /// Elite: at most 5%; high: at most 10%; medium: at most 15%; low: more.
    pub level: Option<Level>,
    /// Each bucket's rate, by the deployment's day (0 without a deployment).
    pub points: Vec<Point>,
}

/// The team's incidents resolved in the window: creation to resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeToRestore {
    pub incidents: f64,
    pub median_hours: Option<f64>,
    pub p85_hours: Option<f64>,
    /// Elite: a median under an hour; high: under a day; medium: under a week; low: more.
    pub level: Option<Level>,
    /// Each bucket's median, by the resolution's day (0 without an incident).
    pub points: Vec<Point>,
}

/// The four keys of a team, or of every team.
#[derive(Debug, Clone, PartialEq)]
pub struct Dora {
    pub window: Window,
    pub time_zone: String,
    /// The team's id; `None`: every team.
    pub team: Option<String>,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub time_to_restore: TimeToRestore,
}

/// The rows DORA reads for a window.
#[derive(Debug, Clone)]
pub struct DoraFigures {
    pub roster: Roster,
    pub window: Window,
    pub time_zone: String,
    zone: Zone,
    /// The window's instants.
    span: (i64, i64),
    /// Per repository, by time.
    shipped: HashMap<String, Vec<Shipped>>,
    pulls: Vec<MergedPull>,
    /// `(source, issue)`: the incidents created in the range read or resolved in the window.
    incidents: Vec<(String, Issue)>,
    boards: Vec<(String, Board)>,
}

impl DoraFigures {
    /// Reads what the figures of `team` (of the organization without one) need: the pull
    /// requests of its members only, so [`DoraFigures::dora`] answers for that team.
    pub async fn load(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &Settings,
        team: Option<&Team>,
    ) -> Result<DoraFigures, MetricsError> {
        let zone = settings.time_zone.zone().clone();
        let span = (zone.start_ms(window.from), zone.start_ms(window.to));
        let since = span.0 - LOOKBACK_DAYS * 86_400_000;
        let keys = roster.keys_of(None, team, Day::from_number(window.from.number() - LOOKBACK_DAYS), window.to);
        let (events, pulls, (issues, boards)) = tokio::try_join!(
            async {
                let mut conn = metrics.db.reader().acquire().await?;
                Ok::<_, MetricsError>(production_events(&mut conn, since, span.1).await?)
            },
            metrics.merged_pull_requests(since, span.1, keys.as_deref()),
            async {
                let mut conn = metrics.db.reader().acquire().await?;
                let issues = issues_opened_or_resolved(&mut conn, since, span.0, span.1).await?;
                let boards = rows_where::<Board>(&mut conn, "1 = 1", &[]).await?;
                Ok::<_, MetricsError>((issues, boards))
            },
        )?;
        let mut shipped: HashMap<String, Vec<Shipped>> = HashMap::new();
        for e in events {
            shipped.entry(e.repository.clone()).or_default().push(e);
        }
        let incidents = issues.into_iter().filter(|(_, i)| settings.is_incident(&i.issue_type, &i.labels)).collect();
        Ok(DoraFigures {
            roster,
            window,
            time_zone: settings.time_zone.as_str().to_owned(),
            zone,
            span,
            shipped,
            pulls,
            incidents,
            boards,
        })
    }

    fn in_window(&self, t: i64) -> bool {
        self.span.0 <= t && t < self.span.1
    }

    /// Whether the author of a pull request merged on `day` was in `team` (any team) then.
    fn in_team(&self, author: Option<&str>, day: Day, team: Option<&Team>) -> bool {
        let Some(person): Option<&Person> = author.and_then(|a| self.roster.person_of(a)) else { return false };
        match team {
            Some(t) => self.roster.member_on(t, person, day),
            None => self.roster.team_on(person, day).is_some(),
        }
    }

    /// The deployment that shipped a pull request: its repository's first at or after the
    /// merge.
    fn shipped_by(&self, pull: &MergedPull) -> Option<&Shipped> {
        let events = self.shipped.get(&pull.repository)?;
        let i = events.partition_point(|e| e.at < pull.merged_at);
        events.get(i)
    }

    /// The incidents of `team` (of every team's project without one).
    fn team_incidents(&self, team: Option<&Team>) -> Vec<&Issue> {
        let projects: HashSet<(&str, &str)> = self
            .boards
            .iter()
            .filter(|(_, b)| match team {
                Some(t) => Some(b.id) == t.board,
                None => self.roster.teams.iter().any(|t| t.board == Some(b.id)),
            })
            .filter_map(|(source, b)| b.project_key.as_deref().map(|p| (source.as_str(), p)))
            .collect();
        self.incidents
            .iter()
            .filter(|(source, i)| projects.contains(&(source.as_str(), i.project_key.as_str())))
            .map(|(_, i)| i)
            .collect()
    }

    fn bucket_of(&self, t: i64) -> Day {
        self.window.granularity.bucket(self.zone.day(t))
    }

    /// The four keys of `team` (of every team when `None`).
    pub fn dora(&self, team: Option<&Team>) -> Dora {
        // Changes of the team shipped in the window, with the deployment that shipped each.
        let mut changes: Vec<(&MergedPull, &Shipped)> = Vec::new();
        for pull in &self.pulls {
            if !self.in_team(pull.author.as_deref(), self.zone.day(pull.merged_at), team) {
                continue;
            }
            if let Some(event) = self.shipped_by(pull).filter(|e| self.in_window(e.at)) {
                changes.push((pull, event));
            }
        }
        let mut deployments: Vec<&Shipped> = Vec::new();
        let mut seen = BTreeSet::new();
        for (_, e) in &changes {
            if seen.insert(e.id.as_str()) {
                deployments.push(e);
            }
        }
        deployments.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        // Incidents are found on the team's board (any team's, for every team).
        let boarded = match team {
            Some(t) => t.board.is_some(),
            None => self.roster.teams.iter().any(|t| t.board.is_some()),
        };
        let incidents = boarded.then(|| self.team_incidents(team));
        Dora {
            window: self.window,
            time_zone: self.time_zone.clone(),
            team: team.map(|t| t.id.clone()),
            deployment_frequency: self.frequency(&deployments),
            lead_time: self.lead_time(&changes),
            change_failure_rate: self.failure_rate(&deployments, incidents.as_deref()),
            time_to_restore: self.restore(incidents.as_deref().unwrap_or_default()),
        }
    }

    fn frequency(&self, deployments: &[&Shipped]) -> DeploymentFrequency {
        let mut per_bucket = Buckets::new(self.window);
        let mut days: BTreeSet<Day> = BTreeSet::new();
        for d in deployments {
            let day = self.zone.day(d.at);
            per_bucket.add(day, 1.0);
            days.insert(day);
        }
        // Deployment days per ISO week, and whether each month had one.
        let weekly = Window { granularity: Granularity::Week, ..self.window };
        let mut weeks: BTreeMap<Day, f64> = weekly.buckets().into_iter().map(|w| (w, 0.0)).collect();
        let monthly = Window { granularity: Granularity::Month, ..self.window };
        let mut months: BTreeMap<Day, f64> = monthly.buckets().into_iter().map(|m| (m, 0.0)).collect();
        for day in &days {
            *weeks.entry(Granularity::Week.bucket(*day)).or_default() += 1.0;
            months.insert(Granularity::Month.bucket(*day), 1.0);
        }
        let median_days_per_week = lower_median(weeks.into_values().collect());
        let median_months_deployed = lower_median(months.into_values().collect());
        let level = (!deployments.is_empty()).then_some(if median_days_per_week >= 3.0 {
            Level::Elite
        } else if median_days_per_week >= 1.0 {
            Level::High
        } else if median_months_deployed >= 1.0 {
            Level::Medium
        } else {
            Level::Low
        });
        DeploymentFrequency {
            deployments: deployments.len() as f64,
            deployment_days: days.len() as f64,
            per_week: ratio(deployments.len() as f64, self.window.days() as f64 / 7.0),
            median_days_per_week,
            median_months_deployed,
            level,
            points: per_bucket.points(),
        }
    }

    fn lead_time(&self, changes: &[(&MergedPull, &Shipped)]) -> LeadTime {
        let hours: Vec<(i64, f64)> =
            changes.iter().map(|(p, e)| (e.at, (e.at - start_of(p)).max(0) as f64 / 3_600_000.0)).collect();
        let (median_hours, p85_hours, points) = self.spread(&hours);
        let level = median_hours.map(|h| by_hours(h, [24.0, 168.0, 720.0]));
        LeadTime { changes: hours.len() as f64, median_hours, p85_hours, level, points }
    }

    /// `incidents`: `None` when there is no board to find them on.
    fn failure_rate(&self, deployments: &[&Shipped], incidents: Option<&[&Issue]>) -> ChangeFailureRate {
        let mut all = Buckets::new(self.window);
        let mut failed = Buckets::new(self.window);
        let mut count = 0.0;
        for (i, d) in deployments.iter().enumerate() {
            let until = deployments.get(i + 1).map_or(self.span.1, |next| next.at);
            let failure = incidents.unwrap_or_default().iter().any(|x| d.at <= x.created_at && x.created_at < until);
            let day = self.zone.day(d.at);
            all.add(day, 1.0);
            if failure {
                failed.add(day, 1.0);
                count += 1.0;
            }
        }
        let n = deployments.len() as f64;
        let rate = (n > 0.0 && incidents.is_some()).then(|| count / n);
        let level = rate.map(|r| {
            if r <= 0.05 {
                Level::Elite
            } else if r <= 0.10 {
                Level::High
            } else if r <= 0.15 {
                Level::Medium
            } else {
                Level::Low
            }
        });
        let points = failed
            .points()
            .into_iter()
            .zip(all.points())
            .map(|(f, a)| Point { start: f.start, value: ratio(f.value, a.value) })
            .collect();
        ChangeFailureRate { deployments: n, failed: count, rate, level, points }
    }

    fn restore(&self, incidents: &[&Issue]) -> TimeToRestore {
        let hours: Vec<(i64, f64)> = incidents
            .iter()
            .filter_map(|i| i.resolved_at.filter(|r| self.in_window(*r)).map(|r| (r, (r - i.created_at).max(0))))
            .map(|(r, ms)| (r, ms as f64 / 3_600_000.0))
            .collect();
        let (median_hours, p85_hours, points) = self.spread(&hours);
        let level = median_hours.map(|h| by_hours(h, [1.0, 24.0, 168.0]));
        TimeToRestore { incidents: hours.len() as f64, median_hours, p85_hours, level, points }
    }

    /// The median and 85th percentile of `(instant, hours)`, and each bucket's median by the
    /// instant's day.
    fn spread(&self, values: &[(i64, f64)]) -> (Option<f64>, Option<f64>, Vec<Point>) {
        let mut all: Vec<f64> = values.iter().map(|(_, h)| *h).collect();
        all.sort_by(f64::total_cmp);
        let mut by_bucket: BTreeMap<Day, Vec<f64>> = BTreeMap::new();
        for (t, h) in values {
            by_bucket.entry(self.bucket_of(*t)).or_default().push(*h);
        }
        let points = self
            .window
            .buckets()
            .into_iter()
            .map(|start| {
                let mut v = by_bucket.remove(&start).unwrap_or_default();
                v.sort_by(f64::total_cmp);
                Point { start, value: median(&v).unwrap_or(0.0) }
            })
            .collect();
        (median(&all), p85(&all), points)
    }
}

/// Where a change starts, as cycle time has it: its first commit, unless that is later than
/// the pull request's creation (a squashed commit, authored at the merge); else the creation.
fn start_of(pull: &MergedPull) -> i64 {
    pull.first_commit_at.filter(|c| *c <= pull.created_at).unwrap_or(pull.created_at)
}

/// The level of a duration in hours, against the elite, high and medium limits.
fn by_hours(hours: f64, [elite, high, medium]: [f64; 3]) -> Level {
    if hours < elite {
        Level::Elite
    } else if hours < high {
        Level::High
    } else if hours < medium {
        Level::Medium
    } else {
        Level::Low
    }
}

/// The lower median (DevLake's `percent_rank() <= 0.5`): the middle value, or the lower of
/// the two middle ones; 0 of nothing.
fn lower_median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_median_takes_the_lower_middle() {
        assert_eq!(lower_median(vec![]), 0.0);
        assert_eq!(lower_median(vec![5.0]), 5.0);
        assert_eq!(lower_median(vec![3.0, 1.0]), 1.0);
        assert_eq!(lower_median(vec![0.0, 4.0, 1.0]), 1.0);
    }

    #[test]
    fn levels_follow_the_limits() {
        assert_eq!(by_hours(0.5, [1.0, 24.0, 168.0]), Level::Elite);
        assert_eq!(by_hours(1.0, [1.0, 24.0, 168.0]), Level::High);
        assert_eq!(by_hours(100.0, [1.0, 24.0, 168.0]), Level::Medium);
        assert_eq!(by_hours(168.0, [1.0, 24.0, 168.0]), Level::Low);
    }
}
