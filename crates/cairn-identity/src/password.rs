//! Passwords: argon2id hashing with OWASP's parameters (19 MiB, 2 passes, 1 lane), the
//! policy (≥ 12 characters, not among the 10,000 most common, not containing the email's
//! local part), temporary passwords for invitations, and [`Argon2Pool`], through which
//! every hash and verification runs off the async workers.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use cairn_domain::ValidationError;

use crate::model::Email;

pub const MIN_LENGTH: usize = 12;
const MAX_LENGTH: usize = 256;

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../data/common-passwords.txt").lines().filter(|l| !l.is_empty()).collect());

fn argon() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`). Blocking: callers go through
/// [`Argon2Pool::hash`].
fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon().hash_password(password.as_bytes(), &salt).expect("argon2id hashing cannot fail on valid params").to_string()
}

/// A hash no password matches, verified in place of a missing account's so that unknown
/// and known emails take the same time.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash("cairn dummy password that never matches"));

/// Whether `password` matches `stored`. With no stored hash (unknown account, or no
/// password set) the same work is done against a dummy hash and the answer is false.
/// Blocking: callers go through [`Argon2Pool::verify`].
fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(s) => (s, true),
        None => (DUMMY_HASH.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // argon2's verifier compares the computed and stored outputs in constant time.
    argon().verify_password(password.as_bytes(), &parsed).is_ok() && real
}

/// The machine is busy hashing passwords: the caller should try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many passwords are being checked; try again in {retry_after_secs} s")]
pub struct Busy {
    pub retry_after_secs: u64,
}

/// Runs argon2id on tokio's blocking threads, at most `workers` at a time,
/// with at most `queue` more waiting; beyond that a request is refused at once
/// ([`Busy`]) instead of queueing without bound. The async workers never hash, so health
/// checks and API calls stay fast while sign-ins storm.
#[derive(Debug, Clone)]
pub struct Argon2Pool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    /// Held from admission to the end of the work: running plus waiting.
    admitted: Arc<tokio::sync::Semaphore>,
    running: Arc<tokio::sync::Semaphore>,
    workers: usize,
    /// Hashes and verifications done, for tests and metrics.
    done: AtomicU64,
}

/// A place in the pool's queue, taken before anything else of a request's work so that a
/// refused request costs next to nothing.
#[derive(Debug)]
pub struct Admission {
    _slot: tokio::sync::OwnedSemaphorePermit,
    pool: Arc<PoolInner>,
}

/// How many requests may wait per worker before new ones are refused.
pub const QUEUE_PER_WORKER: usize = 4;

impl Argon2Pool {
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            inner: Arc::new(PoolInner {
                admitted: Arc::new(tokio::sync::Semaphore::new(workers + queue)),
                running: Arc::new(tokio::sync::Semaphore::new(workers)),
                workers,
                done: AtomicU64::new(0),
            }),
        }
    }

    /// One worker per core but one (at least one), so that a core stays free for the async
    /// workers whatever the sign-in load; [`QUEUE_PER_WORKER`] waiting per core.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        Self::new(cores.saturating_sub(1).max(1), QUEUE_PER_WORKER * cores)
    }

    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// Hashes and verifications completed since start.
    pub fn completed(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    /// Whether the queue is full now: a cheap check for callers that would do other work
    /// before asking for a place (which can still be refused).
    pub fn saturated(&self) -> bool {
        self.inner.admitted.available_permits() == 0
    }

    /// A place in the queue, or [`Busy`] when the queue is full.
    pub fn admit(&self) -> Result<Admission, Busy> {
        match self.inner.admitted.clone().try_acquire_owned() {
            Ok(slot) => Ok(Admission { _slot: slot, pool: self.inner.clone() }),
            Err(_) => Err(Busy { retry_after_secs: 1 }),
        }
    }

    /// Computes the dummy hash (on a blocking thread) so that the first unknown-account
    /// sign-in is not faster than the rest.
    pub async fn warm_up(&self) {
        let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH).len()).await;
    }

    pub async fn hash(&self, password: &str) -> Result<String, Busy> {
        self.admit()?.hash(password).await
    }

    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, Busy> {
        Ok(self.admit()?.verify(password, stored).await)
    }
}

impl Admission {
    async fn run<T: Send + 'static>(self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let Ok(running) = self.pool.running.clone().acquire_owned().await else {
            return Err(Busy { retry_after_secs: 1 });
        };
        // The places in the queue and among the workers go with the work, not with this
        // future: a request that is dropped (its client gone, its time up) while its hash
        // runs still holds them until the hash is done, so the bounds hold.
        tokio::task::spawn_blocking(move || {
            let out = work();
            self.pool.done.fetch_add(1, Ordering::Relaxed);
            drop((running, self));
            out
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing task failed");
            Busy { retry_after_secs: 1 }
        })
    }

    pub async fn hash(self, password: &str) -> Result<String, Busy> {
        let password = password.to_owned();
        self.run(move || hash(&password)).await
    }

    /// As [`Argon2Pool::verify`], in this place of the queue; a failed task is a mismatch.
    pub async fn verify(self, password: &str, stored: Option<&str>) -> bool {
        let (password, stored) = (password.to_owned(), stored.map(str::to_owned));
        self.run(move || verify(&password, stored.as_deref())).await.unwrap_or(false)
    }
}

/// Checks a new password against the policy; `field` names the form field in errors.
pub fn check_policy(field: &str, password: &str, email: &Email) -> Result<(), ValidationError> {
    let bad = |m: &str| Err(ValidationError::new(field, m));
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return bad("must be at least 12 characters");
    }
    if chars > MAX_LENGTH {
        return bad("must be at most 256 characters");
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return bad("is one of the most common passwords; choose another");
    }
    let local = email.local_part().to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        return bad("must not contain the email address's name");
    }
    Ok(())
}

/// A temporary password: 20 characters from an alphabet without look-alikes (about 110
/// bits), grouped for reading aloud; it satisfies the policy.
pub fn temporary() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Crockford's base32 alphabet: digits and capitals without I, L, O and U.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Symbols in a reset code: 8 × 5 = 40 bits.
pub const CODE_LENGTH: usize = 8;

/// A password-reset code: eight symbols of Crockford's base32, uniformly random, shown as
/// `ABCD-EFGH`. Parsed case-insensitively, with or without the dash or spaces, and with
/// the look-alikes Crockford maps (`O` → `0`, `I`/`L` → `1`).
#[derive(Clone, PartialEq, Eq)]
pub struct ResetCode(String);

impl std::fmt::Debug for ResetCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetCode(<redacted>)")
    }
}

impl ResetCode {
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        Self((0..CODE_LENGTH).map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char).collect())
    }

    /// `None` for anything that is not eight symbols of the alphabet once separators are
    /// dropped.
    pub fn parse(text: &str) -> Option<Self> {
        let mut out = String::with_capacity(CODE_LENGTH);
        for c in text.trim().chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if c.is_ascii() && CODE_ALPHABET.contains(&(c as u8)) => c,
                _ => return None,
            };
            if out.len() == CODE_LENGTH {
                return None;
            }
            out.push(c);
        }
        (out.len() == CODE_LENGTH).then_some(Self(out))
    }

    /// The canonical symbols, as the keyed digest is computed over them.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ABCD-EFGH`, for the mail.
    pub fn grouped(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", Some(&h)));
        assert!(!verify("correct horse battery stapl", Some(&h)));
        assert!(!verify("correct horse battery staple", None));
        assert!(!verify("x", Some("not a phc string")));
    }

    #[test]
    fn policy() {
        let email = Email::parse("ann.lee@example.com").unwrap();
        assert!(check_policy("p", "short", &email).is_err());
        assert!(check_policy("p", "x".repeat(257).as_str(), &email).is_err());
        // Common passwords of policy length, in any case.
        assert!(COMMON.len() == 10_000);
        let common = COMMON.iter().find(|p| p.chars().count() >= 12).unwrap();
        assert!(check_policy("p", &common.to_uppercase(), &email).is_err(), "{common}");
        assert!(check_policy("p", "my-Ann.Lee-password", &email).is_err());
        assert!(check_policy("p", "velvet orbit canyon", &email).is_ok());
        let t = temporary();
        assert_eq!(t.len(), 23);
        assert!(check_policy("p", &t, &email).is_ok());
    }

    #[test]
    fn reset_codes_are_eight_crockford_symbols_read_leniently() {
        let c = ResetCode::generate();
        assert_eq!(c.as_str().len(), 8);
        assert!(c.as_str().bytes().all(|b| CODE_ALPHABET.contains(&b)));
        let g = c.grouped();
        assert_eq!(g.len(), 9);
        assert_eq!(&g[4..5], "-");
        assert_eq!(ResetCode::parse(&g), Some(c.clone()));
        assert_eq!(ResetCode::parse(&g.to_lowercase()), Some(c.clone()));
        assert_eq!(ResetCode::parse(&format!("  {}  ", c.as_str())), Some(c.clone()));
        assert_eq!(ResetCode::parse("abcd efgh").unwrap().as_str(), "ABCDEFGH");
        // Look-alikes read as what they look like; U is not a symbol.
        assert_eq!(ResetCode::parse("O1IL-0000").unwrap().as_str(), "01110000");
        assert_eq!(ResetCode::parse("ABCD-EFGU"), None);
        assert_eq!(ResetCode::parse("ABCD-EFG"), None);
        assert_eq!(ResetCode::parse("ABCD-EFGHJ"), None);
        assert_eq!(ResetCode::parse("123456"), None);
        assert_eq!(ResetCode::parse("ÄBCD-EFGH"), None);
        assert_eq!(CODE_ALPHABET.iter().collect::<HashSet<_>>().len(), 32);
        assert!(!format!("{c:?}").contains(c.as_str()));
    }

    #[tokio::test]
    async fn the_pool_refuses_beyond_its_queue() {
        let pool = Argon2Pool::new(1, 1);
        let a = pool.admit().unwrap();
        let b = pool.admit().unwrap();
        assert_eq!(pool.admit().unwrap_err(), Busy { retry_after_secs: 1 });
        drop(a);
        let h = b.hash("correct horse battery staple").await.unwrap();
        assert!(pool.verify("correct horse battery staple", Some(&h)).await.unwrap());
        assert!(!pool.verify("wrong", Some(&h)).await.unwrap());
        assert_eq!(pool.completed(), 3);
    }
}
