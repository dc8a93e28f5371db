//! What the metric endpoints answer: figures over a window of the tenant's local days, per
//! person, team or repository, with a point per day, ISO week or month.
//!
//! Every figure follows the definitions in `docs/metrics.md` ("Exact definitions"): an
//! event at instant `t` is inside the window when `from <= local_date(t) < to`; a person is
//! a team member found by their GitHub login, email or Jira account; a team's figures add
//! up the events of the people who were its members on the event's local date; bots count
//! nowhere.
//!
//! `roster.rs` answers who is who and who was in which team when; `github.rs` computes the
//! GitHub figures the daily rollups answer, `commits.rs` those that need each commit
//! (impact, team scores, commits without a pull request); `jira.rs` the Jira figures from
//! the collected issues, sprints, commitments and worklogs.

pub mod commits;
pub mod cycle;
pub mod dashboard;
pub mod dora;
pub mod github;
pub mod jira;
mod roster;

use cairn_domain::ValidationError;
use jiff::ToSpan;

pub use roster::{Person, Roster};

use crate::day::Day;

/// The longest window a figure is computed over.
pub const MAX_WINDOW_DAYS: i64 = 3 * 366;

/// How points are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// ISO weeks, from Monday.
    Week,
    Month,
}

impl Granularity {
    pub fn parse(s: &str) -> Result<Granularity, ValidationError> {
        match s {
            "day" => Ok(Granularity::Day),
            "week" => Ok(Granularity::Week),
            "month" => Ok(Granularity::Month),
            _ => Err(ValidationError::new("granularity", "must be day, week or month")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// The first day of the bucket `day` falls in.
    pub fn bucket(self, day: Day) -> Day {
        match self {
            Granularity::Day => day,
            // 1970-01-01 was a Thursday: Monday is three days later in the week's count.
            Granularity::Week => Day::from_number(day.number() - (day.number() + 3).rem_euclid(7)),
            Granularity::Month => Day::of_date(day.date().first_of_month()),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    fn next(self, start: Day) -> Day {
        match self {
            Granularity::Day => Day::from_number(start.number() + 1),
            Granularity::Week => Day::from_number(start.number() + 7),
            Granularity::Month => {
                Day::of_date(start.date().checked_add(1.month()).unwrap_or(start.date()).first_of_month())
            }
        }
    }
}

/// The local days `[from, to)` a figure covers, and how its points are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: Day,
    pub to: Day,
    pub granularity: Granularity,
}

/// The window the dashboards and reports show unless told otherwise: 12 ISO weeks.
pub const DEFAULT_WEEKS: i64 = 12;

impl Window {
    /// The last `weeks` ISO weeks up to and including `today`'s, today included.
    pub fn last_weeks(today: Day, weeks: i64, granularity: Granularity) -> Window {
        let monday = Granularity::Week.bucket(today);
        let from = Day::from_number(monday.number() - 7 * (weeks - 1));
        Window { from, to: Day::from_number(today.number() + 1), granularity }
    }

    /// `from` and `to` as dates (`2026-09-02`), `granularity` `day`, `week` (the default) or
    /// `month`.
    pub fn parse(from: &str, to: &str, granularity: Option<&str>) -> Result<Window, ValidationError> {
        let from = Day::parse(from, "from")?;
        let to = Day::parse(to, "to")?;
        if from >= to {
            return Err(ValidationError::new("to", "must be after from"));
        }
        if to.number() - from.number() > MAX_WINDOW_DAYS {
            return Err(ValidationError::new("to", format!("at most {MAX_WINDOW_DAYS} days after from")));
        }
        let granularity = granularity.map(Granularity::parse).transpose()?.unwrap_or(Granularity::Week);
        Ok(Window { from, to, granularity })
    }

    pub fn contains(&self, day: Day) -> bool {
        self.from <= day && day < self.to
    }

    /// How many days the window holds.
    pub fn days(&self) -> i64 {
        self.to.number() - self.from.number()
    }

    /// The start of every bucket that holds a day of the window; the first may start
    /// before `from` (a week that began earlier).
    pub fn buckets(&self) -> Vec<Day> {
        let mut out = Vec::new();
        let mut start = self.granularity.bucket(self.from);
        while start < self.to {
            out.push(start);
            start = self.granularity.next(start);
        }
        out
    }
}

/// One bucket's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The bucket's first day.
    pub start: Day,
    pub value: f64,
}

/// One person's, team's or repository's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Series<S> {
    /// What the series is of: a GitHub login (or email), a team id, a repository name.
    pub key: String,
    pub name: String,
    /// The endpoint's headline figure over the whole window.
    pub total: f64,
    /// Its companions.
    pub summary: S,
    pub points: Vec<Point>,
}

/// A figure's answer: its series over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures<S> {
    pub metric: &'static str,
    pub window: Window,
    pub time_zone: String,
    pub series: Vec<Series<S>>,
}

/// Sums values into the window's buckets.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    window: Window,
    starts: Vec<Day>,
    values: Vec<f64>,
}

impl Buckets {
    pub fn new(window: Window) -> Buckets {
        let starts = window.buckets();
        let values = vec![0.0; starts.len()];
        Buckets { window, starts, values }
    }

    /// Adds `value` on `day` (a day of the window).
    pub fn add(&mut self, day: Day, value: f64) {
        let start = self.window.granularity.bucket(day);
        if let Ok(i) = self.starts.binary_search(&start) {
            self.values[i] += value;
        }
    }

    pub fn points(&self) -> Vec<Point> {
        self.starts.iter().zip(&self.values).map(|(&start, &value)| Point { start, value }).collect()
    }
}

/// The middle of sorted `values`: the mean of the two middle ones for an even count.
pub(crate) fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// `a / b`, or 0 when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Day {
        Day::parse(s, "d").unwrap()
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-09-02 is a Wednesday.
        assert_eq!(Granularity::Week.bucket(day("2026-09-02")), day("2026-08-31"));
        assert_eq!(Granularity::Week.bucket(day("2026-08-31")), day("2026-08-31"));
        assert_eq!(Granularity::Week.bucket(day("2026-09-06")), day("2026-08-31"));
        assert_eq!(Granularity::Month.bucket(day("2026-09-30")), day("2026-09-01"));
        let w = Window::parse("2026-09-02", "2026-12-01", Some("month")).unwrap();
        assert_eq!(w.buckets(), vec![day("2026-09-01"), day("2026-10-01"), day("2026-11-01")]);
        let w = Window::parse("2026-09-02", "2026-09-15", None).unwrap();
        assert_eq!(w.buckets(), vec![day("2026-08-31"), day("2026-09-07"), day("2026-09-14")]);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 2.0, 10.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), Some(2.5));
    }

    #[test]
    fn windows_are_checked_naming_the_field() {
        assert_eq!(Window::parse("2026-09-02", "2026-09-02", None).unwrap_err().field, "to");
        assert_eq!(Window::parse("2026-9-2", "2026-09-03", None).unwrap_err().field, "from");
        assert_eq!(Window::parse("2020-01-01", "2026-01-01", None).unwrap_err().field, "to");
        assert_eq!(Window::parse("2026-01-01", "2026-02-01", Some("year")).unwrap_err().field, "granularity");
        assert!(Window::parse("2023-01-01", "2026-01-01", Some("day")).is_ok());
    }
}
