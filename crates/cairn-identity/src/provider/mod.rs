//! The OpenID Connect provider: the authorization request, the provider's browser
//! sessions, codes, the token endpoint's grants (authorization code, refresh with
//! rotation and reuse detection, client credentials), revocation, introspection, userinfo
//! and logout. The web layer maps these onto HTTP; clients are registered by
//! `clients`.

mod service;
pub(crate) mod store;

use std::time::Duration;

use base64::Engine;
use cairn_domain::{Role, TenantId, TenantRef};
use cairn_store::{Db, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::IdentityError;
use crate::model::{Client, Email, web_client_id};

/// Scopes the provider knows; others in a request are ignored.
pub const SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// How long an authorization code may wait for its exchange.
const CODE_TTL_MS: i64 = 60_000;
/// Why a sign-in that raced a change of the account's password or status ends without a grant.
pub const ACCOUNT_CHANGED: &str = "The account changed while you were signing in. Sign in again.";
/// How long a sign-in form stays valid after the authorization request.
pub const AUTH_REQUEST_TTL_MS: i64 = 30 * 60_000;

/// An OAuth error with its RFC 6749 code.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    #[error(transparent)]
    Internal(#[from] IdentityError),
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::InvalidToken(_) => "invalid_token",
            OAuthError::Internal(_) => "server_error",
        }
    }

    pub fn description(&self) -> String {
        match self {
            OAuthError::InvalidRequest(m)
            | OAuthError::InvalidClient(m)
            | OAuthError::InvalidGrant(m)
            | OAuthError::UnauthorizedClient(m)
            | OAuthError::UnsupportedGrantType(m)
            | OAuthError::InvalidScope(m)
            | OAuthError::InvalidToken(m) => m.clone(),
            OAuthError::Internal(_) => "internal error".into(),
        }
    }
}

impl From<cairn_store::sqlx::Error> for OAuthError {
    fn from(e: cairn_store::sqlx::Error) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<cairn_audit::AuditError> for OAuthError {
    fn from(e: cairn_audit::AuditError) -> Self {
        OAuthError::Internal(e.into())
    }
}

impl From<crate::TokenError> for OAuthError {
    fn from(e: crate::TokenError) -> Self {
        OAuthError::Internal(e.into())
    }
}

/// The query of `GET /oauth2/authorize`, as received.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
}

/// A validated authorization request: what the sign-in form carries (sealed) until the
/// user has signed in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthRequest {
    pub tenant: TenantId,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub created_at: i64,
}

/// Why an authorization request failed: either the client and redirect URI cannot be
/// trusted (show a page, never redirect), or the error goes back to the client.
#[derive(Debug)]
pub enum AuthorizeError {
    Page(String),
    Redirect(String),
    Internal(IdentityError),
}

impl From<IdentityError> for AuthorizeError {
    fn from(e: IdentityError) -> Self {
        AuthorizeError::Internal(e)
    }
}

/// What the token endpoint issued: the tokens, the scope they carry and how long the access
/// token lives. The web layer writes the token response from it.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    /// How long the access token is valid from its issue.
    pub access_ttl: Duration,
    /// The scope granted: empty for a service client, whose access follows its role.
    pub scope: String,
    /// For a user's sign-in; a service client gets none.
    pub id_token: Option<String>,
    /// For a user's sign-in: the family's next refresh token.
    pub refresh_token: Option<String>,
}

/// What Cairn says about a signed-in user under a scope: the answer of userinfo
/// (OpenID Connect Core §5.3), and the claims of the tokens the provider issues.
#[derive(Debug, Clone, PartialEq)]
pub struct UserClaims {
    pub subject: String,
    pub tenant: TenantRef,
    /// The roles tokens carry: the user's own, or the tenant's default role.
    pub roles: Vec<Role>,
    /// With the `email` scope, and always in access tokens.
    pub email: Option<EmailClaims>,
    /// With the `profile` scope.
    pub profile: Option<ProfileClaims>,
    /// The app metadata admins set: each key is a `cairn/<key>` claim.
    pub app_metadata: Map<String, Value>,
}

/// The `email` scope's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailClaims {
    pub email: Email,
    /// The user chose their own password at that address (status `ACTIVE`).
    pub verified: bool,
}

/// The `profile` scope's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileClaims {
    pub given_name: String,
    pub family_name: String,
    /// Both names, or the email when neither is set.
    pub name: String,
}

/// What introspection (RFC 7662 §2.2) says of a token, for a client of the token's tenant.
#[derive(Debug, Clone, PartialEq)]
pub enum Introspection {
    /// Unknown, expired, used, revoked, of another tenant, or of a user who can no longer
    /// sign in: nothing more is said.
    Inactive,
    RefreshToken(LiveRefreshToken),
    AccessToken(LiveAccessToken),
}

/// A refresh token that is its family's current one, neither expired nor revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRefreshToken {
    pub client_id: String,
    pub subject: String,
    pub scope: String,
    /// Epoch milliseconds.
    pub issued_at: i64,
    pub expires_at: i64,
    pub issuer: String,
}

/// A verified access token whose user's sessions still stand, with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAccessToken {
    pub subject: String,
    pub client_id: Option<String>,
    pub scope: Option<String>,
    /// Epoch milliseconds, from the token's whole seconds.
    pub issued_at: i64,
    pub not_before: i64,
    pub expires_at: i64,
    pub issuer: String,
    pub audience: String,
    pub token_id: Option<String>,
    pub email: Option<String>,
    pub tenant: TenantRef,
    pub roles: Vec<Role>,
}

/// A token endpoint request, by grant.
#[derive(Debug, Clone)]
pub enum Grant {
    AuthorizationCode { code: String, redirect_uri: Option<String>, code_verifier: Option<String> },
    RefreshToken { refresh_token: String, scope: Option<String> },
    ClientCredentials { scope: Option<String> },
}

/// A client with its tenant and database.
#[derive(Debug, Clone)]
pub struct ClientCtx {
    pub tenant: Tenant,
    pub db: Db,
    pub client: Client,
}

/// The built-in client of the web UI: public, PKCE, redirecting to `/auth/callback`.
pub fn web_client(public_url: &str, tenant: TenantId) -> Client {
    Client {
        client_id: web_client_id(tenant),
        name: "Cairn web UI".into(),
        secret_hash: None,
        public: true,
        service_role: None,
        redirect_uris: vec![format!("{public_url}/auth/callback")],
        post_logout_uris: vec![format!("{public_url}/")],
        created_at: 0,
    }
}

/// `base64url(SHA-256(verifier))`, the S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `v` has the shape of a PKCE verifier or S256 challenge (RFC 7636 §4.1).
fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `base` with `params` added to its query.
fn redirect(base: &str, params: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(base).expect("registered redirect URIs are absolute URLs");
    if !params.is_empty() {
        let mut q = u.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// Whether the space-separated `scope` holds `s`.
fn scope_has(scope: &str, s: &str) -> bool {
    scope.split(' ').any(|x| x == s)
}
