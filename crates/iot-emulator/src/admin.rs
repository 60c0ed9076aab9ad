//! The admin API: the same controls as a Rust handle ([`Admin`]) and as JSON routes under
//! `/_emulator/` (no SigV4 needed there).

use crate::faults::{Calls, Fault};
use crate::iam::Policy;
use crate::model::{CustomMetric, Dimension, Op, Profile, State};
use crate::store::Scope;
use crate::sts::Role;
use crate::validate::{self, Violations};
use crate::violations::{Raise, VERIFICATION_STATES, Violation};
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
use std::sync::atomic::Ordering;

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

    /// Empties the state and counters; clears faults and the IAM policies; puts the
    /// normalisation switch back to its configured value.
    pub fn reset(&self) {
        *lock(&self.shared.store) = Default::default();
        lock(&self.shared.control).reset();
        *lock(&self.shared.sts) = Default::default();
        self.set_normalize(self.shared.normalize_default);
        self.set_check_references(self.shared.check_references_default);
    }

    /// Whether Create/UpdateSecurityProfile refuse profiles naming a dimension or custom
    /// metric that doesn't exist (see `EmulatorConfig::check_references`).
    pub fn set_check_references(&self, enabled: bool) {
        self.shared
            .check_references
            .store(enabled, Ordering::Relaxed);
    }

    /// Registers (or replaces) a role STS AssumeRole / AssumeRoleWithWebIdentity hand out
    /// credentials for. `trusted_accounts` None trusts every caller; `external_id` Some
    /// requires AssumeRole to pass it. Credentials act in the role's account.
    pub fn put_role(&self, role: Role) {
        lock(&self.shared.sts).put_role(role);
    }

    /// The registered roles.
    pub fn roles(&self) -> Vec<Role> {
        lock(&self.shared.sts).roles()
    }

    /// Every credential STS hands out from now on lives `seconds` (None: as requested,
    /// default 3600). 0 hands out credentials that are already expired.
    pub fn set_sts_duration(&self, seconds: Option<u64>) {
        lock(&self.shared.sts).set_duration(seconds);
    }

    /// Expires every credential STS has handed out.
    pub fn expire_sessions(&self) {
        lock(&self.shared.sts).expire_all();
    }

    /// Turns the Describe normalisation on or off (see `EmulatorConfig::normalize_describe`).
    pub fn set_normalize(&self, enabled: bool) {
        self.shared.normalize.store(enabled, Ordering::Relaxed);
    }

    /// Whether Describe / Update answers are normalised.
    pub fn normalize(&self) -> bool {
        self.shared.normalize.load(Ordering::Relaxed)
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

    /// Creates a thing group in `account` (idempotent), e.g. the account of a role STS
    /// hands out; returns its ARN.
    pub fn create_thing_group_in(
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

    /// Replaces the tags of an existing thing group (what `aws:ResourceTag` sees on
    /// Attach/Detach to it).
    pub fn tag_thing_group(
        &self,
        name: &str,
        region: &str,
        account: &str,
        tags: BTreeMap<String, String>,
    ) {
        let scope = Scope {
            account: account.to_string(),
            region: region.to_string(),
        };
        if let Some(g) = lock(&self.shared.store)
            .partition(&scope)
            .thing_groups
            .get_mut(name)
        {
            g.tags = tags;
        }
    }

    /// The partition an admin body names (`accountId`, `region`), defaulting to the
    /// emulator's account and us-east-1.
    fn scope_of(&self, body: &Value) -> Scope {
        let get = |k: &str, default: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string()
        };
        Scope {
            account: get("accountId", &self.shared.account_id),
            region: get("region", DEFAULT_REGION),
        }
    }

    /// Creates a dimension, or replaces the `stringValues` of an existing one, outside the
    /// IoT API (no quota, IAM or faults). Takes `name`, `stringValues`, optional `type`
    /// (TOPIC_FILTER), `region`, `accountId` and `tags` (`{KEY: VALUE}`).
    pub fn put_dimension(&self, body: Value) -> Result<Dimension, Error> {
        let name = required_str(&body, "name")?;
        let scope = self.scope_of(&body);
        let mut store = lock(&self.shared.store);
        let values = body["stringValues"].as_array().cloned().unwrap_or_default();
        if values.is_empty() {
            return Err(invalid("stringValues needs at least one value"));
        }
        if store.dimension(&scope, &name).is_ok() {
            store.update_dimension(&scope, &name, values)
        } else {
            let mut create = body.clone();
            create["clientRequestToken"] = json!("admin");
            store.create_dimension(&scope, &name, &create, tag_object(&body))
        }
        .map_err(|e| invalid(e.message))?;
        Ok(store
            .dimension(&scope, &name)
            .map_err(|e| invalid(e.message))?
            .clone())
    }

    /// Creates a custom metric, or sets the `displayName` of an existing one, outside the IoT
    /// API. Takes `metricName`, `metricType`, optional `displayName`, `region`, `accountId`
    /// and `tags` (`{KEY: VALUE}`).
    pub fn put_custom_metric(&self, body: Value) -> Result<CustomMetric, Error> {
        let name = required_str(&body, "metricName")?;
        let scope = self.scope_of(&body);
        let mut store = lock(&self.shared.store);
        if store.custom_metric(&scope, &name).is_ok() {
            let display = body["displayName"].as_str().unwrap_or_default();
            store.update_custom_metric(&scope, &name, display)
        } else {
            required_str(&body, "metricType")?;
            let mut create = body.clone();
            create["clientRequestToken"] = json!("admin");
            store.create_custom_metric(&scope, &name, &create, tag_object(&body))
        }
        .map_err(|e| invalid(e.message))?;
        let m = store
            .custom_metric(&scope, &name)
            .map_err(|e| invalid(e.message))?;
        Ok(m.clone())
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
        let scope = self.scope_of(&body);
        let tags = tag_object(&body);
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

    /// Raises an active violation, or refreshes one (its id and start time kept), or with
    /// `"clear": true` clears it, outside the IoT API. Takes `securityProfileName`,
    /// `thingName`, `behaviorName` (a behavior of the profile; optional when clearing, then
    /// every behavior of the thing clears), optional `value` (a MetricValue, default
    /// `{"count": 1}`), `time` (epoch seconds, default now), `verificationState`, `region`
    /// and `accountId`. Answers the violation, or `{"cleared": N}`.
    pub fn put_violation(&self, body: Value) -> Result<Value, Error> {
        let profile = required_str(&body, "securityProfileName")?;
        let thing = required_str(&body, "thingName")?;
        let scope = self.scope_of(&body);
        let mut store = lock(&self.shared.store);
        if body["clear"].as_bool() == Some(true) {
            let behavior = body["behaviorName"].as_str();
            let n = store.clear_violations(&scope, &profile, &thing, behavior);
            return Ok(json!({ "cleared": n }));
        }
        let verification_state = match body.get("verificationState") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if VERIFICATION_STATES.contains(&s.as_str()) => Some(s.clone()),
            Some(other) => {
                return Err(invalid(format!(
                    "verificationState {other} is not one of {VERIFICATION_STATES:?}"
                )));
            }
        };
        let time = match body.get("time") {
            None | Some(Value::Null) => None,
            Some(t) => Some(
                t.as_f64()
                    .ok_or_else(|| invalid("time must be epoch seconds"))?,
            ),
        };
        let raise = Raise {
            behavior: required_str(&body, "behaviorName")?,
            profile,
            thing,
            value: body.get("value").filter(|v| !v.is_null()).cloned(),
            time,
            verification_state,
        };
        let v = store
            .raise_violation(&scope, raise)
            .map_err(|e| invalid(e.message))?;
        serde_json::to_value(v).map_err(|e| invalid(e.to_string()))
    }

    /// Every active violation, of every account and region.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.shared.store).all_violations()
    }
}

fn required_str(body: &Value, key: &str) -> Result<String, Error> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("{key} is required")))
}

/// An admin body's `tags` given as a `{KEY: VALUE}` object.
fn tag_object(body: &Value) -> BTreeMap<String, String> {
    match body.get("tags") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        _ => BTreeMap::new(),
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
        .route("/_emulator/normalize", post(normalize).get(normalize_get))
        .route("/_emulator/roles", post(role).get(roles))
        .route("/_emulator/dimensions", post(dimension))
        .route("/_emulator/custom-metrics", post(custom_metric))
        .route("/_emulator/references", post(references))
        .route("/_emulator/sts", post(sts_settings))
        .route("/_emulator/violations", post(violation).get(violations))
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
    /// `{KEY: VALUE}`, replacing the group's tags.
    tags: Option<BTreeMap<String, String>>,
}

async fn thing_group(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<ThingGroupBody>(&body) {
        Ok(b) => {
            let region = b.region.unwrap_or_else(|| DEFAULT_REGION.to_string());
            let account = b.account_id.unwrap_or_else(|| s.account_id.clone());
            let a = admin(&s);
            let created = a.create_thing_group_in(&b.name, &region, &account);
            if let (Ok(_), Some(tags)) = (&created, b.tags) {
                a.tag_thing_group(&b.name, &region, &account, tags);
            }
            result(created.map(|arn| json!({ "name": b.name, "arn": arn })))
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalizeBody {
    enabled: bool,
}

async fn normalize(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<NormalizeBody>(&body) {
        Ok(b) => {
            admin(&s).set_normalize(b.enabled);
            Json(json!({ "enabled": b.enabled })).into_response()
        }
        Err(r) => *r,
    }
}

async fn normalize_get(AxState(s): App) -> Response {
    Json(json!({ "enabled": admin(&s).normalize() })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    #[serde(rename = "roleArn")]
    role_arn: String,
    #[serde(rename = "trustedAccounts")]
    trusted_accounts: Option<Vec<String>>,
    #[serde(rename = "externalId")]
    external_id: Option<String>,
}

async fn role(AxState(s): App, body: axum::body::Bytes) -> Response {
    let b = match parse::<RoleBody>(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    result(
        Role::new(&b.role_arn, b.trusted_accounts, b.external_id)
            .map_err(invalid)
            .inspect(|r| admin(&s).put_role(r.clone())),
    )
}

async fn roles(AxState(s): App) -> Response {
    Json(admin(&s).roles()).into_response()
}

/// `{"durationSeconds": N | null}` and/or `{"expireAll": true}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StsBody {
    #[serde(rename = "durationSeconds", default, deserialize_with = "present")]
    duration_seconds: Option<Option<u64>>,
    #[serde(rename = "expireAll", default)]
    expire_all: bool,
}

/// Tells `"key": null` (Some(None)) apart from a missing key (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

async fn sts_settings(AxState(s): App, body: axum::body::Bytes) -> Response {
    let b = match parse::<StsBody>(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    if let Some(d) = b.duration_seconds {
        admin(&s).set_sts_duration(d);
    }
    if b.expire_all {
        admin(&s).expire_sessions();
    }
    Json(json!({})).into_response()
}

async fn violation(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<Value>(&body) {
        Ok(v) => result(admin(&s).put_violation(v)),
        Err(r) => *r,
    }
}

async fn violations(AxState(s): App) -> Response {
    Json(admin(&s).violations()).into_response()
}

async fn dimension(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<Value>(&body) {
        Ok(v) => result(admin(&s).put_dimension(v)),
        Err(r) => *r,
    }
}

async fn custom_metric(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<Value>(&body) {
        Ok(v) => result(admin(&s).put_custom_metric(v)),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferencesBody {
    check: bool,
}

async fn references(AxState(s): App, body: axum::body::Bytes) -> Response {
    match parse::<ReferencesBody>(&body) {
        Ok(b) => {
            admin(&s).set_check_references(b.check);
            Json(json!({ "check": b.check })).into_response()
        }
        Err(r) => *r,
    }
}
