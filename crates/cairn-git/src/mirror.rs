//! Where a git source's repository is: a local path, or an `https://` URL that Cairn mirrors
//! into a cache folder and fetches again on each run.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use cairn_outbound::Outbound;
use gix::protocol::transport::Protocol;
use gix::protocol::transport::client::blocking_io::http::Transport;
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit};

use crate::http::{Failure, OutboundHttp};
use crate::{GitError, Repository};

/// Every branch of the remote, force-updated: a mirror follows force-pushes.
const MIRROR_REFSPEC: &str = "+refs/heads/*:refs/heads/*";

/// A git source's `url`: a local repository or a remote one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An absolute path to a repository on this machine (bare or not).
    Path(PathBuf),
    /// An `https://` URL (or `http://` where the operator allows it), read through a mirror.
    Url(String),
}

impl Location {
    /// Parses a source's `url`: an absolute path, or an http(s) URL. Other transports (ssh,
    /// `git://`, `file://`) are refused with an error naming `url`. A URL is checked again
    /// by the outbound guard before anything is sent.
    pub fn parse(raw: &str) -> Result<Self, GitError> {
        let raw = raw.trim();
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return Ok(Self::Url(raw.to_owned()));
        }
        let path = Path::new(raw);
        if path.is_absolute() {
            return Ok(Self::Path(path.to_owned()));
        }
        Err(GitError::invalid(
            "url",
            "must be an absolute path to a repository on the server or an https:// URL (ssh, git:// and file:// are not read)",
        ))
    }
}

/// Bounds on each HTTP exchange of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// The longest one exchange may take (the pack's download included).
    pub timeout: Duration,
    /// The largest answer read. An answer is held in memory whole before gix reads it, so
    /// this is also the memory a fetch may take (the pack of a first fetch is the largest).
    pub max_response_bytes: usize,
    /// Each fetch adds a pack and gix does not repack: a mirror holding more packs than this
    /// is fetched afresh, in one pack, and replaces the old one.
    pub max_packs: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(600), max_response_bytes: 1024 * 1024 * 1024, max_packs: 64 }
    }
}

/// Bare mirrors of remote repositories in one cache folder. The folder must be the
/// tenant's own (a tenant must never read another's mirror), and a mirror must be fetched
/// by one run at a time (a source's runs are leased).
#[derive(Debug, Clone)]
pub struct Mirrors {
    root: PathBuf,
    outbound: Outbound,
    runtime: tokio::runtime::Handle,
    limits: FetchLimits,
}

impl Mirrors {
    /// Mirrors under `root`, fetched through `outbound` on `runtime` (the fetch blocks the
    /// calling thread, which must not be one of the runtime's workers: call from
    /// `spawn_blocking`).
    pub fn new(root: impl Into<PathBuf>, outbound: Outbound, runtime: tokio::runtime::Handle) -> Self {
        Self { root: root.into(), outbound, runtime, limits: FetchLimits::default() }
    }

    pub fn with_limits(self, limits: FetchLimits) -> Self {
        Self { limits, ..self }
    }

    /// Opens the repository `location` names: a path as it is, a URL through its mirror,
    /// fetched first.
    pub fn open(&self, location: &Location) -> Result<Repository, GitError> {
        match location {
            Location::Path(path) => Repository::open(path),
            Location::Url(url) => self.fetch(url),
        }
    }

    /// The folder of `url`'s mirror: readable names from the URL and a digest of it whole.
    pub fn mirror_path(&self, url: &str) -> PathBuf {
        let mut hasher = gix::hash::hasher(gix::hash::Kind::Sha1);
        hasher.update(url.as_bytes());
        let digest = hasher.try_finalize().map(|id| id.to_hex_with_len(16).to_string()).unwrap_or_default();
        let readable: String = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c.to_ascii_lowercase() } else { '_' })
            .take(80)
            .collect();
        self.root.join(format!("{}-{digest}.git", readable.trim_matches(|c| c == '_' || c == '.')))
    }

    /// Fetches `url` into its mirror, creating the mirror on the first call, and opens it.
    /// The mirror holds every branch of the remote as its own branch, and its `HEAD` names
    /// the remote's default branch. A first fetch that fails leaves nothing behind; a mirror of
    /// more than [`FetchLimits::max_packs`] packs is fetched afresh and replaced; lock files
    /// a killed fetch left are removed once older than [`FetchLimits::timeout`].
    pub fn fetch(&self, url: &str) -> Result<Repository, GitError> {
        self.outbound.check_url("url", url).map_err(|e| GitError::invalid("url", e.message))?;
        let path = self.mirror_path(url);
        if path.is_dir() && pack_count(&path) <= self.limits.max_packs {
            remove_stale_locks(&path, self.limits.timeout);
            self.fetch_into(&path, url)?;
            return Repository::open(&path);
        }
        std::fs::create_dir_all(&self.root).map_err(|e| GitError::read("creating the mirrors' folder", e))?;
        let partial = tempfile::Builder::new()
            .prefix(".partial-")
            .tempdir_in(&self.root)
            .map_err(|e| GitError::read("creating a mirror", e))?;
        gix::init_bare(partial.path()).map_err(|e| GitError::read("creating a mirror", e))?;
        self.fetch_into(partial.path(), url)?;
        if path.is_dir() {
            // Too many packs: the old mirror steps aside (and is removed with `old`).
            let old = tempfile::Builder::new()
                .prefix(".old-")
                .tempdir_in(&self.root)
                .map_err(|e| GitError::read("replacing a mirror", e))?;
            std::fs::rename(&path, old.path().join("mirror.git"))
                .map_err(|e| GitError::read("replacing a mirror", e))?;
        }
        match std::fs::rename(partial.path(), &path) {
            Ok(()) => {
                // The folder is in place under its own name; nothing to remove.
                let _ = partial.keep();
            }
            // Another fetch created it meanwhile: use that one (the partial one is removed).
            Err(_) if path.is_dir() => {}
            Err(e) => return Err(GitError::read("moving the mirror into place", e)),
        }
        Repository::open(&path)
    }

    fn fetch_into(&self, git_dir: &Path, url: &str) -> Result<(), GitError> {
        let repo = gix::open_opts(git_dir, gix::open::Options::isolated())
            .map_err(|e| GitError::read(&format!("opening the mirror {}", git_dir.display()), e))?;
        let parsed = gix::url::parse(gix::bstr::BStr::new(url))
            .map_err(|e| GitError::invalid("url", format!("not a URL: {e}")))?;
        let remote = repo
            .remote_at(parsed.clone())
            .and_then(|r| r.with_refspecs([MIRROR_REFSPEC], gix::remote::Direction::Fetch))
            .map_err(|e| GitError::invalid("url", format!("{e:#}")))?
            .with_fetch_tags(gix::remote::fetch::Tags::None);
        let http = OutboundHttp::new(self.outbound.clone(), self.runtime.clone(), self.limits);
        let failure = http.failure.clone();
        let transport = Transport::new_http(http, parsed, Protocol::V2, false);
        let outcome = remote
            .to_connection_with_transport(transport)
            // Cairn gives no credentials and runs no credential helper.
            .with_credentials(|_| Ok(None))
            .prepare_fetch(
                gix::progress::Discard,
                gix::remote::ref_map::Options {
                    // The remote's HEAD, to learn its default branch.
                    extra_refspecs: vec![
                        gix::refspec::parse("HEAD".into(), gix::refspec::parse::Operation::Fetch)
                            .expect("HEAD is a refspec")
                            .to_owned(),
                    ],
                    ..Default::default()
                },
            )
            .and_then(|prepared| prepared.receive(gix::progress::Discard, &AtomicBool::new(false)))
            .map_err(|e| {
                let seen = failure.lock().unwrap_or_else(|p| p.into_inner()).clone();
                fetch_error(seen, e)
            })?;
        for remote_ref in &outcome.ref_map.remote_refs {
            if let gix::protocol::handshake::Ref::Symbolic { full_ref_name, target, .. }
            | gix::protocol::handshake::Ref::Unborn { full_ref_name, target } = remote_ref
                && full_ref_name == "HEAD"
            {
                let target = gix::refs::FullName::try_from(target.clone())
                    .map_err(|e| GitError::Upstream(format!("the remote's HEAD names an invalid branch: {e}")))?;
                repo.edit_reference(RefEdit {
                    change: Change::Update {
                        log: LogChange::default(),
                        expected: PreviousValue::Any,
                        new: gix::refs::Target::Symbolic(target),
                    },
                    name: "HEAD".try_into().expect("HEAD is a reference name"),
                    deref: false,
                })
                .map_err(|e| GitError::read("pointing the mirror's HEAD at the default branch", e))?;
            }
        }
        Ok(())
    }
}

/// The packs of the mirror at `git_dir`.
fn pack_count(git_dir: &Path) -> usize {
    std::fs::read_dir(git_dir.join("objects/pack")).map_or(0, |entries| {
        entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "pack")).count()
    })
}

/// Removes the lock files a fetch killed half-way left (ref updates take their locks for
/// moments; one older than an exchange may last is nobody's), so the mirror is not stuck.
fn remove_stale_locks(git_dir: &Path, older_than: Duration) {
    let mut folders = vec![git_dir.to_owned()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if folder == git_dir && entry.file_name() != "refs" {
                    continue;
                }
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "lock")
                && meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age > older_than)
            {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The fetch's error in Cairn's words: what the HTTP layer saw first, else gix's chain.
fn fetch_error(seen: Option<Failure>, e: gix::Error) -> GitError {
    match seen {
        Some(Failure::Refused(why)) => GitError::invalid("url", why),
        Some(Failure::Status(401 | 403)) => GitError::invalid(
            "url",
            "the server asks for credentials; Cairn reads remote repositories that anyone may read",
        ),
        Some(Failure::Status(404)) => GitError::invalid("url", "the server has no repository at this URL (404)"),
        Some(Failure::Status(status @ 300..=399)) => GitError::invalid(
            "url",
            format!("the server redirects elsewhere ({status}), and redirects are not followed: give the URL it names"),
        ),
        Some(Failure::Status(status)) => GitError::Upstream(format!("the server answered {status}")),
        Some(Failure::NotGit(why)) => GitError::invalid("url", format!("not a git repository: {why}")),
        Some(Failure::Transport(why)) => GitError::Upstream(why),
        None => GitError::Upstream(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_url_is_a_path_or_an_http_url() {
        assert_eq!(Location::parse("/srv/git/mono.git").unwrap(), Location::Path("/srv/git/mono.git".into()));
        assert_eq!(
            Location::parse(" https://git.example.com/acme/api.git ").unwrap(),
            Location::Url("https://git.example.com/acme/api.git".into())
        );
        for raw in
            ["", "mono.git", "../mono.git", "ssh://git@example.com/a.git", "git@example.com:a.git", "file:///srv/a"]
        {
            let e = Location::parse(raw).unwrap_err();
            assert!(matches!(e, GitError::Invalid { field: "url", .. }), "{raw}: {e}");
        }
    }
}
