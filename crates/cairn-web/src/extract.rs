//! Extractors: the verified caller, and JSON/query parsing whose failures use the API's
//! error body.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use cairn_domain::{Principal, Role, TenantRef};
use cairn_store::Db;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// A caller whose bearer token verified. Every API route but the public ones takes this.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("authorization header must be 'Bearer <token>'"))?;
        let principal = state.tokens.verify_access(token).map_err(|e| {
            tracing::info!(reason = %e, "bearer token rejected");
            ApiError::unauthorized("invalid or expired token")
        })?;
        let span = tracing::Span::current();
        span.record("subject", principal.subject.as_str());
        if let Some(t) = &principal.tenant {
            span.record("tenant", t.slug.as_str());
        }
        Ok(Caller(principal))
    }
}

/// A tenant caller holding at least some role, with the tenant's database.
#[derive(Debug)]
pub struct TenantCtx {
    pub principal: Principal,
    pub tenant: TenantRef,
    pub db: Db,
}

impl Caller {
    /// Requires a tenant token with a role that includes `required`; opens the tenant's
    /// database (named by the token, never by the request).
    pub async fn in_tenant(self, state: &AppState, required: Role) -> Result<TenantCtx, ApiError> {
        let Some(tenant) = self.0.tenant.clone() else {
            return Err(ApiError::forbidden("operator tokens act on the platform, not inside a tenant"));
        };
        if !self.0.has_role(required) {
            tracing::info!(required = %required, "access denied: insufficient role");
            return Err(ApiError::forbidden(format!("requires the {required} role")));
        }
        let db = state.store.tenant_db(tenant.id).await.map_err(|e| match e {
            cairn_store::StoreError::TenantNotFound(_) => ApiError::unauthorized("the token's tenant no longer exists"),
            other => ApiError::internal(other),
        })?;
        Ok(TenantCtx { principal: self.0, tenant, db })
    }

    /// Requires a platform operator token.
    pub fn operator(self) -> Result<Principal, ApiError> {
        if self.0.operator {
            Ok(self.0)
        } else {
            tracing::info!("access denied: operator required");
            Err(ApiError::forbidden("requires a platform operator token"))
        }
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
