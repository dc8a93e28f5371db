//! Extractors: the verified caller, and JSON/query parsing whose failures use the API's
//! error body.

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use cairn_audit::{Action, Actor, AuditService, NewEntry, Outcome, RequestMeta};
use cairn_domain::{Principal, Role, TenantRef};
use cairn_store::Db;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// A caller whose bearer token verified, and where the request came from. Every API route
/// but the public ones takes this.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub meta: RequestMeta,
}

/// The client address (the socket peer, or with `trust_proxy_headers` the address the
/// nearest proxy appended to `X-Forwarded-For`), user agent and request id.
pub fn request_meta(parts: &Parts, trust_proxy_headers: bool) -> RequestMeta {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    meta_from(&parts.headers, peer, trust_proxy_headers)
}

/// As [`request_meta`], from the headers and the socket peer.
fn meta_from(headers: &axum::http::HeaderMap, peer: Option<SocketAddr>, trust_proxy_headers: bool) -> RequestMeta {
    let forwarded = trust_proxy_headers
        .then(|| headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
        .flatten()
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_owned);
    let peer = peer.map(|p| p.ip().to_string());
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect());
    RequestMeta {
        ip: forwarded.or(peer),
        user_agent,
        request_id: Some(crate::context::current_request_id()).filter(|id| id != "-"),
    }
}

/// Where a request came from, for routes without a bearer caller (sign-in, token).
#[derive(Debug, Clone)]
pub struct Meta(pub RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Meta(request_meta(parts, state.config.trust_proxy_headers)))
    }
}

fn actor(p: &Principal) -> Actor {
    Actor { id: p.subject.clone(), email: p.email.clone() }
}

/// Writes `access.denied` before the 403 goes out. A failure to record is logged and the
/// denial still stands.
async fn record_denial(db: &Db, caller: &Caller, attempted: &str, reason: &str) {
    record_denial_of(db, &caller.principal, &caller.meta, attempted, reason).await
}

/// Records `access.denied` for `principal` in `db`'s trail (the web UI's refusals too).
pub(crate) async fn record_denial_of(
    db: &Db,
    principal: &Principal,
    meta: &RequestMeta,
    attempted: &str,
    reason: &str,
) {
    let entry = NewEntry::new(actor(principal), Action::fixed("access.denied"), Outcome::Denied, meta.clone())
        .details(json!({ "attempted": attempted, "reason": reason }));
    if let Err(e) = AuditService::record_now(db, entry).await {
        tracing::error!(error = %e, "could not record a denial");
    }
}

/// Records a 401 in the platform trail (no tenant can be trusted from a token that failed
/// verification), at most [`RejectionLimiter::PER_MINUTE`] per client address and minute so
/// a flood of bad tokens cannot flood the trail.
async fn record_rejection(state: &AppState, meta: &RequestMeta, reason: &str, message: &str) {
    let address = meta.ip.clone().unwrap_or_else(|| "-".into());
    let Some(count) = state.rejections.allow(&address, cairn_domain::now_ms()) else { return };
    let mut details = json!({ "reason": reason, "answer": message });
    if count == RejectionLimiter::PER_MINUTE {
        details["further_rejections_this_minute"] = json!("not recorded");
    }
    let anonymous = Actor { id: "anonymous".into(), email: None };
    let entry =
        NewEntry::new(anonymous, Action::fixed("auth.token_rejected"), Outcome::Denied, meta.clone()).details(details);
    if let Err(e) = AuditService::record_now(state.store.control(), entry).await {
        tracing::error!(error = %e, "could not record a rejected token");
    }
}

/// Counts rejected requests per client address and minute, in this process.
#[derive(Debug, Default)]
pub struct RejectionLimiter {
    seen: std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>,
}

impl RejectionLimiter {
    pub const PER_MINUTE: u32 = 10;
    const MAX_ADDRESSES: usize = 10_000;

    /// The rejection's number this minute for `address`, or `None` past the limit.
    pub fn allow(&self, address: &str, now_ms: i64) -> Option<u32> {
        let minute = now_ms / 60_000;
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= Self::MAX_ADDRESSES {
            seen.retain(|_, (m, _)| *m == minute);
        }
        let entry = seen.entry(address.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        (entry.1 <= Self::PER_MINUTE).then_some(entry.1)
    }
}

/// The token of an `Authorization: Bearer <token>` header: `None` when the header is
/// missing, `Some(Err(()))` when it is not a bearer token.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<Result<&str, ()>> {
    let header = headers.get(axum::http::header::AUTHORIZATION)?;
    Some(
        header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(()),
    )
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let meta = request_meta(parts, state.config.trust_proxy_headers);
        let token = match bearer(&parts.headers) {
            None => Err(("missing", "missing bearer token")),
            Some(Err(())) => Err(("malformed header", "authorization header must be 'Bearer <token>'")),
            Some(Ok(t)) => Ok(t),
        };
        let token = match token {
            Ok(t) => t,
            Err((reason, message)) => {
                record_rejection(state, &meta, reason, message).await;
                return Err(ApiError::unauthorized(message));
            }
        };
        let principal = match state.tokens.verify_access(token).await {
            Ok(p) => p,
            Err(cairn_identity::TokenError::Unavailable(cause)) => {
                tracing::error!(error = %cause, "cannot check a token's revocation");
                return Err(ApiError::unavailable("cannot check the token now; try again", 5));
            }
            Err(e) => {
                // Which check failed (issuer, audience, expiry, signature, …) helps the
                // caller and reveals nothing a token's holder could not read in it.
                tracing::info!(reason = %e, "bearer token rejected");
                let message = e.to_string();
                record_rejection(state, &meta, &message, &message).await;
                return Err(ApiError::unauthorized(message));
            }
        };
        crate::context::note_caller(principal.tenant.as_ref().map(|t| t.slug.as_str()), &principal.subject);
        Ok(Caller { principal, meta })
    }
}

/// A tenant caller holding at least some role, with the tenant's database.
#[derive(Debug)]
pub struct TenantCtx {
    pub principal: Principal,
    pub tenant: TenantRef,
    pub db: Db,
    pub meta: RequestMeta,
}

impl TenantCtx {
    pub fn actor(&self) -> Actor {
        actor(&self.principal)
    }
}

/// A platform operator, with the control database (where the platform audit lives).
#[derive(Debug)]
pub struct OperatorCtx {
    pub principal: Principal,
    pub meta: RequestMeta,
}

impl OperatorCtx {
    pub fn actor(&self) -> Actor {
        actor(&self.principal)
    }

    /// Records an operator action in the platform audit.
    pub async fn record(
        &self,
        state: &AppState,
        entry: impl FnOnce(Actor, RequestMeta) -> NewEntry,
    ) -> Result<(), ApiError> {
        AuditService::record_now(state.store.control(), entry(self.actor(), self.meta.clone()))
            .await
            .map(drop)
            .map_err(ApiError::internal)
    }
}

impl Caller {
    async fn tenant_db(&self, state: &AppState, tenant: &TenantRef) -> Result<Db, ApiError> {
        state.store.tenant_db(tenant.id).await.map_err(|e| match e {
            cairn_store::StoreError::TenantNotFound(_) => ApiError::unauthorized("the token's tenant no longer exists"),
            other => other.into(),
        })
    }

    /// Requires a tenant token with a role that includes `required` for the permission
    /// `attempted` (e.g. `number.delete`); opens the tenant's database, named by the token,
    /// never by the request. A denial is audited before the 403.
    pub async fn in_tenant(self, state: &AppState, required: Role, attempted: &str) -> Result<TenantCtx, ApiError> {
        let Some(tenant) = self.principal.tenant.clone() else {
            let reason = "operator tokens act on the platform, not inside a tenant";
            record_denial(state.store.control(), &self, attempted, reason).await;
            return Err(ApiError::forbidden(reason));
        };
        let db = self.tenant_db(state, &tenant).await?;
        if !self.principal.has_role(required) {
            let reason = format!("requires the {required} role");
            tracing::info!(attempted, reason, "access denied");
            record_denial(&db, &self, attempted, &reason).await;
            return Err(ApiError::forbidden(reason));
        }
        Ok(TenantCtx { principal: self.principal, tenant, db, meta: self.meta })
    }

    /// Requires a platform operator token for `attempted`. A tenant token's denial is
    /// audited in its tenant.
    pub async fn operator(self, state: &AppState, attempted: &str) -> Result<OperatorCtx, ApiError> {
        if self.principal.operator {
            return Ok(OperatorCtx { principal: self.principal, meta: self.meta });
        }
        let reason = "requires a platform operator token";
        tracing::info!(attempted, reason, "access denied");
        if let Some(tenant) = self.principal.tenant.clone() {
            let db = self.tenant_db(state, &tenant).await?;
            record_denial(&db, &self, attempted, reason).await;
        }
        Err(ApiError::forbidden(reason))
    }
}

/// `Json<T>` whose rejections are API errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// An optional body (`Option<ApiJson<T>>`): absent when the request has no content type or
/// an empty body, so `POST` without a body works where every field is optional.
impl<T: DeserializeOwned + Send> axum::extract::OptionalFromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        let headers = req.headers();
        let empty = headers.get(axum::http::header::CONTENT_LENGTH).is_some_and(|v| v.as_bytes() == b"0");
        if empty || !headers.contains_key(axum::http::header::CONTENT_TYPE) {
            return Ok(None);
        }
        <Self as FromRequest<AppState>>::from_request(req, state).await.map(Some)
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::new(ErrorCode::ValidationError, "expected content-type: application/json")
        }
        JsonRejection::JsonSyntaxError(_) => ApiError::new(ErrorCode::ValidationError, "body is not valid JSON"),
        JsonRejection::JsonDataError(e) => ApiError::new(ErrorCode::ValidationError, e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
        }
        other => ApiError::new(ErrorCode::ValidationError, other.body_text()),
    }
}

/// `Query<T>` whose rejections are API errors.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::new(ErrorCode::ValidationError, e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::RejectionLimiter;

    #[test]
    fn rejections_are_recorded_at_most_ten_a_minute_per_address() {
        let limiter = RejectionLimiter::default();
        let minute = 60_000 * 1000;
        let counts: Vec<_> = (0..12).map(|i| limiter.allow("10.0.0.1", minute + i)).collect();
        assert_eq!(counts[..10], (1..=10).map(Some).collect::<Vec<_>>()[..]);
        assert_eq!(counts[10..], [None, None]);
        assert_eq!(limiter.allow("10.0.0.2", minute), Some(1), "per address");
        assert_eq!(limiter.allow("10.0.0.1", minute + 60_000), Some(1), "a new minute starts over");
    }
}
