//! The guardrails, the scoped IAM policy and pre-flight validation as they apply to the
//! CustomMetric and Dimension kinds: the same rules, reasons and events as for SecurityProfile.
//! Every test counts the emulator's calls; the emulator enforces the policy `iam-policy` prints.

use crate::cluster::{Server, on_both_servers};
use crate::dependencies::apply;
use crate::harness::*;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use securityprofile_operator::api::{CustomMetric, Dimension, ResourceStatus};
use securityprofile_operator::controller::ManagedKind;
use serde_json::{Value, json};
use std::time::Duration;

/// Successful writes to custom metrics and dimensions (and any tagging).
fn dependency_writes(env: &Env) -> u64 {
    [
        "CreateCustomMetric",
        "UpdateCustomMetric",
        "DeleteCustomMetric",
        "CreateDimension",
        "UpdateDimension",
        "DeleteDimension",
        "TagResource",
        "UntagResource",
    ]
    .iter()
    .map(|op| env.ok_calls(op))
    .sum()
}

fn metric(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "CustomMetric",
        "metadata": {"name": name, "namespace": NS}, "spec": spec
    })
}

fn dimension(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "Dimension",
        "metadata": {"name": name, "namespace": NS}, "spec": spec
    })
}

/// Waits until the resource's status satisfies `pred`; returns the resource.
async fn wait_status<K: ManagedKind>(
    env: &Env,
    name: &str,
    what: &str,
    pred: impl Fn(&ResourceStatus) -> bool,
) -> K {
    let api: Api<K> = Api::namespaced(env.client.clone(), NS);
    eventually(what, Duration::from_secs(30), || async {
        let obj = api.get_opt(name).await.ok().flatten()?;
        let ok = obj.resource_status().is_some_and(&pred);
        ok.then_some(obj)
    })
    .await
}

/// `(status, reason, message)` of a condition of a CustomMetric or Dimension.
fn cond(status: &ResourceStatus, type_: &str) -> Option<(String, String, String)> {
    status
        .condition(type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn synced_false(reason: &'static str) -> impl Fn(&ResourceStatus) -> bool {
    move |s| cond(s, "Synced").is_some_and(|c| c.0 == "False" && c.1 == reason)
}

fn ready(s: &ResourceStatus) -> bool {
    cond(s, "Ready").is_some_and(|c| c.0 == "True")
        && cond(s, "Synced").is_some_and(|c| c.0 == "True")
}

async fn wait_gone<K: ManagedKind>(env: &Env, name: &str) {
    let api: Api<K> = Api::namespaced(env.client.clone(), NS);
    eventually(
        &format!("{name} deleted"),
        Duration::from_secs(30),
        || async { matches!(api.get_opt(name).await, Ok(None)).then_some(()) },
    )
    .await
}

/// A region outside the allowlist (here the namespace's `iot.awscc.io/allowed-regions`), or one
/// AWS does not have, is `Synced=False, reason=Forbidden` (with an event) before any AWS call,
/// for both kinds; deleting such a resource makes no call either. Inside the list, the same
/// kinds converge.
async fn regions_outside_the_allowlist_or_unknown_make_no_aws_call(server: Server) {
    let env = Env::start(server).await;
    env.annotate_namespace(NS, json!({"iot.awscc.io/allowed-regions": "eu-west-1"}))
        .await;
    let _: CustomMetric = apply(
        &env,
        metric(
            "battery",
            json!({"metricType": "number", "region": "us-east-1"}),
        ),
    )
    .await;
    let _: Dimension = apply(
        &env,
        dimension(
            "topics",
            json!({"type": "TOPIC_FILTER", "stringValues": ["a/#"], "region": "xx-north-9"}),
        ),
    )
    .await;
    let refused: CustomMetric = wait_status(
        &env,
        "battery",
        "battery Forbidden",
        synced_false("Forbidden"),
    )
    .await;
    let (_, _, message) = cond(refused.status.as_ref().unwrap(), "Synced").unwrap();
    assert!(
        message.contains("us-east-1") && message.contains("iot.awscc.io/allowed-regions"),
        "{message}"
    );
    let refused: Dimension = wait_status(
        &env,
        "topics",
        "topics Forbidden",
        synced_false("Forbidden"),
    )
    .await;
    let (_, _, message) = cond(refused.status.as_ref().unwrap(), "Synced").unwrap();
    assert!(
        message.contains("xx-north-9") && message.contains("not a known AWS region"),
        "{message}"
    );
    env.wait_event("battery", "Forbidden").await;
    env.wait_event("topics", "Forbidden").await;
    assert_eq!(
        env.total_calls(),
        0,
        "not one AWS call for a forbidden region"
    );

    // Deleting them: nothing was made, nothing is called.
    let metrics: Api<CustomMetric> = Api::namespaced(env.client.clone(), NS);
    let dimensions: Api<Dimension> = Api::namespaced(env.client.clone(), NS);
    metrics
        .delete("battery", &DeleteParams::default())
        .await
        .unwrap();
    dimensions
        .delete("topics", &DeleteParams::default())
        .await
        .unwrap();
    wait_gone::<CustomMetric>(&env, "battery").await;
    wait_gone::<Dimension>(&env, "topics").await;
    assert_eq!(env.total_calls(), 0, "no call on delete either");

    // Inside the list, both converge.
    let _: CustomMetric = apply(
        &env,
        metric(
            "allowed",
            json!({"metricType": "number", "region": "eu-west-1"}),
        ),
    )
    .await;
    let _: CustomMetric = wait_status(&env, "allowed", "allowed Ready", ready).await;
    assert_eq!(env.ok_calls("CreateCustomMetric"), 1);
}
on_both_servers!(regions_outside_the_allowlist_or_unknown_make_no_aws_call);

/// Adopting an unowned custom metric or dimension needs the namespace's permission
/// (`iot.awscc.io/allow-adoption`) exactly as a profile does: refused with
/// `AdoptionNotAllowed` and an event, with AWS read and nothing written; allowed once the
/// admin annotates the namespace.
async fn adopting_a_custom_metric_or_dimension_needs_the_namespace_permission(server: Server) {
    let env = Env::start(server).await;
    let admin = env.emulator.admin();
    admin
        .put_custom_metric(json!({"metricName": "legacyMetric", "metricType": "number",
                                  "displayName": "made by hand", "tags": {"owner": "ops"}}))
        .unwrap();
    admin
        .put_dimension(json!({"name": "legacyTopics", "type": "TOPIC_FILTER",
                              "stringValues": ["legacy/#"]}))
        .unwrap();
    let _: CustomMetric = apply(
        &env,
        metric(
            "legacy-metric",
            json!({"metricName": "legacyMetric", "metricType": "number",
                   "displayName": "managed now", "adoptionPolicy": "Adopt"}),
        ),
    )
    .await;
    let _: Dimension = apply(
        &env,
        dimension(
            "legacy-topics",
            json!({"name": "legacyTopics", "type": "TOPIC_FILTER",
                   "stringValues": ["legacy/#", "new/#"], "adoptionPolicy": "Adopt"}),
        ),
    )
    .await;
    let refused: CustomMetric = wait_status(
        &env,
        "legacy-metric",
        "metric AdoptionNotAllowed",
        synced_false("AdoptionNotAllowed"),
    )
    .await;
    let (_, _, message) = cond(refused.status.as_ref().unwrap(), "Synced").unwrap();
    assert!(
        message.starts_with("custom metric \"legacyMetric\"")
            && message.contains("iot.awscc.io/allow-adoption")
            && message.contains("--allow-adoption"),
        "{message}"
    );
    let _: Dimension = wait_status(
        &env,
        "legacy-topics",
        "dimension AdoptionNotAllowed",
        synced_false("AdoptionNotAllowed"),
    )
    .await;
    env.wait_event("legacy-metric", "AdoptionNotAllowed").await;
    env.wait_event("legacy-topics", "AdoptionNotAllowed").await;
    assert!(env.ok_calls("DescribeCustomMetric") >= 1, "AWS was read");
    assert!(env.ok_calls("DescribeDimension") >= 1, "AWS was read");
    assert_eq!(
        env.all_calls("TagResource"),
        0,
        "not even the ownership tags"
    );
    assert_eq!(env.all_calls("UpdateCustomMetric"), 0);
    assert_eq!(env.all_calls("UpdateDimension"), 0);
    let state = admin.state();
    let m = state
        .custom_metrics
        .iter()
        .find(|m| m.name == "legacyMetric")
        .unwrap();
    assert_eq!(m.display_name.as_deref(), Some("made by hand"));
    assert_eq!(m.tags.len(), 1, "{:?}", m.tags);

    // The admin allows adoption in the namespace; the next reconcile adopts.
    env.annotate_namespace(NS, json!({"iot.awscc.io/allow-adoption": "true"}))
        .await;
    let metrics: Api<CustomMetric> = Api::namespaced(env.client.clone(), NS);
    let dimensions: Api<Dimension> = Api::namespaced(env.client.clone(), NS);
    // A spec change triggers the next reconcile (otherwise the resync would).
    let spec = |v: Value| Patch::Merge(json!({ "spec": v }));
    metrics
        .patch(
            "legacy-metric",
            &PatchParams::default(),
            &spec(json!({"displayName": "managed from Git"})),
        )
        .await
        .unwrap();
    dimensions
        .patch(
            "legacy-topics",
            &PatchParams::default(),
            &spec(json!({"stringValues": ["legacy/#", "git/#"]})),
        )
        .await
        .unwrap();
    let _: CustomMetric = wait_status(&env, "legacy-metric", "metric adopted", ready).await;
    let _: Dimension = wait_status(&env, "legacy-topics", "dimension adopted", ready).await;
    env.wait_event("legacy-metric", "Adopted").await;
    env.wait_event("legacy-topics", "Adopted").await;
    let state = admin.state();
    let m = state
        .custom_metrics
        .iter()
        .find(|m| m.name == "legacyMetric")
        .unwrap();
    assert_eq!(m.display_name.as_deref(), Some("managed from Git"));
    assert_eq!(
        m.tags.get("iot.awscc.io/cluster").map(String::as_str),
        Some(CLUSTER)
    );
    let d = state
        .dimensions
        .iter()
        .find(|d| d.name == "legacyTopics")
        .unwrap();
    assert_eq!(d.string_values.len(), 2);
    assert_eq!(env.ok_calls("TagResource"), 2, "ownership tags, once each");
}
on_both_servers!(adopting_a_custom_metric_or_dimension_needs_the_namespace_permission);

/// `managementPolicy: Observe` of a custom metric or dimension another namespace manages is
/// refused (`OwnedByAnother`) without naming the owner, as for profiles; within the owner's
/// namespace observing works. Nothing is ever written.
async fn observe_of_a_dimension_of_another_namespace_is_refused_without_naming_it(server: Server) {
    let env = Env::start(server).await;
    env.emulator
        .admin()
        .put_dimension(json!({"name": "teamBTopics", "type": "TOPIC_FILTER", "stringValues": ["b/#"],
                              "tags": {"iot.awscc.io/cluster": CLUSTER, "iot.awscc.io/namespace": "team-b",
                                       "iot.awscc.io/name": "secret-owner"}}))
        .unwrap();
    env.emulator
        .admin()
        .put_dimension(json!({"name": "teamATopics", "type": "TOPIC_FILTER", "stringValues": ["a/#"],
                              "tags": {"iot.awscc.io/cluster": CLUSTER, "iot.awscc.io/namespace": NS,
                                       "iot.awscc.io/name": "sibling"}}))
        .unwrap();
    let observe = |aws: &str| json!({"name": aws, "type": "TOPIC_FILTER", "stringValues": ["x/#"], "managementPolicy": "Observe"});
    let _: Dimension = apply(&env, dimension("peek", observe("teamBTopics"))).await;
    let _: Dimension = apply(&env, dimension("watch", observe("teamATopics"))).await;
    let refused: Dimension = wait_status(
        &env,
        "peek",
        "peek OwnedByAnother",
        synced_false("OwnedByAnother"),
    )
    .await;
    let status = refused.status.clone().unwrap();
    let (_, _, message) = cond(&status, "Synced").unwrap();
    for leak in ["team-b", "secret-owner", CLUSTER] {
        assert!(!message.contains(leak), "{leak} leaked: {message}");
    }
    assert_eq!(status.arn, None, "no ARN reported");
    env.wait_event("peek", "OwnedByAnother").await;
    let watched: Dimension = wait_status(&env, "watch", "watch observed", |s| {
        cond(s, "Synced").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert!(
        watched.status.unwrap().arn.is_some(),
        "same namespace: reported"
    );
    assert_eq!(dependency_writes(&env), 0, "observers never write");
}
on_both_servers!(observe_of_a_dimension_of_another_namespace_is_refused_without_naming_it);

/// IAM enforces ownership of custom metrics by itself: an operator told it is another cluster
/// ("prod-eu") finds the metric "its own" by the tags, but the policy generated for CLUSTER
/// refuses its update and its delete (`AccessDeniedException`, `Synced=False,
/// reason=AccessDenied`); not one write succeeds and the metric is untouched.
async fn iam_denies_writes_to_a_custom_metric_of_another_cluster(server: Server) {
    let env = Env::start_with(server, &["--cluster-id", "prod-eu"]).await;
    env.emulator
        .admin()
        .put_custom_metric(json!({"metricName": "victim", "metricType": "number", "displayName": "prod's",
                                  "tags": {"iot.awscc.io/cluster": "prod-eu", "iot.awscc.io/namespace": NS,
                                           "iot.awscc.io/name": "victim"}}))
        .unwrap();
    let _: CustomMetric = apply(
        &env,
        metric(
            "victim",
            json!({"metricType": "number", "displayName": "overwritten"}),
        ),
    )
    .await;
    let denied: CustomMetric = wait_status(
        &env,
        "victim",
        "victim AccessDenied",
        synced_false("AccessDenied"),
    )
    .await;
    let (_, _, message) = cond(denied.status.as_ref().unwrap(), "Synced").unwrap();
    assert!(message.contains("AccessDeniedException"), "{message}");
    let updates = env.calls("UpdateCustomMetric");
    assert!(
        updates.get("AccessDeniedException").copied().unwrap_or(0) >= 1,
        "the operator tried and IAM refused: {updates:?}"
    );
    env.wait_event("victim", "AccessDenied").await;

    let metrics: Api<CustomMetric> = Api::namespaced(env.client.clone(), NS);
    metrics
        .delete("victim", &DeleteParams::default())
        .await
        .unwrap();
    eventually("a denied delete", Duration::from_secs(30), || async {
        env.calls("DeleteCustomMetric")
            .contains_key("AccessDeniedException")
            .then_some(())
    })
    .await;
    assert_eq!(dependency_writes(&env), 0, "not one write succeeded");
    let state = env.emulator.admin().state();
    let m = state
        .custom_metrics
        .iter()
        .find(|m| m.name == "victim")
        .unwrap();
    assert_eq!(
        m.display_name.as_deref(),
        Some("prod's"),
        "prod's metric survives"
    );
}
on_both_servers!(iam_denies_writes_to_a_custom_metric_of_another_cluster);

/// Pre-flight against the custom metric's type: a behavior that compares a `string-list`
/// CustomMetric of the cluster with `less-than` passes the CRD (it cannot know the metric's
/// type) and AWS's Validate refuses it: `Synced=False, reason=InvalidSpec` with AWS's message,
/// and no Create or Update is attempted. The fix (`in-set`) is validated again and created.
async fn a_behavior_that_does_not_fit_its_custom_metrics_type_is_refused_before_any_write(
    server: Server,
) {
    let env = Env::start(server).await;
    let _: CustomMetric = apply(
        &env,
        metric(
            "wifi-networks",
            json!({"metricName": "wifiNetworks", "metricType": "string-list"}),
        ),
    )
    .await;
    let _: CustomMetric = wait_status(&env, "wifi-networks", "metric Ready", ready).await;
    let behavior = |criteria: Value| json!({"behaviors": [{"name": "known-networks", "metric": "wifiNetworks", "criteria": criteria}]});
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "wifi-watch"},
        "spec": behavior(json!({"comparisonOperator": "less-than", "value": {"number": 3}}))
    }))
    .await;
    let sp = env.wait_synced_false("wifi-watch", "InvalidSpec").await;
    let message = condition(&sp, "Synced").unwrap().2;
    assert!(
        message.contains("wifiNetworks is of type string-list")
            && message.contains("comparisonOperator less-than"),
        "{message}"
    );
    env.wait_event("wifi-watch", "InvalidSpec").await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 1);
    assert_eq!(
        env.all_calls("CreateSecurityProfile"),
        0,
        "no create attempted"
    );
    assert_eq!(
        env.all_calls("UpdateSecurityProfile"),
        0,
        "no update attempted"
    );

    env.patch_spec(
        "wifi-watch",
        behavior(json!({"comparisonOperator": "in-set", "value": {"strings": ["home", "office"]}})),
    )
    .await;
    env.wait_ready("wifi-watch").await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 2);
    assert_eq!(env.ok_calls("CreateSecurityProfile"), 1);
}
on_both_servers!(a_behavior_that_does_not_fit_its_custom_metrics_type_is_refused_before_any_write);
