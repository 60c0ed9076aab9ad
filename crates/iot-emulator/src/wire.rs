//! rest-json wire details shared by every operation: the error shapes, the SigV4 credential
//! scope the emulator reads (but does not verify) and the opaque pagination tokens.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answered in AWS IoT's rest-json shape: `x-amzn-ErrorType` plus a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The model's error shape name, e.g. `InvalidRequestException`.
    pub kind: &'static str,
    pub status: StatusCode,
    pub message: String,
    /// Extra body members (`resourceId`/`resourceArn` for ResourceAlreadyExists).
    pub extra: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(kind: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            status,
            message: message.into(),
            extra: Vec::new(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidRequestException", StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", StatusCode::NOT_FOUND, message)
    }
    pub fn already_exists(message: impl Into<String>, id: &str, arn: &str) -> Self {
        let mut e = Self::new(
            "ResourceAlreadyExistsException",
            StatusCode::CONFLICT,
            message,
        );
        e.extra = vec![
            ("resourceId", id.to_string()),
            ("resourceArn", arn.to_string()),
        ];
        e
    }
    pub fn version_conflict(message: impl Into<String>) -> Self {
        Self::new("VersionConflictException", StatusCode::CONFLICT, message)
    }
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("LimitExceededException", StatusCode::GONE, message)
    }
    pub fn throttling(message: impl Into<String>) -> Self {
        Self::new("ThrottlingException", StatusCode::BAD_REQUEST, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            "InternalFailureException",
            StatusCode::INTERNAL_SERVER_ERROR,
            message,
        )
    }
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new("AccessDeniedException", StatusCode::FORBIDDEN, message)
    }
    pub fn missing_auth() -> Self {
        Self::new(
            "MissingAuthenticationTokenException",
            StatusCode::FORBIDDEN,
            "Missing Authentication Token",
        )
    }
    pub fn expired_token() -> Self {
        Self::new(
            "ExpiredTokenException",
            StatusCode::FORBIDDEN,
            "The security token included in the request is expired",
        )
    }
    pub fn unrecognized_client() -> Self {
        Self::new(
            "UnrecognizedClientException",
            StatusCode::FORBIDDEN,
            "The security token included in the request is invalid.",
        )
    }
    pub fn incomplete_signature(message: impl Into<String>) -> Self {
        Self::new(
            "IncompleteSignatureException",
            StatusCode::FORBIDDEN,
            message,
        )
    }
    pub fn unknown_operation() -> Self {
        Self::new(
            "UnknownOperationException",
            StatusCode::NOT_FOUND,
            "No operation of this emulator matches the request's method and path",
        )
    }

    /// The JSON body AWS sends for this error.
    pub fn body(&self) -> Value {
        let mut body = json!({ "message": self.message });
        for (k, v) in &self.extra {
            body[*k] = Value::String(v.clone());
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-ErrorType", HeaderValue::from_static(self.kind));
        resp
    }
}

/// The caller identity the emulator derives from a request: the credential scope's region and
/// access key. The signature itself is not verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub access_key: String,
    pub region: String,
}

/// Reads `Authorization: AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
/// ...`, requiring the credential scope's service to be `service` (`iot` or `sts`).
pub fn parse_authorization(headers: &HeaderMap, service: &str) -> Result<Caller, ApiError> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::missing_auth());
    };
    let raw = raw
        .to_str()
        .map_err(|_| ApiError::incomplete_signature("Authorization header is not ASCII"))?;
    let Some(rest) = raw.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return Err(ApiError::incomplete_signature(
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm",
        ));
    };
    let mut credential = None;
    let mut signed_headers = false;
    let mut signature = false;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if part.starts_with("SignedHeaders=") {
            signed_headers = true;
        } else if part.starts_with("Signature=") {
            signature = true;
        }
    }
    let (Some(credential), true, true) = (credential, signed_headers, signature) else {
        return Err(ApiError::incomplete_signature(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let valid = scope.len() == 5
        && !scope[0].is_empty()
        && scope[1].len() == 8
        && scope[1].bytes().all(|b| b.is_ascii_digit())
        && !scope[2].is_empty()
        && scope[2]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && scope[3] == service
        && scope[4] == "aws4_request";
    if !valid {
        return Err(ApiError::incomplete_signature(format!(
            "Credential should be scoped to a valid region and the '{service}' service: '{credential}'"
        )));
    }
    Ok(Caller {
        access_key: scope[0].to_string(),
        region: scope[2].to_string(),
    })
}

/// Pagination tokens name the last key returned, so a page always resumes strictly after it:
/// items present for the whole listing are never repeated or skipped, whatever changes between
/// pages.
pub fn encode_token(last_key: &str) -> String {
    let mut s = String::with_capacity(3 + last_key.len() * 2);
    s.push_str("v1.");
    for b in last_key.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Inverse of [`encode_token`]; a token the emulator did not issue is InvalidRequest.
pub fn decode_token(token: &str) -> Result<String, ApiError> {
    let bad = || ApiError::invalid(format!("The nextToken '{token}' is invalid"));
    let hex = token.strip_prefix("v1.").ok_or_else(bad)?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips() {
        let t = encode_token("a:b_c-1");
        assert_eq!(decode_token(&t).unwrap(), "a:b_c-1");
        assert!(decode_token("garbage").is_err());
        assert!(decode_token("v1.zz").is_err());
    }

    #[test]
    fn authorization_scope_is_parsed() {
        let mut h = HeaderMap::new();
        assert_eq!(
            parse_authorization(&h, "iot").unwrap_err().kind,
            "MissingAuthenticationTokenException"
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/iot/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        assert_eq!(parse_authorization(&h, "iot").unwrap().region, "eu-west-1");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        assert_eq!(
            parse_authorization(&h, "iot").unwrap_err().kind,
            "IncompleteSignatureException"
        );
    }
}
