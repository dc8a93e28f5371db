//! The GitHub figures that need each commit, not its day's sum: impact (a commit's size as a
//! percentile of its repository's trailing 90 days), team scores, and commits that reached
//! the default branch without a pull request.
//!
//! Impact is Cairn's documented variant of a proprietary figure: a commit's size is
//! `s = (min(additions, 1000) + min(deletions, 1000)) · (1 + ln(max(changed files, 1)))`,
//! and its impact is the share of the counted commits of its repository authored in the 90
//! days up to it (itself included) whose size is at most `s`: a number in (0, 1]. A person's
//! impact is the sum over their counted commits in the window.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Buckets, Figures, Person, Roster, Series, Window, ratio};
use crate::day::{Day, Zone};
use crate::teams::Team;
use crate::{Metrics, MetricsError};

/// Lines of one side of a commit that count towards its size.
pub const LINE_CAP: i64 = 1000;
/// How far back a commit's repository is compared with it.
pub const IMPACT_DAYS: i64 = 90;
const DAY_MS: i64 = 86_400_000;

/// A counted commit (default branch, one parent) as the figures read it.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedCommit {
    pub repository: String,
    pub sha: String,
    /// `gh:<login>` or `email:<address>`.
    pub author: Option<String>,
    pub authored_at: i64,
    pub additions: i64,
    pub deletions: i64,
    pub changed_files: i64,
    /// It belongs to a pull request.
    pub linked: bool,
}

impl CountedCommit {
    /// The commit's size.
    pub fn size(&self) -> f64 {
        let lines = (self.additions.min(LINE_CAP) + self.deletions.min(LINE_CAP)) as f64;
        lines * (1.0 + (self.changed_files.max(1) as f64).ln())
    }
}

/// `github/user-impact` and `github/team-impact`.
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

/// `github/commits-without-requests`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WithoutRequests {
    pub commits: f64,
    /// `total ÷ commits`.
    pub share: f64,
}

/// How `github/commits-without-requests` groups its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Person,
    Team,
    Repository,
}

/// One counted commit in the window, attributed.
#[derive(Debug, Clone)]
struct Scored {
    commit: CountedCommit,
    day: Day,
    /// The member it is credited to (an index into the roster's people).
    person: Option<usize>,
    impact: f64,
}

/// The counted commits of a window, with their impact.
#[derive(Debug, Clone)]
pub struct CommitFigures {
    pub roster: Roster,
    pub window: Window,
    pub time_zone: String,
    commits: Vec<Scored>,
}

impl CommitFigures {
    /// Reads the window's counted commits, and those of the 90 days before that their
    /// impact compares them with, for a roster and settings read already. Every team's:
    /// impact ranks a commit among its repository's, and team scores rank the teams.
    pub async fn read(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
    ) -> Result<CommitFigures, MetricsError> {
        let zone = settings.time_zone.zone().clone();
        // The impact of the window's first commits compares them with the 90 days before.
        let since = zone.start_ms(window.from) - IMPACT_DAYS * DAY_MS;
        let until = zone.start_ms(window.to);
        let commits = metrics.counted_commits(since, until).await?;
        Ok(CommitFigures::new(roster, window, settings.time_zone.as_str().to_owned(), &zone, commits))
    }

    pub fn new(roster: Roster, window: Window, time_zone: String, zone: &Zone, commits: Vec<CountedCommit>) -> Self {
        // One row per commit, whichever sources saw it; bots count nowhere.
        let mut seen = BTreeSet::new();
        let mut by_repository: BTreeMap<String, Vec<CountedCommit>> = BTreeMap::new();
        for c in commits {
            if c.author.as_deref().is_some_and(|a| roster.is_bot(a)) || !seen.insert(c.sha.clone()) {
                continue;
            }
            by_repository.entry(c.repository.clone()).or_default().push(c);
        }
        let mut scored = Vec::new();
        for commits in by_repository.values_mut() {
            commits.sort_by_key(|c| c.authored_at);
            let sizes: Vec<(i64, f64)> = commits.iter().map(|c| (c.authored_at, c.size())).collect();
            let mut start = 0;
            for (i, c) in commits.iter().enumerate() {
                while sizes[start].0 <= c.authored_at - IMPACT_DAYS * DAY_MS {
                    start += 1;
                }
                // Up to it: every commit authored no later (ties in time included).
                let end = sizes[i..].iter().take_while(|(t, _)| *t == c.authored_at).count() + i;
                let trailing = &sizes[start..end];
                let size = sizes[i].1;
                let at_most = trailing.iter().filter(|(_, s)| *s <= size).count();
                let day = zone.day(c.authored_at);
                if !window.contains(day) {
                    continue;
                }
                let person = c.author.as_deref().and_then(|a| roster.person_of(a)).map(|p| p.index);
                scored.push(Scored {
                    commit: c.clone(),
                    day,
                    person,
                    impact: ratio(at_most as f64, trailing.len() as f64),
                });
            }
        }
        CommitFigures { roster, window, time_zone, commits: scored }
    }

    fn figures<S>(&self, metric: &'static str, series: Vec<Series<S>>) -> Figures<S> {
        Figures { metric, window: self.window, time_zone: self.time_zone.clone(), series }
    }

    /// Whether the commit counts for `team` (its author was a member on its day).
    fn in_team(&self, c: &Scored, team: &Team) -> bool {
        c.person.is_some_and(|i| self.roster.member_on(team, &self.roster.people()[i], c.day))
    }

    /// A series over `commits`: `total` the sum of `value`, points by day.
    fn series<'c, S>(
        &self,
        key: String,
        name: String,
        commits: impl Iterator<Item = &'c Scored>,
        value: impl Fn(&Scored) -> f64,
        summary: impl FnOnce(&[&Scored]) -> S,
    ) -> Series<S> {
        let commits: Vec<&Scored> = commits.collect();
        let mut points = Buckets::new(self.window);
        for c in &commits {
            points.add(c.day, value(c));
        }
        let total = commits.iter().map(|c| value(c)).sum();
        Series { key, name, total, summary: summary(&commits), points: points.points() }
    }

    fn impact_summary(commits: &[&Scored]) -> Impact {
        let sum = |f: fn(&CountedCommit) -> i64| commits.iter().map(|c| f(&c.commit) as f64).sum();
        Impact {
            additions: sum(|c| c.additions),
            deletions: sum(|c| c.deletions),
            changed_files: sum(|c| c.changed_files),
        }
    }

    /// `github/user-impact`.
    pub fn user_impact(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<Impact> {
        let series = self
            .roster
            .people_in(user, team, self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| {
                let mine =
                    self.commits.iter().filter(|c| c.person == Some(i) && team.is_none_or(|t| self.in_team(c, t)));
                self.series(p.key.clone(), p.name.clone(), mine, |c| c.impact, Self::impact_summary)
            })
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
                let theirs = self.commits.iter().filter(|c| self.in_team(c, t));
                self.series(t.id.clone(), t.name.clone(), theirs, |c| c.impact, Self::impact_summary)
            })
            .collect();
        self.figures("github/team-impact", series)
    }

    /// Every team's impact per active author, by team id.
    fn impact_per_author(&self) -> HashMap<&str, f64> {
        self.roster
            .teams
            .iter()
            .map(|t| {
                let theirs: Vec<&Scored> = self.commits.iter().filter(|c| self.in_team(c, t)).collect();
                let authors: BTreeSet<usize> = theirs.iter().filter_map(|c| c.person).collect();
                let impact: f64 = theirs.iter().map(|c| c.impact).sum();
                (t.id.as_str(), ratio(impact, authors.len() as f64))
            })
            .collect()
    }

    /// `github/team-scores`: each member of `team`, while in it.
    pub fn team_scores(&self, team: &Team) -> Figures<Score> {
        let per_author = self.impact_per_author();
        let own = per_author.get(team.id.as_str()).copied().unwrap_or(0.0);
        let at_most = per_author.values().filter(|v| **v <= own).count();
        let team_percentile = 100.0 * ratio(at_most as f64, per_author.len() as f64);
        let series = self
            .roster
            .people_in(None, Some(team), self.window.from, self.window.to)
            .into_iter()
            .map(|(i, p)| {
                let mine = self.commits.iter().filter(|c| c.person == Some(i) && self.in_team(c, team));
                self.series(
                    p.key.clone(),
                    p.name.clone(),
                    mine,
                    |c| c.impact,
                    |commits| {
                        let days: BTreeSet<Day> = commits.iter().map(|c| c.day).collect();
                        let active_days = days.len() as f64;
                        Score {
                            active_days,
                            commits_per_active_day: ratio(commits.len() as f64, active_days),
                            team_percentile,
                        }
                    },
                )
            })
            .collect();
        self.figures("github/team-scores", series)
    }

    /// `github/commits-without-requests`, grouped by `grouping`.
    pub fn without_requests(
        &self,
        grouping: Grouping,
        user: Option<&Person>,
        team: Option<&Team>,
        repository: Option<&str>,
    ) -> Figures<WithoutRequests> {
        let unlinked = |c: &Scored| if c.commit.linked { 0.0 } else { 1.0 };
        let summary = |commits: &[&Scored]| {
            let all = commits.len() as f64;
            let without: f64 = commits.iter().map(|c| unlinked(c)).sum();
            WithoutRequests { commits: all, share: ratio(without, all) }
        };
        let in_repository = |c: &&Scored| repository.is_none_or(|r| c.commit.repository.eq_ignore_ascii_case(r));
        let series = match grouping {
            Grouping::Person => self
                .roster
                .people_in(user, team, self.window.from, self.window.to)
                .into_iter()
                .map(|(i, p)| {
                    let mine = self
                        .commits
                        .iter()
                        .filter(|c| c.person == Some(i) && team.is_none_or(|t| self.in_team(c, t)))
                        .filter(in_repository);
                    self.series(p.key.clone(), p.name.clone(), mine, unlinked, summary)
                })
                .collect(),
            Grouping::Team => self
                .roster
                .teams_in(team)
                .into_iter()
                .map(|t| {
                    let theirs = self
                        .commits
                        .iter()
                        .filter(|c| self.in_team(c, t))
                        .filter(|c| user.is_none_or(|u| c.person.is_some_and(|i| self.roster.people()[i].id == u.id)))
                        .filter(in_repository);
                    self.series(t.id.clone(), t.name.clone(), theirs, unlinked, summary)
                })
                .collect(),
            Grouping::Repository => {
                // Every counted commit counts here, a stranger's too (bots excepted).
                let names: BTreeSet<&str> =
                    self.commits.iter().filter(in_repository).map(|c| c.commit.repository.as_str()).collect();
                names
                    .into_iter()
                    .map(|r| {
                        let theirs = self
                            .commits
                            .iter()
                            .filter(|c| c.commit.repository == r)
                            .filter(|c| team.is_none_or(|t| self.in_team(c, t)))
                            .filter(|c| {
                                user.is_none_or(|u| c.person.is_some_and(|i| self.roster.people()[i].id == u.id))
                            });
                        self.series(r.to_owned(), r.to_owned(), theirs, unlinked, summary)
                    })
                    .collect()
            }
        };
        self.figures("github/commits-without-requests", series)
    }
}
