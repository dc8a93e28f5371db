//! The JSON bodies of the token, userinfo and introspection endpoints, written from the
//! values the identity crate returns.

use cairn_domain::{TenantId, TenantRef, TenantSlug};
use cairn_identity::{Introspection, IssuedTokens, LiveAccessToken, LiveRefreshToken, UserClaims};
use serde::Serialize;
use serde_json::{Map, Value};

/// The token endpoint's answer (RFC 6749 §5.1; OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize)]
pub(super) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(t: IssuedTokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.access_ttl.as_secs(),
            scope: t.scope,
            id_token: t.id_token,
            refresh_token: t.refresh_token,
        }
    }
}

/// The tenant as Cairn's claims name it.
#[derive(Debug, Serialize)]
struct TenantClaim {
    id: TenantId,
    slug: TenantSlug,
}

impl From<TenantRef> for TenantClaim {
    fn from(t: TenantRef) -> Self {
        Self { id: t.id, slug: t.slug }
    }
}

/// The userinfo answer (OpenID Connect Core §5.3.2): the standard claims the token's scope
/// allows, the app metadata as `cairn/<key>`, the tenant and the roles.
#[derive(Debug, Serialize)]
pub(super) struct UserInfoResponse {
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// App metadata keys are checked against Cairn's own claim names when they are set, so
    /// none of them is `cairn/tenant` or `cairn/roles`.
    #[serde(flatten)]
    app_metadata: Map<String, Value>,
    #[serde(rename = "cairn/tenant")]
    tenant: TenantClaim,
    #[serde(rename = "cairn/roles")]
    roles: Vec<&'static str>,
}

impl From<UserClaims> for UserInfoResponse {
    fn from(c: UserClaims) -> Self {
        let (email, email_verified) = c.email.map(|e| (e.email.to_string(), e.verified)).unzip();
        let (given_name, family_name, name) = match c.profile {
            Some(p) => (Some(p.given_name), Some(p.family_name), Some(p.name)),
            None => (None, None, None),
        };
        Self {
            sub: c.subject,
            email,
            email_verified,
            given_name,
            family_name,
            name,
            app_metadata: c.app_metadata.into_iter().map(|(k, v)| (format!("cairn/{k}"), v)).collect(),
            tenant: c.tenant.into(),
            roles: c.roles.iter().map(|r| r.as_str()).collect(),
        }
    }
}

/// The introspection answer (RFC 7662 §2.2): `{"active": false}` alone, or an active
/// token's claims.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum IntrospectionResponse {
    Inactive { active: bool },
    RefreshToken(RefreshTokenResponse),
    AccessToken(Box<AccessTokenResponse>),
}

#[derive(Debug, Serialize)]
pub(super) struct RefreshTokenResponse {
    active: bool,
    token_type: &'static str,
    client_id: String,
    sub: String,
    scope: String,
    exp: i64,
    iat: i64,
    iss: String,
}

#[derive(Debug, Serialize)]
pub(super) struct AccessTokenResponse {
    active: bool,
    token_type: &'static str,
    sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    exp: i64,
    iat: i64,
    nbf: i64,
    iss: String,
    aud: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    /// The email again, as RFC 7662 names a token's human-readable owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(rename = "cairn/tenant")]
    tenant: TenantClaim,
    #[serde(rename = "cairn/roles")]
    roles: Vec<&'static str>,
}

/// Epoch milliseconds as a JWT's whole seconds.
fn seconds(ms: i64) -> i64 {
    ms / 1000
}

impl From<LiveRefreshToken> for RefreshTokenResponse {
    fn from(t: LiveRefreshToken) -> Self {
        Self {
            active: true,
            token_type: "refresh_token",
            client_id: t.client_id,
            sub: t.subject,
            scope: t.scope,
            exp: seconds(t.expires_at),
            iat: seconds(t.issued_at),
            iss: t.issuer,
        }
    }
}

impl From<LiveAccessToken> for AccessTokenResponse {
    fn from(t: LiveAccessToken) -> Self {
        Self {
            active: true,
            token_type: "Bearer",
            sub: t.subject,
            client_id: t.client_id,
            scope: t.scope,
            exp: seconds(t.expires_at),
            iat: seconds(t.issued_at),
            nbf: seconds(t.not_before),
            iss: t.issuer,
            aud: t.audience,
            jti: t.token_id,
            username: t.email.clone(),
            email: t.email,
            tenant: t.tenant.into(),
            roles: t.roles.iter().map(|r| r.as_str()).collect(),
        }
    }
}

impl From<Introspection> for IntrospectionResponse {
    fn from(i: Introspection) -> Self {
        match i {
            Introspection::Inactive => Self::Inactive { active: false },
            Introspection::RefreshToken(t) => Self::RefreshToken(t.into()),
            Introspection::AccessToken(t) => Self::AccessToken(Box::new(t.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use cairn_domain::{Role, TenantId, TenantRef, TenantSlug};
    use cairn_identity::{Email, EmailClaims, IssuedTokens, ProfileClaims, UserClaims};
    use serde_json::{Map, json};

    use super::{IntrospectionResponse, TokenResponse, UserInfoResponse};

    fn acme() -> TenantRef {
        TenantRef { id: TenantId::new(), slug: TenantSlug::parse("acme").unwrap() }
    }

    #[test]
    fn a_token_response_says_bearer_and_leaves_out_what_was_not_issued() {
        let issued = IssuedTokens {
            access_token: "at".into(),
            access_ttl: Duration::from_secs(900),
            scope: String::new(),
            id_token: None,
            refresh_token: None,
        };
        let body = serde_json::to_value(TokenResponse::from(issued)).unwrap();
        assert_eq!(body, json!({ "access_token": "at", "token_type": "Bearer", "expires_in": 900, "scope": "" }));
    }

    #[test]
    fn userinfo_carries_the_granted_scopes_metadata_tenant_and_roles() {
        let tenant = acme();
        let mut app_metadata = Map::new();
        app_metadata.insert("plan".into(), json!("gold"));
        let claims = UserClaims {
            subject: "u1".into(),
            tenant: tenant.clone(),
            roles: vec![Role::Member],
            email: Some(EmailClaims { email: Email::parse("ann@acme.test").unwrap(), verified: true }),
            profile: None,
            app_metadata,
        };
        let body = serde_json::to_value(UserInfoResponse::from(claims.clone())).unwrap();
        assert_eq!(
            body,
            json!({
                "sub": "u1", "email": "ann@acme.test", "email_verified": true, "cairn/plan": "gold",
                "cairn/tenant": { "id": tenant.id, "slug": "acme" }, "cairn/roles": ["member"],
            })
        );
        let profile = ProfileClaims { given_name: "Ann".into(), family_name: "Lee".into(), name: "Ann Lee".into() };
        let body =
            serde_json::to_value(UserInfoResponse::from(UserClaims { profile: Some(profile), ..claims })).unwrap();
        assert_eq!(
            (&body["given_name"], &body["family_name"], &body["name"]),
            (&json!("Ann"), &json!("Lee"), &json!("Ann Lee"))
        );
    }

    #[test]
    fn an_inactive_token_is_described_by_active_false_alone() {
        let body = serde_json::to_value(IntrospectionResponse::from(cairn_identity::Introspection::Inactive)).unwrap();
        assert_eq!(body, json!({ "active": false }));
    }
}
