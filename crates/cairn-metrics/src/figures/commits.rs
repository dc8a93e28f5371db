//! The GitHub figure that needs each commit, not its day's sum: commits that reached the
//! default branch without a pull request, per person, team or repository.

use std::collections::BTreeSet;

use super::{Buckets, Figures, Person, Roster, Series, Window, ratio};
use crate::day::{Day, Zone};
use crate::teams::Team;
use crate::{Metrics, MetricsError};

/// A counted commit (default branch, one parent) as the figures read it.
#[derive(Debug, Clone, PartialEq)]
pub struct CountedCommit {
    pub repository: String,
    pub sha: String,
    /// `gh:<login>` or `email:<address>`.
    pub author: Option<String>,
    pub authored_at: i64,
    /// It belongs to a pull request.
    pub linked: bool,
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
}

/// The counted commits of a window.
#[derive(Debug, Clone)]
pub struct CommitFigures {
    pub roster: Roster,
    pub window: Window,
    pub time_zone: String,
    commits: Vec<Scored>,
}

impl CommitFigures {
    /// Reads the window's counted commits by the people a figure scoped to `user` and
    /// `team` counts (everyone's without either), for a roster and settings read already.
    pub async fn read(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
        user: Option<&Person>,
        team: Option<&Team>,
    ) -> Result<CommitFigures, MetricsError> {
        let zone = settings.time_zone.zone().clone();
        let keys = roster.keys_of(user, team, window.from, window.to);
        let commits =
            metrics.counted_commits(zone.start_ms(window.from), zone.start_ms(window.to), keys.as_deref()).await?;
        Ok(CommitFigures::new(roster, window, settings.time_zone.as_str().to_owned(), &zone, commits))
    }

    pub fn new(roster: Roster, window: Window, time_zone: String, zone: &Zone, commits: Vec<CountedCommit>) -> Self {
        // One row per commit, whichever sources saw it; bots count nowhere.
        let mut seen = BTreeSet::new();
        let mut scored = Vec::new();
        for commit in commits {
            if commit.author.as_deref().is_some_and(|a| roster.is_bot(a)) || !seen.insert(commit.sha.clone()) {
                continue;
            }
            let day = zone.day(commit.authored_at);
            if !window.contains(day) {
                continue;
            }
            let person = commit.author.as_deref().and_then(|a| roster.person_of(a)).map(|p| p.index);
            scored.push(Scored { commit, day, person });
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
