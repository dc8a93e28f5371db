//! Signing in with a password, and what defends it: throttling (`throttle.rs`), the audit
//! cap on failed sign-ins, and device cookies — a browser that signed in to an account
//! before is counted on its own, not held by the account's pause. Also the user's own
//! password change (at first sign-in, or from their profile), which ends their other
//! sign-ins.

mod service;
pub(crate) mod store;
pub(crate) mod throttle;

use crate::model::User;

pub(crate) use service::{device_digests, recognised_digest};

/// How long a browser that signed in is recognised (its device cookie's lifetime).
pub const DEVICE_DAYS: i64 = 90;

/// The answer to a sign-in attempt. Unknown accounts and wrong passwords give the same
/// answer ([`SignIn::Invalid`]), after the same work.
#[derive(Debug)]
pub enum SignIn {
    Success(User),
    /// The password was a temporary one: the user must choose a new password now.
    MustChangePassword(User),
    Invalid,
    /// Too many failures: try again after this many seconds.
    Throttled {
        retry_after_secs: i64,
    },
    /// Right password, but an admin disabled the account.
    Disabled,
    /// Right temporary password, but it expired: an admin must send a new one.
    TemporaryExpired,
    /// Right password, but the user must sign in through SSO.
    SsoRequired,
}
