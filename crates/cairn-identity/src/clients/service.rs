//! The clients' use cases on [`Identity`]; their SQL is in [`super::store`].

use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Role, ValidationError, now_ms};
use cairn_store::{Db, Tenant};
use serde_json::json;

use super::{ClientPatch, NewClient, store};
use crate::model::{Client, Name, RedirectUri, digest, new_handle};
use crate::{Identity, IdentityError};

/// Redirect URIs as registered: each checked, at most 20.
fn check_uris(field: &str, uris: &[String]) -> Result<Vec<String>, ValidationError> {
    if uris.len() > 20 {
        return Err(ValidationError::new(field, "at most 20"));
    }
    uris.iter().map(|u| RedirectUri::parse(field, u).map(String::from)).collect()
}

/// A client that signs users in needs somewhere to send them back.
fn check_kind(service_role: Option<Role>, public: bool, redirect_uris: &[String]) -> Result<(), ValidationError> {
    match (service_role, public, redirect_uris.is_empty()) {
        (Some(_), true, _) => Err(ValidationError::new("public", "a service client must be confidential")),
        (None, _, true) => Err(ValidationError::new("redirect_uris", "at least one is required")),
        _ => Ok(()),
    }
}

/// A client's name: required, as a display name.
fn check_client_name(name: &str) -> Result<String, ValidationError> {
    let name = Name::parse("name", name)?;
    if name.is_empty() {
        return Err(ValidationError::new("name", "is required"));
    }
    Ok(name.into())
}

/// A client secret: 256 random bits.
fn new_secret() -> String {
    cairn_domain::random_token(32)
}

fn entry(actor: &Actor, action: &'static str, meta: &RequestMeta, client_id: &str) -> NewEntry {
    NewEntry::new(actor.clone(), Action::fixed(action), Outcome::Success, meta.clone()).resource("client", client_id)
}

impl Identity {
    /// Registers a client; returns it with its secret (confidential clients only), which
    /// is never shown again.
    pub async fn create_client(
        &self,
        tenant: &Tenant,
        db: &Db,
        new: NewClient,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(Client, Option<String>), IdentityError> {
        let name = check_client_name(&new.name)?;
        let redirect_uris = check_uris("redirect_uris", &new.redirect_uris)?;
        let post_logout_uris = check_uris("post_logout_redirect_uris", &new.post_logout_uris)?;
        check_kind(new.service_role, new.public, &redirect_uris)?;
        let secret = (!new.public).then(new_secret);
        let client = Client {
            client_id: new_handle(tenant.id).chars().take(32 + 1 + 22).collect(),
            name,
            secret_hash: secret.as_deref().map(digest),
            public: new.public,
            service_role: new.service_role,
            redirect_uris,
            post_logout_uris,
            created_at: now_ms(),
        };
        let mut tx = db.begin().await?;
        store::insert_client(&mut tx, &client).await?;
        let e = entry(actor, "client.created", meta, &client.client_id).details(json!({
            "name": client.name, "public": client.public, "service_role": client.service_role,
            "redirect_uris": client.redirect_uris, "post_logout_redirect_uris": client.post_logout_uris,
        }));
        AuditService::record(db, &mut tx, e).await?;
        tx.commit().await?;
        Ok((client, secret))
    }

    pub async fn list_clients(&self, db: &Db) -> Result<Vec<Client>, IdentityError> {
        Ok(store::list_clients(db).await?)
    }

    /// Clients in client-id order after `after`, at most `limit`: one page of a list.
    pub async fn list_clients_after(
        &self,
        db: &Db,
        limit: i64,
        after: Option<&str>,
    ) -> Result<Vec<Client>, IdentityError> {
        Ok(store::clients_after(db, after, limit).await?)
    }

    pub async fn get_client(&self, db: &Db, client_id: &str) -> Result<Client, IdentityError> {
        store::client_by_id(&mut *db.reader().acquire().await?, client_id)
            .await?
            .ok_or(IdentityError::NotFound("client"))
    }

    /// Changes a client's name or redirect URIs, with the checks of registration; the audit
    /// entry names what changed.
    pub async fn update_client(
        &self,
        db: &Db,
        client_id: &str,
        patch: ClientPatch,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Client, IdentityError> {
        let name = patch.name.as_deref().map(check_client_name).transpose()?;
        let redirect_uris = patch.redirect_uris.as_deref().map(|u| check_uris("redirect_uris", u)).transpose()?;
        let post_logout_uris =
            patch.post_logout_uris.as_deref().map(|u| check_uris("post_logout_redirect_uris", u)).transpose()?;
        let mut tx = db.begin().await?;
        let mut client = store::client_by_id(&mut tx, client_id).await?.ok_or(IdentityError::NotFound("client"))?;
        let mut changed = serde_json::Map::new();
        if let Some(n) = name.filter(|n| *n != client.name) {
            changed.insert("name".into(), json!(n));
            client.name = n;
        }
        if let Some(u) = redirect_uris.filter(|u| *u != client.redirect_uris) {
            changed.insert("redirect_uris".into(), json!(u));
            client.redirect_uris = u;
        }
        if let Some(u) = post_logout_uris.filter(|u| *u != client.post_logout_uris) {
            changed.insert("post_logout_redirect_uris".into(), json!(u));
            client.post_logout_uris = u;
        }
        check_kind(client.service_role, client.public, &client.redirect_uris)?;
        if changed.is_empty() {
            return Ok(client);
        }
        store::update_client(&mut tx, &client, now_ms()).await?;
        let e = entry(actor, "client.updated", meta, client_id).details(json!({ "changed": changed }));
        AuditService::record(db, &mut tx, e).await?;
        tx.commit().await?;
        Ok(client)
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_client_secret(
        &self,
        db: &Db,
        client_id: &str,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<String, IdentityError> {
        let secret = new_secret();
        let mut tx = db.begin().await?;
        let client = store::client_by_id(&mut tx, client_id).await?.ok_or(IdentityError::NotFound("client"))?;
        if client.public {
            return Err(IdentityError::Conflict("a public client has no secret".into()));
        }
        store::set_client_secret(&mut tx, client_id, &digest(&secret), now_ms()).await?;
        AuditService::record(db, &mut tx, entry(actor, "client.secret_rotated", meta, client_id)).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Deletes a client and revokes every refresh token it holds.
    pub async fn delete_client(
        &self,
        db: &Db,
        client_id: &str,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let mut tx = db.begin().await?;
        if !store::delete_client(&mut tx, client_id, now_ms()).await? {
            return Err(IdentityError::NotFound("client"));
        }
        AuditService::record(db, &mut tx, entry(actor, "client.deleted", meta, client_id)).await?;
        tx.commit().await?;
        Ok(())
    }
}
