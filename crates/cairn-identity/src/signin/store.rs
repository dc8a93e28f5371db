//! SQL of sign-in's defences: `login_throttle` (attempt counters, [`reserve_attempt`] the one
//! upsert that decides and counts), `audit_caps` (failed sign-ins recorded per minute) and
//! `known_devices` (browsers that signed in to an account).

use cairn_store::sqlx::{self, AnyConnection, Row};

/// Counts one event for `key` atomically and returns the count in the current window: a
/// fixed window of `window_ms` from its first count (`last_failure` keeps when it began;
/// later counts do not extend it), restarted once it is over.
pub(crate) async fn bump_throttle(
    conn: &mut AnyConnection,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<i64, sqlx::Error> {
    let sql = "INSERT INTO login_throttle (key, failures, last_failure, blocked_until) VALUES ($1, 1, $2, 0) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN $2 - login_throttle.last_failure > $3 THEN 1 ELSE login_throttle.failures + 1 END, \
         last_failure = CASE WHEN $2 - login_throttle.last_failure > $3 THEN $2 ELSE login_throttle.last_failure END \
         RETURNING failures";
    sqlx::query_scalar(sql).bind(key).bind(now).bind(window_ms).fetch_one(&mut *conn).await
}

/// What [`reserve_attempt`] found: whether this attempt may go ahead, the attempts counted
/// in the window (this one included when granted), and until when the key is blocked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    pub granted: bool,
    pub attempts: i64,
    pub blocked_until: i64,
}

/// The delay curve of a throttle key, as [`reserve_attempt`] applies it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Curve {
    /// How long attempts are remembered after the last one let through.
    pub window_ms: i64,
    /// Attempts before delays start.
    pub free: i64,
    /// The attempt that pauses the key for `max_block_ms`.
    pub pause_at: i64,
    pub max_block_ms: i64,
}

/// Reserves one attempt for `key` in a single statement: unless the key is blocked, the
/// attempt is counted and the block that follows it is set (`curve`: none for the first
/// `free` attempts, then 1 s, 2 s, 4 s … up to `max_block_ms`, which is also the pause at
/// `pause_at`). The row remembers the reservation it let through (`grant`), which is how
/// the caller tells granted from refused: concurrent attempts serialize on the row, so no
/// more are let through than the curve allows.
pub(crate) async fn reserve_attempt(
    conn: &mut AnyConnection,
    key: &str,
    now: i64,
    grant: &str,
    curve: Curve,
    first_block_ms: i64,
) -> Result<Reservation, sqlx::Error> {
    // No block is stored as 0, not as "until now": a concurrent attempt whose clock read
    // an instant earlier must not take "until now" for a block.
    let fresh = "($2 - login_throttle.last_failure > $3)";
    let open = format!("({fresh} OR login_throttle.blocked_until <= $2)");
    let n = format!("(CASE WHEN {fresh} THEN 1 ELSE login_throttle.failures + 1 END)");
    let block = format!(
        "(CASE WHEN {n} >= $6 THEN $7 WHEN {n} < $5 THEN 0 WHEN {n} - $5 >= 10 THEN $7 \
         ELSE 1000 * (1 << CAST({n} - $5 AS INTEGER)) END)"
    );
    let sql = format!(
        "INSERT INTO login_throttle (key, failures, last_failure, blocked_until, last_grant) \
         VALUES ($1, 1, $2, CASE WHEN $8 = 0 THEN 0 ELSE $2 + $8 END, $4) ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN {open} THEN {n} ELSE login_throttle.failures END, \
         blocked_until = CASE WHEN NOT {open} THEN login_throttle.blocked_until \
             WHEN {block} = 0 THEN 0 ELSE $2 + {block} END, \
         last_failure = CASE WHEN {open} THEN $2 ELSE login_throttle.last_failure END, \
         last_grant = CASE WHEN {open} THEN $4 ELSE login_throttle.last_grant END \
         RETURNING failures, blocked_until, last_grant"
    );
    let row = sqlx::query(&sql)
        .bind(key)
        .bind(now)
        .bind(curve.window_ms)
        .bind(grant)
        .bind(curve.free)
        .bind(curve.pause_at)
        .bind(curve.max_block_ms)
        .bind(first_block_ms)
        .fetch_one(&mut *conn)
        .await?;
    let last_grant: String = row.try_get("last_grant")?;
    Ok(Reservation {
        granted: last_grant == grant,
        attempts: row.try_get("failures")?,
        blocked_until: row.try_get("blocked_until")?,
    })
}

/// Gives back one reserved attempt (a success that should not count against a shared
/// ceiling, or an attempt another key refused). The block it set stays: at worst one step
/// of the curve too early.
pub(crate) async fn refund_attempt(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn clear_throttle(conn: &mut AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&mut *conn).await?;
    Ok(())
}

/// Counts one audit-worthy event for `key` in `minute`; returns the events so far this
/// minute and how many the key's previous minute left unrecorded beyond `per_minute`.
pub(crate) async fn count_audit_event(
    conn: &mut AnyConnection,
    key: &str,
    minute: i64,
    per_minute: i64,
) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query(
        "INSERT INTO audit_caps (key, minute, entries, carried) VALUES ($1, $2, 1, 0) \
         ON CONFLICT (key) DO UPDATE SET \
         carried = CASE WHEN audit_caps.minute = $2 THEN audit_caps.carried \
                        WHEN audit_caps.entries > $3 THEN audit_caps.entries - $3 ELSE 0 END, \
         entries = CASE WHEN audit_caps.minute = $2 THEN audit_caps.entries + 1 ELSE 1 END, \
         minute = $2 \
         RETURNING entries, carried",
    )
    .bind(key)
    .bind(minute)
    .bind(per_minute)
    .fetch_one(&mut *conn)
    .await?;
    Ok((row.try_get("entries")?, row.try_get("carried")?))
}

/// Whether the browser holding the device token of digest `token_hash` signed in to
/// `user_id` before (and that memory has not expired).
pub(crate) async fn device_known(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT 1 AS known FROM known_devices WHERE token_hash = $1 AND user_id = $2 AND expires_at > $3")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.is_some())
}

pub(crate) async fn forget_device(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM known_devices WHERE token_hash = $1 AND user_id = $2")
        .bind(token_hash)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn remember_device(
    conn: &mut AnyConnection,
    token_hash: &str,
    user_id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO known_devices (token_hash, user_id, created_at, last_used_at, expires_at) \
         VALUES ($1, $2, $3, $3, $4) ON CONFLICT (token_hash, user_id) DO UPDATE SET \
         last_used_at = excluded.last_used_at, expires_at = excluded.expires_at",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
