//! Pull-request cycle time by stage, as DevLake and LinearB split it: coding (first commit
//! to the pull request's creation), pickup (creation to the first review by someone else),
//! review (first review to merge) and deploy (merge to the first successful deployment of
//! the repository at or after it). A pull request counts in the window of its merge's local
//! day, for the team its author was in on that day.
//!
//! Where Cairn differs from DevLake: the first commit is the earliest of the pull request's
//! commits that reached the default branch (a squash merge has one, authored at the merge:
//! coding time is then unknown, not zero); the deployment is the repository's next
//! successful one, not one proven to contain the merge commit (Cairn does not keep the
//! commit graph). A stage a pull request did not go through (no review, no deployment yet)
//! is left out of that stage's figures, not counted as zero.

use super::{Figures, Person, Roster, Series, Window, median};
use crate::day::{Day, Zone};
use crate::teams::Team;
use crate::{Metrics, MetricsError};

const HOUR_MS: f64 = 3_600_000.0;

/// A merged pull request, with what its stages need.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedPull {
    pub repository: String,
    pub number: i64,
    /// `gh:<login>`.
    pub author: Option<String>,
    pub created_at: i64,
    pub first_review_at: Option<i64>,
    pub merged_at: i64,
    /// The author date of its earliest commit on the default branch.
    pub first_commit_at: Option<i64>,
    /// The repository's first successful deployment at or after the merge.
    pub deployed_at: Option<i64>,
}

impl MergedPull {
    /// Hours of each stage it went through: coding, pickup, review, deploy, and the whole
    /// cycle (from its first commit, else its creation, to production, else the merge).
    fn stages(&self) -> [Option<f64>; 5] {
        let hours = |from: i64, to: i64| ((to - from) as f64 / HOUR_MS).max(0.0);
        let coding = self.first_commit_at.filter(|c| *c <= self.created_at).map(|c| hours(c, self.created_at));
        let pickup = self.first_review_at.map(|r| hours(self.created_at, r));
        let review = self.first_review_at.map(|r| hours(r, self.merged_at));
        let deploy = self.deployed_at.map(|d| hours(self.merged_at, d));
        let start = self.first_commit_at.filter(|c| *c <= self.created_at).unwrap_or(self.created_at);
        let cycle = Some(hours(start, self.deployed_at.unwrap_or(self.merged_at)));
        [coding, pickup, review, deploy, cycle]
    }
}

/// One stage's hours over the pull requests that went through it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub median_hours: Option<f64>,
    /// The 85th percentile: the smallest value at least 85% of the pull requests are within.
    pub p85_hours: Option<f64>,
    pub pull_requests: f64,
}

/// `github/cycle-time`: `total` is the median cycle in hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CycleTime {
    pub pull_requests: f64,
    pub coding: Stage,
    pub pickup: Stage,
    pub review: Stage,
    pub deploy: Stage,
    pub cycle: Stage,
}

/// The window's merged pull requests, attributed.
#[derive(Debug, Clone)]
pub struct CycleFigures {
    pub roster: Roster,
    pub window: Window,
    pub time_zone: String,
    pulls: Vec<(MergedPull, Day, Option<usize>)>,
}

impl CycleFigures {
    pub async fn load(metrics: &Metrics<'_>, window: Window) -> Result<CycleFigures, MetricsError> {
        let (roster, settings) = Roster::load_with_settings(metrics).await?;
        CycleFigures::read(metrics, window, roster, &settings, None, None).await
    }

    /// Reads the pull requests merged in the window by the people a figure scoped to `user`
    /// and `team` counts (everyone's without either), for a roster and settings read already.
    pub async fn read(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
        user: Option<&Person>,
        team: Option<&Team>,
    ) -> Result<CycleFigures, MetricsError> {
        let zone = settings.time_zone.zone().clone();
        let keys = roster.keys_of(user, team, window.from, window.to);
        let (since, until) = (zone.start_ms(window.from), zone.start_ms(window.to));
        let pulls = metrics.merged_pull_requests(since, until, keys.as_deref()).await?;
        Ok(CycleFigures::new(roster, window, settings.time_zone.as_str().to_owned(), &zone, pulls))
    }

    pub fn new(roster: Roster, window: Window, time_zone: String, zone: &Zone, pulls: Vec<MergedPull>) -> Self {
        let pulls = pulls
            .into_iter()
            .filter(|p| p.author.as_deref().is_none_or(|a| !roster.is_bot(a)))
            .map(|p| {
                let day = zone.day(p.merged_at);
                let person = p.author.as_deref().and_then(|a| roster.person_of(a)).map(|x| x.index);
                (p, day, person)
            })
            .filter(|(_, day, _)| window.contains(*day))
            .collect();
        CycleFigures { roster, window, time_zone, pulls }
    }

    fn series(&self, key: String, name: String, pulls: Vec<&MergedPull>, days: Vec<Day>) -> Series<CycleTime> {
        let stages: Vec<[Option<f64>; 5]> = pulls.iter().map(|p| p.stages()).collect();
        let stage = |i: usize| {
            let mut values: Vec<f64> = stages.iter().filter_map(|s| s[i]).collect();
            values.sort_by(f64::total_cmp);
            Stage { median_hours: median(&values), p85_hours: p85(&values), pull_requests: values.len() as f64 }
        };
        let summary = CycleTime {
            pull_requests: pulls.len() as f64,
            coding: stage(0),
            pickup: stage(1),
            review: stage(2),
            deploy: stage(3),
            cycle: stage(4),
        };
        // Each bucket's median cycle.
        let points = self
            .window
            .buckets()
            .into_iter()
            .map(|start| {
                let mut values: Vec<f64> = stages
                    .iter()
                    .zip(&days)
                    .filter(|(_, d)| self.window.granularity.bucket(**d) == start)
                    .filter_map(|(s, _)| s[4])
                    .collect();
                values.sort_by(f64::total_cmp);
                super::Point { start, value: median(&values).unwrap_or(0.0) }
            })
            .collect();
        Series { key, name, total: summary.cycle.median_hours.unwrap_or(0.0), summary, points }
    }

    /// `github/cycle-time`: a series per team (or `team`), or `user`'s alone.
    pub fn cycle_time(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<CycleTime> {
        let series = match user {
            Some(u) => {
                let (pulls, days) = self
                    .pulls
                    .iter()
                    .filter(|(_, d, i)| {
                        i.is_some_and(|i| self.roster.people()[i].id == u.id)
                            && team.is_none_or(|t| self.roster.member_on(t, u, *d))
                    })
                    .map(|(p, d, _)| (p, *d))
                    .unzip();
                vec![self.series(u.key.clone(), u.name.clone(), pulls, days)]
            }
            None => self
                .roster
                .teams_in(team)
                .into_iter()
                .map(|t| {
                    let (pulls, days) = self
                        .pulls
                        .iter()
                        .filter(|(_, d, i)| i.is_some_and(|i| self.roster.member_on(t, &self.roster.people()[i], *d)))
                        .map(|(p, d, _)| (p, *d))
                        .unzip();
                    self.series(t.id.clone(), t.name.clone(), pulls, days)
                })
                .collect(),
        };
        Figures { metric: "github/cycle-time", window: self.window, time_zone: self.time_zone.clone(), series }
    }
}

/// The nearest-rank 85th percentile of sorted `values`.
pub(crate) fn p85(values: &[f64]) -> Option<f64> {
    let n = values.len();
    (n > 0).then(|| values[(((n as f64) * 0.85).ceil() as usize).clamp(1, n) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(p85(&[]), None);
        assert_eq!(p85(&[5.0]), Some(5.0));
        // 0.85 × 10 = 8.5 → the 9th value.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(p85(&ten), Some(9.0));
    }
}
