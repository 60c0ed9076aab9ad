//! AWS errors, classified by what the controller should do about them.

use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
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
    /// Classifies an SDK error by its AWS error code and HTTP status.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
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
            SdkError::ConstructionFailure(_) => (
                "ConstructionFailure".to_string(),
                format!(
                    "{}",
                    aws_smithy_types::error::display::DisplayErrorContext(&err)
                ),
            ),
            SdkError::ResponseError(_) => (
                "ResponseError".to_string(),
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
        let class = match code.as_str() {
            "ResourceNotFoundException" => ErrorClass::NotFound,
            "ResourceAlreadyExistsException" => ErrorClass::AlreadyExists,
            "VersionConflictException" => ErrorClass::VersionConflict,
            "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => {
                ErrorClass::Throttled
            }
            "AccessDeniedException" | "UnauthorizedException" | "AccessDenied" => {
                ErrorClass::AccessDenied
            }
            "InternalFailureException"
            | "InternalException"
            | "ServiceUnavailableException"
            | "RequestTimeout"
            | "DispatchFailure"
            | "ResponseError" => ErrorClass::Transient,
            _ => ErrorClass::Invalid,
        };
        AwsError {
            operation,
            code,
            message,
            class,
        }
    }
}
