//! AWS errors, classified by what the controller should do about them.

use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::fmt;

/// What an AWS error means for the reconcile loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    NotFound,
    AlreadyExists,
    VersionConflict,
    Throttled,
    AccessDenied,
    /// A 4xx the same request will get again: wait for a spec change.
    Invalid,
    /// 5xx, timeouts, connection failures: retry with backoff.
    Transient,
}

impl ErrorClass {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Throttled
                | ErrorClass::Transient
                | ErrorClass::VersionConflict
                // Someone created the name between our read and our create: read again.
                | ErrorClass::AlreadyExists
        )
    }
}

/// One failed AWS call: the operation, the AWS error code and message, verbatim.
#[derive(Clone, Debug, thiserror::Error)]
pub struct AwsError {
    pub operation: &'static str,
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.operation, self.code, self.message)
    }
}

impl AwsError {
    /// Classifies an SDK error by its AWS error code first and its HTTP status second: an
    /// unknown 5xx is transient, an unknown 4xx terminal, and an answer that never came
    /// (timeout, connection failure) transient.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message) = match &err {
            SdkError::TimeoutError(_) => (
                "RequestTimeout".to_string(),
                "the request timed out".to_string(),
            ),
            SdkError::DispatchFailure(e) => (
                "DispatchFailure".to_string(),
                if e.is_timeout() {
                    "the request timed out".to_string()
                } else {
                    format!("could not send the request: {e:?}")
                },
            ),
            SdkError::ConstructionFailure(_) | SdkError::ResponseError(_) => (
                match &err {
                    SdkError::ConstructionFailure(_) => "ConstructionFailure",
                    _ => "ResponseError",
                }
                .to_string(),
                format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&err)
                ),
            ),
            _ => (
                err.code().unwrap_or("Unknown").to_string(),
                err.message().unwrap_or_default().to_string(),
            ),
        };
        let class = classify(&code, status);
        AwsError {
            operation,
            code,
            message,
            class,
        }
    }
}

/// The class of an AWS error code, with the HTTP status as the fallback for codes not known.
pub fn classify(code: &str, status: Option<u16>) -> ErrorClass {
    match code {
        "ResourceNotFoundException" => ErrorClass::NotFound,
        "ResourceAlreadyExistsException" => ErrorClass::AlreadyExists,
        "VersionConflictException" => ErrorClass::VersionConflict,
        "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "Throttling"
        | "SlowDown" => ErrorClass::Throttled,
        "AccessDeniedException" | "UnauthorizedException" | "AccessDenied" => {
            ErrorClass::AccessDenied
        }
        // Credentials that expired between refreshes: the next attempt signs with new ones.
        "ExpiredTokenException" | "ExpiredToken" | "RequestExpired" | "IDPCommunicationError" => {
            ErrorClass::Transient
        }
        "InternalFailureException"
        | "InternalException"
        | "InternalFailure"
        | "ServiceUnavailableException"
        | "ServiceUnavailable"
        | "RequestTimeout"
        | "DispatchFailure"
        | "ResponseError" => ErrorClass::Transient,
        "InvalidRequestException" | "LimitExceededException" | "ConstructionFailure" => {
            ErrorClass::Invalid
        }
        _ => match status {
            Some(s) if s >= 500 => ErrorClass::Transient,
            Some(429) => ErrorClass::Throttled,
            Some(403) => ErrorClass::AccessDenied,
            Some(404) => ErrorClass::NotFound,
            Some(409) => ErrorClass::VersionConflict,
            Some(s) if s >= 400 => ErrorClass::Invalid,
            _ => ErrorClass::Transient,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_decides_before_the_status() {
        assert_eq!(
            classify("ThrottlingException", Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify("InvalidRequestException", Some(400)),
            ErrorClass::Invalid
        );
        assert_eq!(
            classify("VersionConflictException", Some(409)),
            ErrorClass::VersionConflict
        );
        assert_eq!(
            classify("ExpiredTokenException", Some(403)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify("AccessDeniedException", Some(403)),
            ErrorClass::AccessDenied
        );
    }

    #[test]
    fn unknown_codes_fall_back_to_the_status() {
        assert_eq!(classify("SomethingNew", Some(503)), ErrorClass::Transient);
        assert_eq!(classify("SomethingNew", Some(500)), ErrorClass::Transient);
        assert_eq!(classify("SomethingNew", Some(400)), ErrorClass::Invalid);
        assert_eq!(classify("SomethingNew", Some(429)), ErrorClass::Throttled);
        assert_eq!(classify("Unknown", None), ErrorClass::Transient);
    }
}
