//! The GitHub figures that the daily rollups answer: commits, lines, active days, impact
//! and comments, per person and per team.
//!
//! A rollup row is one upstream identity's day in one source; the figures map it to the
//! team member it names (bots and strangers count nowhere), add up the sources, and credit
//! a team with the days its members were in it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Buckets, Figures, Person, Roster, Series, Window, ratio};
use crate::collected::DayFigures;
use crate::collected::impact;
use crate::day::Day;
use crate::teams::Team;
use crate::{Metrics, MetricsError};

/// `github/user-commits`: a person's counted commits and lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserCommits {
    pub active_days: f64,
    pub commits_per_active_day: f64,
    pub additions: f64,
    pub deletions: f64,
}

/// `github/team-commits`: a team's counted commits and lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeamCommits {
    pub active_authors: f64,
    pub commits_per_active_author: f64,
    pub additions: f64,
    pub deletions: f64,
}

/// `github/user-active-days` has no companions.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NoSummary;

/// `github/team-active-days`: the denominator of `per_member_week`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeamActiveDays {
    /// People who were members on some day of the window.
    pub members: f64,
    /// The window's days ÷ 7.
    pub weeks: f64,
    /// `active_days_sum ÷ (members × weeks)`.
    pub per_member_week: f64,
}

/// `github/user-comments-count`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserComments {
    pub on_own: f64,
    pub on_others: f64,
}

/// `github/user-impact` and `github/team-impact`: the lines and files of the commits whose
/// impact is the total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impact {
    pub additions: f64,
    pub deletions: f64,
    pub changed_files: f64,
}

/// `github/team-scores`: one member's figures, and their team's rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub active_days: f64,
    pub commits_per_active_day: f64,
    /// The percentage of the tenant's teams whose impact per active author is at most this
    /// team's.
    pub team_percentile: f64,
}

/// Every team's impact per active author over a window, which ranks a team among the
/// tenant's: read from everyone's active days, their impact only.
#[derive(Debug, Clone)]
pub struct TeamRanking(HashMap<String, f64>);

impl TeamRanking {
    pub async fn read(metrics: &Metrics<'_>, window: Window, roster: &Roster) -> Result<TeamRanking, MetricsError> {
        Ok(TeamRanking::new(roster, metrics.impact_days(window.from, window.to).await?))
    }

    /// From `(person key, day, impact)` rows of active days.
    pub fn new(roster: &Roster, rows: Vec<(String, Day, i64)>) -> TeamRanking {
        let mut teams: HashMap<&str, (i64, BTreeSet<usize>)> =
            roster.teams.iter().map(|t| (t.id.as_str(), (0, BTreeSet::new()))).collect();
        for (key, day, units) in rows {
            let Some(person) = roster.person_of(&key) else { continue };
            for team in roster.teams.iter().filter(|t| roster.member_on(t, person, day)) {
                let (sum, authors) = teams.entry(team.id.as_str()).or_default();
                *sum += units;
                authors.insert(person.index);
            }
        }
        TeamRanking(
            teams
                .into_iter()
                .map(|(id, (sum, authors))| (id.to_owned(), ratio(impact::value(sum), authors.len() as f64)))
                .collect(),
        )
    }

    /// The percentage of the tenant's teams whose impact per active author is at most
    /// `team`'s.
    pub fn percentile(&self, team: &Team) -> f64 {
        let own = self.0.get(&team.id).copied().unwrap_or(0.0);
        let at_most = self.0.values().filter(|v| **v <= own).count();
        100.0 * ratio(at_most as f64, self.0.len() as f64)
    }
}

/// What a person did on a day, every source added up.
type Days = BTreeMap<(usize, Day), DayFigures>;

/// The rollups of a window, mapped to team members.
#[derive(Debug, Clone)]
pub struct GitHubFigures {
    pub roster: Roster,
    pub window: Window,
    pub time_zone: String,
    days: Days,
}

impl GitHubFigures {
    /// Reads the window's rollups of the people a figure scoped to `user` and `team` counts
    /// (everyone's without either), for a roster and settings read already.
    pub async fn read(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
        user: Option<&Person>,
        team: Option<&Team>,
    ) -> Result<GitHubFigures, MetricsError> {
        let keys = roster.keys_of(user, team, window.from, window.to);
        let rows = metrics.person_days_between(window.from, window.to, keys.as_deref()).await?;
        Ok(GitHubFigures::new(roster, window, settings.time_zone.as_str().to_owned(), rows))
    }

    pub fn new(
        roster: Roster,
        window: Window,
        time_zone: String,
        rows: Vec<crate::collected::PersonDay>,
    ) -> GitHubFigures {
        let mut days = Days::new();
        for row in rows.into_iter().filter(|r| window.contains(r.day)) {
            let Some(person) = roster.person_of(&row.person_key) else { continue };
            days.entry((person.index, row.day)).or_default().add_all(row.figures);
        }
        GitHubFigures { roster, window, time_zone, days }
    }

    fn figures<S>(&self, metric: &'static str, series: Vec<Series<S>>) -> Figures<S> {
        Figures { metric, window: self.window, time_zone: self.time_zone.clone(), series }
    }

    /// The days of person `i` that count: every one, or only those `team` had them.
    fn days_of<'a>(&'a self, i: usize, team: Option<&'a Team>) -> impl Iterator<Item = (Day, &'a DayFigures)> + 'a {
        let person = &self.roster.people()[i];
        self.days
            .range((i, self.window.from)..(i, self.window.to))
            .map(|((_, d), f)| (*d, f))
            .filter(move |(d, _)| team.is_none_or(|t| self.roster.member_on(t, person, *d)))
    }

    /// Each day a member of `team` had there, with what they did: `(person, day, figures)`.
    fn team_days<'a>(&'a self, team: &'a Team) -> Vec<(usize, Day, &'a DayFigures)> {
        self.roster
            .members_between(team, self.window.from, self.window.to)
            .iter()
            .map(|p| p.index)
            .flat_map(|i| self.days_of(i, Some(team)).map(move |(d, f)| (i, d, f)))
            .collect()
    }

    /// `github/user-commits`.
    pub fn user_commits(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<UserCommits> {
        let series = self
            .roster
            .people_in(user, team, self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| {
                let mut points = Buckets::new(self.window);
                let (mut commits, mut active, mut additions, mut deletions) = (0.0, 0.0, 0.0, 0.0);
                for (d, f) in self.days_of(i, team) {
                    points.add(d, f.commits as f64);
                    commits += f.commits as f64;
                    additions += f.additions as f64;
                    deletions += f.deletions as f64;
                    if f.active() {
                        active += 1.0;
                    }
                }
                Series {
                    key: p.key.clone(),
                    name: p.name.clone(),
                    total: commits,
                    summary: UserCommits {
                        active_days: active,
                        commits_per_active_day: ratio(commits, active),
                        additions,
                        deletions,
                    },
                    points: points.points(),
                }
            })
            .collect();
        self.figures("github/user-commits", series)
    }

    /// `github/team-commits`.
    pub fn team_commits(&self, team: Option<&Team>) -> Figures<TeamCommits> {
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let mut points = Buckets::new(self.window);
                let (mut commits, mut additions, mut deletions) = (0.0, 0.0, 0.0);
                let mut authors = BTreeSet::new();
                for (i, d, f) in self.team_days(t) {
                    points.add(d, f.commits as f64);
                    commits += f.commits as f64;
                    additions += f.additions as f64;
                    deletions += f.deletions as f64;
                    if f.active() {
                        authors.insert(i);
                    }
                }
                let active_authors = authors.len() as f64;
                Series {
                    key: t.id.clone(),
                    name: t.name.clone(),
                    total: commits,
                    summary: TeamCommits {
                        active_authors,
                        commits_per_active_author: ratio(commits, active_authors),
                        additions,
                        deletions,
                    },
                    points: points.points(),
                }
            })
            .collect();
        self.figures("github/team-commits", series)
    }

    /// `github/user-active-days`.
    pub fn user_active_days(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<NoSummary> {
        let series = self
            .roster
            .people_in(user, team, self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| {
                let mut points = Buckets::new(self.window);
                let mut active = 0.0;
                for (d, _) in self.days_of(i, team).filter(|(_, f)| f.active()) {
                    points.add(d, 1.0);
                    active += 1.0;
                }
                Series {
                    key: p.key.clone(),
                    name: p.name.clone(),
                    total: active,
                    summary: NoSummary,
                    points: points.points(),
                }
            })
            .collect();
        self.figures("github/user-active-days", series)
    }

    /// `github/team-active-days`.
    pub fn team_active_days(&self, team: Option<&Team>) -> Figures<TeamActiveDays> {
        let weeks = self.window.days() as f64 / 7.0;
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let mut points = Buckets::new(self.window);
                let mut sum = 0.0;
                for (_, d, _) in self.team_days(t).into_iter().filter(|(_, _, f)| f.active()) {
                    points.add(d, 1.0);
                    sum += 1.0;
                }
                let members = self.roster.members_between(t, self.window.from, self.window.to).len() as f64;
                Series {
                    key: t.id.clone(),
                    name: t.name.clone(),
                    total: sum,
                    summary: TeamActiveDays { members, weeks, per_member_week: ratio(sum, members * weeks) },
                    points: points.points(),
                }
            })
            .collect();
        self.figures("github/team-active-days", series)
    }

    /// `github/user-comments-count`.
    pub fn user_comments(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<UserComments> {
        let series = self
            .roster
            .people_in(user, team, self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| {
                let mut points = Buckets::new(self.window);
                let (mut own, mut others) = (0.0, 0.0);
                for (d, f) in self.days_of(i, team) {
                    points.add(d, (f.comments_on_own + f.comments_on_others) as f64);
                    own += f.comments_on_own as f64;
                    others += f.comments_on_others as f64;
                }
                Series {
                    key: p.key.clone(),
                    name: p.name.clone(),
                    total: own + others,
                    summary: UserComments { on_own: own, on_others: others },
                    points: points.points(),
                }
            })
            .collect();
        self.figures("github/user-comments-count", series)
    }

    /// `github/user-impact`.
    pub fn user_impact(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<Impact> {
        let series = self
            .roster
            .people_in(user, team, self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| self.impact_series(p.key.clone(), p.name.clone(), self.days_of(i, team)))
            .collect();
        self.figures("github/user-impact", series)
    }

    /// `github/team-impact`.
    pub fn team_impact(&self, team: Option<&Team>) -> Figures<Impact> {
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let days = self.team_days(t).into_iter().map(|(_, d, f)| (d, f));
                self.impact_series(t.id.clone(), t.name.clone(), days)
            })
            .collect();
        self.figures("github/team-impact", series)
    }

    /// Impact over `days`, with their lines and files.
    fn impact_series<'a>(
        &self,
        key: String,
        name: String,
        days: impl Iterator<Item = (Day, &'a DayFigures)>,
    ) -> Series<Impact> {
        let mut points = Buckets::new(self.window);
        let (mut units, mut additions, mut deletions, mut changed_files) = (0, 0.0, 0.0, 0.0);
        for (d, f) in days {
            points.add(d, impact::value(f.impact));
            units += f.impact;
            additions += f.additions as f64;
            deletions += f.deletions as f64;
            changed_files += f.changed_files as f64;
        }
        Series {
            key,
            name,
            total: impact::value(units),
            summary: Impact { additions, deletions, changed_files },
            points: points.points(),
        }
    }

    /// `github/team-scores`: each member of `team`, while in it, with the team's rank.
    pub fn team_scores(&self, team: &Team, ranking: &TeamRanking) -> Figures<Score> {
        let team_percentile = ranking.percentile(team);
        let series = self
            .roster
            .people_in(None, Some(team), self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| {
                let days: Vec<(Day, &DayFigures)> = self.days_of(i, Some(team)).collect();
                let active_days = days.iter().filter(|(_, f)| f.active()).count() as f64;
                let commits: i64 = days.iter().map(|(_, f)| f.commits).sum();
                let Series { key, name, total, points, .. } =
                    self.impact_series(p.key.clone(), p.name.clone(), days.into_iter());
                Series {
                    key,
                    name,
                    total,
                    summary: Score {
                        active_days,
                        commits_per_active_day: ratio(commits as f64, active_days),
                        team_percentile,
                    },
                    points,
                }
            })
            .collect();
        self.figures("github/team-scores", series)
    }
}
