//! Faults only a real control plane gives, with the `run` binary against kube-apiserver as the
//! chart's ServiceAccount: kube-apiserver killed and restarted mid-convergence, etcd compacted
//! while the operator's watch is cut (its resourceVersion is then `410 Gone`), the
//! ServiceAccount losing a permission and getting it back, and `429 Too Many Requests` from API
//! priority and fairness. Each counts the emulator's writes: nothing is duplicated or lost.
//! kube-sandbox has no etcd, no restart, no RBAC on the operator's token in these worlds and no
//! priority and fairness: these tests run on kube-apiserver only, and their names say so.

use super::http::{self, EmulatorAdmin};
use super::proxy::Proxy;
use super::world::*;
use crate::cluster::{OPERATOR_SA, Server, on_kube_apiserver_only};
use crate::harness::eventually;
use serde_json::{Value, json};
use std::time::Duration;

const CONVERGE: Duration = Duration::from_secs(120);
const SA_USER: &str = "system:serviceaccount:spo-system:spo-securityprofile-operator";

fn behavior(count: u64) -> Value {
    json!([{"name": "Disconnects", "metric": "aws:num-disconnects",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": count},
                         "durationSeconds": 300}}])
}

/// Profiles with a behavior and one target each.
fn profiles(names: &[String], group: &str, description: &str) -> String {
    let objects: Vec<Value> = names
        .iter()
        .map(|n| {
            security_profile(
                n,
                json!({"securityProfileDescription": description, "behaviors": behavior(5),
                       "targetArns": [group]}),
            )
        })
        .collect();
    yaml(&objects)
}

/// The operator's requests in the audit log: (verb, resource[/subresource], code).
fn operator_requests(world: &mut World) -> Vec<(String, String, u64)> {
    world
        .control_plane()
        .audit_events()
        .iter()
        .filter(|e| e["user"]["username"] == SA_USER)
        .map(|e| {
            let object = &e["objectRef"];
            let mut resource = object["resource"].as_str().unwrap_or("").to_string();
            if let Some(sub) = object["subresource"].as_str() {
                resource = format!("{resource}/{sub}");
            }
            (
                e["verb"].as_str().unwrap_or("").to_string(),
                resource,
                e["responseStatus"]["code"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn count(requests: &[(String, String, u64)], verb: &str, resource: &str, code: u64) -> usize {
    requests
        .iter()
        .filter(|(v, r, c)| v == verb && r == resource && *c == code)
        .count()
}

/// Every profile in AWS is one of `names`, once, with this cluster's ownership tag.
async fn exactly_these_profiles(emulator: &EmulatorAdmin, names: &[String]) {
    let profiles = emulator.profiles().await;
    let mut seen: Vec<String> = profiles
        .iter()
        .map(|p| p["securityProfileName"].as_str().unwrap_or("").to_string())
        .collect();
    seen.sort();
    let mut want = names.to_vec();
    want.sort();
    assert_eq!(seen, want, "AWS holds exactly these profiles");
    for p in &profiles {
        assert_eq!(p["tags"]["iot.awscc.io/cluster"], "e2e", "owned: {p}");
    }
}

async fn kube_apiserver_restarted_mid_convergence_no_duplicate_write(server: Server) {
    let mut world = World::start(server, "apiserver-restart").await;
    let group = world.emulator.thing_group("restart-fleet").await;
    // AWS's quotas (the default): 40 creates and 40 attaches take at least 4 s each.
    let mut operator = world.operator("operator", &[]).await;
    let names: Vec<String> = (0..40).map(|i| format!("restart-{i:02}")).collect();
    let file = world.write("restart.yaml", &profiles(&names, &group, "v1"));
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    eventually("the first creates", CONVERGE, || async {
        (http::ok(&world.emulator.calls().await, "CreateSecurityProfile") >= 5).then_some(())
    })
    .await;
    // SIGKILL: every watch and request in flight breaks; etcd keeps the data.
    world
        .control_plane()
        .restart_apiserver()
        .await
        .expect("kube-apiserver restarts");
    let at_restart = world.emulator.calls().await;
    let attached = http::ok(&at_restart, "AttachSecurityProfile");
    assert!(
        attached < names.len() as u64,
        "the restart came mid-convergence ({attached} of {} attached)",
        names.len()
    );

    world.wait_converged(&names, CONVERGE).await;
    operator.proc.assert_running();
    let calls = world.emulator.calls().await;
    assert_eq!(http::ok(&calls, "CreateSecurityProfile"), 40, "{calls:?}");
    assert_eq!(http::ok(&calls, "AttachSecurityProfile"), 40, "{calls:?}");
    assert_eq!(http::ok(&calls, "UpdateSecurityProfile"), 0, "{calls:?}");
    assert_eq!(http::ok(&calls, "DeleteSecurityProfile"), 0, "{calls:?}");
    exactly_these_profiles(&world.emulator, &names).await;
    // It watched again once the server was back.
    let requests = operator_requests(&mut world);
    assert!(
        count(&requests, "watch", "securityprofiles", 200) >= 2,
        "a watch before and after the restart: {requests:?}"
    );
}
on_kube_apiserver_only!(
    kube_apiserver_restarted_mid_convergence_no_duplicate_write,
    kube_apiserver_only_because_the_sandbox_cannot_be_restarted_with_its_data
);

async fn etcd_compacted_while_the_watch_is_cut_the_operator_relists_and_misses_nothing(
    server: Server,
) {
    // Watches served by etcd itself: a compaction then expires the operator's resourceVersion
    // (kube-apiserver's watch cache would serve a recent one from its own window).
    let mut world = World::start_with(server, "compaction", &["--watch-cache=false"]).await;
    let group = world.emulator.thing_group("compaction-fleet").await;
    let proxy = Proxy::start(
        world
            .control_plane()
            .url()
            .trim_start_matches("https://")
            .into(),
    )
    .await;
    let kubeconfig = world.operator_kubeconfig_via(&proxy.addr);
    let mut operator = world.operator_with("operator", &kubeconfig, &[]).await;
    let before: Vec<String> = ["kept", "edited", "deleted"].map(String::from).to_vec();
    let file = world.write("before.yaml", &profiles(&before, &group, "v1"));
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    world.wait_converged(&before, CONVERGE).await;
    let lists_before = count(
        &operator_requests(&mut world),
        "list",
        "securityprofiles",
        200,
    );

    // The network between the operator and the API server goes; meanwhile users change things.
    proxy.cut();
    let born = world.write("born.yaml", &profiles(&["born".into()], &group, "v1"));
    world
        .kubectl_ok(&["apply", "-f", born.to_str().expect("UTF-8 path")])
        .await;
    world
        .kubectl_ok(&[
            "patch",
            "securityprofile",
            "edited",
            "-n",
            "default",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"securityProfileDescription":"v2"}}"#,
        ])
        .await;
    world
        .kubectl_ok(&[
            "delete",
            "securityprofile",
            "deleted",
            "-n",
            "default",
            "--wait=false",
        ])
        .await;
    let compacted = world
        .control_plane()
        .compact_etcd()
        .await
        .expect("etcd compacts");
    proxy.restore();

    // The operator's watch resumes from its old resourceVersion, is told 410 Gone, lists again.
    operator
        .proc
        .wait_line("the `watch expired` log line", |l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["fields"]["message"] == "watch expired (410 Gone): listing again"
                || v["message"] == "watch expired (410 Gone): listing again")
                .then_some(())
        })
        .await;
    let now: Vec<String> = ["kept", "edited", "born"].map(String::from).to_vec();
    world.wait_converged(&now, CONVERGE).await;
    eventually("the deleted resource is gone", CONVERGE, || async {
        world
            .kubectl(&["get", "securityprofile", "deleted", "-n", "default"])
            .await
            .is_err()
            .then_some(())
    })
    .await;
    operator.proc.assert_running();
    let edited = world
        .emulator
        .profile("edited")
        .await
        .expect("edited is in AWS");
    assert_eq!(
        edited["securityProfileDescription"], "v2",
        "the edit reached AWS"
    );
    exactly_these_profiles(&world.emulator, &now).await;
    let calls = world.emulator.calls().await;
    assert_eq!(http::ok(&calls, "CreateSecurityProfile"), 4, "{calls:?}");
    assert_eq!(http::ok(&calls, "DeleteSecurityProfile"), 1, "{calls:?}");
    assert_eq!(http::ok(&calls, "UpdateSecurityProfile"), 1, "{calls:?}");
    let lists_after = count(
        &operator_requests(&mut world),
        "list",
        "securityprofiles",
        200,
    );
    assert!(
        lists_after > lists_before,
        "the operator listed again after the compaction at revision {compacted} ({lists_before} -> {lists_after})"
    );
}
on_kube_apiserver_only!(
    etcd_compacted_while_the_watch_is_cut_the_operator_relists_and_misses_nothing,
    kube_apiserver_only_because_the_sandbox_has_no_etcd_to_compact
);

/// JSON-patches the chart's ClusterRole (named like its ServiceAccount), as an admin would.
async fn patch_cluster_role(world: &World, patch: Value) {
    world
        .kubectl_ok(&[
            "patch",
            "clusterrole",
            OPERATOR_SA,
            "--type",
            "json",
            "-p",
            &patch.to_string(),
        ])
        .await;
}

/// The verbs of the ClusterRole's rule for `resource`, and its index.
async fn rule_of(world: &World, resource: &str) -> (usize, Value) {
    let role: Value = serde_json::from_str(
        &world
            .kubectl_ok(&["get", "clusterrole", OPERATOR_SA, "-o", "json"])
            .await,
    )
    .expect("JSON");
    role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .enumerate()
        .find(|(_, r)| r["resources"] == json!([resource]))
        .map(|(i, r)| (i, r["verbs"].clone()))
        .unwrap_or_else(|| panic!("a rule for {resource}: {role}"))
}

async fn a_permission_lost_then_restored_is_reported_without_a_crash_loop(server: Server) {
    let mut world = World::start(server, "rbac-loss").await;
    let group = world.emulator.thing_group("rbac-fleet").await;
    let mut operator = world.operator("operator", &["--resync-period", "5s"]).await;
    let (rule, verbs) = rule_of(&world, "securityprofiles").await;
    assert_eq!(verbs, json!(["list", "watch", "patch"]), "the chart's rule");

    // 1. No `patch` on securityprofiles: the finalizer cannot be added, so nothing is written
    // to AWS; the condition (status is still allowed) and the log say why.
    patch_cluster_role(
        &world,
        json!([{"op": "replace", "path": format!("/rules/{rule}/verbs"), "value": ["list", "watch"]}]),
    )
    .await;
    let file = world.write("denied.yaml", &profiles(&["denied".into()], &group, "v1"));
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    let sp = eventually("Synced=False KubernetesError", CONVERGE, || async {
        world.security_profiles().await.into_iter().find(|sp| {
            condition(sp, "Synced")
                .is_some_and(|c| c["status"] == "False" && c["reason"] == "KubernetesError")
        })
    })
    .await;
    let message = condition(&sp, "Synced").expect("Synced")["message"].to_string();
    assert!(
        message.contains("forbidden"),
        "the condition says why: {message}"
    );
    operator
        .proc
        .wait_line("a `reconcile failed` warning naming the refusal", |l| {
            (l.contains("reconcile failed") && l.contains("forbidden")).then_some(())
        })
        .await;
    let denied_at = operator_requests(&mut world);
    tokio::time::sleep(Duration::from_secs(15)).await;
    operator.proc.assert_running();
    let denied_later = operator_requests(&mut world);
    let refusals = count(&denied_later, "patch", "securityprofiles", 403)
        - count(&denied_at, "patch", "securityprofiles", 403);
    assert!(
        refusals <= 6,
        "backoff, no hot loop: {refusals} refused patches in 15 s"
    );
    let calls = world.emulator.calls().await;
    assert_eq!(
        http::total(&calls),
        0,
        "no AWS call without the finalizer: {calls:?}"
    );

    // Restored: it converges, with one create.
    patch_cluster_role(
        &world,
        json!([{"op": "replace", "path": format!("/rules/{rule}/verbs"), "value": verbs}]),
    )
    .await;
    world.wait_converged(&["denied".into()], CONVERGE).await;

    // 2. No list/watch on securityprofiles, and the API server restarted so that watches must
    // be made again: the operator warns and counts, and keeps running.
    patch_cluster_role(
        &world,
        json!([{"op": "replace", "path": format!("/rules/{rule}/verbs"), "value": ["patch"]}]),
    )
    .await;
    world
        .control_plane()
        .restart_apiserver()
        .await
        .expect("kube-apiserver restarts");
    operator
        .proc
        .wait_line("a warning that SecurityProfiles cannot be watched", |l| {
            (l.contains("cannot list or watch SecurityProfiles") && l.contains("Forbidden"))
                .then_some(())
        })
        .await;
    let unseen = world.write("unseen.yaml", &profiles(&["unseen".into()], &group, "v1"));
    world
        .kubectl_ok(&["apply", "-f", unseen.to_str().expect("UTF-8 path")])
        .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    operator.proc.assert_running();
    let metrics = operator.metrics().await;
    assert!(
        metrics.lines().any(
            |l| l.starts_with("securityprofile_operator_watch_errors_total{")
                && l.contains("kind=\"SecurityProfile\"")
                && l.contains("reason=\"Forbidden\"")
        ),
        "watch_errors_total counts the refusals:\n{metrics}"
    );
    assert!(
        world.emulator.profile("unseen").await.is_none(),
        "an operator that cannot watch does not act"
    );
    patch_cluster_role(
        &world,
        json!([{"op": "replace", "path": format!("/rules/{rule}/verbs"), "value": verbs}]),
    )
    .await;
    world
        .wait_converged(&["denied".into(), "unseen".into()], CONVERGE)
        .await;
    operator.proc.assert_running();
    let calls = world.emulator.calls().await;
    assert_eq!(http::ok(&calls, "CreateSecurityProfile"), 2, "{calls:?}");
    exactly_these_profiles(&world.emulator, &["denied".into(), "unseen".into()]).await;
}
on_kube_apiserver_only!(
    a_permission_lost_then_restored_is_reported_without_a_crash_loop,
    kube_apiserver_only_because_the_sandbox_world_runs_the_operator_as_admin
);

/// A priority level of one seat that rejects what does not fit, for the operator's requests.
const TINY_PRIORITY_LEVEL: &str = "apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata:
  name: spo-one-seat
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    lendablePercent: 0
    borrowingLimitPercent: 0
    limitResponse:
      type: Reject
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata:
  name: spo-one-seat
spec:
  priorityLevelConfiguration:
    name: spo-one-seat
  matchingPrecedence: 100
  distinguisherMethod:
    type: ByUser
  rules:
  - subjects:
    - kind: ServiceAccount
      serviceAccount:
        name: spo-securityprofile-operator
        namespace: spo-system
    resourceRules:
    - verbs: ['*']
      apiGroups: ['*']
      resources: ['*']
      namespaces: ['*']
      clusterScope: true
    nonResourceRules:
    - verbs: ['*']
      nonResourceURLs: ['*']
";

async fn too_many_requests_from_priority_and_fairness_converge_without_a_duplicate(server: Server) {
    // 30 seats in all, so the operator's priority level gets ceil(30 * 1 / total shares) = 1.
    let mut world = World::start_with(
        server,
        "apf",
        &[
            "--max-requests-inflight=20",
            "--max-mutating-requests-inflight=10",
        ],
    )
    .await;
    let file = world.write("apf.yaml", TINY_PRIORITY_LEVEL);
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    let group = world.emulator.thing_group("apf-fleet").await;
    let mut operator = world.operator("operator", &["--concurrency", "8"]).await;
    let names: Vec<String> = (0..30).map(|i| format!("apf-{i:02}")).collect();
    let file = world.write("profiles.yaml", &profiles(&names, &group, "v1"));
    world
        .kubectl_ok(&["apply", "-f", file.to_str().expect("UTF-8 path")])
        .await;
    world.wait_converged(&names, CONVERGE).await;
    operator.proc.assert_running();
    let requests = operator_requests(&mut world);
    let throttled = requests.iter().filter(|r| r.2 == 429).count();
    assert!(
        throttled > 0,
        "priority and fairness answered 429 to the operator: {:?}",
        requests.iter().filter(|r| r.2 != 200).collect::<Vec<_>>()
    );
    let calls = world.emulator.calls().await;
    assert_eq!(http::ok(&calls, "CreateSecurityProfile"), 30, "{calls:?}");
    assert_eq!(http::ok(&calls, "AttachSecurityProfile"), 30, "{calls:?}");
    exactly_these_profiles(&world.emulator, &names).await;
}
on_kube_apiserver_only!(
    too_many_requests_from_priority_and_fairness_converge_without_a_duplicate,
    kube_apiserver_only_because_the_sandbox_has_no_priority_and_fairness
);
