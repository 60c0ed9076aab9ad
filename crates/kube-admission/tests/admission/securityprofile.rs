//! The operator's real SecurityProfile CRD (read from `crds/`): pruning, defaulting, the
//! OpenAPI limits carried over from AWS, and the examples users start from.

use crate::errors;
use crate::fixtures::{repo_root, security_profile, security_profile_schema, yaml_documents};
use kube_admission::{CrdSchema, admit};
use serde_json::{Value, json};

fn with(mutate: impl FnOnce(&mut Value)) -> Value {
    let mut obj = security_profile();
    mutate(&mut obj);
    obj
}

fn create_errors(obj: Value) -> Vec<String> {
    errors(&security_profile_schema(), obj, None)
}

const NOT_CHECKED: &str = "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

#[test]
fn a_valid_profile_is_pruned_and_defaulted() {
    let mut obj = with(|o| {
        o["spec"]["unknownField"] = json!(1);
        o["spec"]["behaviors"][0]["criteria"]["typo"] = json!("x");
    });
    assert_eq!(admit(&security_profile_schema(), &mut obj, None), Ok(()));
    assert_eq!(obj["spec"]["deletionPolicy"], "Delete");
    assert_eq!(obj["spec"]["adoptionPolicy"], "None");
    assert_eq!(obj["spec"]["managementPolicy"], "Manage");
    assert!(obj["spec"].get("unknownField").is_none());
    assert!(
        obj["spec"]["behaviors"][0]["criteria"]
            .get("typo")
            .is_none()
    );
    assert_eq!(obj["metadata"]["labels"], json!({"a": "b"}));
}

#[test]
fn every_example_is_admitted() {
    let dir = repo_root().join("examples");
    let mut admitted = 0;
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for doc in yaml_documents(&path) {
            if doc["kind"] != "SecurityProfile" {
                continue;
            }
            assert_eq!(
                create_errors(doc),
                Vec::<String>::new(),
                "{} is rejected",
                path.display()
            );
            admitted += 1;
        }
    }
    assert!(admitted >= 7, "only {admitted} examples found in {dir:?}");
}

#[test]
fn unsupported_comparison_operator() {
    let errs = create_errors(with(|o| {
        o["spec"]["behaviors"][0]["criteria"]["comparisonOperator"] = json!("bigger");
    }));
    assert_eq!(
        errs,
        vec![
            r#"spec.behaviors[0].criteria.comparisonOperator: Unsupported value: "bigger": supported values: "less-than", "less-than-equals", "greater-than", "greater-than-equals", "in-cidr-set", "not-in-cidr-set", "in-port-set", "not-in-port-set", "in-set", "not-in-set""#,
            NOT_CHECKED
        ]
    );
}

#[test]
fn profile_name_length_and_pattern() {
    assert_eq!(
        create_errors(with(
            |o| o["spec"]["securityProfileName"] = json!("a".repeat(129))
        ))[0],
        "spec.securityProfileName: Too long: may not be more than 128 bytes"
    );
    assert_eq!(
        create_errors(with(
            |o| o["spec"]["securityProfileName"] = json!("my.profile")
        )),
        vec![
            r#"spec.securityProfileName: Invalid value: "my.profile": spec.securityProfileName in body should match '^[a-zA-Z0-9:_-]+$'"#
        ]
    );
    assert_eq!(
        create_errors(with(|o| o["spec"]["securityProfileName"] = json!(""))),
        vec![
            r#"spec.securityProfileName: Invalid value: "": spec.securityProfileName in body should be at least 1 chars long"#
        ]
    );
}

/// AWS allows 50 tags per resource and the operator adds 3 ownership tags.
#[test]
fn at_most_47_user_tags() {
    let tags = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
                .collect(),
        )
    };
    assert_eq!(
        create_errors(with(|o| o["spec"]["tags"] = tags(47))),
        Vec::<String>::new()
    );
    assert_eq!(
        create_errors(with(|o| o["spec"]["tags"] = tags(48))),
        vec![
            "spec.tags: Too many: 48: must have at most 47 items",
            NOT_CHECKED
        ]
    );
}

#[test]
fn tag_keys_follow_the_aws_pattern() {
    assert_eq!(
        create_errors(with(|o| {
            o["spec"]["tags"] = json!([
                {"key": "Équipe 1_.:/=+-@", "value": "ok"},
                {"key": "数字٣", "value": "ok"}
            ])
        })),
        Vec::<String>::new()
    );
    assert_eq!(
        create_errors(with(
            |o| o["spec"]["tags"] = json!([{"key": "cost#center", "value": "x"}])
        )),
        vec![
            r#"spec.tags[0].key: Invalid value: "cost#center": spec.tags[0].key in body should match '^[\p{L}\p{Z}\p{N}_.:/=+@-]*$'"#
        ]
    );
    assert_eq!(
        create_errors(with(
            |o| o["spec"]["tags"] = json!([{"key": "k", "value": "v".repeat(257)}])
        ))[0],
        "spec.tags[0].value: Too long: may not be more than 256 bytes"
    );
}

#[test]
fn cidrs_follow_the_aws_pattern() {
    let cidrs = |list: Value| {
        with(|o| {
            o["spec"]["behaviors"][0]["metric"] = json!("aws:destination-ip-addresses");
            o["spec"]["behaviors"][0]["criteria"] =
                json!({"comparisonOperator": "not-in-cidr-set", "value": {"cidrs": list}});
        })
    };
    assert_eq!(
        create_errors(cidrs(json!(["10.0.0.0/8", "2001:db8::/32"]))),
        Vec::<String>::new()
    );
    assert_eq!(
        create_errors(cidrs(json!(["10.0.0.0/8", "ten/8"]))),
        vec![
            r#"spec.behaviors[0].criteria.value.cidrs[1]: Invalid value: "ten/8": spec.behaviors[0].criteria.value.cidrs[1] in body should match '^[a-fA-F0-9:./]+$'"#
        ]
    );
}

#[test]
fn ml_detection_config_needs_a_confidence_level() {
    assert_eq!(
        create_errors(with(|o| {
            o["spec"]["behaviors"][0]["criteria"] = json!({"mlDetectionConfig": {}});
        })),
        vec![
            "spec.behaviors[0].criteria.mlDetectionConfig.confidenceLevel: Required value",
            NOT_CHECKED
        ]
    );
}

#[test]
fn behavior_names_and_targets_are_unique() {
    let errs = create_errors(with(|o| {
        let b = o["spec"]["behaviors"][0].clone();
        o["spec"]["behaviors"].as_array_mut().unwrap().push(b);
        let t = o["spec"]["targetArns"][0].clone();
        o["spec"]["targetArns"].as_array_mut().unwrap().push(t);
    }));
    assert_eq!(
        errs,
        vec![
            r#"spec.behaviors[1]: Duplicate value: {"name":"msgs"}"#,
            r#"spec.targetArns[1]: Duplicate value: "arn:aws:iot:eu-west-1:123456789012:all/registered-things""#
        ]
    );
}

#[test]
fn too_many_behaviors() {
    let errs = create_errors(with(|o| {
        o["spec"]["behaviors"] = Value::Array(
            (0..101)
                .map(|i| json!({"name": format!("b{i}"), "metric": "m"}))
                .collect(),
        );
    }));
    assert_eq!(
        errs,
        vec![
            "spec.behaviors: Too many: 101: must have at most 100 items",
            NOT_CHECKED
        ]
    );
}

#[test]
fn numeric_limits_and_nested_required_fields() {
    let errs = create_errors(with(|o| {
        let c = &mut o["spec"]["behaviors"][0]["criteria"];
        c["consecutiveDatapointsToAlarm"] = json!(11);
        c["value"] = json!({"count": -1, "ports": [80, 70000]});
        o["spec"]["alertTargets"] = json!({"SNS": {"roleArn": "arn:short"}});
    }));
    assert_eq!(
        errs,
        vec![
            "spec.alertTargets.SNS.roleArn: Invalid value: \"arn:short\": spec.alertTargets.SNS.roleArn in body should be at least 20 chars long",
            "spec.alertTargets.SNS.alertTargetArn: Required value",
            "spec.behaviors[0].criteria.consecutiveDatapointsToAlarm: Invalid value: 11: spec.behaviors[0].criteria.consecutiveDatapointsToAlarm in body should be less than or equal to 10",
            "spec.behaviors[0].criteria.value.count: Invalid value: -1: spec.behaviors[0].criteria.value.count in body should be greater than or equal to 0",
            "spec.behaviors[0].criteria.value.ports[1]: Invalid value: 70000: spec.behaviors[0].criteria.value.ports[1] in body should be less than or equal to 65535",
            NOT_CHECKED
        ]
    );
}

#[test]
fn name_and_region_cannot_change_but_can_be_removed_to_undo_an_edit() {
    let schema = CrdSchema::new(&security_profile_schema());
    let mut stored = security_profile();
    assert_eq!(schema.admit(&mut stored, None), Ok(()));

    let mut renamed = with(|o| o["spec"]["securityProfileName"] = json!("other"));
    let errs = schema.admit(&mut renamed, Some(&stored)).unwrap_err();
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        vec![
            "spec.securityProfileName: Forbidden: securityProfileName is immutable once set (removing it again is allowed, to undo an edit)"
        ]
    );
    assert_eq!(errs[0].reason(), "FieldValueForbidden");

    let mut moved = with(|o| o["spec"]["region"] = json!("us-west-2"));
    let errs = schema.admit(&mut moved, Some(&stored)).unwrap_err();
    let rendered: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        vec![
            "spec.region: Forbidden: region is immutable once set (removing it again is allowed, to undo an edit)"
        ]
    );

    let mut undone = with(|o| {
        o["spec"].as_object_mut().unwrap().remove("region");
    });
    assert_eq!(schema.admit(&mut undone, Some(&stored)), Ok(()));

    let mut edited = with(|o| o["spec"]["securityProfileDescription"] = json!("now described"));
    assert_eq!(schema.admit(&mut edited, Some(&stored)), Ok(()));
}

#[test]
fn status_is_validated_too() {
    let schema = security_profile_schema();
    let obj = with(|o| {
        o["status"] = json!({
            "observedGeneration": 1,
            "lastSyncTime": "2026-11-26T12:00:00Z",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Available", "message": "",
                 "lastTransitionTime": "2026-11-26T12:00:00Z"},
                {"type": "Synced", "status": "False", "reason": "InvalidSpec",
                 "lastTransitionTime": "yesterday"}
            ]
        });
    });
    assert_eq!(
        errors(&schema, obj, None),
        vec![
            r#"status.conditions[1].lastTransitionTime: Invalid value: "yesterday": status.conditions[1].lastTransitionTime in body must be of type date-time: "yesterday""#,
            "status.conditions[1].message: Required value",
            NOT_CHECKED
        ]
    );
}
