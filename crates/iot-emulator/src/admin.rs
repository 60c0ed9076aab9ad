//! The admin API: the same controls as a Rust handle ([`Admin`]) and as JSON routes under
//! `/_emulator/` (no SigV4 needed there).

use crate::faults::{Calls, Fault};
use crate::iam::Policy;
use crate::model::{Op, Profile, State};
use crate::store::Scope;
use crate::validate::{self, Violations};
use crate::{Error, Shared, lock};
use axum::Json;
use axum::Router;
use axum::extract::{Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The region admin calls use when they name none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Handle on a running emulator's state and run-time controls.
#[derive(Clone)]
pub struct Admin {
    shared: Arc<Shared>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::Invalid(msg.into())
}

impl Admin {
    pub(crate) fn new(shared: Arc<Shared>) -> Admin {
        Admin { shared }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The account the emulator serves.
    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    /// Every profile and thing group (same JSON as `GET /_emulator/state`).
    pub fn state(&self) -> State {
        lock(&self.shared.store).state()
    }

    /// Calls per operation and outcome (`ok` or the error code).
    pub fn calls(&self) -> Calls {
        lock(&self.shared.control).calls()
    }

    /// Empties the state and counters; clears faults and the IAM policies.
    pub fn reset(&self) {
        *lock(&self.shared.store) = Default::default();
        lock(&self.shared.control).reset();
    }

    /// Adds a fault rule.
    pub fn inject_fault(&self, fault: Fault) -> Result<(), Error> {
        fault.check().map_err(invalid)?;
        lock(&self.shared.control).add_fault(fault);
        Ok(())
    }

    /// The fault rules still active (counted rules disappear once spent).
    pub fn faults(&self) -> Vec<Fault> {
        lock(&self.shared.control).faults()
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.control).clear_faults();
    }

    /// Sets an operation's token bucket (`*` = the default for all); None removes it.
    pub fn set_quota(&self, operation: &str, tps: impl Into<Option<f64>>) -> Result<(), Error> {
        let tps = tps.into();
        if let Some(t) = tps
            && (!t.is_finite() || t < 0.0)
        {
            return Err(invalid(format!("tps {t} must be >= 0")));
        }
        let op = if operation == "*" {
            None
        } else {
            Some(
                Op::from_name(operation)
                    .ok_or_else(|| invalid(format!("unknown operation '{operation}'")))?,
            )
        };
        lock(&self.shared.control).set_quota(op, tps);
        Ok(())
    }

    /// Replaces the IAM policy of every account without its own by an action allowlist
    /// (`["*"]` allows everything): Allow those actions on every resource.
    pub fn set_iam_allow(&self, allow: Vec<String>) {
        lock(&self.shared.control).set_policy(None, Policy::allow_actions(allow));
    }

    /// Sets the identity-based policy of the callers of `account` (None: of every account
    /// without its own policy). The document is evaluated like IAM does: explicit deny wins,
    /// then any allow, else deny.
    pub fn set_iam_policy(&self, account: Option<&str>, document: &Value) -> Result<(), Error> {
        let policy = Policy::parse(document).map_err(|e| invalid(e.to_string()))?;
        lock(&self.shared.control).set_policy(account, policy);
        Ok(())
    }

    /// The policy document in force for `account` (None when everything is allowed).
    pub fn iam_policy(&self, account: &str) -> Option<Value> {
        lock(&self.shared.control)
            .policy(account)
            .map(|p| p.document().clone())
    }

    /// Creates a thing group in the emulator's account (idempotent); returns its ARN.
    pub fn create_thing_group(&self, name: &str, region: &str) -> Result<String, Error> {
        self.create_thing_group_in(name, region, &self.shared.account_id.clone())
    }

    fn create_thing_group_in(
        &self,
        name: &str,
        region: &str,
        account: &str,
    ) -> Result<String, Error> {
        let mut v = Violations::default();
        validate::check(&validate::NAME, &Value::String(name.into()), "name", &mut v);
        if let Some(m) = v.message() {
            return Err(invalid(m));
        }
        let scope = Scope {
            account: account.to_string(),
            region: region.to_string(),
        };
        Ok(lock(&self.shared.store)
            .create_thing_group(&scope, name)
            .arn)
    }

    /// Creates a profile, or merges the given attributes into an existing one as an
    /// out-of-band update would (version + 1). Takes `securityProfileName`, optional
    /// `region` / `accountId`, any profile attributes (null clears one) and `tags` (a
    /// `{KEY: VALUE}` object or a TagList).
    pub fn put_profile(&self, body: Value) -> Result<Profile, Error> {
        let name = body
            .get("securityProfileName")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("securityProfileName is required"))?
            .to_string();
        let scope = Scope {
            account: body
                .get("accountId")
                .and_then(Value::as_str)
                .unwrap_or(&self.shared.account_id)
                .to_string(),
            region: body
                .get("region")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_REGION)
                .to_string(),
        };
        let tags = match body.get("tags") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => BTreeMap::new(),
        };
        let mut attrs = body.clone();
        if let Some(o) = attrs.as_object_mut()
            && o.get("tags").is_some_and(Value::is_object)
        {
            o.remove("tags");
        }
        let list_tags =
            crate::ops::profile_body(&name, &attrs, &[]).map_err(|e| invalid(e.message))?;
        let tags: BTreeMap<String, String> = tags.into_iter().chain(list_tags).collect();
        lock(&self.shared.store)
            .put_profile(&scope, &name, &attrs, tags)
            .map_err(|e| invalid(e.message))
    }
}

type App = AxState<Arc<Shared>>;

fn admin(shared: &Arc<Shared>) -> Admin {
    Admin::new(shared.clone())
}

fn bad_request(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "message": e.to_string() })),
    )
        .into_response()
}

fn result<T: serde::Serialize>(r: Result<T, Error>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => bad_request(e),
    }
}

/// Parses a JSON body, answering 400 with the parse error.
fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(bad_request(e)))
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_emulator/state", get(state))
        .route("/_emulator/calls", get(calls))
        .route("/_emulator/reset", post(reset))
        .route(
            "/_emulator/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/_emulator/quotas", post(quota))
        .route("/_emulator/iam", post(iam).get(iam_get))
        .route("/_emulator/thing-groups", post(thing_group))
        .route("/_emulator/profiles", post(profile))
}

async fn state(AxState(s): App) -> Response {
    Json(admin(&s).state()).into_response()
}

async fn calls(AxState(s): App) -> Response {
    Json(admin(&s).calls()).into_response()
}

async fn reset(AxState(s): App) -> Response {
    admin(&s).reset();
    Json(json!({})).into_response()
}

async fn add_fault(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<Fault>(&body) {
        Ok(f) => result(admin(&s).inject_fault(f).map(|()| json!({}))),
        Err(r) => *r,
    }
}

async fn list_faults(AxState(s): App) -> Response {
    Json(admin(&s).faults()).into_response()
}

async fn clear_faults(AxState(s): App) -> Response {
    admin(&s).clear_faults();
    Json(json!({})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaBody {
    operation: String,
    tps: Option<f64>,
}

async fn quota(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<QuotaBody>(&body) {
        Ok(q) => result(admin(&s).set_quota(&q.operation, q.tps).map(|()| json!({}))),
        Err(r) => *r,
    }
}

/// `{"allow": [...]}` (the action allowlist) or `{"policy": {...}}`, optionally for one
/// `accountId`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IamBody {
    allow: Option<Vec<String>>,
    policy: Option<Value>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
}

async fn iam(AxState(s): App, body: axum::body::Bytes) -> Response {
    let b = match parse::<IamBody>(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let account = b.account_id.as_deref();
    let policy = match (b.allow, b.policy) {
        (Some(allow), None) => Ok(Policy::allow_actions(allow)),
        (None, Some(doc)) => Policy::parse(&doc).map_err(|e| invalid(e.to_string())),
        _ => Err(invalid("give exactly one of 'allow' and 'policy'")),
    };
    result(policy.map(|p| {
        lock(&s.control).set_policy(account, p);
        json!({})
    }))
}

#[derive(Deserialize)]
struct IamQuery {
    #[serde(rename = "accountId")]
    account_id: Option<String>,
}

async fn iam_get(AxState(s): App, Query(q): Query<IamQuery>) -> Response {
    let account = q.account_id.unwrap_or_else(|| s.account_id.clone());
    Json(json!({ "accountId": account, "policy": admin(&s).iam_policy(&account) })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThingGroupBody {
    name: String,
    region: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
}

async fn thing_group(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<ThingGroupBody>(&body) {
        Ok(b) => {
            let region = b.region.unwrap_or_else(|| DEFAULT_REGION.to_string());
            let account = b.account_id.unwrap_or_else(|| s.account_id.clone());
            result(
                admin(&s)
                    .create_thing_group_in(&b.name, &region, &account)
                    .map(|arn| json!({ "name": b.name, "arn": arn })),
            )
        }
        Err(r) => *r,
    }
}

async fn profile(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<Value>(&body) {
        Ok(v) => result(admin(&s).put_profile(v)),
        Err(r) => *r,
    }
}
