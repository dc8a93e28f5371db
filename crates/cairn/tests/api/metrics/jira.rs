//! The Jira collector against the Jira Cloud fixture on loopback: every row of the site lands
//! once, a second run of the window changes nothing, every kind of page is read to the last,
//! limits are waited out, late and deleted worklogs are followed, a sprint's commitment is
//! what it was at the start and its completion what it was at the close, and a run that died
//! resumes after its last page.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_audit::RequestMeta;
use cairn_domain::{Role, now_ms};
use cairn_metrics::client::jira::{JiraApi, JiraHttp, PageSizes};
use cairn_metrics::client::{Auth, Upstream, UpstreamError};
use cairn_metrics::collect::jira::{STEP_ISSUES, collect};
use cairn_metrics::collect::run::Collectors;
use cairn_metrics::collect::{CollectError, RunCtx};
use cairn_metrics::runs::{Lease, Run, TableCounts};
use cairn_metrics::sources::{NewSource, SourceKind};
use cairn_metrics::{Metrics, RunId, RunStatus, Source, SourceId};
use cairn_outbound::{Outbound, Policy};
use cairn_store::Db;
use cairn_store::sqlx::{self, Row};
use cairn_testkit::fixtures::{
    Fault, IssueType, IssueView, JiraServer, JiraWorld, NewIssue, OrgSize, SprintState, SprintView, StatusCategory,
    WorklogView,
};
use cairn_testkit::{Backend, TestApp, backend_test};
use serde_json::{Value, json};

use super::tester;

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
const EMAIL: &str = "bot@acme.test";
const TOKEN: &str = "t0ken";

/// A tenant with a Jira source on a fixture site.
struct Site {
    app: TestApp,
    db: Db,
    source: Source,
    jira: JiraServer,
}

impl Site {
    /// The fixture serving `world`, and a source on it reading `boards` (all when empty).
    async fn start(backend: Backend, world: JiraWorld, boards: Vec<i64>) -> Site {
        let app = TestApp::spawn(backend).await;
        let acme = app.create_tenant("acme").await;
        let (_, db) = app.tenant(&acme).await;
        let jira = JiraServer::start(world).await;
        let fields = NewSource {
            kind: SourceKind::Jira,
            name: "Jira".into(),
            base_url: Some(jira.base_url.clone()),
            graphql_url: None,
            url: None,
            branch: None,
            organization: None,
            repositories: Vec::new(),
            boards,
            email: Some(EMAIL.into()),
            story_points_field: None,
            token: Some(TOKEN.into()),
        };
        let source = Metrics { db: &db }
            .add_source(app.store.master_key(), fields, &tester(), &RequestMeta::default())
            .await
            .expect("source stored");
        Site { app, db, source, jira }
    }

    fn id(&self) -> SourceId {
        SourceId::parse(&self.source.id, "id").unwrap()
    }

    fn metrics(&self) -> Metrics<'_> {
        Metrics { db: &self.db }
    }

    /// The guarded outbound client; loopback is allowed, as an operator would for a site
    /// inside their network.
    fn outbound() -> Outbound {
        Outbound::new(Policy { allow_private: true, allow_http: true })
    }

    /// A client of the site signing in with `token`.
    fn client(&self, token: &str, pages: PageSizes) -> JiraHttp {
        let auth = Auth::Basic { user: EMAIL.into(), token: token.into() };
        JiraHttp::new(Upstream::new(Site::outbound(), auth), &self.jira.base_url).with_page_sizes(pages)
    }

    /// Queues a run of the window from `since`.
    async fn queue(&self, since: i64) -> RunId {
        let run = self.metrics().queue_run(&self.id(), None, Some(since), "test").await.unwrap().expect("queued");
        RunId::parse(&run.id, "id").unwrap()
    }

    /// Claims the source's due run and collects it with `api`, as a worker would; the run
    /// stays unfinished.
    async fn attempt(&self, api: &JiraHttp) -> (Run, Lease, Result<(), CollectError>) {
        let claimed = self.metrics().claim_runs("worker", 60_000, 1).await.unwrap();
        let (run, lease) = claimed.into_iter().next().expect("a run to claim");
        let since = run.since.expect("tests give the window");
        let mut ctx = RunCtx::new(&self.db, self.id(), &lease, since, run.progress.clone());
        let outcome = collect(api, &self.source, &mut ctx).await;
        (run, lease, outcome)
    }

    /// A whole run of the window from `since` with a client of its own asking for `pages`,
    /// as a worker makes one per run: it succeeds, and records every request it sent. The
    /// run as stored.
    async fn run(&self, pages: PageSizes, since: i64) -> Run {
        let id = self.queue(since).await;
        let api = self.client(TOKEN, pages);
        let (_, lease, outcome) = self.attempt(&api).await;
        outcome.expect("the run succeeds");
        assert!(self.metrics().finish_run(&lease, Ok(())).await.unwrap());
        let stored = self.metrics().run(&id).await.unwrap();
        assert_eq!(stored.status, RunStatus::Succeeded);
        assert_eq!(stored.requests as u64, api.tally().requests(), "every request is recorded with a page");
        assert_eq!(stored.rate_limit_waits as u64, api.tally().rate_limit_waits());
        stored
    }

    /// A run of the window from `since` as the workers execute one: the source's own
    /// credentials, the site's page sizes.
    async fn run_by_worker(&self, since: i64) -> Run {
        let id = self.queue(since).await;
        let workers =
            Collectors::new(self.app.store.clone(), Site::outbound(), "worker", self.app.config.data_dir.join("git"));
        assert_eq!(workers.run_due(&self.db).await.unwrap(), 1);
        let stored = self.metrics().run(&id).await.unwrap();
        assert_eq!((stored.status, stored.error.as_deref()), (RunStatus::Succeeded, None));
        stored
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(self.db.reader()).await.unwrap()
    }

    async fn issues(&self) -> Vec<StoredIssue> {
        let rows = sqlx::query(
            "SELECT issue_id, issue_key, project_key, issue_type, is_subtask, status, status_category, created_at, \
             resolved_at, points, original_estimate_seconds, time_spent_seconds, assignee_account_id, parent_id, \
             updated_at FROM metrics_issues",
        )
        .fetch_all(self.db.reader())
        .await
        .unwrap();
        let mut out: Vec<StoredIssue> = rows
            .iter()
            .map(|r| StoredIssue {
                id: r.get(0),
                key: r.get(1),
                project_key: r.get(2),
                issue_type: r.get(3),
                subtask: r.get::<i64, _>(4) != 0,
                status: r.get(5),
                category: r.get(6),
                created: r.get(7),
                resolved: r.get(8),
                points: r.get(9),
                estimate: r.get(10),
                spent: r.get(11),
                assignee: r.get(12),
                parent_id: r.get(13),
                updated: r.get(14),
            })
            .collect();
        out.sort_by_key(|i| i.id.parse::<u64>().unwrap());
        out
    }

    async fn worklogs(&self) -> Vec<WorklogView> {
        let rows = sqlx::query(
            "SELECT worklog_id, issue_id, author_account_id, started_at, seconds, updated_at FROM metrics_worklogs",
        )
        .fetch_all(self.db.reader())
        .await
        .unwrap();
        let mut out: Vec<WorklogView> = rows
            .iter()
            .map(|r| WorklogView {
                id: r.get(0),
                issue_id: r.get(1),
                author: r.get(2),
                started: r.get(3),
                seconds: r.get(4),
                updated: r.get(5),
            })
            .collect();
        out.sort_by_key(|w| w.id.parse::<u64>().unwrap());
        out
    }

    async fn sprints(&self) -> Vec<SprintView> {
        let rows = sqlx::query(
            "SELECT sprint_id, board_id, name, state, start_at, end_at, complete_at FROM metrics_sprints \
             ORDER BY sprint_id",
        )
        .fetch_all(self.db.reader())
        .await
        .unwrap();
        rows.iter()
            .map(|r| SprintView {
                id: r.get::<i64, _>(0) as u64,
                board: r.get::<i64, _>(1) as u64,
                name: r.get(2),
                state: match r.get::<String, _>(3).as_str() {
                    "future" => SprintState::Future,
                    "active" => SprintState::Active,
                    "closed" => SprintState::Closed,
                    other => panic!("sprint state {other}"),
                },
                start: r.get(4),
                end: r.get(5),
                complete: r.get(6),
            })
            .collect()
    }

    /// Each issue's sprints now, as its open memberships say.
    async fn open_memberships(&self) -> BTreeMap<String, BTreeSet<u64>> {
        let rows = sqlx::query("SELECT issue_id, sprint_id FROM metrics_sprint_issues WHERE removed_at IS NULL")
            .fetch_all(self.db.reader())
            .await
            .unwrap();
        let mut out: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for r in &rows {
            out.entry(r.get(0)).or_default().insert(r.get::<i64, _>(1) as u64);
        }
        out
    }

    /// An issue's intervals in a sprint: `(added_at, removed_at)`, oldest first.
    async fn intervals(&self, issue_id: &str, sprint: u64) -> Vec<(i64, Option<i64>)> {
        let rows = sqlx::query(
            "SELECT added_at, removed_at FROM metrics_sprint_issues WHERE issue_id = $1 AND sprint_id = $2 \
             ORDER BY added_at",
        )
        .bind(issue_id)
        .bind(sprint as i64)
        .fetch_all(self.db.reader())
        .await
        .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// The sprint's commitment: issue id → points.
    async fn commitment(&self, sprint: u64) -> BTreeMap<String, Option<f64>> {
        let rows = sqlx::query("SELECT issue_id, points FROM metrics_sprint_commitments WHERE sprint_id = $1")
            .bind(sprint as i64)
            .fetch_all(self.db.reader())
            .await
            .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// The sprint's completion: issue id → (points, done).
    async fn completion(&self, sprint: u64) -> BTreeMap<String, (Option<f64>, bool)> {
        let rows = sqlx::query("SELECT issue_id, points, done FROM metrics_sprint_completions WHERE sprint_id = $1")
            .bind(sprint as i64)
            .fetch_all(self.db.reader())
            .await
            .unwrap();
        rows.iter().map(|r| (r.get(0), (r.get(1), r.get::<i64, _>(2) == 1))).collect()
    }

    /// Worklog seconds per Jira account, as the daily rollups hold them.
    async fn rolled_up_seconds(&self) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for day in self.metrics().person_days(Some(&self.id())).await.unwrap() {
            if let Some(account) = day.person_key.strip_prefix("jira:") {
                *out.entry(account.to_owned()).or_default() += day.figures.worklog_seconds;
            }
        }
        out
    }

    fn issue_id(&self, key: &str) -> String {
        self.jira.read(|w| w.issue_view(key).id)
    }
}

/// An issue as stored, in the fixture's terms.
#[derive(Debug, Clone, PartialEq)]
struct StoredIssue {
    id: String,
    key: String,
    project_key: String,
    issue_type: String,
    subtask: bool,
    status: String,
    category: String,
    created: i64,
    resolved: Option<i64>,
    points: Option<f64>,
    estimate: Option<i64>,
    spent: Option<i64>,
    assignee: Option<String>,
    parent_id: Option<String>,
    updated: i64,
}

impl From<&IssueView> for StoredIssue {
    fn from(v: &IssueView) -> StoredIssue {
        StoredIssue {
            id: v.id.clone(),
            key: v.key.clone(),
            project_key: v.project_key.clone(),
            issue_type: v.issue_type.to_owned(),
            subtask: v.subtask,
            status: v.status.to_owned(),
            category: match v.status_category {
                StatusCategory::ToDo => "new",
                StatusCategory::InProgress => "indeterminate",
                StatusCategory::Done => "done",
            }
            .to_owned(),
            created: v.created,
            resolved: v.resolved,
            points: v.points,
            estimate: v.estimate,
            spent: v.time_spent,
            assignee: v.assignee.clone(),
            parent_id: v.parent_id.clone(),
            updated: v.updated,
        }
    }
}

/// Worklog seconds per author in the world.
fn world_seconds(worklogs: &[WorklogView]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for w in worklogs {
        *out.entry(w.author.clone()).or_default() += w.seconds;
    }
    out
}

fn counts(run: &Run, table: &str) -> TableCounts {
    run.counts.get(table).copied().unwrap_or_default()
}

/// Whether the run changed any stored row.
fn changed_anything(run: &Run) -> bool {
    run.counts.values().any(|c| c.new + c.changed + c.removed > 0)
}

/// Two teams, each a project with a scrum board: a closed sprint and an active one, stories
/// with points, estimates and worklogs; one issue of the second project carried over.
fn two_team_world(now: i64) -> JiraWorld {
    let mut w = JiraWorld::new(EMAIL, TOKEN);
    w.user("acc-ann", "Ann Novak", "ann@acme.test");
    w.user("acc-bob", "Bob Horvat", "bob@acme.test");
    for (project, person) in [("PLAT", "acc-ann"), ("PAY", "acc-bob")] {
        w.project(project, project);
        let board = w.board(&format!("{project} board"), project);
        let first = w.sprint(board, &format!("{project} 1"), now - 20 * DAY, now - 6 * DAY);
        let second = w.sprint(board, &format!("{project} 2"), now - 6 * DAY, now + 8 * DAY);
        w.start_sprint(first, now - 20 * DAY);
        for n in 0..4 {
            let key = w.issue(
                NewIssue::story(project, now - 25 * DAY + n * HOUR)
                    .points(1.0 + n as f64)
                    .estimate_seconds(4 * 3600)
                    .assignee(person),
            );
            w.move_to_sprint(&key, None, Some(first), now - 20 * DAY - HOUR);
            w.transition(&key, "In Progress", now - 19 * DAY);
            w.add_worklog(&key, person, now - 18 * DAY + n * HOUR, 1800 * (n + 1), now - 18 * DAY + n * HOUR);
            if n < 3 {
                w.transition(&key, "Done", now - 10 * DAY);
            }
        }
        w.close_sprint(first, now - 6 * DAY, Some(second));
        w.start_sprint(second, now - 6 * DAY);
        let bug =
            w.issue(NewIssue::story(project, now - 5 * DAY).kind(IssueType::Bug).in_sprint(second).assignee(person));
        w.add_worklog(&bug, person, now - 4 * DAY, 3600, now - 4 * DAY);
    }
    w
}

async fn a_full_run_lands_every_row_and_a_second_changes_nothing(backend: Backend) {
    let now = now_ms();
    let world = JiraWorld::organization_until(1, OrgSize::Small, now - HOUR);
    let site = Site::start(backend, world, Vec::new()).await;
    let pages = PageSizes::default();
    let since = now - 200 * DAY;

    let first = site.run(pages, since).await;
    let (issues, worklogs, sprints, boards) =
        site.jira.read(|w| (w.issue_views(), w.worklog_views(), w.sprint_views(), w.board_views()));

    // Every issue, field by field.
    let expected: Vec<StoredIssue> = issues.iter().map(StoredIssue::from).collect();
    assert_eq!(site.issues().await, expected);
    assert!(issues.iter().any(|i| i.subtask && i.parent_id.is_some()), "the world has sub-tasks");
    assert_eq!(counts(&first, "issues"), TableCounts { new: issues.len() as u64, changed: 0, removed: 0 });

    // Every worklog — more than the 20 an issue carries, read from /issue/{id}/worklog — once.
    assert_eq!(site.worklogs().await, worklogs);
    assert_eq!(counts(&first, "worklogs").new, worklogs.len() as u64);
    assert!(site.jira.count("/rest/api/3/issue/") > 0, "some issue has more worklogs than it carries");
    assert_eq!(site.rolled_up_seconds().await, world_seconds(&worklogs), "the rollups sum the worklogs");

    // Boards and sprints as the site has them.
    let stored: Vec<(i64, String, String, Option<String>)> =
        sqlx::query("SELECT board_id, name, kind, project_key FROM metrics_boards ORDER BY board_id")
            .fetch_all(site.db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
    let expected: Vec<_> = boards
        .iter()
        .map(|(id, name, key)| (*id as i64, name.clone(), "scrum".to_owned(), Some(key.clone())))
        .collect();
    assert_eq!(stored, expected);
    assert_eq!(site.sprints().await, sprints);

    // Each issue's open memberships are its Sprint field now; carried-over issues have more
    // than one interval.
    let now_in: BTreeMap<String, BTreeSet<u64>> = issues
        .iter()
        .filter(|i| !i.sprints.is_empty())
        .map(|i| (i.id.clone(), i.sprints.iter().copied().collect()))
        .collect();
    assert_eq!(site.open_memberships().await, now_in);
    assert!(issues.iter().any(|i| i.sprints.len() > 1), "the world carries work over");

    // Every sprint that has started has its commitment; a future one has none.
    let started: Vec<u64> = sprints.iter().filter(|s| s.state != SprintState::Future).map(|s| s.id).collect();
    let taken = site.metrics().commitments_taken(&site.id()).await.unwrap();
    assert_eq!(taken, started.iter().map(|s| *s as i64).collect::<Vec<_>>());
    assert!(counts(&first, "sprint_commitments").new > 0);
    // Every closed sprint has its completion.
    let closed: Vec<i64> = sprints.iter().filter(|s| s.state == SprintState::Closed).map(|s| s.id as i64).collect();
    assert!(!closed.is_empty());
    assert_eq!(site.metrics().completions_taken(&site.id()).await.unwrap(), closed);

    // The same window again: nothing new, nothing changed, nothing removed.
    // (This one as a worker executes it, with the source's stored credentials.)
    let second = site.run_by_worker(since).await;
    assert!(!changed_anything(&second), "a second run changed rows: {:?}", second.counts);
    assert_eq!(site.issues().await.len(), issues.len());
    assert_eq!(site.worklogs().await, worklogs);
    let taken_again = site.metrics().commitments_taken(&site.id()).await.unwrap();
    assert_eq!(taken_again, taken);
    assert_eq!(counts(&second, "sprint_completions").new, 0);
}
backend_test!(a_full_run_lands_every_row_and_a_second_changes_nothing);

async fn every_kind_of_page_is_read_to_the_last(backend: Backend) {
    let now = now_ms();
    let mut w = JiraWorld::new(EMAIL, TOKEN);
    w.use_classic_story_points();
    w.user("acc-ann", "Ann Novak", "ann@acme.test");
    for p in ["ALPHA", "BETA", "GAMMA"] {
        w.project(p, p);
        w.board(&format!("{p} board"), p);
    }
    w.project("OPS", "Operations");
    let s1 = w.sprint(1, "A1", now - 40 * DAY, now - 26 * DAY);
    let s2 = w.sprint(1, "A2", now - 26 * DAY, now - 12 * DAY);
    let s3 = w.sprint(1, "A3", now - 12 * DAY, now + 2 * DAY);
    let keys: Vec<String> =
        (0..5).map(|n| w.issue(NewIssue::story("ALPHA", now - 45 * DAY + n * HOUR).points(2.0))).collect();
    // ALPHA-1 was in the first sprint at its start and left it the next day; then 105 point
    // changes push that out of the 100 histories an issue carries.
    w.move_to_sprint(&keys[0], None, Some(s1), now - 40 * DAY - HOUR);
    w.start_sprint(s1, now - 40 * DAY);
    w.move_to_sprint(&keys[0], Some(s1), None, now - 39 * DAY);
    for n in 0..105 {
        w.set_points(&keys[0], Some((n % 8 + 1) as f64), now - 38 * DAY + n * MINUTE);
    }
    w.close_sprint(s1, now - 26 * DAY, None);
    w.start_sprint(s2, now - 26 * DAY);
    w.close_sprint(s2, now - 12 * DAY, None);
    for key in &keys {
        w.move_to_sprint(key, None, Some(s3), now - 12 * DAY - HOUR);
    }
    w.start_sprint(s3, now - 12 * DAY);
    // 23 worklogs on ALPHA-2: three pages of ten beyond the 20 it carries.
    for n in 0..23 {
        w.add_worklog(&keys[1], "acc-ann", now - 10 * DAY + n * HOUR, 1800, now - 10 * DAY + n * HOUR);
    }
    // 1001 worklogs on an issue of a project without a board (only the site-wide feed finds
    // them), and 1001 deleted ones: two pages of each feed.
    let ops = w.issue(NewIssue::story("OPS", now - 15 * DAY));
    for n in 0..1001 {
        w.add_worklog(&ops, "acc-ann", now - 14 * DAY + n * MINUTE, 600, now - 3 * DAY + n * 1000);
    }
    for n in 0..1001 {
        let id = w.add_worklog(&ops, "acc-ann", now - 14 * DAY, 60, now - 3 * DAY);
        w.delete_worklog(id, now - 2 * DAY + n * 1000);
    }
    let site = Site::start(backend, w, Vec::new()).await;
    let pages = PageSizes { boards: 2, sprints: 2, issues: 2, sprint_issues: 2, changelog: 40, worklogs: 10 };
    let outcome = site.run(pages, now - 60 * DAY).await;

    let log: Vec<String> = site.jira.requests().into_iter().map(|r| r.path).collect();
    let asked = |prefix: &str, part: &str| log.iter().filter(|p| p.starts_with(prefix) && p.contains(part)).count();
    // Boards: 3 in pages of 2.
    assert_eq!(asked("/rest/agile/1.0/board?", ""), 2, "{log:#?}");
    assert_eq!(asked("/rest/agile/1.0/board?", "startAt=2"), 1);
    // Sprints of board 1: 3 in pages of 2.
    assert_eq!(asked("/rest/agile/1.0/board/1/sprint?", ""), 2);
    assert_eq!(asked("/rest/agile/1.0/board/1/sprint?", "startAt=2"), 1);
    // The search: 5 issues in pages of 2, each after the first by its token.
    assert_eq!(asked("/rest/api/3/search/jql?jql=project", ""), 3);
    assert_eq!(asked("/rest/api/3/search/jql?jql=project", "nextPageToken="), 2);
    // The active sprint's issues: 5 in pages of 2.
    assert_eq!(asked(&format!("/rest/agile/1.0/sprint/{s3}/issue?"), ""), 3);
    assert_eq!(asked(&format!("/rest/agile/1.0/sprint/{s3}/issue?"), "startAt=4"), 1);
    // ALPHA-1's 108 histories in pages of 40, to the last.
    let alpha1 = site.issue_id(&keys[0]);
    assert!(asked(&format!("/rest/api/3/issue/{alpha1}/changelog?"), "startAt=80") >= 1, "{log:#?}");
    // ALPHA-2's 23 worklogs in pages of 10.
    let alpha2 = site.issue_id(&keys[1]);
    assert_eq!(asked(&format!("/rest/api/3/issue/{alpha2}/worklog?"), ""), 3);
    // Both feeds to their last page, the changed worklogs listed 1000 at a time.
    assert_eq!(asked("/rest/api/3/worklog/updated?", ""), 2);
    assert_eq!(asked("/rest/api/3/worklog/deleted?", ""), 2);
    assert_eq!(asked("/rest/api/3/worklog/list", ""), 2);

    // And what they held landed.
    let worklogs = site.jira.read(|w| w.worklog_views());
    assert_eq!(worklogs.len(), 23 + 1001);
    assert_eq!(site.worklogs().await, worklogs);
    assert_eq!(counts(&outcome, "worklogs").new, 1024);
    assert_eq!(site.issues().await.len(), 5, "the project without a board is not searched");
    // Only the whole changelog shows ALPHA-1 in the first sprint: its interval and the
    // sprint's commitment (found through the stored membership: it is not in the sprint now).
    let start = now - 40 * DAY;
    assert_eq!(site.intervals(&alpha1, s1).await, [(start - HOUR, Some(now - 39 * DAY))]);
    assert_eq!(site.commitment(s1).await, BTreeMap::from([(alpha1.clone(), Some(2.0))]));
    assert!(site.commitment(s2).await.is_empty());
    let in_s3: BTreeMap<String, Option<f64>> = keys
        .iter()
        .map(|k| {
            let v = site.jira.read(|w| w.issue_view(k));
            (v.id, v.points)
        })
        .collect();
    assert_eq!(site.commitment(s3).await, in_s3);
}
backend_test!(every_kind_of_page_is_read_to_the_last);

async fn a_429_with_retry_after_is_waited_out_and_nothing_is_lost(backend: Backend) {
    let now = now_ms();
    let site = Site::start(backend, two_team_world(now), Vec::new()).await;
    site.jira.fault_on("/rest/api/3/search/jql", Fault::RetryAfter { status: 429, seconds: 1 });
    site.jira.fault_on("/rest/api/3/worklog/list", Fault::RetryAfter { status: 429, seconds: 1 });
    let pages = PageSizes::default();
    let outcome = site.run(pages, now - 60 * DAY).await;

    assert_eq!(site.jira.faults_pending(), 0, "both limits were met");
    assert!(site.jira.count_status(429) >= 2);
    assert!(outcome.rate_limit_waits >= 2, "{outcome:?}");
    let (issues, worklogs) = site.jira.read(|w| (w.issue_views(), w.worklog_views()));
    assert_eq!(site.issues().await, issues.iter().map(StoredIssue::from).collect::<Vec<_>>());
    assert_eq!(site.worklogs().await, worklogs);
    assert_eq!(site.rolled_up_seconds().await, world_seconds(&worklogs));
}
backend_test!(a_429_with_retry_after_is_waited_out_and_nothing_is_lost);

async fn a_late_worklog_inside_the_window_is_picked_up_by_the_next_run(backend: Backend) {
    let now = now_ms();
    // The source reads board 1 (PLAT) only: PAY's issues are not searched.
    let site = Site::start(backend, two_team_world(now), vec![1]).await;
    let pages = PageSizes::default();
    let since = now - 28 * DAY;
    site.run(pages, since).await;
    let before = site.rolled_up_seconds().await;

    // Two minutes ago: Bob logs three hours he spent on a PAY bug three days ago, and Ann
    // corrects an old PLAT worklog from 30 minutes to 90.
    let pay_bug = site.jira.read(|w| w.issue_keys().into_iter().find(|k| k.starts_with("PAY-5")).unwrap());
    let late = site.jira.world(|w| w.add_worklog(&pay_bug, "acc-bob", now - 3 * DAY, 3 * 3600, now - 2 * MINUTE));
    let corrected = site.jira.world(|w| {
        let id = w.worklog_ids("PLAT-1")[0];
        w.update_worklog(id, 5400, now - 2 * MINUTE);
        id
    });
    let second = site.run(pages, since).await;
    assert_eq!(counts(&second, "worklogs"), TableCounts { new: 1, changed: 1, removed: 0 });
    assert!(site.jira.count("/rest/api/3/worklog/list") >= 2);
    let stored: HashMap<String, WorklogView> = site.worklogs().await.into_iter().map(|w| (w.id.clone(), w)).collect();
    let late = &stored[&late.to_string()];
    assert_eq!((late.author.as_str(), late.seconds, late.started), ("acc-bob", 3 * 3600, now - 3 * DAY));
    assert_eq!(stored[&corrected.to_string()].seconds, 5400);
    let after = site.rolled_up_seconds().await;
    assert_eq!(after["acc-bob"] - before["acc-bob"], 3 * 3600);
    assert_eq!(after["acc-ann"] - before["acc-ann"], 3600);
}
backend_test!(a_late_worklog_inside_the_window_is_picked_up_by_the_next_run);

async fn a_worklog_deleted_upstream_is_removed_with_its_rollup(backend: Backend) {
    let now = now_ms();
    let site = Site::start(backend, two_team_world(now), Vec::new()).await;
    let pages = PageSizes::default();
    let since = now - 28 * DAY;
    site.run(pages, since).await;
    let before = site.rolled_up_seconds().await;
    let (gone, seconds) = site.jira.world(|w| {
        let id = w.worklog_ids("PAY-2")[0];
        let seconds = w.worklog_views().into_iter().find(|v| v.id == id.to_string()).unwrap().seconds;
        w.delete_worklog(id, now - 2 * MINUTE);
        (id.to_string(), seconds)
    });

    let second = site.run(pages, since).await;
    assert_eq!(counts(&second, "worklogs").removed, 1);
    assert!(site.worklogs().await.iter().all(|w| w.id != gone));
    assert_eq!(site.worklogs().await, site.jira.read(|w| w.worklog_views()));
    let after = site.rolled_up_seconds().await;
    assert_eq!(before["acc-bob"] - after["acc-bob"], seconds);
    assert_eq!(after["acc-ann"], before["acc-ann"]);
    // Once removed, the next run has nothing more to remove.
    let third = site.run(pages, since).await;
    assert!(!changed_anything(&third), "{:?}", third.counts);
}
backend_test!(a_worklog_deleted_upstream_is_removed_with_its_rollup);

/// An issue deleted upstream goes with its worklogs, their time in the rollups and its
/// sprint intervals, when a run reads its window whole.
async fn an_issue_deleted_upstream_is_removed_with_its_worklogs(backend: Backend) {
    let now = now_ms();
    let site = Site::start(backend, two_team_world(now), Vec::new()).await;
    let pages = PageSizes::default();
    let since = now - 28 * DAY;
    site.run(pages, since).await;
    let before = site.rolled_up_seconds().await;
    let (gone_id, seconds) = site.jira.read(|w| {
        let view = w.issue_view("PAY-2");
        let ids: Vec<String> = w.worklog_ids("PAY-2").iter().map(u64::to_string).collect();
        let seconds: i64 = w.worklog_views().iter().filter(|v| ids.contains(&v.id)).map(|v| v.seconds).sum();
        (view.id, seconds)
    });
    assert!(seconds > 0);
    site.jira.world(|w| w.delete_issue("PAY-2"));

    let second = site.run(pages, since).await;
    assert_eq!(counts(&second, "issues").removed, 1);
    assert!(counts(&second, "worklogs").removed >= 1);
    assert!(counts(&second, "sprint_issues").removed >= 1, "{:?}", second.counts);
    assert!(site.issues().await.iter().all(|i| i.id != gone_id));
    assert_eq!(site.issues().await.len(), site.jira.read(|w| w.issue_views()).len());
    assert_eq!(site.worklogs().await, site.jira.read(|w| w.worklog_views()));
    let members: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_sprint_issues WHERE issue_id = $1")
        .bind(&gone_id)
        .fetch_one(site.db.reader())
        .await
        .unwrap();
    assert_eq!(members, 0);
    let after = site.rolled_up_seconds().await;
    assert_eq!(before["acc-bob"] - after["acc-bob"], seconds);
    assert_eq!(after["acc-ann"], before["acc-ann"]);
    let third = site.run(pages, since).await;
    assert!(!changed_anything(&third), "{:?}", third.counts);
}
backend_test!(an_issue_deleted_upstream_is_removed_with_its_worklogs);

async fn a_sprint_commitment_stays_as_it_was_at_the_start(backend: Backend) {
    let now = now_ms();
    let start = now - 5 * DAY;
    let mut w = JiraWorld::new(EMAIL, TOKEN);
    w.user("acc-ann", "Ann Novak", "ann@acme.test");
    w.project("PLAT", "Platform");
    let board = w.board("PLAT board", "PLAT");
    let sprint = w.sprint(board, "PLAT 1", start, start + 14 * DAY);
    let next = w.sprint(board, "PLAT 2", start + 14 * DAY, start + 28 * DAY);
    let story = |w: &mut JiraWorld, points: f64| w.issue(NewIssue::story("PLAT", start - 3 * DAY).points(points));
    let a = story(&mut w, 3.0);
    let b = story(&mut w, 5.0);
    let c = story(&mut w, 2.0);
    let d = w.issue(NewIssue::story("PLAT", start - 3 * DAY).kind(IssueType::SubTask).parent(&a));
    for key in [&a, &b, &d] {
        w.move_to_sprint(key, None, Some(sprint), start - HOUR);
    }
    w.start_sprint(sprint, start);
    // After the start: C joins, A is re-estimated, B leaves, E is created in the sprint.
    w.move_to_sprint(&c, None, Some(sprint), start + HOUR);
    w.set_points(&a, Some(8.0), start + 2 * HOUR);
    w.move_to_sprint(&b, Some(sprint), None, start + 3 * HOUR);
    let e = w.issue(NewIssue::story("PLAT", start + 4 * HOUR).points(13.0).in_sprint(sprint));
    let site = Site::start(backend, w, Vec::new()).await;
    let id = |key: &str| site.issue_id(key);
    let pages = PageSizes::default();
    let since = now - 28 * DAY;

    let first = site.run(pages, since).await;
    let at_start = BTreeMap::from([(id(&a), Some(3.0)), (id(&b), Some(5.0)), (id(&d), None)]);
    assert_eq!(site.commitment(sprint).await, at_start, "the issues and points at the start");
    assert_eq!(counts(&first, "sprint_commitments").new, 3);
    assert!(site.commitment(next).await.is_empty(), "a future sprint has no commitment");
    assert_eq!(site.intervals(&id(&b), sprint).await, [(start - HOUR, Some(start + 3 * HOUR))]);
    assert_eq!(site.intervals(&id(&c), sprint).await, [(start + HOUR, None)]);
    assert_eq!(site.intervals(&id(&e), sprint).await, [(start + 4 * HOUR, None)]);

    // Later everything moves: A is re-estimated again, B comes back, the sprint closes and
    // the unfinished work moves to the next sprint, which starts.
    site.jira.world(|w| {
        w.set_points(&a, Some(13.0), now - 2 * DAY);
        w.move_to_sprint(&b, None, Some(sprint), now - 2 * DAY);
        w.transition(&c, "Done", now - DAY);
        w.close_sprint(sprint, now - HOUR, Some(next));
        w.start_sprint(next, now - HOUR);
    });
    let second = site.run(pages, since).await;
    assert_eq!(site.commitment(sprint).await, at_start, "never rebuilt");
    assert_eq!(counts(&second, "sprint_commitments").new, 4, "only the sprint that started since: A, B, D, E");
    let next_commitment = site.commitment(next).await;
    assert_eq!(
        next_commitment,
        BTreeMap::from([(id(&a), Some(13.0)), (id(&b), Some(5.0)), (id(&d), None), (id(&e), Some(13.0))])
    );
    assert_eq!(
        site.intervals(&id(&b), sprint).await,
        [(start - HOUR, Some(start + 3 * HOUR)), (now - 2 * DAY, None)],
        "B left and came back"
    );
}
backend_test!(a_sprint_commitment_stays_as_it_was_at_the_start);

async fn a_sprint_completion_stays_as_it_was_at_the_close(backend: Backend) {
    let now = now_ms();
    let start = now - 20 * DAY;
    let close = start + 14 * DAY;
    let mut w = JiraWorld::new(EMAIL, TOKEN);
    w.user("acc-ann", "Ann Novak", "ann@acme.test");
    w.project("PLAT", "Platform");
    let board = w.board("PLAT board", "PLAT");
    let sprint = w.sprint(board, "PLAT 1", start, close);
    let next = w.sprint(board, "PLAT 2", close, close + 14 * DAY);
    let story = |w: &mut JiraWorld, points: f64| w.issue(NewIssue::story("PLAT", start - 3 * DAY).points(points));
    let a = story(&mut w, 3.0);
    let b = story(&mut w, 5.0);
    let c = story(&mut w, 2.0);
    let e = story(&mut w, 8.0);
    let sub = w.issue(NewIssue::story("PLAT", start - 3 * DAY).kind(IssueType::SubTask).parent(&a));
    for key in [&a, &b, &c, &e, &sub] {
        w.move_to_sprint(key, None, Some(sprint), start - HOUR);
    }
    w.start_sprint(sprint, start);
    // During the sprint: D comes in and is done, E leaves, A and C are done, B is started.
    let d = w.issue(NewIssue::story("PLAT", start + DAY).points(1.0).in_sprint(sprint));
    w.move_to_sprint(&e, Some(sprint), None, start + 2 * DAY);
    w.transition(&a, "Done", start + 3 * DAY);
    w.transition(&c, "Done", start + 4 * DAY);
    w.transition(&d, "Done", start + 5 * DAY);
    w.transition(&b, "In Progress", start + 5 * DAY);
    w.transition(&sub, "Done", start + 6 * DAY);
    // At the close B moves on to the next sprint. Then A is re-estimated, C reopened, B done.
    w.close_sprint(sprint, close, Some(next));
    w.start_sprint(next, close + HOUR);
    w.set_points(&a, Some(8.0), close + DAY);
    w.transition(&c, "In Progress", close + DAY);
    w.transition(&b, "Done", close + 2 * DAY);
    let site = Site::start(backend, w, Vec::new()).await;
    let id = |key: &str| site.issue_id(key);
    let pages = PageSizes::default();
    let since = now - 28 * DAY;

    let first = site.run(pages, since).await;
    let at_close = BTreeMap::from([
        (id(&a), (Some(3.0), true)),
        (id(&b), (Some(5.0), false)),
        (id(&c), (Some(2.0), true)),
        (id(&d), (Some(1.0), true)),
        (id(&sub), (None, true)),
    ]);
    assert_eq!(site.completion(sprint).await, at_close, "the issues, points and status at the close");
    assert_eq!(counts(&first, "sprint_completions").new, 5);
    assert!(site.completion(next).await.is_empty(), "an active sprint has no completion");
    assert_eq!(site.metrics().completions_taken(&site.id()).await.unwrap(), [sprint as i64]);

    // Later: C is done again and re-estimated, D reopened. The completion is never rebuilt.
    site.jira.world(|w| {
        w.transition(&c, "Done", now - DAY);
        w.set_points(&c, Some(13.0), now - DAY);
        w.transition(&d, "To Do", now - DAY);
    });
    let second = site.run(pages, since).await;
    assert_eq!(site.completion(sprint).await, at_close, "never rebuilt");
    assert_eq!(counts(&second, "sprint_completions").new, 0);
}
backend_test!(a_sprint_completion_stays_as_it_was_at_the_close);

async fn a_wrong_token_is_unauthorized_and_stores_nothing(backend: Backend) {
    let now = now_ms();
    let site = Site::start(backend, two_team_world(now), Vec::new()).await;
    let api = site.client("not-the-token", PageSizes::default());
    assert!(matches!(api.myself().await, Err(UpstreamError::Unauthorized(_))));

    site.queue(now - 28 * DAY).await;
    let (_, _, outcome) = site.attempt(&api).await;
    assert!(matches!(outcome, Err(CollectError::Upstream(UpstreamError::Unauthorized(_)))), "{outcome:?}");
    for table in ["metrics_boards", "metrics_sprints", "metrics_issues", "metrics_worklogs", "metrics_person_days"] {
        assert_eq!(site.count(table).await, 0, "{table}");
    }
    let me = site.client(TOKEN, PageSizes::default()).myself().await.unwrap();
    assert_eq!(me.email_address.as_deref(), Some(EMAIL));
}
backend_test!(a_wrong_token_is_unauthorized_and_stores_nothing);

async fn a_run_that_died_resumes_after_its_last_page(backend: Backend) {
    let now = now_ms();
    let mut w = JiraWorld::new(EMAIL, TOKEN);
    w.user("acc-ann", "Ann Novak", "ann@acme.test");
    w.project("PLAT", "Platform");
    w.board("PLAT board", "PLAT");
    let keys: Vec<String> =
        (0..5).map(|n| w.issue(NewIssue::story("PLAT", now - 20 * DAY + n * DAY).assignee("acc-ann"))).collect();
    for n in 0..21 {
        w.add_worklog(&keys[3], "acc-ann", now - 10 * DAY + n * HOUR, 900, now - 10 * DAY + n * HOUR);
    }
    let site = Site::start(backend, w, Vec::new()).await;
    let pages = PageSizes { issues: 2, ..PageSizes::default() };
    let api = site.client(TOKEN, pages);
    let since = now - 28 * DAY;
    let id = site.queue(since).await;

    // The second page's PLAT-4 has more worklogs than it carries; reading them fails, and the
    // worker dies with the first page committed.
    let plat4 = site.issue_id(&keys[3]);
    site.jira.fault_on(&format!("/rest/api/3/issue/{plat4}/worklog"), Fault::Status(400));
    let (_, lease, outcome) = site.attempt(&api).await;
    assert!(matches!(outcome, Err(CollectError::Upstream(UpstreamError::Status { status: 400, .. }))), "{outcome:?}");
    let run = site.metrics().run(&id).await.unwrap();
    let plat2_created = now - 20 * DAY + DAY;
    assert_eq!(run.progress.get(STEP_ISSUES), Some(&plat2_created.to_string()), "{:?}", run.progress);
    assert_eq!(run.counts["issues"], TableCounts { new: 2, changed: 0, removed: 0 });
    assert_eq!(site.count("metrics_issues").await, 2);
    assert!(site.metrics().renew_run(&lease, now_ms() - 1).await.unwrap(), "its lease lapses");

    // Another worker takes the run over and goes on from the second page.
    site.jira.clear_requests();
    let api = site.client(TOKEN, pages);
    let (taken, lease, outcome) = site.attempt(&api).await;
    assert_eq!(taken.attempts, 2);
    outcome.expect("the run finishes");
    assert!(site.metrics().finish_run(&lease, Ok(())).await.unwrap());
    let searches: Vec<String> = site
        .jira
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.starts_with("/rest/api/3/search/jql?jql=project"))
        .collect();
    assert!(searches[0].contains("created+%3E%3D"), "resumes from the last page's issue: {searches:?}");
    let run = site.metrics().run(&id).await.unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.counts["issues"], TableCounts { new: 5, changed: 0, removed: 0 }, "every issue once");
    assert_eq!(run.counts["worklogs"], TableCounts { new: 21, changed: 0, removed: 0 });
    let issues = site.jira.read(|w| w.issue_views());
    assert_eq!(site.issues().await, issues.iter().map(StoredIssue::from).collect::<Vec<_>>());
}
backend_test!(a_run_that_died_resumes_after_its_last_page);

async fn a_jira_source_is_tried_over_the_api_then_run_by_the_servers_worker(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let admin = app.token(&acme, Role::Admin);
    let now = now_ms();
    let jira = JiraServer::start(two_team_world(now)).await;
    let body = |token: &str, boards: &[i64], field: Option<&str>| {
        json!({
            "kind": "jira", "name": "Jira", "base_url": jira.base_url, "email": EMAIL, "token": token,
            "boards": boards, "story_points_field": field,
        })
    };
    let refused = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        (status, body["error"]["code"].as_str().unwrap_or_default().to_owned(), body["error"]["field"].clone())
    };
    let post = |b: Value| app.post("/api/v1/metrics/sources", &admin, &b).send();

    let resp = post(body("wrong", &[1], None)).await.unwrap();
    assert_eq!(refused(resp).await, (400, "VALIDATION_ERROR".into(), json!("token")));
    let resp = post(body(TOKEN, &[1, 9], None)).await.unwrap();
    assert_eq!(refused(resp).await, (400, "VALIDATION_ERROR".into(), json!("boards[1]")));
    let resp = post(body(TOKEN, &[1], Some("customfield_99999"))).await.unwrap();
    assert_eq!(refused(resp).await, (400, "VALIDATION_ERROR".into(), json!("story_points_field")));
    let listed: Value = app.get("/api/v1/metrics/sources", &admin).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"], json!([]), "nothing stored after a refusal");

    let resp = post(body(TOKEN, &[1, 2], Some("customfield_10016"))).await.unwrap();
    assert_eq!(resp.status(), 201);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(TOKEN), "the token is never returned: {text}");
    let source: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((source["has_token"].as_bool(), source["boards"].clone()), (Some(true), json!([1, 2])));

    let runs = format!("/api/v1/metrics/sources/{}/runs", source["id"].as_str().unwrap());
    let run: Value = app.post(&runs, &admin, &json!({})).send().await.unwrap().json().await.unwrap();
    let run_path = format!("/api/v1/metrics/runs/{}", run["id"].as_str().unwrap());
    let done = cairn_testkit::eventually("the run to finish", std::time::Duration::from_secs(60), || async {
        let r: Value = app.get(&run_path, &admin).send().await.ok()?.json().await.ok()?;
        (r["status"] == "succeeded" || r["status"] == "failed").then_some(r)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (issues, worklogs) = jira.read(|w| (w.issue_views().len(), w.worklog_views().len()));
    assert_eq!(done["counts"]["issues"]["new"], issues as u64);
    assert_eq!(done["counts"]["worklogs"]["new"], worklogs as u64);
    assert_eq!(done["counts"]["boards"]["new"], 2);
    assert!(done["requests"].as_i64().unwrap() > 0);
}
backend_test!(a_jira_source_is_tried_over_the_api_then_run_by_the_servers_worker);
