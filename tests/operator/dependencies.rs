//! The resources a profile depends on: pre-flight validation of behaviors, a profile waiting
//! for the CustomMetric and Dimension it names, and the deletion of a CustomMetric in use.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use serde_json::json;

/// Pre-flight: the behaviors of a new spec are validated with ValidateSecurityProfileBehaviors
/// before the create, and resyncs never validate again (it costs quota). (The rejection path,
/// `Synced=False InvalidSpec` with no write, is tested below with an unknown `aws:` metric and
/// in `kinds` with a behavior that does not fit its custom metric's type.)
async fn behaviors_are_validated_before_the_create_and_never_on_resyncs(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s"]).await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "preflight"},
        "spec": {"behaviors": [{
            "name": "too-many-bytes",
            "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1000}, "durationSeconds": 300}
        }]}
    }))
    .await;
    env.wait_ready("preflight").await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 1);
    assert_eq!(env.ok_calls("CreateSecurityProfile"), 1);
    let describes = env.ok_calls("DescribeSecurityProfile");
    eventually(
        "two more resyncs",
        std::time::Duration::from_secs(20),
        || async { (env.ok_calls("DescribeSecurityProfile") >= describes + 2).then_some(()) },
    )
    .await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 1);
    // A description-only edit writes no behaviors: nothing to validate.
    env.patch_spec("preflight", json!({"securityProfileDescription": "d"}))
        .await;
    env.wait_for("preflight", "description applied", |sp| {
        sp.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
            && condition(sp, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 1);
    // A behavior edit is validated once more before the update.
    env.patch_spec(
        "preflight",
        json!({"behaviors": [{
            "name": "too-many-bytes",
            "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 2000}, "durationSeconds": 300}
        }]}),
    )
    .await;
    env.wait_for("preflight", "behaviors applied", |sp| {
        sp.status.as_ref().and_then(|s| s.observed_generation) == Some(3)
            && condition(sp, "Ready").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 2);
}
on_both_servers!(behaviors_are_validated_before_the_create_and_never_on_resyncs);

pub(crate) fn custom_metric() -> serde_json::Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "CustomMetric",
        "metadata": {"name": "battery-level", "namespace": NS},
        "spec": {"metricName": "batteryLevel", "metricType": "number", "displayName": "Battery level"}
    })
}

pub(crate) fn dimension() -> serde_json::Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "Dimension",
        "metadata": {"name": "telemetry-topics", "namespace": NS},
        "spec": {"name": "telemetryTopics", "type": "TOPIC_FILTER", "stringValues": ["telemetry/#"]}
    })
}

/// A profile naming a custom metric and a dimension.
pub(crate) fn dependent_profile() -> serde_json::Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "battery-watch"},
        "spec": {"behaviors": [
            {"name": "low-battery", "metric": "batteryLevel",
             "criteria": {"comparisonOperator": "less-than", "value": {"number": 10}, "durationSeconds": 300}},
            {"name": "chatty", "metric": "aws:num-messages-sent",
             "metricDimension": {"dimensionName": "telemetryTopics"},
             "criteria": {"comparisonOperator": "greater-than", "value": {"count": 100}, "durationSeconds": 300}}
        ]}
    })
}

pub(crate) async fn apply<K>(env: &Env, value: serde_json::Value) -> K
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let api: kube::Api<K> = kube::Api::namespaced(env.client.clone(), NS);
    let obj: K = serde_json::from_value(value).expect("a manifest");
    api.create(&kube::api::PostParams::default(), &obj)
        .await
        .expect("create")
}

/// A profile applied before its CustomMetric and Dimension waits (no AWS write, no failed
/// call), then converges as soon as both are Ready, with no failed AWS call at all.
async fn a_profile_applied_before_its_dependencies_converges_once_they_exist(server: Server) {
    use securityprofile_operator::api::{CustomMetric, Dimension};
    let env = Env::start(server).await;
    env.create_json(dependent_profile()).await;
    let sp = env
        .wait_for("battery-watch", "WaitingForDependency", |sp| {
            condition(sp, "Ready").is_some_and(|c| c.1 == "WaitingForDependency")
        })
        .await;
    let (_, _, message) = condition(&sp, "Ready").unwrap();
    assert!(message.contains("CustomMetric batteryLevel"), "{message}");
    assert_eq!(env.all_calls("CreateSecurityProfile"), 0);

    let _: CustomMetric = apply(&env, custom_metric()).await;
    let _: Dimension = apply(&env, dimension()).await;
    // Converges through the watch on the dependencies, well before any resync.
    env.wait_ready("battery-watch").await;
    let state = env.emulator.admin().state();
    assert!(
        state
            .custom_metrics
            .iter()
            .any(|m| m.name == "batteryLevel")
    );
    assert!(state.dimensions.iter().any(|d| d.name == "telemetryTopics"));
    assert!(env.profile("battery-watch").is_some());
    let calls = env.emulator.admin().calls();
    let failed: Vec<_> = calls
        .iter()
        .flat_map(|(op, outcomes)| {
            outcomes
                .iter()
                // A Describe answering NotFound is how absence is read before a create.
                .filter(|(o, n)| {
                    let absent =
                        op.starts_with("Describe") && o.as_str() == "ResourceNotFoundException";
                    o.as_str() != "ok" && !absent && **n > 0
                })
                .map(move |(o, n)| format!("{op} {o} x{n}"))
        })
        .collect();
    assert!(failed.is_empty(), "no failed AWS call: {failed:?}");
    assert_eq!(
        env.all_calls("CreateSecurityProfile"),
        1,
        "created once, never refused"
    );
}
on_both_servers!(a_profile_applied_before_its_dependencies_converges_once_they_exist);

/// Deleting a CustomMetric that a profile in AWS still uses waits (finalizer kept, status and
/// event name the profile) until no profile uses it, then deletes it.
async fn deleting_a_custom_metric_in_use_waits_until_no_profile_uses_it(server: Server) {
    use securityprofile_operator::api::{CustomMetric, Dimension};
    let env = Env::start(server).await;
    let _: CustomMetric = apply(&env, custom_metric()).await;
    let _: Dimension = apply(&env, dimension()).await;
    env.create_json(dependent_profile()).await;
    env.wait_ready("battery-watch").await;

    let metrics: kube::Api<CustomMetric> = kube::Api::namespaced(env.client.clone(), NS);
    metrics
        .delete("battery-level", &Default::default())
        .await
        .expect("delete");
    let held = eventually(
        "the deletion waits",
        std::time::Duration::from_secs(30),
        || async {
            let cm = metrics.get_opt("battery-level").await.ok().flatten()?;
            let st = cm.status.clone()?;
            (st.used_by.as_deref() == Some(&["battery-watch".to_string()][..])).then_some(cm)
        },
    )
    .await;
    let synced = held.status.as_ref().unwrap().condition("Synced").unwrap();
    assert_eq!(synced.reason, "Deleting");
    assert!(
        synced.message.contains("battery-watch"),
        "{}",
        synced.message
    );
    assert_eq!(env.emulator.admin().state().custom_metrics.len(), 1);
    assert_eq!(
        env.all_calls("DeleteCustomMetric"),
        0,
        "never tried while in use"
    );

    env.delete("battery-watch").await;
    env.wait_gone("battery-watch").await;
    eventually(
        "the metric is deleted",
        std::time::Duration::from_secs(30),
        || async { matches!(metrics.get_opt("battery-level").await, Ok(None)).then_some(()) },
    )
    .await;
    assert!(env.emulator.admin().state().custom_metrics.is_empty());
    assert_eq!(env.ok_calls("DeleteCustomMetric"), 1);
}
on_both_servers!(deleting_a_custom_metric_in_use_waits_until_no_profile_uses_it);

/// examples/dependencies/ applies as written (all three kinds in one file) and converges.
async fn the_dependency_example_converges(server: Server) {
    use securityprofile_operator::api::{CustomMetric, Dimension, SecurityProfile};
    let env = Env::start(server).await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/dependencies/battery.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let mut kinds = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let mut v: serde_json::Value = serde::Deserialize::deserialize(doc).unwrap();
        v["metadata"]["namespace"] = json!(NS);
        kinds.push(v["kind"].as_str().unwrap().to_string());
        match v["kind"].as_str().unwrap() {
            "CustomMetric" => drop(apply::<CustomMetric>(&env, v).await),
            "Dimension" => drop(apply::<Dimension>(&env, v).await),
            _ => drop(apply::<SecurityProfile>(&env, v).await),
        }
    }
    assert_eq!(kinds, ["CustomMetric", "Dimension", "SecurityProfile"]);
    env.wait_ready("battery-watch").await;
    let state = env.emulator.admin().state();
    assert!(
        state
            .custom_metrics
            .iter()
            .any(|m| m.name == "batteryLevel")
    );
    assert!(state.dimensions.iter().any(|d| d.name == "telemetryTopics"));
}
on_both_servers!(the_dependency_example_converges);

async fn a_behavior_the_crd_cannot_catch_is_reported_from_validate_with_no_write(server: Server) {
    let env = Env::start(server).await;
    // The CRD cannot know Device Defender's metric names; only the service can.
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "typo"},
        "spec": {"behaviors": [{
            "name": "bytes",
            "metric": "aws:all-bytes-outt",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1000}, "durationSeconds": 300}
        }]}
    }))
    .await;
    let sp = env.wait_synced_false("typo", "InvalidSpec").await;
    let message = condition(&sp, "Synced").unwrap().2;
    assert!(message.contains("aws:all-bytes-outt"), "{message}");
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 1);
    assert_eq!(
        env.all_calls("CreateSecurityProfile"),
        0,
        "no create attempted"
    );
    assert_eq!(env.all_calls("UpdateSecurityProfile"), 0);
    // The fix is validated again and created.
    env.patch_spec(
        "typo",
        json!({"behaviors": [{
            "name": "bytes",
            "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1000}, "durationSeconds": 300}
        }]}),
    )
    .await;
    env.wait_ready("typo").await;
    assert_eq!(env.ok_calls("CreateSecurityProfile"), 1);
}
on_both_servers!(a_behavior_the_crd_cannot_catch_is_reported_from_validate_with_no_write);
