//! What went wrong in a call to AWS, said so that the caller can tell whose it is: the
//! account's credentials or permissions, AWS's throttling, an instance AWS does not know or
//! whose state forbids the action, an endpoint Cairn may not reach, or one that did not
//! answer in time.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use cairn_outbound::OutboundError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// AWS refused the credentials (unknown or disabled key, bad secret, expired token).
    #[error("AWS refused the credentials ({code}): {message}")]
    Credentials { code: String, message: String },
    /// The credentials are valid but lack a permission, or the region is not enabled.
    #[error("AWS denied the request ({code}): {message}")]
    Forbidden { code: String, message: String },
    /// AWS throttled the account's requests, still after the SDK's retries.
    #[error("AWS throttled the request ({code})")]
    Throttled { code: String },
    /// AWS knows no such instance.
    #[error("AWS knows no such instance ({code})")]
    NotFound { code: String },
    /// The instance's state does not allow the action (stopping a stopped instance…).
    #[error("{message}")]
    State { code: String, message: String },
    /// The endpoint is an address Cairn may not reach.
    #[error("{0}")]
    Refused(String),
    #[error("AWS did not answer in time")]
    Timeout,
    /// No answer, or one that is not an AWS API's.
    #[error("AWS could not be reached: {0}")]
    Unreachable(String),
    /// Any other refusal by AWS.
    #[error("AWS answered {code}: {message}")]
    Other { code: String, message: String },
    /// Cairn's own credentials, with which roles are assumed, are missing or refused: the
    /// operator's to fix.
    #[error("{0}")]
    Platform(String),
}

const CREDENTIALS: &[&str] = &[
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidToken",
];
const FORBIDDEN: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "OptInRequired",
    "Blocked",
    "RegionDisabledException",
];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "EC2ThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
];
const NOT_FOUND: &[&str] = &["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed", "InvalidInstanceID"];
const STATE: &[&str] = &[
    "IncorrectInstanceState",
    "IncorrectState",
    "UnsupportedOperation",
    "OperationNotPermitted",
    "InsufficientInstanceCapacity",
];

impl AwsError {
    /// The AWS error code, for the audit trail (`timeout`, `unreachable`, `refused`,
    /// `platform_credentials` when AWS gave none).
    pub fn code(&self) -> &str {
        match self {
            AwsError::Credentials { code, .. }
            | AwsError::Forbidden { code, .. }
            | AwsError::Throttled { code }
            | AwsError::NotFound { code }
            | AwsError::State { code, .. }
            | AwsError::Other { code, .. } => code,
            AwsError::Refused(_) => "refused",
            AwsError::Platform(_) => "platform_credentials",
            AwsError::Timeout => "timeout",
            AwsError::Unreachable(_) => "unreachable",
        }
    }

    /// An error AWS answered with `code` (and `message`).
    pub fn from_code(code: &str, message: &str) -> AwsError {
        let code_owned = code.to_owned();
        let message = short(message);
        if CREDENTIALS.contains(&code) {
            AwsError::Credentials { code: code_owned, message }
        } else if FORBIDDEN.contains(&code) {
            AwsError::Forbidden { code: code_owned, message }
        } else if THROTTLED.contains(&code) {
            AwsError::Throttled { code: code_owned }
        } else if NOT_FOUND.contains(&code) {
            AwsError::NotFound { code: code_owned }
        } else if STATE.contains(&code) {
            AwsError::State { code: code_owned, message }
        } else {
            AwsError::Other { code: code_owned, message }
        }
    }

    /// An SDK call's failure.
    pub(crate) fn from_sdk<E>(e: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        // A role's credentials that could not be assumed, or the guard's refusal, are found
        // among the causes whatever the variant that carries them.
        if let Some(found) = cause::<AwsError>(&e) {
            return found.clone();
        }
        if let Some(outbound) = cause::<OutboundError>(&e) {
            return match outbound {
                OutboundError::Refused(why) => AwsError::Refused(why.clone()),
                OutboundError::Timeout => AwsError::Timeout,
                other => AwsError::Unreachable(other.to_string()),
            };
        }
        match &e {
            SdkError::ServiceError(s) => match s.err().code() {
                Some(code) => AwsError::from_code(code, s.err().message().unwrap_or_default()),
                // An endpoint that words its errors otherwise than the protocol says (the
                // Query protocol's `Errors` wrapper of EC2 where STS has none): its code is
                // still read.
                None => match body_code(s.raw()) {
                    Some((code, message)) => AwsError::from_code(&code, &message),
                    None => AwsError::Unreachable(format!(
                        "an answer without an AWS error code (HTTP {})",
                        s.raw().status().as_u16()
                    )),
                },
            },
            SdkError::TimeoutError(_) => AwsError::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => AwsError::Timeout,
            SdkError::ResponseError(_) => AwsError::Unreachable("an answer that is not an AWS API's".into()),
            _ => AwsError::Unreachable(chain(&e)),
        }
    }
}

/// The first of `e`'s causes (itself included) that is a `T`.
pub(crate) fn cause<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// `e` and its causes, joined.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(err) = next {
        text.push_str(": ");
        text.push_str(&err.to_string());
        next = err.source();
    }
    short(&text)
}

/// The `<Code>` and `<Message>` of an XML error body.
fn body_code(raw: &HttpResponse) -> Option<(String, String)> {
    let text = std::str::from_utf8(raw.body().bytes()?).ok()?;
    let between = |open: &str, close: &str| -> Option<String> {
        let start = text.find(open)? + open.len();
        let end = text[start..].find(close)? + start;
        Some(text[start..end].trim().to_owned())
    };
    let code = between("<Code>", "</Code>").filter(|c| !c.is_empty() && c.len() <= 100)?;
    Some((code, between("<Message>", "</Message>").unwrap_or_default()))
}

/// At most 300 characters of what AWS said (its messages name no secret).
fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_by_whose_they_are() {
        assert!(matches!(AwsError::from_code("AuthFailure", "x"), AwsError::Credentials { .. }));
        assert!(matches!(AwsError::from_code("InvalidClientTokenId", "x"), AwsError::Credentials { .. }));
        assert!(matches!(AwsError::from_code("UnauthorizedOperation", "x"), AwsError::Forbidden { .. }));
        assert!(matches!(AwsError::from_code("RequestLimitExceeded", "x"), AwsError::Throttled { .. }));
        assert!(matches!(AwsError::from_code("Throttling", "x"), AwsError::Throttled { .. }));
        assert!(matches!(AwsError::from_code("InvalidInstanceID.NotFound", "x"), AwsError::NotFound { .. }));
        assert!(matches!(AwsError::from_code("IncorrectInstanceState", "x"), AwsError::State { .. }));
        let other = AwsError::from_code("InternalError", "try again");
        assert_eq!(other.code(), "InternalError");
        assert!(matches!(other, AwsError::Other { .. }));
        assert_eq!(AwsError::Timeout.code(), "timeout");
        assert_eq!(
            AwsError::from_code("Other", &"m".repeat(1000)).to_string().len(),
            "AWS answered Other: ".len() + 300
        );
    }
}
