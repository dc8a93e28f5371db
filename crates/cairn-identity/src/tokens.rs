//! Access tokens (RFC 9068 JWTs) for Cairn's APIs, and their strict verification.

use std::collections::HashSet;
use std::time::Duration;

use cairn_domain::{Principal, Role, TenantId, TenantRef, TenantSlug};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::SigningKeys;

/// The `aud` of every access token for Cairn's own APIs.
pub const API_AUDIENCE: &str = "cairn-api";
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm is not allowed")]
    Algorithm,
    #[error("token key is unknown")]
    UnknownKey,
    #[error("token is not an access token")]
    NotAccessToken,
    #[error("token signature or claims are invalid: {0}")]
    Invalid(String),
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token names no tenant")]
    NoTenant,
    #[error("cannot sign token: {0}")]
    Signing(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct TenantClaim {
    id: TenantId,
    slug: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    token_use: String,
    client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(rename = "cairn/tenant", default, skip_serializing_if = "Option::is_none")]
    tenant: Option<TenantClaim>,
    #[serde(rename = "cairn/roles", default)]
    roles: Vec<String>,
    #[serde(rename = "cairn/operator", default, skip_serializing_if = "std::ops::Not::not")]
    operator: bool,
}

/// What an access token grants: a tenant's roles, or the platform operator role.
#[derive(Debug, Clone)]
pub enum AccessGrant {
    Tenant { id: TenantId, slug: TenantSlug, roles: Vec<Role> },
    Operator,
}

/// Issues and verifies access tokens for one issuer (the public URL).
#[derive(Debug)]
pub struct Tokens {
    issuer: String,
    keys: SigningKeys,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Tokens {
    pub fn new(issuer: String, keys: SigningKeys) -> Self {
        Self { issuer, keys }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// Signs an access token for `subject` valid for `ttl`, issued to `client_id`.
    pub fn issue_access(
        &self,
        subject: &str,
        grant: &AccessGrant,
        client_id: &str,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now = unix_now();
        let (tenant, roles, operator) = match grant {
            AccessGrant::Tenant { id, slug, roles } => (
                Some(TenantClaim { id: *id, slug: slug.to_string() }),
                roles.iter().map(|r| r.as_str().to_owned()).collect(),
                false,
            ),
            AccessGrant::Operator => (None, Vec::new(), true),
        };
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: subject.to_owned(),
            aud: API_AUDIENCE.to_owned(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
            jti: uuid::Uuid::now_v7().to_string(),
            token_use: "access".into(),
            client_id: client_id.to_owned(),
            email: None,
            tenant,
            roles,
            operator,
        };
        self.sign("at+jwt", &claims)
    }

    /// Signs `claims` with the current key under a header of type `typ`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.keys.signing_kid.clone());
        header.typ = Some(typ.into());
        jsonwebtoken::encode(&header, claims, &self.keys.signing).map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Verifies a bearer access token and builds the principal it names.
    ///
    /// Checks, in order: the header's algorithm is RS256 (the only algorithm our keys are
    /// bound to) and its `typ` is `at+jwt`; the `kid` is one of ours (`jku`, `x5u` and `jwk`
    /// headers are never consulted); the signature; `iss`, `aud`, `exp`, `nbf` and `iat`
    /// with at most 5 s leeway; `token_use` is `access`.
    pub fn verify_access(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Algorithm);
        }
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::NotAccessToken);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self.keys.find(kid).ok_or(TokenError::UnknownKey)?;

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[API_AUDIENCE]);
        validation.required_spec_claims =
            ["exp", "nbf", "iat", "iss", "aud", "sub"].into_iter().map(String::from).collect::<HashSet<_>>();
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if claims.iat > unix_now() + LEEWAY_SECS {
            return Err(TokenError::IssuedInFuture);
        }
        if claims.token_use != "access" {
            return Err(TokenError::NotAccessToken);
        }
        if claims.operator {
            return Ok(Principal {
                subject: claims.sub,
                email: claims.email,
                tenant: None,
                roles: Vec::new(),
                operator: true,
            });
        }
        let tenant = claims.tenant.ok_or(TokenError::NoTenant)?;
        let slug = TenantSlug::parse(&tenant.slug).map_err(|_| TokenError::Malformed)?;
        let roles = claims
            .roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TokenError::Invalid("unknown role".into()))?;
        Ok(Principal {
            subject: claims.sub,
            email: claims.email,
            tenant: Some(TenantRef { id: tenant.id, slug }),
            roles,
            operator: false,
        })
    }
}

const CHECKPOINT_TYP: &str = "cairn-audit-checkpoint+jwt";

/// Audit checkpoints are signed with the platform key, as JWS with their own `typ` so a
/// checkpoint can never pass as a token.
impl cairn_audit::Signer for Tokens {
    fn sign_checkpoint(&self, claims: &serde_json::Value) -> Result<String, String> {
        self.sign(CHECKPOINT_TYP, claims).map_err(|e| e.to_string())
    }

    fn verify_checkpoint(&self, signature: &str) -> Result<serde_json::Value, String> {
        let header = jsonwebtoken::decode_header(signature).map_err(|e| e.to_string())?;
        if header.alg != Algorithm::RS256 || header.typ.as_deref() != Some(CHECKPOINT_TYP) {
            return Err("not a checkpoint signature".into());
        }
        let key = header.kid.as_deref().and_then(|kid| self.keys.find(kid)).ok_or("unknown signing key")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        jsonwebtoken::decode::<serde_json::Value>(signature, &key.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}
