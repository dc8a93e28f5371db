//! Ending a user's sign-ins, which every feature that changes a password, a status or
//! roles does in its transaction: the provider's codes, refresh-token families and sessions,
//! and the revocation epoch that refuses the user's access tokens (read back by
//! [`crate::revocation`]).

use cairn_store::sqlx::{self, AnyConnection, Row};

/// What ending a user's sessions ended, and the revocation epoch it set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Refresh-token families revoked.
    pub families: u64,
    /// Provider (hosted sign-in) sessions revoked.
    pub sessions: u64,
    /// The user's access tokens issued at or before this time (epoch ms) are refused.
    pub not_before: i64,
}

impl Ended {
    /// Sign-ins ended: refresh-token families plus provider sessions.
    pub fn total(&self) -> u64 {
        self.families + self.sessions
    }
}

/// Ends every session and token family of a user (disable, role change, password set or
/// reset by an admin, reset by code) and refuses their access tokens issued until now.
pub(crate) async fn revoke_user_grants(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
    reason: &str,
) -> Result<Ended, sqlx::Error> {
    revoke_grants_except(conn, user_id, now, reason, None, None).await
}

/// Ends the user's refresh-token families but `keep_family`, provider sessions but the one
/// whose handle digest is `keep_session`, and unused authorization codes, and sets the
/// user's revocation epoch: access tokens issued until now are refused, except those of
/// `keep_family`.
///
/// The epoch is taken after the codes and families are revoked: on PostgreSQL those
/// statements wait for a code exchange or refresh of the user in flight (each updates its
/// code's or family's row), so a token issued by one that committed first is older than the
/// epoch, and one that comes after finds its code expired or its family revoked. (On SQLite
/// write transactions never overlap.)
pub(crate) async fn revoke_grants_except(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
    reason: &str,
    keep_family: Option<&str>,
    keep_session: Option<&str>,
) -> Result<Ended, sqlx::Error> {
    // A code not yet exchanged would start a new family: it expires — at 0, not "now", so an
    // exchange whose clock read an instant earlier cannot take it for live. First, so that on
    // PostgreSQL an exchange in flight commits its family before the families are revoked.
    sqlx::query("UPDATE auth_codes SET expires_at = 0 WHERE user_id = $1 AND used_at IS NULL AND expires_at > $2")
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let families = sqlx::query(
        "UPDATE token_families SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND id <> COALESCE($4, '')",
    )
    .bind(user_id)
    .bind(now)
    .bind(reason)
    .bind(keep_family)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let not_before = cairn_domain::now_ms().max(now);
    let sessions = sqlx::query(
        "UPDATE idp_sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND id_hash <> COALESCE($3, '')",
    )
    .bind(user_id)
    .bind(not_before)
    .bind(keep_session)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "INSERT INTO token_epochs (user_id, not_before, kept_family) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET not_before = excluded.not_before, kept_family = excluded.kept_family",
    )
    .bind(user_id)
    .bind(not_before)
    .bind(keep_family)
    .execute(&mut *conn)
    .await?;
    Ok(Ended { families, sessions, not_before })
}

/// A tenant's revocation epochs set after `since` (epoch ms): user, not-before, kept family.
pub(crate) async fn token_epochs(
    conn: &mut AnyConnection,
    since: i64,
) -> Result<Vec<(String, i64, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query("SELECT user_id, not_before, kept_family FROM token_epochs WHERE not_before > $1")
        .bind(since)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("user_id")?, r.try_get("not_before")?, r.try_get("kept_family")?))).collect()
}
