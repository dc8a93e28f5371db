//! Opening a repository and resolving the branch to read.

use std::path::Path;

use gix::refs::FullName;

use crate::walk::{Walk, WalkOptions};
use crate::{GitError, Sha};

/// Decoded objects kept in memory: a walk reads each commit twice (to queue it, then to
/// read it) and a tree diff reads the parent's trees again.
const OBJECT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// An open repository. Blocking; `Send`, not `Sync`.
pub struct Repository {
    pub(crate) repo: gix::Repository,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("git_dir", &self.repo.git_dir()).finish()
    }
}

/// The branch a walk starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// The short name (`main`).
    pub name: String,
    /// The commit the branch points at.
    pub head: Sha,
    /// Whether it is the repository's default branch (the one `HEAD` names), so callers can
    /// tell commits on the default branch from commits of another branch they were asked to read.
    pub is_default: bool,
}

impl Repository {
    /// Opens the repository at `path`: a work tree (with its `.git` inside) or a git directory
    /// (a bare repository). The path itself must be the repository; no parent folder is
    /// searched. Only the repository's own configuration is read (not the user's, the
    /// system's or the environment's), so what runs Cairn cannot change what is read.
    pub fn open(path: &Path) -> Result<Self, GitError> {
        let mut repo = gix::open_opts(path, gix::open::Options::isolated()).map_err(|e| {
            GitError::invalid("url", format!("{} is not a git repository that can be opened: {e}", path.display()))
        })?;
        repo.object_cache_size_if_unset(OBJECT_CACHE_BYTES);
        Ok(Self { repo })
    }

    /// The branch named `name`, or the default branch for `None`.
    ///
    /// The default branch is the one `HEAD` names (in a mirror Cairn keeps, the remote's
    /// `HEAD`); where `HEAD` is detached, `refs/remotes/origin/HEAD`'s. A named branch is
    /// `refs/heads/<name>`, or `refs/remotes/origin/<name>` in a clone that has no local
    /// branch of that name. A branch that does not exist is an error naming `branch`.
    pub fn branch(&self, name: Option<&str>) -> Result<Branch, GitError> {
        let default = self.default_branch_ref()?;
        let reference = match name {
            None => match &default {
                Some(full) => full.clone(),
                None => {
                    return Err(GitError::invalid(
                        "branch",
                        "the repository's HEAD is detached and it has no origin/HEAD: name the branch to read",
                    ));
                }
            },
            Some(name) => self.named_branch_ref(name)?,
        };
        let head = self.peel_to_commit(&reference)?;
        let short = reference.as_ref().shorten().to_string();
        let short = match short.strip_prefix("origin/") {
            Some(rest) if reference.as_bstr().starts_with(b"refs/remotes/") => rest.to_owned(),
            _ => short,
        };
        let is_default = default.as_ref().is_some_and(|d| d == &reference);
        Ok(Branch { name: short, head, is_default })
    }

    /// Walks the commits reachable from `branch`'s head; see [`Walk`].
    pub fn walk(&self, branch: &Branch, options: WalkOptions) -> Result<Walk<'_>, GitError> {
        Walk::new(self, branch.head, options)
    }

    /// The full name of the default branch, `None` when `HEAD` is detached without an
    /// `origin/HEAD` to fall back on.
    fn default_branch_ref(&self) -> Result<Option<FullName>, GitError> {
        let head = self.repo.head().map_err(|e| GitError::read("reading HEAD", e))?;
        if let Some(name) = head.referent_name() {
            return Ok(Some(name.to_owned()));
        }
        let origin_head = self
            .repo
            .try_find_reference("refs/remotes/origin/HEAD")
            .map_err(|e| GitError::read("reading origin/HEAD", e))?;
        Ok(origin_head.and_then(|r| match r.target() {
            gix::refs::TargetRef::Symbolic(name) => Some(name.to_owned()),
            gix::refs::TargetRef::Object(_) => None,
        }))
    }

    fn named_branch_ref(&self, name: &str) -> Result<FullName, GitError> {
        let invalid = || GitError::invalid("branch", format!("{name:?} is not a valid branch name"));
        if name.is_empty() || name.starts_with("refs/") {
            return Err(invalid());
        }
        for prefix in ["refs/heads/", "refs/remotes/origin/"] {
            let full = FullName::try_from(format!("{prefix}{name}")).map_err(|_| invalid())?;
            let found = self.repo.try_find_reference(&full).map_err(|e| GitError::read("reading the branch", e))?;
            if found.is_some() {
                return Ok(full);
            }
        }
        Err(GitError::invalid("branch", format!("the repository has no branch named {name:?}")))
    }

    fn peel_to_commit(&self, reference: &FullName) -> Result<Sha, GitError> {
        let short = reference.as_ref().shorten();
        let Some(mut found) =
            self.repo.try_find_reference(reference).map_err(|e| GitError::read("reading the branch", e))?
        else {
            // HEAD names a branch that has no commit yet (an empty repository).
            return Err(GitError::invalid("branch", format!("the branch {short} has no commits")));
        };
        let commit = found
            .peel_to_commit()
            .map_err(|e| GitError::read(&format!("reading the commit the branch {short} points at"), e))?;
        Ok(Sha(commit.id))
    }
}
