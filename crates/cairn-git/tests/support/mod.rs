//! Repositories built with gix for the tests, and what the `git` program says of them: its
//! `log --numstat -M` to cross-check line counts, and its `http-backend` as the smart-HTTP
//! server a mirror fetches from. Cairn itself never runs `git`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_git::{Commit, LineStats, Lines, Repository, WalkOptions};
use gix::ObjectId;
use gix::objs::tree::EntryKind;

pub const DAY: i64 = 24 * 3600;
/// 2026-01-01T00:00:00Z.
pub const T0: i64 = 1_767_225_600;

/// One change to a commit's tree.
pub enum Edit<'a> {
    Write(&'a str, &'a [u8]),
    Executable(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
    Submodule(&'a str, ObjectId),
    Remove(&'a str),
}

/// Who wrote a commit and when (seconds since the epoch; offsets in seconds).
#[derive(Clone, Copy)]
pub struct When {
    pub author: (&'static str, &'static str),
    pub authored: i64,
    pub author_offset: i32,
    pub committed: i64,
}

impl When {
    /// Authored and committed at `t` by Alice, at UTC+2.
    pub fn at(t: i64) -> Self {
        Self { author: ("Alice Novak", "alice@acme.com"), authored: t, author_offset: 7200, committed: t }
    }

    pub fn authored(self, t: i64) -> Self {
        Self { authored: t, ..self }
    }

    pub fn by(self, name: &'static str, email: &'static str) -> Self {
        Self { author: (name, email), ..self }
    }
}

/// A repository in a temporary folder, built object by object.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub repo: gix::Repository,
}

impl Fixture {
    /// A bare repository whose `HEAD` names `main`.
    pub fn bare() -> Self {
        Self::init("origin.git", |path| gix::init_bare(path).unwrap())
    }

    /// A repository with a work tree (`path` is the work tree), whose `HEAD` names `main`.
    pub fn with_worktree() -> Self {
        Self::init("work", |path| gix::init(path).unwrap())
    }

    fn init(name: &str, create: impl FnOnce(&Path) -> gix::Repository) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let repo = create(&path);
        let fixture = Self { _dir: dir, path, repo };
        fixture.set_head("main");
        fixture
    }

    pub fn open(&self) -> Repository {
        Repository::open(&self.path).unwrap()
    }

    /// Writes a commit whose tree is its first parent's with `edits` applied; no branch moves.
    pub fn commit(&self, parents: &[ObjectId], when: When, edits: &[Edit<'_>]) -> ObjectId {
        let repo = &self.repo;
        let base = match parents.first() {
            Some(p) => repo.find_commit(*p).unwrap().tree_id().unwrap().detach(),
            None => ObjectId::empty_tree(repo.object_hash()),
        };
        let mut editor = repo.edit_tree(base).unwrap();
        for edit in edits {
            match edit {
                Edit::Write(path, data) => {
                    let blob = repo.write_blob(data).unwrap().detach();
                    editor.upsert(*path, EntryKind::Blob, blob).unwrap();
                }
                Edit::Executable(path, data) => {
                    let blob = repo.write_blob(data).unwrap().detach();
                    editor.upsert(*path, EntryKind::BlobExecutable, blob).unwrap();
                }
                Edit::Link(path, target) => {
                    let blob = repo.write_blob(target.as_bytes()).unwrap().detach();
                    editor.upsert(*path, EntryKind::Link, blob).unwrap();
                }
                Edit::Submodule(path, id) => {
                    editor.upsert(*path, EntryKind::Commit, *id).unwrap();
                }
                Edit::Remove(path) => {
                    editor.remove(*path).unwrap();
                }
            }
        }
        let tree = editor.write().unwrap().detach();
        let signature = |name: &str, email: &str, seconds: i64, offset: i32| gix::actor::Signature {
            name: name.into(),
            email: email.into(),
            time: gix::date::Time { seconds, offset },
        };
        let commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author: signature(when.author.0, when.author.1, when.authored, when.author_offset),
            committer: signature("Cairn Fixture", "fixture@cairn.test", when.committed, 0),
            encoding: None,
            message: "change\n".into(),
            extra_headers: Vec::new(),
        };
        repo.write_object(&commit).unwrap().detach()
    }

    /// Points `refs/heads/<branch>` at `id`, whatever it pointed at (a force-push).
    pub fn set_branch(&self, branch: &str, id: ObjectId) {
        self.repo
            .reference(
                format!("refs/heads/{branch}").as_str(),
                id,
                gix::refs::transaction::PreviousValue::Any,
                "fixture",
            )
            .unwrap();
    }

    pub fn set_head(&self, branch: &str) {
        use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};
        self.repo
            .edit_reference(RefEdit {
                change: Change::Update {
                    log: LogChange::default(),
                    expected: PreviousValue::Any,
                    new: gix::refs::Target::Symbolic(format!("refs/heads/{branch}").try_into().unwrap()),
                },
                name: "HEAD".try_into().unwrap(),
                deref: false,
            })
            .unwrap();
    }
}

/// Every commit of a walk of `branch` (the default for `None`), pages joined.
pub fn walk_all(repo: &Repository, branch: Option<&str>, options: WalkOptions) -> Vec<Commit> {
    let branch = repo.branch(branch).unwrap();
    repo.walk(&branch, options).unwrap().flat_map(|page| page.unwrap()).collect()
}

pub fn counted(additions: u64, deletions: u64, changed_files: u64) -> Lines {
    Lines::Counted(LineStats { additions, deletions, changed_files })
}

/// A `git` command that reads no configuration but the repository's.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .env_remove("GIT_DIR");
    cmd
}

/// What `git log --numstat -M <branch>` says of each non-merge commit: additions,
/// deletions, changed files (binary files count as changed files with no lines).
pub fn git_numstat(dir: &Path, branch: &str) -> HashMap<String, LineStats> {
    let out = git(dir)
        .args(["log", "--numstat", "-M", "--format=commit %H %P", branch])
        .output()
        .expect("the tests cross-check line counts with git, which must be installed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut stats = HashMap::new();
    let mut current: Option<(String, bool)> = None;
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(rest) = line.strip_prefix("commit ") {
            let mut ids = rest.split(' ');
            let sha = ids.next().unwrap().to_owned();
            let merge = ids.count() > 1;
            if !merge {
                stats.insert(sha.clone(), LineStats::default());
            }
            current = Some((sha, merge));
        } else if let Some((sha, false)) = &current
            && !line.is_empty()
        {
            let mut fields = line.split('\t');
            let entry = stats.get_mut(sha).unwrap();
            entry.additions += fields.next().unwrap().parse::<u64>().unwrap_or(0);
            entry.deletions += fields.next().unwrap().parse::<u64>().unwrap_or(0);
            entry.changed_files += 1;
        }
    }
    stats
}

/// Asserts that every counted commit of `commits` has the lines git counts, and that git
/// lists no other non-merge commit.
pub fn assert_numstat_matches_git(dir: &Path, branch: &str, commits: &[Commit]) {
    let git = git_numstat(dir, branch);
    let mut ours = HashMap::new();
    for commit in commits {
        match commit.lines {
            Lines::Counted(stats) => {
                ours.insert(commit.sha.to_string(), stats);
            }
            Lines::Merge => assert!(commit.parent_count() > 1),
            Lines::Known => panic!("a cross-checked walk knows no commit"),
        }
    }
    assert_eq!(ours, git, "line counts differ from git log --numstat -M");
}

/// A smart-HTTP git server on loopback: `git http-backend` over the repositories in `root`,
/// one connection per request. It counts the requests it answers. Under `/private/` it asks
/// for credentials; under `/web/` it serves a web page.
pub struct GitServer {
    pub port: u16,
    pub requests: Arc<AtomicUsize>,
}

impl GitServer {
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let root = root.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                counter.fetch_add(1, Ordering::SeqCst);
                let root = root.clone();
                std::thread::spawn(move || serve(stream, &root));
            }
        });
        Self { port, requests }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn serve(stream: std::net::TcpStream, root: &Path) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut stream = stream;
    // Servers that are not (or not openly) git servers.
    if path.starts_with("/private/") {
        let _ = stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    if path.starts_with("/web/") {
        let page = b"<html><body>a web page</body></html>";
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            page.len()
        );
        let _ = stream.write_all(page);
        return;
    }
    let mut backend = Command::new("git");
    backend
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_LENGTH", length.to_string())
        .env("CONTENT_TYPE", headers.get("content-type").map(String::as_str).unwrap_or(""))
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(protocol) = headers.get("git-protocol") {
        backend.env("GIT_PROTOCOL", protocol).env("HTTP_GIT_PROTOCOL", protocol);
    }
    let mut child = backend.spawn().expect("the mirror tests serve repositories with git http-backend");
    child.stdin.take().unwrap().write_all(&body).unwrap();
    let out = child.wait_with_output().unwrap();
    // CGI: header lines, a blank line, the body.
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.stdout.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, payload) = match split {
        Some((i, n)) => (String::from_utf8_lossy(&out.stdout[..i]).into_owned(), &out.stdout[i + n..]),
        None => (String::new(), &out.stdout[..]),
    };
    let mut status = "200 OK".to_owned();
    let mut response_headers = String::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => status = value.trim().to_owned(),
            Some(_) => {
                response_headers.push_str(line.trim_end());
                response_headers.push_str("\r\n");
            }
            None => {}
        }
    }
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{response_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    let _ = stream.write_all(payload);
}
