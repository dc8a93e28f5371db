//! SQL of `reset_codes`: live reset codes, stored as keyed digests, with their guesses.

use cairn_store::sqlx::{self, AnyConnection, Row};

/// Stores a new reset code for `user_id` beside the ones still live (expired ones go).
pub(crate) async fn put_reset_code(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reset_codes WHERE user_id = $1 AND expires_at <= $2")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO reset_codes (code_hash, user_id, expires_at, attempts) VALUES ($1, $2, $3, 0)")
        .bind(hash)
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Counts one guess against every live code of `user_id`, then returns the expiry and
/// guesses so far of the code whose keyed digest is `hash`, if it is one of them. (The
/// lookup by digest is not constant-time, but the digest is keyed: its timing says
/// nothing about which code would match.)
pub(crate) async fn attempt_reset_code(
    conn: &mut AnyConnection,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<Option<(i64, i64)>, sqlx::Error> {
    sqlx::query("UPDATE reset_codes SET attempts = attempts + 1 WHERE user_id = $1 AND expires_at > $2")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query("SELECT expires_at, attempts FROM reset_codes WHERE code_hash = $1 AND user_id = $2")
        .bind(hash)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("expires_at")?, r.try_get("attempts")?))).transpose()
}

/// Removes the codes of `user_id` that have had `max_attempts` guesses or expired.
pub(crate) async fn void_reset_codes(
    conn: &mut AnyConnection,
    user_id: &str,
    max_attempts: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reset_codes WHERE user_id = $1 AND (attempts >= $2 OR expires_at <= $3)")
        .bind(user_id)
        .bind(max_attempts)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn delete_reset_codes(conn: &mut AnyConnection, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM reset_codes WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    Ok(())
}
