//! Sign-in and reset-code throttling: which counters an attempt is charged to, their
//! limits, and the audit cap on failed sign-ins. Every attempt is reserved before the
//! password or code is checked ([`store::reserve_attempt`]: one upsert decides and counts),
//! so the limits hold whatever the concurrency; a success gives the reservation back.
//!
//! Following OWASP's advice against locking owners out, a browser that signed in to the
//! account before (a device cookie) is counted on its own and is not held by the account's
//! pause, which only applies to unrecognised clients.

use cairn_store::sqlx::{self, AnyConnection};

use super::store::{self, Curve, Reservation};
use crate::model::Email;

/// Longest pause; also how long attempts are remembered after the last one let through.
pub const MAX_BLOCK_MS: i64 = 15 * 60 * 1000;

/// Unrecognised clients, per account (by email, whether or not it exists), from any
/// address: 5 free failures, then 1 s, 2 s, 4 s, 8 s, 16 s, and the 10th pauses the
/// account for 15 minutes (its owner is mailed).
pub const ACCOUNT: Curve = Curve { window_ms: MAX_BLOCK_MS, free: 5, pause_at: 10, max_block_ms: MAX_BLOCK_MS };
/// A recognised browser (device cookie), per cookie: the same curve as an account, for
/// that browser only.
pub const DEVICE: Curve = ACCOUNT;
/// One address over every account it tries, unrecognised clients only: 50 free failures,
/// then 1 s, 2 s, 4 s … up to 15 minutes.
pub const ADDRESS: Curve = Curve { window_ms: MAX_BLOCK_MS, free: 50, pause_at: i64::MAX, max_block_ms: MAX_BLOCK_MS };
/// Reset-code guesses from one address over every account: 10 wrong codes, then a 15
/// minute pause for that address.
pub const RESET_GUESSES: Curve = Curve { window_ms: MAX_BLOCK_MS, free: 10, pause_at: 10, max_block_ms: MAX_BLOCK_MS };

/// Failed-sign-in audit entries per (account, address) and minute; further failures are
/// counted and their number written in the pair's next entry.
pub const AUDITED_FAILURES_PER_MINUTE: i64 = 10;

/// Reset codes sent per (account, address) and per account alone, per 15 minutes.
pub const RESET_SENDS_PER_ADDRESS: i64 = 3;
pub const RESET_SENDS_PER_ACCOUNT: i64 = 10;

/// The block the curve sets after attempt `n` (1-based), as the reservation's SQL computes it.
pub fn block_after(curve: Curve, n: i64) -> i64 {
    if n >= curve.pause_at {
        return curve.max_block_ms;
    }
    if n < curve.free {
        return 0;
    }
    let steps = n - curve.free;
    if steps >= 10 { curve.max_block_ms } else { (1000i64 << steps).min(curve.max_block_ms) }
}

pub fn account_key(email: Option<&Email>) -> String {
    format!("acct:{}", email.map(Email::key).unwrap_or_default())
}

pub fn address_key(ip: Option<&str>) -> String {
    format!("ip:{}", ip.unwrap_or("-"))
}

pub fn device_key(token_hash: &str) -> String {
    format!("dev:{token_hash}")
}

pub fn audit_key(email: Option<&Email>, ip: Option<&str>) -> String {
    format!("{}|{}", account_key(email), address_key(ip))
}

pub fn reset_guess_key(ip: Option<&str>) -> String {
    format!("resetguess:{}", address_key(ip))
}

pub fn reset_send_keys(email: &Email, ip: Option<&str>) -> (String, String) {
    (format!("reset:{}|{}", email.key(), address_key(ip)), format!("reset:{}", email.key()))
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The attempt may go ahead; it is the `attempts`-th in the window.
    Go { attempts: i64 },
    /// The key is blocked for this long.
    Wait { retry_after_secs: i64 },
}

/// Reserves one attempt on `key`.
pub async fn reserve(conn: &mut AnyConnection, key: &str, curve: Curve, now: i64) -> Result<Verdict, sqlx::Error> {
    let grant = cairn_domain::random_token(16);
    let Reservation { granted, attempts, blocked_until } =
        store::reserve_attempt(conn, key, now, &grant, curve, block_after(curve, 1)).await?;
    Ok(if granted {
        Verdict::Go { attempts }
    } else {
        Verdict::Wait { retry_after_secs: retry_secs(blocked_until, now) }
    })
}

/// Gives back one reserved attempt on `key` (a success that should not count against a
/// shared ceiling, or an attempt another key refused).
pub async fn refund(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    store::refund_attempt(conn, key).await
}

/// Forgets `key`'s attempts and block.
pub async fn clear(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    store::clear_throttle(conn, key).await
}

/// Counts one event on `key` (a reset code sent) and returns the count in its window of
/// [`MAX_BLOCK_MS`]: a cap, not a delay curve.
pub async fn count(conn: &mut AnyConnection, key: &str, now: i64) -> Result<i64, sqlx::Error> {
    store::bump_throttle(conn, key, now, MAX_BLOCK_MS).await
}

fn retry_secs(blocked_until: i64, now: i64) -> i64 {
    ((blocked_until - now + 999) / 1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_cap() {
        assert_eq!(block_after(ACCOUNT, 4), 0);
        assert_eq!(block_after(ACCOUNT, 5), 1000);
        assert_eq!(block_after(ACCOUNT, 6), 2000);
        assert_eq!(block_after(ACCOUNT, 9), 16_000);
        assert_eq!(block_after(ACCOUNT, 10), MAX_BLOCK_MS, "the pause");
        assert_eq!(block_after(ADDRESS, 49), 0);
        assert_eq!(block_after(ADDRESS, 50), 1000);
        assert_eq!(block_after(ADDRESS, 59), 512_000);
        assert_eq!(block_after(ADDRESS, 60), MAX_BLOCK_MS);
        assert_eq!(block_after(ADDRESS, 500), MAX_BLOCK_MS);
        assert_eq!(block_after(RESET_GUESSES, 9), 0);
        assert_eq!(block_after(RESET_GUESSES, 10), MAX_BLOCK_MS);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_secs(1_001, 0), 2);
        assert_eq!(retry_secs(1_000, 0), 1);
        assert_eq!(retry_secs(0, 0), 1);
    }

    #[test]
    fn keys_name_their_dimension() {
        let e = Email::parse("Ann@X.test").unwrap();
        assert_eq!(account_key(Some(&e)), "acct:ann@x.test");
        assert_eq!(audit_key(Some(&e), Some("10.0.0.1")), "acct:ann@x.test|ip:10.0.0.1");
        assert_eq!(reset_send_keys(&e, None).0, "reset:ann@x.test|ip:-");
    }
}
