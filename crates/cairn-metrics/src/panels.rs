//! The metrics as a reader sees them: each figure as a chart with its table, its CSV and its
//! definition — the dashboard pages draw them in HTML, the team report in PDF, from the same
//! [`Data`].
//!
//! A [`Data`] is a column of categories (buckets, people, sprints, stages) and named value
//! columns. [`team_data`], [`jira_data`], [`cycle_data`] and [`dora_data`] make a team's from
//! its figures; [`Links`] says where a person or a sprint opens, when the medium has links.

use cairn_charts::{BarChart, LineChart, Mode, Series, Unit, format_value};

use crate::day::Day;
use crate::figures::cycle::{CycleTime, Stage};
use crate::figures::dashboard::Dashboard;
use crate::figures::dora::{Dora, Level};
use crate::figures::jira::{Estimations, Focus, Quality, Throughput};
use crate::figures::{Figures, Granularity, Point, Window};
use crate::teams::Team;

/// Where a person's or a sprint's page is, in a medium with links.
pub trait Links {
    fn person(&self, key: &str) -> Option<String>;
    fn sprint(&self, team: &Team, sprint: i64) -> Option<String>;
}

/// No links: a printed report.
#[derive(Debug, Clone, Copy)]
pub struct NoLinks;

impl Links for NoLinks {
    fn person(&self, _: &str) -> Option<String> {
        None
    }

    fn sprint(&self, _: &Team, _: i64) -> Option<String> {
        None
    }
}

/// How a chart draws its data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Draw {
    Bars,
    Stacked,
    Line,
}

/// One chart's data: a column of categories and columns of values.
#[derive(Debug, Clone)]
pub struct Data {
    /// The chart's name in the CSV link (`commits`).
    pub key: &'static str,
    pub title: String,
    /// What the figure counts, from docs/metrics.md.
    pub what: &'static str,
    /// The category column's heading: `Week of`, `Person`, `Sprint`.
    pub head: &'static str,
    /// Categories as shown.
    pub labels: Vec<String>,
    /// Categories as the CSV writes them (dates as `2026-09-07`).
    pub raw: Vec<String>,
    /// A page per category (a person's, a sprint's), if any.
    pub links: Vec<Option<String>>,
    /// The drawn columns.
    pub series: Vec<(String, Vec<Option<f64>>)>,
    /// Columns only the table and the CSV show (`name`, values, their unit).
    pub extra: Vec<(String, Vec<Option<f64>>, Unit)>,
    pub unit: Unit,
    pub draw: Draw,
    /// The figure over the whole window, as the card heads it (`412 commits`).
    pub headline: Option<String>,
    /// What the chart says without data, when the page's general message would not do.
    pub empty: Option<&'static str>,
}

impl Data {
    pub fn new(key: &'static str, title: impl Into<String>, what: &'static str, unit: Unit, draw: Draw) -> Data {
        Data {
            key,
            title: title.into(),
            what,
            head: "",
            labels: Vec::new(),
            raw: Vec::new(),
            links: Vec::new(),
            series: Vec::new(),
            extra: Vec::new(),
            unit,
            draw,
            headline: None,
            empty: None,
        }
    }

    /// Over the window's buckets, labelled by their first day.
    pub fn over_time(mut self, window: &Window) -> Data {
        let starts = window.buckets();
        self.head = match window.granularity {
            Granularity::Day => "Day",
            Granularity::Week => "Week of",
            Granularity::Month => "Month",
        };
        self.labels = starts.iter().map(|d| bucket_label(*d, window.granularity)).collect();
        self.raw = starts.iter().map(ToString::to_string).collect();
        self.links = vec![None; starts.len()];
        self
    }

    pub fn categories(mut self, head: &'static str, rows: Vec<(String, String, Option<String>)>) -> Data {
        self.head = head;
        for (label, raw, link) in rows {
            self.labels.push(label);
            self.raw.push(raw);
            self.links.push(link);
        }
        self
    }

    pub fn series(mut self, name: impl Into<String>, values: Vec<Option<f64>>) -> Data {
        self.series.push((name.into(), values));
        self
    }

    pub fn points(self, name: impl Into<String>, points: &[Point]) -> Data {
        self.series(name, points.iter().map(|p| Some(p.value)).collect())
    }

    pub fn extra(mut self, name: impl Into<String>, values: Vec<Option<f64>>, unit: Unit) -> Data {
        self.extra.push((name.into(), values, unit));
        self
    }

    pub fn headline(mut self, text: impl Into<String>) -> Data {
        self.headline = Some(text.into());
        self
    }

    pub fn when_empty(mut self, text: &'static str) -> Data {
        self.empty = Some(text);
        self
    }

    /// The chart, `width` × `height`, in `mode`; `empty` is what it says without data.
    pub fn svg(&self, width: u32, height: u32, mode: Mode, empty: &str) -> String {
        match self.draw {
            Draw::Bars | Draw::Stacked => {
                let mut chart = BarChart::new(&self.title)
                    .size(width, height)
                    .categories(self.labels.clone())
                    .y_unit(self.unit.clone())
                    .stacked(self.draw == Draw::Stacked)
                    .empty_message(empty)
                    .show_title(false);
                for (name, values) in &self.series {
                    chart = chart.series(Series::categorical(name.clone(), values.clone()));
                }
                chart.render(mode)
            }
            Draw::Line => {
                let mut chart = LineChart::new(&self.title)
                    .size(width, height)
                    .categories(self.labels.clone())
                    .y_unit(self.unit.clone())
                    .empty_message(empty)
                    .show_title(false);
                if self.unit == Unit::Percent {
                    chart = chart.y_include(100.0);
                }
                for (name, values) in &self.series {
                    chart = chart.series(Series::categorical(name.clone(), values.clone()));
                }
                chart.render(mode)
            }
        }
    }

    /// The data as CSV: a header row, then a row per category; numbers in full.
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let head: Vec<&str> = std::iter::once(self.head)
            .chain(self.series.iter().map(|(n, _)| n.as_str()))
            .chain(self.extra.iter().map(|(n, _, _)| n.as_str()))
            .collect();
        out.push_str(&head.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
        for (i, raw) in self.raw.iter().enumerate() {
            let mut row = vec![csv_field(raw)];
            let columns = self.series.iter().map(|(_, v)| v).chain(self.extra.iter().map(|(_, v, _)| v));
            for values in columns {
                // `+ 0.0` writes a negative zero (an empty sum) as `0`.
                row.push(values.get(i).copied().flatten().map(|v| (v + 0.0).to_string()).unwrap_or_default());
            }
            out.push_str(&row.join(","));
            out.push_str("\r\n");
        }
        out
    }

    /// The table of the chart's numbers, as shown.
    pub fn table(&self) -> Table {
        let mut head = vec![self.head.to_owned()];
        head.extend(self.series.iter().map(|(n, _)| n.clone()));
        head.extend(self.extra.iter().map(|(n, _, _)| n.clone()));
        let rows = (0..self.labels.len())
            .map(|i| {
                let mut cells = Vec::new();
                for (_, values) in &self.series {
                    cells.push(shown(values.get(i).copied().flatten(), &self.unit));
                }
                for (_, values, unit) in &self.extra {
                    cells.push(shown(values.get(i).copied().flatten(), unit));
                }
                TableRow { label: self.labels[i].clone(), link: self.links.get(i).cloned().flatten(), cells }
            })
            .collect();
        Table { head, rows }
    }
}

/// A value as a table shows it; `–` when there is none.
pub fn shown(value: Option<f64>, unit: &Unit) -> String {
    value.map(|v| format_value(v, unit)).unwrap_or_else(|| "\u{2013}".into())
}

/// A CSV field: quoted when it holds a separator, a quote or a line break; a leading `=`,
/// `+`, `-`, `@` or tab is escaped with a quote so spreadsheets do not run it as a formula.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// A bucket's label: `7 Sep` for days and weeks, `Sep 2026` for months.
pub fn bucket_label(day: Day, granularity: Granularity) -> String {
    let date = day.date();
    match granularity {
        Granularity::Month => date.strftime("%b %Y").to_string(),
        _ => date.strftime("%-d %b").to_string(),
    }
}

/// A table row: its category, where it opens, its cells.
#[derive(Debug, Clone)]
pub struct TableRow {
    pub label: String,
    pub link: Option<String>,
    pub cells: Vec<String>,
}

/// A chart's numbers as a table.
#[derive(Debug, Clone)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<TableRow>,
}

/// The definitions shown behind each chart's "What this counts", from docs/metrics.md.
pub mod what {
    pub const COMMITS: &str = "Commits on the default branch authored by the team's members while in the team, counted on their local day, without merge commits and bots.";
    pub const ACTIVE_DAYS: &str =
        "The members' active days added up: a member is active on a local day with at least one counted commit.";
    pub const IMPACT: &str = "Each counted commit weighs the share of its repository's commits of the 90 days up to it that are no bigger than it (size = (min(additions, 1000) + min(deletions, 1000)) × (1 + ln(changed files))); the figure adds the weights up.";
    pub const WITHOUT_PR: &str = "Counted commits that no pull request of the repository contains.";
    pub const MEMBERS: &str =
        "Each member's counted commits while in the team, with their active days, commits per active day and impact.";
    pub const COMMENTS: &str =
        "Pull-request review and issue comments written by each member, on their own pull requests and on others'.";
    pub const CYCLE: &str = "The median time from a pull request's first commit (else its creation) to its deployment (else its merge), over the pull requests merged in each bucket.";
    pub const STAGES: &str = "Coding: first commit to opening. Pickup: opening to the first review by someone else. Review: first review to merge. Deploy: merge to the repository's next successful deployment. Median and nearest-rank 85th percentile; a stage a pull request skipped is left out.";
    pub const VELOCITY: &str = "Story points committed at each closed sprint's start (the snapshot taken when it started) against the points of the issues done at its completion.";
    pub const THROUGHPUT: &str =
        "Issues of the team's board resolved in each ISO week, sub-tasks excluded, by issue type.";
    pub const QUALITY: &str = "The share of the resolved issues that are bugs.";
    pub const ESTIMATIONS: &str = "The median of time spent ÷ original estimate over the resolved issues with both.";
    pub const FOCUS: &str = "The share of logged work on issues that were in an active sprint of the team's board when the work was logged.";
    pub const BURN_UP: &str =
        "At the end of each day of the sprint: the points of the issues in the sprint (scope) and of those done.";
    pub const DEPLOYMENTS: &str = "Successful deployments to a production environment (its name holds prod), or published releases in a repository without such deployments, that shipped at least one pull request merged by a member while in the team. The level follows the median number of deployment days per ISO week: 3 or more elite, 1 or more high, a deployment in most months medium, else low.";
    pub const LEAD_TIME: &str = "From a pull request's first commit (else its creation) to the deployment that shipped it: its repository's first at or after the merge; the median per bucket by the deployment's day. Elite under a day, high under a week, medium under 30 days.";
    pub const FAILURE_RATE: &str = "The share of the team's deployments after which one of its incidents was opened before its next deployment. Elite at most 5%, high 10%, medium 15%.";
    pub const RESTORE: &str = "From an incident's creation to its resolution, for the team's incidents resolved in each bucket. Elite under an hour, high under a day, medium under a week.";
    pub const PERSON_CYCLE: &str =
        "The median cycle time of each member's pull requests merged in the window while they were in the team.";
}

pub fn hours(v: Option<f64>) -> Option<f64> {
    v.map(|h| h * 3600.0)
}

pub fn count(v: f64, one: &str, many: &str) -> String {
    format!("{} {}", format_value(v, &Unit::Count), if v == 1.0 { one } else { many })
}

pub fn percent(share: f64) -> f64 {
    share * 100.0
}

/// The series of `key` (a team id, a person's key) in a figure.
pub fn of<'a, S>(f: &'a Figures<S>, key: &str) -> Option<&'a crate::figures::Series<S>> {
    f.series.iter().find(|s| s.key == key)
}

/// The one series of a team's (or a person's) figure, if it has one.
pub fn only<S>(f: &Figures<S>) -> Option<&crate::figures::Series<S>> {
    f.series.first()
}

/// A team's charts from its dashboard.
pub fn team_data(d: &Dashboard, team: &Team, links: &dyn Links) -> Vec<Data> {
    let w = &d.window;
    let mut out = Vec::new();
    if let Some(s) = only(&d.team_commits) {
        out.push(commits_chart(s, w));
    }
    if let Some(s) = only(&d.team_active_days) {
        out.push(
            active_days_chart(s, w)
                .headline(format!("{} per member-week", format_value(s.summary.per_member_week, &Unit::Plain))),
        );
    }
    if let Some(s) = only(&d.team_impact) {
        out.push(impact_chart(s, w));
    }
    if let Some(s) = only(&d.commits_without_requests) {
        out.push(
            Data::new(
                "without-pull-requests",
                "Commits without a pull request",
                what::WITHOUT_PR,
                Unit::Count,
                Draw::Bars,
            )
            .over_time(w)
            .points("Without a pull request", &s.points)
            .headline(format!(
                "{} of {} ({})",
                format_value(s.total, &Unit::Count),
                format_value(s.summary.commits, &Unit::Count),
                format_value(percent(s.summary.share), &Unit::Percent)
            )),
        );
    }
    // Members, by commits.
    let mut members: Vec<_> = d.user_commits.series.iter().collect();
    members.sort_by(|a, b| b.total.total_cmp(&a.total).then_with(|| a.name.cmp(&b.name)));
    let scores = d.team_scores.as_ref();
    let score_of = |key: &str| scores.and_then(|f| f.series.iter().find(|s| s.key == key));
    let comments_of = |key: &str| d.user_comments.series.iter().find(|s| s.key == key);
    let rows = members.iter().map(|m| (m.name.clone(), m.key.clone(), links.person(&m.key))).collect();
    out.push(
        Data::new("members", "Members", what::MEMBERS, Unit::Count, Draw::Bars)
            .categories("Person", rows)
            .series("Commits", members.iter().map(|m| Some(m.total)).collect())
            .extra("Active days", members.iter().map(|m| Some(m.summary.active_days)).collect(), Unit::Count)
            .extra(
                "Commits per active day",
                members.iter().map(|m| Some(m.summary.commits_per_active_day)).collect(),
                Unit::Plain,
            )
            .extra("Impact", members.iter().map(|m| score_of(&m.key).map(|s| s.total)).collect(), Unit::Plain)
            .extra("Comments", members.iter().map(|m| comments_of(&m.key).map(|s| s.total)).collect(), Unit::Count),
    );
    let commenters: Vec<_> = members.iter().filter_map(|m| comments_of(&m.key)).collect();
    out.push(
        Data::new("comments", "Pull-request comments", what::COMMENTS, Unit::Count, Draw::Stacked)
            .categories(
                "Person",
                commenters.iter().map(|m| (m.name.clone(), m.key.clone(), links.person(&m.key))).collect(),
            )
            .series("On their own", commenters.iter().map(|m| Some(m.summary.on_own)).collect())
            .series("On others'", commenters.iter().map(|m| Some(m.summary.on_others)).collect())
            .headline(count(commenters.iter().map(|m| m.total).sum(), "comment", "comments")),
    );
    out.extend(cycle_data(only(&d.cycle_time).map(|s| (&s.summary, s.points.as_slice())), w));
    if let Some(v) = &d.velocity {
        let sprints = &v.sprints.sprints;
        let mut data = Data::new("velocity", "Velocity", what::VELOCITY, Unit::Plain, Draw::Bars)
            .categories(
                "Sprint",
                sprints.iter().map(|s| (s.name.clone(), s.id.to_string(), links.sprint(team, s.id))).collect(),
            )
            .series("Committed", sprints.iter().map(|s| s.commitment).collect())
            .series("Completed", sprints.iter().map(|s| s.completed).collect())
            .extra("Added", sprints.iter().map(|s| s.added).collect(), Unit::Plain)
            .extra("Removed", sprints.iter().map(|s| s.removed).collect(), Unit::Plain)
            .extra("Say/do", sprints.iter().map(|s| s.say_do.map(percent)).collect(), Unit::Percent);
        if let Some(velocity) = v.velocity {
            data = data.headline(format!("{} points per sprint", format_value(velocity, &Unit::Plain)));
        }
        out.push(data);
    }
    out.extend(jira_data(d.into(), w, team));
    out
}

/// Commits per bucket, headed by the total.
pub fn commits_chart<S>(s: &crate::figures::Series<S>, w: &Window) -> Data {
    Data::new("commits", "Commits", what::COMMITS, Unit::Count, Draw::Bars)
        .over_time(w)
        .points("Commits", &s.points)
        .headline(count(s.total, "commit", "commits"))
}

/// Active days per bucket (the caller heads it).
pub fn active_days_chart<S>(s: &crate::figures::Series<S>, w: &Window) -> Data {
    Data::new("active-days", "Active days", what::ACTIVE_DAYS, Unit::Count, Draw::Bars)
        .over_time(w)
        .points("Active days", &s.points)
}

/// Impact per bucket, headed by the total.
pub fn impact_chart<S>(s: &crate::figures::Series<S>, w: &Window) -> Data {
    Data::new("impact", "Impact", what::IMPACT, Unit::Plain, Draw::Line)
        .over_time(w)
        .points("Impact", &s.points)
        .headline(format_value(s.total, &Unit::Plain))
}

/// The cycle-time charts: the median cycle per bucket, and the stages.
pub fn cycle_data(cycle: Option<(&CycleTime, &[Point])>, w: &Window) -> Vec<Data> {
    let Some((c, points)) = cycle else { return Vec::new() };
    let per_bucket = Data::new("cycle-time", "Pull-request cycle time", what::CYCLE, Unit::Seconds, Draw::Line)
        .over_time(w)
        .series("Median", points.iter().map(|p| Some(p.value * 3600.0).filter(|v| *v > 0.0)).collect())
        .headline(match c.cycle.median_hours {
            Some(h) => format!(
                "{} median over {}",
                format_value(h * 3600.0, &Unit::Seconds),
                count(c.pull_requests, "pull request", "pull requests")
            ),
            None => "No pull request merged".to_owned(),
        });
    let stages: [(&str, &Stage); 5] = [
        ("Coding", &c.coding),
        ("Pickup", &c.pickup),
        ("Review", &c.review),
        ("Deploy", &c.deploy),
        ("Cycle", &c.cycle),
    ];
    let by_stage = Data::new("stages", "Cycle time by stage", what::STAGES, Unit::Seconds, Draw::Bars)
        .categories("Stage", stages.iter().map(|(n, _)| ((*n).to_owned(), n.to_lowercase(), None)).collect())
        .series("Median", stages.iter().map(|(_, s)| hours(s.median_hours)).collect())
        .series("85th percentile", stages.iter().map(|(_, s)| hours(s.p85_hours)).collect())
        .extra("Pull requests", stages.iter().map(|(_, s)| Some(s.pull_requests)).collect(), Unit::Count);
    vec![per_bucket, by_stage]
}

/// The Jira charts of a team's dashboard, or of a person's in `team` (the figures of the
/// team's board narrowed to the person's issues and worklogs).
/// A team's Jira series, as a dashboard or a person's page has them.
pub struct JiraSeries<'a> {
    pub throughput: &'a Figures<Throughput>,
    pub quality: &'a Figures<Quality>,
    pub estimations: &'a Figures<Estimations>,
    pub focus: &'a Figures<Focus>,
}

impl<'a> From<&'a Dashboard> for JiraSeries<'a> {
    fn from(d: &'a Dashboard) -> Self {
        JiraSeries { throughput: &d.throughput, quality: &d.quality, estimations: &d.estimations, focus: &d.focus }
    }
}

pub fn jira_data(d: JiraSeries<'_>, w: &Window, team: &Team) -> Vec<Data> {
    let mut out = Vec::new();
    if let Some(s) = of(d.throughput, &team.id) {
        // Weekly whatever the granularity.
        let weekly = Window { granularity: Granularity::Week, ..*w };
        let mut data = Data::new("throughput", "Throughput", what::THROUGHPUT, Unit::Count, Draw::Stacked)
            .over_time(&weekly)
            .headline(count(s.total, "issue resolved", "issues resolved"));
        for t in &s.summary.by_type {
            data = data.points(t.issue_type.clone(), &t.points);
        }
        out.push(data);
    }
    if let Some(s) = of(d.quality, &team.id) {
        // A bucket where nothing was resolved has no share (a gap, not 0%).
        let resolved: Vec<f64> =
            of(d.throughput, &team.id).map(|t| t.points.iter().map(|p| p.value).collect()).unwrap_or_default();
        let shares = s
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| resolved.get(i).is_some_and(|n| *n > 0.0).then(|| percent(p.value)))
            .collect();
        out.push(
            Data::new("quality", "Bug share", what::QUALITY, Unit::Percent, Draw::Line)
                .over_time(w)
                .series("Bugs", shares)
                .headline(format!(
                    "{} ({} of {})",
                    format_value(percent(s.total), &Unit::Percent),
                    format_value(s.summary.bugs, &Unit::Count),
                    count(s.summary.resolved, "issue", "issues")
                )),
        );
    }
    if let Some(s) = of(d.estimations, &team.id) {
        out.push(
            Data::new("estimations", "Spent ÷ estimate", what::ESTIMATIONS, Unit::Plain, Draw::Line)
                .over_time(w)
                .points("Median", &s.points)
                .headline(format!(
                    "{} median; {} within 25%",
                    format_value(s.total, &Unit::Plain),
                    format_value(percent(s.summary.within_25pct), &Unit::Percent)
                )),
        );
    }
    if let Some(s) = of(d.focus, &team.id) {
        out.push(
            Data::new("focus", "Focus", what::FOCUS, Unit::Percent, Draw::Line)
                .over_time(w)
                .series("Planned work", s.points.iter().map(|p| Some(percent(p.value))).collect())
                .headline(format!("{} of logged work planned", format_value(percent(s.total), &Unit::Percent))),
        );
    }
    out
}

/// A DORA level as the pages say it.
pub fn level_text(level: Option<Level>) -> String {
    level.map(|l| l.as_str().to_owned()).unwrap_or_else(|| "not rated".into())
}

/// A team's DORA keys as charts: deployments, lead time, change failure rate, time to restore.
pub fn dora_data(k: &Dora, w: &Window) -> Vec<Data> {
    let (df, lt, cfr, ttr) = (&k.deployment_frequency, &k.lead_time, &k.change_failure_rate, &k.time_to_restore);
    let seconds =
        |h: Option<f64>| hours(h).map(|v| format_value(v, &Unit::Seconds)).unwrap_or_else(|| "\u{2013}".into());
    let median_seconds =
        |points: &[Point]| points.iter().map(|p| Some(p.value * 3600.0).filter(|v| *v > 0.0)).collect();
    vec![
        Data::new("deployments", "Deployment frequency", what::DEPLOYMENTS, Unit::Count, Draw::Bars)
            .over_time(w)
            // Without any, the chart says what counts as one rather than drawing zeros.
            .series("Deployments", df.points.iter().map(|p| (df.deployments > 0.0).then_some(p.value)).collect())
            .when_empty("No deployment or release shipped the team's work")
            .headline(format!("{} a week \u{b7} {}", format_value(df.per_week, &Unit::Plain), level_text(df.level))),
        Data::new("lead-time", "Lead time for changes", what::LEAD_TIME, Unit::Seconds, Draw::Line)
            .over_time(w)
            .series("Median", median_seconds(&lt.points))
            .headline(format!("{} median \u{b7} {}", seconds(lt.median_hours), level_text(lt.level))),
        Data::new("change-failure-rate", "Change failure rate", what::FAILURE_RATE, Unit::Percent, Draw::Line)
            .over_time(w)
            // A bucket without a deployment has no rate (a gap, not 0%).
            .series(
                "Failure rate",
                cfr.points.iter().zip(&df.points).map(|(p, n)| (n.value > 0.0).then(|| percent(p.value))).collect(),
            )
            .headline(format!(
                "{} \u{b7} {}",
                cfr.rate.map(|r| format_value(percent(r), &Unit::Percent)).unwrap_or_else(|| "\u{2013}".into()),
                level_text(cfr.level)
            )),
        Data::new("time-to-restore", "Time to restore", what::RESTORE, Unit::Seconds, Draw::Line)
            .over_time(w)
            .series("Median", median_seconds(&ttr.points))
            .headline(format!("{} median \u{b7} {}", seconds(ttr.median_hours), level_text(ttr.level))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Alice"), "Alice");
        assert_eq!(csv_field("Novak, Alice"), "\"Novak, Alice\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn a_chart_table_and_csv_hold_the_same_numbers() {
        let w = Window::parse("2026-08-31", "2026-09-14", Some("week")).unwrap();
        let d = Data::new("commits", "Commits", what::COMMITS, Unit::Count, Draw::Bars)
            .over_time(&w)
            .series("Commits", vec![Some(1234.0), None])
            .extra("Share", vec![Some(0.5), Some(0.25)], Unit::Plain);
        assert_eq!(d.csv(), "Week of,Commits,Share\r\n2026-08-31,1234,0.5\r\n2026-09-07,,0.25\r\n");
        let t = d.table();
        assert_eq!(t.head, ["Week of", "Commits", "Share"]);
        assert_eq!(t.rows[0].label, "31 Aug");
        assert_eq!(t.rows[0].cells, ["1,234", "0.5"]);
        assert_eq!(t.rows[1].cells, ["\u{2013}", "0.25"]);
    }
}
