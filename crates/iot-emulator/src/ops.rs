//! The 13 security-profile operations: routing, request parsing and validation, and the pipeline every request
//! goes through (authorization, IAM policy, quota, faults, handler, counting, logging).

use crate::faults::{Decision, FaultError};
use crate::iam;
use crate::model::{Op, profile_arn};
use crate::store::{DeleteFlags, ListFilter, Scope};
use crate::sts::KeyError;
use crate::validate::{self, Member, Violations, check, check_members};
use crate::wire::{ApiError, decode_token, parse_authorization};
use crate::{Shared, lock};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

type App = State<Arc<Shared>>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/security-profiles/{securityProfileName}",
            post(create).get(describe).patch(update).delete(delete),
        )
        .route("/security-profiles", get(list))
        .route(
            "/security-profiles/{securityProfileName}/targets",
            get(list_targets).put(attach).delete(detach),
        )
        .route("/security-profiles-for-target", get(list_for_target))
        .route(
            "/security-profile-behaviors/validate",
            post(validate_behaviors),
        )
        .route("/tags", post(tag).get(list_tags))
        .route("/untag", post(untag))
}

/// Authorization for Attach/Detach: the profile, the custom metrics and dimensions it names,
/// and a thing-group target (the account-wide targets `all/registered-things` and
/// `all/unregistered-things` are no resource type of the reference: only the profile is checked).
fn on_profile_and_target(
    op: Op,
    name: &str,
    q: &HashMap<String, String>,
) -> impl FnOnce(&Ctx) -> Vec<iam::Request> + Send + 'static {
    let name = name.to_string();
    let target = q.get("securityProfileTargetArn").cloned();
    move |ctx| {
        let mut reqs = vec![ctx.on(op, &ctx.profile_arn(&name))];
        reqs.extend(ctx.on_stored_uses(op, &name));
        if let Some(t) = target
            && crate::reference::checks(&action(op), &t)
        {
            reqs.push(ctx.on(op, &t));
        }
        reqs
    }
}

/// Anything that matches no operation.
pub(crate) async fn unknown() -> Response {
    ApiError::unknown_operation().into_response()
}

/// One request's identity and access to the shared state.
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) scope: Scope,
    /// The caller's ARN, as AccessDenied messages name it.
    principal: String,
}

impl Ctx {
    /// Answers AccessDenied unless the caller's account policy allows every request.
    fn authorize(&self, requests: &[iam::Request]) -> Result<(), ApiError> {
        let control = lock(&self.shared.control);
        for r in requests {
            let why = match control.evaluate(&self.scope.account, r) {
                iam::Decision::Allow => continue,
                iam::Decision::ExplicitDeny => {
                    "with an explicit deny in an identity-based policy".to_string()
                }
                iam::Decision::ImplicitDeny => format!(
                    "because no identity-based policy allows the {} action",
                    r.action
                ),
            };
            return Err(ApiError::access_denied(format!(
                "User: {} is not authorized to perform: {} on resource: {} {why}",
                self.principal, r.action, r.resource
            )));
        }
        Ok(())
    }

    pub(crate) fn store(&self) -> std::sync::MutexGuard<'_, crate::store::Store> {
        lock(&self.shared.store)
    }

    /// The tags of an existing resource of the caller's partition (empty when there is none).
    fn tags_of(&self, arn: &str) -> BTreeMap<String, String> {
        self.store().tags_of(&self.scope, arn).unwrap_or_default()
    }

    /// A request on an existing resource, with its `aws:ResourceTag` keys.
    pub(crate) fn on(&self, op: Op, arn: &str) -> iam::Request {
        iam::Request::new(action(op), arn).resource_tags(&self.tags_of(arn))
    }

    /// A Describe/Update answer, normalised when the switch is on.
    fn normalized(&self, mut body: Value) -> Value {
        if self.shared.normalize.load(Ordering::Relaxed) {
            crate::normalize::describe(&mut body);
        }
        body
    }

    fn profile_arn(&self, name: &str) -> String {
        profile_arn(&self.scope.region, &self.scope.account, name)
    }

    /// Requests on the custom metrics and dimensions `arns` (those a profile names), each
    /// with its own tags, when the reference lists their types for `op`.
    fn on_used(&self, op: Op, arns: Vec<String>) -> Vec<iam::Request> {
        let action = action(op);
        arns.into_iter()
            .filter(|arn| crate::reference::checks(&action, arn))
            .map(|arn| self.on(op, &arn))
            .collect()
    }

    /// [`Ctx::on_used`] for what the stored profile `name` names (no scan of the profile for
    /// the actions that touch neither type, Describe among them).
    fn on_stored_uses(&self, op: Op, name: &str) -> Vec<iam::Request> {
        let action = action(op);
        let uses = ["custommetric", "dimension"];
        if !uses.iter().any(|t| crate::reference::touches(&action, t)) {
            return Vec::new();
        }
        let arns = self.store().referenced_by(&self.scope, name);
        self.on_used(op, arns)
    }

    /// [`Ctx::on_used`] for what a request body names.
    fn on_body_uses(&self, op: Op, raw: &Bytes) -> Vec<iam::Request> {
        let arns = body_json(raw)
            .map(|b| crate::dependencies::referenced_arns(&self.scope, &b))
            .unwrap_or_default();
        self.on_used(op, arns)
    }
}

/// The IAM action of an operation.
pub(crate) fn action(op: Op) -> String {
    format!("iot:{}", op.name())
}

/// Authorization for operations that name no resource (List…, Validate…): resource `*`.
pub(crate) fn any_resource(op: Op) -> impl FnOnce(&Ctx) -> Vec<iam::Request> + Send + 'static {
    move |_| vec![iam::Request::new(action(op), "*")]
}

/// Authorization for an operation on one existing security profile.
/// (And on the custom metrics and dimensions it names, for the actions that touch them.)
fn on_profile(op: Op, name: &str) -> impl FnOnce(&Ctx) -> Vec<iam::Request> + Send + 'static {
    let name = name.to_string();
    move |ctx| {
        let mut reqs = vec![ctx.on(op, &ctx.profile_arn(&name))];
        reqs.extend(ctx.on_stored_uses(op, &name));
        reqs
    }
}

/// What the pipeline ended with.
enum Outcome {
    Answered(Result<Value, ApiError>),
    /// Answered and already counted (delayed requests count themselves).
    Counted(Result<Value, ApiError>),
    /// A Timeout fault held the request until the emulator stopped.
    Held,
}

async fn pipeline<A, F>(
    shared: &Arc<Shared>,
    op: Op,
    headers: &HeaderMap,
    authz: A,
    handler: F,
) -> Outcome
where
    A: FnOnce(&Ctx) -> Vec<iam::Request>,
    F: FnOnce(&Ctx) -> Result<Value, ApiError> + Send + 'static,
{
    let caller = match parse_authorization(headers, "iot") {
        Ok(c) => c,
        Err(e) => return Outcome::Answered(Err(e)),
    };
    let identity = lock(&shared.sts).identity(&caller.access_key, &shared.account_id);
    let identity = match identity {
        Ok(i) => i,
        Err(KeyError::Expired) => return Outcome::Answered(Err(ApiError::expired_token())),
        Err(KeyError::Unrecognized) => {
            return Outcome::Answered(Err(ApiError::unrecognized_client()));
        }
    };
    let ctx = Ctx {
        shared: shared.clone(),
        principal: identity.principal,
        scope: Scope {
            account: identity.account,
            region: caller.region,
        },
    };
    if let Err(e) = ctx.authorize(&authz(&ctx)) {
        return Outcome::Answered(Err(e));
    }
    let decision = {
        let mut control = lock(&shared.control);
        if !control.admit(op) {
            return Outcome::Answered(Err(ApiError::throttling("Rate exceeded")));
        }
        let d = control.decide(op);
        if d == Decision::Fail(FaultError::Timeout) {
            control.count(op, "Timeout");
        }
        d
    };
    match decision {
        Decision::Serve => {}
        Decision::Delay(ms) => {
            // Like AWS, a request that reached the server is processed even if the client
            // gives up meanwhile: the delayed work runs in its own task.
            // It is counted there too, so the counters show it even then.
            let work = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let result = handler(&ctx);
                count(&ctx.shared, op, &result);
                result
            });
            return Outcome::Counted(work.await.unwrap_or_else(|e| {
                Err(ApiError::internal(format!("delayed request failed: {e}")))
            }));
        }
        Decision::Fail(FaultError::ThrottlingException) => {
            return Outcome::Answered(Err(ApiError::throttling("Rate exceeded (injected fault)")));
        }
        Decision::Fail(FaultError::InternalFailureException) => {
            return Outcome::Answered(Err(ApiError::internal(
                "An internal error occurred (injected fault)",
            )));
        }
        Decision::Fail(FaultError::Timeout) => {
            let mut stop = shared.shutdown.subscribe();
            let _ = stop.wait_for(|s| *s).await;
            return Outcome::Held;
        }
    }
    Outcome::Answered(handler(&ctx))
}

/// Runs one operation and turns its result into the wire response.
pub(crate) async fn run<A, F>(
    shared: Arc<Shared>,
    op: Op,
    headers: &HeaderMap,
    authz: A,
    handler: F,
) -> Response
where
    A: FnOnce(&Ctx) -> Vec<iam::Request>,
    F: FnOnce(&Ctx) -> Result<Value, ApiError> + Send + 'static,
{
    let start = Instant::now();
    let outcome = pipeline(&shared, op, headers, authz, handler).await;
    let request_id = shared.request_ids.fetch_add(1, Ordering::Relaxed);
    let (mut resp, label) = match outcome {
        Outcome::Answered(result) => {
            count(&shared, op, &result);
            respond(result)
        }
        Outcome::Counted(result) => respond(result),
        Outcome::Held => (
            ApiError::internal("The emulator stopped while holding this request").into_response(),
            "Timeout",
        ),
    };
    if let Ok(v) = HeaderValue::from_str(&format!("00000000-0000-4000-8000-{request_id:012x}")) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    if shared.log_requests {
        tracing::info!(
            operation = op.name(),
            status = resp.status().as_u16(),
            outcome = label,
            micros = start.elapsed().as_micros() as u64,
            "request"
        );
    }
    resp
}

fn count(shared: &Shared, op: Op, result: &Result<Value, ApiError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(e) => e.kind,
    };
    lock(&shared.control).count(op, outcome);
}

/// The wire response for a result, and its outcome label.
fn respond(result: Result<Value, ApiError>) -> (Response, &'static str) {
    match result {
        Ok(body) => {
            let mut r = (StatusCode::OK, body.to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (r, "ok")
        }
        Err(e) => {
            let kind = e.kind;
            (e.into_response(), kind)
        }
    }
}

/// Parses a JSON request body (an empty body is `{}`).
pub(crate) fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::invalid("The request body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!(
            "The request body is not valid JSON: {e}"
        ))),
    }
}

pub(crate) fn finish(v: Violations) -> Result<(), ApiError> {
    match v.message() {
        Some(m) => Err(ApiError::invalid(m)),
        None => Ok(()),
    }
}

fn check_name(name: &str, v: &mut Violations) {
    check(
        &validate::NAME,
        &Value::String(name.to_string()),
        "securityProfileName",
        v,
    );
}

/// Parses an integer query parameter, checking its range.
fn query_int(
    q: &HashMap<String, String>,
    key: &str,
    range: Option<(i64, i64)>,
    v: &mut Violations,
) -> Option<i64> {
    let raw = q.get(key)?;
    let Ok(n) = raw.parse::<i64>() else {
        v.push(format!(
            "Value '{raw}' at '{key}' failed to satisfy constraint: Member must be an integer"
        ));
        return None;
    };
    if let Some((lo, hi)) = range {
        if n < lo {
            v.push(format!("Value '{n}' at '{key}' failed to satisfy constraint: Member must have value greater than or equal to {lo}"));
        } else if n > hi {
            v.push(format!("Value '{n}' at '{key}' failed to satisfy constraint: Member must have value less than or equal to {hi}"));
        }
    }
    Some(n)
}

/// The page size: maxResults (1–250), defaulting to 25 where AWS documents no default.
pub(crate) fn max_results(q: &HashMap<String, String>, v: &mut Violations) -> usize {
    query_int(q, "maxResults", Some((1, 250)), v)
        .filter(|n| (1..=250).contains(n))
        .map_or(25, |n| n as usize)
}

pub(crate) fn next_token(q: &HashMap<String, String>) -> Result<Option<String>, ApiError> {
    q.get("nextToken")
        .filter(|t| !t.is_empty())
        .map(|t| decode_token(t))
        .transpose()
}

fn required_query<'a>(
    q: &'a HashMap<String, String>,
    key: &str,
    v: &mut Violations,
) -> Option<&'a str> {
    match q.get(key) {
        Some(s) => Some(s),
        None => {
            v.push(format!(
                "Value null at '{key}' failed to satisfy constraint: Member must not be null"
            ));
            None
        }
    }
}

/// Tags from a TagList (already validated), rejecting the reserved `aws:` prefix.
pub(crate) fn tag_map(tags: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for t in tags.and_then(Value::as_array).into_iter().flatten() {
        let key = t.get("Key").and_then(Value::as_str).unwrap_or_default();
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid(format!(
                "Tag key '{key}' uses the reserved prefix 'aws:'"
            )));
        }
        let value = t.get("Value").and_then(Value::as_str).unwrap_or_default();
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

/// The roles a profile body hands to AWS IoT (each needs iam:PassRole).
fn passed_roles(body: &Value) -> Vec<String> {
    let alert_roles = body
        .get("alertTargets")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .filter_map(|t| t.get("roleArn").and_then(Value::as_str));
    let export_role = body
        .get("metricsExportConfig")
        .and_then(|c| c.get("roleArn"))
        .and_then(Value::as_str);
    let mut roles: Vec<String> = alert_roles.chain(export_role).map(str::to_string).collect();
    roles.sort();
    roles.dedup();
    roles
}

/// The PassRole requests of a raw profile body (an unparsable body passes no role).
fn pass_role_requests(raw: &Bytes) -> Vec<iam::Request> {
    let body = body_json(raw).unwrap_or_default();
    passed_roles(&body)
        .iter()
        .map(|r| iam::Request::pass_role(r))
        .collect()
}

/// Behaviour rules beyond the model, as InvalidRequest for Create/Update.
fn check_behavior_rules(body: &Value) -> Result<(), ApiError> {
    if let Some(Value::Array(b)) = body.get("behaviors") {
        let errors = validate::behavior_rules(b);
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors.join("; ")));
        }
    }
    Ok(())
}

static CREATE_EXTRA: &[Member] = &[Member("tags", &validate::TAG_LIST, false)];

/// Validates and parses the shared parts of a profile-attributes body.
pub(crate) fn profile_body(
    name: &str,
    body: &Value,
    extra: &[Member],
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut v = Violations::default();
    check_name(name, &mut v);
    check_members(validate::PROFILE_ATTRIBUTES, body, "", &mut v);
    check_members(extra, body, "", &mut v);
    finish(v)?;
    check_behavior_rules(body)?;
    tag_map(body.get("tags"))
}

async fn create(
    State(s): App,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (raw, n) = (body.clone(), name.clone());
    let authz = move |ctx: &Ctx| {
        let tags = body_json(&raw)
            .ok()
            .and_then(|b| tag_map(b.get("tags")).ok())
            .unwrap_or_default();
        let create = iam::Request::new(action(Op::CreateSecurityProfile), ctx.profile_arn(&n))
            .request_tags(&tags);
        let uses = ctx
            .on_body_uses(Op::CreateSecurityProfile, &raw)
            .into_iter()
            .map(|r| r.request_tags(&tags));
        std::iter::once(create)
            .chain(uses)
            .chain(pass_role_requests(&raw))
            .collect()
    };
    run(s, Op::CreateSecurityProfile, &headers, authz, move |ctx| {
        let body = body_json(&body)?;
        let tags = profile_body(&name, &body, CREATE_EXTRA)?;
        let mut store = ctx.store();
        if ctx.shared.check_references.load(Ordering::Relaxed) {
            store.check_references(&ctx.scope, &body)?;
        }
        store.check_metric_types(&ctx.scope, &body)?;
        store.create(&ctx.scope, &name, &body, tags)
    })
    .await
}

async fn describe(State(s): App, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let authz = on_profile(Op::DescribeSecurityProfile, &name);
    run(
        s,
        Op::DescribeSecurityProfile,
        &headers,
        authz,
        move |ctx| {
            let mut v = Violations::default();
            check_name(&name, &mut v);
            finish(v)?;
            let body = ctx.store().describe(&ctx.scope, &name)?;
            Ok(ctx.normalized(body))
        },
    )
    .await
}

static UPDATE_FLAGS: &[Member] = &[
    Member("deleteBehaviors", &BOOL, false),
    Member("deleteAlertTargets", &BOOL, false),
    Member("deleteAdditionalMetricsToRetain", &BOOL, false),
    Member("deleteMetricsExportConfig", &BOOL, false),
];
static BOOL: validate::Shape = validate::Shape::Bool;

async fn update(
    State(s): App,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (raw, n) = (body.clone(), name.clone());
    let authz = move |ctx: &Ctx| {
        let update = ctx.on(Op::UpdateSecurityProfile, &ctx.profile_arn(&n));
        std::iter::once(update)
            .chain(ctx.on_body_uses(Op::UpdateSecurityProfile, &raw))
            .chain(pass_role_requests(&raw))
            .collect()
    };
    run(s, Op::UpdateSecurityProfile, &headers, authz, move |ctx| {
        let body = body_json(&body)?;
        profile_body(&name, &body, UPDATE_FLAGS)?;
        let mut v = Violations::default();
        let expected = query_int(&q, "expectedVersion", None, &mut v);
        finish(v)?;
        let flag = |k: &str| body.get(k).and_then(Value::as_bool).unwrap_or(false);
        let given = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
        let flags = DeleteFlags {
            behaviors: flag("deleteBehaviors"),
            alert_targets: flag("deleteAlertTargets"),
            additional_metrics: flag("deleteAdditionalMetricsToRetain"),
            metrics_export_config: flag("deleteMetricsExportConfig"),
        };
        for (set, flag_name, members) in [
            (flags.behaviors, "deleteBehaviors", &["behaviors"][..]),
            (flags.alert_targets, "deleteAlertTargets", &["alertTargets"][..]),
            (
                flags.additional_metrics,
                "deleteAdditionalMetricsToRetain",
                &["additionalMetricsToRetain", "additionalMetricsToRetainV2"][..],
            ),
            (
                flags.metrics_export_config,
                "deleteMetricsExportConfig",
                &["metricsExportConfig"][..],
            ),
        ] {
            if let Some(m) = members.iter().find(|m| set && given(m)) {
                return Err(ApiError::invalid(format!(
                    "{flag_name} is true and {m} is also given: a request cannot both set and delete {m}"
                )));
            }
        }
        let mut store = ctx.store();
        if ctx.shared.check_references.load(Ordering::Relaxed) {
            store.check_references(&ctx.scope, &body)?;
        }
        store.check_metric_types(&ctx.scope, &body)?;
        let out = store.update(&ctx.scope, &name, &body, flags, expected)?;
        drop(store);
        Ok(ctx.normalized(out))
    })
    .await
}

async fn delete(
    State(s): App,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let authz = on_profile(Op::DeleteSecurityProfile, &name);
    run(s, Op::DeleteSecurityProfile, &headers, authz, move |ctx| {
        let mut v = Violations::default();
        check_name(&name, &mut v);
        let expected = query_int(&q, "expectedVersion", None, &mut v);
        finish(v)?;
        ctx.store().delete(&ctx.scope, &name, expected)
    })
    .await
}

async fn list(State(s): App, Query(q): Params, headers: HeaderMap) -> Response {
    let authz = any_resource(Op::ListSecurityProfiles);
    run(s, Op::ListSecurityProfiles, &headers, authz, move |ctx| {
        let mut v = Violations::default();
        let max = max_results(&q, &mut v);
        for key in ["dimensionName", "metricName"] {
            if let Some(val) = q.get(key) {
                check(&validate::NAME, &Value::String(val.clone()), key, &mut v);
            }
        }
        finish(v)?;
        let filter = match (q.get("dimensionName"), q.get("metricName")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "dimensionName and metricName cannot be used in the same request",
                ));
            }
            (Some(d), None) => ListFilter::Dimension(d.clone()),
            (None, Some(m)) => ListFilter::Metric(m.clone()),
            (None, None) => ListFilter::All,
        };
        let after = next_token(&q)?;
        Ok(ctx.store().list(&ctx.scope, &filter, max, after))
    })
    .await
}

async fn attach(
    State(s): App,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let authz = on_profile_and_target(Op::AttachSecurityProfile, &name, &q);
    run(s, Op::AttachSecurityProfile, &headers, authz, move |ctx| {
        let mut v = Violations::default();
        check_name(&name, &mut v);
        let target = required_query(&q, "securityProfileTargetArn", &mut v);
        finish(v)?;
        let target = target.unwrap_or_default();
        ctx.store().attach(&ctx.scope, &name, target)
    })
    .await
}

async fn detach(
    State(s): App,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let authz = on_profile_and_target(Op::DetachSecurityProfile, &name, &q);
    run(s, Op::DetachSecurityProfile, &headers, authz, move |ctx| {
        let mut v = Violations::default();
        check_name(&name, &mut v);
        let target = required_query(&q, "securityProfileTargetArn", &mut v);
        finish(v)?;
        let target = target.unwrap_or_default();
        ctx.store().detach(&ctx.scope, &name, target)
    })
    .await
}

async fn list_targets(
    State(s): App,
    Path(name): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    let authz = on_profile(Op::ListTargetsForSecurityProfile, &name);
    run(
        s,
        Op::ListTargetsForSecurityProfile,
        &headers,
        authz,
        move |ctx| {
            let mut v = Violations::default();
            check_name(&name, &mut v);
            let max = max_results(&q, &mut v);
            finish(v)?;
            let after = next_token(&q)?;
            ctx.store().list_targets(&ctx.scope, &name, max, after)
        },
    )
    .await
}

async fn list_for_target(State(s): App, Query(q): Params, headers: HeaderMap) -> Response {
    let authz = any_resource(Op::ListSecurityProfilesForTarget);
    run(
        s,
        Op::ListSecurityProfilesForTarget,
        &headers,
        authz,
        move |ctx| {
            let mut v = Violations::default();
            let target = required_query(&q, "securityProfileTargetArn", &mut v);
            let max = max_results(&q, &mut v);
            if let Some(r) = q.get("recursive")
                && r != "true"
                && r != "false"
            {
                v.push(format!(
                "Value '{r}' at 'recursive' failed to satisfy constraint: Member must be a boolean"
            ));
            }
            finish(v)?;
            let after = next_token(&q)?;
            let target = target.unwrap_or_default();
            ctx.store().list_for_target(&ctx.scope, target, max, after)
        },
    )
    .await
}

static VALIDATE_INPUT: &[Member] = &[Member("behaviors", &validate::BEHAVIORS, true)];

async fn validate_behaviors(State(s): App, headers: HeaderMap, body: Bytes) -> Response {
    run(
        s,
        Op::ValidateSecurityProfileBehaviors,
        &headers,
        any_resource(Op::ValidateSecurityProfileBehaviors),
        move |ctx| {
            let body = body_json(&body)?;
            let mut v = Violations::default();
            check_members(VALIDATE_INPUT, &body, "", &mut v);
            finish(v)?;
            let behaviors = body
                .get("behaviors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut errors = validate::behavior_rules(&behaviors);
            let types = ctx.store().custom_metric_types(&ctx.scope);
            errors.extend(crate::metric_types::custom_metric_rules(&behaviors, &types));
            let list: Vec<Value> = errors
                .iter()
                .map(|e| json!({ "errorMessage": e }))
                .collect();
            Ok(json!({ "valid": errors.is_empty(), "validationErrors": list }))
        },
    )
    .await
}

/// The `tagKeys` of an UntagResource body.
fn tag_keys(body: &Value) -> Vec<String> {
    body["tagKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect()
}

static TAG_INPUT: &[Member] = &[
    Member("resourceArn", &validate::STRING, true),
    Member("tags", &validate::TAG_LIST, true),
];

async fn tag(State(s): App, headers: HeaderMap, body: Bytes) -> Response {
    let raw = body.clone();
    let authz = move |ctx: &Ctx| {
        let body = body_json(&raw).unwrap_or_default();
        let tags = tag_map(body.get("tags")).unwrap_or_default();
        let arn = body["resourceArn"].as_str().unwrap_or_default();
        vec![ctx.on(Op::TagResource, arn).request_tags(&tags)]
    };
    run(s, Op::TagResource, &headers, authz, move |ctx| {
        let body = body_json(&body)?;
        let mut v = Violations::default();
        check_members(TAG_INPUT, &body, "", &mut v);
        finish(v)?;
        let tags = tag_map(body.get("tags"))?;
        let arn = body["resourceArn"].as_str().unwrap_or_default();
        ctx.store().tag(&ctx.scope, arn, tags)
    })
    .await
}

static UNTAG_INPUT: &[Member] = &[
    Member("resourceArn", &validate::STRING, true),
    Member("tagKeys", &validate::TAG_KEY_LIST, true),
];

async fn untag(State(s): App, headers: HeaderMap, body: Bytes) -> Response {
    let raw = body.clone();
    let authz = move |ctx: &Ctx| {
        let body = body_json(&raw).unwrap_or_default();
        let arn = body["resourceArn"].as_str().unwrap_or_default();
        vec![ctx.on(Op::UntagResource, arn).tag_keys(tag_keys(&body))]
    };
    run(s, Op::UntagResource, &headers, authz, move |ctx| {
        let body = body_json(&body)?;
        let mut v = Violations::default();
        check_members(UNTAG_INPUT, &body, "", &mut v);
        finish(v)?;
        let keys = tag_keys(&body);
        let arn = body["resourceArn"].as_str().unwrap_or_default();
        ctx.store().untag(&ctx.scope, arn, &keys)
    })
    .await
}

async fn list_tags(State(s): App, Query(q): Params, headers: HeaderMap) -> Response {
    let arn = q.get("resourceArn").cloned().unwrap_or_default();
    let authz = move |ctx: &Ctx| vec![ctx.on(Op::ListTagsForResource, &arn)];
    run(s, Op::ListTagsForResource, &headers, authz, move |ctx| {
        let mut v = Violations::default();
        let arn = required_query(&q, "resourceArn", &mut v);
        finish(v)?;
        let after = next_token(&q)?;
        ctx.store()
            .list_tags(&ctx.scope, arn.unwrap_or_default(), after)
    })
    .await
}
