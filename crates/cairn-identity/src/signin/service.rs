//! Sign-in, device cookies and the user's own password change on [`Identity`]; their SQL
//! is in [`super::store`], the counters in [`super::throttle`].

use cairn_audit::{Actor, AuditService, Outcome, RequestMeta};
use cairn_domain::{TenantId, ValidationError, now_ms};
use cairn_store::sqlx::AnyConnection;
use cairn_store::{Db, Tenant};
use serde_json::{Value, json};

use super::throttle::{self, Verdict};
use super::{DEVICE_DAYS, SignIn, store};
use crate::mail::AccountMail;
use crate::model::{Email, User, UserStatus, digest};
use crate::store::revocation::{Ended, revoke_grants_except};
use crate::{CurrentSession, Identity, IdentityError, audit_entry, password, users};

impl Identity {
    /// Checks an email and password for sign-in, with throttling (see [`throttle`]), and
    /// records the outcome in the tenant's audit trail. `devices` are the device cookies the
    /// browser sent (more than one when someone planted a more specific one beside the
    /// owner's): a browser that signed in to this account before is counted on its own
    /// instead of by the account's pause.
    ///
    /// The attempt is reserved before the password is checked, so concurrent attempts get
    /// no more password checks than the limits allow; a success gives the reservation back.
    pub async fn sign_in(
        &self,
        tenant: &Tenant,
        db: &Db,
        email: &str,
        password_given: &str,
        devices: &[String],
        meta: &RequestMeta,
    ) -> Result<SignIn, IdentityError> {
        // A place in the hashing queue first: when it is full, refusing costs nothing more.
        let admission = self.argon2.admit()?;
        let now = now_ms();
        let email = Email::parse(email).ok();
        let attempted = json!({ "email": email.as_ref().map(Email::as_str) });
        let mut conn = db.reader().acquire().await?;
        let user = match &email {
            Some(e) => users::store::user_by_email(&mut conn, e).await?,
            None => None,
        };
        let known = match &user {
            Some(u) => recognised_device(&mut conn, devices, &u.id, now).await?,
            None => None,
        };
        drop(conn);
        let recognised = known.is_some();
        let device_hash = known.or_else(|| devices.iter().find(|d| !d.is_empty()).map(|d| digest(d)));
        let anonymous = Actor { id: "anonymous".into(), email: email.as_ref().map(|e| e.to_string()) };
        let actor = user.as_ref().map(User::actor).unwrap_or(anonymous);

        let account_key = throttle::account_key(email.as_ref());
        let address_key = throttle::address_key(meta.ip.as_deref());
        let counters = match (&device_hash, recognised) {
            (Some(h), true) => vec![(throttle::device_key(h), throttle::DEVICE)],
            _ => vec![(account_key.clone(), throttle::ACCOUNT), (address_key.clone(), throttle::ADDRESS)],
        };
        let mut conn = db.writer().acquire().await?;
        let mut attempts = 0;
        let mut reserved: Vec<&str> = Vec::new();
        let mut wait = None;
        for (key, curve) in &counters {
            match throttle::reserve(&mut conn, key, *curve, now).await? {
                Verdict::Go { attempts: n } => {
                    if reserved.is_empty() {
                        attempts = n;
                    }
                    reserved.push(key);
                }
                Verdict::Wait { retry_after_secs } => {
                    wait = Some(retry_after_secs);
                    break;
                }
            }
        }
        if let Some(retry_after) = wait {
            // Refused by a later counter: the earlier ones did not see a real attempt.
            for key in reserved {
                throttle::refund(&mut conn, key).await?;
            }
            drop(conn);
            let details = json!({ "attempted": attempted, "reason": "throttled", "retry_after_secs": retry_after });
            self.record_failed_sign_in(db, &actor, Outcome::Denied, email.as_ref(), details, meta).await?;
            return Ok(SignIn::Throttled { retry_after_secs: retry_after });
        }
        drop(conn);

        // The same argon2 work whether or not the account exists.
        let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let password_ok = admission.verify(password_given, stored).await;
        let Some(user) = user.filter(|_| password_ok) else {
            let details = json!({
                "attempted": attempted, "reason": "invalid credentials", "failures": attempts,
                "recognised_device": recognised,
            });
            self.record_failed_sign_in(db, &actor, Outcome::Failure, email.as_ref(), details, meta).await?;
            if !recognised && attempts == throttle::ACCOUNT.pause_at && actor.id != "anonymous" {
                // The owner hears of the pause; the notice waits in the outbox while the
                // mail server does not answer.
                let mut tx = db.begin().await?;
                self.queue_mail(&mut tx, tenant.id, &actor.id, AccountMail::Lockout).await?;
                tx.commit().await?;
                self.wake(tenant.id).await;
            }
            return Ok(SignIn::Invalid);
        };

        let (outcome, result) = match user.status {
            UserStatus::Disabled => (Some("disabled"), SignIn::Disabled),
            _ if user.sso_required => (Some("password sign-in of an SSO user"), SignIn::SsoRequired),
            UserStatus::ForceChangePassword if user.password_expires_at.is_some_and(|t| t < now) => {
                (Some("temporary password expired"), SignIn::TemporaryExpired)
            }
            UserStatus::ForceChangePassword => (None, SignIn::MustChangePassword(user.clone())),
            UserStatus::Active => (None, SignIn::Success(user.clone())),
        };
        let mut tx = db.begin().await?;
        // The right password forgives the failures of the counters it was charged to: a
        // recognised browser's own; otherwise the account's (it was not paused, or this
        // attempt would not have been let through), and the address's shared ceiling gets
        // this attempt back. A recognised browser's success leaves the account's pause on
        // unrecognised clients as it is: those failures were someone else's.
        match (&device_hash, recognised) {
            (Some(h), true) => throttle::clear(&mut tx, &throttle::device_key(h)).await?,
            _ => {
                throttle::clear(&mut tx, &account_key).await?;
                throttle::refund(&mut tx, &address_key).await?;
            }
        }
        let entry = match outcome {
            Some(reason) => audit_entry(&actor, "auth.login_failed", Outcome::Denied, meta)
                .resource("user", &user.id)
                .details(json!({ "attempted": attempted, "reason": reason })),
            None => audit_entry(&actor, "auth.login_succeeded", Outcome::Success, meta)
                .resource("user", &user.id)
                .details(json!({ "must_change_password": user.status == UserStatus::ForceChangePassword,
                    "recognised_device": recognised })),
        };
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(result)
    }

    /// Writes a failed sign-in's audit entry, at most
    /// [`throttle::AUDITED_FAILURES_PER_MINUTE`] per (account, address) and minute, so a
    /// flood of guesses cannot flood the trail. The pair's first entry of a later minute
    /// says how many went unrecorded before it; every failure is still counted by the
    /// throttle.
    async fn record_failed_sign_in(
        &self,
        db: &Db,
        actor: &Actor,
        outcome: Outcome,
        email: Option<&Email>,
        mut details: Value,
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let cap = throttle::AUDITED_FAILURES_PER_MINUTE;
        let key = throttle::audit_key(email, meta.ip.as_deref());
        let minute = now_ms() / 60_000;
        let (n, carried) = store::count_audit_event(&mut *db.writer().acquire().await?, &key, minute, cap).await?;
        if n > cap {
            return Ok(());
        }
        if n == 1 && carried > 0 {
            details["not_recorded_before"] = json!(carried);
        }
        if n == cap {
            details["further_failures_this_minute"] = json!("counted, not recorded");
        }
        AuditService::record_now(db, audit_entry(actor, "auth.login_failed", outcome, meta).details(details)).await?;
        Ok(())
    }

    /// Remembers the browser that just signed in as `user` and returns the token for its
    /// device cookie: always a new one (stored as its SHA-256); the tokens the browser sent
    /// (`previous`: its own, and any planted beside it) are forgotten for this user.
    pub async fn remember_device(&self, db: &Db, user: &User, previous: &[String]) -> Result<String, IdentityError> {
        let now = now_ms();
        let token = cairn_domain::random_token(32);
        let mut tx = db.begin().await?;
        for p in previous.iter().take(4) {
            store::forget_device(&mut tx, &digest(p), &user.id).await?;
        }
        store::remember_device(&mut tx, &digest(&token), &user.id, now, now + DEVICE_DAYS * 86_400_000).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The user chooses their own password: at first sign-in (after a temporary one), or
    /// from their profile with the current password. Every other sign-in of the user ends
    /// (refresh-token families, provider sessions, and their access tokens); `session`, the
    /// one the change is made from, stays signed in.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_password(
        &self,
        tenant: TenantId,
        db: &Db,
        id: &str,
        current: Option<&str>,
        new_password: &str,
        session: &CurrentSession,
        meta: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let now = now_ms();
        let before = users::load(&mut *db.reader().acquire().await?, id).await?;
        if before.status == UserStatus::Disabled {
            return Err(IdentityError::Conflict("the account is disabled".into()));
        }
        let old_hash = before.password_hash.as_deref();
        if let Some(current) = current
            && !self.argon2.verify(current, old_hash).await?
        {
            return Err(ValidationError::new("current_password", "is not your current password").into());
        }
        password::check_policy("new_password", new_password, &before.email)?;
        if self.argon2.verify(new_password, old_hash).await? {
            return Err(ValidationError::new("new_password", "must differ from the current password").into());
        }
        let hash = self.argon2.hash(new_password).await?;
        let mut tx = db.begin().await?;
        let mut user = users::load(&mut tx, id).await?;
        // Hashing ran outside the transaction: refuse if the password changed meanwhile.
        if user.password_hash != before.password_hash || user.status == UserStatus::Disabled {
            return Err(IdentityError::Conflict("the account changed meanwhile; try again".into()));
        }
        let first = user.status == UserStatus::ForceChangePassword;
        user.password_hash = Some(hash);
        user.password_expires_at = None;
        user.status = UserStatus::Active;
        user.updated_at = now;
        users::store::update_user(&mut tx, &user).await?;
        let ended = self.end_other_sessions(&mut tx, &user.id, now, session).await?;
        let entry = audit_entry(&user.actor(), "user.password_changed", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "first_sign_in": first, "sessions_revoked": ended.total() }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        self.tokens.revocations().ended(tenant).await;
        Ok(user)
    }

    /// Ends the user's sign-ins but `session`, in the change's transaction. The kept family
    /// must be the user's own and still standing; otherwise nothing is kept.
    async fn end_other_sessions(
        &self,
        conn: &mut AnyConnection,
        user_id: &str,
        now: i64,
        session: &CurrentSession,
    ) -> Result<Ended, IdentityError> {
        let family = match session.family.as_deref() {
            Some(f) => crate::provider::store::family(conn, f)
                .await?
                .filter(|f| f.user_id == user_id && !f.revoked)
                .map(|f| f.id),
            None => None,
        };
        let provider_session = session.provider_session.as_deref().map(digest);
        let reason = "password changed";
        Ok(revoke_grants_except(conn, user_id, now, reason, family.as_deref(), provider_session.as_deref()).await?)
    }
}

/// The digest of the first of `devices` recognised for `user_id`; at most four are looked
/// at (a browser sends one, or a planted one beside the owner's).
async fn recognised_device(
    conn: &mut AnyConnection,
    devices: &[String],
    user_id: &str,
    now: i64,
) -> Result<Option<String>, IdentityError> {
    recognised_digest(conn, &device_digests(devices), user_id, now).await
}

/// The digests device cookies are stored and compared as: at most four, none empty.
pub(crate) fn device_digests(devices: &[String]) -> Vec<String> {
    devices.iter().filter(|d| !d.is_empty()).take(4).map(|d| digest(d)).collect()
}

/// As [`recognised_device`], from the cookies' digests.
pub(crate) async fn recognised_digest(
    conn: &mut AnyConnection,
    digests: &[String],
    user_id: &str,
    now: i64,
) -> Result<Option<String>, IdentityError> {
    for hash in digests {
        if store::device_known(conn, hash, user_id, now).await? {
            return Ok(Some(hash.clone()));
        }
    }
    Ok(None)
}
