//! The store's upserts of collected rows: idempotent by upstream id, counted new, changed and
//! unchanged, with the daily rollups moved in the same transaction by exactly the change.

use cairn_audit::RequestMeta;
use cairn_metrics::collected::impact::SCALE;
use cairn_metrics::collected::{
    Comment, CommentKind, Commit, CommitPullRequest, CommitmentItem, Counts, DayFigures, PersonDay, PrState,
    PullRequest, Review, SprintMembership, Worklog,
};
use cairn_metrics::{Day, Metrics, MetricsError, Page, SettingsInput, SourceId};
use cairn_store::{Db, sqlx};
use cairn_testkit::{Backend, TestApp, backend_test};

use super::{github_source, tester};

fn at(rfc3339: &str) -> i64 {
    rfc3339.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn day(date: &str) -> Day {
    Day::parse(date, "day").unwrap()
}

fn commit(sha: &str, login: Option<&str>, when: &str, additions: i64, deletions: i64) -> Commit {
    Commit {
        repository_id: "R_api".into(),
        sha: sha.into(),
        author_login: login.map(str::to_owned),
        author_email: Some(format!("{}@acme.com", login.unwrap_or("someone"))),
        authored_at: at(when),
        additions,
        deletions,
        changed_files: 2,
        parent_count: 1,
        on_default_branch: true,
    }
}

fn pull(number: i64, author: &str, created: &str, merged: Option<&str>) -> PullRequest {
    PullRequest {
        repository_id: "R_api".into(),
        number,
        author_login: Some(author.into()),
        state: if merged.is_some() { PrState::Merged } else { PrState::Open },
        created_at: at(created),
        merged_at: merged.map(at),
        closed_at: merged.map(at),
        first_review_at: None,
        additions: 10,
        deletions: 2,
        merge_commit_sha: None,
        updated_at: at(created),
    }
}

fn comment(kind: CommentKind, id: &str, author: &str, pr_author: &str, when: &str) -> Comment {
    Comment {
        kind,
        id: id.into(),
        repository_id: "R_api".into(),
        pr_number: 1,
        author_login: Some(author.into()),
        pr_author_login: Some(pr_author.into()),
        created_at: at(when),
        updated_at: at(when),
    }
}

fn worklog(id: &str, author: &str, when: &str, seconds: i64) -> Worklog {
    Worklog {
        id: id.into(),
        issue_id: "10001".into(),
        author_account_id: Some(author.into()),
        started_at: at(when),
        seconds,
        updated_at: at(when),
    }
}

/// A small organization's day: Alice's two commits, a merge, a commit on a branch only, a
/// commit by an email without a GitHub account, a pull request, a review, comments on her
/// own pull request and on Bob's, and worklogs.
struct Sample {
    commits: Vec<Commit>,
    pulls: Vec<PullRequest>,
    reviews: Vec<Review>,
    comments: Vec<Comment>,
    worklogs: Vec<Worklog>,
}

fn sample() -> Sample {
    let merge = Commit { parent_count: 2, ..commit("c3", Some("alice"), "2026-03-02T10:00:00Z", 50, 50) };
    let branch_only = Commit { on_default_branch: false, ..commit("c4", Some("alice"), "2026-03-02T11:00:00Z", 7, 0) };
    Sample {
        commits: vec![
            commit("c1", Some("alice"), "2026-03-02T08:00:00Z", 10, 1),
            commit("c2", Some("Alice"), "2026-03-02T09:00:00Z", 20, 2),
            merge,
            branch_only,
            commit("c5", None, "2026-03-02T12:00:00Z", 3, 3),
        ],
        pulls: vec![pull(1, "alice", "2026-03-02T07:00:00Z", None), pull(2, "bob", "2026-03-01T07:00:00Z", None)],
        reviews: vec![Review {
            id: "PRR_1".into(),
            repository_id: "R_api".into(),
            pr_number: 2,
            author_login: Some("alice".into()),
            state: "APPROVED".into(),
            submitted_at: at("2026-03-02T13:00:00Z"),
        }],
        comments: vec![
            comment(CommentKind::Review, "1", "alice", "alice", "2026-03-02T14:00:00Z"),
            comment(CommentKind::Conversation, "1", "alice", "bob", "2026-03-02T15:00:00Z"),
            comment(CommentKind::Conversation, "2", "bob", "alice", "2026-03-02T15:30:00Z"),
        ],
        worklogs: vec![
            worklog("w1", "5b10a", "2026-03-02T09:00:00Z", 3600),
            worklog("w2", "5b10a", "2026-03-02T13:00:00Z", 1800),
        ],
    }
}

/// Writes the whole sample as one page; what each table's upsert reported.
async fn write_sample(db: &Db, source: &SourceId, s: &Sample) -> Vec<Counts> {
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(db, &mut tx, source).await.unwrap();
    let counts = vec![
        page.commits(&s.commits).await.unwrap(),
        page.pull_requests(&s.pulls).await.unwrap(),
        page.reviews(&s.reviews).await.unwrap(),
        page.comments(&s.comments).await.unwrap(),
        page.worklogs(&s.worklogs).await.unwrap(),
    ];
    drop(page);
    tx.commit().await.unwrap();
    counts
}

async fn rollups(db: &Db, source: &SourceId) -> Vec<PersonDay> {
    Metrics { db }.person_days(Some(source)).await.unwrap()
}

fn figures_of(rows: &[PersonDay], person: &str, date: &str) -> Option<DayFigures> {
    rows.iter().find(|r| r.person_key == person && r.day == day(date)).map(|r| r.figures)
}

fn fresh(n: u64) -> Counts {
    Counts { new: n, ..Counts::default() }
}

fn same(n: u64) -> Counts {
    Counts { unchanged: n, ..Counts::default() }
}

async fn a_second_upsert_of_the_same_page_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let s = sample();
    assert_eq!(write_sample(&db, &source, &s).await, [fresh(5), fresh(2), fresh(1), fresh(3), fresh(2)]);
    let first = rollups(&db, &source).await;

    // Alice on 2 March (Bratislava, UTC+1): two counted commits (the merge and the commit
    // only on a branch do not count), each the largest of the repository so far (impact 1),
    // her pull request, a review, a comment on her own pull request and one on Bob's.
    let alice = figures_of(&first, "gh:alice", "2026-03-02").expect("alice's day");
    let expected = DayFigures {
        commits: 2,
        additions: 30,
        deletions: 3,
        changed_files: 4,
        impact: 2 * SCALE,
        comments_on_own: 1,
        comments_on_others: 1,
        prs_opened: 1,
        prs_merged: 0,
        reviews: 1,
        worklog_seconds: 0,
    };
    assert_eq!(alice, expected);
    assert!(first.iter().find(|r| r.person_key == "gh:alice").unwrap().active);
    // A commit without a GitHub author is its email's; Bob's comment is on Alice's pull request.
    assert_eq!(figures_of(&first, "email:someone@acme.com", "2026-03-02").unwrap().commits, 1);
    let bob = figures_of(&first, "gh:bob", "2026-03-02").unwrap();
    assert_eq!((bob.comments_on_others, bob.commits), (1, 0));
    assert!(!first.iter().find(|r| r.person_key == "gh:bob" && r.day == day("2026-03-02")).unwrap().active);
    assert_eq!(figures_of(&first, "gh:bob", "2026-03-01").unwrap().prs_opened, 1);
    assert_eq!(figures_of(&first, "jira:5b10a", "2026-03-02").unwrap().worklog_seconds, 5400);

    // The same page again: nothing new, nothing changed, the rollups as they were.
    assert_eq!(write_sample(&db, &source, &s).await, [same(5), same(2), same(1), same(3), same(2)]);
    assert_eq!(rollups(&db, &source).await, first);
    // A page naming a row twice counts it once, as the last one says.
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    let twice = [s.commits[0].clone(), s.commits[0].clone()];
    assert_eq!(page.commits(&twice).await.unwrap(), same(1));
    drop(page);
    tx.commit().await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_commits").fetch_one(db.reader()).await.unwrap();
    assert_eq!(stored, 5);
}
backend_test!(a_second_upsert_of_the_same_page_changes_nothing);

async fn a_changed_row_moves_the_rollups_by_the_difference(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let mut s = sample();
    write_sample(&db, &source, &s).await;
    let before = rollups(&db, &source).await;
    let alice_before = figures_of(&before, "gh:alice", "2026-03-02").unwrap();

    // Late changes upstream: c1 gains lines; c2's author date moves to the next day; the
    // merge commit is rewritten as a single-parent commit; Alice's pull request is merged
    // on 4 March; Bob's comment turns out to be on his own pull request; a worklog grows.
    s.commits[0].additions = 15;
    s.commits[1].authored_at = at("2026-03-03T09:00:00Z");
    s.commits[2].parent_count = 1;
    s.pulls[0].state = PrState::Merged;
    s.pulls[0].merged_at = Some(at("2026-03-04T10:00:00Z"));
    s.comments[2].pr_author_login = Some("bob".into());
    s.worklogs[0].seconds = 5400;
    let counts = write_sample(&db, &source, &s).await;
    let changed = |n: u64, unchanged: u64| Counts { changed: n, unchanged, ..Counts::default() };
    assert_eq!(counts, [changed(3, 2), changed(1, 1), same(1), changed(1, 2), changed(1, 1)]);

    let after = rollups(&db, &source).await;
    let alice = figures_of(&after, "gh:alice", "2026-03-02").unwrap();
    // +5 lines on c1, c2 (20/2) gone to 3 March, the merge (50/50) now counts.
    assert_eq!(alice.commits, alice_before.commits - 1 + 1);
    assert_eq!(alice.additions, alice_before.additions + 5 - 20 + 50);
    assert_eq!(alice.deletions, alice_before.deletions - 2 + 50);
    let moved = figures_of(&after, "gh:alice", "2026-03-03").unwrap();
    assert_eq!((moved.commits, moved.additions, moved.deletions), (1, 20, 2));
    assert_eq!(figures_of(&after, "gh:alice", "2026-03-04").unwrap().prs_merged, 1);
    assert_eq!(alice.prs_opened, 1, "the pull request still opened on 2 March");
    let bob = figures_of(&after, "gh:bob", "2026-03-02").unwrap();
    assert_eq!((bob.comments_on_own, bob.comments_on_others), (1, 0));
    assert_eq!(figures_of(&after, "jira:5b10a", "2026-03-02").unwrap().worklog_seconds, 5400 + 1800);

    // Every other person-day is as it was.
    let untouched = |r: &&PersonDay| {
        !(r.person_key == "gh:alice" || r.person_key == "gh:bob" && r.day == day("2026-03-02"))
            && r.person_key != "jira:5b10a"
    };
    let a: Vec<&PersonDay> = before.iter().filter(untouched).collect();
    let b: Vec<&PersonDay> = after.iter().filter(untouched).collect();
    assert_eq!(a, b);
}
backend_test!(a_changed_row_moves_the_rollups_by_the_difference);

async fn a_removal_subtracts_what_the_row_added(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let s = sample();
    write_sample(&db, &source, &s).await;
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    let links = [CommitPullRequest { repository_id: "R_api".into(), sha: "c1".into(), pr_number: 1 }];
    let key = ("R_api".to_owned(), "c1".to_owned());
    assert_eq!(page.commit_pull_requests(std::slice::from_ref(&key), &links).await.unwrap(), fresh(1));
    drop(page);
    tx.commit().await.unwrap();
    let before = rollups(&db, &source).await;

    // c1 was force-pushed away, the worklog w2 and Bob's comment were deleted, and a
    // worklog never stored is reported deleted too.
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    let removed = |n: u64| Counts { removed: n, ..Counts::default() };
    assert_eq!(page.remove_commits(std::slice::from_ref(&key)).await.unwrap(), removed(1));
    assert_eq!(page.remove_worklogs(&["w2".into(), "w-never".into()]).await.unwrap(), removed(1));
    let bobs = (CommentKind::Conversation, "2".to_owned());
    assert_eq!(page.remove_comments(std::slice::from_ref(&bobs)).await.unwrap(), removed(1));
    drop(page);
    tx.commit().await.unwrap();

    let after = rollups(&db, &source).await;
    let (a, b) =
        (figures_of(&before, "gh:alice", "2026-03-02").unwrap(), figures_of(&after, "gh:alice", "2026-03-02").unwrap());
    assert_eq!((b.commits, b.additions, b.deletions), (a.commits - 1, a.additions - 10, a.deletions - 1));
    // c1's impact (1) went with it, and c2 was rescored: the largest of the repository's one
    // commit before it (impact 1 still); c5, at most one of two, dropped from 1/3 to 1/2.
    assert_eq!((a.impact, b.impact), (2 * SCALE, SCALE));
    let someone = |r: &[PersonDay]| figures_of(r, "email:someone@acme.com", "2026-03-02").unwrap().impact;
    assert_eq!((someone(&before), someone(&after)), (SCALE / 3, SCALE / 2));
    assert_eq!(figures_of(&after, "jira:5b10a", "2026-03-02").unwrap().worklog_seconds, 3600);
    // Bob had nothing else on 2 March: the row is gone, not left at zero.
    assert!(figures_of(&after, "gh:bob", "2026-03-02").is_none(), "{after:?}");
    let links: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM metrics_commit_pull_requests").fetch_one(db.reader()).await.unwrap();
    assert_eq!(links, 0, "a removed commit's pull-request links go with it");
    // Removing the rest of a day leaves no row for it.
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    page.remove_worklogs(&["w1".into()]).await.unwrap();
    drop(page);
    tx.commit().await.unwrap();
    assert!(figures_of(&rollups(&db, &source).await, "jira:5b10a", "2026-03-02").is_none());
}
backend_test!(a_removal_subtracts_what_the_row_added);

/// Every rollup row, rebuilt from the collected rows.
async fn rebuilt(db: &Db) -> Vec<PersonDay> {
    Metrics { db }.rebuild_rollups().await.unwrap();
    Metrics { db }.person_days(None).await.unwrap()
}

async fn the_rebuild_equals_the_maintained_rollups(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let metrics = Metrics { db: &db };
    let mut s = sample();
    write_sample(&db, &source, &s).await;
    // A second source, and a history of changes and removals on the first.
    let mut new = super::github_source_fields();
    new.name = "GitHub Enterprise".into();
    let other = metrics.add_source(app.store.master_key(), new, &tester(), &RequestMeta::default()).await.unwrap();
    let other = SourceId::parse(&other.id, "id").unwrap();
    let mut t = sample();
    for c in &mut t.commits {
        c.sha = format!("e{}", c.sha);
    }
    write_sample(&db, &other, &t).await;
    for round in 0..5i64 {
        for (i, c) in s.commits.iter_mut().enumerate() {
            c.additions += round * i as i64;
            c.authored_at += round * 6 * 3_600_000;
        }
        s.worklogs[1].started_at += 20 * 3_600_000;
        s.comments[0].created_at += 11 * 3_600_000;
        write_sample(&db, &source, &s).await;
    }
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    page.remove_commits(&[("R_api".into(), "c2".into())]).await.unwrap();
    page.remove_worklogs(&["w1".into()]).await.unwrap();
    drop(page);
    tx.commit().await.unwrap();

    let maintained = metrics.person_days(None).await.unwrap();
    assert!(maintained.len() > 8, "{maintained:?}");
    assert!(maintained.iter().any(|r| r.figures.impact > 0), "{maintained:?}");
    assert_eq!(rebuilt(&db).await, maintained);

    // Alice listed as a bot: her commits leave the repository's comparisons, and the
    // others' impacts are rescored in the settings' transaction.
    let bots = ["renovate".into(), "alice".into()];
    let input = SettingsInput::parse("Europe/Bratislava", 28, 90, "0 2 * * *", &bots).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    let without_alice = metrics.person_days(None).await.unwrap();
    assert!(without_alice.iter().all(|r| !r.person_key.starts_with("gh:alice") || r.figures.impact == 0));
    assert_ne!(without_alice, maintained);
    assert_eq!(rebuilt(&db).await, without_alice);
    let input = SettingsInput::parse("Europe/Bratislava", 28, 90, "0 2 * * *", &["renovate".into()]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    assert_eq!(metrics.person_days(None).await.unwrap(), maintained);

    // Rollups built by an older version (no impact) are rebuilt once, and only once.
    assert_eq!(metrics.rebuild_stale_rollups().await.unwrap(), None);
    sqlx::query("UPDATE metrics_person_days SET impact = 0, changed_files = 0").execute(db.writer()).await.unwrap();
    sqlx::query("UPDATE metrics_settings SET rollups_version = 0").execute(db.writer()).await.unwrap();
    assert!(metrics.rebuild_stale_rollups().await.unwrap().is_some());
    assert_eq!(metrics.person_days(None).await.unwrap(), maintained);
    assert_eq!(metrics.rebuild_stale_rollups().await.unwrap(), None);

    // A new time zone moves every event to its local day there: the settings change
    // rebuilds the rollups in its transaction, and they equal a rebuild.
    let input = SettingsInput::parse("America/Los_Angeles", 28, 90, "0 2 * * *", &["renovate".into()]).unwrap();
    metrics.update_settings(input, &tester(), &RequestMeta::default()).await.unwrap();
    let moved = metrics.person_days(None).await.unwrap();
    assert_ne!(moved, maintained);
    // c1 at 08:00 UTC on 2 March is still 2 March in Los Angeles; c5 at 12:00 UTC too, but
    // Bob's pull request at 07:00 UTC on 1 March was opened on 28 February there.
    assert!(figures_of(&moved, "gh:bob", "2026-02-28").is_some_and(|f| f.prs_opened == 1), "{moved:?}");
    assert_eq!(rebuilt(&db).await, moved);
    // And pages after the change count days in the new zone.
    write_sample(&db, &source, &sample()).await;
    let maintained = metrics.person_days(None).await.unwrap();
    assert_eq!(rebuilt(&db).await, maintained);
}
backend_test!(the_rebuild_equals_the_maintained_rollups);

async fn a_sprint_commitment_is_taken_once_and_never_rebuilt(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let item = |issue: &str, points: Option<f64>| CommitmentItem { issue_id: issue.into(), points };
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    assert!(!page.has_commitment(7).await.unwrap());
    assert!(page.commitment(7, &[item("A", Some(3.0)), item("B", Some(5.5)), item("C", None)]).await.unwrap());
    drop(page);
    tx.commit().await.unwrap();

    // Later the issues move and are re-estimated: a second snapshot changes nothing.
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    assert!(page.has_commitment(7).await.unwrap());
    assert!(!page.commitment(7, &[item("A", Some(8.0)), item("D", Some(2.0))]).await.unwrap());
    assert!(!page.commitment(7, &[]).await.unwrap());
    drop(page);
    tx.commit().await.unwrap();
    let rows =
        sqlx::query("SELECT issue_id, points FROM metrics_sprint_commitments WHERE sprint_id = 7 ORDER BY issue_id")
            .fetch_all(db.reader())
            .await
            .unwrap();
    use sqlx::Row;
    let got: Vec<(String, Option<f64>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, [("A".into(), Some(3.0)), ("B".into(), Some(5.5)), ("C".into(), None)]);
    // A rebuild of the rollups leaves it alone too.
    Metrics { db: &db }.rebuild_rollups().await.unwrap();
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM metrics_sprint_commitments").fetch_one(db.reader()).await.unwrap();
    assert_eq!(n, 3);
}
backend_test!(a_sprint_commitment_is_taken_once_and_never_rebuilt);

async fn sprint_memberships_and_pull_request_links_are_replaced_per_parent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let m = |sprint: i64, issue: &str, added: &str, removed: Option<&str>| SprintMembership {
        sprint_id: sprint,
        issue_id: issue.into(),
        added_at: at(added),
        removed_at: removed.map(at),
    };
    let issues = ["I1".to_owned(), "I2".to_owned()];
    let first = [m(1, "I1", "2026-03-01T00:00:00Z", None), m(1, "I2", "2026-03-01T00:00:00Z", None)];
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    assert_eq!(page.sprint_memberships(&issues, &first).await.unwrap(), fresh(2));
    // I1 left sprint 1 for sprint 2 on 5 March; I2 is unchanged; I3 is not named and stays.
    page.sprint_memberships(&["I3".into()], &[m(1, "I3", "2026-03-02T00:00:00Z", None)]).await.unwrap();
    let second = [
        m(1, "I1", "2026-03-01T00:00:00Z", Some("2026-03-05T00:00:00Z")),
        m(2, "I1", "2026-03-05T00:00:00Z", None),
        m(1, "I2", "2026-03-01T00:00:00Z", None),
    ];
    let counts = page.sprint_memberships(&issues, &second).await.unwrap();
    assert_eq!(counts, Counts { new: 1, changed: 1, unchanged: 1, removed: 0 });
    // I2 turns out never to have been in a sprint.
    let counts = page.sprint_memberships(&["I2".into()], &[]).await.unwrap();
    assert_eq!(counts, Counts { removed: 1, ..Counts::default() });
    drop(page);
    tx.commit().await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM metrics_sprint_issues").fetch_one(db.reader()).await.unwrap();
    assert_eq!(n, 3, "I1 twice and I3");
}
backend_test!(sprint_memberships_and_pull_request_links_are_replaced_per_parent);

async fn pages_need_a_source_that_takes_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    write_sample(&db, &source, &sample()).await;
    let mut tx = db.begin().await.unwrap();
    let unknown = SourceId::new();
    assert!(matches!(Page::open(&db, &mut tx, &unknown).await, Err(MetricsError::NotFound("source"))));
    drop(tx);

    // Deleting a source removes its rows batch by batch, its rollups first; meanwhile it
    // takes no pages.
    let metrics = Metrics { db: &db };
    assert_eq!(metrics.purge_source(&source, 10).await.unwrap(), 10);
    assert!(metrics.person_days(Some(&source)).await.unwrap().is_empty(), "the five rollup rows went first");
    let mut tx = db.begin().await.unwrap();
    assert!(matches!(Page::open(&db, &mut tx, &source).await, Err(MetricsError::NotFound("source"))));
    drop(tx);
    while metrics.purge_source(&source, 4).await.unwrap() > 0 {}
    assert!(matches!(metrics.source(&source).await, Err(MetricsError::NotFound("source"))));
    for table in ["metrics_commits", "metrics_worklogs", "metrics_person_days", "metrics_comments"] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.reader()).await.unwrap();
        assert_eq!(n, 0, "{table}");
    }
}
backend_test!(pages_need_a_source_that_takes_rows);
