//! The forgot-password flow on [`Identity`]: the request, the consumer's answer (caps,
//! code, mail) and the last step; their SQL is in [`super::store`].

use cairn_audit::{Actor, AuditService, Outcome, RequestMeta};
use cairn_domain::{TenantId, now_ms};
use cairn_events::{Failure, Job, NewEvent};
use cairn_store::{Db, Tenant};
use serde_json::{Value, json};

use super::{RESET_CODE_MINUTES, RESET_REQUESTED, ResetOutcome, store};
use crate::mail::{AccountMail, system};
use crate::model::{Email, User, UserStatus};
use crate::password::ResetCode;
use crate::signin;
use crate::signin::throttle::{self, Verdict};
use crate::store::revocation::revoke_user_grants;
use crate::{Identity, IdentityError, audit_entry, password, users};

/// Guesses one reset code takes before it is void.
const RESET_CODE_MAX_ATTEMPTS: i64 = 5;
/// The purpose of the key that reset codes are digested under.
const RESET_CODE_KEY: &str = "identity/reset-codes";

const RESET_AAD: &str = "password-reset-request";

impl Identity {
    /// Forgot password, step one. Writes the request and answers: one insert, the same for
    /// any email, known or not (nothing here tells them apart); the `password_reset`
    /// consumer does the rest. `devices` are the browser's device cookies: a browser
    /// recognised for the account is the owner's, and is not held by the per-account cap on
    /// codes that others' requests can use up.
    pub async fn request_reset(
        &self,
        tenant: TenantId,
        db: &Db,
        email: &str,
        devices: Vec<String>,
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        // Device cookies travel as the digests they are stored as, never as the cookies.
        let request = json!({
            "email": email, "device_digests": signin::device_digests(&devices),
            "ip": meta.ip, "user_agent": meta.user_agent, "request_id": meta.request_id,
        });
        let sealed = self.store.master_key().seal(request.to_string().as_bytes(), RESET_AAD);
        let event = NewEvent {
            kind: RESET_REQUESTED,
            resource_type: "user",
            resource_id: String::new(),
            payload: json!({ "sealed": sealed }),
        };
        let mut tx = db.begin().await?;
        cairn_events::emit(&mut tx, tenant, &system(), event).await?;
        tx.commit().await?;
        self.wake(tenant).await;
        Ok(())
    }

    /// What the `password_reset` consumer does with one request: opens it and sends a code.
    pub(super) async fn answer_reset_request(&self, job: &Job) -> Result<(), Failure> {
        let sealed = job.event.payload["sealed"].as_str().unwrap_or_default();
        let request: Value = self
            .store
            .master_key()
            .open(sealed, RESET_AAD)
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(|| Failure::Permanent("the reset request cannot be opened with this master key".into()))?;
        // An address that is no email has no account: nothing to do, as for an unknown one.
        let Some(email) = request["email"].as_str().and_then(|e| Email::parse(e).ok()) else { return Ok(()) };
        let devices: Vec<String> = request["device_digests"]
            .as_array()
            .map(|d| d.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        let text = |k: &str| request[k].as_str().map(str::to_owned);
        let meta = RequestMeta { ip: text("ip"), user_agent: text("user_agent"), request_id: text("request_id") };
        self.send_reset_code(&job.tenant, &job.db, &email, &devices, &meta)
            .await
            .map_err(|e| Failure::Retry(e.to_string()))
    }

    /// Forgot password, what the `password_reset` consumer does for one request
    /// ([`Identity::request_reset`]): the caps, a new code, and its mail queued with it.
    async fn send_reset_code(
        &self,
        tenant: &Tenant,
        db: &Db,
        email: &Email,
        device_digests: &[String],
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let now = now_ms();
        let mut tx = db.begin().await?;
        let user = users::store::user_by_email(&mut tx, email).await?;
        let recognised = match &user {
            Some(u) => signin::recognised_digest(&mut tx, device_digests, &u.id, now).await?.is_some(),
            None => false,
        };
        // Sends, not guesses, are capped (mail bombing): per (account, address), so that
        // someone else asking for codes does not use up the owner's, and per account —
        // except for the owner's recognised browser, which others' requests cannot hold.
        let (pair_key, account_key) = throttle::reset_send_keys(email, meta.ip.as_deref());
        let from_here = throttle::count(&mut tx, &pair_key, now).await?;
        let capped = from_here > throttle::RESET_SENDS_PER_ADDRESS
            || (!recognised && throttle::count(&mut tx, &account_key, now).await? > throttle::RESET_SENDS_PER_ACCOUNT);
        let Some(user) = user.filter(|u| u.status != UserStatus::Disabled) else {
            tx.commit().await?;
            return Ok(());
        };
        if capped {
            let entry = audit_entry(&user.actor(), "auth.password_reset_requested", Outcome::Denied, meta)
                .resource("user", &user.id)
                .details(json!({ "reason": "too many codes requested" }));
            AuditService::record(db, &mut tx, entry).await?;
            tx.commit().await?;
            return Ok(());
        }
        // A new code, beside any still live, starts with no guesses counted against it.
        let code = ResetCode::generate();
        store::put_reset_code(
            &mut tx,
            &user.id,
            &self.reset_digest(&user.id, code.as_str()),
            now,
            now + RESET_CODE_MINUTES * 60_000,
        )
        .await?;
        let entry = audit_entry(&user.actor(), "auth.password_reset_requested", Outcome::Success, meta)
            .resource("user", &user.id);
        AuditService::record(db, &mut tx, entry).await?;
        self.queue_mail(&mut tx, tenant.id, &user.id, AccountMail::ResetCode { code: code.grouped() }).await?;
        tx.commit().await?;
        self.wake(tenant.id).await;
        Ok(())
    }

    /// Forgot password, step two: a valid code sets the new password. Every failure is the
    /// same [`ResetOutcome::Invalid`], whether the email is unknown, the code wrong, used
    /// or expired, after the same work: the new password is hashed first in every case,
    /// and the code's row is looked up (and its guess counted) the same way.
    ///
    /// Guesses are limited per code ([`RESET_CODE_MAX_ATTEMPTS`], then the code is void)
    /// and per address across accounts ([`throttle::RESET_GUESSES`]).
    pub async fn finish_reset(
        &self,
        tenant: TenantId,
        db: &Db,
        email: &str,
        code: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<ResetOutcome, IdentityError> {
        let now = now_ms();
        let email = Email::parse(email)?;
        password::check_policy("new_password", new_password, &email)?;
        let admission = self.argon2.admit()?;
        let guess_key = throttle::reset_guess_key(meta.ip.as_deref());
        if let Verdict::Wait { retry_after_secs } =
            throttle::reserve(&mut *db.writer().acquire().await?, &guess_key, throttle::RESET_GUESSES, now).await?
        {
            return Ok(ResetOutcome::Throttled { retry_after_secs });
        }
        let hash = admission.hash(new_password).await?;
        let code = ResetCode::parse(code);
        let mut tx = db.begin().await?;
        let user = users::store::user_by_email(&mut tx, &email).await?.filter(|u| u.status != UserStatus::Disabled);
        let user_id = user.as_ref().map(|u| u.id.clone()).unwrap_or_else(|| "-".into());
        let given = self.reset_digest(&user_id, code.as_ref().map(ResetCode::as_str).unwrap_or("-"));
        let stored = store::attempt_reset_code(&mut tx, &user_id, &given, now).await?;
        let valid = code.is_some()
            && stored.is_some_and(|(expires_at, attempts)| expires_at > now && attempts <= RESET_CODE_MAX_ATTEMPTS);
        let Some(mut user) = user.clone().filter(|_| valid) else {
            let actor = Actor { id: "anonymous".into(), email: Some(email.to_string()) };
            let actor = user.as_ref().map(User::actor).unwrap_or(actor);
            let entry = audit_entry(&actor, "auth.password_reset_failed", Outcome::Failure, meta)
                .details(json!({ "attempted": { "email": email.as_str() } }));
            AuditService::record(db, &mut tx, entry).await?;
            store::void_reset_codes(&mut tx, &user_id, RESET_CODE_MAX_ATTEMPTS, now).await?;
            tx.commit().await?;
            return Ok(ResetOutcome::Invalid);
        };
        user.password_hash = Some(hash);
        user.password_expires_at = None;
        user.status = UserStatus::Active;
        user.updated_at = now;
        users::store::update_user(&mut tx, &user).await?;
        store::delete_reset_codes(&mut tx, &user.id).await?;
        let ended = revoke_user_grants(&mut tx, &user.id, now, "password reset").await?;
        throttle::clear(&mut tx, &throttle::account_key(Some(&user.email))).await?;
        throttle::refund(&mut tx, &guess_key).await?;
        let entry = audit_entry(&user.actor(), "user.password_reset", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "by": "emailed code", "sessions_revoked": ended.total() }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        self.tokens.revocations().ended(tenant).await;
        Ok(ResetOutcome::Done)
    }

    /// The hosted page where a reset code is entered, linked from the mail.
    pub(crate) fn reset_url(&self, tenant: &Tenant) -> String {
        format!("{}/t/{}/reset", self.public_url, tenant.slug)
    }

    /// The keyed digest a reset code is stored as: HMAC-SHA256 under a key derived from
    /// the master key, over the user id and the code, so a copy of the database alone does
    /// not allow testing guesses offline.
    fn reset_digest(&self, user_id: &str, code: &str) -> String {
        self.store.master_key().mac(RESET_CODE_KEY, format!("{user_id}:{code}").as_bytes())
    }
}
