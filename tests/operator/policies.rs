//! Retain, Observe, pause, invalid names, region resolution, drift correction.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

async fn retain_leaves_the_profile_in_aws(server: Server) {
    let env = Env::start(server).await;
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
on_both_servers!(retain_leaves_the_profile_in_aws);

async fn observe_reads_and_never_writes(server: Server) {
    let env = Env::start(server).await;
    env.emulator
        .admin()
        .put_profile(
            json!({"securityProfileName": "watched", "securityProfileDescription": "external"}),
        )
        .unwrap();
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "watched"},
        "spec": {"managementPolicy": "Observe", "securityProfileDescription": "external"}
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
    // A spec that AWS does not match is not Ready: Drifted, naming the field, still no write.
    env.patch_spec(
        "watched",
        json!({"securityProfileDescription": "what Git says"}),
    )
    .await;
    let sp = env
        .wait_for("watched", "Ready=False Drifted", |sp| {
            condition(sp, "Ready").is_some_and(|c| c.1 == "Drifted")
        })
        .await;
    let ready = condition(&sp, "Ready").unwrap();
    assert_eq!(ready.0, "False");
    assert!(
        ready.2.contains("securityProfileDescription"),
        "{}",
        ready.2
    );
    let (kind, _, note) = env.wait_event("watched", "Drifted").await;
    assert_eq!(kind, "Warning");
    assert!(note.contains("securityProfileDescription"), "{note}");
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
on_both_servers!(observe_reads_and_never_writes);

async fn paused_resources_make_no_aws_calls_until_resumed(server: Server) {
    let env = Env::start(server).await;
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
on_both_servers!(paused_resources_make_no_aws_calls_until_resumed);

async fn metadata_name_that_is_no_aws_name_is_invalid_spec(server: Server) {
    let env = Env::start(server).await;
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
on_both_servers!(metadata_name_that_is_no_aws_name_is_invalid_spec);

async fn region_comes_from_the_namespace_annotation(server: Server) {
    let env = Env::start(server).await;
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
on_both_servers!(region_comes_from_the_namespace_annotation);

async fn drift_is_corrected_on_resync(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s"]).await;
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
on_both_servers!(drift_is_corrected_on_resync);

async fn the_aws_name_and_region_cannot_change_once_in_use(server: Server) {
    let env = Env::start(server).await;
    env.create("named", Default::default()).await;
    env.wait_ready("named").await;
    // CEL allows adding the field (it was unset), but it names another profile than the one in use.
    env.patch_spec("named", json!({"securityProfileName": "renamed"}))
        .await;
    let sp = env.wait_synced_false("named", "InvalidSpec").await;
    let msg = condition(&sp, "Synced").unwrap().2;
    assert!(msg.contains("named") && msg.contains("renamed"), "{msg}");
    assert!(env.profile("renamed").is_none(), "no second profile");
    assert!(env.profile("named").is_some(), "no orphan");
    // Naming the profile in use explicitly is fine.
    let err = env
        .api()
        .patch(
            "named",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"securityProfileName": "named"}})),
        )
        .await
        .expect_err("CEL: immutable once set");
    assert!(err.to_string().contains("immutable"), "{err}");
}
on_both_servers!(the_aws_name_and_region_cannot_change_once_in_use);

async fn watch_namespaces_limits_what_the_operator_sees(server: Server) {
    let env = Env::without_operator(server).await;
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .create(
            &Default::default(),
            &serde_json::from_value(json!({"metadata": {"name": "elsewhere"}})).unwrap(),
        )
        .await
        .unwrap();
    let _op = env.start_operator(args(&env.emulator.url(), &["--watch-namespaces", NS]));
    let other: Api<securityprofile_operator::api::SecurityProfile> =
        Api::namespaced(env.client.clone(), "elsewhere");
    other
        .create(
            &Default::default(),
            &securityprofile_operator::api::SecurityProfile::new("ignored", Default::default()),
        )
        .await
        .unwrap();
    env.create("watched-ns", Default::default()).await;
    env.wait_ready("watched-ns").await;
    let ignored = other.get("ignored").await.unwrap();
    assert!(
        ignored.status.is_none(),
        "a resource outside --watch-namespaces is not reconciled"
    );
    assert!(ignored.metadata.finalizers.is_none());
    assert!(env.profile("ignored").is_none());
}
on_both_servers!(watch_namespaces_limits_what_the_operator_sees);

async fn probes_and_metrics_are_served(server: Server) {
    let env = Env::without_operator(server).await;
    let (health, metrics) = (free_port(), free_port());
    let (h, m) = (
        format!("127.0.0.1:{health}"),
        format!("127.0.0.1:{metrics}"),
    );
    let _op = env.start_operator(args(
        &env.emulator.url(),
        &[
            "--health-addr",
            &h,
            "--metrics-addr",
            &m,
            "--resync-period",
            "1s",
        ],
    ));
    env.create("metered", Default::default()).await;
    env.wait_ready("metered").await;
    eventually("/readyz ok", Duration::from_secs(10), || async {
        (http_get(health, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(http_get(health, "/healthz").await.0, 200);
    env.emulator
        .admin()
        .put_profile(
            json!({"securityProfileName": "metered", "securityProfileDescription": "drifted"}),
        )
        .unwrap();
    env.wait_event("metered", "DriftCorrected").await;
    let (code, body) = http_get(metrics, "/metrics").await;
    assert_eq!(code, 200);
    for needle in [
        "securityprofile_operator_reconciles_total{result=\"success\"}",
        "securityprofile_operator_reconcile_duration_seconds_bucket",
        "securityprofile_operator_aws_calls_total{operation=\"CreateSecurityProfile\",outcome=\"ok\"} 1",
        "securityprofile_operator_resources{condition=\"Ready\",status=\"True\"} 1",
        "securityprofile_operator_drift_corrections_total 1",
    ] {
        assert!(body.contains(needle), "missing {needle} in\n{body}");
    }
}
on_both_servers!(probes_and_metrics_are_served);
