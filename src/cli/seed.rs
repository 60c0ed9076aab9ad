//! Realistic unowned profiles for the sandbox's emulator (`sandbox --seed-profiles N`), so that
//! export -> plan -> apply can be tried offline: varied names (some not Kubernetes names),
//! rule-based and ML behaviors, alert targets, retained metrics (V2 and the deprecated v1),
//! metrics export, tags, and targets with their thing groups.

use crate::aws::{Iot, IotError};
use serde_json::{Value, json};

/// One profile to create in the emulator, and what it is attached to.
pub struct Seed {
    pub name: String,
    /// The body of the emulator's `POST /_emulator/profiles` (attributes and tags).
    pub body: Value,
    /// Thing groups to create before attaching (names).
    pub thing_groups: Vec<String>,
    /// Target ARNs to attach.
    pub targets: Vec<String>,
}

const FLEETS: [&str; 5] = [
    "Sensors",
    "gateways",
    "Camera_Fleet",
    "pos:terminals",
    "meters",
];

fn role(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role/{name}")
}

fn rule_behaviors(i: usize) -> Value {
    let mut behaviors = vec![
        json!({"name": "messages-sent", "metric": "aws:num-messages-sent",
               "criteria": {"comparisonOperator": "greater-than", "value": {"count": 50 + 10 * i},
                            "durationSeconds": 300, "consecutiveDatapointsToAlarm": 2,
                            "consecutiveDatapointsToClear": 2}}),
        json!({"name": "auth-failures", "metric": "aws:num-authorization-failures",
               "criteria": {"comparisonOperator": "greater-than", "value": {"count": 5},
                            "durationSeconds": 300}, "suppressAlerts": i.is_multiple_of(2)}),
    ];
    if i.is_multiple_of(3) {
        behaviors.push(
            json!({"name": "destination-ips", "metric": "aws:destination-ip-addresses",
            "criteria": {"comparisonOperator": "not-in-cidr-set",
                         "value": {"cidrs": ["10.0.0.0/8", "172.16.0.0/12"]}}}),
        );
    }
    if i % 4 == 1 {
        behaviors.push(
            json!({"name": "listening-ports", "metric": "aws:listening-tcp-ports",
            "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [443, 8883]}}}),
        );
    }
    if i % 2 == 1 {
        behaviors.push(
            json!({"name": "bytes-out-p90", "metric": "aws:all-bytes-out",
            "criteria": {"comparisonOperator": "greater-than",
                         "statisticalThreshold": {"statistic": "p90"}, "durationSeconds": 900}}),
        );
    }
    Value::Array(behaviors)
}

fn ml_behaviors() -> Value {
    json!([
        {"name": "ml-messages-sent", "metric": "aws:num-messages-sent",
         "criteria": {"mlDetectionConfig": {"confidenceLevel": "HIGH"}}},
        {"name": "ml-connection-attempts", "metric": "aws:num-connection-attempts",
         "criteria": {"mlDetectionConfig": {"confidenceLevel": "MEDIUM"}}}
    ])
}

/// The i-th profile: every fifth uses ML Detect, others rules; attributes vary with i.
fn seed(i: usize, region: &str, account: &str) -> Seed {
    let fleet = FLEETS[i % FLEETS.len()];
    let name = format!("{fleet}-{:03}", i + 1);
    let group = format!("{}-{:03}", fleet.replace(':', "-"), i + 1);
    let mut body = json!({
        "securityProfileName": name,
        "region": region,
        "securityProfileDescription": format!("{fleet} baseline #{} (created by hand)", i + 1),
        "behaviors": if i % 5 == 4 { ml_behaviors() } else { rule_behaviors(i) },
        "tags": {"team": fleet.to_lowercase().replace([':', '_'], "-"),
                 "env": if i.is_multiple_of(3) { "prod" } else { "staging" },
                 "cost-center": format!("{}", 4000 + i % 7)},
    });
    if i.is_multiple_of(2) {
        body["alertTargets"] = json!({"SNS": {
            "alertTargetArn": format!("arn:aws:sns:{region}:{account}:defender-alerts"),
            "roleArn": role(account, "defender-alerts")}});
    }
    if i % 3 == 1 {
        body["additionalMetricsToRetainV2"] = json!([{"metric": "aws:num-disconnects"}]);
    } else if i % 7 == 3 {
        body["additionalMetricsToRetain"] = json!(["aws:num-disconnects"]);
    }
    if i % 4 == 2 {
        body["metricsExportConfig"] = json!({"mqttTopic": "$aws/rules/defender_metrics",
                                              "roleArn": role(account, "defender-export")});
    }
    let mut targets = vec![format!("arn:aws:iot:{region}:{account}:thinggroup/{group}")];
    if i.is_multiple_of(6) {
        targets.push(format!(
            "arn:aws:iot:{region}:{account}:all/registered-things"
        ));
    }
    Seed {
        name,
        body,
        thing_groups: vec![group],
        targets,
    }
}

/// `n` varied profiles for one region and account.
pub fn seeds(n: usize, region: &str, account: &str) -> Vec<Seed> {
    (0..n).map(|i| seed(i, region, account)).collect()
}

/// Attaches each seed's targets through the AWS API (the emulator's admin API has no attach).
pub async fn attach(iot: &Iot, region: &str, seeds: &[Seed]) -> Result<(), IotError> {
    for s in seeds {
        for t in &s.targets {
            iot.attach(region, &s.name, t).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_vary_and_never_mix_ml_with_rules() {
        let seeds = seeds(20, "us-east-1", "123456789012");
        let names: std::collections::BTreeSet<_> = seeds.iter().map(|s| &s.name).collect();
        assert_eq!(names.len(), 20);
        let ml = |s: &Seed| s.body["behaviors"][0]["criteria"]["mlDetectionConfig"].is_object();
        assert_eq!(seeds.iter().filter(|s| ml(s)).count(), 4);
        assert!(
            seeds
                .iter()
                .any(|s| s.body.get("additionalMetricsToRetain").is_some())
        );
        assert!(
            seeds
                .iter()
                .any(|s| s.body.get("metricsExportConfig").is_some())
        );
        assert!(
            seeds.iter().any(|s| s.name.contains(':')),
            "some need a derived name"
        );
        assert!(
            seeds
                .iter()
                .all(|s| s.body["tags"].get("iot.awscc.io/cluster").is_none())
        );
    }
}
