//! Use cases of a tenant's user pool: admins create and manage users; users sign in,
//! change and reset their passwords. Callers pass the tenant (from a verified token or a
//! client) and its database. Every change commits with its audit entry.

use std::sync::Arc;

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Role, TenantId, ValidationError, now_ms};
use cairn_mail::Mailer;
use cairn_mail::templates::Branding;
use cairn_store::sqlx::AnyConnection;
use cairn_store::{Db, Store, Tenant};
use serde_json::{Map, Value, json};

use crate::mail::AccountMail;
use crate::model::{Email, Settings, User, UserStatus, check_app_metadata, check_name, digest};
use crate::password::{Argon2Pool, ResetCode};
use crate::throttle::{self, MAX_BLOCK_MS, Verdict};
use crate::{CurrentSession, IdentityError, Tokens, password, store};

/// How long an invitation's temporary password works.
pub const TEMPORARY_PASSWORD_DAYS: u32 = 7;
/// How long a reset code works.
pub const RESET_CODE_MINUTES: i64 = 15;
/// Guesses one reset code takes before it is void.
const RESET_CODE_MAX_ATTEMPTS: i64 = 5;
/// How long a browser that signed in is recognised (its device cookie's lifetime).
pub const DEVICE_DAYS: i64 = 90;
/// The purpose of the key that reset codes are digested under.
const RESET_CODE_KEY: &str = "identity/reset-codes";

/// What an admin gives to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub given_name: String,
    pub family_name: String,
    pub roles: Vec<Role>,
}

/// An invitation: the temporary password (for the first start's banner, which prints it
/// instead of mailing it), and the outbox event of its mail when one was queued.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub temporary_password: String,
    pub mail_event: Option<String>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub app_metadata: Option<Map<String, Value>>,
    /// Merged into the user's metadata; a `null` value removes the key.
    pub user_metadata: Option<Map<String, Value>>,
    /// Admins only: the user must sign in through SSO.
    pub sso_required: Option<bool>,
}

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

/// The identity service: the store, the token issuer, the mailer and the public URL links
/// in mail point to.
#[derive(Debug, Clone)]
pub struct Identity {
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub mailer: Mailer,
    pub public_url: String,
    /// The guarded client for upstream identity providers (SSO): every discovery, key,
    /// token and userinfo request goes through it.
    pub outbound: cairn_outbound::Outbound,
    /// Where every password hash and verification runs.
    pub argon2: Argon2Pool,
}

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

fn audit(actor: &Actor, action: &'static str, outcome: Outcome, meta: &RequestMeta) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), outcome, meta.clone())
}

fn user_actor(u: &User) -> Actor {
    Actor { id: u.id.clone(), email: Some(u.email.to_string()) }
}

async fn load(conn: &mut AnyConnection, id: &str) -> Result<User, IdentityError> {
    store::user_by_id(conn, id).await?.ok_or(IdentityError::NotFound("user"))
}

fn temporary_expiry(now: i64) -> i64 {
    now + i64::from(TEMPORARY_PASSWORD_DAYS) * 86_400_000
}

impl Identity {
    pub async fn settings(&self, db: &Db) -> Result<Settings, IdentityError> {
        Ok(store::settings(&mut *db.reader().acquire().await?).await?)
    }

    /// Changes the settings as `change` says, on the stored ones read in the same
    /// transaction (so two partial updates at once both land), and validates the result.
    pub async fn update_settings(
        &self,
        db: &Db,
        change: impl FnOnce(&mut Settings),
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Settings, IdentityError> {
        let mut tx = db.begin().await?;
        let mut settings = store::settings(&mut tx).await?;
        change(&mut settings);
        settings.validate()?;
        store::put_settings(&mut tx, &settings).await?;
        let entry = audit(actor, "identity.settings_changed", Outcome::Success, meta)
            .resource("tenant", "settings")
            .details(serde_json::to_value(&settings).unwrap_or_default());
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(settings)
    }

    pub fn branding(&self, tenant: &Tenant, settings: &Settings) -> Branding {
        Branding {
            org: settings.display_name.clone().unwrap_or_else(|| tenant.name.clone()),
            accent: settings.accent.clone(),
        }
    }

    /// The web UI's sign-in address for a tenant.
    pub fn sign_in_url(&self, tenant: &Tenant) -> String {
        format!("{}/t/{}/", self.public_url, tenant.slug)
    }

    pub(crate) fn reset_url(&self, tenant: &Tenant) -> String {
        format!("{}/t/{}/reset", self.public_url, tenant.slug)
    }

    pub async fn get_user(&self, db: &Db, id: &str) -> Result<User, IdentityError> {
        load(&mut *db.reader().acquire().await?, id).await
    }

    pub async fn user_by_email(&self, db: &Db, email: &Email) -> Result<User, IdentityError> {
        store::user_by_email(&mut *db.reader().acquire().await?, email).await?.ok_or(IdentityError::NotFound("user"))
    }

    /// Users in id order (creation order), `limit` after the id `after`.
    pub async fn list_users(&self, db: &Db, limit: i64, after: Option<&str>) -> Result<Vec<User>, IdentityError> {
        Ok(store::list_users(db, limit, after).await?)
    }

    pub async fn count_users(&self, db: &Db) -> Result<i64, IdentityError> {
        Ok(store::count_users(db).await?)
    }

    /// Creates a user with a temporary password and queues their invitation mail in the
    /// same transaction ([`crate::mail`]).
    pub async fn create_user(
        &self,
        tenant: &Tenant,
        db: &Db,
        new: NewUser,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(User, Invitation), IdentityError> {
        self.insert_user(tenant, db, new, actor, meta, true).await
    }

    /// As [`Identity::create_user`], without the mail: the first start prints the first
    /// admin's password instead (they may have no mailbox yet).
    pub async fn create_user_unmailed(
        &self,
        tenant: &Tenant,
        db: &Db,
        new: NewUser,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(User, Invitation), IdentityError> {
        self.insert_user(tenant, db, new, actor, meta, false).await
    }

    async fn insert_user(
        &self,
        tenant: &Tenant,
        db: &Db,
        new: NewUser,
        actor: &Actor,
        meta: &RequestMeta,
        mail: bool,
    ) -> Result<(User, Invitation), IdentityError> {
        let now = now_ms();
        let temporary = password::temporary();
        let given_name = check_name("given_name", &new.given_name)?;
        let family_name = check_name("family_name", &new.family_name)?;
        let hash = self.argon2.hash(&temporary).await?;
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            email: new.email,
            given_name,
            family_name,
            status: UserStatus::ForceChangePassword,
            roles: dedup(new.roles),
            app_metadata: Map::new(),
            user_metadata: Map::new(),
            password_hash: Some(hash),
            password_expires_at: Some(temporary_expiry(now)),
            sso_required: false,
            created_at: now,
            updated_at: now,
        };
        let mut tx = db.begin().await?;
        if let Err(e) = store::insert_user(&mut tx, &user).await {
            return Err(if cairn_store::is_unique_violation(&e) {
                IdentityError::Conflict(format!("a user with email {} already exists", user.email))
            } else {
                e.into()
            });
        }
        let entry = audit(actor, "user.created", Outcome::Success, meta).resource("user", &user.id).details(json!({
            "email": user.email, "roles": user.roles, "given_name": user.given_name, "family_name": user.family_name,
        }));
        AuditService::record(db, &mut tx, entry).await?;
        let mail_event = if mail {
            let invitation = AccountMail::Invitation { temporary_password: temporary.clone() };
            Some(self.queue_mail(&mut tx, tenant.id, &user.id, invitation).await?)
        } else {
            None
        };
        tx.commit().await?;
        if mail {
            self.wake(tenant.id).await;
        }
        Ok((user, Invitation { temporary_password: temporary, mail_event }))
    }

    /// Gives the user a new temporary password (status `FORCE_CHANGE_PASSWORD`), ends their
    /// sessions, and queues the invitation mail with the change. Also how an invitation is
    /// resent.
    pub async fn reset_to_temporary(
        &self,
        tenant: &Tenant,
        db: &Db,
        id: &str,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(User, Invitation), IdentityError> {
        let now = now_ms();
        let temporary = password::temporary();
        let hash = self.argon2.hash(&temporary).await?;
        let mut tx = db.begin().await?;
        let mut user = load(&mut tx, id).await?;
        if user.status == UserStatus::Disabled {
            return Err(IdentityError::Conflict("the user is disabled; enable them first".into()));
        }
        user.password_hash = Some(hash);
        user.password_expires_at = Some(temporary_expiry(now));
        user.status = UserStatus::ForceChangePassword;
        user.updated_at = now;
        store::update_user(&mut tx, &user).await?;
        let ended = store::revoke_user_grants(&mut tx, &user.id, now, "password reset by an admin").await?;
        let entry = audit(actor, "user.password_reset", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "by": "admin", "temporary": true, "sessions_revoked": ended.total() }));
        AuditService::record(db, &mut tx, entry).await?;
        let invitation = AccountMail::Invitation { temporary_password: temporary.clone() };
        let mail_event = self.queue_mail(&mut tx, tenant.id, &user.id, invitation).await?;
        tx.commit().await?;
        self.tokens.revocations().ended(tenant.id).await;
        self.wake(tenant.id).await;
        Ok((user, Invitation { temporary_password: temporary, mail_event: Some(mail_event) }))
    }

    /// Sets a password for automation (as Cognito's admin-set-user-password): permanent
    /// makes the user `ACTIVE`, otherwise they must change it at next sign-in.
    #[allow(clippy::too_many_arguments)]
    pub async fn set_password(
        &self,
        tenant: TenantId,
        db: &Db,
        id: &str,
        new_password: &str,
        permanent: bool,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let now = now_ms();
        let email = load(&mut *db.reader().acquire().await?, id).await?.email;
        password::check_policy("password", new_password, &email)?;
        // Hashed before the transaction: the writer is not held while argon2 runs.
        let hash = self.argon2.hash(new_password).await?;
        let mut tx = db.begin().await?;
        let mut user = load(&mut tx, id).await?;
        user.password_hash = Some(hash);
        user.password_expires_at = if permanent { None } else { Some(temporary_expiry(now)) };
        if user.status != UserStatus::Disabled {
            user.status = if permanent { UserStatus::Active } else { UserStatus::ForceChangePassword };
        }
        user.updated_at = now;
        store::update_user(&mut tx, &user).await?;
        let ended = store::revoke_user_grants(&mut tx, &user.id, now, "password set by an admin").await?;
        let entry = audit(actor, "user.password_set", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "permanent": permanent, "sessions_revoked": ended.total() }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        self.tokens.revocations().ended(tenant).await;
        Ok(user)
    }

    /// Disables (ending every session and refresh token, and refusing their access tokens)
    /// or enables a user.
    pub async fn set_enabled(
        &self,
        tenant: TenantId,
        db: &Db,
        id: &str,
        enabled: bool,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let now = now_ms();
        let mut tx = db.begin().await?;
        let mut user = load(&mut tx, id).await?;
        if user.id == actor.id && !enabled {
            return Err(ValidationError::new("status", "you cannot disable yourself").into());
        }
        let was = user.status;
        user.status = match (enabled, was) {
            (false, _) => UserStatus::Disabled,
            (true, UserStatus::Disabled) if user.password_expires_at.is_some() => UserStatus::ForceChangePassword,
            (true, UserStatus::Disabled) => UserStatus::Active,
            (true, s) => s,
        };
        if user.status == was {
            return Ok(user);
        }
        user.updated_at = now;
        store::update_user(&mut tx, &user).await?;
        let action = if enabled { "user.enabled" } else { "user.disabled" };
        let mut entry = audit(actor, action, Outcome::Success, meta).resource("user", &user.id);
        if !enabled {
            let ended = store::revoke_user_grants(&mut tx, &user.id, now, "user disabled").await?;
            entry = entry.details(json!({ "sessions_revoked": ended.total() }));
        }
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        if !enabled {
            self.tokens.revocations().ended(tenant).await;
        }
        Ok(user)
    }

    /// Replaces a user's roles (empty: the tenant's default role applies). Tokens carry
    /// roles, so the user's sessions end and their access tokens are refused: they sign in
    /// again with the new roles.
    pub async fn set_roles(
        &self,
        tenant: TenantId,
        db: &Db,
        id: &str,
        roles: Vec<Role>,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let roles = dedup(roles);
        let mut tx = db.begin().await?;
        let mut user = load(&mut tx, id).await?;
        if user.id == actor.id && !roles.contains(&Role::Admin) && user.roles.contains(&Role::Admin) {
            return Err(ValidationError::new("roles", "you cannot remove your own admin role").into());
        }
        if user.roles == roles {
            return Ok(user);
        }
        let before = std::mem::replace(&mut user.roles, roles);
        let now = now_ms();
        user.updated_at = now;
        store::update_user(&mut tx, &user).await?;
        let ended = store::revoke_user_grants(&mut tx, &user.id, now, "roles changed").await?;
        let entry = audit(actor, "user.role_changed", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "from": before, "to": user.roles, "sessions_revoked": ended.total() }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        self.tokens.revocations().ended(tenant).await;
        Ok(user)
    }

    /// Changes names and metadata. App metadata is for admins; callers enforce that.
    pub async fn update_user(
        &self,
        db: &Db,
        id: &str,
        patch: UserPatch,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<User, IdentityError> {
        let mut tx = db.begin().await?;
        let mut user = load(&mut tx, id).await?;
        let mut changed = Vec::new();
        if let Some(g) = &patch.given_name {
            user.given_name = check_name("given_name", g)?;
            changed.push("given_name");
        }
        if let Some(f) = &patch.family_name {
            user.family_name = check_name("family_name", f)?;
            changed.push("family_name");
        }
        if let Some(m) = patch.app_metadata {
            check_app_metadata(&m)?;
            user.app_metadata = m;
            changed.push("app_metadata");
        }
        if let Some(m) = patch.user_metadata {
            for (k, v) in m {
                if v.is_null() {
                    user.user_metadata.remove(&k);
                } else {
                    user.user_metadata.insert(k, v);
                }
            }
            if serde_json::to_string(&user.user_metadata).map(|s| s.len()).unwrap_or(usize::MAX) > 8192 {
                return Err(ValidationError::new("user_metadata", "at most 8 KiB").into());
            }
            changed.push("user_metadata");
        }
        if let Some(flag) = patch.sso_required {
            user.sso_required = flag;
            changed.push("sso_required");
        }
        if changed.is_empty() {
            return Ok(user);
        }
        user.updated_at = now_ms();
        store::update_user(&mut tx, &user).await?;
        let entry = audit(actor, "user.updated", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "changed": changed }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(user)
    }

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
            Some(e) => store::user_by_email(&mut conn, e).await?,
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
        let actor = user.as_ref().map(user_actor).unwrap_or(anonymous);

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
                store::refund_attempt(&mut conn, key).await?;
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
            (Some(h), true) => store::clear_throttle(&mut tx, &throttle::device_key(h)).await?,
            _ => {
                store::clear_throttle(&mut tx, &account_key).await?;
                store::refund_attempt(&mut tx, &address_key).await?;
            }
        }
        let entry = match outcome {
            Some(reason) => audit(&actor, "auth.login_failed", Outcome::Denied, meta)
                .resource("user", &user.id)
                .details(json!({ "attempted": attempted, "reason": reason })),
            None => audit(&actor, "auth.login_succeeded", Outcome::Success, meta)
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
        AuditService::record_now(db, audit(actor, "auth.login_failed", outcome, meta).details(details)).await?;
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
        let before = load(&mut *db.reader().acquire().await?, id).await?;
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
        let mut user = load(&mut tx, id).await?;
        // Hashing ran outside the transaction: refuse if the password changed meanwhile.
        if user.password_hash != before.password_hash || user.status == UserStatus::Disabled {
            return Err(IdentityError::Conflict("the account changed meanwhile; try again".into()));
        }
        let first = user.status == UserStatus::ForceChangePassword;
        user.password_hash = Some(hash);
        user.password_expires_at = None;
        user.status = UserStatus::Active;
        user.updated_at = now;
        store::update_user(&mut tx, &user).await?;
        let ended = self.end_other_sessions(&mut tx, &user.id, now, session).await?;
        let entry = audit(&user_actor(&user), "user.password_changed", Outcome::Success, meta)
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
    ) -> Result<store::Ended, IdentityError> {
        let family = match session.family.as_deref() {
            Some(f) => store::family(conn, f).await?.filter(|f| f.user_id == user_id && !f.revoked).map(|f| f.id),
            None => None,
        };
        let provider_session = session.provider_session.as_deref().map(digest);
        let reason = "password changed";
        Ok(store::revoke_grants_except(conn, user_id, now, reason, family.as_deref(), provider_session.as_deref())
            .await?)
    }

    /// The keyed digest a reset code is stored as: HMAC-SHA256 under a key derived from
    /// the master key, over the user id and the code, so a copy of the database alone does
    /// not allow testing guesses offline.
    fn reset_digest(&self, user_id: &str, code: &str) -> String {
        self.store.master_key().mac(RESET_CODE_KEY, format!("{user_id}:{code}").as_bytes())
    }

    /// Forgot password, what the `password_reset` consumer does for one request
    /// ([`Identity::request_reset`]): the caps, a new code, and its mail queued with it.
    pub(crate) async fn send_reset_code(
        &self,
        tenant: &Tenant,
        db: &Db,
        email: &Email,
        device_digests: &[String],
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let now = now_ms();
        let mut tx = db.begin().await?;
        let user = store::user_by_email(&mut tx, email).await?;
        let recognised = match &user {
            Some(u) => recognised_digest(&mut tx, device_digests, &u.id, now).await?.is_some(),
            None => false,
        };
        // Sends, not guesses, are capped (mail bombing): per (account, address), so that
        // someone else asking for codes does not use up the owner's, and per account —
        // except for the owner's recognised browser, which others' requests cannot hold.
        let (pair_key, account_key) = throttle::reset_send_keys(email, meta.ip.as_deref());
        let from_here = store::bump_throttle(&mut tx, &pair_key, now, MAX_BLOCK_MS).await?;
        let capped = from_here > throttle::RESET_SENDS_PER_ADDRESS
            || (!recognised
                && store::bump_throttle(&mut tx, &account_key, now, MAX_BLOCK_MS).await?
                    > throttle::RESET_SENDS_PER_ACCOUNT);
        let Some(user) = user.filter(|u| u.status != UserStatus::Disabled) else {
            tx.commit().await?;
            return Ok(());
        };
        if capped {
            let entry = audit(&user_actor(&user), "auth.password_reset_requested", Outcome::Denied, meta)
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
        let entry = audit(&user_actor(&user), "auth.password_reset_requested", Outcome::Success, meta)
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
        let user = store::user_by_email(&mut tx, &email).await?.filter(|u| u.status != UserStatus::Disabled);
        let user_id = user.as_ref().map(|u| u.id.clone()).unwrap_or_else(|| "-".into());
        let given = self.reset_digest(&user_id, code.as_ref().map(ResetCode::as_str).unwrap_or("-"));
        let stored = store::attempt_reset_code(&mut tx, &user_id, &given, now).await?;
        let valid = code.is_some()
            && stored.is_some_and(|(expires_at, attempts)| expires_at > now && attempts <= RESET_CODE_MAX_ATTEMPTS);
        let Some(mut user) = user.clone().filter(|_| valid) else {
            let actor = Actor { id: "anonymous".into(), email: Some(email.to_string()) };
            let actor = user.as_ref().map(user_actor).unwrap_or(actor);
            let entry = audit(&actor, "auth.password_reset_failed", Outcome::Failure, meta)
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
        store::update_user(&mut tx, &user).await?;
        store::delete_reset_codes(&mut tx, &user.id).await?;
        let ended = store::revoke_user_grants(&mut tx, &user.id, now, "password reset").await?;
        store::clear_throttle(&mut tx, &throttle::account_key(Some(&user.email))).await?;
        store::refund_attempt(&mut tx, &guess_key).await?;
        let entry = audit(&user_actor(&user), "user.password_reset", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "by": "emailed code", "sessions_revoked": ended.total() }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        self.tokens.revocations().ended(tenant).await;
        Ok(ResetOutcome::Done)
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
async fn recognised_digest(
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

fn dedup(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}
