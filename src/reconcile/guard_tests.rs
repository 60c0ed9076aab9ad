//! The guardrails: globs, regions, allowlists narrowed per namespace, adoption, Observe.

use super::guard::*;
use super::identity::{Identity, Resolution};
use super::model::{Attributes, Desired, Observed, Owner};
use super::outcome::Plan;
use super::plan::{Facts, Step};
use crate::api::*;
use std::collections::{BTreeMap, BTreeSet};

const ROLE: &str = "arn:aws:iam::123456789012:role/team-a-alerts";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:team-a";
const GROUP: &str = "arn:aws:iot:us-east-1:123456789012:thinggroup/team-a-gateways";
const ALL: &str = "arn:aws:iot:us-east-1:123456789012:all/registered-things";

fn desired() -> Desired {
    Desired {
        name: "p".into(),
        attributes: Attributes {
            alert_targets: Some(AlertTargets {
                sns: Some(AlertTarget {
                    alert_target_arn: TOPIC.into(),
                    role_arn: ROLE.into(),
                }),
            }),
            metrics_export: Some(MetricsExportConfig {
                mqtt_topic: "$aws/rules/team_a".into(),
                role_arn: ROLE.into(),
            }),
            ..Default::default()
        },
        targets: BTreeSet::from([GROUP.to_string()]),
        tags: BTreeMap::new(),
        owner: Owner {
            cluster: "c1".into(),
            namespace: "team-a".into(),
            name: "p".into(),
        },
        deletion_policy: DeletionPolicy::Delete,
        adoption_policy: AdoptionPolicy::Adopt,
        management_policy: ManagementPolicy::Manage,
        deleting: false,
    }
}

/// The plan for `d` given what AWS holds (an identity not recorded yet).
fn plan(d: &Desired, observed: Option<&Observed>) -> Plan {
    let resolution = Resolution {
        identity: Identity {
            name: d.name.clone(),
            region: "us-east-1".into(),
        },
        pinned: false,
        moved_to: None,
    };
    let facts = Facts {
        resolution: &resolution,
        observed,
        was_ready: false,
    };
    super::plan::plan(d, facts)
}

fn observed(tags: &[(&str, &str)], targets: &[&str]) -> Observed {
    Observed {
        arn: "arn:aws:iot:us-east-1:123456789012:securityprofile/p".into(),
        version: 1,
        attributes: Attributes::default(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        creation_date: None,
        last_modified_date: None,
    }
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rules(role_arns: &[&str]) -> ClusterRules {
    ClusterRules {
        allow_adoption: false,
        lists: Lists {
            role_arns: Allowlist::from_flag(
                &role_arns.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            ),
            ..Default::default()
        },
    }
}

fn forbidden_field(r: Result<(), Denial>) -> (String, String) {
    match r {
        Err(Denial::Forbidden { field, value, .. }) => (field, value),
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

#[test]
fn globs() {
    assert!(glob_match("arn:aws:iam::*:role/team-a-*", ROLE));
    assert!(!glob_match("arn:aws:iam::*:role/team-b-*", ROLE));
    assert!(glob_match("*", ""));
    assert!(glob_match("eu-west-?", "eu-west-1"));
    assert!(!glob_match("eu-west-?", "eu-west-10"));
    assert!(glob_match("a*b*c", "aXXbYYbc"));
    assert!(!glob_match("a*b*c", "aXXbYYb"));
    assert!(
        !glob_match("exact", "exactly"),
        "the whole value must match"
    );
}

#[test]
fn regions_unknown_or_malformed_are_forbidden_by_default() {
    let g = Guard::new(&ClusterRules::default(), "team-a", &BTreeMap::new());
    assert!(g.check_region("eu-west-1").is_ok());
    for bad in [
        "mars-north-1",
        "us-east-1 ",
        "US-EAST-1",
        "",
        "../x",
        "us-east",
    ] {
        let (field, value) = forbidden_field(g.check_region(bad));
        assert_eq!((field.as_str(), value.as_str()), ("region", bad));
    }
}

#[test]
fn an_admin_list_admits_new_regions_of_the_right_shape_only() {
    let mut r = ClusterRules::default();
    r.lists.regions = Allowlist::from_flag(&["eu-*".into(), "xx-new-1".into(), "bad".into()]);
    let g = Guard::new(&r, "team-a", &BTreeMap::new());
    assert!(
        g.check_region("xx-new-1").is_ok(),
        "a region newer than the build"
    );
    assert!(g.check_region("eu-west-1").is_ok());
    assert!(g.check_region("us-east-1").is_err(), "not in the list");
    assert!(g.check_region("bad").is_err(), "listed but not a region");
}

#[test]
fn empty_flags_restrict_nothing() {
    let r = ClusterRules {
        allow_adoption: false,
        lists: Lists {
            role_arns: Allowlist::from_flag(&["".into()]),
            ..Default::default()
        },
    };
    let g = Guard::new(&r, "team-a", &BTreeMap::new());
    assert!(g.check_spec(&desired(), "us-east-1").is_ok());
}

#[test]
fn cluster_list_refuses_with_field_path_and_value() {
    let g = Guard::new(
        &rules(&["arn:aws:iam::123456789012:role/other-*"]),
        "team-a",
        &BTreeMap::new(),
    );
    let err = g.check_spec(&desired(), "us-east-1").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("spec.alertTargets.SNS.roleArn"),
        "{message}"
    );
    assert!(message.contains(ROLE), "{message}");
    assert!(message.contains("--allowed-role-arns"), "{message}");
}

#[test]
fn namespace_list_only_narrows() {
    // The namespace names a role the cluster list does not allow: still refused.
    let g = Guard::new(
        &rules(&["arn:aws:iam::123456789012:role/team-b-*"]),
        "team-a",
        &annotations(&[("iot.awscc.io/allowed-role-arns", ROLE)]),
    );
    assert!(g.check_spec(&desired(), "us-east-1").is_err());
    // The cluster allows every role, the namespace only its own.
    let g = Guard::new(
        &rules(&[]),
        "team-a",
        &annotations(&[(
            "iot.awscc.io/allowed-role-arns",
            "arn:aws:iam::*:role/team-b-*",
        )]),
    );
    let err = g.check_spec(&desired(), "us-east-1").unwrap_err();
    assert!(err.to_string().contains("iot.awscc.io/allowed-role-arns"));
    // An empty annotation allows nothing.
    let g = Guard::new(
        &rules(&[]),
        "team-a",
        &annotations(&[("iot.awscc.io/allowed-role-arns", " ")]),
    );
    assert!(g.check_spec(&desired(), "us-east-1").is_err());
}

#[test]
fn every_listed_field_is_checked() {
    let cases = [
        (
            "iot.awscc.io/allowed-sns-topic-arns",
            "spec.alertTargets.SNS.alertTargetArn",
            TOPIC,
        ),
        (
            "iot.awscc.io/allowed-mqtt-topics",
            "spec.metricsExportConfig.mqttTopic",
            "$aws/rules/team_a",
        ),
        ("iot.awscc.io/allowed-target-arns", "spec.targetArns", GROUP),
        ("iot.awscc.io/allowed-regions", "region", "us-east-1"),
    ];
    for (annotation, path, value) in cases {
        let g = Guard::new(
            &rules(&[]),
            "team-a",
            &annotations(&[(annotation, "nothing-*")]),
        );
        let (field, got) = forbidden_field(g.check_spec(&desired(), "us-east-1"));
        assert_eq!(
            (field.as_str(), got.as_str()),
            (path, value),
            "{annotation}"
        );
    }
    let g = Guard::new(
        &rules(&[]),
        "team-a",
        &annotations(&[(
            "iot.awscc.io/allowed-role-arns",
            "arn:aws:iam::*:role/team-a-alerts",
        )]),
    );
    let mut d = desired();
    if let Some(m) = d.attributes.metrics_export.as_mut() {
        m.role_arn = "arn:aws:iam::123456789012:role/fleet-admin".into();
    }
    let (field, _) = forbidden_field(g.check_spec(&d, "us-east-1"));
    assert_eq!(field, "spec.metricsExportConfig.roleArn");
}

#[test]
fn adoption_needs_the_annotation_or_the_flag() {
    let d = desired();
    let o = observed(&[("owner", "ops")], &[]);
    let p = plan(&d, Some(&o));
    assert!(matches!(p, Plan::Converge(_)));
    let closed = Guard::new(&rules(&[]), "team-a", &BTreeMap::new());
    assert!(matches!(
        closed.check_plan(&d, Some(&o), &p),
        Err(Denial::AdoptionNotAllowed { .. })
    ));
    let annotated = Guard::new(
        &rules(&[]),
        "team-a",
        &annotations(&[(ALLOW_ADOPTION_ANNOTATION, "true")]),
    );
    assert!(annotated.check_plan(&d, Some(&o), &p).is_ok());
    let flag = ClusterRules {
        allow_adoption: true,
        ..Default::default()
    };
    assert!(
        Guard::new(&flag, "team-a", &BTreeMap::new())
            .check_plan(&d, Some(&o), &p)
            .is_ok()
    );
    // Our own profile is no adoption.
    let ours: Vec<(String, String)> = d.owner.tags().into_iter().collect();
    let ours: Vec<(&str, &str)> = ours.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = observed(&ours, &[]);
    assert!(closed.check_plan(&d, Some(&o), &plan(&d, Some(&o))).is_ok());
}

#[test]
fn adoption_that_would_detach_a_forbidden_target_writes_nothing() {
    let d = desired();
    let o = observed(&[], &[ALL]);
    let p = plan(&d, Some(&o));
    assert!(p.steps().contains(&Step::Detach(ALL.into())));
    let g = Guard::new(
        &ClusterRules {
            allow_adoption: true,
            lists: Lists {
                target_arns: Allowlist::from_flag(&["*:thinggroup/team-a-*".into()]),
                ..Default::default()
            },
        },
        "team-a",
        &BTreeMap::new(),
    );
    let (field, value) = forbidden_field(g.check_plan(&d, Some(&o), &p));
    assert_eq!((field.as_str(), value.as_str()), ("existing target", ALL));
}

#[test]
fn adopting_a_custom_metric_or_dimension_follows_the_rule_of_profiles() {
    use super::resource::ResourcePlan;
    let adopt: ResourcePlan<()> = ResourcePlan::Converge {
        steps: vec![],
        adopt: true,
    };
    let own: ResourcePlan<()> = ResourcePlan::Converge {
        steps: vec![],
        adopt: false,
    };
    let closed = Guard::new(&rules(&[]), "team-a", &BTreeMap::new());
    let denial = closed
        .check_resource_plan("custom metric", "batteryLevel", &adopt)
        .unwrap_err();
    assert_eq!(denial.reason(), Reason::AdoptionNotAllowed);
    let message = denial.to_string();
    assert!(
        message.starts_with("custom metric \"batteryLevel\" exists in AWS without ownership tags")
            && message.contains("iot.awscc.io/allow-adoption"),
        "{message}"
    );
    assert!(closed.check_resource_plan("dimension", "d", &own).is_ok());
    let annotated = Guard::new(
        &rules(&[]),
        "team-a",
        &annotations(&[(ALLOW_ADOPTION_ANNOTATION, "true")]),
    );
    assert!(
        annotated
            .check_resource_plan("dimension", "d", &adopt)
            .is_ok()
    );
}
