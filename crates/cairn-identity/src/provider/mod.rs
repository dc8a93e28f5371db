//! The OpenID Connect provider: the authorization request, the provider's browser
//! sessions, codes, the token endpoint's grants (authorization code, refresh with
//! rotation and reuse detection, client credentials), revocation, introspection, userinfo
//! and logout. The web layer maps these onto HTTP; clients are registered by
//! [`crate::clients`].

mod service;
pub(crate) mod store;

use base64::Engine;
use cairn_domain::TenantId;
use cairn_store::{Db, Tenant};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::IdentityError;
use crate::model::{Client, web_client_id};

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

/// Tokens from the token endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSet {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
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
