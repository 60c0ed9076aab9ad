//! Lifecycle safety end to end: edits that name another profile, regions that move under a
//! resource, a create whose attach failed, two namespaces naming one profile, and a leader
//! frozen past its Lease. Each ends with the emulator holding exactly what it should (no
//! orphan, no duplicate) and no resource stuck.

use super::http::{self, EmulatorAdmin};
use super::world::*;
use crate::harness::eventually;
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// One resource as kubectl returns it (`None` once it is gone).
async fn get(world: &World, ns: &str, name: &str) -> Option<Value> {
    let out = world
        .kubectl(&["get", "securityprofile", name, "-n", ns, "-o", "json"])
        .await
        .ok()?;
    serde_json::from_str(&out).ok()
}

/// Waits until a condition of the resource has this status and reason at its generation.
async fn wait_condition(
    world: &World,
    ns: &str,
    name: &str,
    type_: &str,
    want: (&str, &str),
) -> Value {
    eventually(&format!("{ns}/{name} {type_}={want:?}"), WAIT, || async {
        let sp = get(world, ns, name).await?;
        let c = condition(&sp, type_)?;
        let current = c["observedGeneration"] == sp["metadata"]["generation"];
        (current && c["status"] == want.0 && c["reason"] == want.1).then_some(sp)
    })
    .await
}

async fn apply(world: &World, file: &str, objects: &[Value]) {
    let path = world.write(file, &yaml(objects));
    world
        .kubectl_ok(&["apply", "-f", path.to_str().expect("UTF-8 path")])
        .await;
}

async fn patch(world: &World, ns: &str, name: &str, kind: &str, patch: Value) {
    world
        .kubectl_ok(&[
            "patch",
            "securityprofile",
            name,
            "-n",
            ns,
            "--type",
            kind,
            "-p",
            &patch.to_string(),
        ])
        .await;
}

async fn delete(world: &World, ns: &str, name: &str) {
    world
        .kubectl_ok(&["delete", "securityprofile", name, "-n", ns, "--timeout=60s"])
        .await;
    assert!(get(world, ns, name).await.is_none(), "{ns}/{name} is gone");
}

/// (name, region) of every profile in the emulator.
async fn profiles(emulator: &EmulatorAdmin) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = emulator
        .profiles()
        .await
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
            (s("securityProfileName"), s("region"))
        })
        .collect();
    all.sort();
    all
}

fn in_ns(ns: &str, name: &str, spec: Value) -> Value {
    let mut sp = security_profile(name, spec);
    sp["metadata"]["namespace"] = json!(ns);
    sp
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_that_name_another_profile_never_orphan_or_duplicate() {
    let world = World::start("identity").await;
    let _operator = world.operator("operator", &["--resync-period", "3s"]).await;

    // A name added after Ready is refused, undoing it returns to Ready, and delete deletes the
    // profile in use (not a lookup of the new name).
    apply(
        &world,
        "named.yaml",
        &[security_profile("named", json!({}))],
    )
    .await;
    world.wait_converged(&["named".into()], WAIT).await;
    patch(
        &world,
        "default",
        "named",
        "merge",
        json!({"spec": {"securityProfileName": "renamed"}}),
    )
    .await;
    let sp = wait_condition(
        &world,
        "default",
        "named",
        "Synced",
        ("False", "InvalidSpec"),
    )
    .await;
    let message = condition(&sp, "Synced").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("\"named\"") && message.contains("renamed"),
        "{message}"
    );
    patch(
        &world,
        "default",
        "named",
        "json",
        json!([{"op": "remove", "path": "/spec/securityProfileName"}]),
    )
    .await;
    world.wait_converged(&["named".into()], WAIT).await;
    patch(
        &world,
        "default",
        "named",
        "merge",
        json!({"spec": {"securityProfileName": "renamed"}}),
    )
    .await;
    wait_condition(
        &world,
        "default",
        "named",
        "Synced",
        ("False", "InvalidSpec"),
    )
    .await;
    delete(&world, "default", "named").await;

    // A region added after Ready: the same.
    apply(
        &world,
        "regioned.yaml",
        &[security_profile("regioned", json!({}))],
    )
    .await;
    world.wait_converged(&["regioned".into()], WAIT).await;
    patch(
        &world,
        "default",
        "regioned",
        "merge",
        json!({"spec": {"region": "eu-west-1"}}),
    )
    .await;
    wait_condition(
        &world,
        "default",
        "regioned",
        "Synced",
        ("False", "InvalidSpec"),
    )
    .await;
    delete(&world, "default", "regioned").await;

    // A create whose attach failed (the thing group does not exist yet): the profile is
    // recorded, so a rename is refused and the deletion deletes it.
    let missing = "arn:aws:iot:us-east-1:123456789012:thinggroup/not-yet";
    apply(
        &world,
        "partial.yaml",
        &[security_profile(
            "partial",
            json!({"targetArns": [missing]}),
        )],
    )
    .await;
    let sp = wait_condition(
        &world,
        "default",
        "partial",
        "Synced",
        ("False", "AwsRejected"),
    )
    .await;
    assert!(
        sp["status"]["securityProfileArn"]
            .as_str()
            .is_some_and(|a| a.ends_with("/partial")),
        "the ARN is recorded although a later step failed: {}",
        sp["status"]
    );
    patch(
        &world,
        "default",
        "partial",
        "merge",
        json!({"spec": {"securityProfileName": "partial-2"}}),
    )
    .await;
    wait_condition(
        &world,
        "default",
        "partial",
        "Synced",
        ("False", "InvalidSpec"),
    )
    .await;
    assert_eq!(
        profiles(&world.emulator).await,
        [("partial".to_string(), "us-east-1".to_string())]
    );
    delete(&world, "default", "partial").await;

    // The namespace's default region changes under a running resource: it stays where it is.
    world.kubectl_ok(&["create", "namespace", "moving"]).await;
    world
        .kubectl_ok(&[
            "annotate",
            "namespace",
            "moving",
            "iot.awscc.io/default-region=us-west-2",
        ])
        .await;
    apply(
        &world,
        "moving.yaml",
        &[in_ns("moving", "mover", json!({}))],
    )
    .await;
    wait_condition(&world, "moving", "mover", "Ready", ("True", "Available")).await;
    world
        .kubectl_ok(&[
            "annotate",
            "namespace",
            "moving",
            "--overwrite",
            "iot.awscc.io/default-region=eu-central-1",
        ])
        .await;
    patch(
        &world,
        "moving",
        "mover",
        "merge",
        json!({"spec": {"securityProfileDescription": "after the move"}}),
    )
    .await;
    let sp = wait_condition(&world, "moving", "mover", "Ready", ("True", "Available")).await;
    assert_eq!(sp["status"]["region"], "us-west-2");
    assert_eq!(
        profiles(&world.emulator).await,
        [("mover".to_string(), "us-west-2".to_string())]
    );
    delete(&world, "moving", "mover").await;

    // Two namespaces naming one profile: the first owns it, the second is refused without
    // learning who owns it, and deleting the second leaves the profile.
    for ns in ["team-1", "team-2"] {
        world.kubectl_ok(&["create", "namespace", ns]).await;
    }
    let shared = json!({"securityProfileName": "shared-name"});
    apply(
        &world,
        "first.yaml",
        &[in_ns("team-1", "first", shared.clone())],
    )
    .await;
    wait_condition(&world, "team-1", "first", "Ready", ("True", "Available")).await;
    apply(&world, "second.yaml", &[in_ns("team-2", "second", shared)]).await;
    let sp = wait_condition(
        &world,
        "team-2",
        "second",
        "Synced",
        ("False", "OwnedByAnother"),
    )
    .await;
    let message = condition(&sp, "Synced").unwrap()["message"].to_string();
    assert!(
        !message.contains("team-1") && !message.contains("first"),
        "{message}"
    );
    delete(&world, "team-2", "second").await;
    assert_eq!(
        profiles(&world.emulator).await,
        [("shared-name".to_string(), "us-east-1".to_string())]
    );
    delete(&world, "team-1", "first").await;

    assert_eq!(
        profiles(&world.emulator).await,
        Vec::<(String, String)>::new(),
        "no orphan"
    );
    let calls = world.emulator.calls().await;
    assert_eq!(
        http::ok(&calls, "CreateSecurityProfile"),
        http::ok(&calls, "DeleteSecurityProfile"),
        "every profile created was deleted, none twice: {calls:?}"
    );
}

/// The operations that change AWS, and how often each succeeded.
async fn writes(emulator: &EmulatorAdmin) -> Vec<(String, u64)> {
    let calls = emulator.calls().await;
    [
        "CreateSecurityProfile",
        "UpdateSecurityProfile",
        "DeleteSecurityProfile",
        "AttachSecurityProfile",
        "DetachSecurityProfile",
        "TagResource",
        "UntagResource",
    ]
    .iter()
    .map(|op| (op.to_string(), http::all(&calls, op)))
    .collect()
}

async fn lease_holder(world: &World) -> Option<String> {
    let lease = securityprofile_operator::operator::LEASE_NAME;
    let out = world
        .kubectl(&[
            "get",
            "lease",
            lease,
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .await
        .ok()?;
    (!out.is_empty()).then_some(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_frozen_past_its_lease_writes_nothing_when_it_resumes() {
    let world = World::start("frozen").await;
    // Creates are paced 5 s apart, so the leader's second create waits at its pacer: that is
    // where it is frozen, with a write planned and about to be sent.
    let elect = [
        "--leader-elect",
        "--lease-duration",
        "3s",
        "--renew-deadline",
        "2s",
        "--leader-election-namespace",
        "default",
        "--aws-tps",
        "CreateSecurityProfile=0.2",
    ];
    let a = world.operator("replica-a", &elect).await;
    eventually("replica-a leads", WAIT, || async {
        (lease_holder(&world).await.as_deref() == Some("replica-a")).then_some(())
    })
    .await;
    let _b = world.operator("replica-b", &elect).await;
    apply(
        &world,
        "first.yaml",
        &[security_profile("first", json!({}))],
    )
    .await;
    world.wait_converged(&["first".into()], WAIT).await;
    apply(
        &world,
        "victim.yaml",
        &[security_profile("victim", json!({}))],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        world.emulator.profile("victim").await.is_none(),
        "the leader's create is still paced"
    );

    // Freeze the leader; the follower takes over, creates the profile, and the resource is
    // deleted meanwhile.
    let pid = a.proc.pid().expect("replica-a runs").to_string();
    let signal = |sig: &'static str| {
        let pid = pid.clone();
        async move {
            let status = tokio::process::Command::new("kill")
                .args([sig, &pid])
                .status()
                .await
                .expect("kill runs");
            assert!(status.success(), "kill {sig} {pid}");
        }
    };
    signal("-STOP").await;
    eventually("replica-b takes over", WAIT, || async {
        (lease_holder(&world).await.as_deref() == Some("replica-b")).then_some(())
    })
    .await;
    world.wait_converged(&["victim".into()], WAIT).await;
    delete(&world, "default", "victim").await;
    assert!(world.emulator.profile("victim").await.is_none());
    let before = writes(&world.emulator).await;

    // Resumed, the old leader's paced create is due at once: without the fence it would create
    // the deleted profile again, an orphan no resource owns.
    signal("-CONT").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        writes(&world.emulator).await,
        before,
        "no AWS write after the frozen leader resumed"
    );
    assert!(
        world.emulator.profile("victim").await.is_none(),
        "nothing resurrected"
    );
    assert_eq!(lease_holder(&world).await.as_deref(), Some("replica-b"));
}
