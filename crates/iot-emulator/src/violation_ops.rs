//! `ListActiveViolations` (`GET /active-violations`): its query's validation and the IAM
//! resources it is checked on. It shares the security-profile pipeline (signature, IAM, quota,
//! faults, counting).

use crate::Shared;
use crate::iam;
use crate::model::{Op, profile_arn, thing_arn};
use crate::ops::{Ctx, action, finish, max_results, next_token, run};
use crate::validate::{self, Violations, check};
use crate::violations::{CRITERIA_TYPES, VERIFICATION_STATES, ViolationFilter};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/active-violations", get(list_active_violations))
}

/// Authorization: the named profile (with its tags) and the named thing; `*` when the request
/// names neither, as for any List.
fn on_named(
    q: &HashMap<String, String>,
) -> impl FnOnce(&Ctx) -> Vec<iam::Request> + Send + 'static {
    let profile = q.get("securityProfileName").cloned();
    let thing = q.get("thingName").cloned();
    move |ctx| {
        let op = Op::ListActiveViolations;
        let (region, account) = (&ctx.scope.region, &ctx.scope.account);
        let mut reqs = Vec::new();
        if let Some(p) = profile {
            reqs.push(ctx.on(op, &profile_arn(region, account, &p)));
        }
        if let Some(t) = thing {
            reqs.push(ctx.on(op, &thing_arn(region, account, &t)));
        }
        if reqs.is_empty() {
            reqs.push(iam::Request::new(action(op), "*"));
        }
        reqs
    }
}

/// An optional enum query parameter, with AWS's message for a value outside it.
fn one_of(
    q: &HashMap<String, String>,
    key: &str,
    values: &[&str],
    v: &mut Violations,
) -> Option<String> {
    let raw = q.get(key)?;
    if values.contains(&raw.as_str()) {
        return Some(raw.clone());
    }
    v.push(format!(
        "Value '{raw}' at '{key}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        values.join(", ")
    ));
    None
}

fn filter_of(q: &HashMap<String, String>, v: &mut Violations) -> ViolationFilter {
    for key in ["securityProfileName", "thingName"] {
        if let Some(val) = q.get(key) {
            check(&validate::NAME, &Value::String(val.clone()), key, v);
        }
    }
    let list_suppressed = match q.get("listSuppressedAlerts").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            v.push(format!(
                "Value '{other}' at 'listSuppressedAlerts' failed to satisfy constraint: Member must be a boolean"
            ));
            false
        }
    };
    ViolationFilter {
        profile: q.get("securityProfileName").cloned(),
        thing: q.get("thingName").cloned(),
        criteria_type: one_of(q, "behaviorCriteriaType", CRITERIA_TYPES, v),
        verification_state: one_of(q, "verificationState", VERIFICATION_STATES, v),
        list_suppressed,
    }
}

async fn list_active_violations(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authz = on_named(&q);
    run(s, Op::ListActiveViolations, &headers, authz, move |ctx| {
        let mut v = Violations::default();
        let filter = filter_of(&q, &mut v);
        let max = max_results(&q, &mut v);
        finish(v)?;
        let after = next_token(&q)?;
        ctx.store().list_violations(&ctx.scope, &filter, max, after)
    })
    .await
}
