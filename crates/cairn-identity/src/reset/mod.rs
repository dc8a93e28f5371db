//! Forgot password: a request answered the same for any email, a code mailed by the
//! `password_reset` consumer (through the event outbox, like account mail), and the code
//! that sets a new password. Codes are stored as keyed digests; guesses are limited per
//! code and per address, sends per account and per address.

mod service;
pub(crate) mod store;

use std::sync::Arc;

use cairn_events::{Handler, HandlerFuture, Job};

use crate::Identity;

/// How long a reset code works.
pub const RESET_CODE_MINUTES: i64 = 15;
/// The event type of a forgot-password request.
pub const RESET_REQUESTED: &str = "internal.password_reset_requested";
/// The consumer that answers forgot-password requests.
pub const RESET_CONSUMER: &str = "password_reset";

/// The answer to the last step of a password reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetOutcome {
    Done,
    /// The email is unknown, or the code wrong, used or expired: the same answer for all.
    Invalid,
    /// Too many wrong codes from this address: try again after this many seconds.
    Throttled {
        retry_after_secs: i64,
    },
}

/// The `password_reset` consumer.
#[derive(Debug, Clone)]
pub struct ResetRequests {
    pub identity: Arc<Identity>,
}

impl Handler for ResetRequests {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(self.identity.answer_reset_request(job))
    }
}
