//! The user pool's use cases on [`Identity`]; their SQL is in [`super::store`].

use cairn_audit::{Actor, AuditService, Outcome, RequestMeta};
use cairn_domain::{Role, TenantId, ValidationError, now_ms};
use cairn_mail::templates::Branding;
use cairn_store::sqlx::AnyConnection;
use cairn_store::{Db, Tenant};
use serde_json::{Map, json};

use super::{Invitation, NewUser, TEMPORARY_PASSWORD_DAYS, UserPatch, store};
use crate::mail::AccountMail;
use crate::model::{AppMetadata, Email, Name, Settings, User, UserStatus};
use crate::store::revocation::revoke_user_grants;
use crate::{Identity, IdentityError, audit_entry, password};

/// The user `id`, or [`IdentityError::NotFound`].
pub(crate) async fn load(conn: &mut AnyConnection, id: &str) -> Result<User, IdentityError> {
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
        let entry = audit_entry(actor, "identity.settings_changed", Outcome::Success, meta)
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
        let given_name = Name::parse("given_name", &new.given_name)?.into();
        let family_name = Name::parse("family_name", &new.family_name)?.into();
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
        let entry = audit_entry(actor, "user.created", Outcome::Success, meta).resource("user", &user.id).details(json!({
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
        let ended = revoke_user_grants(&mut tx, &user.id, now, "password reset by an admin").await?;
        let entry = audit_entry(actor, "user.password_reset", Outcome::Success, meta)
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
        let ended = revoke_user_grants(&mut tx, &user.id, now, "password set by an admin").await?;
        let entry = audit_entry(actor, "user.password_set", Outcome::Success, meta)
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
        let mut entry = audit_entry(actor, action, Outcome::Success, meta).resource("user", &user.id);
        if !enabled {
            let ended = revoke_user_grants(&mut tx, &user.id, now, "user disabled").await?;
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
        let ended = revoke_user_grants(&mut tx, &user.id, now, "roles changed").await?;
        let entry = audit_entry(actor, "user.role_changed", Outcome::Success, meta)
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
            user.given_name = Name::parse("given_name", g)?.into();
            changed.push("given_name");
        }
        if let Some(f) = &patch.family_name {
            user.family_name = Name::parse("family_name", f)?.into();
            changed.push("family_name");
        }
        if let Some(m) = patch.app_metadata {
            user.app_metadata = AppMetadata::parse(m)?.into();
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
        let entry = audit_entry(actor, "user.updated", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(json!({ "changed": changed }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(user)
    }
}

fn dedup(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}
