//! Faults end to end: kill -9 of the `run` process in the middle of creates, two `run`
//! processes with leader election, and a throttling + 5xx storm over 200 resources.

use super::http::{self, EmulatorAdmin};
use super::world::*;
use crate::cluster::{OPERATOR_NS, Server, on_both_servers};
use crate::harness::eventually;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// Profile names in the emulator.
async fn aws_names(emulator: &EmulatorAdmin) -> Vec<String> {
    let mut names: Vec<String> = emulator
        .profiles()
        .await
        .iter()
        .filter_map(|p| p["securityProfileName"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn manifest(names: &[String], description: &str) -> String {
    let objects: Vec<Value> = names
        .iter()
        .map(|n| security_profile(n, json!({ "securityProfileDescription": description })))
        .collect();
    yaml(&objects)
}

async fn kill_9_during_creates_then_restart_no_duplicate_no_orphan_no_lost_update(server: Server) {
    let world = World::start(server, "kill9").await;
    let names: Vec<String> = (0..10).map(|i| format!("crash-{i:02}")).collect();
    // Every create is held for a while: the operator dies with creates on the wire.
    world
        .emulator
        .add_fault(json!({"operation": "CreateSecurityProfile", "delayMs": 3000}))
        .await;
    let first = world.operator("operator-1", &[]).await;
    let file = world.write("crash.yaml", &manifest(&names, "v1"));
    let file = file.to_str().expect("UTF-8 path");
    world.kubectl_ok(&["apply", "-f", file]).await;

    // The operator took them (a finalizer is on), and a second later its creates are on the wire.
    eventually(
        "the operator adds a finalizer",
        Duration::from_secs(60),
        || async {
            let items = world.security_profiles().await;
            let taken = items
                .iter()
                .filter(|sp| {
                    sp["metadata"]["finalizers"]
                        .as_array()
                        .is_some_and(|f| !f.is_empty())
                })
                .count();
            (taken > 0).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let at_kill = http::all(&world.emulator.calls().await, "CreateSecurityProfile");
    first.proc.kill9().await;

    // The delayed creates land after their client died: they were in flight at the kill.
    eventually(
        "creates that were in flight at the kill land",
        Duration::from_secs(30),
        || async {
            (http::all(&world.emulator.calls().await, "CreateSecurityProfile") > at_kill)
                .then_some(())
        },
    )
    .await;

    world.emulator.clear_faults().await;
    // Let every held create finish on the server: they are the dead operator's leftovers.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let leftovers = aws_names(&world.emulator).await;
    let landed = http::all(&world.emulator.calls().await, "CreateSecurityProfile") - at_kill;
    eprintln!(
        "kill -9: {landed} create(s) in flight at the kill, {} profile(s) left in AWS",
        leftovers.len()
    );
    assert!(
        !leftovers.is_empty(),
        "the dead operator's creates reached AWS"
    );

    // While no operator runs, the user deletes a resource whose profile the dead operator
    // created (its status never got the ARN) and changes the spec of every other one.
    let victim = leftovers[0].clone();
    world
        .kubectl_ok(&[
            "delete",
            "securityprofile",
            &victim,
            "-n",
            "default",
            "--wait=false",
        ])
        .await;
    let kept: Vec<String> = names.iter().filter(|n| **n != victim).cloned().collect();
    let file = world.write("crash.yaml", &manifest(&kept, "v2"));
    let file = file.to_str().expect("UTF-8 path");
    world.kubectl_ok(&["apply", "-f", file]).await;

    let _second = world.operator("operator-2", &[]).await;
    world.wait_converged(&kept, Duration::from_secs(90)).await;
    eventually(
        "the resource deleted while the operator was down is gone",
        Duration::from_secs(60),
        || async {
            world
                .kubectl(&["get", "securityprofile", &victim, "-n", "default"])
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;

    assert_eq!(
        aws_names(&world.emulator).await,
        kept,
        "exactly one profile per resource: no duplicate, and none left for the deleted one"
    );
    for p in world.emulator.profiles().await {
        assert_eq!(
            p["securityProfileDescription"], "v2",
            "the edit made while the operator was down reached AWS: {p}"
        );
        assert_eq!(p["tags"]["iot.awscc.io/cluster"], "e2e", "owned: {p}");
    }
    let calls = world.emulator.calls().await;
    assert_eq!(
        http::ok(&calls, "CreateSecurityProfile"),
        names.len() as u64,
        "one successful create per resource: {calls:?}"
    );

    world
        .kubectl_ok(&["delete", "-f", file, "--timeout=90s"])
        .await;
    assert_eq!(
        aws_names(&world.emulator).await,
        Vec::<String>::new(),
        "no orphan after delete"
    );
}
on_both_servers!(kill_9_during_creates_then_restart_no_duplicate_no_orphan_no_lost_update);

const LEASE: &str = securityprofile_operator::operator::LEASE_NAME;

/// The holder of the leader-election Lease (in the operator's namespace).
pub(super) async fn lease_holder(world: &World) -> Option<String> {
    let out = world
        .kubectl(&[
            "get",
            "lease",
            LEASE,
            "-n",
            OPERATOR_NS,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .await
        .ok()?;
    (!out.is_empty()).then_some(out)
}

async fn two_run_processes_one_leads_the_other_takes_over_after_kill_9(server: Server) {
    let world = World::start(server, "leader").await;
    let elect = [
        "--leader-elect",
        "--lease-duration",
        "3s",
        "--leader-election-namespace",
        OPERATOR_NS,
    ];
    let a = world.operator("replica-a", &elect).await;
    let holder = eventually("replica-a holds the lease", Duration::from_secs(60), || {
        lease_holder(&world)
    })
    .await;
    assert_eq!(holder, "replica-a");
    let b = world.operator("replica-b", &elect).await;

    let names: Vec<String> = (0..3).map(|i| format!("led-{i}")).collect();
    let file = world.write("led.yaml", &manifest(&names, "led"));
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    world.wait_converged(&names, Duration::from_secs(60)).await;
    // Some time with both running: the follower must stay idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let calls = world.emulator.calls().await;
    assert_eq!(
        http::all(&calls, "CreateSecurityProfile"),
        3,
        "exactly one create per resource: {calls:?}"
    );
    assert!(a.aws_calls().await > 0.0, "the leader acted");
    assert_eq!(b.aws_calls().await, 0.0, "the follower made no AWS call");
    assert_eq!(lease_holder(&world).await.as_deref(), Some("replica-a"));

    // kill -9 the leader: the lease is not released, the follower takes it once it expires.
    a.proc.kill9().await;
    eventually(
        "replica-b takes over within the lease duration (3s) plus a margin",
        Duration::from_secs(3 + 12),
        || async { (lease_holder(&world).await.as_deref() == Some("replica-b")).then_some(()) },
    )
    .await;
    let file = world.write(
        "after.yaml",
        &manifest(&["after-takeover".to_string()], "new leader"),
    );
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    world
        .wait_converged(&["after-takeover".into()], Duration::from_secs(60))
        .await;
    assert!(
        world.emulator.profile("after-takeover").await.is_some(),
        "the new leader created the profile"
    );
    assert!(b.aws_calls().await > 0.0, "the new leader acted");
    assert_eq!(
        http::ok(&world.emulator.calls().await, "CreateSecurityProfile"),
        4
    );
}
on_both_servers!(two_run_processes_one_leads_the_other_takes_over_after_kill_9);

async fn storm_of_throttling_and_5xx_over_200_resources_converges_without_a_hot_loop(
    server: Server,
) {
    const N: usize = 200;
    let world = World::start(server, "storm").await;
    world
        .emulator
        .add_fault(json!({"operation": "*", "error": "ThrottlingException", "probability": 0.3}))
        .await;
    world
        .emulator
        .add_fault(
            json!({"operation": "*", "error": "InternalFailureException", "probability": 0.05}),
        )
        .await;
    let group = world.emulator.thing_group("storm").await;
    let _operator = world
        .operator(
            "operator",
            &["--resync-period", "10m", "--concurrency", "16"],
        )
        .await;
    let names: Vec<String> = (0..N).map(|i| format!("storm-{i:03}")).collect();
    let objects: Vec<Value> = names
        .iter()
        .map(|n| {
            security_profile(
                n,
                json!({"targetArns": [group], "tags": [{"key": "storm", "value": n}]}),
            )
        })
        .collect();
    let file = world.write("storm.yaml", &yaml(&objects));
    world
        .kubectl_ok(&[
            "apply",
            "--server-side",
            "-f",
            file.to_str().expect("UTF-8 path"),
        ])
        .await;
    let start = std::time::Instant::now();
    world.wait_converged(&names, Duration::from_secs(150)).await;
    let converged_after = start.elapsed();

    let profiles = world.emulator.profiles().await;
    let got: BTreeSet<&str> = profiles
        .iter()
        .filter_map(|p| p["securityProfileName"].as_str())
        .collect();
    assert_eq!(
        got,
        names.iter().map(String::as_str).collect(),
        "one profile per resource"
    );
    assert!(
        profiles.iter().all(|p| p["targets"] == json!([group])),
        "every profile is attached"
    );
    let calls = world.emulator.calls().await;
    let total = http::total(&calls);
    let faulted: u64 = calls
        .values()
        .flat_map(|m| m.iter())
        .filter(|(outcome, _)| {
            *outcome == "ThrottlingException" || *outcome == "InternalFailureException"
        })
        .map(|(_, n)| n)
        .sum();
    eprintln!(
        "storm: {N} resources converged after {converged_after:.1?} with {total} AWS calls \
         ({faulted} failed by injected faults)"
    );
    assert!(faulted > 0, "the storm hit: {calls:?}");
    assert_eq!(
        http::ok(&calls, "CreateSecurityProfile"),
        N as u64,
        "{calls:?}"
    );
    assert!(
        total < (N as u64) * 25,
        "bounded retries: {total} AWS calls for {N} resources: {calls:?}"
    );

    // Converged means quiet: with a 10m resync nothing is due, so the counters stay flat.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = http::total(&world.emulator.calls().await);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = world.emulator.calls().await;
    assert_eq!(
        http::total(&after) - before,
        0,
        "no AWS call after convergence (a hot retry loop would show here): {after:?}"
    );
}
on_both_servers!(storm_of_throttling_and_5xx_over_200_resources_converges_without_a_hot_loop);
