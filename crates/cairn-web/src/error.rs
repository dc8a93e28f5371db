//! The one HTTP error type. Every error body is
//! `{"error":{"code":"…","message":"…","request_id":"…"}}`; a 500 says nothing of its cause,
//! which is logged once with the request id.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_domain::ValidationError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationError,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    InternalError,
    UpstreamError,
    Unavailable,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationError => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::UpstreamError => StatusCode::BAD_GATEWAY,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The error envelope of every failed API call.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// The request id, also in the `x-request-id` response header and in every log line.
    pub request_id: String,
    /// The request field at fault, for `VALIDATION_ERROR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    field: Option<String>,
    /// `Retry-After` seconds, for `RATE_LIMITED` and `UNAVAILABLE`.
    retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, retry_after_secs: None }
    }

    pub fn validation(e: ValidationError) -> Self {
        Self { field: Some(e.field.clone()), ..Self::new(ErrorCode::ValidationError, e.to_string()) }
    }

    /// A 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self { retry_after_secs: Some(retry_after_secs.max(1)), ..Self::new(ErrorCode::RateLimited, message) }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// A 503 with `Retry-After: retry_after_secs`.
    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self { retry_after_secs: Some(retry_after_secs.max(1)), ..Self::new(ErrorCode::Unavailable, message) }
    }

    /// A database error: `503 UNAVAILABLE` when the database cannot be reached (the caller
    /// did nothing wrong, and trying again later will work), else an internal error.
    pub fn database(e: &cairn_store::sqlx::Error) -> Self {
        if database_unreachable(e) {
            tracing::warn!(error = %e, "database unreachable");
            return Self::unavailable("the database is unreachable; try again shortly", 5);
        }
        Self::internal(e)
    }

    /// An unexpected failure: logged here, once, with its cause; the body stays generic.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::InternalError, "internal error")
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::validation(e)
    }
}

impl From<cairn_store::StoreError> for ApiError {
    fn from(e: cairn_store::StoreError) -> Self {
        use cairn_store::StoreError as E;
        match e {
            E::TenantNotFound(slug) => Self::not_found(format!("no tenant {slug}")),
            E::SlugTaken(slug) => Self::new(ErrorCode::Conflict, format!("tenant slug {slug} is taken")),
            E::Placement(msg) => Self { field: Some("placement".into()), ..Self::new(ErrorCode::ValidationError, msg) },
            // One tenant's database that cannot be brought up to date fails that tenant's
            // requests only; the cause is for the operator's log.
            failed @ E::Migration { .. } => {
                tracing::error!(error = %failed, "tenant database migration failed");
                Self::unavailable("this organization's database is being upgraded; try again shortly", 30)
            }
            E::Database(db) => Self::database(&db),
            other => Self::internal(other),
        }
    }
}

impl From<cairn_numbers::NumbersError> for ApiError {
    fn from(e: cairn_numbers::NumbersError) -> Self {
        match e {
            cairn_numbers::NumbersError::NotFound => Self::not_found("number not found"),
            cairn_numbers::NumbersError::Database(db) => Self::database(&db),
            other => Self::internal(other),
        }
    }
}

impl From<cairn_records::RecordsError> for ApiError {
    fn from(e: cairn_records::RecordsError) -> Self {
        use cairn_records::RecordsError as E;
        match e {
            E::NotFound => Self::not_found("record not found"),
            E::Validation(v) => Self::validation(v),
            E::Database(db) => Self::database(&db),
            other => Self::internal(other),
        }
    }
}

impl From<cairn_events::EventsError> for ApiError {
    fn from(e: cairn_events::EventsError) -> Self {
        use cairn_events::EventsError as E;
        match e {
            E::NotFound(what) => Self::not_found(format!("{what} not found")),
            E::Validation(v) => Self::validation(v),
            E::Database(db) => Self::database(&db),
            other => Self::internal(other),
        }
    }
}

impl From<cairn_identity::IdentityError> for ApiError {
    fn from(e: cairn_identity::IdentityError) -> Self {
        use cairn_identity::IdentityError as E;
        match e {
            E::Validation(v) => Self::validation(v),
            E::NotFound(what) => Self::not_found(format!("{what} not found")),
            E::Conflict(msg) => Self::new(ErrorCode::Conflict, msg),
            E::Store(s) => s.into(),
            E::Upstream(m) => {
                tracing::warn!(error = %m, "upstream identity provider");
                Self::new(ErrorCode::UpstreamError, "the upstream identity provider failed")
            }
            E::Busy(b) => Self::rate_limited(b.to_string(), b.retry_after_secs),
            E::Database(db) | E::Audit(cairn_audit::AuditError::Database(db)) => Self::database(&db),
            other => Self::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                request_id: context::current_request_id(),
                field: self.field,
            },
        };
        let mut resp = (self.code.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        if self.code == ErrorCode::Unauthorized {
            resp.headers_mut()
                .insert("www-authenticate", axum::http::HeaderValue::from_static("Bearer realm=\"cairn\""));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Whether a database error means the database could not be reached at all (connection
/// refused or lost, no free connection in time, the server shutting down or full), rather
/// than a fault in the statement.
pub fn database_unreachable(e: &cairn_store::sqlx::Error) -> bool {
    use cairn_store::sqlx::Error as E;
    match e {
        E::PoolTimedOut | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down, cannot
        // connect now), 53300 (too many connections).
        E::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
        _ => false,
    }
}
