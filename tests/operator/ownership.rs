//! Ownership and adoption: nobody takes over what is not theirs.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use serde_json::json;

async fn existing_unowned_profile_is_refused_then_adopted_when_allowed(server: Server) {
    let env = Env::start(server).await;
    env.emulator
        .admin()
        .put_profile(json!({"securityProfileName": "legacy", "securityProfileDescription": "made by hand", "tags": {"owner": "ops"}}))
        .unwrap();
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "legacy"},
        "spec": {"securityProfileDescription": "managed now"}
    }))
    .await;
    let sp = env.wait_synced_false("legacy", "AlreadyExists").await;
    assert!(
        condition(&sp, "Synced")
            .unwrap()
            .2
            .contains("adoptionPolicy"),
        "message tells how to adopt"
    );
    env.wait_event("legacy", "AlreadyExists").await;
    let p = env.profile("legacy").unwrap();
    assert_eq!(p.version, 1, "nothing written");
    assert_eq!(p.description.as_deref(), Some("made by hand"));
    assert_eq!(env.writes(), 0);

    env.annotate_namespace(NS, json!({"iot.awscc.io/allow-adoption": "true"}))
        .await;
    env.patch_spec("legacy", json!({"adoptionPolicy": "Adopt"}))
        .await;
    env.wait_ready("legacy").await;
    env.wait_event("legacy", "Adopted").await;
    let p = env.profile("legacy").unwrap();
    assert_eq!(p.description.as_deref(), Some("managed now"));
    assert_eq!(
        p.tags.get("iot.awscc.io/name").map(String::as_str),
        Some("legacy")
    );
    assert!(
        !p.tags.contains_key("owner"),
        "spec owns the tags once adopted"
    );
}
on_both_servers!(existing_unowned_profile_is_refused_then_adopted_when_allowed);

async fn profile_owned_by_another_resource_is_never_written_or_deleted(server: Server) {
    let env = Env::start(server).await;
    env.emulator
        .admin()
        .put_profile(json!({
            "securityProfileName": "shared",
            "securityProfileDescription": "theirs",
            "tags": {"iot.awscc.io/cluster": "other-cluster", "iot.awscc.io/namespace": "x", "iot.awscc.io/name": "shared"}
        }))
        .unwrap();
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "shared"},
        "spec": {"securityProfileDescription": "mine", "adoptionPolicy": "Adopt"}
    }))
    .await;
    let sp = env.wait_synced_false("shared", "OwnedByAnother").await;
    // Tenants are not told about each other: the message says another resource owns the
    // profile without naming its cluster, namespace or name (the operator's log does).
    let message = condition(&sp, "Synced").unwrap().2;
    assert!(message.contains("managed by another resource"), "{message}");
    assert!(!message.contains("other-cluster"), "{message}");
    assert_eq!(condition(&sp, "Ready").unwrap().0, "False");
    env.delete("shared").await;
    env.wait_gone("shared").await;
    let p = env
        .profile("shared")
        .expect("the other resource's profile survives");
    assert_eq!(p.version, 1);
    assert_eq!(p.description.as_deref(), Some("theirs"));
    assert_eq!(
        env.writes(),
        0,
        "not one write to a profile that is not ours"
    );
}
on_both_servers!(profile_owned_by_another_resource_is_never_written_or_deleted);

async fn same_name_in_two_namespaces_second_is_owned_by_another(server: Server) {
    let env = Env::start(server).await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "first"},
        "spec": {"securityProfileName": "Contested"}
    }))
    .await;
    env.wait_ready("first").await;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "second"},
        "spec": {"securityProfileName": "Contested", "securityProfileDescription": "hijack", "adoptionPolicy": "Adopt"}
    }))
    .await;
    env.wait_synced_false("second", "OwnedByAnother").await;
    assert!(env.profile("Contested").unwrap().description.is_none());
    env.delete("second").await;
    env.wait_gone("second").await;
    assert!(
        env.profile("Contested").is_some(),
        "deleting the loser never deletes the winner's profile"
    );
}
on_both_servers!(same_name_in_two_namespaces_second_is_owned_by_another);
