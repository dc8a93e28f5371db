//! Account mail — invitations, reset codes, lockout notices — sent through the event
//! outbox: the change that calls for a mail writes an `internal.account_mail` event in its
//! own transaction, and the `account_mail` consumer sends it, retried with the worker's
//! backoff while the mail server does not answer and listed among failed deliveries when it
//! gives up. A crash after the commit loses nothing; the message keeps one `Message-ID` per
//! event, so a resend after a crash mid-delivery is one message to a mail system that
//! deduplicates.
//!
//! The secret a mail carries (a temporary password, a reset code) is sealed with the master
//! key in the event's payload, bound to the user, so the outbox holds no secret in the
//! clear. `internal.*` events are never listed, streamed or offered to webhooks.
//!
//! Forgot-password requests go the same way one step earlier ([`crate::reset`]).

use std::sync::Arc;

use cairn_audit::Actor;
use cairn_domain::TenantId;
use cairn_events::{Failure, Handler, HandlerFuture, Job, NewEvent};
use cairn_mail::templates;
use cairn_store::sqlx::AnyConnection;
use serde_json::json;

use crate::signin::throttle::{self, MAX_BLOCK_MS};
use crate::users::TEMPORARY_PASSWORD_DAYS;
use crate::{Identity, IdentityError, UserStatus};

/// The event type of an account mail.
pub const ACCOUNT_MAIL: &str = "internal.account_mail";
/// The consumer that sends account mail.
pub const MAIL_CONSUMER: &str = "account_mail";

/// Which mail, with the secret it carries.
#[derive(Debug, Clone)]
pub(crate) enum AccountMail {
    Invitation { temporary_password: String },
    ResetCode { code: String },
    Lockout,
}

impl AccountMail {
    fn kind(&self) -> &'static str {
        match self {
            AccountMail::Invitation { .. } => "invitation",
            AccountMail::ResetCode { .. } => "reset_code",
            AccountMail::Lockout => "lockout",
        }
    }

    fn secret(&self) -> &str {
        match self {
            AccountMail::Invitation { temporary_password } => temporary_password,
            AccountMail::ResetCode { code } => code,
            AccountMail::Lockout => "",
        }
    }
}

/// What a mail's sealed secret is bound to: its kind and its user.
fn mail_aad(kind: &str, user_id: &str) -> String {
    format!("account-mail:{kind}:{user_id}")
}

/// Cairn itself, the actor of the events it writes for its own work.
pub(crate) fn system() -> Actor {
    Actor { id: "cairn".into(), email: None }
}

impl Identity {
    /// Queues `mail` to the user `user_id` on `conn`, the transaction of the change that
    /// calls for it. The caller wakes the workers after its commit ([`Identity::wake`]).
    pub(crate) async fn queue_mail(
        &self,
        conn: &mut AnyConnection,
        tenant: TenantId,
        user_id: &str,
        mail: AccountMail,
    ) -> Result<String, IdentityError> {
        let kind = mail.kind();
        let sealed = self.store.master_key().seal(mail.secret().as_bytes(), &mail_aad(kind, user_id));
        let event = NewEvent {
            kind: ACCOUNT_MAIL,
            resource_type: "user",
            resource_id: user_id.to_owned(),
            payload: json!({ "kind": kind, "user_id": user_id, "sealed": sealed }),
        };
        Ok(cairn_events::emit(conn, tenant, &system(), event).await?.id)
    }

    /// Tells the event workers that `tenant` has new events.
    pub(crate) async fn wake(&self, tenant: TenantId) {
        self.tokens.revocations().bus().committed(tenant).await;
    }

    /// The mail an `internal.account_mail` event asks for, ready to send; `None` when there
    /// is nothing to send any more (the user is gone or disabled).
    async fn account_message(&self, job: &Job) -> Result<Option<cairn_mail::Message>, Failure> {
        let retry = |e: &dyn std::fmt::Display| Failure::Retry(e.to_string());
        let permanent = |e: &dyn std::fmt::Display| Failure::Permanent(e.to_string());
        let p = &job.event.payload;
        let (Some(kind), Some(user_id), Some(sealed)) =
            (p["kind"].as_str(), p["user_id"].as_str(), p["sealed"].as_str())
        else {
            return Err(Failure::Permanent("an account mail event without its kind, user or secret".into()));
        };
        let user = match self.get_user(&job.db, user_id).await {
            Ok(u) => u,
            Err(IdentityError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(retry(&e)),
        };
        if user.status == UserStatus::Disabled {
            return Ok(None);
        }
        let secret = self
            .store
            .master_key()
            .open(sealed, &mail_aad(kind, user_id))
            .ok()
            .and_then(|s| String::from_utf8(s).ok())
            .ok_or_else(|| Failure::Permanent("the mail's secret cannot be opened with this master key".into()))?;
        let settings = self.settings(&job.db).await.map_err(|e| retry(&e))?;
        let branding = self.branding(&job.tenant, &settings);
        let to = user.email.as_str();
        let mut message = match kind {
            "invitation" => {
                templates::invitation(&branding, to, &secret, &self.sign_in_url(&job.tenant), TEMPORARY_PASSWORD_DAYS)
            }
            "reset_code" => templates::reset_code(&branding, to, &secret, &self.reset_url(&job.tenant)),
            "lockout" => templates::lockout(
                &branding,
                to,
                throttle::ACCOUNT.pause_at as u32,
                (MAX_BLOCK_MS / 60_000) as u32,
                &self.reset_url(&job.tenant),
            ),
            other => return Err(Failure::Permanent(format!("unknown account mail {other:?}"))),
        }
        .map_err(|e| permanent(&e))?;
        message.message_id = Some(cairn_mail::message_id(&job.event.id.to_string(), &self.public_url));
        Ok(Some(message))
    }
}

/// The `account_mail` consumer.
#[derive(Debug, Clone)]
pub struct AccountMailer {
    pub identity: Arc<Identity>,
}

impl Handler for AccountMailer {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(message) = self.identity.account_message(job).await? else { return Ok(()) };
            self.identity.mailer.send(&message).await.map_err(|e| Failure::Retry(e.to_string()))
        })
    }
}
