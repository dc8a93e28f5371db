//! A commit's line changes against its first parent, counted as `git log --numstat -M`
//! counts them.
//!
//! - Files are compared with renames detected as git detects them by default (50 %
//!   similarity, exact renames first, at most 1,000 candidates, no copies): a rename is one
//!   changed file whose lines are those of the old content against the new one, so a pure
//!   rename is 0 added, 0 deleted.
//! - Lines are compared with their terminators (a last line that gains a newline is one line
//!   deleted and one added), with Myers' algorithm, git's default.
//! - A binary file (a NUL byte in its first 8,000 bytes, `binary`/`-diff` attributes, or
//!   larger than `core.bigFileThreshold`) is a changed file with no lines.
//! - A submodule is one line, `Subproject commit <id>`, as git prints it.
//! - A change of mode only (a file made executable) is a changed file with no lines.

use gix::bstr::BString;
use gix::diff::blob::platform::prepare_diff::Operation;
use gix::diff::blob::{Algorithm, Diff, InternedInput, sources::byte_lines};
use gix::diff::tree_with_rewrites::{Action, Change, ChangeRef, Options};
use gix::objs::tree::EntryMode;
use gix::prelude::FindExt;

use crate::GitError;
use crate::walk::LineStats;

/// The reusable state of tree and blob diffs over one walk.
pub(crate) struct Differ {
    resources: gix::diff::blob::Platform,
    state: gix::diff::tree::State,
    old_tree: Vec<u8>,
    new_tree: Vec<u8>,
    changes: Vec<Change>,
}

impl Differ {
    pub(crate) fn new(repo: &gix::Repository) -> Result<Self, GitError> {
        let resources =
            repo.diff_resource_cache_for_tree_diff().map_err(|e| GitError::read("preparing to compare files", e))?;
        Ok(Self {
            resources,
            state: Default::default(),
            old_tree: Vec::new(),
            new_tree: Vec::new(),
            changes: Vec::new(),
        })
    }

    /// The changes from `old_tree` (the first parent's; `None` for a root commit: the empty
    /// tree) to `new_tree`.
    pub(crate) fn stats(
        &mut self,
        repo: &gix::Repository,
        old_tree: Option<gix::ObjectId>,
        new_tree: gix::ObjectId,
    ) -> Result<LineStats, GitError> {
        let objects = &repo.objects;
        let old = match old_tree {
            Some(id) => objects
                .find_tree_iter(&id, &mut self.old_tree)
                .map_err(|e| GitError::read("reading a parent's tree", e))?,
            // The empty tree, which no object database needs to hold.
            None => gix::objs::TreeRefIter::from_bytes(&[], repo.object_hash()),
        };
        let new =
            objects.find_tree_iter(&new_tree, &mut self.new_tree).map_err(|e| GitError::read("reading a tree", e))?;
        self.changes.clear();
        let changes = &mut self.changes;
        gix::diff::tree_with_rewrites(
            old,
            new,
            &mut self.resources,
            &mut self.state,
            objects,
            |change: ChangeRef<'_>| -> gix::Result<Action> {
                if !change.entry_mode().is_tree() {
                    changes.push(change.into_owned());
                }
                Ok(std::ops::ControlFlow::Continue(()))
            },
            Options { location: Some(gix::diff::tree::recorder::Location::Path), rewrites: Some(Default::default()) },
        )
        .map_err(|e| GitError::read("comparing trees", e))?;

        let mut stats = LineStats { changed_files: self.changes.len() as u64, ..LineStats::default() };
        let changes = std::mem::take(&mut self.changes);
        let counted = changes.iter().try_for_each(|change| {
            let (added, deleted) = self.lines(repo, change)?;
            stats.additions += added;
            stats.deletions += deleted;
            Ok(())
        });
        self.changes = changes;
        self.resources.clear_resource_cache_keep_allocation();
        counted?;
        Ok(stats)
    }

    /// Lines added and deleted by one file's change.
    fn lines(&mut self, repo: &gix::Repository, change: &Change) -> Result<(u64, u64), GitError> {
        let (old, new) = sides(change);
        if let (Some((_, before)), Some((_, after))) = (old, new)
            && before == after
        {
            // A pure rename, or a change of mode only.
            return Ok((0, 0));
        }
        if old.is_some_and(|(mode, _)| mode.is_commit()) || new.is_some_and(|(mode, _)| mode.is_commit()) {
            return Ok(submodule_lines(repo, old, new));
        }
        self.resources
            .set_resource_by_change(change.to_ref(), &repo.objects)
            .map_err(|e| GitError::read(&format!("reading {}", change.location()), e))?;
        let prepared = self.resources.prepare_diff().map_err(|e| GitError::read("comparing files", e))?;
        Ok(match prepared.operation {
            Operation::InternalDiff { change, .. } | Operation::ExternalCommand { change, .. } => {
                let (before, after) = change.patch_data();
                count_lines(before, after)
            }
            Operation::SourceOrDestinationIsBinary | Operation::NeitherExists => (0, 0),
        })
    }
}

/// The mode and id of each side of a change (`None` for the absent side).
#[allow(clippy::type_complexity)]
fn sides(change: &Change) -> (Option<(EntryMode, gix::ObjectId)>, Option<(EntryMode, gix::ObjectId)>) {
    match change {
        Change::Addition { entry_mode, id, .. } => (None, Some((*entry_mode, *id))),
        Change::Deletion { entry_mode, id, .. } => (Some((*entry_mode, *id)), None),
        Change::Modification { previous_entry_mode, previous_id, entry_mode, id, .. } => {
            (Some((*previous_entry_mode, *previous_id)), Some((*entry_mode, *id)))
        }
        Change::Rewrite { source_entry_mode, source_id, entry_mode, id, .. } => {
            (Some((*source_entry_mode, *source_id)), Some((*entry_mode, *id)))
        }
    }
}

/// A submodule side is the one line git prints for it; a file side (a file replaced by a
/// submodule or the reverse) counts its lines.
fn submodule_lines(
    repo: &gix::Repository,
    old: Option<(EntryMode, gix::ObjectId)>,
    new: Option<(EntryMode, gix::ObjectId)>,
) -> (u64, u64) {
    let text = |side: Option<(EntryMode, gix::ObjectId)>| -> BString {
        match side {
            None => BString::default(),
            Some((mode, id)) if mode.is_commit() => format!("Subproject commit {id}\n").into(),
            Some((_, id)) => repo.find_blob(id).map(|b| b.data.clone().into()).unwrap_or_default(),
        }
    };
    count_lines(&text(old), &text(new))
}

/// Lines (with their terminators) added and deleted from `before` to `after`.
fn count_lines(before: &[u8], after: &[u8]) -> (u64, u64) {
    if before == after {
        return (0, 0);
    }
    let input = InternedInput::new(byte_lines(before), byte_lines(after));
    let diff = Diff::compute(Algorithm::Myers, &input);
    (u64::from(diff.count_additions()), u64::from(diff.count_removals()))
}

#[cfg(test)]
mod tests {
    use super::count_lines;

    #[test]
    fn lines_count_with_their_terminators() {
        assert_eq!(count_lines(b"", b"a\nb\n"), (2, 0));
        assert_eq!(count_lines(b"a\nb\n", b""), (0, 2));
        assert_eq!(count_lines(b"a\nb\nc\n", b"a\nB\nc\n"), (1, 1));
        assert_eq!(count_lines(b"a\nb", b"a\nb\n"), (1, 1));
        assert_eq!(count_lines(b"a\r\nb\n", b"a\nb\n"), (1, 1));
        assert_eq!(count_lines(b"same\n", b"same\n"), (0, 0));
        assert_eq!(count_lines(b"a\nb\nc\nd\n", b"x\na\nc\nd\ny\n"), (2, 1));
    }
}
