//! The provider's use cases on [`Identity`]; their SQL is in [`super::store`].

use std::time::Duration;

use cairn_audit::{Actor, AuditService, Outcome, RequestMeta};
use cairn_domain::{Role, TenantId, TenantRef, TenantSlug, now_ms};
use cairn_store::sqlx::AnyConnection;
use cairn_store::{Db, StoreError, Tenant};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::{
    ACCOUNT_CHANGED, AuthRequest, AuthorizeError, AuthorizeParams, CODE_TTL_MS, ClientCtx, EmailClaims, Grant,
    Introspection, IssuedTokens, LiveAccessToken, LiveRefreshToken, OAuthError, ProfileClaims, SCOPES, UserClaims,
    pkce_challenge, redirect, scope_has, store, valid_pkce_value, web_client,
};
use crate::model::{Client, Settings, User, UserStatus, digest, handle_tenant, new_handle, web_client_id};
use crate::{API_AUDIENCE, Identity, IdentityError, UserGrant, audit_entry, users};

fn client_actor(c: &Client) -> Actor {
    Actor { id: format!("client:{}", c.client_id), email: None }
}

impl Identity {
    /// The client named `client_id`, with its tenant; `None` when there is no such client
    /// or its tenant is gone.
    pub async fn client(&self, client_id: &str) -> Result<Option<ClientCtx>, IdentityError> {
        let Some(tenant_id) = handle_tenant(client_id) else { return Ok(None) };
        let (tenant, db) = match self.tenant(tenant_id).await? {
            Some(t) => t,
            None => return Ok(None),
        };
        let client = if client_id == web_client_id(tenant_id) {
            Some(web_client(&self.public_url, tenant_id))
        } else {
            crate::clients::store::client_by_id(&mut *db.reader().acquire().await?, client_id).await?
        };
        Ok(client.map(|client| ClientCtx { tenant, db, client }))
    }

    /// An active tenant and its database.
    pub async fn tenant(&self, id: TenantId) -> Result<Option<(Tenant, Db)>, IdentityError> {
        let tenant = match self.store.tenant_by_id(id).await {
            Ok(t) => t,
            Err(StoreError::TenantNotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        match self.store.tenant_db(id).await {
            Ok(db) => Ok(Some((tenant, db))),
            Err(StoreError::TenantNotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Validates an authorization request (OIDC Core §3.1.2.1 with PKCE, RFC 7636).
    pub async fn authorize(&self, p: &AuthorizeParams) -> Result<(ClientCtx, AuthRequest), AuthorizeError> {
        let client_id = p
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AuthorizeError::Page("The request names no client (client_id is missing).".into()))?;
        let ctx = self
            .client(client_id)
            .await?
            .ok_or_else(|| AuthorizeError::Page("The application that sent you here is not registered.".into()))?;
        let redirect_uri =
            p.redirect_uri.as_deref().ok_or_else(|| AuthorizeError::Page("The request has no redirect_uri.".into()))?;
        // Exact string match against the registered URIs (RFC 9700 §4.1.3).
        if !ctx.client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err(AuthorizeError::Page(
                "The redirect_uri is not registered for this application, so Cairn will not send you there.".into(),
            ));
        }
        let state = p.state.clone();
        let fail = |error: &str, description: &str| {
            let mut params = vec![("error", error), ("error_description", description)];
            if let Some(s) = &state {
                params.push(("state", s));
            }
            params.push(("iss", &self.public_url));
            AuthorizeError::Redirect(redirect(redirect_uri, &params))
        };
        if p.response_mode.as_deref().is_some_and(|m| m != "query") {
            return Err(fail("invalid_request", "only response_mode=query is supported"));
        }
        if p.response_type.as_deref() != Some("code") {
            return Err(fail("unsupported_response_type", "only response_type=code is supported"));
        }
        if ctx.client.service_role.is_some() && ctx.client.redirect_uris.is_empty() {
            return Err(fail("unauthorized_client", "service clients cannot sign users in"));
        }
        let requested = p.scope.as_deref().unwrap_or("");
        let scope: Vec<&str> = SCOPES.iter().copied().filter(|s| scope_has(requested, s)).collect();
        if !scope.contains(&"openid") {
            return Err(fail("invalid_scope", "the openid scope is required"));
        }
        match (&p.code_challenge, p.code_challenge_method.as_deref()) {
            (None, _) if ctx.client.public => {
                return Err(fail("invalid_request", "public clients must use PKCE (code_challenge with S256)"));
            }
            (None, Some(_)) => return Err(fail("invalid_request", "code_challenge_method without code_challenge")),
            (Some(_), m) if m != Some("S256") => {
                return Err(fail("invalid_request", "code_challenge_method must be S256"));
            }
            (Some(c), _) if !valid_pkce_value(c) => {
                return Err(fail("invalid_request", "code_challenge is not a valid S256 challenge"));
            }
            _ => {}
        }
        // Clients are the tenant's own applications, so consent is implied: `consent` (which
        // OpenID Connect Core §11 asks for with offline_access) changes nothing. There is one
        // account per browser session, so `select_account` shows the sign-in form, as `login`.
        let (mut prompt_none, mut prompt_login, mut others) = (false, false, false);
        for v in p.prompt.as_deref().unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => prompt_none = true,
                "login" | "select_account" => prompt_login = true,
                "consent" => {}
                _ => return Err(fail("invalid_request", "prompt supports none, login, consent and select_account")),
            }
            others |= v != "none";
        }
        if prompt_none && others {
            return Err(fail("invalid_request", "prompt=none cannot be combined with another value"));
        }
        for (name, value) in [("state", &p.state), ("nonce", &p.nonce), ("login_hint", &p.login_hint)] {
            if value.as_ref().is_some_and(|v| v.len() > 512) {
                return Err(fail("invalid_request", &format!("{name} is longer than 512 characters")));
            }
        }
        let req = AuthRequest {
            tenant: ctx.tenant.id,
            client_id: ctx.client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.join(" "),
            state: p.state.clone(),
            nonce: p.nonce.clone(),
            code_challenge: p.code_challenge.clone(),
            login_hint: p.login_hint.clone(),
            prompt_none,
            prompt_login,
            created_at: now_ms(),
        };
        Ok((ctx, req))
    }

    /// The redirect carrying an error back to the client (RFC 6749 §4.1.2.1, RFC 9207).
    pub fn error_redirect(&self, req: &AuthRequest, error: &str, description: &str) -> String {
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = &req.state {
            params.push(("state", s));
        }
        params.push(("iss", &self.public_url));
        redirect(&req.redirect_uri, &params)
    }

    /// Issues a single-use code for `user` and returns the redirect that carries it.
    pub async fn complete_authorization(
        &self,
        db: &Db,
        req: &AuthRequest,
        user: &User,
        auth_time: i64,
    ) -> Result<String, IdentityError> {
        let code = new_handle(req.tenant);
        let row = store::CodeRow {
            client_id: req.client_id.clone(),
            user_id: user.id.clone(),
            redirect_uri: req.redirect_uri.clone(),
            scope: req.scope.clone(),
            nonce: req.nonce.clone(),
            code_challenge: req.code_challenge.clone(),
            auth_time,
            expires_at: now_ms() + CODE_TTL_MS,
            used_at: None,
            family_id: None,
        };
        let mut tx = db.begin().await?;
        if !users::store::user_unchanged(&mut tx, user).await? {
            return Err(IdentityError::Conflict(ACCOUNT_CHANGED.into()));
        }
        store::insert_code(&mut tx, &digest(&code), &row).await?;
        tx.commit().await?;
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = &req.state {
            params.push(("state", s));
        }
        params.push(("iss", &self.public_url));
        Ok(redirect(&req.redirect_uri, &params))
    }

    /// Starts a provider session for a user who just signed in; returns the cookie value.
    /// A user whose password or status changed since `user` was read (a change made while
    /// this sign-in ran) gets no session: [`IdentityError::Conflict`], sign in again.
    pub async fn start_session(&self, tenant: &Tenant, db: &Db, user: &User) -> Result<(String, i64), IdentityError> {
        let settings = self.settings(db).await?;
        let handle = new_handle(tenant.id);
        let now = now_ms();
        let expires = now + i64::from(settings.session_ttl_secs) * 1000;
        let mut tx = db.begin().await?;
        if !users::store::user_unchanged(&mut tx, user).await? {
            return Err(IdentityError::Conflict(ACCOUNT_CHANGED.into()));
        }
        store::insert_session(&mut tx, &digest(&handle), &user.id, now, expires).await?;
        tx.commit().await?;
        Ok((handle, now))
    }

    /// The active user of a session cookie in `tenant`, with when they signed in.
    pub async fn session_user(
        &self,
        tenant: TenantId,
        db: &Db,
        handle: &str,
    ) -> Result<Option<(User, i64)>, IdentityError> {
        if handle_tenant(handle) != Some(tenant) {
            return Ok(None);
        }
        let mut conn = db.reader().acquire().await?;
        let Some(s) = store::session(&mut conn, &digest(handle)).await? else { return Ok(None) };
        if s.revoked || s.expires_at <= now_ms() {
            return Ok(None);
        }
        let user = users::store::user_by_id(&mut conn, &s.user_id).await?;
        Ok(user.filter(|u| u.status == UserStatus::Active).map(|u| (u, s.auth_time)))
    }

    /// Whether the grant behind `refresh_token` still stands: the token is the family's
    /// current one, nothing is revoked or expired, and the user may still sign in. The web UI
    /// asks on every page, so sign-out, disabling and password resets end its sessions at once.
    pub async fn grant_active(&self, db: &Db, refresh_token: &str) -> Result<bool, IdentityError> {
        let mut conn = db.reader().acquire().await?;
        let now = now_ms();
        let Some(row) = store::refresh(&mut conn, &digest(refresh_token)).await? else { return Ok(false) };
        let Some(family) = store::family(&mut conn, &row.family_id).await? else { return Ok(false) };
        if row.used_at.is_some() || row.expires_at <= now || family.revoked || family.expires_at <= now {
            return Ok(false);
        }
        let user = users::store::user_by_id(&mut conn, &family.user_id).await?;
        Ok(user.is_some_and(|u| u.status == UserStatus::Active))
    }

    /// Ends a provider session (logout), recording `auth.logged_out` with it.
    pub async fn end_session(&self, handle: &str, meta: &RequestMeta) -> Result<(), IdentityError> {
        let Some(tenant) = handle_tenant(handle) else { return Ok(()) };
        let Some((_, db)) = self.tenant(tenant).await? else { return Ok(()) };
        let mut tx = db.begin().await?;
        let Some(user_id) = store::revoke_session(&mut tx, &digest(handle), now_ms()).await? else { return Ok(()) };
        let email = users::store::user_by_id(&mut tx, &user_id).await?.map(|u| u.email.to_string());
        let entry = audit_entry(&Actor { id: user_id.clone(), email }, "auth.logged_out", Outcome::Success, meta)
            .resource("user", &user_id);
        AuditService::record(&db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Authenticates a client at the token, revocation or introspection endpoint:
    /// confidential clients by secret (compared as SHA-256 digests, in constant time),
    /// public clients by id alone (their grants are bound by PKCE).
    pub async fn authenticate_client(&self, client_id: &str, secret: Option<&str>) -> Result<ClientCtx, OAuthError> {
        let unknown = || OAuthError::InvalidClient("client authentication failed".into());
        let ctx = self.client(client_id).await?.ok_or_else(unknown)?;
        match (&ctx.client.secret_hash, secret) {
            (None, None) if ctx.client.public => Ok(ctx),
            (Some(stored), Some(given)) if !ctx.client.public => {
                if bool::from(stored.as_bytes().ct_eq(digest(given).as_bytes())) { Ok(ctx) } else { Err(unknown()) }
            }
            _ => Err(unknown()),
        }
    }

    async fn tokens_for(
        &self,
        ctx: &ClientCtx,
        conn: &mut AnyConnection,
        user: &User,
        family: &store::FamilyRow,
        nonce: Option<&str>,
        refresh_expires_at: i64,
    ) -> Result<IssuedTokens, OAuthError> {
        let settings = users::store::settings(conn).await?;
        let refresh = new_handle(ctx.tenant.id);
        store::insert_refresh(conn, &digest(&refresh), &family.id, now_ms(), refresh_expires_at).await?;
        let access_grant = token_grant(user_claims(&ctx.tenant, user, &settings, &family.scope, true));
        let id_grant = token_grant(user_claims(&ctx.tenant, user, &settings, &family.scope, false));
        let access_ttl = Duration::from_secs(u64::from(settings.access_ttl_secs));
        Ok(IssuedTokens {
            access_token: self.tokens.issue_user_access(
                &access_grant,
                &ctx.client.client_id,
                &family.scope,
                Some(&family.id),
                access_ttl,
            )?,
            access_ttl,
            scope: family.scope.clone(),
            id_token: Some(self.tokens.issue_id_token(
                &id_grant,
                &ctx.client.client_id,
                nonce,
                family.auth_time,
                Duration::from_secs(u64::from(settings.id_ttl_secs)),
            )?),
            refresh_token: Some(refresh),
        })
    }

    /// The token endpoint, for an authenticated client.
    pub async fn token(&self, ctx: &ClientCtx, grant: Grant, meta: &RequestMeta) -> Result<IssuedTokens, OAuthError> {
        match grant {
            Grant::AuthorizationCode { code, redirect_uri, code_verifier } => {
                self.exchange_code(ctx, &code, redirect_uri.as_deref(), code_verifier.as_deref(), meta).await
            }
            Grant::RefreshToken { refresh_token, scope } => {
                self.refresh(ctx, &refresh_token, scope.as_deref(), meta).await
            }
            Grant::ClientCredentials { scope } => self.client_credentials(ctx, scope.as_deref(), meta).await,
        }
    }

    async fn exchange_code(
        &self,
        ctx: &ClientCtx,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedTokens, OAuthError> {
        let invalid = |m: &str| OAuthError::InvalidGrant(m.into());
        if handle_tenant(code) != Some(ctx.tenant.id) {
            return Err(invalid("the code is invalid or expired"));
        }
        let hash = digest(code);
        let db = &ctx.db;
        let mut tx = db.begin().await?;
        let row = store::code(&mut tx, &hash).await?.ok_or_else(|| invalid("the code is invalid or expired"))?;
        let now = now_ms();
        if row.used_at.is_some() {
            // A replayed code revokes what it issued (RFC 6749 §4.1.2).
            if let Some(family) = &row.family_id {
                store::revoke_family(&mut tx, family, now, "authorization code replayed").await?;
            }
            let entry = audit_entry(&client_actor(&ctx.client), "auth.code_replayed", Outcome::Denied, meta)
                .resource("user", &row.user_id)
                .details(json!({ "client_id": ctx.client.client_id, "revoked_family": row.family_id }));
            AuditService::record(db, &mut tx, entry).await?;
            tx.commit().await?;
            return Err(invalid("the code was already used; what it issued is revoked"));
        }
        if row.client_id != ctx.client.client_id {
            return Err(invalid("the code was issued to another client"));
        }
        if row.expires_at <= now {
            return Err(invalid("the code is invalid or expired"));
        }
        if redirect_uri != Some(row.redirect_uri.as_str()) {
            return Err(invalid("redirect_uri does not match the authorization request"));
        }
        match (&row.code_challenge, verifier) {
            (Some(challenge), Some(v)) => {
                if !valid_pkce_value(v) || !bool::from(pkce_challenge(v).as_bytes().ct_eq(challenge.as_bytes())) {
                    return Err(invalid("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(invalid("code_verifier is required")),
            (None, Some(_)) => {
                return Err(invalid("code_verifier sent but the authorization request had no challenge"));
            }
            (None, None) => {}
        }
        let user = users::store::user_by_id(&mut tx, &row.user_id).await?.filter(|u| u.status == UserStatus::Active);
        let Some(user) = user else {
            return Err(invalid("the user can no longer sign in"));
        };
        let settings = users::store::settings(&mut tx).await?;
        let family = store::FamilyRow {
            id: uuid::Uuid::now_v7().to_string(),
            client_id: ctx.client.client_id.clone(),
            user_id: user.id.clone(),
            scope: row.scope.clone(),
            auth_time: row.auth_time,
            expires_at: row.auth_time + i64::from(settings.session_ttl_secs) * 1000,
            revoked: false,
        };
        if !store::use_code(&mut tx, &hash, now, Some(&family.id)).await? {
            return Err(invalid("the code was already used"));
        }
        store::insert_family(&mut tx, &family, now).await?;
        let refresh_expires = (now + i64::from(settings.refresh_ttl_secs) * 1000).min(family.expires_at);
        let tokens = self.tokens_for(ctx, &mut tx, &user, &family, row.nonce.as_deref(), refresh_expires).await?;
        let entry = audit_entry(&user.actor(), "auth.tokens_issued", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(
                json!({ "client_id": ctx.client.client_id, "grant": "authorization_code", "scope": family.scope }),
            );
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    async fn refresh(
        &self,
        ctx: &ClientCtx,
        token: &str,
        scope: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedTokens, OAuthError> {
        let invalid = |m: &str| OAuthError::InvalidGrant(m.into());
        if handle_tenant(token) != Some(ctx.tenant.id) {
            return Err(invalid("the refresh token is invalid or expired"));
        }
        let hash = digest(token);
        let db = &ctx.db;
        let now = now_ms();
        let mut tx = db.begin().await?;
        let row =
            store::refresh(&mut tx, &hash).await?.ok_or_else(|| invalid("the refresh token is invalid or expired"))?;
        let family = store::family(&mut tx, &row.family_id)
            .await?
            .ok_or_else(|| invalid("the refresh token is invalid or expired"))?;
        if family.client_id != ctx.client.client_id {
            return Err(invalid("the refresh token was issued to another client"));
        }
        if row.used_at.is_some() {
            // Reuse of a rotated token: the whole family dies (RFC 9700 §4.14.2).
            store::revoke_family(&mut tx, &family.id, now, "refresh token reused").await?;
            let entry = audit_entry(&client_actor(&ctx.client), "auth.refresh_reused", Outcome::Denied, meta)
                .resource("user", &family.user_id)
                .details(json!({ "client_id": ctx.client.client_id, "family": family.id }));
            AuditService::record(db, &mut tx, entry).await?;
            tx.commit().await?;
            return Err(invalid("the refresh token was already used; its family is revoked"));
        }
        if family.revoked || family.expires_at <= now || row.expires_at <= now {
            return Err(invalid("the refresh token is invalid or expired"));
        }
        if let Some(s) = scope
            && !s.split(' ').filter(|x| !x.is_empty()).all(|x| scope_has(&family.scope, x))
        {
            return Err(OAuthError::InvalidScope("a refresh cannot widen the granted scope".into()));
        }
        let user = users::store::user_by_id(&mut tx, &family.user_id).await?.filter(|u| u.status == UserStatus::Active);
        let Some(user) = user else {
            store::revoke_family(&mut tx, &family.id, now, "user cannot sign in").await?;
            tx.commit().await?;
            return Err(invalid("the user can no longer sign in"));
        };
        if !store::use_refresh(&mut tx, &hash, now).await? {
            return Err(invalid("the refresh token was already used"));
        }
        // Ending the user's sessions in flight either waits for this rotation or wins it.
        if !store::hold_family(&mut tx, &family.id).await? {
            return Err(invalid("the refresh token is invalid or expired"));
        }
        let settings = users::store::settings(&mut tx).await?;
        let refresh_expires = (now + i64::from(settings.refresh_ttl_secs) * 1000).min(family.expires_at);
        let tokens = self.tokens_for(ctx, &mut tx, &user, &family, None, refresh_expires).await?;
        let entry = audit_entry(&user.actor(), "auth.token_refreshed", Outcome::Success, meta)
            .resource("user", &user.id)
            .details(
                json!({ "client_id": ctx.client.client_id, "family": family.id, "previous_issued_at": row.issued_at }),
            );
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    async fn client_credentials(
        &self,
        ctx: &ClientCtx,
        scope: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedTokens, OAuthError> {
        let Some(role) = ctx.client.service_role.filter(|_| !ctx.client.public) else {
            return Err(OAuthError::UnauthorizedClient("this client may not use client_credentials".into()));
        };
        if scope.is_some_and(|s| s.split(' ').any(|x| !x.is_empty())) {
            return Err(OAuthError::InvalidScope("service clients take no scopes; access follows their role".into()));
        }
        let settings = self.settings(&ctx.db).await?;
        let grant = UserGrant {
            user_id: format!("client:{}", ctx.client.client_id),
            tenant_id: ctx.tenant.id,
            tenant_slug: ctx.tenant.slug.clone(),
            roles: vec![role],
            claims: Map::new(),
        };
        let ttl = Duration::from_secs(u64::from(settings.access_ttl_secs));
        let access = self.tokens.issue_user_access(&grant, &ctx.client.client_id, "", None, ttl)?;
        let entry = audit_entry(&client_actor(&ctx.client), "auth.tokens_issued", Outcome::Success, meta)
            .resource("client", &ctx.client.client_id)
            .details(json!({ "grant": "client_credentials", "role": role }));
        AuditService::record_now(&ctx.db, entry).await?;
        Ok(IssuedTokens {
            access_token: access,
            access_ttl: ttl,
            scope: String::new(),
            id_token: None,
            refresh_token: None,
        })
    }

    /// RFC 7009: revoking a refresh token revokes its family. Access tokens are short-lived
    /// JWTs that a client cannot recall (ending a user's sessions refuses them: see
    /// [`crate::revocation`]); unknown tokens are not an error.
    pub async fn revoke(&self, ctx: &ClientCtx, token: &str, meta: &RequestMeta) -> Result<(), OAuthError> {
        if handle_tenant(token) != Some(ctx.tenant.id) {
            return Ok(());
        }
        let db = &ctx.db;
        let mut tx = db.begin().await?;
        let Some(row) = store::refresh(&mut tx, &digest(token)).await? else { return Ok(()) };
        let Some(family) = store::family(&mut tx, &row.family_id).await? else { return Ok(()) };
        if family.client_id != ctx.client.client_id {
            // RFC 7009 §2.1: a client revokes only its own tokens; the answer stays 200.
            return Ok(());
        }
        store::revoke_family(&mut tx, &family.id, now_ms(), "revoked by the client").await?;
        let entry = audit_entry(&client_actor(&ctx.client), "auth.token_revoked", Outcome::Success, meta)
            .resource("user", &family.user_id)
            .details(json!({ "client_id": ctx.client.client_id, "family": family.id }));
        AuditService::record(db, &mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// RFC 7662: whether `token` is active, for a client of the same tenant, and what it
    /// carries.
    pub async fn introspect(&self, ctx: &ClientCtx, token: &str) -> Result<Introspection, OAuthError> {
        if handle_tenant(token) == Some(ctx.tenant.id) {
            let mut conn = ctx.db.reader().acquire().await?;
            let Some(row) = store::refresh(&mut conn, &digest(token)).await? else {
                return Ok(Introspection::Inactive);
            };
            let Some(family) = store::family(&mut conn, &row.family_id).await? else {
                return Ok(Introspection::Inactive);
            };
            let now = now_ms();
            if row.used_at.is_some() || family.revoked || row.expires_at <= now || family.expires_at <= now {
                return Ok(Introspection::Inactive);
            }
            return Ok(Introspection::RefreshToken(LiveRefreshToken {
                client_id: family.client_id,
                subject: family.user_id,
                scope: family.scope,
                issued_at: row.issued_at,
                expires_at: row.expires_at,
                issuer: self.public_url.clone(),
            }));
        }
        let Ok(claims) = self.tokens.access_claims(token) else { return Ok(Introspection::Inactive) };
        let Some(live) = live_access_token(&claims).filter(|t| t.tenant.id == ctx.tenant.id) else {
            return Ok(Introspection::Inactive);
        };
        match self.tokens.claims_revoked(&claims).await {
            Ok(false) => {}
            Ok(true) => return Ok(Introspection::Inactive),
            Err(e) => return Err(OAuthError::Internal(e.into())),
        }
        if !live.subject.starts_with("client:") {
            let user = users::store::user_by_id(&mut *ctx.db.reader().acquire().await?, &live.subject).await?;
            if !user.is_some_and(|u| u.status == UserStatus::Active) {
                return Ok(Introspection::Inactive);
            }
        }
        Ok(Introspection::AccessToken(live))
    }

    /// OIDC userinfo for a verified access token: the user's current claims under the
    /// token's scope.
    pub async fn userinfo(&self, token: &str) -> Result<UserClaims, OAuthError> {
        let bad = || OAuthError::InvalidToken("the access token is invalid or expired".into());
        let claims = self.tokens.access_claims(token).map_err(|_| bad())?;
        let tenant = claims.get("cairn/tenant").and_then(|t| t["id"].as_str()).and_then(|t| t.parse::<TenantId>().ok());
        let (tenant, db) = self.tenant(tenant.ok_or_else(bad)?).await?.ok_or_else(bad)?;
        match self.tokens.claims_revoked(&claims).await {
            Ok(false) => {}
            Ok(true) => return Err(bad()),
            Err(e) => return Err(OAuthError::Internal(e.into())),
        }
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
        let mut conn = db.reader().acquire().await?;
        let user = users::store::user_by_id(&mut conn, subject).await?.filter(|u| u.status == UserStatus::Active);
        let user = user.ok_or_else(bad)?;
        let settings = users::store::settings(&mut conn).await?;
        let scope = claims["scope"].as_str().unwrap_or("");
        Ok(user_claims(&tenant, &user, &settings, scope, false))
    }

    /// Checks a post-logout redirect against the client's registered URIs.
    pub async fn logout_redirect(
        &self,
        id_token_hint: Option<&str>,
        client_id: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Option<String>, IdentityError> {
        let Some(uri) = post_logout_redirect_uri else { return Ok(None) };
        let hinted = id_token_hint.and_then(|t| self.tokens.verify_id_token_hint(t).ok()).map(|h| h.client_id);
        let Some(client_id) = hinted.as_deref().or(client_id) else { return Ok(None) };
        let Some(ctx) = self.client(client_id).await? else { return Ok(None) };
        if !ctx.client.post_logout_uris.iter().any(|u| u == uri) {
            return Ok(None);
        }
        let mut params = Vec::new();
        if let Some(s) = state {
            params.push(("state", s));
        }
        Ok(Some(redirect(uri, &params)))
    }
}

/// What tokens and userinfo say about `user` under `scope`; access tokens always carry the
/// email.
fn user_claims(tenant: &Tenant, user: &User, settings: &Settings, scope: &str, for_access: bool) -> UserClaims {
    UserClaims {
        subject: user.id.clone(),
        tenant: TenantRef { id: tenant.id, slug: tenant.slug.clone() },
        roles: user.effective_roles(settings),
        email: (for_access || scope_has(scope, "email"))
            .then(|| EmailClaims { email: user.email.clone(), verified: user.status == UserStatus::Active }),
        profile: scope_has(scope, "profile").then(|| ProfileClaims {
            given_name: user.given_name.clone(),
            family_name: user.family_name.clone(),
            name: user.display_name(),
        }),
        app_metadata: user.app_metadata.clone(),
    }
}

/// `claims` as the tokens carry them: the standard claims by name, app metadata as
/// `cairn/<key>`.
fn token_grant(claims: UserClaims) -> UserGrant {
    let mut map = Map::new();
    if let Some(e) = claims.email {
        map.insert("email".into(), json!(e.email));
        map.insert("email_verified".into(), json!(e.verified));
    }
    if let Some(p) = claims.profile {
        map.insert("given_name".into(), json!(p.given_name));
        map.insert("family_name".into(), json!(p.family_name));
        map.insert("name".into(), json!(p.name));
    }
    for (k, v) in claims.app_metadata {
        map.insert(format!("cairn/{k}"), v);
    }
    UserGrant {
        user_id: claims.subject,
        tenant_id: claims.tenant.id,
        tenant_slug: claims.tenant.slug,
        roles: claims.roles,
        claims: map,
    }
}

/// What a verified access token's claims ([`crate::Tokens::access_claims`]) carry; `None`
/// when they name no tenant or an unknown role, which no token of this provider does.
fn live_access_token(claims: &Map<String, Value>) -> Option<LiveAccessToken> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    let ms = |k: &str| claims.get(k).and_then(Value::as_i64).map(|s| s.saturating_mul(1000));
    let tenant = claims.get("cairn/tenant")?;
    let tenant = TenantRef {
        id: tenant.get("id")?.as_str()?.parse().ok()?,
        slug: TenantSlug::parse(tenant.get("slug")?.as_str()?).ok()?,
    };
    let roles = match claims.get("cairn/roles") {
        Some(Value::Array(roles)) => roles.iter().map(|r| r.as_str()?.parse().ok()).collect::<Option<Vec<Role>>>()?,
        _ => Vec::new(),
    };
    Some(LiveAccessToken {
        subject: text("sub")?,
        client_id: text("client_id"),
        scope: text("scope"),
        issued_at: ms("iat")?,
        not_before: ms("nbf")?,
        expires_at: ms("exp")?,
        issuer: text("iss")?,
        audience: text("aud").unwrap_or_else(|| API_AUDIENCE.to_owned()),
        token_id: text("jti"),
        email: text("email"),
        tenant,
        roles,
    })
}
