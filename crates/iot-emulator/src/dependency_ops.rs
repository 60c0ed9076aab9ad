//! The ten dimension and custom-metric operations: routes, the model's validation and the
//! IAM resources they are checked on. They share the security-profile pipeline (signature,
//! IAM, quota, faults, counting).

use crate::Shared;
use crate::iam;
use crate::model::{Op, custom_metric_arn, dimension_arn};
use crate::ops::{
    Ctx, action, any_resource, body_json, finish, max_results, next_token, run, tag_map,
};
use crate::validate::{self, Member, Shape, Violations, check, check_members};
use crate::wire::ApiError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

type App = State<Arc<Shared>>;
type Params = Query<HashMap<String, String>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/dimensions/{name}",
            get(describe_dimension)
                .post(create_dimension)
                .patch(update_dimension)
                .delete(delete_dimension),
        )
        .route("/dimensions", get(list_dimensions))
        .route(
            "/custom-metric/{metricName}",
            get(describe_metric)
                .post(create_metric)
                .patch(update_metric)
                .delete(delete_metric),
        )
        .route("/custom-metrics", get(list_metrics))
}

fn is_token(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

static TOKEN: Shape = Shape::Str {
    min: 1,
    max: Some(64),
    pattern: Some(("^[a-zA-Z0-9-_]+$", is_token)),
};
static STRING_VALUE: Shape = Shape::Str {
    min: 1,
    max: Some(256),
    pattern: None,
};
static STRING_VALUES: Shape = Shape::List {
    member: &STRING_VALUE,
    max: Some(100),
};
static DIMENSION_TYPE: Shape = Shape::Enum(&["TOPIC_FILTER"]);
static METRIC_TYPE: Shape =
    Shape::Enum(&["string-list", "ip-address-list", "number-list", "number"]);
static DISPLAY_NAME: Shape = Shape::Str {
    min: 0,
    max: Some(128),
    pattern: Some(("[\\p{Graph}\\x20]*", |s| {
        s.bytes().all(|b| (0x20..=0x7e).contains(&b))
    })),
};

static CREATE_DIMENSION: &[Member] = &[
    Member("type", &DIMENSION_TYPE, true),
    Member("stringValues", &STRING_VALUES, true),
    Member("tags", &validate::TAG_LIST, false),
    Member("clientRequestToken", &TOKEN, true),
];
static UPDATE_DIMENSION: &[Member] = &[Member("stringValues", &STRING_VALUES, true)];
static CREATE_METRIC: &[Member] = &[
    Member("displayName", &DISPLAY_NAME, false),
    Member("metricType", &METRIC_TYPE, true),
    Member("tags", &validate::TAG_LIST, false),
    Member("clientRequestToken", &TOKEN, true),
];
static UPDATE_METRIC: &[Member] = &[Member("displayName", &DISPLAY_NAME, true)];

/// Validates the path name and the body members; `stringValues` also needs one item.
fn validated(
    name_key: &str,
    name: &str,
    body: &Bytes,
    members: &[Member],
) -> Result<Value, ApiError> {
    let body = body_json(body)?;
    let mut v = Violations::default();
    check(
        &validate::NAME,
        &Value::String(name.to_string()),
        name_key,
        &mut v,
    );
    check_members(members, &body, "", &mut v);
    if body
        .get("stringValues")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        v.push(
            "Value '[]' at 'stringValues' failed to satisfy constraint: Member must have length greater than or equal to 1"
                .to_string(),
        );
    }
    finish(v)?;
    Ok(body)
}

fn name_only(name_key: &str, name: &str) -> Result<(), ApiError> {
    let mut v = Violations::default();
    check(
        &validate::NAME,
        &Value::String(name.to_string()),
        name_key,
        &mut v,
    );
    finish(v)
}

/// Authorization for a create: the new resource's ARN with the request's tags.
fn on_create(
    op: Op,
    raw: &Bytes,
    arn: fn(&str, &str, &str) -> String,
    name: &str,
) -> impl FnOnce(&Ctx) -> Vec<iam::Request> + Send + 'static {
    let (raw, name) = (raw.clone(), name.to_string());
    move |ctx| {
        let tags = body_json(&raw)
            .ok()
            .and_then(|b| tag_map(b.get("tags")).ok())
            .unwrap_or_default();
        let arn = arn(&ctx.scope.region, &ctx.scope.account, &name);
        vec![iam::Request::new(action(op), arn).request_tags(&tags)]
    }
}

/// Authorization for an operation on an existing dimension or custom metric.
fn on_existing(
    op: Op,
    arn: fn(&str, &str, &str) -> String,
    name: &str,
) -> impl FnOnce(&Ctx) -> Vec<iam::Request> + Send + 'static {
    let name = name.to_string();
    move |ctx| vec![ctx.on(op, &arn(&ctx.scope.region, &ctx.scope.account, &name))]
}

async fn create_dimension(
    State(s): App,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authz = on_create(Op::CreateDimension, &body, dimension_arn, &name);
    run(s, Op::CreateDimension, &headers, authz, move |ctx| {
        let body = validated("name", &name, &body, CREATE_DIMENSION)?;
        let tags = tag_map(body.get("tags"))?;
        ctx.store().create_dimension(&ctx.scope, &name, &body, tags)
    })
    .await
}

async fn describe_dimension(
    State(s): App,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let authz = on_existing(Op::DescribeDimension, dimension_arn, &name);
    run(s, Op::DescribeDimension, &headers, authz, move |ctx| {
        name_only("name", &name)?;
        ctx.store().describe_dimension(&ctx.scope, &name)
    })
    .await
}

async fn update_dimension(
    State(s): App,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authz = on_existing(Op::UpdateDimension, dimension_arn, &name);
    run(s, Op::UpdateDimension, &headers, authz, move |ctx| {
        let body = validated("name", &name, &body, UPDATE_DIMENSION)?;
        let values = body["stringValues"].as_array().cloned().unwrap_or_default();
        ctx.store().update_dimension(&ctx.scope, &name, values)
    })
    .await
}

async fn delete_dimension(State(s): App, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let authz = on_existing(Op::DeleteDimension, dimension_arn, &name);
    run(s, Op::DeleteDimension, &headers, authz, move |ctx| {
        name_only("name", &name)?;
        ctx.store().delete_dimension(&ctx.scope, &name)
    })
    .await
}

async fn list_dimensions(State(s): App, Query(q): Params, headers: HeaderMap) -> Response {
    run(
        s,
        Op::ListDimensions,
        &headers,
        any_resource(Op::ListDimensions),
        move |ctx| {
            let (max, after) = paging(&q)?;
            Ok(ctx.store().list_dimensions(&ctx.scope, max, after))
        },
    )
    .await
}

async fn create_metric(
    State(s): App,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authz = on_create(Op::CreateCustomMetric, &body, custom_metric_arn, &name);
    run(s, Op::CreateCustomMetric, &headers, authz, move |ctx| {
        let body = validated("metricName", &name, &body, CREATE_METRIC)?;
        if name.to_ascii_lowercase().starts_with("aws:") {
            return Err(ApiError::invalid(format!(
                "The custom metric name {name} cannot begin with 'aws:'"
            )));
        }
        let tags = tag_map(body.get("tags"))?;
        ctx.store()
            .create_custom_metric(&ctx.scope, &name, &body, tags)
    })
    .await
}

async fn describe_metric(State(s): App, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let authz = on_existing(Op::DescribeCustomMetric, custom_metric_arn, &name);
    run(s, Op::DescribeCustomMetric, &headers, authz, move |ctx| {
        name_only("metricName", &name)?;
        ctx.store().describe_custom_metric(&ctx.scope, &name)
    })
    .await
}

async fn update_metric(
    State(s): App,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authz = on_existing(Op::UpdateCustomMetric, custom_metric_arn, &name);
    run(s, Op::UpdateCustomMetric, &headers, authz, move |ctx| {
        let body = validated("metricName", &name, &body, UPDATE_METRIC)?;
        let display = body["displayName"].as_str().unwrap_or_default();
        ctx.store().update_custom_metric(&ctx.scope, &name, display)
    })
    .await
}

async fn delete_metric(State(s): App, Path(name): Path<String>, headers: HeaderMap) -> Response {
    let authz = on_existing(Op::DeleteCustomMetric, custom_metric_arn, &name);
    run(s, Op::DeleteCustomMetric, &headers, authz, move |ctx| {
        name_only("metricName", &name)?;
        ctx.store().delete_custom_metric(&ctx.scope, &name)
    })
    .await
}

async fn list_metrics(State(s): App, Query(q): Params, headers: HeaderMap) -> Response {
    run(
        s,
        Op::ListCustomMetrics,
        &headers,
        any_resource(Op::ListCustomMetrics),
        move |ctx| {
            let (max, after) = paging(&q)?;
            Ok(ctx.store().list_custom_metrics(&ctx.scope, max, after))
        },
    )
    .await
}

/// The page size and position of a List call that takes no other parameter.
fn paging(q: &HashMap<String, String>) -> Result<(usize, Option<String>), ApiError> {
    let mut v = Violations::default();
    let max = max_results(q, &mut v);
    finish(v)?;
    Ok((max, next_token(q)?))
}
