//! The Jira collector: one run of a Jira source, step by step, each page of rows written
//! through [`crate::Page`] in its own transaction with its rollups and the run's progress, so a
//! run that dies resumes after the last page it committed.
//!
//! The steps, in order:
//!
//! 1. the boards (the source's `boards`, or every board of the site) and their sprints
//!    (`state=active,closed,future`, page by page); both re-read on every attempt, they are few;
//! 2. the issues of the boards' projects updated since the window's start, through
//!    `/search/jql` ordered by creation (so pages do not shift when issues change meanwhile),
//!    each with its whole changelog and every worklog (more than the 20 an issue carries
//!    through `/issue/{id}/worklog`), and its sprint memberships over time from the Sprint
//!    field's changelog; progress `jira:issues` = the creation time of the last issue written;
//!    a search read whole removes the stored issues updated in the window that it no longer
//!    finds (deleted, or moved out of the boards' projects), with their worklogs;
//! 3. the snapshots of every sprint that lacks one: its commitment once it has started (the
//!    issues in it at its start, with their story points then) and its completion once it is
//!    closed (the issues in it when it was completed, their points then and whether their
//!    status was done, the category of a past status from the site's `/status` list); read
//!    from the changelogs of the issues in the sprint now (`/sprint/{id}/issue`) and of those
//!    stored as having been in it; each taken once, never rebuilt; progress `jira:snapshots`;
//! 4. worklogs created or changed since the window's start anywhere on the site
//!    (`/worklog/updated` + `/worklog/list`: late worklogs, on any project), then those
//!    deleted (`/worklog/deleted`), removed with what they added to the rollups; progress
//!    `jira:worklogs:updated` / `jira:worklogs:deleted` = the feed's `until`. The feeds'
//!    watermarks are also kept as source cursors, so a run after a gap longer than its window
//!    reads the feeds from where the last one stopped.
//!
//! The value of a field at an instant is the issue's current value with every changelog
//! item on that field created after the instant undone, newest first.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use cairn_domain::now_ms;
use futures_util::{StreamExt, TryStreamExt, stream};
use jiff::tz::TimeZone;

use super::{CollectError, RunCtx};
use crate::Metrics;
use crate::client::jira::{self as api, JiraApi, parse_time};
use crate::client::{CONCURRENCY, UpstreamError};
use crate::collected::{
    Board, CommitmentItem, CompletionItem, Counts, Issue, Sprint, SprintMembership, SprintState, StatusCategory,
    Worklog,
};
use crate::sources::Source;

/// The names Jira gives the story-points field: company-managed projects' and
/// team-managed projects'.
const POINTS_NAMES: [&str; 2] = ["Story Points", "Story point estimate"];
/// The Sprint field's type.
const SPRINT_TYPE: &str = "com.pyxis.greenhopper.jira:gh-sprint";
/// The issue fields every issue page asks for, besides the story points and Sprint fields.
const ISSUE_FIELDS: [&str; 12] = [
    "project",
    "issuetype",
    "status",
    "created",
    "updated",
    "resolutiondate",
    "timeoriginalestimate",
    "timespent",
    "assignee",
    "parent",
    "labels",
    "worklog",
];
/// Issue ids per `id in (…)` search.
const IDS_PER_SEARCH: usize = 50;
/// Worklog ids per `/worklog/list` request (Jira's limit).
const IDS_PER_LIST: usize = 1000;

/// Where each step resumes, in the run's progress (snapshots: the last sprint whose
/// snapshots were taken; a resumed run skips those taken, by their stored markers).
pub const STEP_ISSUES: &str = "jira:issues";
pub const STEP_SNAPSHOTS: &str = "jira:snapshots";
pub const STEP_WORKLOGS_UPDATED: &str = "jira:worklogs:updated";
pub const STEP_WORKLOGS_DELETED: &str = "jira:worklogs:deleted";
/// A step's cursor once the step is finished.
const DONE: &str = "done";

/// Reads the Jira `source` from `api` into the tenant's tables, resuming where `run`'s
/// progress says.
pub async fn collect(api: &dyn JiraApi, source: &Source, run: &mut RunCtx<'_>) -> Result<(), CollectError> {
    let mut w = Writer { api, run };
    let me = api.myself().await?;
    let fields = SiteFields::resolve(source, &api.fields().await?);

    let boards = read_boards(api, &source.boards).await?;
    w.commit(Rows { boards: boards.iter().map(board_row).collect(), ..Rows::default() }, "boards", None).await?;
    let mut sprints: BTreeMap<i64, Sprint> = BTreeMap::new();
    for board in boards.iter().filter(|b| b.kind == "scrum") {
        let mut start = 0;
        loop {
            let page = api.sprints(board.id, start).await?;
            let rows = page.values.iter().map(|s| sprint_row(s, board.id)).collect::<Result<Vec<_>, _>>()?;
            let n = rows.len() as u64;
            w.commit(Rows { sprints: rows.clone(), ..Rows::default() }, "sprints", None).await?;
            sprints.extend(rows.into_iter().map(|s| (s.id, s)));
            if page.is_last || n == 0 {
                break;
            }
            start += n;
        }
    }

    let projects: BTreeSet<String> = boards.iter().filter_map(|b| b.location.as_ref()?.project_key.clone()).collect();
    collect_issues(&mut w, &fields, &me, &projects).await?;
    take_snapshots(&mut w, &fields, sprints.values()).await?;
    follow_worklogs(&mut w, Feed::Updated).await?;
    follow_worklogs(&mut w, Feed::Deleted).await?;
    Ok(())
}

/// The fields of the site the collector reads beyond the system ones.
#[derive(Debug, Clone)]
struct SiteFields {
    /// Story-points field ids, the first with a value counting.
    points: Vec<String>,
    /// Their names, for changelog items without a field id.
    points_names: Vec<String>,
    sprint: Option<String>,
    /// What an issue page asks for.
    issue_fields: Vec<String>,
    /// What a sprint's snapshots need of an issue.
    snapshot_fields: Vec<String>,
}

impl SiteFields {
    fn resolve(source: &Source, fields: &[api::Field]) -> SiteFields {
        let (points, points_names): (Vec<String>, Vec<String>) = match &source.story_points_field {
            Some(id) => {
                let name = fields.iter().find(|f| &f.id == id).map(|f| f.name.clone()).unwrap_or_default();
                (vec![id.clone()], vec![name])
            }
            None => POINTS_NAMES
                .iter()
                .flat_map(|name| fields.iter().filter(move |f| f.custom && f.name.eq_ignore_ascii_case(name)))
                .map(|f| (f.id.clone(), f.name.clone()))
                .unzip(),
        };
        let sprint = fields
            .iter()
            .find(|f| f.schema.as_ref().and_then(|s| s.custom.as_deref()) == Some(SPRINT_TYPE))
            .or_else(|| fields.iter().find(|f| f.custom && f.name == "Sprint"))
            .map(|f| f.id.clone());
        let custom: Vec<String> = points.iter().cloned().chain(sprint.clone()).collect();
        let issue_fields = ISSUE_FIELDS.iter().map(|s| (*s).to_owned()).chain(custom.iter().cloned()).collect();
        let snapshot_fields =
            ["issuetype", "status", "created"].iter().map(|s| (*s).to_owned()).chain(custom.iter().cloned()).collect();
        SiteFields { points, points_names, sprint, issue_fields, snapshot_fields }
    }

    fn is_points(&self, item: &api::ChangeItem) -> bool {
        match &item.field_id {
            Some(id) => self.points.contains(id),
            None => self.points_names.iter().any(|n| !n.is_empty() && *n == item.field),
        }
    }

    fn is_sprint(&self, item: &api::ChangeItem) -> bool {
        match (&item.field_id, &self.sprint) {
            (Some(id), Some(sprint)) => id == sprint,
            _ => item.field == "Sprint",
        }
    }

    /// The issue's story points now: the first story-points field with a value.
    fn points_now(&self, fields: &api::IssueFields) -> Option<f64> {
        self.points.iter().find_map(|f| fields.number(f))
    }

    fn sprints_now(&self, fields: &api::IssueFields) -> Result<BTreeSet<i64>, UpstreamError> {
        match &self.sprint {
            Some(f) => Ok(fields.sprint_ids(f)?.into_iter().collect()),
            None => Ok(BTreeSet::new()),
        }
    }
}

/// A page's rows, written in one transaction.
#[derive(Debug, Default)]
struct Rows {
    boards: Vec<Board>,
    sprints: Vec<Sprint>,
    issues: Vec<Issue>,
    worklogs: Vec<Worklog>,
    /// The issues whose memberships become exactly these.
    memberships: Option<(Vec<String>, Vec<SprintMembership>)>,
    removed_worklogs: Vec<String>,
    /// Issues gone upstream (deleted, or moved out of the boards' projects): removed with
    /// their worklogs and sprint intervals.
    removed_issues: Vec<String>,
    commitment: Option<(i64, Vec<CommitmentItem>)>,
    completion: Option<(i64, Vec<CompletionItem>)>,
    /// A source cursor set with the page.
    source_cursor: Option<(&'static str, String)>,
}

/// Writes the pages of one run.
struct Writer<'w, 'a> {
    api: &'w dyn JiraApi,
    run: &'w mut RunCtx<'a>,
}

impl Writer<'_, '_> {
    /// Writes `rows` with the run's progress (`step` resumes at `cursor`) and the requests
    /// sent since the last page, in one transaction.
    async fn commit(&mut self, rows: Rows, step: &str, cursor: Option<&str>) -> Result<(), CollectError> {
        let mut tx = self.run.page().await?;
        let mut counts: Vec<(&'static str, Counts)> = Vec::new();
        {
            let mut page = tx.rows().await?;
            if !rows.boards.is_empty() {
                counts.push(("boards", page.boards(&rows.boards).await?));
            }
            if !rows.sprints.is_empty() {
                counts.push(("sprints", page.sprints(&rows.sprints).await?));
            }
            if !rows.issues.is_empty() {
                counts.push(("issues", page.issues(&rows.issues).await?));
            }
            if let Some((issues, memberships)) = &rows.memberships {
                counts.push(("sprint_issues", page.sprint_memberships(issues, memberships).await?));
            }
            if !rows.worklogs.is_empty() {
                counts.push(("worklogs", page.worklogs(&rows.worklogs).await?));
            }
            if !rows.removed_worklogs.is_empty() {
                counts.push(("worklogs", page.remove_worklogs(&rows.removed_worklogs).await?));
            }
            if !rows.removed_issues.is_empty() {
                let worklogs = page.issue_worklog_ids(&rows.removed_issues).await?;
                if !worklogs.is_empty() {
                    counts.push(("worklogs", page.remove_worklogs(&worklogs).await?));
                }
                counts.push(("sprint_issues", page.sprint_memberships(&rows.removed_issues, &[]).await?));
                counts.push(("issues", page.remove_issues(&rows.removed_issues).await?));
            }
            if let Some((sprint, items)) = &rows.commitment
                && page.commitment(*sprint, items).await?
            {
                let issues: HashSet<&str> = items.iter().map(|i| i.issue_id.as_str()).collect();
                counts.push(("sprint_commitments", Counts { new: issues.len() as u64, ..Counts::default() }));
            }
            if let Some((sprint, items)) = &rows.completion
                && page.completion(*sprint, items).await?
            {
                let issues: HashSet<&str> = items.iter().map(|i| i.issue_id.as_str()).collect();
                counts.push(("sprint_completions", Counts { new: issues.len() as u64, ..Counts::default() }));
            }
        }
        if let Some((name, value)) = &rows.source_cursor {
            tx.set_cursor(name, value).await?;
        }
        self.run.commit(tx, step, cursor, &counts, self.api.tally()).await
    }
}

async fn read_boards(api: &dyn JiraApi, configured: &[i64]) -> Result<Vec<api::Board>, UpstreamError> {
    if !configured.is_empty() {
        let mut boards = Vec::with_capacity(configured.len());
        for id in configured {
            boards.push(api.board(*id).await?);
        }
        return Ok(boards);
    }
    let mut boards = Vec::new();
    let mut start = 0;
    loop {
        let page = api.boards(start).await?;
        let n = page.values.len() as u64;
        boards.extend(page.values);
        if page.is_last || n == 0 {
            return Ok(boards);
        }
        start += n;
    }
}

fn board_row(b: &api::Board) -> Board {
    Board {
        id: b.id,
        name: b.name.clone(),
        kind: b.kind.clone(),
        project_key: b.location.as_ref().and_then(|l| l.project_key.clone()),
    }
}

fn optional_time(s: &Option<String>) -> Result<Option<i64>, UpstreamError> {
    s.as_deref().map(parse_time).transpose()
}

fn sprint_row(s: &api::Sprint, listed_on: i64) -> Result<Sprint, UpstreamError> {
    Ok(Sprint {
        id: s.id,
        // A sprint shows on every board whose filter finds its issues; it belongs to the
        // board it was made on.
        board_id: s.origin_board_id.unwrap_or(listed_on),
        name: s.name.clone(),
        state: SprintState::parse(&s.state)
            .ok_or_else(|| UpstreamError::Protocol(format!("sprint {} in state {:?}", s.id, s.state)))?,
        start_at: optional_time(&s.start_date)?,
        end_at: optional_time(&s.end_date)?,
        complete_at: optional_time(&s.complete_date)?,
    })
}

fn worklog_row(w: &api::Worklog) -> Result<Worklog, UpstreamError> {
    Ok(Worklog {
        id: w.id.clone(),
        issue_id: w.issue_id.clone(),
        author_account_id: w.author.as_ref().and_then(|a| a.account_id.clone()),
        started_at: parse_time(&w.started)?,
        seconds: w.time_spent_seconds,
        updated_at: parse_time(&w.updated)?,
    })
}

/// A field's time in the issue, or a protocol error naming it.
fn required_time(issue: &api::Issue, name: &str, value: &Option<String>) -> Result<i64, UpstreamError> {
    let text =
        value.as_deref().ok_or_else(|| UpstreamError::Protocol(format!("issue {} without {name}", issue.key)))?;
    parse_time(text)
}

fn issue_row(issue: &api::Issue, fields: &SiteFields) -> Result<Issue, UpstreamError> {
    let f = &issue.fields;
    let missing = |what: &str| UpstreamError::Protocol(format!("issue {} without {what}", issue.key));
    let issuetype = f.issuetype.as_ref().ok_or_else(|| missing("issuetype"))?;
    let status = f.status.as_ref().ok_or_else(|| missing("status"))?;
    let category = status.status_category.as_ref().map(|c| c.key.as_str()).unwrap_or("undefined");
    let status_category = match category {
        "new" => StatusCategory::New,
        "indeterminate" => StatusCategory::Indeterminate,
        "done" => StatusCategory::Done,
        // "No category": a status not placed in the workflow yet; not started, not done.
        "undefined" => StatusCategory::New,
        other => return Err(UpstreamError::Protocol(format!("issue {} in status category {other:?}", issue.key))),
    };
    let project_key = match &f.project {
        Some(p) => p.key.clone(),
        None => issue.key.rsplit_once('-').map(|(p, _)| p.to_owned()).ok_or_else(|| missing("project"))?,
    };
    Ok(Issue {
        id: issue.id.clone(),
        key: issue.key.clone(),
        project_key,
        issue_type: issuetype.name.clone(),
        is_subtask: issuetype.subtask,
        status: status.name.clone(),
        status_category,
        created_at: required_time(issue, "created", &f.created)?,
        resolved_at: optional_time(&f.resolutiondate)?,
        points: fields.points_now(f),
        original_estimate_seconds: f.timeoriginalestimate,
        time_spent_seconds: f.timespent,
        assignee_account_id: f.assignee.as_ref().and_then(|a| a.account_id.clone()),
        parent_id: f.parent.as_ref().map(|p| p.id.clone()),
        updated_at: required_time(issue, "updated", &f.updated)?,
        labels: f.labels.clone().unwrap_or_default(),
    })
}

/// One change of a field: when, and the value it replaced (undone, the field has it again).
#[derive(Debug, Clone)]
struct Change {
    at: i64,
    from: Option<String>,
    from_string: Option<String>,
}

/// The changes of the field `matches` picks, oldest first.
fn field_changes(
    histories: &[api::History],
    matches: impl Fn(&api::ChangeItem) -> bool,
) -> Result<Vec<Change>, UpstreamError> {
    let mut changes = Vec::new();
    for h in histories {
        let at = parse_time(&h.created)?;
        let order = h.id.parse::<i64>().unwrap_or(0);
        for item in h.items.iter().filter(|i| matches(i)) {
            changes.push((at, order, Change { at, from: item.from.clone(), from_string: item.from_string.clone() }));
        }
    }
    // The embedded changelog is newest first, the paged one oldest first; ids grow with time.
    changes.sort_by_key(|(at, order, _)| (*at, *order));
    Ok(changes.into_iter().map(|(_, _, c)| c).collect())
}

/// The value at `t`: `current` with every change after `t` undone, newest first.
fn value_at<T>(
    current: T,
    changes: &[Change],
    t: i64,
    undo: impl Fn(&Change) -> Result<T, UpstreamError>,
) -> Result<T, UpstreamError> {
    let mut value = current;
    for c in changes.iter().rev().take_while(|c| c.at > t) {
        value = undo(c)?;
    }
    Ok(value)
}

/// The Sprint field's ids as a changelog writes them: `"1, 2"`.
fn sprint_set(ids: Option<&str>) -> Result<BTreeSet<i64>, UpstreamError> {
    ids.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| UpstreamError::Protocol(format!("a Sprint change naming {s:?}"))))
        .collect()
}

/// Story points as a changelog shows them: `"3"`, `"2.5"`, or nothing.
fn points_value(shown: Option<&str>) -> Result<Option<f64>, UpstreamError> {
    match shown.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| UpstreamError::Protocol(format!("story points shown as {s:?}"))),
    }
}

/// The issue's intervals in each sprint, from the Sprint field's changes
/// ([`crate::collected::sprint_intervals`]).
fn memberships(
    issue_id: &str,
    created: i64,
    current: &BTreeSet<i64>,
    changes: &[Change],
) -> Result<Vec<SprintMembership>, UpstreamError> {
    let replaced = changes.iter().map(|c| Ok((c.at, sprint_set(c.from.as_deref())?))).collect::<Result<Vec<_>, _>>()?;
    Ok(crate::collected::sprint_intervals(issue_id, created, current, &replaced))
}

/// An issue with its whole changelog and, when asked, every worklog.
struct FullIssue {
    issue: api::Issue,
    histories: Vec<api::History>,
    worklogs: Vec<api::Worklog>,
}

async fn full_changelog(api: &dyn JiraApi, issue: &api::Issue) -> Result<Vec<api::History>, UpstreamError> {
    if let Some(c) = &issue.changelog
        && c.total as usize <= c.histories.len()
    {
        return Ok(c.histories.clone());
    }
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let page = api.changelog(&issue.id, start).await?;
        let n = page.values.len() as u64;
        out.extend(page.values);
        start += n;
        if page.is_last || n == 0 || start >= page.total {
            return Ok(out);
        }
    }
}

async fn all_worklogs(api: &dyn JiraApi, issue: &api::Issue) -> Result<Vec<api::Worklog>, UpstreamError> {
    // Without the worklog field the site does not track time.
    let Some(embedded) = &issue.fields.worklog else { return Ok(Vec::new()) };
    if embedded.total as usize <= embedded.worklogs.len() {
        return Ok(embedded.worklogs.clone());
    }
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let page = api.worklogs(&issue.id, start).await?;
        let n = page.worklogs.len() as u64;
        out.extend(page.worklogs);
        start += n;
        if n == 0 || start >= page.total {
            return Ok(out);
        }
    }
}

/// Completes each issue's changelog (and worklogs, when `with_worklogs`), a few at once.
async fn complete(
    api: &dyn JiraApi,
    issues: Vec<api::Issue>,
    with_worklogs: bool,
) -> Result<Vec<FullIssue>, UpstreamError> {
    stream::iter(issues)
        .map(|issue| async move {
            let histories = full_changelog(api, &issue).await?;
            let worklogs = if with_worklogs { all_worklogs(api, &issue).await? } else { Vec::new() };
            Ok::<_, UpstreamError>(FullIssue { issue, histories, worklogs })
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

/// `"2026-01-05 09:30"`: the minute of `ms` in `zone`, as JQL reads dates (in the account's
/// zone). An account zone Cairn does not know is read as UTC fourteen hours earlier, which
/// no zone's offset makes later than `ms`.
fn jql_minute(ms: i64, zone: Option<&TimeZone>) -> String {
    let (ms, zone) = match zone {
        Some(z) => (ms, z.clone()),
        None => (ms - 14 * 3_600_000, TimeZone::UTC),
    };
    let at = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    at.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string()
}

fn jql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Step 2: the issues of `projects` updated in the window.
async fn collect_issues(
    w: &mut Writer<'_, '_>,
    fields: &SiteFields,
    me: &api::Myself,
    projects: &BTreeSet<String>,
) -> Result<(), CollectError> {
    let resume = w.run.progress.get(STEP_ISSUES).map(String::as_str);
    if resume == Some(DONE) || projects.is_empty() {
        return Ok(());
    }
    // Read from the window's start in this attempt: a stored issue updated in the window
    // that the search does not bring back is gone upstream.
    let whole = resume.is_none();
    let mut seen: HashSet<String> = HashSet::new();
    let zone = me.time_zone.as_deref().and_then(|z| TimeZone::get(z).ok());
    let list: Vec<String> = projects.iter().map(|p| jql_string(p)).collect();
    let mut jql =
        format!("project in ({}) AND updated >= \"{}\"", list.join(", "), jql_minute(w.run.since, zone.as_ref()));
    if let Some(after) = resume.and_then(|c| c.parse::<i64>().ok()) {
        // Pages before it were written; its minute is read again (idempotently).
        jql.push_str(&format!(" AND created >= \"{}\"", jql_minute(after, zone.as_ref())));
    }
    // By creation: an issue changed meanwhile keeps its place, so no page skips one.
    jql.push_str(" ORDER BY created ASC, key ASC");
    let mut token: Option<String> = None;
    loop {
        let page = w.api.search(&jql, &fields.issue_fields, token.as_deref()).await?;
        let full = complete(w.api, page.issues, true).await?;
        let mut rows = Rows::default();
        let mut ids = Vec::with_capacity(full.len());
        let mut memberships_of = Vec::new();
        let mut last_created = None;
        for f in &full {
            let issue = issue_row(&f.issue, fields)?;
            for wl in &f.worklogs {
                rows.worklogs.push(worklog_row(wl)?);
            }
            let changes = field_changes(&f.histories, |i| fields.is_sprint(i))?;
            let current = fields.sprints_now(&f.issue.fields)?;
            memberships_of.extend(memberships(&issue.id, issue.created_at, &current, &changes)?);
            ids.push(issue.id.clone());
            last_created = Some(issue.created_at);
            rows.issues.push(issue);
        }
        seen.extend(ids.iter().cloned());
        rows.memberships = Some((ids, memberships_of));
        let last = page.is_last == Some(true) || page.next_page_token.is_none();
        let cursor = if last { DONE.to_owned() } else { last_created.map(|c| c.to_string()).unwrap_or_default() };
        let cursor = (!cursor.is_empty()).then_some(cursor);
        w.commit(rows, STEP_ISSUES, cursor.as_deref()).await?;
        if last {
            if whole {
                let mut tx = w.run.page().await?;
                let stored = tx.rows().await?.issue_ids_updated_since(w.run.since).await?;
                drop(tx);
                let gone: Vec<String> = stored.into_iter().filter(|id| !seen.contains(id)).collect();
                if !gone.is_empty() {
                    w.commit(Rows { removed_issues: gone, ..Rows::default() }, STEP_ISSUES, None).await?;
                }
            }
            return Ok(());
        }
        if page.next_page_token == token {
            return Err(UpstreamError::Protocol("a search page naming itself as the next".into()).into());
        }
        token = page.next_page_token;
    }
}

/// Issues whose ids are `ids`, with `fields` and their changelogs.
async fn issues_by_id(api: &dyn JiraApi, ids: &[String], fields: &[String]) -> Result<Vec<api::Issue>, UpstreamError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(IDS_PER_SEARCH) {
        let list: Vec<&str> =
            chunk.iter().map(String::as_str).filter(|id| id.bytes().all(|b| b.is_ascii_digit())).collect();
        if list.is_empty() {
            continue;
        }
        let jql = format!("id in ({}) ORDER BY key ASC", list.join(", "));
        let mut token: Option<String> = None;
        loop {
            let page = api.search(&jql, fields, token.as_deref()).await?;
            out.extend(page.issues);
            if page.is_last == Some(true) || page.next_page_token.is_none() || page.next_page_token == token {
                break;
            }
            token = page.next_page_token;
        }
    }
    Ok(out)
}

/// What a sprint's snapshots need: when it started (commitment due) and when it was
/// completed (completion due).
#[derive(Debug, Clone, Copy, Default)]
struct Due {
    start: Option<i64>,
    close: Option<i64>,
}

/// Step 3: the commitment of each started sprint, and the completion of each closed one,
/// that has none. A sprint's issues and changelogs are read once for both.
async fn take_snapshots<'s>(
    w: &mut Writer<'_, '_>,
    fields: &SiteFields,
    sprints: impl Iterator<Item = &'s Sprint>,
) -> Result<(), CollectError> {
    // Without a Sprint field the site has no sprints to commit to.
    if fields.sprint.is_none() {
        return Ok(());
    }
    let metrics = Metrics { db: w.run.db };
    let committed: HashSet<i64> = metrics.commitments_taken(&w.run.source).await?.into_iter().collect();
    let completed: HashSet<i64> = metrics.completions_taken(&w.run.source).await?.into_iter().collect();
    let now = now_ms();
    let due: Vec<(i64, Due)> = sprints
        .map(|s| {
            let started = s.state != SprintState::Future && !committed.contains(&s.id);
            let closed = s.state == SprintState::Closed && !completed.contains(&s.id);
            let due = Due {
                start: s.start_at.filter(|t| started && *t <= now),
                close: s.complete_at.or(s.end_at).filter(|t| closed && *t <= now),
            };
            (s.id, due)
        })
        .filter(|(_, d)| d.start.is_some() || d.close.is_some())
        .collect();
    // A past status's category comes from the site's list, read once when needed.
    let statuses: HashMap<String, bool> = if due.iter().any(|(_, d)| d.close.is_some()) {
        w.api
            .statuses()
            .await?
            .into_iter()
            .filter_map(|s| Some((s.id?, s.status_category.is_some_and(|c| c.key == "done"))))
            .collect()
    } else {
        HashMap::new()
    };
    for (sprint, due) in due {
        let api = w.api;
        let mut issues = Vec::new();
        let mut at = 0;
        loop {
            let page = api.sprint_issues(sprint, &fields.snapshot_fields, at).await?;
            let n = page.issues.len() as u64;
            issues.extend(page.issues);
            at += n;
            if n == 0 || at >= page.total {
                break;
            }
        }
        // Issues taken out of the sprint are not in it now: the stored memberships name them.
        let listed: HashSet<String> = issues.iter().map(|i| i.id.clone()).collect();
        let gone: Vec<String> = metrics
            .sprint_member_issues(&w.run.source, sprint)
            .await?
            .into_iter()
            .filter(|id| !listed.contains(id))
            .collect();
        issues.extend(issues_by_id(api, &gone, &fields.snapshot_fields).await?);
        let issues = complete(api, issues, false).await?;
        let mut rows = Rows::default();
        if let Some(start) = due.start {
            let mut items = Vec::new();
            for f in &issues {
                if let Some(points) = in_sprint_at(f, fields, sprint, start)? {
                    items.push(CommitmentItem { issue_id: f.issue.id.clone(), points });
                }
            }
            rows.commitment = Some((sprint, items));
        }
        if let Some(close) = due.close {
            let mut items = Vec::new();
            for f in &issues {
                if let Some(points) = in_sprint_at(f, fields, sprint, close)? {
                    let done = done_at(f, &statuses, close)?;
                    items.push(CompletionItem { issue_id: f.issue.id.clone(), points, done });
                }
            }
            rows.completion = Some((sprint, items));
        }
        w.commit(rows, STEP_SNAPSHOTS, Some(&sprint.to_string())).await?;
    }
    Ok(())
}

/// `Some(points then)` (`Some(None)` for a sub-task or an issue without points) when the
/// issue existed and was in the sprint at `t`; `None` otherwise.
fn in_sprint_at(f: &FullIssue, fields: &SiteFields, sprint: i64, t: i64) -> Result<Option<Option<f64>>, UpstreamError> {
    let created = required_time(&f.issue, "created", &f.issue.fields.created)?;
    if created > t {
        return Ok(None);
    }
    let sprint_changes = field_changes(&f.histories, |i| fields.is_sprint(i))?;
    let in_sprint =
        value_at(fields.sprints_now(&f.issue.fields)?, &sprint_changes, t, |c| sprint_set(c.from.as_deref()))?;
    if !in_sprint.contains(&sprint) {
        return Ok(None);
    }
    if f.issue.fields.issuetype.as_ref().is_some_and(|t| t.subtask) {
        return Ok(Some(None));
    }
    let changes = field_changes(&f.histories, |i| fields.is_points(i))?;
    Ok(Some(value_at(fields.points_now(&f.issue.fields), &changes, t, |c| points_value(c.from_string.as_deref()))?))
}

/// Whether the issue's status at `t` was in the done category. The status then is the
/// current one with later changes undone; its category is the current one's when it is the
/// same status, otherwise the site's (`statuses`: status id → done). A status the site no
/// longer lists counts as not done.
fn done_at(f: &FullIssue, statuses: &HashMap<String, bool>, t: i64) -> Result<bool, UpstreamError> {
    let status = f
        .issue
        .fields
        .status
        .as_ref()
        .ok_or_else(|| UpstreamError::Protocol(format!("issue {} without status", f.issue.key)))?;
    let changes = field_changes(&f.histories, |i| i.field_id.as_deref().unwrap_or(&i.field) == "status")?;
    let then = value_at(status.id.clone(), &changes, t, |c| Ok(c.from.clone()))?;
    if then.is_some() && then == status.id {
        return Ok(status.status_category.as_ref().is_some_and(|c| c.key == "done"));
    }
    Ok(then.and_then(|id| statuses.get(&id).copied()).unwrap_or(false))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    Updated,
    Deleted,
}

impl Feed {
    fn step(self) -> &'static str {
        match self {
            Feed::Updated => STEP_WORKLOGS_UPDATED,
            Feed::Deleted => STEP_WORKLOGS_DELETED,
        }
    }
}

/// Step 4: worklogs changed (or deleted) since the window's start, site-wide.
async fn follow_worklogs(w: &mut Writer<'_, '_>, feed: Feed) -> Result<(), CollectError> {
    let step = feed.step();
    let resume = w.run.progress.get(step).map(String::as_str);
    if resume == Some(DONE) {
        return Ok(());
    }
    let mut since = match resume.and_then(|c| c.parse::<i64>().ok()) {
        Some(at) => at,
        None => {
            let last = Metrics { db: w.run.db }.source_cursor(&w.run.source, step).await?;
            let last = last.and_then(|c| c.parse::<i64>().ok()).unwrap_or(w.run.since);
            w.run.since.min(last)
        }
    };
    loop {
        let api = w.api;
        let page = match feed {
            Feed::Updated => api.worklogs_updated(since).await?,
            Feed::Deleted => api.worklogs_deleted(since).await?,
        };
        let ids: Vec<i64> = page.values.iter().map(|v| v.worklog_id).collect();
        let mut rows = Rows::default();
        match feed {
            Feed::Updated => {
                for chunk in ids.chunks(IDS_PER_LIST) {
                    for wl in api.worklog_list(chunk).await? {
                        rows.worklogs.push(worklog_row(&wl)?);
                    }
                }
            }
            Feed::Deleted => rows.removed_worklogs = ids.iter().map(i64::to_string).collect(),
        }
        let next = page.until.max(since);
        rows.source_cursor = Some((step, next.to_string()));
        let cursor = if page.last_page { DONE.to_owned() } else { next.to_string() };
        w.commit(rows, step, Some(&cursor)).await?;
        if page.last_page {
            return Ok(());
        }
        if next <= since {
            return Err(UpstreamError::Protocol(format!("a worklog feed page that does not move past {since}")).into());
        }
        since = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(at: i64, from: &str) -> Change {
        Change { at, from: (!from.is_empty()).then(|| from.to_owned()), from_string: None }
    }

    fn set(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_fields_value_at_an_instant_undoes_the_later_changes() {
        // Created in sprint 1 at 0; moved to 1 and 2 at 10; out of 1 at 20 (now: {2}).
        let changes = [change(10, "1"), change(20, "1, 2")];
        let at = |t| value_at(set(&[2]), &changes, t, |c| sprint_set(c.from.as_deref())).unwrap();
        assert_eq!(at(5), set(&[1]));
        assert_eq!(at(10), set(&[1, 2]), "a change at the instant counts");
        assert_eq!(at(19), set(&[1, 2]));
        assert_eq!(at(25), set(&[2]));
    }

    #[test]
    fn memberships_follow_the_sprint_field() {
        let changes = [change(10, "1"), change(20, "1, 2"), change(30, "2")];
        let got = memberships("I", 0, &set(&[2, 3]), &changes).unwrap();
        let m = |s, a, r| SprintMembership { sprint_id: s, issue_id: "I".into(), added_at: a, removed_at: r };
        // 1 over [0, 20); 2 from 10 on; 3 from 30 on.
        assert_eq!(got, [m(1, 0, Some(20)), m(2, 10, None), m(3, 30, None)]);
        // An issue that left a sprint and came back has two intervals; no change, one.
        let back = [change(10, "4"), change(20, "")];
        assert_eq!(memberships("I", 0, &set(&[4]), &back).unwrap(), [m(4, 0, Some(10)), m(4, 20, None)]);
        assert_eq!(memberships("I", 5, &set(&[7]), &[]).unwrap(), [m(7, 5, None)]);
        assert!(sprint_set(Some("1, x")).is_err());
    }

    #[test]
    fn points_read_as_the_changelog_shows_them() {
        assert_eq!(points_value(Some("3")).unwrap(), Some(3.0));
        assert_eq!(points_value(Some("2.5")).unwrap(), Some(2.5));
        assert_eq!(points_value(None).unwrap(), None);
        assert_eq!(points_value(Some("")).unwrap(), None);
        assert!(points_value(Some("three")).is_err());
    }

    #[test]
    fn jql_minutes_are_in_the_accounts_zone() {
        let ms = 1_767_605_430_000; // 2026-01-05T09:30:30Z
        assert_eq!(jql_minute(ms, Some(&TimeZone::UTC)), "2026-01-05 09:30");
        let bratislava = TimeZone::get("Europe/Bratislava").unwrap();
        assert_eq!(jql_minute(ms, Some(&bratislava)), "2026-01-05 10:30");
        assert_eq!(jql_minute(ms, None), "2026-01-04 19:30");
        assert_eq!(jql_string(r#"A"B"#), r#""A\"B""#);
    }
}
