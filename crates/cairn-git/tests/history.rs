//! Walking real repositories built with gix; line counts cross-checked with `git log
//! --numstat -M`.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use cairn_git::{GitError, GitTime, Lines, Repository, Sha, WalkOptions};
use support::{DAY, Edit, Fixture, T0, When, assert_numstat_matches_git, counted, walk_all};

fn sha(id: gix::ObjectId) -> Sha {
    id.to_string().parse().unwrap()
}

fn shas(commits: &[cairn_git::Commit]) -> Vec<Sha> {
    commits.iter().map(|c| c.sha).collect()
}

#[test]
fn a_linear_history_is_read_newest_first_with_authors_times_and_lines() {
    let f = Fixture::bare();
    let c1 =
        f.commit(&[], When::at(T0), &[Edit::Write("a.txt", b"one\ntwo\nthree\n"), Edit::Write("b.txt", b"x\ny\n")]);
    let c2 = f.commit(&[c1], When::at(T0 + DAY), &[Edit::Write("a.txt", b"one\nTWO\nthree\nfour\n")]);
    let c3 = f.commit(&[c2], When::at(T0 + 2 * DAY).by("Bob Stone", "bob@acme.com"), &[Edit::Remove("b.txt")]);
    f.set_branch("main", c3);

    let repo = f.open();
    let branch = repo.branch(None).unwrap();
    assert_eq!((branch.name.as_str(), branch.head, branch.is_default), ("main", sha(c3), true));
    let pages: Vec<_> =
        repo.walk(&branch, WalkOptions { page_size: 2, ..Default::default() }).unwrap().map(Result::unwrap).collect();
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    let commits: Vec<_> = pages.into_iter().flatten().collect();
    assert_eq!(shas(&commits), [sha(c3), sha(c2), sha(c1)]);

    let newest = &commits[0];
    assert_eq!((newest.author_name.as_str(), newest.author_email.as_str()), ("Bob Stone", "bob@acme.com"));
    assert_eq!(newest.authored, GitTime { epoch_ms: (T0 + 2 * DAY) * 1000, offset_seconds: 7200 });
    assert_eq!(newest.committed, GitTime { epoch_ms: (T0 + 2 * DAY) * 1000, offset_seconds: 0 });
    assert_eq!(newest.parents, [sha(c2)]);
    assert_eq!(commits[2].parent_count(), 0);
    assert_eq!(commits[0].author_name, "Bob Stone");
    assert_eq!(commits[1].author_name, "Alice Novak");

    assert_eq!(
        commits.iter().map(|c| c.lines).collect::<Vec<_>>(),
        [counted(0, 2, 1), counted(2, 1, 1), counted(5, 0, 2)]
    );
    assert_numstat_matches_git(&f.path, "main", &commits);
}

#[test]
fn a_merge_is_yielded_with_its_parents_and_both_lines_of_history() {
    let f = Fixture::bare();
    let a = f.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n2\n3\n")]);
    let b = f.commit(&[a], When::at(T0 + DAY), &[Edit::Write("f.txt", b"1\n2\n3\n4\n")]);
    let c = f.commit(&[a], When::at(T0 + 2 * DAY), &[Edit::Write("g.txt", b"g\n")]);
    let m = f.commit(&[b, c], When::at(T0 + 3 * DAY), &[Edit::Write("g.txt", b"g\n")]);
    f.set_branch("main", m);

    let commits = walk_all(&f.open(), None, WalkOptions::default());
    assert_eq!(shas(&commits), [sha(m), sha(c), sha(b), sha(a)]);
    assert_eq!(commits[0].parents, [sha(b), sha(c)]);
    assert_eq!(commits[0].parent_count(), 2);
    assert_eq!(
        commits.iter().map(|c| c.lines).collect::<Vec<_>>(),
        [Lines::Merge, counted(1, 0, 1), counted(1, 0, 1), counted(3, 0, 1)]
    );
    assert_numstat_matches_git(&f.path, "main", &commits);
}

#[test]
fn renames_binaries_modes_links_and_submodules_count_as_git_counts_them() {
    let f = Fixture::bare();
    let lib: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    let core = lib.replace("line 5\n", "line five\n");
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01";
    let png2: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02";
    let base = f.commit(
        &[],
        When::at(T0),
        &[
            Edit::Write("src/lib.rs", lib.as_bytes()),
            Edit::Write("docs/readme.md", b"hello\nworld\n"),
            Edit::Write("logo.png", png),
        ],
    );
    let renamed_with_edit = f.commit(
        &[base],
        When::at(T0 + DAY),
        &[Edit::Remove("src/lib.rs"), Edit::Write("src/core.rs", core.as_bytes())],
    );
    let pure_rename = f.commit(
        &[renamed_with_edit],
        When::at(T0 + 2 * DAY),
        &[Edit::Remove("docs/readme.md"), Edit::Write("docs/README.md", b"hello\nworld\n")],
    );
    let binary = f.commit(
        &[pure_rename],
        When::at(T0 + 3 * DAY),
        &[Edit::Write("logo.png", png2), Edit::Write("notes.txt", b"a\nb\n")],
    );
    let mode_and_link = f.commit(
        &[binary],
        When::at(T0 + 4 * DAY),
        &[Edit::Executable("src/core.rs", core.as_bytes()), Edit::Link("current", "src/core.rs")],
    );
    let submodule = f.commit(
        &[mode_and_link],
        When::at(T0 + 5 * DAY),
        &[Edit::Submodule("vendor/lib", base), Edit::Write("tail.txt", b"a\nb")],
    );
    let newline = f.commit(
        &[submodule],
        When::at(T0 + 6 * DAY),
        &[Edit::Submodule("vendor/lib", binary), Edit::Write("tail.txt", b"a\nb\n")],
    );
    f.set_branch("main", newline);

    let commits = walk_all(&f.open(), None, WalkOptions::default());
    let lines: Vec<_> = commits.iter().map(|c| c.lines).collect();
    assert_eq!(
        lines,
        [
            counted(2, 2, 2), // the submodule moves (1/1), the last line gains its newline (1/1)
            counted(3, 0, 2), // a submodule (one line) and a two-line file
            counted(1, 0, 2), // a mode change (no line) and a symbolic link (one line)
            counted(2, 0, 2), // a binary file (no line) and a two-line file
            counted(0, 0, 1), // a pure rename
            counted(1, 1, 1), // a rename with one line changed
            counted(12, 0, 3),
        ]
    );
    assert_numstat_matches_git(&f.path, "main", &commits);
}

#[test]
fn a_named_branch_is_read_and_a_missing_one_is_an_error_naming_branch() {
    let f = Fixture::bare();
    let a = f.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n")]);
    let b = f.commit(&[a], When::at(T0 + DAY), &[Edit::Write("f.txt", b"2\n")]);
    let r = f.commit(&[a], When::at(T0 + 2 * DAY), &[Edit::Write("r.txt", b"r\nr\n")]);
    f.set_branch("main", b);
    f.set_branch("release/1.0", r);
    let repo = f.open();

    let release = repo.branch(Some("release/1.0")).unwrap();
    assert_eq!((release.name.as_str(), release.head, release.is_default), ("release/1.0", sha(r), false));
    let commits: Vec<_> = repo.walk(&release, WalkOptions::default()).unwrap().flat_map(Result::unwrap).collect();
    assert_eq!(shas(&commits), [sha(r), sha(a)]);
    assert_eq!(commits[0].lines, counted(2, 0, 1));
    assert_numstat_matches_git(&f.path, "release/1.0", &commits);

    let main = repo.branch(Some("main")).unwrap();
    assert!(main.is_default);
    assert_eq!(shas(&walk_all(&repo, None, WalkOptions::default())), [sha(b), sha(a)]);

    for name in ["nope", "bad..name", "", "refs/heads/main", "-x~"] {
        match repo.branch(Some(name)) {
            Err(GitError::Invalid { field: "branch", message }) => {
                assert!(message.contains(&format!("{name:?}")), "{name}: {message}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn a_work_tree_opens_and_its_remote_branches_are_found() {
    let f = Fixture::with_worktree();
    let a = f.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n")]);
    let b = f.commit(&[a], When::at(T0 + DAY), &[Edit::Write("f.txt", b"1\n2\n")]);
    f.set_branch("main", a);
    f.repo.reference("refs/remotes/origin/feature", b, gix::refs::transaction::PreviousValue::Any, "fixture").unwrap();
    let repo = Repository::open(&f.path).unwrap();
    let feature = repo.branch(Some("feature")).unwrap();
    assert_eq!((feature.name.as_str(), feature.head, feature.is_default), ("feature", sha(b), false));
    assert_eq!(repo.branch(None).unwrap().head, sha(a));
}

#[test]
fn since_bounds_author_dates_while_the_walk_goes_by_commit_time() {
    let f = Fixture::bare();
    // Commit time, author time (days): a rebased commit keeps an old author date (c); one
    // committed on a machine whose clock was behind is authored after it was committed (e).
    let a = f.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"a\n")]);
    let b = f.commit(&[a], When::at(T0 + 10 * DAY), &[Edit::Write("f.txt", b"b\n")]);
    let e = f.commit(&[b], When::at(T0 + 13 * DAY).authored(T0 + 16 * DAY), &[Edit::Write("e.txt", b"e\n")]);
    let c = f.commit(&[e], When::at(T0 + 20 * DAY).authored(T0 + 2 * DAY), &[Edit::Write("c.txt", b"c\n")]);
    let d = f.commit(&[c], When::at(T0 + 21 * DAY).authored(T0 + 23 * DAY), &[Edit::Write("d.txt", b"d\nd\n")]);
    f.set_branch("main", d);
    let repo = f.open();
    let since = |days: i64| Some((T0 + days * DAY) * 1000);

    let all = walk_all(&repo, None, WalkOptions { since: since(0), ..Default::default() });
    assert_eq!(shas(&all), [sha(d), sha(c), sha(e), sha(b), sha(a)]);

    let window = walk_all(&repo, None, WalkOptions { since: since(15), ..Default::default() });
    assert_eq!(shas(&window), [sha(d), sha(e)]);
    assert_eq!(window.iter().map(|c| c.lines).collect::<Vec<_>>(), [counted(2, 0, 1), counted(1, 0, 1)]);

    // Without a margin the walk stops at commits committed before `since`: e is missed.
    let no_margin = walk_all(
        &repo,
        None,
        WalkOptions { since: since(15), commit_time_margin: Duration::ZERO, ..Default::default() },
    );
    assert_eq!(shas(&no_margin), [sha(d)]);
    // A margin that reaches e's commit time finds it again.
    let short_margin = walk_all(
        &repo,
        None,
        WalkOptions { since: since(15), commit_time_margin: Duration::from_secs(2 * DAY as u64), ..Default::default() },
    );
    assert_eq!(shas(&short_margin), [sha(d), sha(e)]);
}

#[test]
fn a_later_walk_skips_known_commits_and_stops_at_a_finished_head() {
    let f = Fixture::bare();
    let mut chain = Vec::new();
    for i in 0..5 {
        let parents: Vec<_> = chain.last().copied().into_iter().collect();
        let text = format!("{i}\n");
        chain.push(f.commit(&parents, When::at(T0 + i * DAY), &[Edit::Write("f.txt", text.as_bytes())]));
    }
    f.set_branch("main", chain[4]);
    let repo = f.open();

    // A run that stored its first page of two, then stopped: the next one diffs only the rest.
    let first_page: Vec<_> = repo
        .walk(&repo.branch(None).unwrap(), WalkOptions { page_size: 2, ..Default::default() })
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let known: HashSet<Sha> = first_page.iter().map(|c| c.sha).collect();
    assert_eq!(known, HashSet::from([sha(chain[4]), sha(chain[3])]));
    let resumed = walk_all(&repo, None, WalkOptions { known, ..Default::default() });
    assert_eq!(
        resumed.iter().map(|c| c.lines).collect::<Vec<_>>(),
        [Lines::Known, Lines::Known, counted(1, 1, 1), counted(1, 1, 1), counted(1, 0, 1)]
    );

    // Two new commits; the last finished walk ended at chain[4].
    let c5 = f.commit(&[chain[4]], When::at(T0 + 5 * DAY), &[Edit::Write("g.txt", b"g\n")]);
    let c6 = f.commit(&[c5], When::at(T0 + 6 * DAY), &[Edit::Write("g.txt", b"h\n")]);
    f.set_branch("main", c6);
    let gone: Sha = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
    let new = walk_all(&repo, None, WalkOptions { stop_at: vec![sha(chain[4]), gone], ..Default::default() });
    assert_eq!(shas(&new), [sha(c6), sha(c5)]);
    assert_eq!(new.iter().map(|c| c.lines).collect::<Vec<_>>(), [counted(1, 1, 1), counted(1, 0, 1)]);

    let known: HashSet<Sha> = chain.iter().map(|id| sha(*id)).collect();
    let again = walk_all(&repo, None, WalkOptions { known, ..Default::default() });
    assert_eq!(again.len(), 7);
    assert_eq!(again.iter().filter(|c| c.lines == Lines::Known).count(), 5);
}

#[test]
fn what_is_not_a_readable_branch_is_a_clear_error() {
    let folder = tempfile::tempdir().unwrap();
    match Repository::open(folder.path()) {
        Err(GitError::Invalid { field: "url", message }) => {
            assert!(message.contains("not a git repository"), "{message}")
        }
        other => panic!("{other:?}"),
    }

    let empty = Fixture::bare();
    match empty.open().branch(None) {
        Err(GitError::Invalid { field: "branch", message }) => assert!(message.contains("no commits"), "{message}"),
        other => panic!("{other:?}"),
    }

    let detached = Fixture::bare();
    let a = detached.commit(&[], When::at(T0), &[Edit::Write("f.txt", b"1\n")]);
    detached.set_branch("main", a);
    detached.repo.reference("HEAD", a, gix::refs::transaction::PreviousValue::Any, "detach").unwrap();
    match detached.open().branch(None) {
        Err(GitError::Invalid { field: "branch", message }) => assert!(message.contains("detached"), "{message}"),
        other => panic!("{other:?}"),
    }
}
