//! Lifecycle safety end to end: edits that name another profile, regions that move under a
//! resource, a create whose attach failed, two namespaces naming one profile, and a leader
//! frozen past its Lease. Each ends with the emulator holding exactly what it should (no
//! orphan, no duplicate) and no resource stuck.

use super::faults::lease_holder;
use super::http::{self, EmulatorAdmin};
use super::world::*;
use crate::cluster::{OPERATOR_NS, Server, on_both_servers};
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

/// Patches the spec to name another profile and waits for the refusal.
async fn move_is_refused(world: &World, ns: &str, name: &str, spec: Value) -> Value {
    patch(world, ns, name, "merge", json!({ "spec": spec })).await;
    wait_condition(world, ns, name, "Synced", ("False", "InvalidSpec")).await
}

/// Sends a signal to a process.
async fn signal(pid: u32, sig: &str) {
    let status = tokio::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success(), "kill {sig} {pid}");
}

fn in_ns(ns: &str, name: &str, spec: Value) -> Value {
    let mut sp = security_profile(name, spec);
    sp["metadata"]["namespace"] = json!(ns);
    sp
}

async fn edits_that_name_another_profile_never_orphan_or_duplicate(server: Server) {
    let world = World::start(server, "identity").await;
    let _operator = world.operator("operator", &["--resync-period", "3s"]).await;
    let w = &world;

    // A name added after Ready is refused, undoing it returns to Ready, and delete deletes the
    // profile in use (not a lookup of the new name).
    apply(w, "named.yaml", &[security_profile("named", json!({}))]).await;
    w.wait_converged(&["named".into()], WAIT).await;
    let renamed = json!({"securityProfileName": "renamed"});
    let sp = move_is_refused(w, "default", "named", renamed.clone()).await;
    let message = condition(&sp, "Synced").unwrap()["message"].to_string();
    assert!(
        message.contains("named") && message.contains("renamed"),
        "{message}"
    );
    let undo = json!([{"op": "remove", "path": "/spec/securityProfileName"}]);
    patch(w, "default", "named", "json", undo).await;
    w.wait_converged(&["named".into()], WAIT).await;
    move_is_refused(w, "default", "named", renamed).await;
    delete(w, "default", "named").await;

    // A region added after Ready: the same.
    apply(
        w,
        "regioned.yaml",
        &[security_profile("regioned", json!({}))],
    )
    .await;
    w.wait_converged(&["regioned".into()], WAIT).await;
    move_is_refused(w, "default", "regioned", json!({"region": "eu-west-1"})).await;
    delete(w, "default", "regioned").await;

    // A create whose attach failed (the thing group does not exist yet): the profile is
    // recorded, so a rename is refused and the deletion deletes it.
    let missing = json!({"targetArns": ["arn:aws:iot:us-east-1:123456789012:thinggroup/not-yet"]});
    apply(w, "partial.yaml", &[security_profile("partial", missing)]).await;
    let sp = wait_condition(w, "default", "partial", "Synced", ("False", "AwsRejected")).await;
    let arn = sp["status"]["securityProfileArn"]
        .as_str()
        .unwrap_or_default();
    assert!(
        arn.ends_with("/partial"),
        "the ARN is recorded although a later step failed"
    );
    move_is_refused(
        w,
        "default",
        "partial",
        json!({"securityProfileName": "partial-2"}),
    )
    .await;
    assert_eq!(profiles(&w.emulator).await, [pair("partial", "us-east-1")]);
    delete(w, "default", "partial").await;

    // The namespace's default region changes under a running resource: it stays where it is.
    let annotation = "iot.awscc.io/default-region";
    w.kubectl_ok(&["create", "namespace", "moving"]).await;
    w.kubectl_ok(&[
        "annotate",
        "namespace",
        "moving",
        &format!("{annotation}=us-west-2"),
    ])
    .await;
    apply(w, "moving.yaml", &[in_ns("moving", "mover", json!({}))]).await;
    wait_condition(w, "moving", "mover", "Ready", ("True", "Available")).await;
    let moved = format!("{annotation}=eu-central-1");
    w.kubectl_ok(&["annotate", "namespace", "moving", "--overwrite", &moved])
        .await;
    let edit = json!({"spec": {"securityProfileDescription": "after the move"}});
    patch(w, "moving", "mover", "merge", edit).await;
    let sp = wait_condition(w, "moving", "mover", "Ready", ("True", "Available")).await;
    assert_eq!(sp["status"]["region"], "us-west-2");
    assert_eq!(profiles(&w.emulator).await, [pair("mover", "us-west-2")]);
    delete(w, "moving", "mover").await;

    // Two namespaces naming one profile: the first owns it, the second is refused without
    // learning who owns it, and deleting the second leaves the profile.
    for ns in ["team-1", "team-2"] {
        w.kubectl_ok(&["create", "namespace", ns]).await;
    }
    let shared = json!({"securityProfileName": "shared-name"});
    apply(w, "first.yaml", &[in_ns("team-1", "first", shared.clone())]).await;
    wait_condition(w, "team-1", "first", "Ready", ("True", "Available")).await;
    apply(w, "second.yaml", &[in_ns("team-2", "second", shared)]).await;
    let sp = wait_condition(w, "team-2", "second", "Synced", ("False", "OwnedByAnother")).await;
    let message = condition(&sp, "Synced").unwrap()["message"].to_string();
    assert!(
        !message.contains("team-1") && !message.contains("first"),
        "{message}"
    );
    delete(w, "team-2", "second").await;
    assert_eq!(
        profiles(&w.emulator).await,
        [pair("shared-name", "us-east-1")]
    );
    delete(w, "team-1", "first").await;

    assert_eq!(
        profiles(&w.emulator).await,
        Vec::<(String, String)>::new(),
        "no orphan"
    );
    let calls = w.emulator.calls().await;
    assert_eq!(
        http::ok(&calls, "CreateSecurityProfile"),
        http::ok(&calls, "DeleteSecurityProfile"),
        "every profile created was deleted, none twice: {calls:?}"
    );
}
on_both_servers!(edits_that_name_another_profile_never_orphan_or_duplicate);

fn pair(name: &str, region: &str) -> (String, String) {
    (name.to_string(), region.to_string())
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

async fn a_leader_frozen_past_its_lease_writes_nothing_when_it_resumes(server: Server) {
    let world = World::start(server, "frozen").await;
    // Creates are paced 5 s apart, so the leader's second create waits at its pacer: that is
    // where it is frozen, with a write planned and about to be sent.
    let elect = [
        "--leader-elect",
        "--lease-duration",
        "3s",
        "--renew-deadline",
        "2s",
        "--leader-election-namespace",
        OPERATOR_NS,
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
    let pid = a.proc.pid().expect("replica-a runs");
    signal(pid, "-STOP").await;
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
    signal(pid, "-CONT").await;
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
on_both_servers!(a_leader_frozen_past_its_lease_writes_nothing_when_it_resumes);

async fn a_rolling_upgrade_hands_the_lease_over_without_two_writers(server: Server) {
    let world = World::start(server, "rolling").await;
    // The chart's default: leader election on. Creates are slow, so the old replica is busy
    // when the upgrade replaces it.
    let elect = [
        "--leader-elect",
        "--lease-duration",
        "4s",
        "--leader-election-namespace",
        OPERATOR_NS,
    ];
    world
        .emulator
        .add_fault(json!({"operation": "CreateSecurityProfile", "delayMs": 700}))
        .await;
    let mut old = world.operator("old", &elect).await;
    eventually("the old replica leads", WAIT, || async {
        (lease_holder(&world).await.as_deref() == Some("old")).then_some(())
    })
    .await;
    let names: Vec<String> = (0..6).map(|i| format!("roll-{i}")).collect();
    let objects: Vec<Value> = names
        .iter()
        .map(|n| security_profile(n, json!({})))
        .collect();
    apply(&world, "roll.yaml", &objects).await;
    // The new replica starts (a follower), then the old one is told to stop, mid-work.
    let new = world.operator("new", &elect).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        new.aws_calls().await,
        0.0,
        "the new replica waits while the old one leads"
    );
    let pid = old.proc.pid().expect("old runs").to_string();
    let term = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await;
    assert!(term.is_ok_and(|s| s.success()));
    old.proc.wait_exit(WAIT).await;
    world.wait_converged(&names, WAIT).await;
    eventually("the new replica leads", WAIT, || async {
        (lease_holder(&world).await.as_deref() == Some("new")).then_some(())
    })
    .await;
    let calls = world.emulator.calls().await;
    assert_eq!(
        http::all(&calls, "CreateSecurityProfile"),
        names.len() as u64,
        "one create per resource, none repeated by a second writer: {calls:?}"
    );
    assert_eq!(http::all(&calls, "UpdateSecurityProfile"), 0, "{calls:?}");
    assert_eq!(profiles(&world.emulator).await.len(), names.len());
}
on_both_servers!(a_rolling_upgrade_hands_the_lease_over_without_two_writers);
