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
use cairn_charts::{Mode, Sparkline, Unit, format_value};
use cairn_domain::now_ms;
use cairn_metrics::collected::SprintState;
use cairn_metrics::figures::cycle::{CycleFigures, CycleTime};
use cairn_metrics::figures::dashboard::Dashboard;
use cairn_metrics::figures::dora::DoraFigures;
use cairn_metrics::figures::github::{GitHubFigures, UserCommits};
use cairn_metrics::figures::jira::{JiraFigures, SprintFigures};
use cairn_metrics::figures::{DEFAULT_WEEKS, Figures, Granularity, Person, Point, Roster, Window};
use cairn_metrics::panels::{
    Data, Draw, JiraSeries, Links, Table, active_days_chart, bucket_label, commits_chart, count, cycle_data, dora_data,
    hours, impact_chart, jira_data, of, only, percent, team_data, what,
};
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

impl Filters {
    fn period(&self, settings: &Settings) -> Period {
        let today = settings.time_zone.zone().day(now_ms());
        let default = Window::last_weeks(today, DEFAULT_WEEKS, Granularity::Week);
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
                let w = Window::last_weeks(today, p.weeks, p.granularity);
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
            wide: nonced(d.svg(760, 240, Mode::Adaptive, d.empty.unwrap_or(empty)), &c.nonce),
            narrow: nonced(d.svg(340, 210, Mode::Adaptive, d.empty.unwrap_or(empty)), &c.nonce),
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

/// A person's and a sprint's pages, in the page's window.
impl Links for Period {
    fn person(&self, key: &str) -> Option<String> {
        Some(format!(
            "/app/dashboard/people/{}?{}",
            url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>(),
            self.query
        ))
    }

    fn sprint(&self, team: &Team, sprint: i64) -> Option<String> {
        Some(format!("/app/dashboard/teams/{}/sprints/{sprint}?{}", team.id, self.query))
    }
}

/// What the figures read, told once per page: the metrics settings and the roster.
async fn basics(s: &Signed) -> Result<(Metrics<'_>, Settings, Roster), PageError> {
    let metrics = Metrics { db: &s.db };
    let (roster, settings) = Roster::load_with_settings(&metrics).await?;
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
        .filter_map(|s| Some((period.sprint(&team, s.id)?, s.name.clone())))
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
    // Their own rollups and pull requests, and their last team's Jira rows.
    let (rollups, cycle, jira, connected) = tokio::try_join!(
        GitHubFigures::read(&metrics, *w, roster.clone(), &settings, Some(&person), None),
        CycleFigures::read(&metrics, *w, roster.clone(), &settings, Some(&person), None),
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
    if let Some(s) = only(&rollups.user_impact(me, None)) {
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
    let Ok(sprint) = sprint.parse::<i64>() else {
        return Ok(s.not_found(&state, "Sprint not found", ("/app/dashboard", "Dashboard")).await);
    };
    let jira = JiraFigures::read_sprint(&metrics, period.window, roster.clone(), &settings, &team, sprint).await?;
    let Some(burn) = jira.burn_up(&team, sprint) else {
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
                members.iter().map(|(p, _)| (p.name.clone(), p.key.clone(), period.person(&p.key))).collect(),
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
        tokio::try_join!(DoraFigures::load(&metrics, *w, roster, &settings, Some(&team)), connected(&metrics))?;
    let k = figures.dora(Some(&team));
    let (df, lt, cfr, ttr) = (&k.deployment_frequency, &k.lead_time, &k.change_failure_rate, &k.time_to_restore);
    let seconds =
        |h: Option<f64>| hours(h).map(|v| format_value(v, &Unit::Seconds)).unwrap_or_else(|| "\u{2013}".into());
    let data = dora_data(&k, w);
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
    fn the_default_window_is_twelve_iso_weeks_up_to_today() {
        // 2026-12-07 is a Monday.
        let today = Day::parse("2026-12-09", "d").unwrap();
        let w = Window::last_weeks(today, 12, Granularity::Week);
        assert_eq!((w.from.to_string(), w.to.to_string()), ("2026-09-21".into(), "2026-12-10".into()));
        assert_eq!(w.buckets().len(), 12);
        assert_eq!(bucket_label(w.from, Granularity::Week), "21 Sep");
        assert_eq!(bucket_label(w.from, Granularity::Month), "Sep 2026");
    }
}
