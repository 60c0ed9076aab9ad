//! STS on the same listener: AssumeRole, AssumeRoleWithWebIdentity and GetCallerIdentity in
//! the awsQuery protocol (form-encoded POST to `/`, XML answers). Roles come from the admin
//! API; the temporary keys handed out act in the role's account, so an operator that assumes a
//! role per namespace lands its profiles in that account and nowhere else.

use crate::iam::{self, Decision};
use crate::model::Op;
use crate::wire::parse_authorization;
use crate::{Shared, lock};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// A role callers may assume, registered through the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Role {
    #[serde(rename = "roleArn")]
    pub arn: String,
    #[serde(rename = "accountId")]
    pub account: String,
    /// Accounts whose callers the trust policy admits; None admits every caller.
    #[serde(rename = "trustedAccounts", skip_serializing_if = "Option::is_none")]
    pub trusted_accounts: Option<Vec<String>>,
    #[serde(rename = "externalId", skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

impl Role {
    /// Builds a role from its ARN (`arn:aws:iam::ACCOUNT:role/[PATH/]NAME`).
    pub fn new(
        arn: &str,
        trusted_accounts: Option<Vec<String>>,
        external_id: Option<String>,
    ) -> Result<Role, String> {
        let (account, _) = role_parts(arn).ok_or_else(|| {
            format!("'{arn}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        })?;
        Ok(Role {
            arn: arn.to_string(),
            account: account.to_string(),
            trusted_accounts,
            external_id,
        })
    }
}

/// The account and role name of a role ARN.
fn role_parts(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, path) = rest.split_once(":role/")?;
    let name = path.rsplit('/').next().filter(|n| !n.is_empty())?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some((account, name))
}

/// Temporary credentials handed out by an assume call.
#[derive(Debug, Clone)]
struct Session {
    account: String,
    principal: String,
    expires: SystemTime,
}

/// Who a request's access key belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub account: String,
    /// The ARN AccessDenied messages name.
    pub principal: String,
}

/// Why an access key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyError {
    Expired,
    Unrecognized,
}

/// Roles, issued sessions and the lifetime override.
#[derive(Default)]
pub struct Sts {
    roles: BTreeMap<String, Role>,
    sessions: HashMap<String, Session>,
    duration_override: Option<u64>,
}

impl Sts {
    pub fn put_role(&mut self, role: Role) {
        self.roles.insert(role.arn.clone(), role);
    }

    pub fn roles(&self) -> Vec<Role> {
        self.roles.values().cloned().collect()
    }

    /// Every credential handed out from now on lives `seconds` (None: as requested).
    pub fn set_duration(&mut self, seconds: Option<u64>) {
        self.duration_override = seconds;
    }

    /// Makes every issued credential expired now.
    pub fn expire_all(&mut self) {
        let past = SystemTime::now() - Duration::from_secs(1);
        for s in self.sessions.values_mut() {
            s.expires = past;
        }
    }

    /// The identity of an access key: an issued session's role, or (any other key) a user of
    /// `default_account`. Keys that look temporary (`ASIA…`) but weren't issued are refused.
    pub fn identity(&self, access_key: &str, default_account: &str) -> Result<Identity, KeyError> {
        match self.sessions.get(access_key) {
            Some(s) if s.expires <= SystemTime::now() => Err(KeyError::Expired),
            Some(s) => Ok(Identity {
                account: s.account.clone(),
                principal: s.principal.clone(),
            }),
            None if access_key.starts_with("ASIA") => Err(KeyError::Unrecognized),
            None => Ok(Identity {
                account: default_account.to_string(),
                principal: format!("arn:aws:iam::{default_account}:user/{access_key}"),
            }),
        }
    }
}

/// An STS error answered in the awsQuery XML shape.
#[derive(Debug)]
struct StsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: StatusCode, code: &'static str, message: impl Into<String>) -> StsError {
    StsError {
        status,
        code,
        message: message.into(),
    }
}

fn validation(message: impl Into<String>) -> StsError {
    err(StatusCode::BAD_REQUEST, "ValidationError", message)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    r
}

impl StsError {
    fn into_response(self, request_id: &str) -> Response {
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            self.code,
            xml_escape(&self.message)
        );
        xml_response(self.status, body)
    }
}

/// Decodes an `application/x-www-form-urlencoded` body.
fn form(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// Formats epoch seconds as ISO 8601 UTC (`2026-12-02T01:00:00Z`), the XML timestamp format.
fn iso8601(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn random(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The validated parameters of an assume call.
struct AssumeInput {
    role_arn: String,
    session_name: String,
    duration: u64,
    external_id: Option<String>,
}

fn assume_input(p: &HashMap<String, String>) -> Result<AssumeInput, StsError> {
    let required = |k: &str| {
        p.get(k).cloned().ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(k)
            ))
        })
    };
    let role_arn = required("RoleArn")?;
    let session_name = required("RoleSessionName")?;
    let name_ok = (2..=64).contains(&session_name.len())
        && session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !name_ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64"
        )));
    }
    let duration = match p.get("DurationSeconds") {
        None => 3600,
        Some(d) => match d.parse::<u64>() {
            Ok(n) if (900..=43_200).contains(&n) => n,
            _ => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200"
                )));
            }
        },
    };
    Ok(AssumeInput {
        role_arn,
        session_name,
        duration,
        external_id: p.get("ExternalId").cloned(),
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

impl Sts {
    /// Issues credentials for `input` after the trust checks (`caller` is None for web
    /// identity, which only needs a registered role).
    fn assume(
        &mut self,
        input: &AssumeInput,
        caller: Option<&Identity>,
        action: &str,
    ) -> Result<String, StsError> {
        let denied = || {
            let who = caller.map_or("an anonymous web identity", |c| c.principal.as_str());
            err(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                format!(
                    "User: {who} is not authorized to perform: {action} on resource: {}",
                    input.role_arn
                ),
            )
        };
        let role = self.roles.get(&input.role_arn).ok_or_else(denied)?;
        if let (Some(c), Some(trusted)) = (caller, &role.trusted_accounts)
            && !trusted.contains(&c.account)
        {
            return Err(denied());
        }
        if caller.is_some() && role.external_id.is_some() && role.external_id != input.external_id {
            return Err(denied());
        }
        let (_, role_name) = role_parts(&role.arn).ok_or_else(denied)?;
        let account = role.account.clone();
        let principal = format!(
            "arn:aws:sts::{account}:assumed-role/{role_name}/{}",
            input.session_name
        );
        let lifetime = self.duration_override.unwrap_or(input.duration);
        let expires = SystemTime::now() + Duration::from_secs(lifetime);
        let key = format!("ASIA{}", random(UPPER, 16));
        let role_id = format!("AROA{}:{}", random(UPPER, 17), input.session_name);
        let result = format!(
            "<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{}</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>",
            random(MIXED, 40),
            random(MIXED, 200),
            iso8601(expires),
            xml_escape(&role_id),
            xml_escape(&principal),
        );
        self.sessions.insert(
            key,
            Session {
                account,
                principal,
                expires,
            },
        );
        Ok(result)
    }
}

/// The caller of a signed STS call (SigV4 scope service `sts`).
fn signed_caller(shared: &Shared, headers: &HeaderMap) -> Result<Identity, StsError> {
    let caller = parse_authorization(headers, "sts").map_err(|e| {
        let code = match e.kind {
            "MissingAuthenticationTokenException" => "MissingAuthenticationToken",
            _ => "IncompleteSignature",
        };
        err(StatusCode::FORBIDDEN, code, e.message)
    })?;
    lock(&shared.sts)
        .identity(&caller.access_key, &shared.account_id)
        .map_err(|e| match e {
            KeyError::Expired => err(
                StatusCode::FORBIDDEN,
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
            KeyError::Unrecognized => err(
                StatusCode::FORBIDDEN,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            ),
        })
}

/// Runs one STS action and returns its `…Result` XML content.
fn dispatch(
    shared: &Shared,
    op: Op,
    headers: &HeaderMap,
    p: &HashMap<String, String>,
) -> Result<String, StsError> {
    match op {
        Op::AssumeRole => {
            let caller = signed_caller(shared, headers)?;
            let input = assume_input(p)?;
            let request = iam::Request::new("sts:AssumeRole", input.role_arn.clone());
            if lock(&shared.control).evaluate(&caller.account, &request) != Decision::Allow {
                return Err(err(
                    StatusCode::FORBIDDEN,
                    "AccessDenied",
                    format!(
                        "User: {} is not authorized to perform: sts:AssumeRole on resource: {} because no identity-based policy allows the sts:AssumeRole action",
                        caller.principal, input.role_arn
                    ),
                ));
            }
            lock(&shared.sts).assume(&input, Some(&caller), "sts:AssumeRole")
        }
        Op::AssumeRoleWithWebIdentity => {
            if p.get("WebIdentityToken").is_none_or(|t| t.len() < 4) {
                return Err(validation(
                    "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4",
                ));
            }
            let input = assume_input(p)?;
            let creds = lock(&shared.sts).assume(&input, None, "sts:AssumeRoleWithWebIdentity")?;
            Ok(format!(
                "{creds}<SubjectFromWebIdentityToken>emulator</SubjectFromWebIdentityToken><Provider>emulator</Provider><Audience>sts.amazonaws.com</Audience>"
            ))
        }
        _ => {
            let caller = signed_caller(shared, headers)?;
            Ok(format!(
                "<Arn>{}</Arn><UserId>{}</UserId><Account>{}</Account>",
                xml_escape(&caller.principal),
                xml_escape(&caller.principal),
                caller.account
            ))
        }
    }
}

/// `POST /`: the awsQuery entry point, told apart from IoT's rest-json paths by its path.
pub(crate) async fn handle(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = form(&body);
    let request_id = format!(
        "00000000-0000-4000-8000-{:012x}",
        s.request_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let action = p.get("Action").map(String::as_str).unwrap_or_default();
    let op = match action {
        "AssumeRole" => Op::AssumeRole,
        "AssumeRoleWithWebIdentity" => Op::AssumeRoleWithWebIdentity,
        "GetCallerIdentity" => Op::GetCallerIdentity,
        _ => {
            let e = err(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {action} for version 2011-06-15"),
            );
            return e.into_response(&request_id);
        }
    };
    let result = match admit(&s, op).await {
        Ok(()) => dispatch(&s, op, &headers, &p),
        Err(e) => Err(e),
    };
    let outcome = result.as_ref().map_or_else(|e| e.code, |_| "ok");
    lock(&s.control).count(op, outcome);
    match result {
        Ok(inner) => xml_response(
            StatusCode::OK,
            format!(
                "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{inner}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ),
        ),
        Err(e) => e.into_response(&request_id),
    }
}

/// Quota and faults for an STS call (a Timeout fault holds it until the emulator stops).
async fn admit(shared: &Shared, op: Op) -> Result<(), StsError> {
    use crate::faults::{Decision as Fault, FaultError};
    let decision = {
        let mut control = lock(&shared.control);
        if !control.admit(op) {
            return Err(err(StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded"));
        }
        control.decide(op)
    };
    match decision {
        Fault::Serve => Ok(()),
        Fault::Delay(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        }
        Fault::Fail(FaultError::ThrottlingException) => Err(err(
            StatusCode::BAD_REQUEST,
            "Throttling",
            "Rate exceeded (injected fault)",
        )),
        Fault::Fail(FaultError::InternalFailureException) => Err(err(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "An internal error occurred (injected fault)",
        )),
        Fault::Fail(FaultError::Timeout) => {
            let mut stop = shared.shutdown.subscribe();
            let _ = stop.wait_for(|s| *s).await;
            Err(err(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                "The emulator stopped while holding this request",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            iso8601(UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
        let p = form(b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&X=a+b");
        assert_eq!(p["RoleArn"], "arn:aws:iam::1:role/r");
        assert_eq!(p["X"], "a b");
        assert_eq!(
            role_parts("arn:aws:iam::111111111111:role/p/n"),
            Some(("111111111111", "n"))
        );
        assert_eq!(role_parts("arn:aws:iam::1:role/n"), None);
    }

    #[test]
    fn trust_external_id_and_expiry() {
        let mut sts = Sts::default();
        let arn = "arn:aws:iam::111111111111:role/r";
        sts.put_role(
            Role::new(arn, Some(vec!["123456789012".into()]), Some("ext".into())).unwrap(),
        );
        let me = sts.identity("AKID", "123456789012").unwrap();
        let input = |ext: Option<&str>| AssumeInput {
            role_arn: arn.into(),
            session_name: "s".into(),
            duration: 900,
            external_id: ext.map(str::to_string),
        };
        assert!(
            sts.assume(&input(None), Some(&me), "sts:AssumeRole")
                .is_err()
        );
        assert!(
            sts.assume(&input(Some("ext")), Some(&me), "sts:AssumeRole")
                .is_ok()
        );
        let other = sts.identity("AKID", "999999999999").unwrap();
        assert!(
            sts.assume(&input(Some("ext")), Some(&other), "sts:AssumeRole")
                .is_err()
        );
        let key = sts.sessions.keys().next().unwrap().clone();
        assert_eq!(sts.identity(&key, "x").unwrap().account, "111111111111");
        sts.expire_all();
        assert_eq!(sts.identity(&key, "x"), Err(KeyError::Expired));
        assert_eq!(
            sts.identity("ASIANOTISSUED", "x"),
            Err(KeyError::Unrecognized)
        );
    }
}
