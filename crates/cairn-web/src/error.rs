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

// Each domain error's variants are matched one by one, with no catch-all: a variant added
// to a domain error does not compile here until someone decides what a caller is told.

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
            // Cairn's own files, sealed values and rows: never the caller's doing.
            failed @ (E::Io { .. } | E::Secret(_) | E::Corrupt { .. }) => Self::internal(failed),
        }
    }
}

impl From<cairn_audit::AuditError> for ApiError {
    fn from(e: cairn_audit::AuditError) -> Self {
        use cairn_audit::AuditError as E;
        match e {
            E::Database(db) => Self::database(&db),
            failed @ (E::Signing(_) | E::HeadMoved) => Self::internal(failed),
        }
    }
}

impl From<cairn_identity::TokenError> for ApiError {
    fn from(e: cairn_identity::TokenError) -> Self {
        use cairn_identity::TokenError as E;
        match e {
            // A token the caller presented failed a check: which one is theirs to know.
            refused @ (E::Malformed
            | E::Algorithm
            | E::UnknownKey
            | E::NotAccessToken
            | E::Invalid(_)
            | E::IssuedInFuture
            | E::NoTenant
            | E::Revoked) => Self::unauthorized(refused.to_string()),
            E::Unavailable(cause) => {
                tracing::error!(error = %cause, "cannot check a token's revocation");
                Self::unavailable("cannot check the token now; try again", 5)
            }
            failed @ E::Signing(_) => Self::internal(failed),
        }
    }
}

impl From<cairn_numbers::NumbersError> for ApiError {
    fn from(e: cairn_numbers::NumbersError) -> Self {
        use cairn_numbers::NumbersError as E;
        match e {
            E::NotFound => Self::not_found("number not found"),
            E::Database(db) => Self::database(&db),
            E::Audit(a) => a.into(),
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
            E::Audit(a) => a.into(),
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
            E::Audit(a) => a.into(),
        }
    }
}

impl From<cairn_metrics::MetricsError> for ApiError {
    fn from(e: cairn_metrics::MetricsError) -> Self {
        use cairn_metrics::MetricsError as E;
        match e {
            E::NotFound(what) => Self::not_found(format!("{what} not found")),
            E::Validation(v) => Self::validation(v),
            E::Conflict(msg) => Self::new(ErrorCode::Conflict, msg),
            E::Upstream(msg) => Self::new(ErrorCode::UpstreamError, msg),
            E::Database(db) => Self::database(&db),
            E::Audit(a) => a.into(),
            failed @ E::Corrupt { .. } => Self::internal(failed),
        }
    }
}

impl From<cairn_instances::InstancesError> for ApiError {
    fn from(e: cairn_instances::InstancesError) -> Self {
        use cairn_instances::{AwsError as A, InstancesError as E};
        match e {
            E::NotFound("instance") => Self::not_found("Instance not found"),
            E::NotFound(what) => Self::not_found(format!("{what} not found")),
            E::Validation(v) => Self::validation(v),
            E::Conflict(msg) => Self::new(ErrorCode::Conflict, msg),
            E::Aws { account, error } => match error {
                // Never a 500 for what AWS answers: throttling passes, the rest is AWS's or
                // the account's.
                A::Throttled { code } => {
                    Self::unavailable(format!("AWS is throttling account {account} ({code}); try again shortly"), 5)
                }
                A::NotFound { .. } => Self::not_found("Instance not found"),
                A::State { code, message } => Self::new(ErrorCode::Conflict, format!("{message} ({code})")),
                A::Credentials { code, message } => Self::new(
                    ErrorCode::UpstreamError,
                    format!("AWS refused the credentials of account {account} ({code}): {message}"),
                ),
                A::Forbidden { code, message } => Self::new(
                    ErrorCode::UpstreamError,
                    format!("AWS denied the request for account {account} ({code}): {message}"),
                ),
                A::Timeout => {
                    Self::new(ErrorCode::UpstreamError, format!("AWS did not answer in time for account {account}"))
                }
                other @ (A::Refused(_) | A::Unreachable(_) | A::Other { .. } | A::Platform(_)) => {
                    Self::new(ErrorCode::UpstreamError, format!("account {account}: {other}"))
                }
            },
            E::Database(db) => Self::database(&db),
            E::Audit(a) => a.into(),
            failed @ E::Corrupt { .. } => Self::internal(failed),
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
            E::Database(db) => Self::database(&db),
            E::Audit(a) => a.into(),
            E::Token(t) => t.into(),
            // Signing keys and mail are Cairn's own: the addresses mail goes to were parsed
            // as `Email` when they were given, and mail is sent from the outbox, not here.
            failed @ (E::Key(_) | E::Mail(_)) => Self::internal(failed),
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

#[cfg(test)]
mod tests {
    use cairn_audit::AuditError;
    use cairn_identity::{IdentityError, TokenError};
    use cairn_store::StoreError;
    use cairn_store::sqlx::Error as SqlxError;

    use super::{ApiError, ErrorCode};

    fn code(e: impl Into<ApiError>) -> ErrorCode {
        e.into().code()
    }

    /// A database that cannot be reached: a pool that found no connection in time.
    fn unreachable() -> SqlxError {
        SqlxError::PoolTimedOut
    }

    #[test]
    fn an_unreachable_database_behind_the_audit_entry_is_503_in_every_service() {
        let audit = || AuditError::Database(unreachable());
        assert_eq!(code(audit()), ErrorCode::Unavailable);
        assert_eq!(code(cairn_numbers::NumbersError::Audit(audit())), ErrorCode::Unavailable);
        assert_eq!(code(cairn_records::RecordsError::Audit(audit())), ErrorCode::Unavailable);
        assert_eq!(code(cairn_events::EventsError::Audit(audit())), ErrorCode::Unavailable);
        assert_eq!(code(IdentityError::Audit(audit())), ErrorCode::Unavailable);
        assert_eq!(code(IdentityError::Store(StoreError::Database(unreachable()))), ErrorCode::Unavailable);
        assert_eq!(code(cairn_numbers::NumbersError::Database(unreachable())), ErrorCode::Unavailable);
        assert_eq!(code(cairn_metrics::MetricsError::Audit(audit())), ErrorCode::Unavailable);
        assert_eq!(code(cairn_metrics::MetricsError::Database(unreachable())), ErrorCode::Unavailable);
    }

    #[test]
    fn a_token_the_caller_presented_is_401_and_an_unreadable_epoch_503() {
        for refused in [
            TokenError::Malformed,
            TokenError::Algorithm,
            TokenError::UnknownKey,
            TokenError::NotAccessToken,
            TokenError::Invalid("expired".into()),
            TokenError::IssuedInFuture,
            TokenError::NoTenant,
            TokenError::Revoked,
        ] {
            let said = refused.to_string();
            let e = ApiError::from(IdentityError::Token(refused));
            assert_eq!((e.code(), e.message.as_str()), (ErrorCode::Unauthorized, said.as_str()));
        }
        let e = ApiError::from(TokenError::Unavailable("tenant database down".into()));
        assert_eq!((e.code(), e.retry_after_secs), (ErrorCode::Unavailable, Some(5)));
        assert!(!e.message.contains("down"), "the cause stays in the log");
        assert_eq!(code(TokenError::Signing("RSA".into())), ErrorCode::InternalError);
    }

    #[test]
    fn a_callers_mistake_is_4xx_and_cairns_own_faults_500() {
        let bad = || cairn_domain::ValidationError::new("title", "must not be empty");
        assert_eq!(code(cairn_records::RecordsError::Validation(bad())), ErrorCode::ValidationError);
        assert_eq!(code(cairn_events::EventsError::Validation(bad())), ErrorCode::ValidationError);
        assert_eq!(code(IdentityError::Validation(bad())), ErrorCode::ValidationError);
        assert_eq!(code(cairn_records::RecordsError::NotFound), ErrorCode::NotFound);
        assert_eq!(code(cairn_events::EventsError::NotFound("webhook")), ErrorCode::NotFound);
        assert_eq!(code(IdentityError::Conflict("taken".into())), ErrorCode::Conflict);
        let metrics = ApiError::from(cairn_metrics::MetricsError::Validation(cairn_domain::ValidationError::new(
            "members[0].from",
            "overlaps",
        )));
        assert_eq!((metrics.code(), metrics.field.as_deref()), (ErrorCode::ValidationError, Some("members[0].from")));
        assert_eq!(code(cairn_metrics::MetricsError::NotFound("team")), ErrorCode::NotFound);
        assert_eq!(code(cairn_metrics::MetricsError::Conflict("a team named P exists".into())), ErrorCode::Conflict);
        let corrupt = cairn_metrics::MetricsError::Corrupt { table: "metrics_settings", reason: "zone".into() };
        assert_eq!(code(corrupt), ErrorCode::InternalError);
        assert_eq!(code(StoreError::SlugTaken("acme".into())), ErrorCode::Conflict);
        let placement = ApiError::from(StoreError::Placement("unreachable".into()));
        assert_eq!((placement.code(), placement.field.as_deref()), (ErrorCode::ValidationError, Some("placement")));
        assert_eq!(
            code(IdentityError::Busy(cairn_identity::password::Busy { retry_after_secs: 2 })),
            ErrorCode::RateLimited
        );
        assert_eq!(code(IdentityError::Upstream("502".into())), ErrorCode::UpstreamError);
        for internal in [
            ApiError::from(AuditError::HeadMoved),
            ApiError::from(StoreError::Corrupt { table: "tenants", reason: "slug".into() }),
            ApiError::from(IdentityError::Key("corrupt".into())),
        ] {
            assert_eq!((internal.code(), internal.message.as_str()), (ErrorCode::InternalError, "internal error"));
        }
    }

    #[test]
    fn what_aws_answers_is_never_a_500() {
        use axum::response::IntoResponse;
        use cairn_instances::{AwsError as A, InstancesError as E};
        let aws = |error: A| E::Aws { account: "prod".into(), error };
        let throttled = ApiError::from(aws(A::Throttled { code: "RequestLimitExceeded".into() })).into_response();
        assert_eq!(throttled.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(throttled.headers().contains_key(axum::http::header::RETRY_AFTER), "throttling says when to retry");
        let credentials = ApiError::from(aws(A::Credentials { code: "AuthFailure".into(), message: "no".into() }));
        assert_eq!(credentials.code(), ErrorCode::UpstreamError);
        assert!(credentials.message.contains("prod"), "names the account: {}", credentials.message);
        for (error, expected) in [
            (A::Forbidden { code: "UnauthorizedOperation".into(), message: "m".into() }, ErrorCode::UpstreamError),
            (A::NotFound { code: "InvalidInstanceID.NotFound".into() }, ErrorCode::NotFound),
            (A::State { code: "IncorrectInstanceState".into(), message: "m".into() }, ErrorCode::Conflict),
            (A::Refused("10.0.0.1 is a private address".into()), ErrorCode::UpstreamError),
            (A::Timeout, ErrorCode::UpstreamError),
            (A::Unreachable("connection refused".into()), ErrorCode::UpstreamError),
            (A::Other { code: "InternalError".into(), message: "m".into() }, ErrorCode::UpstreamError),
            (A::Platform("no credentials".into()), ErrorCode::UpstreamError),
        ] {
            assert_eq!(code(aws(error.clone())), expected, "{error:?}");
        }
        assert_eq!(ApiError::from(E::NotFound("instance")).message, "Instance not found");
    }
}
