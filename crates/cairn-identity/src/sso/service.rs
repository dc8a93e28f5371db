//! The upstream code flow, id-token verification and the login rules, on [`Identity`];
//! the SQL is in [`super::store`].

use base64::Engine;
use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{ValidationError, now_ms, random_token};
use cairn_store::Db;
use ring::signature::RsaPublicKeyComponents;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Connection, NO_AUTHORIZED_USER, NewConnection, Pending, SsoOutcome, store};
use crate::model::{Name, UserStatus};
use crate::{Identity, IdentityError, users};

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    userinfo_endpoint: Option<String>,
}

fn secret_aad(id: &str) -> String {
    format!("sso_connections.client_secret:{id}")
}

fn upstream(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Upstream(e.to_string())
}

impl Identity {
    pub async fn create_connection(
        &self,
        db: &Db,
        new: NewConnection,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Connection, IdentityError> {
        let name = Name::parse("name", &new.name)?;
        if name.is_empty() {
            return Err(ValidationError::new("name", "is required").into());
        }
        // The issuer is fetched from an anonymous visitor's sign-in: it must be a URL the
        // guarded outbound client may reach (https, no private address unless allowed).
        let issuer = self.outbound.check_url("issuer", new.issuer.trim())?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(ValidationError::new("issuer", "must not have a query or fragment").into());
        }
        let issuer = issuer.as_str().trim_end_matches('/').to_owned();
        if new.client_id.trim().is_empty() || new.client_secret.is_empty() {
            return Err(ValidationError::new("client_id", "client_id and client_secret are required").into());
        }
        let id = uuid::Uuid::now_v7().to_string();
        let row = store::ConnectionRow {
            sealed_secret: self.store.master_key().seal(new.client_secret.as_bytes(), &secret_aad(&id)),
            id,
            name: name.into(),
            issuer,
            client_id: new.client_id.trim().to_owned(),
            created_at: now_ms(),
        };
        let mut tx = db.begin().await?;
        store::insert_connection(&mut tx, &row).await?;
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("sso.connection_created"), Outcome::Success, meta.clone())
                .resource("sso_connection", &row.id)
                .details(json!({ "name": row.name, "issuer": row.issuer, "client_id": row.client_id }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    pub async fn list_connections(&self, db: &Db) -> Result<Vec<Connection>, IdentityError> {
        Ok(store::connections(db).await?.into_iter().map(Connection::from).collect())
    }

    /// Connections in id (creation) order after `after`, at most `limit`: one page of a list.
    pub async fn list_connections_after(
        &self,
        db: &Db,
        limit: i64,
        after: Option<&str>,
    ) -> Result<Vec<Connection>, IdentityError> {
        Ok(store::connections_after(db, after, limit).await?.into_iter().map(Connection::from).collect())
    }

    pub async fn delete_connection(
        &self,
        db: &Db,
        id: &str,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<(), IdentityError> {
        let mut tx = db.begin().await?;
        if !store::delete_connection(&mut tx, id).await? {
            return Err(IdentityError::NotFound("SSO connection"));
        }
        let entry =
            NewEntry::new(actor.clone(), Action::fixed("sso.connection_deleted"), Outcome::Success, meta.clone())
                .resource("sso_connection", id);
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A provider's JSON document (discovery, keys) through the guarded client.
    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, IdentityError> {
        self.outbound.get(url).map_err(upstream)?.send().await.map_err(upstream)?.success_json().await.map_err(upstream)
    }

    async fn discover(&self, issuer: &str) -> Result<Discovery, IdentityError> {
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let d: Discovery = self.fetch_json(&url).await?;
        if d.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(upstream(format!("discovery names issuer {} instead of {issuer}", d.issuer)));
        }
        Ok(d)
    }

    /// Starts an upstream sign-in: the authorization URL to send the browser to, and what
    /// to keep (sealed) until it comes back to `callback`.
    pub async fn sso_begin(
        &self,
        db: &Db,
        connection_id: &str,
        callback: &str,
    ) -> Result<(String, Pending), IdentityError> {
        let conn = store::connection_by_id(&mut *db.reader().acquire().await?, connection_id)
            .await?
            .ok_or(IdentityError::NotFound("SSO connection"))?;
        let d = self.discover(&conn.issuer).await?;
        let pending = Pending {
            connection_id: conn.id.clone(),
            state: random_token(24),
            nonce: random_token(24),
            verifier: random_token(48),
        };
        let mut url = url::Url::parse(&d.authorization_endpoint).map_err(upstream)?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &conn.client_id)
            .append_pair("redirect_uri", callback)
            .append_pair("scope", "openid email")
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &crate::provider::pkce_challenge(&pending.verifier))
            .append_pair("code_challenge_method", "S256");
        Ok((url.to_string(), pending))
    }

    /// Finishes an upstream sign-in and applies the login rules.
    pub async fn sso_finish(
        &self,
        db: &Db,
        pending: &Pending,
        code: &str,
        callback: &str,
        meta: &RequestMeta,
    ) -> Result<SsoOutcome, IdentityError> {
        let conn = store::connection_by_id(&mut *db.reader().acquire().await?, &pending.connection_id)
            .await?
            .ok_or(IdentityError::NotFound("SSO connection"))?;
        let secret = self
            .store
            .master_key()
            .open(&conn.sealed_secret, &secret_aad(&conn.id))
            .map_err(|e| IdentityError::Key(e.to_string()))?;
        let secret = String::from_utf8(secret).map_err(|e| IdentityError::Key(e.to_string()))?;
        let d = self.discover(&conn.issuer).await?;
        let tokens: Value = self
            .outbound
            .post(&d.token_endpoint)
            .map_err(upstream)?
            .basic_auth(
                &url::form_urlencoded::byte_serialize(conn.client_id.as_bytes()).collect::<String>(),
                Some(&url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()),
            )
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", callback),
                ("code_verifier", &pending.verifier),
            ])
            .send()
            .await
            .map_err(upstream)?
            .json()
            .await
            .map_err(upstream)?;
        // Only the error fields of the answer are ever logged: it may hold tokens.
        let id_token = tokens["id_token"].as_str().ok_or_else(|| {
            upstream(format!("no id_token (error: {}, {})", tokens["error"], tokens["error_description"]))
        })?;
        let claims = self.verify_upstream_id_token(&d, &conn.client_id, id_token, &pending.nonce).await?;
        let subject =
            claims["sub"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| upstream("the id token has no sub"))?;
        // The id token may carry only `sub`; the email comes from userinfo.
        let info: Value = match (&d.userinfo_endpoint, tokens["access_token"].as_str()) {
            (Some(endpoint), Some(at)) => self
                .outbound
                .get(endpoint)
                .map_err(upstream)?
                .bearer_auth(at)
                .send()
                .await
                .map_err(upstream)?
                .success_json()
                .await
                .map_err(upstream)?,
            _ => Value::Object(claims.clone()),
        };
        if info["sub"].as_str() != Some(subject) {
            return Err(upstream("userinfo names another subject"));
        }
        let email = info["email"].as_str().map(str::to_owned);
        let verified = info["email_verified"].as_bool() == Some(true);
        self.apply_login_rules(db, &conn, subject, email.as_deref(), verified, meta).await
    }

    async fn verify_upstream_id_token(
        &self,
        d: &Discovery,
        client_id: &str,
        token: &str,
        nonce: &str,
    ) -> Result<serde_json::Map<String, Value>, IdentityError> {
        let header = crate::jws::header(token).map_err(|e| upstream(format!("id token: {e}")))?;
        let jwks: Value = self.fetch_json(&d.jwks_uri).await?;
        let b64 = |v: &Value| v.as_str().and_then(|s| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok());
        let key = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["kty"] == "RSA" && (header.kid.is_none() || k["kid"].as_str() == header.kid.as_deref()))
            .find_map(|k| Some(RsaPublicKeyComponents { n: b64(&k["n"])?, e: b64(&k["e"])? }))
            .ok_or_else(|| upstream("no RSA key of the provider matches the id token"))?;
        let claims = crate::jws::verify(token, &key).map_err(|e| upstream(format!("id token: {e}")))?;
        let now = (now_ms() / 1000) as u64;
        let aud_ok = match &claims.get("aud") {
            Some(Value::String(a)) => a == client_id,
            Some(Value::Array(list)) => list.iter().any(|a| a == client_id),
            _ => false,
        };
        if claims.get("iss").and_then(Value::as_str) != Some(d.issuer.as_str())
            || !aud_ok
            || claims.get("exp").and_then(Value::as_u64).is_none_or(|e| e + 5 <= now)
            || claims.get("nonce").and_then(Value::as_str) != Some(nonce)
        {
            return Err(upstream("the id token's issuer, audience, expiry or nonce is wrong"));
        }
        Ok(claims)
    }

    async fn apply_login_rules(
        &self,
        db: &Db,
        conn: &store::ConnectionRow,
        subject: &str,
        email: Option<&str>,
        email_verified: bool,
        meta: &RequestMeta,
    ) -> Result<SsoOutcome, IdentityError> {
        let mut tx = db.begin().await?;
        let upstream_actor = Actor { id: format!("sso:{}:{subject}", conn.id), email: email.map(str::to_owned) };
        let linked = store::linked_user(&mut tx, &conn.id, subject).await?;
        let user = match linked {
            Some(id) => users::store::user_by_id(&mut tx, &id).await?,
            None => {
                let email = email.filter(|_| email_verified).and_then(|e| crate::Email::parse(e).ok());
                let found = match &email {
                    Some(e) => users::store::user_by_email(&mut tx, e).await?,
                    None => None,
                };
                if let Some(u) = &found {
                    // The password user stays primary; the upstream identity is linked to it.
                    store::link_identity(&mut tx, &conn.id, subject, &u.id, now_ms()).await?;
                    let entry = NewEntry::new(
                        upstream_actor.clone(),
                        Action::fixed("user.identity_linked"),
                        Outcome::Success,
                        meta.clone(),
                    )
                    .resource("user", &u.id)
                    .details(json!({ "connection": conn.name, "connection_id": conn.id, "subject": subject }));
                    AuditService::record(db, &mut tx, entry).await?;
                }
                found
            }
        };
        let (outcome, result) = match user {
            Some(u) if u.status == UserStatus::Disabled => ("disabled", SsoOutcome::Denied("this account is disabled")),
            Some(u) => ("", SsoOutcome::Success(Box::new(u))),
            None => ("no authorized user", SsoOutcome::Denied(NO_AUTHORIZED_USER)),
        };
        let entry = match &result {
            SsoOutcome::Success(u) => NewEntry::new(
                Actor { id: u.id.clone(), email: Some(u.email.to_string()) },
                Action::fixed("auth.login_succeeded"),
                Outcome::Success,
                meta.clone(),
            )
            .resource("user", &u.id)
            .details(json!({ "via": "sso", "connection": conn.name })),
            SsoOutcome::Denied(_) => NewEntry::new(
                upstream_actor,
                Action::fixed("auth.login_failed"),
                Outcome::Denied,
                meta.clone(),
            )
            .details(
                json!({ "via": "sso", "connection": conn.name, "reason": outcome, "attempted": { "email": email } }),
            ),
        };
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(result)
    }
}
