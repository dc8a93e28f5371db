//! Reads the history of a git repository for the metrics collectors, with `gix` (pure Rust;
//! Cairn never runs the `git` program).
//!
//! - [`Repository::open`] opens a repository at a local path, bare or not; [`Mirrors`] keeps a
//!   bare mirror of an `https://` repository in a cache folder, fetched again on each run,
//!   every request going through the guarded [`cairn_outbound::Outbound`] client.
//! - [`Repository::branch`] resolves the branch to read: a named one, or the default branch
//!   (`HEAD`'s; in a mirror, the remote's `HEAD`).
//! - [`Repository::walk`] yields the commits reachable from the branch head through all
//!   parents, newest first, in pages, with each commit's author, times, parents and its line
//!   changes against the first parent (as `git log --numstat -M` counts them).
//!
//! Everything here blocks on disk (and, for [`Mirrors`], on the network): async callers run
//! it on `tokio::task::spawn_blocking`. A [`Repository`] is `Send` but not `Sync`: open it on
//! the thread that reads it.

mod diff;
mod http;
mod mirror;
mod repository;
mod walk;

use std::fmt;
use std::str::FromStr;

pub use mirror::{FetchLimits, Location, Mirrors};
pub use repository::{Branch, Repository};
pub use walk::{Commit, DEFAULT_COMMIT_TIME_MARGIN, DEFAULT_PAGE_SIZE, GitTime, LineStats, Lines, Walk, WalkOptions};

/// Why a repository could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    /// The caller's input is wrong — a path that is no repository, a URL the guard refuses or
    /// that serves no repository, a branch that does not exist —: `field` names it (`url`,
    /// `branch`), as the source's fields are named.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The remote could not be reached or answered in a way a git server does not.
    #[error("fetching the repository: {0}")]
    Upstream(String),
    /// The repository could not be read or written (I/O, a missing or corrupt object).
    #[error("reading the repository: {0}")]
    Read(String),
}

impl GitError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }

    /// A read failure with gix's whole chain of causes on one line.
    pub(crate) fn read(context: &str, e: impl fmt::Display) -> Self {
        Self::Read(format!("{context}: {e:#}"))
    }
}

/// A commit's id (SHA-1), printed as 40 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha(gix::ObjectId);

impl Sha {
    pub(crate) fn id(self) -> gix::ObjectId {
        self.0
    }
}

impl From<gix::ObjectId> for Sha {
    fn from(id: gix::ObjectId) -> Self {
        Self(id)
    }
}

impl fmt::Display for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The error of parsing a [`Sha`]: not 40 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a commit id is 40 hexadecimal digits")]
pub struct ShaError;

impl FromStr for Sha {
    type Err = ShaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 40 {
            return Err(ShaError);
        }
        gix::ObjectId::from_hex(s.as_bytes()).map(Self).map_err(|_| ShaError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shas_parse_and_print_as_forty_hex_digits() {
        let text = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391";
        let sha: Sha = text.parse().unwrap();
        assert_eq!(sha.to_string(), text);
        assert_eq!(format!("{sha:?}"), text);
        assert_eq!("E69DE29BB2D1D6434B8B29AE775AD8C2E48C5391".parse::<Sha>().unwrap(), sha);
        for bad in ["", "e69de29", "g69de29bb2d1d6434b8b29ae775ad8c2e48c5391", &format!("{text}00")] {
            assert_eq!(bad.parse::<Sha>(), Err(ShaError), "{bad}");
        }
    }
}
