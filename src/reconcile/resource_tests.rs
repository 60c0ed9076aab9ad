//! Tests of the CustomMetric/Dimension planner: executing a plan on the observed state yields
//! the desired one; an in-sync resource plans nothing; ownership tags are never removed; what
//! is not ours is never written or deleted; a resource in use is never deleted.

use super::model::{Owner, is_reserved_tag};
use super::*;
use crate::api::*;
use proptest::collection::{btree_map, btree_set};
use proptest::option;
use proptest::prelude::*;
use std::collections::BTreeMap;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:dimension/d";

fn owner() -> Owner {
    Owner {
        cluster: "c1".into(),
        namespace: "ns".into(),
        name: "d".into(),
    }
}

fn dimension_attributes() -> impl Strategy<Value = DimensionAttributes> {
    btree_set(prop::sample::select(vec!["a/#", "b/+", "c", "d/e"]), 1..4).prop_map(|v| {
        DimensionAttributes::new(
            DimensionType::TopicFilter,
            v.into_iter().map(String::from).collect(),
        )
    })
}

fn user_tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(
        prop::sample::select(vec!["team", "env", "cost"]).prop_map(String::from),
        prop::sample::select(vec!["a", "b"]).prop_map(String::from),
        0..3,
    )
}

fn desired(
    attributes: DimensionAttributes,
    tags: BTreeMap<String, String>,
) -> ResourceDesired<DimensionAttributes> {
    ResourceDesired {
        name: "d".into(),
        attributes,
        tags,
        owner: owner(),
        deletion_policy: DeletionPolicy::Delete,
        adoption_policy: AdoptionPolicy::None,
        management_policy: ManagementPolicy::Manage,
        deleting: false,
    }
}

fn observed(
    attributes: DimensionAttributes,
    tags: BTreeMap<String, String>,
) -> ResourceObserved<DimensionAttributes> {
    ResourceObserved {
        arn: ARN.into(),
        attributes,
        tags,
        creation_date: None,
        last_modified_date: None,
    }
}

proptest! {
    #[test]
    fn executing_the_plan_converges_and_a_second_plan_is_empty(
        want in dimension_attributes(),
        have in option::of(dimension_attributes()),
        want_tags in user_tags(),
        have_tags in user_tags(),
        ours in any::<bool>(),
    ) {
        let d = desired(want, want_tags);
        let mut have_tags = have_tags;
        if ours {
            have_tags.extend(owner().tags());
        }
        let o = have.map(|a| observed(a, have_tags));
        let mut d = d;
        d.adoption_policy = AdoptionPolicy::Adopt;
        let ResourcePlan::Converge { steps, adopt } = plan_resource(&d, o.as_ref(), &[]) else {
            panic!("an owned or adoptable resource converges");
        };
        prop_assert_eq!(adopt, o.is_some() && !ours);
        for s in &steps {
            if let ResourceStep::Untag(keys) = s {
                prop_assert!(keys.iter().all(|k| !is_reserved_tag(k)));
            }
        }
        let after = simulate_resource(o.as_ref(), &steps, ARN).unwrap();
        prop_assert_eq!(&after.attributes, &d.attributes);
        prop_assert_eq!(&after.tags, &d.all_tags());
        prop_assert_eq!(
            plan_resource(&d, Some(&after), &[]),
            ResourcePlan::Converge { steps: vec![], adopt: false }
        );
    }
}

#[test]
fn an_unowned_resource_is_refused_without_adoption_and_another_owner_always() {
    let d = desired(
        DimensionAttributes::new(DimensionType::TopicFilter, vec!["a".into()]),
        BTreeMap::new(),
    );
    let o = observed(d.attributes.clone(), BTreeMap::new());
    assert_eq!(
        plan_resource(&d, Some(&o), &[]),
        ResourcePlan::Refuse(ResourceRefusal::AlreadyExists)
    );
    let mut other = owner().tags();
    other.insert("iot.awscc.io/name".into(), "someone-else".into());
    let o = observed(d.attributes.clone(), other);
    let mut adopting = d.clone();
    adopting.adoption_policy = AdoptionPolicy::Adopt;
    assert!(matches!(
        plan_resource(&adopting, Some(&o), &[]),
        ResourcePlan::Refuse(ResourceRefusal::OwnedByAnother(_))
    ));
    let mut deleting = d;
    deleting.deleting = true;
    assert_eq!(
        plan_resource(&deleting, Some(&o), &[]),
        ResourcePlan::Finalize {
            steps: vec![],
            farewell: ResourceFarewell::NotOurs
        }
    );
}

#[test]
fn a_metric_of_another_type_is_refused_not_updated() {
    let want = CustomMetricAttributes::new(Some("Battery".into()), CustomMetricType::Number);
    let have = CustomMetricAttributes::new(None, CustomMetricType::StringList);
    let d = ResourceDesired {
        name: "battery".into(),
        attributes: want,
        tags: BTreeMap::new(),
        owner: owner(),
        deletion_policy: DeletionPolicy::Delete,
        adoption_policy: AdoptionPolicy::Adopt,
        management_policy: ManagementPolicy::Manage,
        deleting: false,
    };
    let o = ResourceObserved {
        arn: "arn".into(),
        attributes: have,
        tags: BTreeMap::new(),
        creation_date: None,
        last_modified_date: None,
    };
    assert_eq!(
        plan_resource(&d, Some(&o), &[]),
        ResourcePlan::Refuse(ResourceRefusal::Immutable(vec!["metricType"]))
    );
}

#[test]
fn a_resource_in_use_is_not_deleted_and_names_its_users() {
    let mut d = desired(
        DimensionAttributes::new(DimensionType::TopicFilter, vec!["a".into()]),
        BTreeMap::new(),
    );
    d.deleting = true;
    let o = observed(d.attributes.clone(), owner().tags());
    assert!(needs_users(&d, Some(&o)));
    let users = vec!["fleet".to_string(), "gateways".to_string()];
    assert_eq!(
        plan_resource(&d, Some(&o), &users),
        ResourcePlan::Finalize {
            steps: vec![],
            farewell: ResourceFarewell::InUse(users)
        }
    );
    assert_eq!(
        plan_resource(&d, Some(&o), &[]),
        ResourcePlan::Finalize {
            steps: vec![ResourceStep::Delete],
            farewell: ResourceFarewell::Deleted
        }
    );
}

#[test]
fn retain_and_observe_never_delete_nor_ask_for_users() {
    for (deletion, management) in [
        (DeletionPolicy::Retain, ManagementPolicy::Manage),
        (DeletionPolicy::Delete, ManagementPolicy::Observe),
    ] {
        let mut d = desired(
            DimensionAttributes::new(DimensionType::TopicFilter, vec!["a".into()]),
            BTreeMap::new(),
        );
        d.deleting = true;
        d.deletion_policy = deletion;
        d.management_policy = management;
        let o = observed(d.attributes.clone(), owner().tags());
        assert!(!needs_users(&d, Some(&o)));
        assert_eq!(
            plan_resource(&d, Some(&o), &["p".into()]),
            ResourcePlan::Finalize {
                steps: vec![],
                farewell: ResourceFarewell::Retained
            }
        );
    }
    let mut d = desired(
        DimensionAttributes::new(DimensionType::TopicFilter, vec!["a".into()]),
        BTreeMap::new(),
    );
    d.management_policy = ManagementPolicy::Observe;
    assert_eq!(plan_resource(&d, None, &[]), ResourcePlan::Observe);
}

#[test]
fn topic_filters_are_a_set_and_display_names_empty_means_none() {
    assert_eq!(
        DimensionAttributes::new(
            DimensionType::TopicFilter,
            vec!["b".into(), "a".into(), "b".into()]
        ),
        DimensionAttributes::new(DimensionType::TopicFilter, vec!["a".into(), "b".into()])
    );
    assert_eq!(
        CustomMetricAttributes::new(Some(String::new()), CustomMetricType::Number),
        CustomMetricAttributes::new(None, CustomMetricType::Number)
    );
}

#[test]
fn names_default_to_metadata_name_when_valid() {
    let mut cm = CustomMetric::new(
        "battery.level",
        CustomMetricSpec {
            metric_name: None,
            region: None,
            display_name: None,
            metric_type: CustomMetricType::Number,
            tags: None,
            deletion_policy: Default::default(),
            adoption_policy: Default::default(),
            management_policy: Default::default(),
        },
    );
    let err = desired_custom_metric(&cm, "c").unwrap_err();
    assert!(err.to_string().contains("set spec.metricName"), "{err}");
    cm.spec.metric_name = Some("batteryLevel".into());
    assert_eq!(
        desired_custom_metric(&cm, "c").unwrap().name,
        "batteryLevel"
    );
    let dim = Dimension::new(
        "topics",
        DimensionSpec {
            name: None,
            region: None,
            type_: DimensionType::TopicFilter,
            string_values: vec!["x/#".into()],
            tags: None,
            deletion_policy: Default::default(),
            adoption_policy: Default::default(),
            management_policy: Default::default(),
        },
    );
    assert_eq!(desired_dimension(&dim, "c").unwrap().name, "topics");
}

#[test]
fn observe_across_namespaces_is_refused_and_within_the_namespace_allowed() {
    let mut d = desired(
        DimensionAttributes::new(DimensionType::TopicFilter, vec!["a".into()]),
        BTreeMap::new(),
    );
    d.management_policy = ManagementPolicy::Observe;
    let mut elsewhere = owner().tags();
    elsewhere.insert("iot.awscc.io/namespace".into(), "team-b".into());
    let o = observed(d.attributes.clone(), elsewhere);
    assert!(matches!(
        plan_resource(&d, Some(&o), &[]),
        ResourcePlan::Refuse(ResourceRefusal::OwnedByAnother(_))
    ));
    let mut sibling = owner().tags();
    sibling.insert("iot.awscc.io/name".into(), "sibling".into());
    let o = observed(d.attributes.clone(), sibling);
    assert_eq!(plan_resource(&d, Some(&o), &[]), ResourcePlan::Observe);
    let unowned = observed(d.attributes.clone(), BTreeMap::new());
    assert_eq!(
        plan_resource(&d, Some(&unowned), &[]),
        ResourcePlan::Observe
    );
    assert_eq!(plan_resource(&d, None, &[]), ResourcePlan::Observe);
}
