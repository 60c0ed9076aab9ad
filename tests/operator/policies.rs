//! Retain, Observe, pause, invalid names, region resolution, drift correction.

use crate::harness::*;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retain_leaves_the_profile_in_aws() {
    let env = Env::start().await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "kept"}, "spec": {"deletionPolicy": "Retain"}
    }))
    .await;
    env.wait_ready("kept").await;
    env.delete("kept").await;
    env.wait_gone("kept").await;
    assert!(env.profile("kept").is_some());
    assert_eq!(env.all_calls("DeleteSecurityProfile"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observe_reads_and_never_writes() {
    let env = Env::start().await;
    env.emulator
        .admin()
        .put_profile(
            json!({"securityProfileName": "watched", "securityProfileDescription": "external"}),
        )
        .unwrap();
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "watched"},
        "spec": {"managementPolicy": "Observe", "securityProfileDescription": "ignored in observe mode"}
    }))
    .await;
    let sp = env.wait_ready("watched").await;
    let st = sp.status.unwrap();
    assert!(
        st.security_profile_arn
            .unwrap()
            .ends_with("securityprofile/watched")
    );
    assert_eq!(st.version, Some(1));
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "missing"}, "spec": {"managementPolicy": "Observe"}
    }))
    .await;
    let sp = env
        .wait_for("missing", "Ready=False NotFound", |sp| {
            condition(sp, "Ready").is_some_and(|c| c.1 == "NotFound")
        })
        .await;
    assert_eq!(condition(&sp, "Ready").unwrap().0, "False");
    env.delete("watched").await;
    env.wait_gone("watched").await;
    assert_eq!(
        env.profile("watched").unwrap().description.as_deref(),
        Some("external")
    );
    assert_eq!(env.writes(), 0, "observe mode never writes");
    assert!(env.profile("missing").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_resources_make_no_aws_calls_until_resumed() {
    let env = Env::start().await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "frozen", "annotations": {"iot.awscc.io/paused": "true"}},
        "spec": {"securityProfileDescription": "later"}
    }))
    .await;
    let sp = env.wait_synced_false("frozen", "Paused").await;
    assert_eq!(condition(&sp, "Ready").unwrap().0, "False");
    let total: u64 = env
        .emulator
        .admin()
        .calls()
        .values()
        .flat_map(|m| m.values())
        .sum();
    assert_eq!(total, 0, "no AWS call while paused");
    env.patch_meta(
        "frozen",
        json!({"annotations": {"iot.awscc.io/paused": null}}),
    )
    .await;
    env.wait_ready("frozen").await;
    assert_eq!(
        env.profile("frozen").unwrap().description.as_deref(),
        Some("later")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_name_that_is_no_aws_name_is_invalid_spec() {
    let env = Env::start().await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "edge.fleet"}, "spec": {}
    }))
    .await;
    let sp = env.wait_synced_false("edge.fleet", "InvalidSpec").await;
    assert!(
        condition(&sp, "Synced")
            .unwrap()
            .2
            .contains("spec.securityProfileName")
    );
    env.wait_event("edge.fleet", "InvalidSpec").await;
    let total: u64 = env
        .emulator
        .admin()
        .calls()
        .values()
        .flat_map(|m| m.values())
        .sum();
    assert_eq!(total, 0, "an invalid spec never reaches AWS");
    env.patch_spec("edge.fleet", json!({"securityProfileName": "edge_fleet"}))
        .await;
    env.wait_ready("edge.fleet").await;
    assert!(env.profile("edge_fleet").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_comes_from_the_namespace_annotation() {
    let env = Env::start().await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"iot.awscc.io/default-region": "eu-west-1"}}}),
            ),
        )
        .await
        .unwrap();
    env.create("regional", Default::default()).await;
    let sp = env.wait_ready("regional").await;
    assert_eq!(sp.status.unwrap().region.as_deref(), Some("eu-west-1"));
    let state = env.emulator.admin().state();
    let p = state
        .profiles
        .iter()
        .find(|p| p.name == "regional")
        .unwrap();
    assert_eq!(p.region, "eu-west-1");
    assert!(p.arn.starts_with("arn:aws:iot:eu-west-1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_corrected_on_resync() {
    let env = Env::start_with(&["--resync-period", "1s"]).await;
    let g = env.thing_group("drifty");
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "drift"},
        "spec": {"securityProfileDescription": "declared", "targetArns": [g], "tags": [{"key": "k", "value": "v"}]}
    }))
    .await;
    env.wait_ready("drift").await;
    // Someone edits the profile in the console.
    env.emulator
        .admin()
        .put_profile(json!({"securityProfileName": "drift", "securityProfileDescription": "edited by hand", "tags": {"k": "changed"}}))
        .unwrap();
    let (_, _, note) = env.wait_event("drift", "DriftCorrected").await;
    assert!(note.contains("securityProfileDescription"), "{note}");
    assert!(note.contains("tags"), "{note}");
    eventually("AWS corrected", Duration::from_secs(20), || async {
        env.profile("drift").filter(|p| {
            p.description.as_deref() == Some("declared")
                && p.tags.get("k").map(String::as_str) == Some("v")
        })
    })
    .await;
}
