//! The resources a profile depends on: pre-flight validation of behaviors, a profile waiting
//! for the CustomMetric and Dimension it names, and the deletion of a CustomMetric in use.

use crate::harness::*;
use serde_json::json;

/// A behavior the CRD schema cannot reject (a comparison with neither a value nor a
/// statistical threshold) is reported from ValidateSecurityProfileBehaviors before any write;
/// fixing it creates the profile; resyncs do not validate again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_behavior_is_reported_by_preflight_without_a_write() {
    let env = Env::start_with(&["--resync-period", "1s"]).await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "preflight"},
        "spec": {"behaviors": [{
            "name": "too-many-bytes",
            "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "greater-than", "durationSeconds": 300}
        }]}
    }))
    .await;
    let sp = env.wait_synced_false("preflight", "InvalidSpec").await;
    let (_, _, message) = condition(&sp, "Synced").unwrap();
    assert!(
        message.contains("ValidateSecurityProfileBehaviors")
            && message.contains("exactly one of value or statisticalThreshold"),
        "AWS's validation error in the condition: {message}"
    );
    let (_, reason, note) = env.wait_event("preflight", "InvalidSpec").await;
    assert_eq!(reason, "InvalidSpec");
    assert!(note.contains("statisticalThreshold"), "{note}");
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 1);
    assert_eq!(
        env.all_calls("CreateSecurityProfile"),
        0,
        "no write attempted"
    );
    assert_eq!(env.all_calls("UpdateSecurityProfile"), 0);
    assert!(env.profile("preflight").is_none());

    env.patch_spec(
        "preflight",
        json!({"behaviors": [{
            "name": "too-many-bytes",
            "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1000}, "durationSeconds": 300}
        }]}),
    )
    .await;
    env.wait_ready("preflight").await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 2);
    assert_eq!(env.ok_calls("CreateSecurityProfile"), 1);
    // Resyncs (every second here) read AWS but never validate again: it costs quota.
    let describes = env.ok_calls("DescribeSecurityProfile");
    eventually(
        "two more resyncs",
        std::time::Duration::from_secs(20),
        || async { (env.ok_calls("DescribeSecurityProfile") >= describes + 2).then_some(()) },
    )
    .await;
    assert_eq!(env.ok_calls("ValidateSecurityProfileBehaviors"), 2);
}
