//! Create with every field, update and clear each field, targets and tags both ways, delete,
//! status-only writes, and a spec left byte-identical.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use serde_json::{Value, json};
use std::time::Duration;

fn every_field(groups: &[String]) -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": "fleet", "namespace": NS},
        "spec": {
            "securityProfileName": "FleetProfile",
            "region": REGION,
            "securityProfileDescription": "every field",
            "behaviors": [
                {
                    "name": "MaxMessagesSent",
                    "metric": "aws:num-messages-sent",
                    "metricDimension": {"dimensionName": "TopicFilterForAuthMessages", "operator": "IN"},
                    "criteria": {
                        "comparisonOperator": "greater-than",
                        "value": {"count": 100},
                        "durationSeconds": 300,
                        "consecutiveDatapointsToAlarm": 2,
                        "consecutiveDatapointsToClear": 3
                    },
                    "suppressAlerts": true,
                    "exportMetric": true
                },
                {
                    "name": "OutboundTraffic",
                    "metric": "aws:all-bytes-out",
                    "criteria": {
                        "comparisonOperator": "less-than-equals",
                        "statisticalThreshold": {"statistic": "p99.9"},
                        "durationSeconds": 900
                    }
                },
                {
                    "name": "Cidrs",
                    "metric": "aws:destination-ip-addresses",
                    "criteria": {"comparisonOperator": "not-in-cidr-set", "value": {"cidrs": ["10.0.0.0/8"]}}
                },
                {
                    "name": "Ports",
                    "metric": "aws:listening-tcp-ports",
                    "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [443, 8883]}}
                }
            ],
            "alertTargets": {"SNS": {
                "alertTargetArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                "roleArn": "arn:aws:iam::123456789012:role/DeviceDefenderAlerts"
            }},
            "additionalMetricsToRetainV2": [
                {"metric": "aws:num-authorization-failures", "exportMetric": true},
                {"metric": "aws:num-connection-attempts"}
            ],
            "metricsExportConfig": {
                "mqttTopic": "$aws/rules/export",
                "roleArn": "arn:aws:iam::123456789012:role/DeviceDefenderExport"
            },
            "tags": [{"key": "team", "value": "fleet"}, {"key": "env", "value": "prod"}],
            "targetArns": groups
        }
    })
}

async fn create_with_every_field_then_update_and_clear_each_field(server: Server) {
    let env = Env::start(server).await;
    let groups = vec![env.thing_group("sensors"), env.thing_group("gateways")];
    env.create_json(every_field(&groups)).await;
    let sp = env.wait_ready("fleet").await;

    // AWS has every field.
    let p = env.profile("FleetProfile").expect("profile created in AWS");
    assert_eq!(p.version, 1, "one create, no update");
    assert_eq!(p.description.as_deref(), Some("every field"));
    let behaviors = p.behaviors.clone().unwrap();
    assert_eq!(behaviors.len(), 4);
    let max = behaviors
        .iter()
        .find(|b| b["name"] == "MaxMessagesSent")
        .unwrap();
    assert_eq!(max["criteria"]["value"]["count"], 100);
    assert_eq!(max["criteria"]["consecutiveDatapointsToClear"], 3);
    assert_eq!(max["metricDimension"]["operator"], "IN");
    assert_eq!(max["suppressAlerts"], true);
    let out = behaviors
        .iter()
        .find(|b| b["name"] == "OutboundTraffic")
        .unwrap();
    assert_eq!(
        out["criteria"]["statisticalThreshold"]["statistic"],
        "p99.9"
    );
    assert_eq!(
        p.alert_targets.as_ref().unwrap()["SNS"]["roleArn"],
        "arn:aws:iam::123456789012:role/DeviceDefenderAlerts"
    );
    assert_eq!(p.additional_metrics_v2.as_ref().unwrap().len(), 2);
    assert_eq!(
        p.metrics_export_config.as_ref().unwrap()["mqttTopic"],
        "$aws/rules/export"
    );
    assert_eq!(p.tags.get("team").map(String::as_str), Some("fleet"));
    assert_eq!(
        p.tags.get("iot.awscc.io/cluster").map(String::as_str),
        Some(CLUSTER)
    );
    assert_eq!(
        p.tags.get("iot.awscc.io/namespace").map(String::as_str),
        Some(NS)
    );
    assert_eq!(
        p.tags.get("iot.awscc.io/name").map(String::as_str),
        Some("fleet")
    );
    let mut want_targets = groups.clone();
    want_targets.sort();
    assert_eq!(p.targets, want_targets);

    // Status reports it.
    let st = sp.status.clone().unwrap();
    assert_eq!(st.security_profile_arn.as_deref(), Some(p.arn.as_str()));
    assert_eq!(st.security_profile_name.as_deref(), Some("FleetProfile"));
    assert_eq!(st.region.as_deref(), Some(REGION));
    assert_eq!(st.version, Some(1));
    assert_eq!(st.target_count, Some(2));
    assert_eq!(st.target_arns.as_ref().unwrap().len(), 2);
    assert!(st.creation_date.is_some() && st.last_sync_time.is_some());
    assert_eq!(condition(&sp, "Ready").unwrap().1, "Available");
    assert_eq!(condition(&sp, "Synced").unwrap().1, "ReconcileSuccess");
    env.wait_event("fleet", "Created").await;
    let (_, _, note) = env.wait_event("fleet", "TargetAttached").await;
    assert!(
        groups.iter().all(|g| note.contains(g.as_str())),
        "one event names every attached target: {note}"
    );

    // Update each attribute: one UpdateSecurityProfile per change, version goes up.
    let updates = [
        json!({"securityProfileDescription": "changed"}),
        json!({"behaviors": [{"name": "OnlyOne", "metric": "aws:num-disconnects", "criteria": {"comparisonOperator": "greater-than", "value": {"count": 5}, "durationSeconds": 300}}]}),
        json!({"alertTargets": {"SNS": {"alertTargetArn": "arn:aws:sns:us-east-1:123456789012:other", "roleArn": "arn:aws:iam::123456789012:role/DeviceDefenderAlerts"}}}),
        json!({"additionalMetricsToRetainV2": [{"metric": "aws:num-disconnects"}]}),
        json!({"metricsExportConfig": {"mqttTopic": "$aws/rules/other", "roleArn": "arn:aws:iam::123456789012:role/DeviceDefenderExport"}}),
    ];
    for (i, patch) in updates.iter().enumerate() {
        env.patch_spec("fleet", patch.clone()).await;
        let sp = env.wait_ready("fleet").await;
        let p = env.profile("FleetProfile").unwrap();
        assert_eq!(
            p.version,
            2 + i as i64,
            "update {i} makes exactly one new version"
        );
        assert_eq!(sp.status.unwrap().version, Some(p.version));
    }
    let p = env.profile("FleetProfile").unwrap();
    assert_eq!(p.description.as_deref(), Some("changed"));
    assert_eq!(p.behaviors.as_ref().unwrap().len(), 1);
    assert_eq!(
        p.alert_targets.as_ref().unwrap()["SNS"]["alertTargetArn"],
        "arn:aws:sns:us-east-1:123456789012:other"
    );
    assert_eq!(
        p.additional_metrics_v2.as_ref().unwrap()[0]["metric"],
        "aws:num-disconnects"
    );
    assert_eq!(
        p.metrics_export_config.as_ref().unwrap()["mqttTopic"],
        "$aws/rules/other"
    );
    env.wait_event("fleet", "Updated").await;

    // Clear each attribute (merge patch null removes the field): the delete flags clear them in AWS.
    for field in [
        "securityProfileDescription",
        "behaviors",
        "alertTargets",
        "additionalMetricsToRetainV2",
        "metricsExportConfig",
    ] {
        env.patch_spec("fleet", json!({ field: null })).await;
        env.wait_ready("fleet").await;
    }
    let p = env.profile("FleetProfile").unwrap();
    assert!(
        p.description.as_deref().unwrap_or("").is_empty(),
        "{:?}",
        p.description
    );
    assert!(
        p.behaviors.as_ref().is_none_or(|b| b.is_empty()),
        "{:?}",
        p.behaviors
    );
    assert!(
        p.alert_targets
            .as_ref()
            .is_none_or(|a| a.as_object().is_none_or(|m| m.is_empty()))
    );
    assert!(
        p.additional_metrics_v2
            .as_ref()
            .is_none_or(|m| m.is_empty())
    );
    assert!(p.metrics_export_config.is_none());
    assert_eq!(p.version, 11, "ten single-field updates after the create");
}
on_both_servers!(create_with_every_field_then_update_and_clear_each_field);

async fn targets_and_tags_both_ways(server: Server) {
    let env = Env::start(server).await;
    let g1 = env.thing_group("g1");
    let g2 = env.thing_group("g2");
    let all = format!("arn:aws:iot:{REGION}:{ACCOUNT}:all/registered-things");
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "tt"},
        "spec": {"targetArns": [g1], "tags": [{"key": "a", "value": "1"}]}
    }))
    .await;
    env.wait_ready("tt").await;
    assert_eq!(env.profile("tt").unwrap().targets, vec![g1.clone()]);

    env.patch_spec("tt", json!({"targetArns": [g2, all], "tags": [{"key": "a", "value": "2"}, {"key": "b", "value": "x"}]})).await;
    let sp = env.wait_ready("tt").await;
    let p = env.profile("tt").unwrap();
    let mut want = vec![g2.clone(), all.clone()];
    want.sort();
    assert_eq!(
        p.targets, want,
        "g1 detached, g2 and all/registered-things attached"
    );
    assert_eq!(p.tags.get("a").map(String::as_str), Some("2"));
    assert_eq!(p.tags.get("b").map(String::as_str), Some("x"));
    assert_eq!(sp.status.unwrap().target_count, Some(2));
    env.wait_event("tt", "TargetDetached").await;
    env.wait_event("tt", "TagsUpdated").await;

    env.patch_spec("tt", json!({"targetArns": null, "tags": null}))
        .await;
    env.wait_ready("tt").await;
    let p = env.profile("tt").unwrap();
    assert!(p.targets.is_empty());
    let keys: Vec<_> = p.tags.keys().cloned().collect();
    assert_eq!(
        keys,
        vec![
            "iot.awscc.io/cluster",
            "iot.awscc.io/name",
            "iot.awscc.io/namespace"
        ],
        "user tags removed, ownership tags kept"
    );
    assert_eq!(
        env.ok_calls("UpdateSecurityProfile"),
        0,
        "targets and tags never need UpdateSecurityProfile"
    );
}
on_both_servers!(targets_and_tags_both_ways);

async fn delete_removes_the_profile_then_the_finalizer(server: Server) {
    let env = Env::start(server).await;
    env.create("gone", Default::default()).await;
    let sp = env.wait_ready("gone").await;
    assert!(
        sp.metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"iot.awscc.io/finalizer".to_string())
    );
    assert!(env.profile("gone").is_some());
    env.delete("gone").await;
    env.wait_gone("gone").await;
    assert!(env.profile("gone").is_none(), "profile deleted in AWS");
    assert_eq!(env.ok_calls("DeleteSecurityProfile"), 1);
}
on_both_servers!(delete_removes_the_profile_then_the_finalizer);

async fn status_writes_never_call_aws_and_spec_stays_byte_identical(server: Server) {
    let env = Env::start(server).await;
    let manifest = json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "quiet"},
        "spec": {"securityProfileDescription": "d", "behaviors": [{"name": "b", "metric": "aws:num-disconnects", "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1}}}]}
    });
    let created = env.create_json(manifest).await;
    let ready = env.wait_ready("quiet").await;
    assert_eq!(
        serde_json::to_string(&created.spec).unwrap(),
        serde_json::to_string(&ready.spec).unwrap(),
        "the operator never writes spec (GitOps tools would see a diff)"
    );
    let before = env.emulator.admin().calls();
    // A status write by someone else, and a label change: neither is a spec change.
    env.api()
        .patch_status(
            "quiet",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"status": {"lastSyncTime": "2020-01-01T00:00:00Z"}})),
        )
        .await
        .unwrap();
    env.patch_meta("quiet", json!({"labels": {"x": "y"}})).await;
    // A second resource reconciles fully, so the operator has seen both writes by then.
    env.create("witness", Default::default()).await;
    env.wait_ready("witness").await;
    settle(Duration::from_millis(500)).await;
    let after = env.emulator.admin().calls();
    // The witness: Describe (not found), Create, Describe (to read back dates and version).
    for (op, witness_calls) in [
        ("DescribeSecurityProfile", 2),
        ("UpdateSecurityProfile", 0),
        ("ListTargetsForSecurityProfile", 0),
        ("ListTagsForResource", 0),
    ] {
        let b: u64 = before.get(op).map(|m| m.values().sum()).unwrap_or(0);
        let a: u64 = after.get(op).map(|m| m.values().sum()).unwrap_or(0);
        assert_eq!(
            a - b,
            witness_calls,
            "{op}: only the witness resource's reconcile called AWS"
        );
    }
}
on_both_servers!(status_writes_never_call_aws_and_spec_stays_byte_identical);

async fn an_idle_resync_reads_aws_and_writes_nothing(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s"]).await;
    env.create("idle", Default::default()).await;
    let ready = env.wait_ready("idle").await;
    let describes = env.all_calls("DescribeSecurityProfile");
    eventually("two more resyncs", Duration::from_secs(20), || async {
        (env.all_calls("DescribeSecurityProfile") >= describes + 2).then_some(())
    })
    .await;
    let after = env.get("idle").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, ready.metadata.resource_version,
        "resyncs that find AWS unchanged make no Kubernetes write"
    );
    assert_eq!(env.writes(), 1, "and no AWS write: only the create");
}
on_both_servers!(an_idle_resync_reads_aws_and_writes_nothing);
