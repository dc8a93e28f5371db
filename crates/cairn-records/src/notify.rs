//! Publish notifications. The `publish_history` consumer receives each `record_published`
//! event and enqueues one `publish_mail:<user id>` delivery per subscribed user; the key
//! (event id, recipient) makes a redelivered event enqueue nothing new. Each of those
//! deliveries sends one message, retried while the mail server is unreachable.

use std::sync::Arc;

use cairn_audit::{Actor, RequestMeta};
use cairn_domain::{MasterKey, TenantId};
use cairn_events::{Failure, Handler, HandlerFuture, Job};
use cairn_identity::{Identity, User, UserPatch, UserStatus};
use cairn_mail::templates::{PublishNotice, publish_notice};
use cairn_store::Db;
use serde_json::{Map, Value, json};

/// The consumer subscribed to `record_published`.
pub const CONSUMER: &str = "publish_history";
/// The prefix of the per-recipient deliveries.
pub const MAIL: &str = "publish_mail";
/// The user-metadata key of the subscription.
pub const SUBSCRIPTION: &str = "publish_history";

/// Whether a user gets publish notices: active, and subscribed.
pub fn subscribed(u: &User) -> bool {
    u.status != UserStatus::Disabled && u.user_metadata.get(SUBSCRIPTION).and_then(Value::as_bool).unwrap_or(false)
}

const UNSUBSCRIBE_AAD: &str = "unsubscribe:publish_history";

/// The capability in an unsubscribe link: sealed (tenant, user), so it names its tenant
/// and user without a session and cannot be forged or altered.
pub fn unsubscribe_token(key: &MasterKey, tenant: TenantId, user_id: &str) -> String {
    key.seal(json!({ "t": tenant.to_string(), "u": user_id }).to_string().as_bytes(), UNSUBSCRIBE_AAD)
}

/// The tenant and user an unsubscribe token names, if it is genuine.
pub fn open_unsubscribe(key: &MasterKey, token: &str) -> Option<(TenantId, String)> {
    let plain = key.open(token, UNSUBSCRIBE_AAD).ok()?;
    let v: Value = serde_json::from_slice(&plain).ok()?;
    Some((v["t"].as_str()?.parse().ok()?, v["u"].as_str()?.to_owned()))
}

/// Turns a user's subscription on or off (audited as a change of the user's metadata).
pub async fn set_subscription(
    identity: &Identity,
    db: &Db,
    user_id: &str,
    on: bool,
    actor: &Actor,
    meta: &RequestMeta,
) -> Result<User, cairn_identity::IdentityError> {
    let mut m = Map::new();
    m.insert(SUBSCRIPTION.into(), Value::Bool(on));
    let patch = UserPatch { user_metadata: Some(m), ..UserPatch::default() };
    identity.update_user(db, user_id, patch, actor, meta).await
}

/// The `publish_history` consumer: fans a publication out to its subscribers.
#[derive(Debug, Clone)]
pub struct FanOut {
    pub identity: Arc<Identity>,
}

impl FanOut {
    async fn run(&self, job: &Job) -> Result<(), Failure> {
        let retry = |e: &dyn std::fmt::Display| Failure::Retry(e.to_string());
        let mut recipients = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.identity.list_users(&job.db, 500, after.as_deref()).await.map_err(|e| retry(&e))?;
            let last = page.last().map(|u| u.id.clone());
            recipients.extend(page.into_iter().filter(subscribed).map(|u| u.id));
            match last {
                Some(l) => after = Some(l),
                None => break,
            }
        }
        let mut tx = job.db.begin().await.map_err(|e| retry(&e))?;
        for id in &recipients {
            cairn_events::enqueue(&mut tx, &job.event.id, &format!("{MAIL}:{id}")).await.map_err(|e| retry(&e))?;
        }
        tx.commit().await.map_err(|e| retry(&e))?;
        tracing::debug!(event = %job.event.id, recipients = recipients.len(), "publish notices queued");
        Ok(())
    }
}

impl Handler for FanOut {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(self.run(job))
    }
}

/// The `publish_mail:<user id>` deliveries: one message to one subscriber.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub identity: Arc<Identity>,
}

impl Mailer {
    async fn run(&self, job: &Job) -> Result<(), Failure> {
        let retry = |e: &dyn std::fmt::Display| Failure::Retry(e.to_string());
        let user = match self.identity.get_user(&job.db, job.key()).await {
            Ok(u) => u,
            Err(cairn_identity::IdentityError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(retry(&e)),
        };
        // Unsubscribed (or disabled) since the publication: nothing to send.
        if !subscribed(&user) {
            return Ok(());
        }
        let p = &job.event.payload;
        let (title, note) = (p["title"].as_str().unwrap_or(""), p["note"].as_str().unwrap_or(""));
        let version = p["version"].as_i64().unwrap_or(0);
        let record = p["id"].as_str().unwrap_or(&job.event.resource_id);
        let publisher = job.event.actor.email.clone().unwrap_or_else(|| job.event.actor.id.clone());
        let base = &self.identity.public_url;
        let link = format!("{base}/t/{}/records/{record}", job.tenant.slug);
        let token = unsubscribe_token(self.identity.store.master_key(), job.tenant.id, &user.id);
        let unsubscribe = format!("{base}/unsubscribe/{token}");
        let settings = self.identity.settings(&job.db).await.map_err(|e| retry(&e))?;
        let branding = self.identity.branding(&job.tenant, &settings);
        let notice =
            PublishNotice { title, version, publisher: &publisher, note, link: &link, unsubscribe: &unsubscribe };
        let mut message =
            publish_notice(&branding, user.email.as_str(), &notice).map_err(|e| Failure::Permanent(e.to_string()))?;
        message.message_id = Some(cairn_mail::message_id(&format!("{}.{}", job.event.id, user.id), base));
        self.identity.mailer.send(&message).await.map_err(|e| retry(&e))
    }
}

impl Handler for Mailer {
    fn handle<'a>(&'a self, job: &'a Job) -> HandlerFuture<'a> {
        Box::pin(self.run(job))
    }
}
