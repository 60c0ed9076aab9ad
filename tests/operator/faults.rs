//! AWS errors: rejected specs, access denied, throttling and 5xx storms, crashes mid-create,
//! leader election.

use crate::cluster::{OPERATOR_NS, Server, on_both_servers};
use crate::harness::*;
use iot_emulator::{Fault, FaultError};
use serde_json::json;
use std::time::Duration;

async fn spec_aws_rejects_is_reported_without_a_retry_storm(server: Server) {
    let env = Env::start(server).await;
    // Valid for the CRD, but the thing group does not exist in AWS.
    let missing = format!("arn:aws:iot:{REGION}:{ACCOUNT}:thinggroup/nope");
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "bad"}, "spec": {"targetArns": [missing]}
    }))
    .await;
    // A terminal AWS rejection has its own reason (Argo CD shows it as Degraded).
    let sp = env.wait_synced_false("bad", "AwsRejected").await;
    let msg = condition(&sp, "Synced").unwrap().2;
    assert!(msg.contains("ResourceNotFoundException"), "{msg}");
    let (kind, _, _) = env.wait_event("bad", "AwsRejected").await;
    assert_eq!(kind, "Warning");
    settle(Duration::from_secs(3)).await;
    let attaches = env.all_calls("AttachSecurityProfile");
    assert!(
        attaches <= 3,
        "a terminal error waits for a spec change or the slow requeue, got {attaches} attach calls"
    );
}
on_both_servers!(spec_aws_rejects_is_reported_without_a_retry_storm);

async fn access_denied_lands_in_the_condition(server: Server) {
    let env = Env::start(server).await;
    let mut allowed = securityprofile_operator::iam::actions();
    allowed.retain(|a| a != "iot:CreateSecurityProfile");
    env.emulator.admin().set_iam_allow(allowed);
    env.create("denied", Default::default()).await;
    let sp = env.wait_synced_false("denied", "AccessDenied").await;
    assert!(
        condition(&sp, "Synced")
            .unwrap()
            .2
            .contains("AccessDeniedException")
    );
    let (kind, _, _) = env.wait_event("denied", "AccessDenied").await;
    assert_eq!(kind, "Warning");
    assert!(env.profile("denied").is_none());
}
on_both_servers!(access_denied_lands_in_the_condition);

async fn throttling_and_server_errors_converge_without_a_hot_loop(server: Server) {
    // The SDK's default 3 attempts absorb most faults; the controller's backoff the rest.
    let env = Env::start(server).await;
    let admin = env.emulator.admin();
    admin
        .inject_fault(Fault {
            operation: "*".into(),
            error: Some(FaultError::ThrottlingException),
            delay_ms: None,
            count: None,
            probability: Some(0.3),
        })
        .unwrap();
    admin
        .inject_fault(Fault {
            operation: "*".into(),
            error: Some(FaultError::InternalFailureException),
            delay_ms: None,
            count: None,
            probability: Some(0.05),
        })
        .unwrap();
    let g = env.thing_group("storm");
    for i in 0..20 {
        env.create_json(json!({
            "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
            "metadata": {"name": format!("storm-{i}")},
            "spec": {"targetArns": [g], "tags": [{"key": "i", "value": i.to_string()}]}
        }))
        .await;
    }
    for i in 0..20 {
        // Backoff grows with consecutive failures: give it room (this is no timing assertion).
        env.wait_ready_within(&format!("storm-{i}"), Duration::from_secs(120))
            .await;
    }
    let state = admin.state();
    assert_eq!(state.profiles.len(), 20, "no duplicate, none missing");
    assert!(state.profiles.iter().all(|p| p.targets == vec![g.clone()]));
    let creates = env.ok_calls("CreateSecurityProfile");
    assert_eq!(creates, 20, "exactly one successful create per resource");
    let total: u64 = admin.calls().values().flat_map(|m| m.values()).sum();
    assert!(
        total < 20 * 30,
        "bounded retries: {total} calls for 20 resources"
    );
}
on_both_servers!(throttling_and_server_errors_converge_without_a_hot_loop);

async fn crash_in_the_middle_of_create_leaves_no_duplicate_and_no_orphan(server: Server) {
    let mut env = Env::start(server).await;
    // Every create takes a while: the operator is killed while it waits for the answer.
    env.emulator
        .admin()
        .inject_fault(Fault {
            operation: "CreateSecurityProfile".into(),
            error: None,
            delay_ms: Some(1500),
            count: None,
            probability: None,
        })
        .unwrap();
    let g = env.thing_group("crash");
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "crashy"}, "spec": {"targetArns": [g]}
    }))
    .await;
    eventually(
        "the create is in flight",
        Duration::from_secs(20),
        || async {
            (env.all_calls("CreateSecurityProfile") > 0
                || env
                    .emulator
                    .admin()
                    .calls()
                    .contains_key("CreateSecurityProfile"))
            .then_some(())
        },
    )
    .await;
    env.operator.take().unwrap().kill();
    env.emulator.admin().clear_faults();
    // A new operator process takes over.
    env.operator = Some(env.start_operator(args(&env.emulator.url(), &[])));
    env.wait_ready("crashy").await;
    let state = env.emulator.admin().state();
    assert_eq!(state.profiles.len(), 1, "no duplicate");
    assert_eq!(state.profiles[0].targets, vec![g]);
    env.delete("crashy").await;
    env.wait_gone("crashy").await;
    assert!(
        env.emulator.admin().state().profiles.is_empty(),
        "no orphan"
    );
}
on_both_servers!(crash_in_the_middle_of_create_leaves_no_duplicate_and_no_orphan);

async fn two_replicas_with_leader_election_one_acts_and_the_other_takes_over(server: Server) {
    let mut env = Env::without_operator(server).await;
    let url = env.emulator.url();
    let a = env.start_operator(args(
        &url,
        &[
            "--leader-elect",
            "--lease-duration",
            "3s",
            "--leader-election-namespace",
            OPERATOR_NS,
        ],
    ));
    // Let the first replica take the lease before the second starts.
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(env.client.clone(), OPERATOR_NS);
    let holder_of = |leases: kube::Api<k8s_openapi::api::coordination::v1::Lease>| async move {
        leases
            .get_opt(securityprofile_operator::operator::LEASE_NAME)
            .await
            .ok()
            .flatten()
            .and_then(|l| l.spec?.holder_identity)
    };
    let holder = eventually("a lease holder", Duration::from_secs(20), || {
        holder_of(leases.clone())
    })
    .await;
    let b = env.start_operator(args(
        &url,
        &[
            "--leader-elect",
            "--lease-duration",
            "3s",
            "--leader-election-namespace",
            OPERATOR_NS,
        ],
    ));
    env.create("led", Default::default()).await;
    env.wait_ready("led").await;
    assert_eq!(
        env.ok_calls("CreateSecurityProfile"),
        1,
        "exactly one replica acted"
    );
    // Kill the leader: the follower takes over within the lease duration and keeps reconciling.
    a.kill();
    let new_holder = eventually("a new lease holder", Duration::from_secs(20), || async {
        holder_of(leases.clone()).await.filter(|h| *h != holder)
    })
    .await;
    assert_ne!(new_holder, holder);
    env.create("after", Default::default()).await;
    env.wait_ready("after").await;
    env.operator = Some(b);
}
on_both_servers!(two_replicas_with_leader_election_one_acts_and_the_other_takes_over);

async fn a_spec_change_that_cannot_be_applied_is_not_ready_and_is_no_drift(server: Server) {
    let env = Env::start_with(server, &["--aws-max-attempts", "1"]).await;
    env.create("slow", Default::default()).await;
    env.wait_ready("slow").await;
    env.emulator
        .admin()
        .inject_fault(Fault {
            operation: "UpdateSecurityProfile".into(),
            error: Some(FaultError::ThrottlingException),
            delay_ms: None,
            count: None,
            probability: None,
        })
        .unwrap();
    env.patch_spec("slow", json!({"securityProfileDescription": "new"}))
        .await;
    let sp = env.wait_synced_false("slow", "Throttled").await;
    assert!(
        condition(&sp, "Synced")
            .unwrap()
            .2
            .contains("ThrottlingException")
    );
    let ready = condition(&sp, "Ready").unwrap();
    assert_eq!(
        ready.0, "False",
        "AWS does not match the new spec yet: {ready:?}"
    );
    env.emulator.admin().clear_faults();
    env.wait_ready("slow").await;
    assert_eq!(
        env.profile("slow").unwrap().description.as_deref(),
        Some("new")
    );
    // Events are written by a publisher beside the reconcile: wait for it.
    env.wait_event("slow", "Updated").await;
    let events = env.events("slow").await;
    assert!(
        !events.iter().any(|e| e.1 == "DriftCorrected"),
        "a user's change is no drift: {events:?}"
    );
}
on_both_servers!(a_spec_change_that_cannot_be_applied_is_not_ready_and_is_no_drift);

async fn paced_at_the_quota_the_operator_is_never_throttled(server: Server) {
    // Without --aws-tps this test fails: the burst of Describes exceeds the 10/s quota.
    let env = Env::start_with(server, &["--aws-tps", "*=10"]).await;
    env.emulator.admin().set_quota("*", 10.0).unwrap();
    let groups = [env.thing_group("p1"), env.thing_group("p2")];
    for i in 0..12 {
        env.create_json(json!({
            "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
            "metadata": {"name": format!("paced-{i}")},
            "spec": {"targetArns": groups, "tags": [{"key": "k", "value": "v"}]}
        }))
        .await;
    }
    for i in 0..12 {
        env.wait_ready(&format!("paced-{i}")).await;
    }
    let throttled: u64 = env
        .emulator
        .admin()
        .calls()
        .values()
        .map(|outcomes| outcomes.get("ThrottlingException").copied().unwrap_or(0))
        .sum();
    assert_eq!(
        throttled, 0,
        "24 Describes and 24 Attaches at 10/s each, spaced by the operator"
    );
    assert_eq!(env.ok_calls("AttachSecurityProfile"), 24);
}
on_both_servers!(paced_at_the_quota_the_operator_is_never_throttled);
