//! The Jira figures: sprints (commitment, completed, added, removed), velocity, and the
//! team series of resolved issues (throughput, quality, estimation) and worklogs (focus).
//!
//! A team owns a board (`metrics_teams.board`) and the board's project: its sprints are the
//! board's, its issues the project's. What the tables keep of an issue's past is its Sprint
//! field (the intervals of `metrics_sprint_issues`), per started sprint the commitment
//! snapshot, and per closed sprint the completion snapshot (points and done at the close);
//! otherwise story points and status are kept as they are now. So a value "at an instant"
//! other than those is exact when the issue has not changed since (its `updated_at` is not
//! later), and otherwise read as `docs/metrics.md` says: points as they are now, done when
//! the issue was resolved by then.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Buckets, Figures, Granularity, Person, Point, Roster, Series, Window, ratio};
use crate::collected::store::{binds, board_sprints, commitments, completions, rows_where, rows_where_any};
use crate::collected::{
    Board, CommitmentItem, CompletionItem, Issue, Sprint, SprintMembership, SprintState, StatusCategory, Worklog,
};
use crate::day::{Day, Zone};
use crate::store::Sql;
use crate::teams::Team;
use crate::{Metrics, MetricsError};

/// How many closed sprints velocity averages, and trend compares it with.
pub const VELOCITY_SPRINTS: usize = 3;

/// One sprint of a team's board, as `jira/sprints` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SprintFigures {
    pub id: i64,
    pub name: String,
    pub state: SprintState,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub completed_at: Option<i64>,
    /// Σ points at the start of the issues in the sprint then (the snapshot); `None` before
    /// it is taken.
    pub commitment: Option<f64>,
    /// Σ points of the issues in the sprint at its completion that were done then; closed
    /// sprints only.
    pub completed: Option<f64>,
    /// Points of issues in the sprint at its completion (now, while active) but not at its
    /// start.
    pub added: Option<f64>,
    /// Points at the start of issues in the sprint then but not at its completion (now,
    /// while active).
    pub removed: Option<f64>,
    /// `completed ÷ commitment`.
    pub say_do: Option<f64>,
}

/// `jira/sprints`: a team's sprints that overlap the window, by start.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamSprints {
    pub metric: &'static str,
    pub team: String,
    pub sprints: Vec<SprintFigures>,
}

/// A sprint day by day, for its burn-up chart.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnUp {
    pub sprint: SprintFigures,
    /// One per local day of the sprint, in order.
    pub days: Vec<BurnDay>,
}

/// The sprint at the end of one of its days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnDay {
    pub day: Day,
    /// Σ points of the issues in the sprint.
    pub scope: f64,
    /// Σ points of those done.
    pub done: f64,
}

/// The most days a burn-up draws (a sprint left open for years stops there).
const MAX_BURN_UP_DAYS: usize = 366;

/// `jira/velocity`: the team's closed sprints completed in the window, and its velocity as
/// of the window's end.
#[derive(Debug, Clone, PartialEq)]
pub struct Velocity {
    pub sprints: TeamSprints,
    /// Mean completed over the last 3 closed sprints completed before `to`.
    pub velocity: Option<f64>,
    /// `velocity ÷` the mean completed of the 3 closed sprints before those.
    pub trend: Option<f64>,
    /// Σ completed ÷ Σ commitment over the sprints of `velocity`.
    pub say_do: Option<f64>,
}

/// `jira/throughput`: resolved issues of each type, per ISO week.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub by_type: Vec<TypeThroughput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeThroughput {
    pub issue_type: String,
    pub total: f64,
    /// One per ISO week of the window, whatever the granularity.
    pub points: Vec<Point>,
}

/// `jira/quality`: `total` is the bug share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub bugs: f64,
    pub resolved: f64,
}

/// `jira/estimations`: `total` is the median ratio spent ÷ estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimations {
    pub within_25pct: f64,
    pub effort_variance: f64,
    pub no_estimate_share: f64,
    /// Resolved issues with an estimate and time spent: those the ratios are of.
    pub issues: f64,
}

/// `jira/focus`: `total` is the share of worklog time planned in an active sprint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Focus {
    pub planned_seconds: f64,
    pub all_seconds: f64,
    pub unplanned: f64,
}

/// A row of a source: rows are keyed by their source and their upstream id.
type Keyed = (String, String);

/// The Jira rows a window's figures need, read once.
#[derive(Debug, Clone)]
pub struct JiraFigures {
    pub roster: Roster,
    pub window: Window,
    pub time_zone: String,
    zone: Zone,
    /// Instants `[from, to)`: the window's local days.
    span: (i64, i64),
    now: i64,
    boards: Vec<(String, Board)>,
    sprints: Vec<(String, Sprint)>,
    /// Memberships by (source, issue).
    in_sprints: HashMap<Keyed, Vec<SprintMembership>>,
    /// Memberships by (source, sprint): the issues ever in it.
    sprint_issues: HashMap<(String, i64), BTreeSet<String>>,
    /// Taken commitments by (source, sprint).
    commitments: HashMap<(String, i64), Vec<CommitmentItem>>,
    /// Taken completions by (source, sprint).
    completions: HashMap<(String, i64), Vec<CompletionItem>>,
    /// Issues resolved in the window, ever in a sprint, or worklogged in the window.
    issues: HashMap<Keyed, Issue>,
    /// Worklogs started in the window, and every worklog of the issues resolved in it.
    worklogs: Vec<(String, Worklog)>,
}

impl JiraFigures {
    /// Reads only what throughput and quality need of every team: the boards and the issues
    /// resolved in the window. The other figures of what it reads are empty.
    pub async fn read_resolved(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
    ) -> Result<JiraFigures, MetricsError> {
        let zone = settings.time_zone.zone();
        let span = (zone.start_ms(window.from), zone.start_ms(window.to));
        let rows = JiraRows::read_resolved(metrics, span).await?;
        Ok(JiraFigures::of(rows, window, roster, settings, span))
    }

    /// Reads the Jira rows the window's figures need, for a roster and settings read
    /// already: every team's, or `team`'s only (its board's sprints and the issues of those
    /// its figures look at, its project's issues resolved in the window, its members'
    /// worklogs).
    pub async fn read(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
        team: Option<&Team>,
    ) -> Result<JiraFigures, MetricsError> {
        JiraFigures::read_with(metrics, window, roster, settings, team, None).await
    }

    /// Reads `team`'s rows as [`JiraFigures::read`] does, and those of its board's sprint
    /// `sprint` whenever it ran (for [`JiraFigures::burn_up`]).
    pub async fn read_sprint(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
        team: &Team,
        sprint: i64,
    ) -> Result<JiraFigures, MetricsError> {
        JiraFigures::read_with(metrics, window, roster, settings, Some(team), Some(sprint)).await
    }

    async fn read_with(
        metrics: &Metrics<'_>,
        window: Window,
        roster: Roster,
        settings: &crate::Settings,
        team: Option<&Team>,
        sprint: Option<i64>,
    ) -> Result<JiraFigures, MetricsError> {
        let zone = settings.time_zone.zone();
        let span = (zone.start_ms(window.from), zone.start_ms(window.to));
        let rows = match team {
            None => JiraRows::read_all(metrics, span).await?,
            Some(team) => {
                let accounts: Vec<String> = roster
                    .keys_of(None, Some(team), window.from, window.to)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|k| k.strip_prefix("jira:").map(str::to_owned))
                    .collect();
                JiraRows::read_team(metrics, span, team.board, &accounts, sprint).await?
            }
        };
        Ok(JiraFigures::of(rows, window, roster, settings, span))
    }

    /// The figures of the rows read for `window` (`span`, its instants).
    fn of(rows: JiraRows, window: Window, roster: Roster, settings: &crate::Settings, span: (i64, i64)) -> JiraFigures {
        let JiraRows { boards, sprints, memberships, issues, worklogs, taken, closed } = rows;
        let mut in_sprints: HashMap<Keyed, Vec<SprintMembership>> = HashMap::new();
        let mut sprint_issues: HashMap<(String, i64), BTreeSet<String>> = HashMap::new();
        for (source, m) in memberships {
            sprint_issues.entry((source.clone(), m.sprint_id)).or_default().insert(m.issue_id.clone());
            in_sprints.entry((source, m.issue_id.clone())).or_default().push(m);
        }
        let mut commitments: HashMap<(String, i64), Vec<CommitmentItem>> = HashMap::new();
        for (source, sprint, item) in taken {
            commitments.entry((source, sprint)).or_default().extend(item);
        }
        let mut completions: HashMap<(String, i64), Vec<CompletionItem>> = HashMap::new();
        for (source, sprint, item) in closed {
            completions.entry((source, sprint)).or_default().extend(item);
        }
        JiraFigures {
            roster,
            window,
            time_zone: settings.time_zone.as_str().to_owned(),
            zone: settings.time_zone.zone().clone(),
            span,
            now: cairn_domain::now_ms(),
            boards,
            sprints,
            in_sprints,
            sprint_issues,
            commitments,
            completions,
            issues: issues.into_iter().map(|(source, i)| ((source, i.id.clone()), i)).collect(),
            worklogs,
        }
    }

    fn figures<S>(&self, metric: &'static str, series: Vec<Series<S>>) -> Figures<S> {
        Figures { metric, window: self.window, time_zone: self.time_zone.clone(), series }
    }

    /// The team's sprints: its board's, in every source.
    fn team_sprints<'a>(&'a self, team: &Team) -> impl Iterator<Item = &'a (String, Sprint)> + 'a {
        let board = team.board;
        self.sprints.iter().filter(move |(_, s)| Some(s.board_id) == board)
    }

    /// The team's projects: its board's, as `(source, project key)`.
    fn team_projects(&self, team: &Team) -> HashSet<Keyed> {
        self.boards
            .iter()
            .filter(|(_, b)| Some(b.id) == team.board)
            .filter_map(|(source, b)| b.project_key.clone().map(|p| (source.clone(), p)))
            .collect()
    }

    /// Whether the instant is on a local day of the window.
    fn in_window(&self, t: i64) -> bool {
        self.span.0 <= t && t < self.span.1
    }

    /// The member an issue's assignee or a worklog's author is.
    fn jira_person(&self, account: Option<&str>) -> Option<&Person> {
        account.and_then(|a| self.roster.person_of(&format!("jira:{a}")))
    }

    /// The resolved set of `team` (of `user`'s issues only, when given): its project's
    /// issues that are not sub-tasks, resolved on a day of the window; by resolution.
    fn resolved(&self, team: &Team, user: Option<&Person>) -> Vec<(&str, &Issue)> {
        let projects = self.team_projects(team);
        let mut out: Vec<(&str, &Issue)> = self
            .issues
            .iter()
            .filter(|((source, _), i)| projects.contains(&(source.clone(), i.project_key.clone())))
            .map(|((source, _), i)| (source.as_str(), i))
            .filter(|(_, i)| !i.is_subtask && i.resolved_at.is_some_and(|r| self.in_window(r)))
            .filter(|(_, i)| {
                user.is_none_or(|u| self.jira_person(i.assignee_account_id.as_deref()).is_some_and(|p| p.id == u.id))
            })
            .collect();
        out.sort_by(|(_, a), (_, b)| (a.resolved_at, &a.id).cmp(&(b.resolved_at, &b.id)));
        out
    }

    fn resolved_day(&self, issue: &Issue) -> Day {
        self.zone.day(issue.resolved_at.unwrap_or_default())
    }

    /// `jira/throughput`.
    pub fn throughput(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<Throughput> {
        let weekly = Window { granularity: Granularity::Week, ..self.window };
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let mut points = Buckets::new(self.window);
                let mut by_type: BTreeMap<&str, (f64, Buckets)> = BTreeMap::new();
                let resolved = self.resolved(t, user);
                for (_, i) in &resolved {
                    let day = self.resolved_day(i);
                    points.add(day, 1.0);
                    let (n, weeks) = by_type.entry(&i.issue_type).or_insert_with(|| (0.0, Buckets::new(weekly)));
                    *n += 1.0;
                    weeks.add(day, 1.0);
                }
                let by_type = by_type
                    .into_iter()
                    .map(|(issue_type, (total, weeks))| TypeThroughput {
                        issue_type: issue_type.to_owned(),
                        total,
                        points: weeks.points(),
                    })
                    .collect();
                Series {
                    key: t.id.clone(),
                    name: t.name.clone(),
                    total: resolved.len() as f64,
                    summary: Throughput { by_type },
                    points: points.points(),
                }
            })
            .collect();
        self.figures("jira/throughput", series)
    }

    /// `jira/quality`.
    pub fn quality(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<Quality> {
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let (mut bugs, mut all) = (Buckets::new(self.window), Buckets::new(self.window));
                let resolved = self.resolved(t, user);
                let mut n_bugs = 0.0;
                for (_, i) in &resolved {
                    let day = self.resolved_day(i);
                    all.add(day, 1.0);
                    if is_bug(i) {
                        bugs.add(day, 1.0);
                        n_bugs += 1.0;
                    }
                }
                let n = resolved.len() as f64;
                Series {
                    key: t.id.clone(),
                    name: t.name.clone(),
                    total: ratio(n_bugs, n),
                    summary: Quality { bugs: n_bugs, resolved: n },
                    points: shares(&bugs, &all),
                }
            })
            .collect();
        self.figures("jira/quality", series)
    }

    /// `jira/estimations`.
    pub fn estimations(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<Estimations> {
        let mut spent: HashMap<(&str, &str), i64> = HashMap::new();
        for (source, w) in &self.worklogs {
            *spent.entry((source.as_str(), w.issue_id.as_str())).or_default() += w.seconds;
        }
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let resolved = self.resolved(t, user);
                let mut per_bucket: BTreeMap<Day, Vec<f64>> = BTreeMap::new();
                let (mut ratios, mut sum_spent, mut sum_estimate, mut no_estimate) = (Vec::new(), 0.0, 0.0, 0.0);
                for (source, i) in &resolved {
                    let estimate = i.original_estimate_seconds.unwrap_or(0);
                    if estimate <= 0 {
                        no_estimate += 1.0;
                        continue;
                    }
                    let seconds = spent.get(&(*source, i.id.as_str())).copied().unwrap_or(0);
                    if seconds <= 0 {
                        continue;
                    }
                    let r = seconds as f64 / estimate as f64;
                    ratios.push(r);
                    per_bucket.entry(self.window.granularity.bucket(self.resolved_day(i))).or_default().push(r);
                    sum_spent += seconds as f64;
                    sum_estimate += estimate as f64;
                }
                let within = ratios.iter().filter(|r| (0.75..=1.25).contains(*r)).count() as f64;
                let n = ratios.len() as f64;
                let points = self
                    .window
                    .buckets()
                    .into_iter()
                    .map(|start| Point { start, value: median(per_bucket.remove(&start).unwrap_or_default()) })
                    .collect();
                Series {
                    key: t.id.clone(),
                    name: t.name.clone(),
                    total: median(ratios),
                    summary: Estimations {
                        within_25pct: ratio(within, n),
                        effort_variance: ratio(sum_spent - sum_estimate, sum_estimate),
                        no_estimate_share: ratio(no_estimate, resolved.len() as f64),
                        issues: n,
                    },
                    points,
                }
            })
            .collect();
        self.figures("jira/estimations", series)
    }

    /// Whether sprint `s` was active at `t`: started, and not yet completed (or ended, for a
    /// closed sprint without a completion time).
    fn active_at(s: &Sprint, t: i64) -> bool {
        let started = s.start_at.is_some_and(|start| start <= t);
        let over = match s.state {
            SprintState::Future => return false,
            SprintState::Active => None,
            SprintState::Closed => s.complete_at.or(s.end_at),
        };
        started && over.is_none_or(|end| t < end)
    }

    /// Whether the issue (its parent's sprints, for a sub-task) was at `t` in one of
    /// `sprints` that was active then.
    fn planned(&self, source: &str, issue_id: &str, sprints: &HashMap<i64, &Sprint>, t: i64) -> bool {
        let issue = self.issues.get(&(source.to_owned(), issue_id.to_owned()));
        let carrier = match issue {
            Some(i) if i.is_subtask => i.parent_id.as_deref().unwrap_or(issue_id),
            _ => issue_id,
        };
        self.in_sprints.get(&(source.to_owned(), carrier.to_owned())).is_some_and(|ms| {
            ms.iter().any(|m| contains(m, t) && sprints.get(&m.sprint_id).is_some_and(|s| JiraFigures::active_at(s, t)))
        })
    }

    /// `jira/focus`.
    pub fn focus(&self, user: Option<&Person>, team: Option<&Team>) -> Figures<Focus> {
        let series = self
            .roster
            .teams_in(team)
            .into_iter()
            .map(|t| {
                let board: Vec<&(String, Sprint)> = self.team_sprints(t).collect();
                let (mut planned, mut all) = (Buckets::new(self.window), Buckets::new(self.window));
                let (mut planned_seconds, mut all_seconds) = (0.0, 0.0);
                for (source, w) in self.worklogs.iter().filter(|(_, w)| self.in_window(w.started_at)) {
                    let Some(person) = self.jira_person(w.author_account_id.as_deref()) else { continue };
                    let day = self.zone.day(w.started_at);
                    if !self.roster.member_on(t, person, day) || user.is_some_and(|u| u.id != person.id) {
                        continue;
                    }
                    let seconds = w.seconds as f64;
                    all.add(day, seconds);
                    all_seconds += seconds;
                    let sprints: HashMap<i64, &Sprint> =
                        board.iter().filter(|(s, _)| s == source).map(|(_, s)| (s.id, s)).collect();
                    if self.planned(source, &w.issue_id, &sprints, w.started_at) {
                        planned.add(day, seconds);
                        planned_seconds += seconds;
                    }
                }
                let focus = ratio(planned_seconds, all_seconds);
                Series {
                    key: t.id.clone(),
                    name: t.name.clone(),
                    total: focus,
                    summary: Focus {
                        planned_seconds,
                        all_seconds,
                        unplanned: if all_seconds == 0.0 { 0.0 } else { 1.0 - focus },
                    },
                    points: shares(&planned, &all),
                }
            })
            .collect();
        self.figures("jira/focus", series)
    }

    /// The figures of one sprint of `source`.
    fn sprint(&self, source: &str, s: &Sprint) -> SprintFigures {
        let completed_at = match s.state {
            SprintState::Closed => s.complete_at.or(s.end_at),
            _ => None,
        };
        // Added and removed are counted at the completion, or now while the sprint runs.
        let reference = match s.state {
            SprintState::Closed => completed_at,
            SprintState::Active => Some(self.now),
            SprintState::Future => None,
        };
        let key = (source.to_owned(), s.id);
        let snapshot = self.commitments.get(&key);
        let commitment = snapshot.map(|items| items.iter().map(|i| i.points.unwrap_or(0.0)).sum::<f64>());
        let at_start: HashMap<&str, f64> = match (snapshot, s.start_at) {
            (Some(items), _) => items.iter().map(|i| (i.issue_id.as_str(), i.points.unwrap_or(0.0))).collect(),
            (None, Some(start)) => {
                self.issues_in(source, s.id, start).into_iter().map(|i| (i.id.as_str(), points(i))).collect()
            }
            (None, None) => HashMap::new(),
        };
        let at_end: Vec<(&str, f64, bool)> = reference.map(|t| self.scope_at(source, s, t)).unwrap_or_default();
        let completed =
            completed_at.map(|_| at_end.iter().filter(|(_, _, done)| *done).map(|(_, p, _)| p).sum::<f64>());
        let (added, removed) = match reference {
            Some(_) => {
                let ids: HashSet<&str> = at_end.iter().map(|(id, _, _)| *id).collect();
                let added = at_end.iter().filter(|(id, _, _)| !at_start.contains_key(id)).map(|(_, p, _)| p).sum();
                let removed = at_start.iter().filter(|(id, _)| !ids.contains(*id)).map(|(_, p)| p).sum();
                (Some(added), Some(removed))
            }
            None => (None, None),
        };
        let say_do = match (completed, commitment) {
            (Some(c), Some(k)) if k > 0.0 => Some(c / k),
            _ => None,
        };
        SprintFigures {
            id: s.id,
            name: s.name.clone(),
            state: s.state,
            start: s.start_at,
            end: s.end_at,
            completed_at,
            commitment,
            completed,
            added,
            removed,
            say_do,
        }
    }

    /// The sprint's scope at `t`: each issue in it then, its points, and whether it was done.
    /// At a closed sprint's completion that is its completion snapshot, when one was taken;
    /// otherwise the issues in it then, with their points as stored now (see `done_at`).
    fn scope_at<'a>(&'a self, source: &str, s: &Sprint, t: i64) -> Vec<(&'a str, f64, bool)> {
        let closed_then = s.state == SprintState::Closed && s.complete_at.or(s.end_at) == Some(t);
        match self.completions.get(&(source.to_owned(), s.id)) {
            Some(items) if closed_then => {
                items.iter().map(|i| (i.issue_id.as_str(), i.points.unwrap_or(0.0), i.done)).collect()
            }
            _ => {
                self.issues_in(source, s.id, t).into_iter().map(|i| (i.id.as_str(), points(i), done_at(i, t))).collect()
            }
        }
    }

    /// The issues (not sub-tasks, which have no points) in the sprint at `t`.
    fn issues_in(&self, source: &str, sprint: i64, t: i64) -> Vec<&Issue> {
        let Some(ids) = self.sprint_issues.get(&(source.to_owned(), sprint)) else { return Vec::new() };
        ids.iter()
            .filter_map(|id| {
                let key = (source.to_owned(), id.clone());
                let inside = self.in_sprints.get(&key)?.iter().any(|m| m.sprint_id == sprint && contains(m, t));
                self.issues.get(&key).filter(|i| inside && !i.is_subtask)
            })
            .collect()
    }

    /// `jira/sprints`: the team's sprints that overlap the window (started before its end,
    /// not over before its start), by start.
    pub fn sprints(&self, team: &Team) -> TeamSprints {
        let mut listed: Vec<&(String, Sprint)> = self
            .team_sprints(team)
            .filter(|(_, s)| {
                let Some(start) = s.start_at else { return false };
                let over = match s.state {
                    SprintState::Closed => s.complete_at.or(s.end_at).unwrap_or(start),
                    _ => self.now.max(start),
                };
                start < self.span.1 && over >= self.span.0
            })
            .collect();
        listed.sort_by_key(|(_, s)| (s.start_at, s.id));
        TeamSprints {
            metric: "jira/sprints",
            team: team.id.clone(),
            sprints: listed.into_iter().map(|(source, s)| self.sprint(source, s)).collect(),
        }
    }

    /// `jira/velocity`.
    pub fn velocity(&self, team: &Team) -> Velocity {
        let mut closed: Vec<SprintFigures> = self
            .team_sprints(team)
            .filter(|(_, s)| s.state == SprintState::Closed)
            .map(|(source, s)| self.sprint(source, s))
            .filter(|s| s.completed_at.is_some_and(|t| t < self.span.1))
            .collect();
        closed.sort_by_key(|s| (s.completed_at, s.id));
        let n = closed.len();
        let last = &closed[n.saturating_sub(VELOCITY_SPRINTS)..];
        let before = &closed[n.saturating_sub(2 * VELOCITY_SPRINTS)..n.saturating_sub(VELOCITY_SPRINTS)];
        let mean = |sprints: &[SprintFigures]| {
            (!sprints.is_empty())
                .then(|| sprints.iter().map(|s| s.completed.unwrap_or(0.0)).sum::<f64>() / sprints.len() as f64)
        };
        let velocity = mean(last);
        let trend = match (velocity, mean(before)) {
            (Some(v), Some(b)) if before.len() == VELOCITY_SPRINTS && b > 0.0 => Some(v / b),
            _ => None,
        };
        let committed: f64 = last.iter().filter_map(|s| s.commitment).sum();
        let completed: f64 = last.iter().filter_map(|s| s.completed).sum();
        let say_do = (!last.is_empty() && committed > 0.0).then(|| completed / committed);
        let in_window: Vec<SprintFigures> =
            closed.iter().filter(|s| s.completed_at.is_some_and(|t| t >= self.span.0)).cloned().collect();
        Velocity {
            sprints: TeamSprints { metric: "jira/velocity", team: team.id.clone(), sprints: in_window },
            velocity,
            trend,
            say_do,
        }
    }
}

impl JiraFigures {
    /// A sprint of the team's board, with its scope and completed points at the end of each
    /// of its local days (from its start to its completion, or to now while it runs); `None`
    /// when the board has no such sprint. Points are as stored now (see `sprint`).
    pub fn burn_up(&self, team: &Team, sprint: i64) -> Option<BurnUp> {
        let (source, s) = self.team_sprints(team).find(|(_, s)| s.id == sprint)?;
        let figures = self.sprint(source, s);
        let mut days = Vec::new();
        if let (Some(start), false) = (s.start_at, s.state == SprintState::Future) {
            let last = figures.completed_at.unwrap_or(self.now).max(start);
            let (first, last_day) = (self.zone.day(start), self.zone.day(last));
            let mut day = first;
            while day <= last_day && days.len() < MAX_BURN_UP_DAYS {
                // The end of the day, or the sprint's last instant on its last day.
                let next = Day::from_number(day.number() + 1);
                let t = if day == last_day { last } else { self.zone.start_ms(next) - 1 };
                let scope_then = self.scope_at(source, s, t);
                let scope = scope_then.iter().map(|(_, p, _)| p).sum();
                let done = scope_then.iter().filter(|(_, _, done)| *done).map(|(_, p, _)| p).sum();
                days.push(BurnDay { day, scope, done });
                day = next;
            }
        }
        Some(BurnUp { sprint: figures, days })
    }
}

/// The Jira rows a [`JiraFigures`] is made of, as read.
struct JiraRows {
    boards: Vec<(String, Board)>,
    sprints: Vec<(String, Sprint)>,
    memberships: Vec<(String, SprintMembership)>,
    issues: Vec<(String, Issue)>,
    worklogs: Vec<(String, Worklog)>,
    taken: Vec<(String, i64, Option<CommitmentItem>)>,
    closed: Vec<(String, i64, Option<CompletionItem>)>,
}

impl JiraRows {
    /// Every board's sprints and their issues, the issues resolved or worklogged in the
    /// window `span` (instants), the worklogs started in it and those of the issues resolved
    /// in it.
    async fn read_all(metrics: &Metrics<'_>, span: (i64, i64)) -> Result<JiraRows, MetricsError> {
        let bounds = [Sql::Int(span.0), Sql::Int(span.1)];
        let mut conn = metrics.db.reader().acquire().await?;
        Ok(JiraRows {
            boards: rows_where::<Board>(&mut conn, "1 = 1", &[]).await?,
            sprints: rows_where::<Sprint>(&mut conn, "1 = 1", &[]).await?,
            memberships: rows_where::<SprintMembership>(&mut conn, "1 = 1", &[]).await?,
            issues: rows_where_any::<Issue>(
                &mut conn,
                &[
                    ("resolved_at >= $1 AND resolved_at < $2", &bounds),
                    ("(source_id, issue_id) IN (SELECT source_id, issue_id FROM metrics_sprint_issues)", &[]),
                    (
                        "(source_id, issue_id) IN (SELECT source_id, issue_id FROM metrics_worklogs \
                         WHERE started_at >= $1 AND started_at < $2)",
                        &bounds,
                    ),
                ],
            )
            .await?,
            worklogs: rows_where_any::<Worklog>(
                &mut conn,
                &[
                    ("started_at >= $1 AND started_at < $2", &bounds),
                    (
                        "(source_id, issue_id) IN (SELECT source_id, issue_id FROM metrics_issues \
                         WHERE resolved_at >= $1 AND resolved_at < $2)",
                        &bounds,
                    ),
                ],
            )
            .await?,
            taken: commitments(&mut conn, None).await?,
            closed: completions(&mut conn, None).await?,
        })
    }

    /// The boards, and the issues resolved in the window `span`.
    async fn read_resolved(metrics: &Metrics<'_>, span: (i64, i64)) -> Result<JiraRows, MetricsError> {
        let bounds = [Sql::Int(span.0), Sql::Int(span.1)];
        let mut conn = metrics.db.reader().acquire().await?;
        let boards = rows_where::<Board>(&mut conn, "1 = 1", &[]).await?;
        let issues = rows_where::<Issue>(&mut conn, "resolved_at >= $1 AND resolved_at < $2", &bounds).await?;
        let (sprints, memberships, worklogs, taken, closed) = Default::default();
        Ok(JiraRows { boards, sprints, memberships, issues, worklogs, taken, closed })
    }

    /// What one team's figures need: its board's sprints (in every source); the issues in
    /// those its figures look at (see [`wanted_sprints`]) with their snapshots; its board's
    /// project's issues resolved in the window and their worklogs; and the worklogs
    /// `accounts` (its members' Jira accounts, lower case) started in the window with their
    /// issues.
    async fn read_team(
        metrics: &Metrics<'_>,
        span: (i64, i64),
        board: Option<i64>,
        accounts: &[String],
        also: Option<i64>,
    ) -> Result<JiraRows, MetricsError> {
        let mut values = vec![Sql::Int(span.0), Sql::Int(span.1)];
        let members_work = match accounts {
            [] => "1 = 0".to_owned(),
            _ => format!(
                "started_at >= $1 AND started_at < $2 AND LOWER(author_account_id) IN ({})",
                binds(&mut values, accounts)
            ),
        };
        let members_issues =
            format!("(source_id, issue_id) IN (SELECT source_id, issue_id FROM metrics_worklogs WHERE {members_work})");
        let mut conn = metrics.db.reader().acquire().await?;
        let Some(board) = board else {
            // No board: no sprint, no project; only the members' worklogs count (as unplanned).
            let worklogs = rows_where::<Worklog>(&mut conn, &members_work, &values).await?;
            let issues = rows_where::<Issue>(&mut conn, &members_issues, &values).await?;
            let (boards, sprints, memberships, taken, closed) = Default::default();
            return Ok(JiraRows { boards, sprints, memberships, issues, worklogs, taken, closed });
        };
        let only_board = [Sql::Int(board)];
        let sprints = rows_where::<Sprint>(&mut conn, "board_id = $1", &only_board).await?;
        let wanted = wanted_sprints(&sprints, span, cairn_domain::now_ms(), also);
        let wanted = (board, wanted.as_slice());
        let mut in_wanted = Vec::new();
        let wanted_sql = board_sprints(&mut in_wanted, wanted);
        let mut resolved_values = vec![Sql::Int(span.0), Sql::Int(span.1)];
        let resolved = "resolved_at >= $1 AND resolved_at < $2 AND (source_id, project_key) IN \
             (SELECT source_id, project_key FROM metrics_boards WHERE board_id = $3)";
        resolved_values.push(Sql::Int(board));
        let sprint_issues = format!(
            "(source_id, issue_id) IN (SELECT source_id, issue_id FROM metrics_sprint_issues \
             WHERE (source_id, sprint_id) IN ({wanted_sql}))"
        );
        let resolved_work =
            format!("(source_id, issue_id) IN (SELECT source_id, issue_id FROM metrics_issues WHERE {resolved})");
        Ok(JiraRows {
            boards: rows_where::<Board>(&mut conn, "board_id = $1", &only_board).await?,
            sprints,
            memberships: rows_where::<SprintMembership>(
                &mut conn,
                &format!("(source_id, sprint_id) IN ({wanted_sql})"),
                &in_wanted,
            )
            .await?,
            issues: rows_where_any::<Issue>(
                &mut conn,
                &[(resolved, &resolved_values), (&sprint_issues, &in_wanted), (&members_issues, &values)],
            )
            .await?,
            worklogs: rows_where_any::<Worklog>(
                &mut conn,
                &[(&members_work, &values), (&resolved_work, &resolved_values)],
            )
            .await?,
            taken: commitments(&mut conn, Some(wanted)).await?,
            closed: completions(&mut conn, Some(wanted)).await?,
        })
    }
}

/// Whether the interval holds the instant.
fn contains(m: &SprintMembership, t: i64) -> bool {
    m.added_at <= t && m.removed_at.is_none_or(|end| t < end)
}

/// An issue's story points, null counting as 0; the stored value is the current one.
fn points(issue: &Issue) -> f64 {
    issue.points.unwrap_or(0.0)
}

/// Whether the issue's status category was done at `t`: exactly when it has not changed
/// since; otherwise whether it was resolved by then (Jira sets the resolution date on the
/// way to done and clears it when an issue is reopened).
fn done_at(issue: &Issue, t: i64) -> bool {
    if issue.updated_at <= t {
        issue.status_category == StatusCategory::Done
    } else {
        issue.resolved_at.is_some_and(|r| r <= t)
    }
}

fn is_bug(issue: &Issue) -> bool {
    issue.issue_type.eq_ignore_ascii_case("bug")
}

/// `part ÷ whole` per bucket (0 where `whole` is 0).
fn shares(part: &Buckets, whole: &Buckets) -> Vec<Point> {
    part.points()
        .into_iter()
        .zip(whole.points())
        .map(|(p, w)| Point { start: p.start, value: ratio(p.value, w.value) })
        .collect()
}

/// The median (the mean of the two middle values for an even count); 0 of nothing.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    super::median(&values).unwrap_or(0.0)
}

/// The sprints of a board a team's figures over the window `span` look at: those that
/// overlap it (`jira/sprints`, and velocity's closed in it), the last closed before its end
/// that velocity averages and its trend compares with, and `also` (a sprint's own page).
fn wanted_sprints(sprints: &[(String, Sprint)], span: (i64, i64), now: i64, also: Option<i64>) -> Vec<i64> {
    let completed = |s: &Sprint| s.complete_at.or(s.end_at);
    let overlaps = |s: &Sprint| {
        let closed_in = s.state == SprintState::Closed && completed(s).is_some_and(|t| span.0 <= t && t < span.1);
        let runs = s.start_at.is_some_and(|start| {
            let over = match s.state {
                SprintState::Closed => completed(s).unwrap_or(start),
                _ => now.max(start),
            };
            start < span.1 && over >= span.0
        });
        closed_in || runs
    };
    let mut closed: Vec<(i64, i64)> = sprints
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.state == SprintState::Closed)
        .filter_map(|s| completed(s).filter(|t| *t < span.1).map(|t| (t, s.id)))
        .collect();
    closed.sort();
    let mut wanted: BTreeSet<i64> = closed.iter().rev().take(2 * VELOCITY_SPRINTS).map(|(_, id)| *id).collect();
    wanted.extend(sprints.iter().map(|(_, s)| s).filter(|s| overlaps(s)).map(|s| s.id));
    wanted.extend(also);
    wanted.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![2.0]), 2.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
