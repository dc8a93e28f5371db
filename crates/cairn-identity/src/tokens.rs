//! Access tokens (RFC 9068 JWTs) for Cairn's APIs, and their strict verification.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_domain::{Member, Operator, Principal, Role, TenantId, TenantRef, TenantSlug};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{Revocations, SigningKeys};

/// The `aud` of every access token for Cairn's own APIs.
pub const API_AUDIENCE: &str = "cairn-api";
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 5;
/// How many verified access tokens [`Tokens::verify_access`] remembers (least recently
/// used out first): about 2 MB at most.
pub const VERIFIED_CACHE_ENTRIES: usize = 10_000;

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
    /// Which check failed, in words a caller may read (no key material).
    #[error("token is invalid: {0}")]
    Invalid(String),
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token names no tenant")]
    NoTenant,
    #[error("token was revoked: its user's sessions ended after it was issued")]
    Revoked,
    /// The revocation epochs could not be read (the tenant's database): neither valid nor
    /// invalid, try again.
    #[error("cannot check the token's revocation: {0}")]
    Unavailable(String),
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// When it was issued, in milliseconds (`iat` has seconds): what the user's revocation
    /// epoch is compared with, so a token issued just after a change is told from one just
    /// before.
    #[serde(rename = "cairn/iat_ms", default, skip_serializing_if = "Option::is_none")]
    iat_ms: Option<u64>,
    /// The refresh-token family (sign-in) a user's token was issued under.
    #[serde(rename = "cairn/family", default, skip_serializing_if = "Option::is_none")]
    family: Option<String>,
    /// Profile and app-metadata claims of user tokens.
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// A signed-in user as tokens describe them: tenant, roles, and the profile claims the
/// granted scopes allow (`email`, `email_verified`, `given_name`, `family_name`, and each
/// app-metadata key as `cairn/<key>`).
#[derive(Debug, Clone)]
pub struct UserGrant {
    pub user_id: String,
    pub tenant_id: TenantId,
    pub tenant_slug: TenantSlug,
    pub roles: Vec<Role>,
    pub claims: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    exp: u64,
    iat: u64,
    auth_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    token_use: &'static str,
    #[serde(rename = "cairn/tenant")]
    tenant: TenantClaim,
    #[serde(rename = "cairn/roles")]
    roles: Vec<&'static str>,
    #[serde(flatten)]
    claims: &'a Map<String, Value>,
}

/// What an id token presented as `id_token_hint` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdTokenHint {
    pub subject: String,
    pub client_id: String,
    pub tenant: TenantId,
}

/// What an access token grants: a tenant's roles, or the platform operator role.
#[derive(Debug, Clone)]
pub enum AccessGrant {
    Tenant { id: TenantId, slug: TenantSlug, roles: Vec<Role> },
    Operator,
}

/// Issues and verifies access tokens for one issuer (the public URL), with the users'
/// revocation epochs.
#[derive(Debug)]
pub struct Tokens {
    issuer: String,
    keys: SigningKeys,
    revocations: Arc<Revocations>,
    /// Access tokens whose signature and claims were checked, by the SHA-256 of the token
    /// (no token is kept), until they expire. Only what the token alone decides is
    /// remembered: the revocation epoch is checked on every use.
    verified: VerifiedCache,
}

/// Verified access tokens by the SHA-256 of the token, each with the `exp` it holds until.
#[derive(Debug)]
struct VerifiedCache(Mutex<lru::LruCache<[u8; 32], (Principal, u64)>>);

impl VerifiedCache {
    fn new(capacity: usize) -> Self {
        Self(Mutex::new(lru::LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN))))
    }

    fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The principal remembered for `key`, unless it expired by `now` (with the leeway
    /// verification allows; an expired entry is dropped).
    fn get(&self, key: &[u8; 32], now: u64) -> Option<Principal> {
        let mut cache = self.0.lock().expect("verified-token cache");
        match cache.get(key) {
            Some((principal, exp)) if *exp + LEEWAY_SECS > now => Some(principal.clone()),
            Some(_) => {
                cache.pop(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: [u8; 32], principal: &Principal) {
        let exp = u64::try_from(principal.expires_at() / 1000).unwrap_or(0);
        self.0.lock().expect("verified-token cache").put(key, (principal.clone(), exp));
    }
}

fn unix_now() -> u64 {
    unix_now_ms() / 1000
}

fn unix_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A token's issue time in milliseconds: `cairn/iat_ms` when it is within the second `iat`
/// names, else the start of that second.
fn issued_at_ms(iat: u64, iat_ms: Option<u64>) -> i64 {
    let ms = iat_ms.filter(|ms| ms / 1000 == iat).unwrap_or(iat.saturating_mul(1000));
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// What the revocation epoch needs of a verified token's claims: its issue time (epoch ms)
/// and refresh-token family.
fn epoch_claims(claims: &Map<String, Value>) -> (i64, Option<&str>) {
    let iat = claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
    let iat_ms = claims.get("cairn/iat_ms").and_then(Value::as_u64);
    (issued_at_ms(iat, iat_ms), claims.get("cairn/family").and_then(Value::as_str))
}

impl Tokens {
    pub fn new(issuer: String, keys: SigningKeys, revocations: Revocations) -> Self {
        Self { issuer, keys, revocations: Arc::new(revocations), verified: VerifiedCache::new(VERIFIED_CACHE_ENTRIES) }
    }

    /// The users' revocation epochs, in this process.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
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
        let now_ms = unix_now_ms();
        let now = now_ms / 1000;
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
            scope: None,
            iat_ms: Some(now_ms),
            family: None,
            extra: Map::new(),
        };
        self.sign("at+jwt", &claims)
    }

    /// An access token for a signed-in user (or a service client acting as itself), under
    /// the user's refresh-token family `family`.
    pub fn issue_user_access(
        &self,
        grant: &UserGrant,
        client_id: &str,
        scope: &str,
        family: Option<&str>,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now_ms = unix_now_ms();
        let now = now_ms / 1000;
        let mut extra = grant.claims.clone();
        let email = extra.remove("email").and_then(|v| v.as_str().map(str::to_owned));
        // Metadata stored before these names were reserved must not shadow them.
        extra.remove("cairn/iat_ms");
        extra.remove("cairn/family");
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: grant.user_id.clone(),
            aud: API_AUDIENCE.to_owned(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
            jti: uuid::Uuid::now_v7().to_string(),
            token_use: "access".into(),
            client_id: client_id.to_owned(),
            email,
            tenant: Some(TenantClaim { id: grant.tenant_id, slug: grant.tenant_slug.to_string() }),
            roles: grant.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            operator: false,
            scope: Some(scope.to_owned()),
            iat_ms: Some(now_ms),
            family: family.map(str::to_owned),
            extra,
        };
        self.sign("at+jwt", &claims)
    }

    /// An OpenID Connect id token for `client_id` (its audience and authorized party).
    pub fn issue_id_token(
        &self,
        grant: &UserGrant,
        client_id: &str,
        nonce: Option<&str>,
        auth_time_ms: i64,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        let now = unix_now();
        let claims = IdClaims {
            iss: &self.issuer,
            sub: &grant.user_id,
            aud: client_id,
            azp: client_id,
            exp: now + ttl.as_secs(),
            iat: now,
            auth_time: (auth_time_ms / 1000).max(0) as u64,
            nonce,
            token_use: "id",
            tenant: TenantClaim { id: grant.tenant_id, slug: grant.tenant_slug.to_string() },
            roles: grant.roles.iter().map(|r| r.as_str()).collect(),
            claims: &grant.claims,
        };
        self.sign("JWT", &claims)
    }

    /// Checks an id token offered as `id_token_hint` at logout: our key, our issuer, an id
    /// token. Expiry is not checked (RP-initiated logout accepts expired hints).
    pub fn verify_id_token_hint(&self, token: &str) -> Result<IdTokenHint, TokenError> {
        let (_, c) = self.verified(token, None, false)?;
        if c["token_use"] != "id" {
            return Err(TokenError::Invalid("not an id token".into()));
        }
        let tenant = c["cairn/tenant"]["id"].as_str().and_then(|t| t.parse().ok()).ok_or(TokenError::NoTenant)?;
        Ok(IdTokenHint {
            subject: c["sub"].as_str().unwrap_or_default().to_owned(),
            client_id: c["aud"].as_str().unwrap_or_default().to_owned(),
            tenant,
        })
    }

    /// Signs `claims` with the current key under a header of type `typ`.
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> Result<String, TokenError> {
        crate::jws::sign(&self.keys.signing, &self.keys.signing_kid, typ, claims)
    }

    /// Verifies the header (RS256, one of our `kid`s) and signature; returns the header and
    /// the claims after checking `iss`, `exp`, `nbf` and `iat` (5 s leeway) and, when given,
    /// that `aud` is exactly `audience` (a lone extra audience is refused).
    fn verified(
        &self,
        token: &str,
        audience: Option<&str>,
        check_times: bool,
    ) -> Result<(crate::jws::Header, Map<String, Value>), TokenError> {
        let header = crate::jws::header(token)?;
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self.keys.find(kid).ok_or(TokenError::UnknownKey)?;
        let claims = crate::jws::verify(token, &key.public)?;
        let invalid = |m: &str| TokenError::Invalid(m.into());
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            // The expected issuer is public (discovery): saying it shows a token minted for
            // another public URL for what it is.
            return Err(TokenError::Invalid(format!("wrong issuer (this server is {})", self.issuer)));
        }
        if claims.get("sub").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(invalid("no subject"));
        }
        if let Some(expected) = audience {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => a == expected,
                Some(Value::Array(list)) => list.len() == 1 && list[0].as_str() == Some(expected),
                _ => false,
            };
            if !ok {
                return Err(invalid("wrong audience"));
            }
        }
        if check_times {
            let now = unix_now();
            let time = |k: &str| claims.get(k).and_then(Value::as_u64).ok_or_else(|| invalid(&format!("missing {k}")));
            if time("exp")? + LEEWAY_SECS <= now {
                return Err(invalid("expired"));
            }
            if time("nbf")? > now + LEEWAY_SECS {
                return Err(invalid("not yet valid"));
            }
            if time("iat")? > now + LEEWAY_SECS {
                return Err(TokenError::IssuedInFuture);
            }
        }
        Ok((header, claims))
    }

    /// The claims of a valid access token (the checks of [`Tokens::token_principal`]), as JSON.
    pub fn access_claims(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        let (header, claims) = self.verified(token, Some(API_AUDIENCE), true)?;
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok || claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(TokenError::NotAccessToken);
        }
        Ok(claims)
    }

    /// Verifies a bearer access token and builds the principal it names: the checks of
    /// [`Tokens::token_principal`], then the user's revocation epoch (from memory; a
    /// tenant's epochs are read from its database on its first token, and again after a
    /// change or [`REREAD_EVERY`](crate::revocation::REREAD_EVERY)). A token issued before
    /// its user's sessions ended is [`TokenError::Revoked`].
    ///
    /// A token seen before is not verified again until its expiry: its principal comes from
    /// a bounded cache keyed by the token's SHA-256 (as an API gateway's JWT filter keeps
    /// one). Only a successful verification is remembered, the expiry is checked on every
    /// hit with the same leeway, and the revocation epoch is checked on every call, so a
    /// cached token is refused as soon as its user's sessions end. The signing keys are
    /// fixed for the life of the process, so no key change can outdate an entry.
    pub async fn verify_access(&self, token: &str) -> Result<Principal, TokenError> {
        let principal = self.cached_principal(token)?;
        // Operators have no revocation epoch: their tokens are the CLI's, never a sign-in's.
        if let Principal::Member(member) = &principal {
            self.revocations.check(member).await?;
        }
        Ok(principal)
    }

    /// [`Tokens::token_principal`] through the cache of verified tokens.
    fn cached_principal(&self, token: &str) -> Result<Principal, TokenError> {
        let key = VerifiedCache::key(token);
        if let Some(principal) = self.verified.get(&key, unix_now()) {
            return Ok(principal);
        }
        let principal = self.token_principal(token)?;
        self.verified.put(key, &principal);
        Ok(principal)
    }

    /// Whether verified access-token `claims` (of [`Tokens::access_claims`]) are refused by
    /// their user's revocation epoch.
    pub async fn claims_revoked(&self, claims: &Map<String, Value>) -> Result<bool, TokenError> {
        let tenant = claims.get("cairn/tenant").and_then(|t| t["id"].as_str()).and_then(|t| t.parse::<TenantId>().ok());
        let (Some(tenant), Some(subject)) = (tenant, claims.get("sub").and_then(Value::as_str)) else {
            return Ok(false);
        };
        let (issued_at, family) = epoch_claims(claims);
        self.revocations.revoked(tenant, subject, family, issued_at).await
    }

    /// The principal a bearer access token names, from the token alone (no revocation
    /// epoch: requests use [`Tokens::verify_access`]).
    ///
    /// Checks, in order: the header's algorithm is RS256 (the only algorithm our keys are
    /// bound to) and its `typ` is `at+jwt`; the `kid` is one of ours (`jku`, `x5u` and `jwk`
    /// headers are never consulted); the signature; `iss`, `aud`, `exp`, `nbf` and `iat`
    /// with at most 5 s leeway; `token_use` is `access`.
    pub fn token_principal(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.access_claims(token)?;
        let claims: AccessClaims =
            serde_json::from_value(Value::Object(claims)).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let expires_at = (claims.exp as i64).saturating_mul(1000);
        let issued_at = issued_at_ms(claims.iat, claims.iat_ms);
        // The grant mirrors `AccessGrant`: an operator token holds no tenant and no role.
        if claims.operator {
            if claims.tenant.is_some() || !claims.roles.is_empty() {
                return Err(TokenError::Invalid("an operator token holds no tenant or role".into()));
            }
            return Ok(Principal::Operator(Operator { subject: claims.sub, expires_at }));
        }
        let tenant = claims.tenant.ok_or(TokenError::NoTenant)?;
        let slug = TenantSlug::parse(&tenant.slug).map_err(|_| TokenError::Malformed)?;
        let roles = claims
            .roles
            .iter()
            .map(|r| r.parse::<Role>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TokenError::Invalid("unknown role".into()))?;
        Ok(Principal::Member(Member {
            subject: claims.sub,
            email: claims.email,
            tenant: TenantRef { id: tenant.id, slug },
            roles,
            expires_at,
            issued_at,
            family: claims.family,
        }))
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
        let header = crate::jws::header(signature).map_err(|e| e.to_string())?;
        if header.typ.as_deref() != Some(CHECKPOINT_TYP) {
            return Err("not a checkpoint signature".into());
        }
        let key = header.kid.as_deref().and_then(|kid| self.keys.find(kid)).ok_or("unknown signing key")?;
        crate::jws::verify(signature, &key.public).map(Value::Object).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use cairn_domain::{Operator, Principal};

    use super::{LEEWAY_SECS, VerifiedCache, issued_at_ms};

    fn principal(subject: &str, exp: u64) -> Principal {
        Principal::Operator(Operator { subject: subject.into(), expires_at: (exp * 1000) as i64 })
    }

    #[test]
    fn a_remembered_token_holds_until_its_expiry_and_leeway_only() {
        let cache = VerifiedCache::new(8);
        let key = VerifiedCache::key("a.b.c");
        cache.put(key, &principal("u1", 1_000));
        assert_eq!(cache.get(&key, 1_000).map(|p| p.subject().to_owned()), Some("u1".into()));
        assert!(cache.get(&key, 1_000 + LEEWAY_SECS - 1).is_some(), "within the leeway verification allows");
        assert!(cache.get(&key, 1_000 + LEEWAY_SECS).is_none(), "expired as verification would say");
        assert!(cache.get(&key, 0).is_none(), "an expired entry is dropped, not kept for a clock going back");
        assert!(cache.get(&VerifiedCache::key("a.b.d"), 0).is_none(), "another token is not a hit");
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let cache = VerifiedCache::new(2);
        for t in ["t1", "t2", "t3"] {
            cache.put(VerifiedCache::key(t), &principal(t, 10));
        }
        assert!(cache.get(&VerifiedCache::key("t1"), 0).is_none(), "the least recently used went first");
        assert!(cache.get(&VerifiedCache::key("t3"), 0).is_some());
    }

    #[test]
    fn the_issue_time_has_milliseconds_within_the_second_iat_names() {
        assert_eq!(issued_at_ms(1_700_000_000, Some(1_700_000_000_999)), 1_700_000_000_999);
        assert_eq!(issued_at_ms(1_700_000_000, None), 1_700_000_000_000, "older tokens: the start of the second");
        assert_eq!(
            issued_at_ms(1_700_000_000, Some(1_700_000_005_000)),
            1_700_000_000_000,
            "milliseconds that disagree with iat are not believed"
        );
    }
}
