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
//! Forgot-password requests go the same way one step earlier: the request writes one
//! `internal.password_reset_requested` event, the same work whether or not the email has
//! an account, and the `password_reset` consumer looks the account up, applies the caps,
//! stores a code and queues its mail.

use std::sync::Arc;

use cairn_audit::{Actor, RequestMeta};
use cairn_domain::TenantId;
use cairn_events::{Failure, Handler, HandlerFuture, Job, NewEvent};
use cairn_mail::templates;
use cairn_store::sqlx::AnyConnection;
use serde_json::{Value, json};

use crate::model::Email;
use crate::service::TEMPORARY_PASSWORD_DAYS;
use crate::throttle::{self, MAX_BLOCK_MS};
use crate::{Identity, IdentityError, UserStatus};

/// The event type of an account mail.
pub const ACCOUNT_MAIL: &str = "internal.account_mail";
/// The consumer that sends account mail.
pub const MAIL_CONSUMER: &str = "account_mail";
/// The event type of a forgot-password request.
pub const RESET_REQUESTED: &str = "internal.password_reset_requested";
/// The consumer that answers forgot-password requests.
pub const RESET_CONSUMER: &str = "password_reset";

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

const RESET_AAD: &str = "password-reset-request";

fn system() -> Actor {
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

    /// Forgot password, step one. Writes the request and answers: one insert, the same for
    /// any email, known or not (nothing here tells them apart); the `password_reset`
    /// consumer does the rest. `devices` are the browser's device cookies: a browser
    /// recognised for the account is the owner's, and is not held by the per-account cap on
    /// codes that others' requests can use up.
    pub async fn request_reset(
        &self,
        tenant: TenantId,
        db: &cairn_store::Db,
        email: &str,
        devices: Vec<String>,
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        // Device cookies travel as the digests they are stored as, never as the cookies.
        let request = json!({
            "email": email, "device_digests": crate::service::device_digests(&devices),
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
        message.message_id = Some(format!("<{}@{}>", job.event.id, host_of(&self.public_url)));
        Ok(Some(message))
    }

    async fn answer_reset_request(&self, job: &Job) -> Result<(), Failure> {
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
}

fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| "cairn".into())
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
