//! The upsert rate of a collector's page of commits against a raw bulk insert of the same
//! rows, on SQLite and PostgreSQL.
//!
//!   cargo bench -p cairn --bench metrics
//!
//! Uses `CAIRN_TEST_POSTGRES_URL` when set, else starts a throwaway PostgreSQL. Per backend
//! and page size, in one run: the raw rate (each page one multi-row `INSERT` of the rows, in
//! its own transaction, under another source of the same table), and the rate of
//! `Page::commits` on the same rows — first new (read the stored rows, write them, move the
//! rollups), then the same pages again (nothing changes), then every row changed. The
//! ratio is the upsert's rate over the raw one's.

use std::time::{Duration, Instant};

use cairn_audit::{Actor, RequestMeta};
use cairn_metrics::collected::Commit;
use cairn_metrics::sources::{NewSource, SourceKind};
use cairn_metrics::{Metrics, Page, SourceId};
use cairn_store::{Backend, Db, sqlx};

/// Rows written per measurement, whatever the page size.
const ROWS: usize = 20_000;

fn source(name: &str) -> NewSource {
    NewSource {
        kind: SourceKind::Github,
        name: name.into(),
        base_url: Some("https://api.github.com".into()),
        graphql_url: None,
        url: None,
        branch: None,
        organization: Some("acme".into()),
        repositories: Vec::new(),
        boards: Vec::new(),
        email: None,
        story_points_field: None,
        token: None,
    }
}

/// `ROWS` commits as a collector reads them: 200 developers, each working in one of 30
/// repositories and committing 4 times a working day; each repository's history in author
/// order, cut into pages of `size` (a page holds one repository's commits, as a page of
/// GitHub's history does).
fn pages(size: usize, salt: &str) -> Vec<Vec<Commit>> {
    const DEVELOPERS: usize = 200;
    const REPOSITORIES: usize = 30;
    const PER_DAY: usize = 4;
    let start = 1_767_225_600_000i64;
    let mut repos: Vec<Vec<Commit>> = vec![Vec::new(); REPOSITORIES];
    for i in 0..ROWS {
        let day = i / (DEVELOPERS * PER_DAY);
        let dev = (i / PER_DAY) % DEVELOPERS;
        let nth = i % PER_DAY;
        repos[dev % REPOSITORIES].push(Commit {
            repository_id: format!("R_{}", dev % REPOSITORIES),
            sha: format!("{salt}{i:036x}"),
            author_login: (!dev.is_multiple_of(17)).then(|| format!("dev{dev}")),
            author_email: Some(format!("dev{dev}@acme.example")),
            authored_at: start + day as i64 * 86_400_000 + 28_800_000 + (nth as i64) * 7_200_000 + dev as i64 * 1000,
            additions: (i % 400) as i64,
            deletions: (i % 90) as i64,
            changed_files: (i % 12) as i64 + 1,
            parent_count: if i.is_multiple_of(23) { 2 } else { 1 },
            on_default_branch: !i.is_multiple_of(11),
        });
    }
    let mut pages = Vec::new();
    for mut history in repos {
        history.sort_by_key(|c| c.authored_at);
        pages.extend(history.chunks(size).map(<[Commit]>::to_vec));
    }
    pages
}

async fn raw_insert(db: &Db, source: &str, page: &[Commit]) {
    let mut sql = String::from(
        "INSERT INTO metrics_commits (source_id, repository_id, sha, author_login, author_email, authored_at, \
         additions, deletions, changed_files, parent_count, on_default_branch) VALUES ",
    );
    for i in 0..page.len() {
        let b = i * 10 + 1;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8,
            b + 9,
            b + 10
        ));
    }
    let mut q = sqlx::query(&sql).bind(source);
    for c in page {
        q = q
            .bind(&c.repository_id)
            .bind(&c.sha)
            .bind(c.author_login.as_deref())
            .bind(c.author_email.as_deref())
            .bind(c.authored_at)
            .bind(c.additions)
            .bind(c.deletions)
            .bind(c.changed_files)
            .bind(c.parent_count)
            .bind(i64::from(c.on_default_branch));
    }
    let mut tx = db.begin().await.unwrap();
    q.execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn upsert(db: &Db, source: &SourceId, page: &[Commit]) {
    let mut tx = db.begin().await.unwrap();
    let mut p = Page::open(db, &mut tx, source).await.unwrap();
    p.commits(page).await.unwrap();
    drop(p);
    tx.commit().await.unwrap();
}

fn rate(d: Duration) -> f64 {
    ROWS as f64 / d.as_secs_f64()
}

async fn run(backend: Backend, postgres_server: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = (backend == Backend::Postgres).then_some(postgres_server);
    let config = cairn_testkit::fresh_config_on(dir.path(), server);
    let store = cairn::startup::open_store(&config).await.unwrap();
    let slug = cairn_domain::TenantSlug::parse("bench").unwrap();
    let tenant = store.create_tenant(&slug, "bench", None).await.unwrap();
    let db = store.tenant_db(tenant.id).await.unwrap();
    let metrics = Metrics { db: &db };
    let key = store.master_key();
    let actor = Actor { id: "bench".into(), email: None };
    let meta = RequestMeta::default();
    for size in [100, 1000] {
        let add = |name: String| metrics.add_source(key, source(&name), &actor, &meta);
        let upserted = add(format!("upserted {size}")).await.unwrap();
        let upserted = SourceId::parse(&upserted.id, "id").unwrap();
        let raw = add(format!("raw {size}")).await.unwrap().id;
        let mut pages = pages(size, &format!("{size}-"));

        let t0 = Instant::now();
        for p in &pages {
            raw_insert(&db, &raw, p).await;
        }
        let raw_time = t0.elapsed();
        let t0 = Instant::now();
        for p in &pages {
            upsert(&db, &upserted, p).await;
        }
        let new_time = t0.elapsed();
        let t0 = Instant::now();
        for p in &pages {
            upsert(&db, &upserted, p).await;
        }
        let same_time = t0.elapsed();
        for c in pages.iter_mut().flatten() {
            c.additions += 1;
        }
        let t0 = Instant::now();
        for p in &pages {
            upsert(&db, &upserted, p).await;
        }
        let changed_time = t0.elapsed();
        println!(
            "{:<9} pages of {size:>4}: raw insert {:>7.0} rows/s; upsert new {:>7.0} rows/s ({:.2}×), \
             unchanged {:>7.0} rows/s ({:.2}×), changed {:>7.0} rows/s ({:.2}×)",
            backend.as_str(),
            rate(raw_time),
            rate(new_time),
            raw_time.as_secs_f64() / new_time.as_secs_f64(),
            rate(same_time),
            raw_time.as_secs_f64() / same_time.as_secs_f64(),
            rate(changed_time),
            raw_time.as_secs_f64() / changed_time.as_secs_f64(),
        );
    }
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (url, _server) = cairn_testkit::postgres::shared_or_started();
    run(Backend::Sqlite, &url).await;
    run(Backend::Postgres, &url).await;
}
