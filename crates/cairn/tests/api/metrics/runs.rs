//! Collector runs: one per trigger key, claimed with a lease, taken over when the lease
//! expires, progress recorded only by the lease's holder.

use cairn_metrics::collected::Counts;
use cairn_metrics::runs::{self, PageProgress, TableCounts};
use cairn_metrics::{Metrics, Page, RunId, RunStatus};
use cairn_testkit::{Backend, TestApp, backend_test};

use super::github_source;

async fn a_fire_makes_one_run_and_a_dead_workers_run_is_taken_over(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let acme = app.create_tenant("acme").await;
    let (source, db) = github_source(&app, &acme).await;
    let metrics = Metrics { db: &db };

    // Two schedulers see the same fire: one run.
    let run = metrics.queue_run(&source, Some("schedule:1790000000000"), None, "scheduler").await.unwrap();
    let run = run.expect("the first scheduler queues the run");
    assert_eq!((run.status, run.attempts, run.trigger_key.as_str()), (RunStatus::Queued, 0, "schedule:1790000000000"));
    assert!(metrics.queue_run(&source, Some("schedule:1790000000000"), None, "scheduler").await.unwrap().is_none());
    let manual = metrics.queue_run(&source, None, Some(1_780_000_000_000), "admin").await.unwrap().unwrap();
    assert_eq!(manual.trigger_key, format!("manual:{}", manual.id));

    // Worker A claims the source's oldest run; nothing else of the source while A holds it.
    let claimed = metrics.claim_runs("worker-a", 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let (mine, lease_a) = claimed.into_iter().next().unwrap();
    assert_eq!((mine.id.as_str(), mine.status, mine.attempts), (run.id.as_str(), RunStatus::Running, 1));
    assert_eq!(mine.lease_owner.as_deref(), Some("worker-a"));
    assert!(metrics.claim_runs("worker-b", 60_000, 10).await.unwrap().is_empty());

    // A commits a page with its progress.
    let mut tx = db.begin().await.unwrap();
    let mut page = Page::open(&db, &mut tx, &source).await.unwrap();
    page.worklogs(&[]).await.unwrap();
    drop(page);
    let counts = [("commits", Counts { new: 100, changed: 2, unchanged: 5, removed: 1 })];
    let progress = PageProgress {
        step: "commits:acme/api",
        cursor: Some("abc 100"),
        counts: &counts,
        requests: 3,
        rate_limit_waits: 1,
    };
    let until = cairn_domain::now_ms() + 60_000;
    assert!(runs::record_page(&mut tx, &lease_a, &progress, until).await.unwrap());
    tx.commit().await.unwrap();

    // A dies: its lease lapses (here it is given one that has already expired), and B takes
    // the run over where A's last page left it.
    assert!(metrics.renew_run(&lease_a, cairn_domain::now_ms() - 1).await.unwrap());
    let claimed = metrics.claim_runs("worker-b", 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let (taken, lease_b) = claimed.into_iter().next().unwrap();
    assert_eq!((taken.id.as_str(), taken.attempts), (run.id.as_str(), 2));
    assert_eq!(taken.progress.get("commits:acme/api").map(String::as_str), Some("abc 100"));
    assert_eq!(taken.counts["commits"], TableCounts { new: 100, changed: 2, removed: 1 });
    assert_eq!((taken.requests, taken.rate_limit_waits), (3, 1));

    // A, back from the dead, can write nothing more.
    let mut tx = db.begin().await.unwrap();
    assert!(!runs::record_page(&mut tx, &lease_a, &progress, until).await.unwrap());
    drop(tx);
    assert!(!metrics.finish_run(&lease_a, Ok(())).await.unwrap());
    assert!(!metrics.renew_run(&lease_a, until).await.unwrap());

    // B finishes; then the manual run is the source's to claim.
    let more =
        PageProgress { step: "commits:acme/api", cursor: None, counts: &counts, requests: 2, rate_limit_waits: 0 };
    let mut tx = db.begin().await.unwrap();
    assert!(runs::record_page(&mut tx, &lease_b, &more, until).await.unwrap());
    tx.commit().await.unwrap();
    assert!(metrics.finish_run(&lease_b, Ok(())).await.unwrap());
    let done = metrics.run(&RunId::parse(&run.id, "id").unwrap()).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(done.finished_at.is_some() && done.error.is_none());
    assert_eq!(done.counts["commits"], TableCounts { new: 200, changed: 4, removed: 2 });
    assert_eq!(done.progress.get("commits:acme/api").map(String::as_str), Some("abc 100"));
    assert_eq!(done.requests, 5);

    let (next, lease) = metrics.claim_runs("worker-b", 60_000, 10).await.unwrap().into_iter().next().unwrap();
    assert_eq!((next.id.as_str(), next.since), (manual.id.as_str(), Some(1_780_000_000_000)));
    assert!(metrics.finish_run(&lease, Err("GitHub answered 401")).await.unwrap());
    let failed = metrics.run(&RunId::parse(&manual.id, "id").unwrap()).await.unwrap();
    assert_eq!((failed.status, failed.error.as_deref()), (RunStatus::Failed, Some("GitHub answered 401")));
    assert!(metrics.claim_runs("worker-b", 60_000, 10).await.unwrap().is_empty());
    assert_eq!(metrics.next_run_due().await.unwrap(), None);

    // The history, newest first, by source.
    let page = metrics.runs(Some(&source), 1, None).await.unwrap();
    assert_eq!(page.items[0].id, manual.id);
    let cursor = RunId::parse(page.next_cursor.as_deref().unwrap(), "cursor").unwrap();
    let rest = metrics.runs(Some(&source), 10, Some(&cursor)).await.unwrap();
    assert_eq!((rest.items.len(), rest.items[0].id.as_str(), rest.next_cursor), (1, run.id.as_str(), None));
}
backend_test!(a_fire_makes_one_run_and_a_dead_workers_run_is_taken_over);
