//! Every CEL rule (`x-kubernetes-validations`) of the operator's real SecurityProfile CRD has at
//! least one manifest it admits and one it rejects, with the exact error (field path and
//! message) the API server reports. A rule added to the CRD without a row here fails
//! [`every_cel_rule_has_an_accepted_and_a_rejected_manifest`], and so does a row whose rule
//! is gone.

use crate::errors;
use crate::fixtures::{ml_behavior, security_profile, security_profile_schema};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// One write: a create (no old object) or an update of `old`.
struct Write {
    old: Option<Value>,
    new: Value,
}

fn create(mutate: impl FnOnce(&mut Value)) -> Write {
    let mut new = security_profile();
    mutate(&mut new);
    Write { old: None, new }
}

fn update(mutate_old: impl FnOnce(&mut Value), mutate_new: impl FnOnce(&mut Value)) -> Write {
    let mut old = security_profile();
    mutate_old(&mut old);
    let mut new = security_profile();
    mutate_new(&mut new);
    Write {
        old: Some(old),
        new,
    }
}

/// The rows: one per rule, keyed by the rule's message.
struct Row {
    message: &'static str,
    accepted: Vec<Write>,
    /// Rejected writes and the one error each gets (`field: message`).
    rejected: Vec<(Write, &'static str)>,
}

fn criteria(c: Value) -> impl FnOnce(&mut Value) {
    move |o: &mut Value| o["spec"]["behaviors"][0]["criteria"] = c
}

fn remove(field: &'static str) -> impl FnOnce(&mut Value) {
    move |o: &mut Value| {
        o["spec"].as_object_mut().unwrap().remove(field);
    }
}

const ML: &str = "mlDetectionConfig";

fn rows() -> Vec<Row> {
    let ml = || json!({"confidenceLevel": "LOW"});
    vec![
        Row {
            message: "securityProfileName is immutable once set (removing it again is allowed, to undo an edit)",
            accepted: vec![
                update(
                    |_| {},
                    |o| o["spec"]["securityProfileDescription"] = json!("edited"),
                ),
                update(remove("securityProfileName"), |_| {}),
                // Undoing an edit that added the name by mistake.
                update(|_| {}, remove("securityProfileName")),
            ],
            rejected: vec![(
                update(
                    |_| {},
                    |o| o["spec"]["securityProfileName"] = json!("other"),
                ),
                "spec.securityProfileName: Forbidden: securityProfileName is immutable once set (removing it again is allowed, to undo an edit)",
            )],
        },
        Row {
            message: "region is immutable once set (removing it again is allowed, to undo an edit)",
            accepted: vec![
                update(remove("region"), |_| {}),
                // Undoing an edit that added the region by mistake.
                update(|_| {}, remove("region")),
            ],
            rejected: vec![(
                update(|_| {}, |o| o["spec"]["region"] = json!("us-east-1")),
                "spec.region: Forbidden: region is immutable once set (removing it again is allowed, to undo an edit)",
            )],
        },
        Row {
            message: "a profile cannot mix ML Detect behaviors (criteria.mlDetectionConfig) with rule-based behaviors",
            accepted: vec![
                create(|o| o["spec"]["behaviors"] = json!([ml_behavior("a"), ml_behavior("b")])),
                create(|o| {
                    let rule = o["spec"]["behaviors"][0].clone();
                    o["spec"]["behaviors"] = json!([rule, {"name": "plain", "metric": "m"}]);
                }),
            ],
            rejected: vec![(
                create(|o| {
                    o["spec"]["behaviors"]
                        .as_array_mut()
                        .unwrap()
                        .push(ml_behavior("ml"));
                }),
                r#"spec.behaviors: Invalid value: "object": a profile cannot mix ML Detect behaviors (criteria.mlDetectionConfig) with rule-based behaviors"#,
            )],
        },
        Row {
            message: "securityProfileDescription may contain only printable ASCII characters and spaces (no tabs, newlines or non-ASCII characters)",
            accepted: vec![create(|o| {
                o["spec"]["securityProfileDescription"] =
                    json!("Fleet A: alerts ~ 50% (p99) [team@x]");
            })],
            rejected: vec![
                (
                    create(|o| o["spec"]["securityProfileDescription"] = json!("two\nlines")),
                    r#"spec.securityProfileDescription: Invalid value: "string": securityProfileDescription may contain only printable ASCII characters and spaces (no tabs, newlines or non-ASCII characters)"#,
                ),
                (
                    create(|o| o["spec"]["securityProfileDescription"] = json!("café")),
                    r#"spec.securityProfileDescription: Invalid value: "string": securityProfileDescription may contain only printable ASCII characters and spaces (no tabs, newlines or non-ASCII characters)"#,
                ),
            ],
        },
        Row {
            message: "tag keys starting with iot.awscc.io/ are reserved for the operator and aws: (in any case) for AWS",
            accepted: vec![create(|o| {
                o["spec"]["tags"] = json!([{"key": "team/iot.awscc.io", "value": "x"}, {"key": "awsome", "value": "y"}]);
            })],
            rejected: vec![
                (
                    create(|o| {
                        o["spec"]["tags"] = json!([{"key": "iot.awscc.io/name", "value": "x"}])
                    }),
                    r#"spec.tags: Invalid value: "array": tag keys starting with iot.awscc.io/ are reserved for the operator and aws: (in any case) for AWS"#,
                ),
                (
                    create(|o| {
                        o["spec"]["tags"] = json!([{"key": "AWS:cloudformation", "value": "x"}])
                    }),
                    r#"spec.tags: Invalid value: "array": tag keys starting with iot.awscc.io/ are reserved for the operator and aws: (in any case) for AWS"#,
                ),
            ],
        },
        Row {
            message: "a rule-based behavior (criteria without mlDetectionConfig) requires a metric",
            accepted: vec![
                create(|o| o["spec"]["behaviors"] = json!([{"name": "retain-only"}])),
                create(|o| {
                    let mut b = ml_behavior("ml");
                    b.as_object_mut().unwrap().remove("metric");
                    o["spec"]["behaviors"] = json!([b]);
                }),
            ],
            rejected: vec![(
                create(|o| {
                    o["spec"]["behaviors"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("metric");
                }),
                "spec.behaviors[0].metric: Required value: a rule-based behavior (criteria without mlDetectionConfig) requires a metric",
            )],
        },
        Row {
            message: "criteria with mlDetectionConfig cannot set comparisonOperator: ML Detect learns the threshold",
            accepted: vec![create(criteria(
                json!({ML: ml(), "consecutiveDatapointsToAlarm": 2, "consecutiveDatapointsToClear": 2}),
            ))],
            rejected: vec![(
                create(criteria(
                    json!({ML: ml(), "comparisonOperator": "greater-than"}),
                )),
                "spec.behaviors[0].criteria.comparisonOperator: Forbidden: criteria with mlDetectionConfig cannot set comparisonOperator: ML Detect learns the threshold",
            )],
        },
        Row {
            message: "criteria with mlDetectionConfig cannot set value: ML Detect learns the threshold",
            accepted: vec![create(criteria(json!({ML: ml()})))],
            rejected: vec![(
                create(criteria(json!({ML: ml(), "value": {"count": 1}}))),
                "spec.behaviors[0].criteria.value: Forbidden: criteria with mlDetectionConfig cannot set value: ML Detect learns the threshold",
            )],
        },
        Row {
            message: "criteria with mlDetectionConfig cannot set statisticalThreshold: ML Detect learns the threshold",
            accepted: vec![create(criteria(json!({ML: ml(), "durationSeconds": 300})))],
            rejected: vec![(
                create(criteria(
                    json!({ML: ml(), "statisticalThreshold": {"statistic": "p90"}}),
                )),
                "spec.behaviors[0].criteria.statisticalThreshold: Forbidden: criteria with mlDetectionConfig cannot set statisticalThreshold: ML Detect learns the threshold",
            )],
        },
        Row {
            message: "rule-based criteria (without mlDetectionConfig) require a comparisonOperator",
            accepted: vec![create(criteria(
                json!({"comparisonOperator": "in-port-set", "value": {"ports": [443]}}),
            ))],
            rejected: vec![
                (
                    create(criteria(json!({"value": {"count": 1}}))),
                    "spec.behaviors[0].criteria.comparisonOperator: Required value: rule-based criteria (without mlDetectionConfig) require a comparisonOperator",
                ),
                (
                    create(criteria(
                        json!({"statisticalThreshold": {"statistic": "p50"}}),
                    )),
                    "spec.behaviors[0].criteria.comparisonOperator: Required value: rule-based criteria (without mlDetectionConfig) require a comparisonOperator",
                ),
            ],
        },
        Row {
            message: "rule-based criteria (without mlDetectionConfig) require value or statisticalThreshold",
            accepted: vec![create(criteria(json!({
                "comparisonOperator": "less-than", "statisticalThreshold": {"statistic": "p99.9"},
                "durationSeconds": 900
            })))],
            rejected: vec![(
                create(criteria(
                    json!({"comparisonOperator": "greater-than", "durationSeconds": 300}),
                )),
                "spec.behaviors[0].criteria.value: Required value: rule-based criteria (without mlDetectionConfig) require value or statisticalThreshold",
            )],
        },
        Row {
            message: "rule-based criteria take exactly one of value or statisticalThreshold, not both",
            accepted: vec![create(criteria(
                json!({"comparisonOperator": "in-set", "value": {"strings": ["a", "b"]}}),
            ))],
            rejected: vec![(
                create(criteria(json!({
                    "comparisonOperator": "greater-than", "value": {"count": 5},
                    "statisticalThreshold": {"statistic": "p90"}
                }))),
                "spec.behaviors[0].criteria.statisticalThreshold: Forbidden: rule-based criteria take exactly one of value or statisticalThreshold, not both",
            )],
        },
    ]
}

/// Every `x-kubernetes-validations` message in the schema, with the schema location it sits at.
fn cel_rules(node: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match node {
        Value::Object(map) => {
            for rule in map
                .get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let message = rule["message"].as_str().unwrap_or_else(|| {
                    panic!("the rule at {at} has no message: {rule}");
                });
                out.push((message.to_string(), at.to_string()));
            }
            for (k, v) in map {
                cel_rules(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                cel_rules(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_cel_rule_has_an_accepted_and_a_rejected_manifest() {
    let schema = security_profile_schema();
    let mut found = Vec::new();
    cel_rules(&schema, "", &mut found);
    assert!(found.len() >= 12, "only {} CEL rules found", found.len());
    let in_crd: BTreeSet<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        in_crd.len(),
        found.len(),
        "CEL messages must be unique to tell rules apart: {found:?}"
    );

    let rows = rows();
    let in_table: BTreeSet<&str> = rows.iter().map(|r| r.message).collect();
    let missing: Vec<_> = found
        .iter()
        .filter(|(m, _)| !in_table.contains(m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "CEL rules without a row (message, schema location): {missing:?}"
    );
    let stale: Vec<_> = in_table.difference(&in_crd).collect();
    assert!(
        stale.is_empty(),
        "rows for rules the CRD no longer has: {stale:?}"
    );

    for row in rows {
        assert!(
            !row.accepted.is_empty() && !row.rejected.is_empty(),
            "{:?} needs an accepted and a rejected manifest",
            row.message
        );
        for w in row.accepted {
            assert_eq!(
                errors(&schema, w.new.clone(), w.old.as_ref()),
                Vec::<String>::new(),
                "{:?} rejects {}",
                row.message,
                w.new["spec"]
            );
        }
        for (w, expected) in row.rejected {
            assert!(
                expected.ends_with(row.message),
                "the expected error {expected:?} is not the rule's message {:?}",
                row.message
            );
            assert_eq!(
                errors(&schema, w.new.clone(), w.old.as_ref()),
                vec![expected.to_string()],
                "{:?} on {}",
                row.message,
                w.new["spec"]
            );
        }
    }
}
