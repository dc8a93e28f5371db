//! How fast a branch's history is read, with and without line counts.
//!
//!   cargo bench -p cairn-git --bench walk [-- --commits N] [-- --into DIR] [-- --repo PATH]
//!
//! Generates a repository of N commits (default 3,000: 300 files of 60 lines to start
//! with; each commit edits 1 to 4 files, every 40th renames one with an edit, every 90th
//! adds a binary file, every 25th merges a side commit) with gix — loose objects, as gix
//! writes them — into a temporary folder (or DIR, kept), or reads the repository at PATH
//! instead. Prints commits per second for: the whole history with line counts; the whole
//! history with every commit known (no diff); the last 90 days of author time with line
//! counts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cairn_git::{Lines, Repository, WalkOptions};
use gix::ObjectId;
use gix::objs::tree::EntryKind;

const FILES: usize = 300;
const LINES: usize = 60;
const DAY: i64 = 24 * 3600;

/// xorshift64*: deterministic, so every run generates the same repository.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn signature(seconds: i64) -> gix::actor::Signature {
    gix::actor::Signature {
        name: "Bench Author".into(),
        email: "bench@cairn.test".into(),
        time: gix::date::Time { seconds, offset: 3600 },
    }
}

fn write_commit(repo: &gix::Repository, tree: ObjectId, parents: &[ObjectId], seconds: i64) -> ObjectId {
    let commit = gix::objs::Commit {
        tree,
        parents: parents.iter().copied().collect(),
        author: signature(seconds),
        committer: signature(seconds),
        encoding: None,
        message: "change\n".into(),
        extra_headers: Vec::new(),
    };
    repo.write_object(&commit).unwrap().detach()
}

fn generate(path: &Path, commits: usize) -> ObjectId {
    let repo = gix::init_bare(path).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut paths: Vec<String> = (0..FILES).map(|i| format!("src/mod{}/file{i}.rs", i % 20)).collect();
    let mut contents: Vec<Vec<String>> =
        (0..FILES).map(|i| (0..LINES).map(|l| format!("    let value_{i}_{l} = {};\n", l * 7)).collect()).collect();
    let start = 1_700_000_000;
    let step = (3 * 365 * DAY) / commits.max(1) as i64;

    let mut editor = repo.edit_tree(ObjectId::empty_tree(repo.object_hash())).unwrap();
    for (path, lines) in paths.iter().zip(&contents) {
        let blob = repo.write_blob(lines.concat()).unwrap().detach();
        editor.upsert(path.as_str(), EntryKind::Blob, blob).unwrap();
    }
    let mut tree = editor.write().unwrap().detach();
    let mut head = write_commit(&repo, tree, &[], start);
    let mut history = vec![head];

    for n in 1..commits {
        let time = start + n as i64 * step;
        let mut editor = repo.edit_tree(tree).unwrap();
        for _ in 0..1 + rng.below(4) {
            let file = rng.below(paths.len());
            let lines = &mut contents[file];
            for _ in 0..1 + rng.below(5) {
                let at = rng.below(lines.len());
                match rng.below(3) {
                    0 => lines[at] = format!("    changed({n}, {at});\n"),
                    1 => lines.insert(at, format!("    added({n});\n")),
                    _ if lines.len() > 10 => {
                        lines.remove(at);
                    }
                    _ => {}
                }
            }
            let blob = repo.write_blob(lines.concat()).unwrap().detach();
            editor.upsert(paths[file].as_str(), EntryKind::Blob, blob).unwrap();
        }
        if n % 40 == 0 {
            let file = rng.below(paths.len());
            editor.remove(paths[file].as_str()).unwrap();
            paths[file] = format!("src/moved/file{file}_{n}.rs");
            contents[file].push(format!("    moved({n});\n"));
            let blob = repo.write_blob(contents[file].concat()).unwrap().detach();
            editor.upsert(paths[file].as_str(), EntryKind::Blob, blob).unwrap();
        }
        if n % 90 == 0 {
            let bytes: Vec<u8> = (0..4096).map(|i| (rng.next() >> (i % 8)) as u8).chain([0]).collect();
            let blob = repo.write_blob(bytes).unwrap().detach();
            editor.upsert(format!("assets/image{n}.bin").as_str(), EntryKind::Blob, blob).unwrap();
        }
        tree = editor.write().unwrap().detach();
        head = if n % 25 == 0 && history.len() > 3 {
            let base = history[history.len() - 3];
            let side =
                write_commit(&repo, repo.find_commit(base).unwrap().tree_id().unwrap().detach(), &[base], time - 60);
            write_commit(&repo, tree, &[head, side], time)
        } else {
            write_commit(&repo, tree, &[head], time)
        };
        history.push(head);
    }
    repo.reference("refs/heads/main", head, gix::refs::transaction::PreviousValue::Any, "bench").unwrap();
    head
}

fn measure(label: &str, repo: &Repository, options: WalkOptions) -> HashSet<cairn_git::Sha> {
    let branch = repo.branch(None).unwrap();
    let started = Instant::now();
    let (mut commits, mut diffed, mut lines) = (0usize, 0usize, 0u64);
    let mut seen = HashSet::new();
    for page in repo.walk(&branch, options).unwrap() {
        for commit in page.unwrap() {
            commits += 1;
            if let Lines::Counted(stats) = commit.lines {
                diffed += 1;
                lines += stats.additions + stats.deletions;
            }
            seen.insert(commit.sha);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label:<44} {commits:>7} commits ({diffed:>6} diffed, {lines:>8} lines) in {secs:>7.2} s: {:>8.0} commits/s",
        commits as f64 / secs
    );
    seen
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let commits: usize = value("--commits").map_or(3000, |n| n.parse().expect("--commits N"));
    let scratch = tempfile::tempdir().unwrap();
    let path: PathBuf = match (value("--repo"), value("--into")) {
        (Some(existing), _) => PathBuf::from(existing),
        (None, into) => {
            let path = into.map_or_else(|| scratch.path().join("bench.git"), PathBuf::from);
            let started = Instant::now();
            generate(&path, commits);
            println!("generated {commits} commits in {:.1} s at {}", started.elapsed().as_secs_f64(), path.display());
            path
        }
    };
    let repo = Repository::open(&path).unwrap();
    let all = measure("whole history, line counts", &repo, WalkOptions::default());
    measure("whole history, every commit known (no diff)", &repo, WalkOptions { known: all, ..Default::default() });
    let newest =
        repo.walk(&repo.branch(None).unwrap(), WalkOptions { page_size: 1, ..Default::default() }).unwrap().next();
    let newest_ms = newest.unwrap().unwrap()[0].authored.epoch_ms;
    measure(
        "last 90 days of author time, line counts",
        &repo,
        WalkOptions { since: Some(newest_ms - 90 * DAY * 1000), ..Default::default() },
    );
}
