//! No false drift: with the emulator answering Describe as AWS may (lists whose order means
//! nothing reordered, server-side defaults filled in) and a profile written with the deprecated
//! names-only retained metrics, resyncs make no write.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use serde_json::json;
use std::time::Duration;

async fn reordered_lists_and_filled_in_defaults_make_no_write_on_resync(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s"]).await;
    env.emulator.admin().set_normalize(true);
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "sets"},
        "spec": {
            "behaviors": [
                {
                    "name": "Cidrs",
                    "metric": "aws:destination-ip-addresses",
                    "metricDimension": {"dimensionName": "TopicFilterForAuthMessages"},
                    "criteria": {"comparisonOperator": "not-in-cidr-set",
                                 "value": {"cidrs": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}
                },
                {
                    "name": "Ports",
                    "metric": "aws:listening-tcp-ports",
                    "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [22, 443, 8883]}}
                },
                {
                    "name": "Count",
                    "metric": "aws:num-messages-sent",
                    "criteria": {"comparisonOperator": "greater-than", "value": {"count": 10}, "durationSeconds": 300}
                }
            ],
            "additionalMetricsToRetainV2": [
                {"metric": "aws:num-authorization-failures"},
                {"metric": "aws:num-connection-attempts"},
                {"metric": "aws:num-disconnects"}
            ]
        }
    }))
    .await;
    env.wait_ready("sets").await;
    let writes = env.writes();
    let updates = env.all_calls("UpdateSecurityProfile");
    // Several resyncs, each reading the reordered, default-filled answer.
    let describes = env.all_calls("DescribeSecurityProfile");
    settle(Duration::from_secs(4)).await;
    assert!(
        env.all_calls("DescribeSecurityProfile") >= describes + 2,
        "resyncs happened"
    );
    assert_eq!(env.writes(), writes, "a resync wrote to AWS");
    assert_eq!(env.all_calls("UpdateSecurityProfile"), updates);
    let (_, reason, _) = condition(&env.get("sets").await.unwrap(), "Ready").unwrap();
    assert_eq!(reason, "Available");
}
on_both_servers!(reordered_lists_and_filled_in_defaults_make_no_write_on_resync);

async fn a_profile_written_with_v1_retained_metrics_reads_as_its_v2_equivalent(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s"]).await;
    // Written by an older tool with the deprecated names-only list, and already ours.
    env.emulator
        .admin()
        .put_profile(json!({
            "securityProfileName": "legacy",
            "additionalMetricsToRetain": ["aws:num-disconnects", "aws:num-connection-attempts"],
            "tags": {"iot.awscc.io/cluster": CLUSTER, "iot.awscc.io/namespace": NS, "iot.awscc.io/name": "legacy"}
        }))
        .unwrap();
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "legacy"},
        "spec": {"additionalMetricsToRetainV2": [
            {"metric": "aws:num-connection-attempts"}, {"metric": "aws:num-disconnects"}
        ]}
    }))
    .await;
    env.wait_ready("legacy").await;
    settle(Duration::from_secs(3)).await;
    assert_eq!(
        env.writes(),
        0,
        "the v1 list is the same retained metrics: no write"
    );
}
on_both_servers!(a_profile_written_with_v1_retained_metrics_reads_as_its_v2_equivalent);
