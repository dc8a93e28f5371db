//! The metrics dashboards (readonly and up): the tenant's teams side by side, a team's every
//! figure as a chart, a person's, a sprint's burn-up, a team's pull-request cycle time and
//! its DORA keys.
//!
//! Every page answers from the figures the API computes (`Dashboard::load`, the cycle-time,
//! Jira and DORA figures), so a page and `/api/v1/metrics/…` never disagree. Each chart is drawn
//! from one [`Data`]: a category column (buckets, people, sprints, stages) and named value
//! columns. The same data gives the chart (`cairn-charts`, adaptive to the colour scheme), the
//! table behind its toggle, and its CSV export (`?csv=<chart>` on the page's own URL, with the
//! page's filters). The window and the granularity live in the URL.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_charts::{BarChart, LineChart, Mode, Series, Sparkline, Unit, format_value};
use cairn_domain::now_ms;
use cairn_metrics::collected::SprintState;
use cairn_metrics::figures::commits::CommitFigures;
use cairn_metrics::figures::cycle::{CycleFigures, CycleTime, Stage};
use cairn_metrics::figures::dashboard::Dashboard;
use cairn_metrics::figures::dora::DoraFigures;
use cairn_metrics::figures::github::{GitHubFigures, UserCommits};
use cairn_metrics::figures::jira::{Estimations, Focus, JiraFigures, Quality, SprintFigures, Throughput};
use cairn_metrics::figures::{Figures, Granularity, Person, Point, Roster, Window};
use cairn_metrics::{Day, Metrics, Settings, Team, TeamId};
use serde::Deserialize;

use super::view::nonced;
use super::{Nav, Page, PageError, Readonly, Signed};
use crate::AppState;
use crate::html::Chrome;

/// `?from=&to=&granularity=&csv=`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Filters {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    granularity: String,
    /// Answer this chart's data as CSV instead of the page.
    csv: Option<String>,
}

/// A ready-made window: the last `weeks` ISO weeks up to today.
struct Preset {
    label: &'static str,
    weeks: i64,
    granularity: Granularity,
}

const PRESETS: [Preset; 4] = [
    Preset { label: "4 weeks", weeks: 4, granularity: Granularity::Week },
    Preset { label: "Quarter", weeks: 13, granularity: Granularity::Week },
    Preset { label: "6 months", weeks: 26, granularity: Granularity::Week },
    Preset { label: "Year", weeks: 52, granularity: Granularity::Month },
];

/// The window shown unless the URL names one: the last 12 ISO weeks, this one included.
const DEFAULT_WEEKS: i64 = 12;

/// The window a page shows, as the filter form and links carry it.
struct Period {
    window: Window,
    /// `from=…&to=…&granularity=…`, for links that keep the window.
    query: String,
    from: String,
    to: String,
    granularity: &'static str,
    /// `(label, query, current)`.
    presets: Vec<(&'static str, String, bool)>,
    /// What was wrong with the URL's window (the default is shown instead).
    error: Option<String>,
}

fn query_of(window: &Window) -> String {
    format!("from={}&to={}&granularity={}", window.from, window.to, window.granularity.as_str())
}

/// The last `weeks` ISO weeks up to and including `today`'s.
fn weeks_to(today: Day, weeks: i64, granularity: Granularity) -> Window {
    let monday = Granularity::Week.bucket(today);
    let from = Day::from_number(monday.number() - 7 * (weeks - 1));
    Window { from, to: Day::from_number(today.number() + 1), granularity }
}

impl Filters {
    fn period(&self, settings: &Settings) -> Period {
        let today = settings.time_zone.zone().day(now_ms());
        let default = weeks_to(today, DEFAULT_WEEKS, Granularity::Week);
        let asked = !(self.from.is_empty() && self.to.is_empty() && self.granularity.is_empty());
        let (window, error) = if asked {
            let granularity = Some(self.granularity.as_str()).filter(|g| !g.is_empty());
            match Window::parse(&self.from, &self.to, granularity) {
                Ok(w) => (w, None),
                Err(e) => {
                    (default, Some(format!("{}: {}. Showing the last {DEFAULT_WEEKS} weeks.", e.field, e.message)))
                }
            }
        } else {
            (default, None)
        };
        let presets = PRESETS
            .iter()
            .map(|p| {
                let w = weeks_to(today, p.weeks, p.granularity);
                (p.label, query_of(&w), w == window)
            })
            .collect();
        Period {
            query: query_of(&window),
            from: window.from.to_string(),
            to: window.to.to_string(),
            granularity: window.granularity.as_str(),
            presets,
            error,
            window,
        }
    }
}

// ----- what a chart shows -----

/// How a chart draws its data.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Draw {
    Bars,
    Stacked,
    Line,
}

/// One chart's data: a column of categories and columns of values.
struct Data {
    /// The chart's name in the CSV link (`commits`).
    key: &'static str,
    title: String,
    /// What the figure counts, from docs/metrics.md.
    what: &'static str,
    /// The category column's heading: `Week of`, `Person`, `Sprint`.
    head: &'static str,
    /// Categories as shown.
    labels: Vec<String>,
    /// Categories as the CSV writes them (dates as `2026-09-07`).
    raw: Vec<String>,
    /// A page per category (a person's, a sprint's), if any.
    links: Vec<Option<String>>,
    /// The drawn columns.
    series: Vec<(String, Vec<Option<f64>>)>,
    /// Columns only the table and the CSV show (`name`, values, their unit).
    extra: Vec<(String, Vec<Option<f64>>, Unit)>,
    unit: Unit,
    draw: Draw,
    /// The figure over the whole window, as the card heads it (`412 commits`).
    headline: Option<String>,
    /// What the chart says without data, when the page's general message would not do.
    empty: Option<&'static str>,
}

impl Data {
    fn new(key: &'static str, title: impl Into<String>, what: &'static str, unit: Unit, draw: Draw) -> Data {
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
    fn over_time(mut self, window: &Window) -> Data {
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

    fn categories(mut self, head: &'static str, rows: Vec<(String, String, Option<String>)>) -> Data {
        self.head = head;
        for (label, raw, link) in rows {
            self.labels.push(label);
            self.raw.push(raw);
            self.links.push(link);
        }
        self
    }

    fn series(mut self, name: impl Into<String>, values: Vec<Option<f64>>) -> Data {
        self.series.push((name.into(), values));
        self
    }

    fn points(self, name: impl Into<String>, points: &[Point]) -> Data {
        self.series(name, points.iter().map(|p| Some(p.value)).collect())
    }

    fn extra(mut self, name: impl Into<String>, values: Vec<Option<f64>>, unit: Unit) -> Data {
        self.extra.push((name.into(), values, unit));
        self
    }

    fn headline(mut self, text: impl Into<String>) -> Data {
        self.headline = Some(text.into());
        self
    }

    fn when_empty(mut self, text: &'static str) -> Data {
        self.empty = Some(text);
        self
    }

    fn svg(&self, width: u32, height: u32, nonce: &str, empty: &str) -> String {
        let svg = match self.draw {
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
                chart.render(Mode::Adaptive)
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
                chart.render(Mode::Adaptive)
            }
        };
        nonced(svg, nonce)
    }

    /// The data as CSV: a header row, then a row per category; numbers in full.
    fn csv(&self) -> String {
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

    /// The table behind the chart's toggle.
    fn table(&self) -> Table {
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
fn shown(value: Option<f64>, unit: &Unit) -> String {
    value.map(|v| format_value(v, unit)).unwrap_or_else(|| "\u{2013}".into())
}

/// A CSV field: quoted when it holds a separator, a quote or a line break; a leading `=`,
/// `+`, `-`, `@` or tab is escaped with a quote so spreadsheets do not run it as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// A bucket's label: `7 Sep` for days and weeks, `Sep 2026` for months.
fn bucket_label(day: Day, granularity: Granularity) -> String {
    let date = day.date();
    match granularity {
        Granularity::Month => date.strftime("%b %Y").to_string(),
        _ => date.strftime("%-d %b").to_string(),
    }
}

struct TableRow {
    label: String,
    link: Option<String>,
    cells: Vec<String>,
}

struct Table {
    head: Vec<String>,
    rows: Vec<TableRow>,
}

/// A chart as a page shows it.
struct Panel {
    key: &'static str,
    title: String,
    what: &'static str,
    headline: Option<String>,
    wide: String,
    narrow: String,
    table: Table,
    csv: String,
}

/// The panels of `data`, drawn for the page; `empty` is what a chart without data says.
fn panels(data: &[Data], c: &Chrome, base: &str, period: &Period, empty: &str) -> Vec<Panel> {
    data.iter()
        .map(|d| Panel {
            key: d.key,
            title: d.title.clone(),
            what: d.what,
            headline: d.headline.clone(),
            wide: d.svg(760, 240, &c.nonce, d.empty.unwrap_or(empty)),
            narrow: d.svg(340, 210, &c.nonce, d.empty.unwrap_or(empty)),
            table: d.table(),
            csv: format!("{base}?{}&csv={}", period.query, d.key),
        })
        .collect()
}

/// `?csv=<key>`: that chart's data as a CSV download, or `None` when the page is asked for.
fn csv_answer(filters: &Filters, data: &[Data], name: &str, period: &Period) -> Option<Result<Response, PageError>> {
    let key = filters.csv.as_deref()?;
    let Some(d) = data.iter().find(|d| d.key == key) else {
        return Some(Err(PageError::Refused(StatusCode::NOT_FOUND, format!("This page has no chart {key:?}."))));
    };
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let file = format!("{}-{}-{}-{}.csv", slug.trim_matches('-'), d.key, period.from, period.to);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Some(Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        d.csv(),
    )
        .into_response()))
}

/// The definitions shown behind each chart's "What this counts", from docs/metrics.md.
mod what {
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

fn hours(v: Option<f64>) -> Option<f64> {
    v.map(|h| h * 3600.0)
}

fn count(v: f64, one: &str, many: &str) -> String {
    format!("{} {}", format_value(v, &Unit::Count), if v == 1.0 { one } else { many })
}

fn percent(share: f64) -> f64 {
    share * 100.0
}

/// The series of `key` (a team id, a person's key) in a figure.
fn of<'a, S>(f: &'a Figures<S>, key: &str) -> Option<&'a cairn_metrics::figures::Series<S>> {
    f.series.iter().find(|s| s.key == key)
}

/// The one series of a team's (or a person's) figure, if it has one.
fn only<S>(f: &Figures<S>) -> Option<&cairn_metrics::figures::Series<S>> {
    f.series.first()
}

fn person_href(key: &str, period: &Period) -> String {
    format!(
        "/app/dashboard/people/{}?{}",
        url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>(),
        period.query
    )
}

fn sprint_href(team: &Team, sprint: i64, period: &Period) -> String {
    format!("/app/dashboard/teams/{}/sprints/{sprint}?{}", team.id, period.query)
}

/// What the figures read, told once per page: the metrics settings and the roster.
async fn basics(s: &Signed) -> Result<(Metrics<'_>, Settings, Roster), PageError> {
    let metrics = Metrics { db: &s.db };
    let (settings, roster) = tokio::try_join!(metrics.settings(), Roster::load(&metrics))?;
    Ok((metrics, settings, roster))
}

/// Whether anything is collected: a source exists.
async fn connected(metrics: &Metrics<'_>) -> Result<bool, cairn_metrics::MetricsError> {
    Ok(!metrics.sources().await?.is_empty())
}

fn find_team(roster: &Roster, id: &str) -> Option<Team> {
    let id = TeamId::parse(id, "team").ok()?.to_string();
    roster.teams.iter().find(|t| t.id == id).cloned()
}

async fn no_team(state: &AppState, s: &Signed) -> Response {
    s.not_found(state, "Team not found", ("/app/dashboard", "Dashboard")).await
}

// ----- the home dashboard -----

/// One team's row on the home dashboard.
struct TeamRow {
    href: String,
    name: String,
    commits: String,
    spark: String,
    per_member_week: String,
    impact: String,
    cycle: String,
    resolved: String,
    bug_share: String,
}

/// One team's last seven days against the seven before.
struct WeekRow {
    href: String,
    name: String,
    commits: String,
    commits_change: String,
    active_authors: String,
    resolved: String,
    resolved_change: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct HomePage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    period: &'a Period,
    base: &'static str,
    connected: bool,
    has_teams: bool,
    teams: Vec<TeamRow>,
    week: Vec<WeekRow>,
    time_zone: String,
}

/// `+3` / `−2` / `±0`: the change of `now` on `before`.
fn change(now: f64, before: f64) -> String {
    let d = now - before;
    if d == 0.0 {
        "±0".into()
    } else if d > 0.0 {
        format!("+{}", format_value(d, &Unit::Count))
    } else {
        format_value(d, &Unit::Count)
    }
}

pub(super) async fn home(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (metrics, settings, roster) = basics(&s).await?;
    let period = f.period(&settings);
    let today = settings.time_zone.zone().day(now_ms());
    let fortnight = Window {
        from: Day::from_number(today.number() - 13),
        to: Day::from_number(today.number() + 1),
        granularity: Granularity::Day,
    };
    // The fortnight needs only commits per person and team, and resolved issues.
    let (d, recent_commits, recent_resolved, connected) = tokio::try_join!(
        Dashboard::load(&metrics, period.window, &roster, &settings, None, None),
        GitHubFigures::read(&metrics, fortnight, roster.clone(), &settings, None, None),
        JiraFigures::read_resolved(&metrics, fortnight, roster.clone(), &settings),
        connected(&metrics),
    )?;
    let (recent_team_commits, recent_user_commits, recent_throughput) = (
        recent_commits.team_commits(None),
        recent_commits.user_commits(None, None),
        recent_resolved.throughput(None, None),
    );
    let (c, nav) = s.shell(&state, "Dashboard", "dashboard").await;
    let mut teams = Vec::new();
    let mut week = Vec::new();
    for team in &roster.teams {
        let href = format!("/app/dashboard/teams/{}?{}", team.id, period.query);
        let commits = of(&d.team_commits, &team.id);
        let values: Vec<Option<f64>> =
            commits.map(|s| s.points.iter().map(|p| Some(p.value)).collect()).unwrap_or_default();
        let spark = Sparkline::new(values)
            .size(120, 28)
            .title(format!("{}: commits per {}", team.name, period.granularity))
            .y_unit(Unit::Count)
            .render(Mode::Adaptive);
        let spark = nonced(spark, &c.nonce);
        let active = of(&d.team_active_days, &team.id);
        let impact = of(&d.team_impact, &team.id).map(|s| s.total);
        let cycle = of(&d.cycle_time, &team.id).and_then(|s| s.summary.cycle.median_hours);
        let resolved = of(&d.throughput, &team.id).map(|s| s.total);
        let quality = of(&d.quality, &team.id);
        let dash = || "\u{2013}".to_owned();
        teams.push(TeamRow {
            href: href.clone(),
            name: team.name.clone(),
            commits: commits.map(|s| format_value(s.total, &Unit::Count)).unwrap_or_else(dash),
            spark,
            per_member_week: active.map(|s| format_value(s.summary.per_member_week, &Unit::Plain)).unwrap_or_else(dash),
            impact: impact.map(|v| format_value(v, &Unit::Plain)).unwrap_or_else(dash),
            cycle: cycle.map(|h| format_value(h * 3600.0, &Unit::Seconds)).unwrap_or_else(dash),
            resolved: resolved.map(|v| format_value(v, &Unit::Count)).unwrap_or_else(dash),
            bug_share: quality
                .filter(|q| q.summary.resolved > 0.0)
                .map(|q| format_value(percent(q.total), &Unit::Percent))
                .unwrap_or_else(dash),
        });
        let halves = |points: &[Point]| {
            let (before, now) = points.split_at(points.len().min(7));
            (now.iter().map(|p| p.value).sum::<f64>(), before.iter().map(|p| p.value).sum::<f64>())
        };
        // The fortnight's points are days.
        let (c_now, c_before) = of(&recent_team_commits, &team.id).map(|s| halves(&s.points)).unwrap_or_default();
        let (r_now, r_before) = of(&recent_throughput, &team.id).map(|s| halves(&s.points)).unwrap_or_default();
        let authors = last_week_authors(&recent_user_commits, &roster, team, today);
        week.push(WeekRow {
            href,
            name: team.name.clone(),
            commits: format_value(c_now, &Unit::Count),
            commits_change: change(c_now, c_before),
            active_authors: format_value(authors, &Unit::Count),
            resolved: format_value(r_now, &Unit::Count),
            resolved_change: change(r_now, r_before),
        });
    }
    let view = HomePage {
        c: &c,
        nav: &nav,
        notice: None,
        error: period.error.as_deref(),
        period: &period,
        base: "/app/dashboard",
        connected,
        has_teams: !roster.teams.is_empty(),
        teams,
        week,
        time_zone: d.time_zone,
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

/// The team's members with a counted commit in the last seven days.
fn last_week_authors(recent: &Figures<UserCommits>, roster: &Roster, team: &Team, today: Day) -> f64 {
    let members: Vec<&Person> = roster
        .people_in(None, Some(team), Day::from_number(today.number() - 6), Day::from_number(today.number() + 1))
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    recent
        .series
        .iter()
        .filter(|s| members.iter().any(|m| m.key == s.key))
        .filter(|s| s.points.iter().skip(7).any(|p| p.value > 0.0))
        .count() as f64
}

// ----- a team -----

#[derive(Template)]
#[template(path = "dashboard_team.html")]
struct TeamPage<'a> {
    c: &'a Chrome,
    nav: &'a Nav,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    period: &'a Period,
    base: String,
    heading: String,
    lede: String,
    back: (&'static str, &'static str),
    connected: bool,
    /// Whether the window's form shows (a sprint's page has its own dates).
    filters: bool,
    stats: Vec<(&'static str, String)>,
    links: Vec<(String, String)>,
    panels: Vec<Panel>,
}

/// A team's charts from its dashboard.
fn team_data(d: &Dashboard, team: &Team, period: &Period) -> Vec<Data> {
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
    let rows = members.iter().map(|m| (m.name.clone(), m.key.clone(), Some(person_href(&m.key, period)))).collect();
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
                commenters.iter().map(|m| (m.name.clone(), m.key.clone(), Some(person_href(&m.key, period)))).collect(),
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
                sprints
                    .iter()
                    .map(|s| (s.name.clone(), s.id.to_string(), Some(sprint_href(team, s.id, period))))
                    .collect(),
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
fn commits_chart<S>(s: &cairn_metrics::figures::Series<S>, w: &Window) -> Data {
    Data::new("commits", "Commits", what::COMMITS, Unit::Count, Draw::Bars)
        .over_time(w)
        .points("Commits", &s.points)
        .headline(count(s.total, "commit", "commits"))
}

/// Active days per bucket (the caller heads it).
fn active_days_chart<S>(s: &cairn_metrics::figures::Series<S>, w: &Window) -> Data {
    Data::new("active-days", "Active days", what::ACTIVE_DAYS, Unit::Count, Draw::Bars)
        .over_time(w)
        .points("Active days", &s.points)
}

/// Impact per bucket, headed by the total.
fn impact_chart<S>(s: &cairn_metrics::figures::Series<S>, w: &Window) -> Data {
    Data::new("impact", "Impact", what::IMPACT, Unit::Plain, Draw::Line)
        .over_time(w)
        .points("Impact", &s.points)
        .headline(format_value(s.total, &Unit::Plain))
}

/// The cycle-time charts: the median cycle per bucket, and the stages.
fn cycle_data(cycle: Option<(&CycleTime, &[Point])>, w: &Window) -> Vec<Data> {
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
struct JiraSeries<'a> {
    throughput: &'a Figures<Throughput>,
    quality: &'a Figures<Quality>,
    estimations: &'a Figures<Estimations>,
    focus: &'a Figures<Focus>,
}

impl<'a> From<&'a Dashboard> for JiraSeries<'a> {
    fn from(d: &'a Dashboard) -> Self {
        JiraSeries { throughput: &d.throughput, quality: &d.quality, estimations: &d.estimations, focus: &d.focus }
    }
}

fn jira_data(d: JiraSeries<'_>, w: &Window, team: &Team) -> Vec<Data> {
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

pub(super) async fn team(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path(id): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (metrics, settings, roster) = basics(&s).await?;
    let Some(team) = find_team(&roster, &id) else { return Ok(no_team(&state, &s).await) };
    let period = f.period(&settings);
    let (d, connected) = tokio::try_join!(
        Dashboard::load(&metrics, period.window, &roster, &settings, None, Some(&team)),
        connected(&metrics),
    )?;
    let data = team_data(&d, &team, &period);
    if let Some(answer) = csv_answer(&f, &data, &team.name, &period) {
        return answer;
    }
    let mut stats = Vec::new();
    if let Some(t) = only(&d.team_commits) {
        stats.push(("Commits", format_value(t.total, &Unit::Count)));
        stats.push(("Active authors", format_value(t.summary.active_authors, &Unit::Count)));
    }
    if let Some(c) = only(&d.cycle_time).and_then(|c| c.summary.cycle.median_hours) {
        stats.push(("Cycle time (median)", format_value(c * 3600.0, &Unit::Seconds)));
    }
    if let Some(v) = d.velocity.as_ref().and_then(|v| v.velocity) {
        stats.push(("Velocity", format_value(v, &Unit::Plain)));
    }
    if let Some(sd) = d.velocity.as_ref().and_then(|v| v.say_do) {
        stats.push(("Say/do", format_value(percent(sd), &Unit::Percent)));
    }
    if let Some(t) = only(&d.throughput) {
        stats.push(("Resolved", format_value(t.total, &Unit::Count)));
    }
    let (c, nav) = s.shell(&state, &team.name, "dashboard").await;
    let base = format!("/app/dashboard/teams/{}", team.id);
    let mut links: Vec<(String, String)> = d
        .sprints
        .iter()
        .flat_map(|s| &s.sprints)
        .filter(|s| s.state == SprintState::Active)
        .map(|s| (sprint_href(&team, s.id, &period), s.name.clone()))
        .collect();
    links.push((format!("{base}/cycle-time?{}", period.query), "Cycle time".to_owned()));
    links.push((format!("{base}/dora?{}", period.query), "DORA".to_owned()));
    let members = roster.people_in(None, Some(&team), period.window.from, period.window.to).len();
    let view = TeamPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: period.error.as_deref(),
        period: &period,
        panels: panels(&data, &c, &base, &period, "Nothing in this period"),
        base,
        heading: team.name.clone(),
        lede: format!(
            "{} in this period · {} · local days in {}",
            count(members as f64, "member", "members"),
            match team.board {
                Some(b) => format!("Jira board {b}"),
                None => "no Jira board".to_owned(),
            },
            d.time_zone
        ),
        back: ("/app/dashboard", "Dashboard"),
        connected,
        filters: true,
        stats,
        links,
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

// ----- a person -----

pub(super) async fn person(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path(key): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (metrics, settings, roster) = basics(&s).await?;
    let Some(person) = roster.find(&key).cloned() else {
        return Ok(s.not_found(&state, "Person not found", ("/app/dashboard", "Dashboard")).await);
    };
    let period = f.period(&settings);
    let w = &period.window;
    // The teams the person was in during the window; the Jira charts are those of the one
    // they were in last (the latest end of a membership, an open one latest of all).
    let teams: Vec<&Team> =
        roster.teams.iter().filter(|t| !roster.people_in(Some(&person), Some(t), w.from, w.to).is_empty()).collect();
    let last_in = |t: &Team| {
        t.members.iter().filter(|m| m.person_id == person.id && m.from < w.to).map(|m| (m.to.is_none(), m.to)).max()
    };
    let last_team = teams.iter().copied().max_by_key(|t| last_in(t));
    // Their own rollups, and their last team's Jira rows; every commit (impact ranks a commit
    // among its repository's).
    let (rollups, commits, cycle, jira, connected) = tokio::try_join!(
        GitHubFigures::read(&metrics, *w, roster.clone(), &settings, Some(&person), None),
        CommitFigures::read(&metrics, *w, roster.clone(), &settings),
        CycleFigures::read(&metrics, *w, roster.clone(), &settings),
        async {
            match last_team {
                Some(t) => JiraFigures::read(&metrics, *w, roster.clone(), &settings, Some(t)).await.map(Some),
                None => Ok(None),
            }
        },
        connected(&metrics),
    )?;
    let me = Some(&person);
    let mut data = Vec::new();
    let mut stats = Vec::new();
    if let Some(s) = only(&rollups.user_commits(me, None)) {
        stats.push(("Commits", format_value(s.total, &Unit::Count)));
        stats.push(("Active days", format_value(s.summary.active_days, &Unit::Count)));
        stats.push(("Commits per active day", format_value(s.summary.commits_per_active_day, &Unit::Plain)));
        data.push(commits_chart(s, w));
    }
    if let Some(s) = only(&rollups.user_active_days(me, None)) {
        data.push(active_days_chart(s, w).headline(count(s.total, "day", "days")));
    }
    if let Some(s) = only(&commits.user_impact(me, None)) {
        stats.push(("Impact", format_value(s.total, &Unit::Plain)));
        data.push(impact_chart(s, w));
    }
    if let Some(s) = only(&rollups.user_comments(me, None)) {
        data.push(
            Data::new("comments", "Pull-request comments", what::COMMENTS, Unit::Count, Draw::Bars)
                .over_time(w)
                .points("Comments", &s.points)
                .headline(format!(
                    "{}: {} on their own, {} on others'",
                    count(s.total, "comment", "comments"),
                    format_value(s.summary.on_own, &Unit::Count),
                    format_value(s.summary.on_others, &Unit::Count)
                )),
        );
    }
    let cycle = cycle.cycle_time(me, None);
    data.extend(cycle_data(only(&cycle).map(|s| (&s.summary, s.points.as_slice())), w));
    if let (Some(team), Some(jira)) = (last_team, &jira) {
        let (throughput, quality) = (jira.throughput(me, Some(team)), jira.quality(me, Some(team)));
        let (estimations, focus) = (jira.estimations(me, Some(team)), jira.focus(me, Some(team)));
        data.extend(jira_data(
            JiraSeries { throughput: &throughput, quality: &quality, estimations: &estimations, focus: &focus },
            w,
            team,
        ));
    }
    if let Some(answer) = csv_answer(&f, &data, &person.name, &period) {
        return answer;
    }
    let (c, nav) = s.shell(&state, &person.name, "dashboard").await;
    let base =
        format!("/app/dashboard/people/{}", url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>());
    let teams: Vec<String> = teams.iter().map(|t| t.name.clone()).collect();
    let view = TeamPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: period.error.as_deref(),
        period: &period,
        panels: panels(&data, &c, &base, &period, "Nothing in this period"),
        base,
        heading: person.name.clone(),
        lede: if teams.is_empty() {
            format!("{} · in no team in this period", person.key)
        } else {
            format!("{} · {} in this period", person.key, teams.join(", "))
        },
        back: ("/app/dashboard", "Dashboard"),
        connected,
        filters: true,
        stats,
        links: Vec::new(),
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

// ----- a sprint -----

pub(super) async fn sprint(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path((id, sprint)): Path<(String, String)>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (metrics, settings, roster) = basics(&s).await?;
    let Some(team) = find_team(&roster, &id) else { return Ok(no_team(&state, &s).await) };
    let period = f.period(&settings);
    let jira = JiraFigures::read(&metrics, period.window, roster.clone(), &settings, Some(&team)).await?;
    let burn = sprint.parse::<i64>().ok().and_then(|n| jira.burn_up(&team, n));
    let Some(burn) = burn else {
        return Ok(s.not_found(&state, "Sprint not found", ("/app/dashboard", "Dashboard")).await);
    };
    let zone = settings.time_zone.zone().clone();
    let sf: &SprintFigures = &burn.sprint;
    let days = &burn.days;
    let data = vec![
        Data::new("burn-up", "Burn-up", what::BURN_UP, Unit::Plain, Draw::Line)
            .categories(
                "Day",
                days.iter().map(|b| (bucket_label(b.day, Granularity::Day), b.day.to_string(), None)).collect(),
            )
            .series("Scope", days.iter().map(|b| Some(b.scope)).collect())
            .series("Done", days.iter().map(|b| Some(b.done)).collect()),
    ];
    if let Some(answer) = csv_answer(&f, &data, &format!("{} {}", team.name, sf.name), &period) {
        return answer;
    }
    let pts = |v: Option<f64>| v.map(|v| format_value(v, &Unit::Plain)).unwrap_or_else(|| "\u{2013}".into());
    let date = |t: Option<i64>| t.map(|t| zone.day(t).to_string()).unwrap_or_else(|| "\u{2013}".into());
    let stats = vec![
        ("Committed", pts(sf.commitment)),
        ("Completed", pts(sf.completed)),
        ("Added", pts(sf.added)),
        ("Removed", pts(sf.removed)),
        ("Say/do", sf.say_do.map(|v| format_value(percent(v), &Unit::Percent)).unwrap_or_else(|| "\u{2013}".into())),
    ];
    let state_text = match sf.state {
        SprintState::Future => "future",
        SprintState::Active => "active",
        SprintState::Closed => "closed",
    };
    let (c, nav) = s.shell(&state, &sf.name, "dashboard").await;
    let base = format!("/app/dashboard/teams/{}/sprints/{}", team.id, sf.id);
    let view = TeamPage {
        c: &c,
        nav: &nav,
        notice: None,
        // The sprint's own dates are shown; the window only carries to the links.
        error: None,
        period: &period,
        panels: panels(&data, &c, &base, &period, "The sprint has not started"),
        base,
        heading: sf.name.clone(),
        lede: format!(
            "{} · {} sprint · {} to {}{}",
            team.name,
            state_text,
            date(sf.start),
            date(sf.end),
            sf.completed_at.map(|t| format!(", completed {}", zone.day(t))).unwrap_or_default()
        ),
        back: ("/app/dashboard", "Dashboard"),
        connected: true,
        filters: false,
        stats,
        links: vec![(format!("/app/dashboard/teams/{}?{}", team.id, period.query), "Team dashboard".to_owned())],
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

// ----- a team's cycle time -----

pub(super) async fn cycle_time(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path(id): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (metrics, settings, roster) = basics(&s).await?;
    let Some(team) = find_team(&roster, &id) else { return Ok(no_team(&state, &s).await) };
    let period = f.period(&settings);
    let (figures, connected) = tokio::try_join!(CycleFigures::load(&metrics, period.window), connected(&metrics))?;
    let whole = figures.cycle_time(None, Some(&team));
    let w = &period.window;
    let mut data = cycle_data(only(&whole).map(|s| (&s.summary, s.points.as_slice())), w);
    let members: Vec<(Person, CycleTime)> = roster
        .people_in(None, Some(&team), w.from, w.to)
        .into_iter()
        .filter_map(|(_, p)| {
            let f = figures.cycle_time(Some(p), Some(&team));
            f.series.into_iter().next().map(|s| (p.clone(), s.summary))
        })
        .filter(|(_, c)| c.pull_requests > 0.0)
        .collect();
    data.push(
        Data::new("members", "Cycle time by member", what::PERSON_CYCLE, Unit::Seconds, Draw::Bars)
            .categories(
                "Person",
                members
                    .iter()
                    .map(|(p, _)| (p.name.clone(), p.key.clone(), Some(person_href(&p.key, &period))))
                    .collect(),
            )
            .series("Median", members.iter().map(|(_, c)| hours(c.cycle.median_hours)).collect())
            .extra("85th percentile", members.iter().map(|(_, c)| hours(c.cycle.p85_hours)).collect(), Unit::Seconds)
            .extra("Pull requests", members.iter().map(|(_, c)| Some(c.pull_requests)).collect(), Unit::Count),
    );
    if let Some(answer) = csv_answer(&f, &data, &format!("{} cycle time", team.name), &period) {
        return answer;
    }
    let mut stats = Vec::new();
    if let Some(c) = only(&whole) {
        let c = &c.summary;
        stats.push(("Pull requests merged", format_value(c.pull_requests, &Unit::Count)));
        for (label, stage) in [
            ("Cycle (median)", &c.cycle),
            ("Coding", &c.coding),
            ("Pickup", &c.pickup),
            ("Review", &c.review),
            ("Deploy", &c.deploy),
        ] {
            stats.push((
                label,
                hours(stage.median_hours).map(|v| format_value(v, &Unit::Seconds)).unwrap_or_else(|| "\u{2013}".into()),
            ));
        }
    }
    let title = format!("{}: cycle time", team.name);
    let (c, nav) = s.shell(&state, &title, "dashboard").await;
    let base = format!("/app/dashboard/teams/{}/cycle-time", team.id);
    let view = TeamPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: period.error.as_deref(),
        period: &period,
        panels: panels(&data, &c, &base, &period, "No pull request merged in this period"),
        base,
        heading: title.clone(),
        lede: "Pull requests of the team's members merged in this period, from their first commit to production."
            .into(),
        back: ("/app/dashboard", "Dashboard"),
        connected,
        filters: true,
        stats,
        links: vec![(format!("/app/dashboard/teams/{}?{}", team.id, period.query), "Team dashboard".to_owned())],
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

// ----- a team's DORA keys -----

fn level_text(level: Option<cairn_metrics::figures::dora::Level>) -> String {
    level.map(|l| l.as_str().to_owned()).unwrap_or_else(|| "not rated".into())
}

pub(super) async fn dora(
    State(state): State<AppState>,
    s: Page<Readonly>,
    Path(id): Path<String>,
    Query(f): Query<Filters>,
) -> Result<Response, PageError> {
    let (metrics, settings, roster) = basics(&s).await?;
    let Some(team) = find_team(&roster, &id) else { return Ok(no_team(&state, &s).await) };
    let period = f.period(&settings);
    let w = &period.window;
    let (figures, connected) =
        tokio::try_join!(DoraFigures::load(&metrics, *w, roster, &settings), connected(&metrics))?;
    let k = figures.dora(Some(&team));
    let (df, lt, cfr, ttr) = (&k.deployment_frequency, &k.lead_time, &k.change_failure_rate, &k.time_to_restore);
    let seconds =
        |h: Option<f64>| hours(h).map(|v| format_value(v, &Unit::Seconds)).unwrap_or_else(|| "\u{2013}".into());
    let median_seconds =
        |points: &[Point]| points.iter().map(|p| Some(p.value * 3600.0).filter(|v| *v > 0.0)).collect();
    let data = vec![
        Data::new("deployments", "Deployment frequency", what::DEPLOYMENTS, Unit::Count, Draw::Bars)
            .over_time(w)
            // Without any, the chart says what counts as one rather than drawing zeros.
            .series("Deployments", df.points.iter().map(|p| (df.deployments > 0.0).then_some(p.value)).collect())
            .when_empty("No deployment or release shipped the team's work")
            .headline(format!("{} a week · {}", format_value(df.per_week, &Unit::Plain), level_text(df.level))),
        Data::new("lead-time", "Lead time for changes", what::LEAD_TIME, Unit::Seconds, Draw::Line)
            .over_time(w)
            .series("Median", median_seconds(&lt.points))
            .headline(format!("{} median · {}", seconds(lt.median_hours), level_text(lt.level))),
        Data::new("change-failure-rate", "Change failure rate", what::FAILURE_RATE, Unit::Percent, Draw::Line)
            .over_time(w)
            // A bucket without a deployment has no rate (a gap, not 0%).
            .series(
                "Failure rate",
                cfr.points.iter().zip(&df.points).map(|(p, n)| (n.value > 0.0).then(|| percent(p.value))).collect(),
            )
            .headline(format!(
                "{} · {}",
                cfr.rate.map(|r| format_value(percent(r), &Unit::Percent)).unwrap_or_else(|| "\u{2013}".into()),
                level_text(cfr.level)
            )),
        Data::new("time-to-restore", "Time to restore", what::RESTORE, Unit::Seconds, Draw::Line)
            .over_time(w)
            .series("Median", median_seconds(&ttr.points))
            .headline(format!("{} median · {}", seconds(ttr.median_hours), level_text(ttr.level))),
    ];
    if let Some(answer) = csv_answer(&f, &data, &format!("{} dora", team.name), &period) {
        return answer;
    }
    let stats = vec![
        ("Deployments", format_value(df.deployments, &Unit::Count)),
        ("Deployment days", format_value(df.deployment_days, &Unit::Count)),
        ("Changes shipped", format_value(lt.changes, &Unit::Count)),
        ("Lead time, 85th percentile", seconds(lt.p85_hours)),
        ("Failed deployments", format_value(cfr.failed, &Unit::Count)),
        ("Incidents resolved", format_value(ttr.incidents, &Unit::Count)),
    ];
    let title = format!("{}: DORA", team.name);
    let (c, nav) = s.shell(&state, &title, "dashboard").await;
    let base = format!("/app/dashboard/teams/{}/dora", team.id);
    let incidents = format!(
        "Incidents are Jira issues of type {} or labelled {}, in the team's board's project.",
        or_list(&settings.incident_types),
        or_list(&settings.incident_labels)
    );
    let view = TeamPage {
        c: &c,
        nav: &nav,
        notice: None,
        error: period.error.as_deref(),
        period: &period,
        panels: panels(&data, &c, &base, &period, "Nothing in this period"),
        base,
        heading: title.clone(),
        lede: format!(
            "Deployments that shipped the team's pull requests, and the team's incidents. {incidents} Levels as the 2023 DORA report clusters them."
        ),
        back: ("/app/dashboard", "Dashboard"),
        connected,
        filters: true,
        stats,
        links: vec![(format!("/app/dashboard/teams/{}?{}", team.id, period.query), "Team dashboard".to_owned())],
    };
    Ok(s.render(&state, StatusCode::OK, &c, &view))
}

/// `A`, `A or B`, `A, B or C`; `none` when empty.
fn or_list(items: &[String]) -> String {
    match items {
        [] => "none".to_owned(),
        [one] => format!("\u{201c}{one}\u{201d}"),
        [rest @ .., last] => format!(
            "{} or \u{201c}{last}\u{201d}",
            rest.iter().map(|i| format!("\u{201c}{i}\u{201d}")).collect::<Vec<_>>().join(", ")
        ),
    }
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

    #[test]
    fn the_default_window_is_twelve_iso_weeks_up_to_today() {
        // 2026-12-07 is a Monday.
        let today = Day::parse("2026-12-09", "d").unwrap();
        let w = weeks_to(today, 12, Granularity::Week);
        assert_eq!((w.from.to_string(), w.to.to_string()), ("2026-09-21".into(), "2026-12-10".into()));
        assert_eq!(w.buckets().len(), 12);
        assert_eq!(bucket_label(w.from, Granularity::Week), "21 Sep");
        assert_eq!(bucket_label(w.from, Granularity::Month), "Sep 2026");
    }
}
