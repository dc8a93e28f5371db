//! Mirroring remote repositories through the guarded outbound client, from a loopback
//! smart-HTTP server.

mod support;

use std::path::Path;

use std::time::Duration;

use cairn_git::{FetchLimits, GitError, Location, Mirrors, Repository, WalkOptions};
use cairn_outbound::{Outbound, Policy};
use support::{DAY, Edit, Fixture, GitServer, T0, When, walk_all};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// What the operator allows in tests: loopback servers over plain http.
fn loopback() -> Outbound {
    Outbound::new(Policy { allow_private: true, allow_http: true })
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

fn sha(id: gix::ObjectId) -> cairn_git::Sha {
    id.to_string().parse().unwrap()
}

#[test]
fn a_remote_repository_is_mirrored_then_fetched_again_following_force_pushes() {
    let origin = Fixture::bare();
    let a = origin.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n2\n")]);
    let b = origin.commit(&[a], When::at(T0 + DAY), &[Edit::Write("f.txt", b"1\n2\n3\n")]);
    let x = origin.commit(&[a], When::at(T0 + 2 * DAY), &[Edit::Write("x.txt", b"x\n")]);
    origin.set_branch("trunk", b);
    origin.set_branch("main", x);
    origin.set_head("trunk");
    let server = GitServer::start(origin.path.parent().unwrap());
    let url = server.url("origin.git");

    let rt = runtime();
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path().join("git"), loopback(), rt.handle().clone());
    let mirror = mirrors.open(&Location::parse(&url).unwrap()).unwrap();
    assert!(server.requests() >= 2, "{}", server.requests());

    // The remote's HEAD names the default branch; every branch is mirrored.
    let trunk = mirror.branch(None).unwrap();
    assert_eq!((trunk.name.as_str(), trunk.head, trunk.is_default), ("trunk", sha(b), true));
    assert_eq!(mirror.branch(Some("main")).unwrap().head, sha(x));
    assert_eq!(walk_all(&mirror, None, WalkOptions::default()), walk_all(&origin.open(), None, WalkOptions::default()));

    // The remote moves on: a new commit on trunk, main force-pushed away from x.
    let c = origin.commit(&[b], When::at(T0 + 3 * DAY), &[Edit::Write("c.txt", b"c\nc\n")]);
    let y = origin.commit(&[a], When::at(T0 + 4 * DAY), &[Edit::Write("y.txt", b"y\n")]);
    origin.set_branch("trunk", c);
    origin.set_branch("main", y);
    let mirror = mirrors.fetch(&url).unwrap();
    let commits = walk_all(&mirror, None, WalkOptions::default());
    assert_eq!(commits.iter().map(|c| c.sha).collect::<Vec<_>>(), [sha(c), sha(b), sha(a)]);
    assert_eq!(commits[0].lines, support::counted(2, 0, 1));
    let main = walk_all(&mirror, Some("main"), WalkOptions::default());
    assert_eq!(main.iter().map(|c| c.sha).collect::<Vec<_>>(), [sha(y), sha(a)]);

    // One mirror, fetched into again.
    let path = mirrors.mirror_path(&url);
    assert_eq!(entries(&cache.path().join("git")), [path.file_name().unwrap().to_string_lossy()]);
    assert!(path.file_name().unwrap().to_string_lossy().starts_with("127.0.0.1"), "{}", path.display());
    assert_eq!(Repository::open(&path).unwrap().branch(None).unwrap().head, sha(c));
}

#[test]
fn refused_and_failing_urls_are_errors_and_leave_nothing_behind() {
    let origin = Fixture::bare();
    let a = origin.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n")]);
    origin.set_branch("main", a);
    let server = GitServer::start(origin.path.parent().unwrap());
    let rt = runtime();
    let cache = tempfile::tempdir().unwrap();

    // The operator's default policy: public https servers only. Nothing is sent.
    let strict = Mirrors::new(cache.path(), Outbound::new(Policy::default()), rt.handle().clone());
    for (url, says) in [
        (server.url("origin.git"), "https".to_owned()),
        (format!("https://127.0.0.1:{}/origin.git", server.port), "loopback".to_owned()),
        (format!("https://localhost:{}/origin.git", server.port), "loopback".to_owned()),
        ("https://user:secret@git.example.com/a.git".to_owned(), "credentials".to_owned()),
    ] {
        match strict.fetch(&url) {
            Err(GitError::Invalid { field: "url", message }) => assert!(message.contains(&says), "{url}: {message}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    assert_eq!(server.requests(), 0);

    let lenient = Mirrors::new(cache.path(), loopback(), rt.handle().clone());
    for (url, says) in [
        (server.url("missing.git"), "no repository at this URL (404)"),
        (server.url("private/origin.git"), "asks for credentials"),
        (server.url("web/origin.git"), "not a git repository"),
    ] {
        match lenient.fetch(&url) {
            Err(GitError::Invalid { field: "url", message }) => assert!(message.contains(says), "{url}: {message}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    // A server that does not answer is the remote's failure, not the caller's mistake.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    match lenient.fetch(&format!("http://127.0.0.1:{port}/origin.git")) {
        Err(GitError::Upstream(message)) => assert!(!message.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(entries(cache.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_runs_on_a_blocking_thread_of_the_callers_runtime() {
    let origin = Fixture::bare();
    let a = origin.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n")]);
    let b = origin.commit(&[a], When::at(T0 + DAY), &[Edit::Write("f.txt", b"2\n")]);
    origin.set_branch("main", b);
    let server = GitServer::start(origin.path.parent().unwrap());
    let url = server.url("origin.git");
    let cache = tempfile::tempdir().unwrap();
    let mirrors = Mirrors::new(cache.path(), loopback(), tokio::runtime::Handle::current());

    let read = tokio::task::spawn_blocking(move || -> Result<Vec<cairn_git::Sha>, GitError> {
        let repo = mirrors.fetch(&url)?;
        let branch = repo.branch(None)?;
        let mut shas = Vec::new();
        for page in repo.walk(&branch, WalkOptions::default())? {
            shas.extend(page?.into_iter().map(|c| c.sha));
        }
        Ok(shas)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(read, [sha(b), sha(a)]);
}

fn packs(git_dir: &Path) -> usize {
    entries(&git_dir.join("objects/pack")).iter().filter(|name| name.ends_with(".pack")).count()
}

#[test]
fn a_mirror_of_too_many_packs_is_fetched_afresh_and_stale_locks_are_cleared() {
    let origin = Fixture::bare();
    let mut head = origin.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"0\n")]);
    origin.set_branch("main", head);
    let server = GitServer::start(origin.path.parent().unwrap());
    let url = server.url("origin.git");
    let rt = runtime();
    let cache = tempfile::tempdir().unwrap();
    let limits = FetchLimits { max_packs: 2, timeout: Duration::from_secs(30), ..FetchLimits::default() };
    let mirrors = Mirrors::new(cache.path(), loopback(), rt.handle().clone()).with_limits(limits);
    let path = mirrors.mirror_path(&url);

    let mut counts = Vec::new();
    for day in 1..=4 {
        head = origin.commit(&[head], When::at(T0 + day * DAY), &[Edit::Write("f.txt", format!("{day}\n").as_bytes())]);
        origin.set_branch("main", head);
        let mirror = mirrors.fetch(&url).unwrap();
        assert_eq!(mirror.branch(None).unwrap().head, sha(head));
        counts.push(packs(&path));
    }
    // One pack per fetch until there are more than two; then one pack again.
    assert_eq!(counts, [1, 2, 3, 1]);
    assert_eq!(walk_all(&Repository::open(&path).unwrap(), None, WalkOptions::default()).len(), 5);
    assert_eq!(entries(cache.path()), [path.file_name().unwrap().to_string_lossy()]);

    // A fetch killed while it held a branch's lock left it behind: an old lock is removed.
    let lock = path.join("refs/heads/main.lock");
    std::fs::write(&lock, b"").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&lock).unwrap().set_modified(an_hour_ago).unwrap();
    head = origin.commit(&[head], When::at(T0 + 5 * DAY), &[Edit::Write("f.txt", b"5\n")]);
    origin.set_branch("main", head);
    assert_eq!(mirrors.fetch(&url).unwrap().branch(None).unwrap().head, sha(head));
    assert!(!lock.exists());
}
