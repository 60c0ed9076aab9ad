//! Admission parity with AWS: every spec the emulator (and so AWS) rejects, the API server
//! rejects first, naming the field. Each case of the corpus (one per rule of the emulator's
//! input validation, which mirrors AWS's) goes both ways: to the sandbox with the operator's
//! CRD installed (`kube create`), and to the emulator along the operator's own path
//! (`reconcile::desired`, then `aws::Iot::create`, which converts the spec with the operator's
//! conversions and adds the three ownership tags). Where AWS's message names a path, it must be
//! the field the API server names. Valid controls prove that neither side rejects everything.
//!
//! The corpus holds only specs the operator's Rust types can carry: a value those types cannot
//! hold (an unknown enum member, a string where a number belongs) never reaches AWS through the
//! operator, and the CRD's enums and types are generated from the same types.

use crate::cluster::{Server, on_both_servers};
use crate::harness::{CLUSTER, Env, NS, REGION, credentials};
use kube::api::PostParams;
use securityprofile_operator::api::{SecurityProfile, SecurityProfileSpec};
use securityprofile_operator::aws::{AwsOptions, Iot, IotError};
use securityprofile_operator::metrics::Metrics;
use securityprofile_operator::reconcile;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A spec that both sides must reject, and the field path the API server must name.
pub(crate) struct Case {
    pub(crate) label: &'static str,
    pub(crate) field: &'static str,
    pub(crate) spec: Value,
}

/// A valid rule-based spec; each case changes one thing.
fn base() -> Value {
    json!({
        "behaviors": [{
            "name": "msgs",
            "metric": "aws:num-messages-sent",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 100}, "durationSeconds": 300}
        }]
    })
}

fn case(label: &'static str, field: &'static str, mutate: impl FnOnce(&mut Value)) -> Case {
    let mut spec = base();
    mutate(&mut spec);
    Case { label, field, spec }
}

fn criteria(c: Value) -> impl FnOnce(&mut Value) {
    move |s: &mut Value| s["behaviors"][0]["criteria"] = c
}

fn tags(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
            .collect(),
    )
}

const ROLE: &str = "arn:aws:iam::123456789012:role/DeviceDefender";
const ML: &str = "mlDetectionConfig";

pub(crate) fn corpus() -> Vec<Case> {
    let ml = || json!({"confidenceLevel": "LOW"});
    let long = |n: usize| "a".repeat(n);
    vec![
        case("profile name pattern", "spec.securityProfileName", |s| {
            s["securityProfileName"] = json!("my.profile")
        }),
        case("profile name length", "spec.securityProfileName", |s| {
            s["securityProfileName"] = json!(long(129))
        }),
        case(
            "description length",
            "spec.securityProfileDescription",
            |s| s["securityProfileDescription"] = json!(long(1001)),
        ),
        case(
            "description newline",
            "spec.securityProfileDescription",
            |s| s["securityProfileDescription"] = json!("two\nlines"),
        ),
        case(
            "description non-ASCII",
            "spec.securityProfileDescription",
            |s| s["securityProfileDescription"] = json!("café"),
        ),
        case("more than 100 behaviors", "spec.behaviors", |s| {
            s["behaviors"] = (0..101)
                .map(|i| json!({"name": format!("b{i}"), "metric": "aws:num-disconnects"}))
                .collect();
        }),
        case("behavior name pattern", "spec.behaviors[0].name", |s| {
            s["behaviors"][0]["name"] = json!("bad name")
        }),
        case("behavior name length", "spec.behaviors[0].name", |s| {
            s["behaviors"][0]["name"] = json!(long(129))
        }),
        case("duplicate behavior names", "spec.behaviors[1]", |s| {
            let b = s["behaviors"][0].clone();
            s["behaviors"].as_array_mut().unwrap().push(b);
        }),
        case(
            "dimension name pattern",
            "spec.behaviors[0].metricDimension.dimensionName",
            |s| s["behaviors"][0]["metricDimension"] = json!({"dimensionName": "bad dim"}),
        ),
        case(
            "negative count",
            "spec.behaviors[0].criteria.value.count",
            criteria(json!({"comparisonOperator": "greater-than", "value": {"count": -1}})),
        ),
        case(
            "CIDR too short",
            "spec.behaviors[0].criteria.value.cidrs[0]",
            criteria(json!({"comparisonOperator": "in-cidr-set", "value": {"cidrs": ["1"]}})),
        ),
        case(
            "CIDR too long",
            "spec.behaviors[0].criteria.value.cidrs[0]",
            criteria(
                json!({"comparisonOperator": "in-cidr-set", "value": {"cidrs": [format!("{}/8", "1".repeat(42))]}}),
            ),
        ),
        case(
            "CIDR pattern",
            "spec.behaviors[0].criteria.value.cidrs[0]",
            criteria(json!({"comparisonOperator": "in-cidr-set", "value": {"cidrs": ["ten/8"]}})),
        ),
        case(
            "port above 65535",
            "spec.behaviors[0].criteria.value.ports[0]",
            criteria(json!({"comparisonOperator": "in-port-set", "value": {"ports": [70000]}})),
        ),
        case(
            "negative port",
            "spec.behaviors[0].criteria.value.ports[0]",
            criteria(json!({"comparisonOperator": "in-port-set", "value": {"ports": [-1]}})),
        ),
        case(
            "datapoints to alarm 0",
            "spec.behaviors[0].criteria.consecutiveDatapointsToAlarm",
            |s| s["behaviors"][0]["criteria"]["consecutiveDatapointsToAlarm"] = json!(0),
        ),
        case(
            "datapoints to clear 11",
            "spec.behaviors[0].criteria.consecutiveDatapointsToClear",
            |s| s["behaviors"][0]["criteria"]["consecutiveDatapointsToClear"] = json!(11),
        ),
        case(
            "ML with comparisonOperator",
            "spec.behaviors[0].criteria.comparisonOperator",
            criteria(json!({ML: ml(), "comparisonOperator": "greater-than"})),
        ),
        case(
            "ML with value",
            "spec.behaviors[0].criteria.value",
            criteria(json!({ML: ml(), "value": {"count": 1}})),
        ),
        case(
            "ML with statisticalThreshold",
            "spec.behaviors[0].criteria.statisticalThreshold",
            criteria(json!({ML: ml(), "statisticalThreshold": {"statistic": "p90"}})),
        ),
        case("rule without metric", "spec.behaviors[0].metric", |s| {
            s["behaviors"][0].as_object_mut().unwrap().remove("metric");
        }),
        case(
            "rule without comparisonOperator",
            "spec.behaviors[0].criteria.comparisonOperator",
            criteria(json!({"value": {"count": 1}})),
        ),
        case(
            "rule without value or statisticalThreshold",
            "spec.behaviors[0].criteria.value",
            criteria(json!({"comparisonOperator": "greater-than", "durationSeconds": 300})),
        ),
        case(
            "rule with value and statisticalThreshold",
            "spec.behaviors[0].criteria.statisticalThreshold",
            criteria(
                json!({"comparisonOperator": "greater-than", "value": {"count": 1},
                            "statisticalThreshold": {"statistic": "p90"}}),
            ),
        ),
        case("ML mixed with rule-based", "spec.behaviors", |s| {
            s["behaviors"].as_array_mut().unwrap().push(json!(
                {"name": "ml", "metric": "aws:num-disconnects", "criteria": {ML: {"confidenceLevel": "HIGH"}}}
            ));
        }),
        case(
            "alert role ARN too short",
            "spec.alertTargets.SNS.roleArn",
            |s| s["alertTargets"] = json!({"SNS": {"alertTargetArn": "arn:aws:sns:us-east-1:123456789012:a", "roleArn": "arn:short"}}),
        ),
        case(
            "alert role ARN too long",
            "spec.alertTargets.SNS.roleArn",
            |s| s["alertTargets"] = json!({"SNS": {"alertTargetArn": "arn:aws:sns:us-east-1:123456789012:a", "roleArn": long(2049)}}),
        ),
        case(
            "empty MQTT topic",
            "spec.metricsExportConfig.mqttTopic",
            |s| s["metricsExportConfig"] = json!({"mqttTopic": "", "roleArn": ROLE}),
        ),
        case(
            "MQTT topic too long",
            "spec.metricsExportConfig.mqttTopic",
            |s| s["metricsExportConfig"] = json!({"mqttTopic": long(513), "roleArn": ROLE}),
        ),
        case(
            "export role ARN too short",
            "spec.metricsExportConfig.roleArn",
            |s| s["metricsExportConfig"] = json!({"mqttTopic": "t", "roleArn": "arn:short"}),
        ),
        case(
            "retained metric dimension pattern",
            "spec.additionalMetricsToRetainV2[0].metricDimension.dimensionName",
            |s| {
                s["additionalMetricsToRetainV2"] = json!([{"metric": "aws:num-disconnects",
                    "metricDimension": {"dimensionName": "bad dim"}}])
            },
        ),
        case("48 user tags (51 with ownership)", "spec.tags", |s| {
            s["tags"] = tags(48)
        }),
        case("empty tag key", "spec.tags[0].key", |s| {
            s["tags"] = json!([{"key": "", "value": "v"}])
        }),
        case("tag key too long", "spec.tags[0].key", |s| {
            s["tags"] = json!([{"key": long(129), "value": "v"}])
        }),
        case("tag key pattern", "spec.tags[0].key", |s| {
            s["tags"] = json!([{"key": "cost#center", "value": "v"}])
        }),
        case("tag value too long", "spec.tags[0].value", |s| {
            s["tags"] = json!([{"key": "k", "value": long(257)}])
        }),
        case("tag key aws:", "spec.tags", |s| {
            s["tags"] = json!([{"key": "aws:owner", "value": "v"}])
        }),
        case("tag key AWS: in upper case", "spec.tags", |s| {
            s["tags"] = json!([{"key": "AWS:owner", "value": "v"}])
        }),
    ]
}

/// Valid specs at the limits: both sides accept them.
fn controls() -> Vec<(&'static str, Value)> {
    let mut every_rule = base();
    every_rule["securityProfileDescription"] = json!("Fleet A: p99 ~ 50% [ops@example]");
    every_rule["behaviors"]
        .as_array_mut()
        .unwrap()
        .extend([
            json!({"name": "ports", "metric": "aws:listening-tcp-ports",
                   "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [0, 65535]}}}),
            json!({"name": "cidrs", "metric": "aws:destination-ip-addresses",
                   "criteria": {"comparisonOperator": "not-in-cidr-set", "value": {"cidrs": ["10.0.0.0/8", "2001:db8::/32"]}}}),
            json!({"name": "bytes", "metric": "aws:all-bytes-out",
                   "criteria": {"comparisonOperator": "less-than", "statisticalThreshold": {"statistic": "p99.9"},
                                "consecutiveDatapointsToAlarm": 10, "consecutiveDatapointsToClear": 1}}),
        ]);
    every_rule["tags"] = tags(47);
    every_rule["metricsExportConfig"] = json!({"mqttTopic": "$aws/things/x", "roleArn": ROLE});
    let ml = json!({"behaviors": [
        {"name": "ml-a", "metric": "aws:num-disconnects", "criteria": {ML: {"confidenceLevel": "HIGH"},
            "consecutiveDatapointsToAlarm": 2}},
        {"name": "ml-b", "metric": "aws:num-messages-sent", "criteria": {ML: {"confidenceLevel": "LOW"}}}
    ], "tags": [{"key": "Équipe 1_.:/=+-@", "value": "x"}]});
    vec![("every rule at its limit", every_rule), ("ML Detect", ml)]
}

/// The resource for a spec, in the test namespace.
pub(crate) fn resource(name: &str, spec: &Value) -> SecurityProfile {
    let spec: SecurityProfileSpec =
        serde_json::from_value(spec.clone()).expect("the corpus fits the operator's types");
    let mut sp = SecurityProfile::new(name, spec);
    sp.metadata.namespace = Some(NS.to_string());
    sp
}

/// What the operator would send for `sp`: the AWS name as written (the operator's own name
/// check is bypassed so the emulator judges it), the converted attributes and all tags.
async fn emulator_create(iot: &Iot, sp: &SecurityProfile) -> Result<String, IotError> {
    let name = sp
        .spec
        .security_profile_name
        .clone()
        .unwrap_or_else(|| sp.metadata.name.clone().unwrap_or_default());
    let mut named = sp.clone();
    named.spec.security_profile_name = None;
    let desired = reconcile::desired(&named, CLUSTER, &name);
    iot.create(REGION, &name, &desired.attributes, &desired.all_tags())
        .await
}

/// The field an AWS validation message names (`… at 'behaviors.1.member.criteria.value.count'
/// failed to satisfy constraint …`), written as the API server writes paths
/// (`spec.behaviors[0].criteria.value.count`); `None` for rules whose messages name no path.
fn aws_field(message: &str) -> Option<String> {
    let (_, rest) = message.split_once(" at '")?;
    let (path, _) = rest.split_once('\'')?;
    let mut out = String::from("spec");
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        match part.parse::<usize>() {
            Ok(n) if parts.peek() == Some(&"member") => {
                parts.next();
                out.push_str(&format!("[{}]", n - 1));
            }
            _ => {
                // TagList members are `Key`/`Value` on the wire, `key`/`value` in the spec.
                let part = match part {
                    "Key" => "key",
                    "Value" => "value",
                    other => other,
                };
                out.push('.');
                out.push_str(part);
            }
        }
    }
    Some(out)
}

/// A path to compare: tags travel as a map merged with the ownership tags and sorted by key,
/// so a tag's index on the wire is not its index in the spec.
fn comparable(field: &str) -> String {
    match field.strip_prefix("spec.tags[") {
        Some(rest) => format!("spec.tags[].{}", rest.split_once("].").map_or("", |r| r.1)),
        None => field.to_string(),
    }
}

/// The `(field, message)` causes of a rejected create, or `None` when it was admitted.
async fn api_create(env: &Env, sp: &SecurityProfile) -> Option<Vec<(String, String)>> {
    match env.api().create(&PostParams::default(), sp).await {
        Ok(_) => None,
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            Some(
                status
                    .details
                    .iter()
                    .flat_map(|d| d.causes.iter())
                    .map(|c| (c.field.clone(), c.message.clone()))
                    .collect(),
            )
        }
        Err(e) => panic!("create failed without an API status: {e}"),
    }
}

async fn whatever_the_emulator_rejects_admission_rejects_first_naming_the_field(server: Server) {
    let env = Env::without_operator(server).await;
    // Validation is the subject here; AWS authorizes before it validates, so IAM allows all.
    env.emulator.admin().set_iam_allow(vec!["*".to_string()]);
    let iot = Iot::load(
        AwsOptions {
            endpoint_url: Some(env.emulator.url()),
            region: Some(REGION.to_string()),
            max_attempts: 1,
            attempt_timeout: Duration::from_secs(5),
            ..Default::default()
        },
        Some(credentials()),
        Arc::new(Metrics::default()),
    )
    .await;

    for (i, (label, spec)) in controls().into_iter().enumerate() {
        let sp = resource(&format!("valid-{i}"), &spec);
        if let Some(causes) = api_create(&env, &sp).await {
            panic!("{label}: the API server rejects a valid spec: {causes:?}");
        }
        if let Err(e) = emulator_create(&iot, &sp).await {
            panic!("{label}: the emulator rejects a valid spec: {e}");
        }
    }

    let corpus = corpus();
    let mut failures = Vec::new();
    let mut named_by_aws = 0;
    for (i, case) in corpus.iter().enumerate() {
        let sp = resource(&format!("invalid-{i}"), &case.spec);
        match emulator_create(&iot, &sp).await {
            Err(IotError::Aws(e))
                if ["InvalidRequestException", "LimitExceededException"]
                    .contains(&e.code.as_str()) =>
            {
                if let Some(field) = aws_field(&e.message) {
                    named_by_aws += 1;
                    if comparable(&field) != comparable(case.field) {
                        failures.push(format!(
                            "{}: the emulator names {field}, the case expects {}: {}",
                            case.label, case.field, e.message
                        ));
                    }
                }
            }
            other => {
                failures.push(format!(
                    "{}: the emulator should reject it as AWS does, got {other:?}",
                    case.label
                ));
                continue;
            }
        }
        match api_create(&env, &sp).await {
            None => failures.push(format!("{}: the API server admits it", case.label)),
            Some(causes) if !causes.iter().any(|(f, _)| f == case.field) => failures.push(format!(
                "{}: no cause names {}: {causes:?}",
                case.label, case.field
            )),
            Some(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases break parity:\n{}",
        failures.len(),
        corpus.len(),
        failures.join("\n")
    );
    assert!(corpus.len() >= 35, "the corpus covers every rule");
    // Model constraints name their path in AWS's message; the behaviour rules, the tag limit
    // and the reserved prefix do not, and rely on the case's field alone.
    assert!(
        named_by_aws >= 25,
        "only {named_by_aws} emulator messages named a path"
    );
}
on_both_servers!(whatever_the_emulator_rejects_admission_rejects_first_naming_the_field);
