//! Property tests of the planner: executing a plan on the observed state yields the desired
//! one; an in-sync resource plans nothing; ownership tags are never removed; a profile that is
//! not this resource's is never written or deleted.

use super::model::{CLUSTER_TAG, NAME_TAG, NAMESPACE_TAG, is_reserved_tag};
use super::*;
use crate::api::*;
use proptest::collection::{btree_map, btree_set, vec};
use proptest::option;
use proptest::prelude::*;
use std::collections::BTreeMap;

const ARN: &str = "arn:aws:iot:us-east-1:123456789012:securityprofile/p";

fn owner() -> Owner {
    Owner {
        cluster: "c1".into(),
        namespace: "ns".into(),
        name: "p".into(),
    }
}

fn behavior() -> impl Strategy<Value = Behavior> {
    (
        prop::sample::select(vec!["aws:num-messages-sent", "aws:all-bytes-out"]),
        option::of(0i64..5),
        option::of(prop::sample::select(vec![
            ComparisonOperator::LessThan,
            ComparisonOperator::GreaterThan,
        ])),
        option::of(any::<bool>()),
        option::of(1i32..=10),
    )
        .prop_map(|(metric, count, op, suppress, alarm)| Behavior {
            name: String::new(),
            metric: Some(metric.into()),
            metric_dimension: None,
            criteria: Some(BehaviorCriteria {
                comparison_operator: op,
                value: count.map(|c| MetricValue {
                    count: Some(c),
                    ..Default::default()
                }),
                consecutive_datapoints_to_alarm: alarm,
                ..Default::default()
            }),
            suppress_alerts: suppress,
            export_metric: None,
        })
}

fn attributes() -> impl Strategy<Value = Attributes> {
    (
        option::of(prop::sample::select(vec!["", "first", "second"])),
        btree_map(prop::sample::select(vec!["a", "b", "c"]), behavior(), 0..3),
        option::of(prop::sample::select(vec!["topic-1", "topic-2"])),
        option::of(prop::sample::select(vec!["sns-1", "sns-2"])),
        vec(
            prop::sample::select(vec!["aws:num-connection-attempts", "aws:num-disconnects"]),
            0..2,
        ),
    )
        .prop_map(|(description, behaviors, topic, sns, metrics)| {
            Attributes {
                description: description.map(str::to_string),
                behaviors: behaviors
                    .into_iter()
                    .map(|(name, b)| Behavior {
                        name: name.into(),
                        ..b
                    })
                    .collect(),
                alert_targets: sns.map(|arn| AlertTargets {
                    sns: Some(AlertTarget {
                        alert_target_arn: format!("arn:aws:sns:us-east-1:123456789012:{arn}"),
                        role_arn: "arn:aws:iam::123456789012:role/alerts".into(),
                    }),
                }),
                additional_metrics: metrics
                    .into_iter()
                    .map(|m| MetricToRetain {
                        metric: m.into(),
                        ..Default::default()
                    })
                    .collect(),
                metrics_export: topic.map(|t| MetricsExportConfig {
                    mqtt_topic: t.into(),
                    role_arn: "arn:aws:iam::123456789012:role/export".into(),
                }),
            }
            .normalized()
        })
}

fn targets() -> impl Strategy<Value = std::collections::BTreeSet<String>> {
    btree_set(
        prop::sample::select(vec![
            "arn:aws:iot:us-east-1:123456789012:thinggroup/g1",
            "arn:aws:iot:us-east-1:123456789012:thinggroup/g2",
            "arn:aws:iot:us-east-1:123456789012:all/registered-things",
        ])
        .prop_map(str::to_string),
        0..3,
    )
}

fn user_tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(
        prop::sample::select(vec!["team", "env", "cost"]).prop_map(str::to_string),
        prop::sample::select(vec!["x", "y"]).prop_map(str::to_string),
        0..3,
    )
}

fn desired() -> impl Strategy<Value = Desired> {
    (
        attributes(),
        targets(),
        user_tags(),
        prop::sample::select(vec![DeletionPolicy::Delete, DeletionPolicy::Retain]),
        prop::sample::select(vec![AdoptionPolicy::None, AdoptionPolicy::Adopt]),
    )
        .prop_map(
            |(attributes, targets, tags, deletion_policy, adoption_policy)| Desired {
                name: "p".into(),
                attributes,
                targets,
                tags,
                owner: owner(),
                deletion_policy,
                adoption_policy,
                management_policy: ManagementPolicy::Manage,
                deleting: false,
            },
        )
}

/// Whose tags an observed profile carries.
#[derive(Clone, Debug)]
enum Owned {
    Ours,
    Nobody,
    OtherName,
    OtherCluster,
}

fn observed() -> impl Strategy<Value = Observed> {
    (
        attributes(),
        targets(),
        user_tags(),
        prop::sample::select(vec![
            Owned::Ours,
            Owned::Nobody,
            Owned::OtherName,
            Owned::OtherCluster,
        ]),
        any::<bool>(),
        1i64..20,
    )
        .prop_map(|(attributes, targets, mut tags, owned, aws_tag, version)| {
            let mut ours = owner().tags();
            match owned {
                Owned::Ours => tags.append(&mut ours),
                Owned::Nobody => {}
                Owned::OtherName => {
                    ours.insert(NAME_TAG.into(), "someone-else".into());
                    tags.append(&mut ours);
                }
                Owned::OtherCluster => {
                    ours.insert(CLUSTER_TAG.into(), "c2".into());
                    tags.append(&mut ours);
                }
            }
            if aws_tag {
                tags.insert("aws:cloudformation:stack-name".into(), "s".into());
            }
            Observed {
                arn: ARN.into(),
                version,
                attributes,
                targets,
                tags,
                creation_date: None,
                last_modified_date: None,
            }
        })
}

fn in_sync(desired: &Desired) -> Observed {
    Observed {
        arn: ARN.into(),
        version: 3,
        attributes: desired.attributes.clone(),
        targets: desired.targets.clone(),
        tags: desired.all_tags(),
        creation_date: None,
        last_modified_date: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn executing_the_plan_yields_the_desired_state(d in desired(), o in option::of(observed())) {
        let p = plan(&d, o.as_ref());
        let writable = match &p {
            Plan::Converge { .. } => true,
            Plan::Refuse(_) => false,
            other => panic!("unexpected plan {other:?}"),
        };
        if !writable {
            return Ok(());
        }
        let after = simulate(o.as_ref(), p.steps(), ARN).expect("a converge plan leaves a profile");
        prop_assert_eq!(&after.attributes, &d.attributes);
        prop_assert_eq!(&after.targets, &d.targets);
        let want = d.all_tags();
        let kept: BTreeMap<_, _> = after.tags.iter().filter(|(k, _)| want.contains_key(*k) || !is_reserved_tag(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(kept, want);
        // and the next reconcile finds nothing to do
        prop_assert_eq!(plan(&d, Some(&after)), Plan::Converge { steps: vec![], adopt: false });
    }

    #[test]
    fn an_in_sync_resource_plans_nothing(d in desired()) {
        prop_assert_eq!(plan(&d, Some(&in_sync(&d))), Plan::Converge { steps: vec![], adopt: false });
    }

    #[test]
    fn ownership_and_aws_tags_are_never_removed(d in desired(), o in observed(), deleting in any::<bool>()) {
        let d = Desired { deleting, ..d };
        for step in plan(&d, Some(&o)).steps() {
            if let Step::Untag(keys) = step {
                prop_assert!(keys.iter().all(|k| !is_reserved_tag(k)), "{keys:?}");
                prop_assert!(!keys.contains(CLUSTER_TAG) && !keys.contains(NAMESPACE_TAG) && !keys.contains(NAME_TAG));
            }
        }
    }

    #[test]
    fn a_profile_that_is_not_ours_is_never_written_or_deleted(
        d in desired(),
        o in observed(),
        deleting in any::<bool>(),
        observe in any::<bool>(),
    ) {
        let d = Desired {
            deleting,
            management_policy: if observe { ManagementPolicy::Observe } else { ManagementPolicy::Manage },
            ..d
        };
        let p = plan(&d, Some(&o));
        match Ownership::of(&o.tags, &d.owner) {
            Ownership::Other(_) => prop_assert!(p.steps().is_empty(), "{p:?}"),
            Ownership::Unowned if d.adoption_policy == AdoptionPolicy::None || deleting => {
                prop_assert!(p.steps().is_empty(), "{p:?}")
            }
            _ => {}
        }
        if deleting {
            let only_deletes = p.steps().iter().all(|s| matches!(s, Step::Delete { .. }));
            prop_assert!(only_deletes, "{:?}", p);
        }
        if observe {
            prop_assert!(p.steps().is_empty(), "observe-only wrote: {p:?}");
        }
    }
}

fn base() -> Desired {
    Desired {
        name: "p".into(),
        attributes: Attributes::default(),
        targets: Default::default(),
        tags: Default::default(),
        owner: owner(),
        deletion_policy: DeletionPolicy::Delete,
        adoption_policy: AdoptionPolicy::None,
        management_policy: ManagementPolicy::Manage,
        deleting: false,
    }
}

#[test]
fn create_carries_ownership_tags_then_attaches_targets() {
    let d = Desired {
        targets: ["arn:aws:iot:us-east-1:123456789012:thinggroup/g1".to_string()].into(),
        tags: [("team".to_string(), "a".to_string())].into(),
        ..base()
    };
    let Plan::Converge {
        steps,
        adopt: false,
    } = plan(&d, None)
    else {
        panic!("expected a converge plan")
    };
    assert!(
        matches!(&steps[0], Step::Create { tags, .. } if tags.len() == 4 && tags[CLUSTER_TAG] == "c1")
    );
    assert_eq!(
        steps[1],
        Step::Attach("arn:aws:iot:us-east-1:123456789012:thinggroup/g1".into())
    );
    assert_eq!(steps.len(), 2);
}

#[test]
fn cleared_fields_use_the_delete_flags_and_expected_version() {
    let mut o = in_sync(&base());
    o.version = 7;
    o.attributes.behaviors = vec![Behavior {
        name: "b".into(),
        metric: Some("aws:all-bytes-out".into()),
        ..Default::default()
    }];
    o.attributes.metrics_export = Some(MetricsExportConfig {
        mqtt_topic: "t".into(),
        role_arn: "arn:aws:iam::123456789012:role/export".into(),
    });
    o.attributes.description = Some("old".into());
    let p = plan(&base(), Some(&o));
    assert_eq!(
        p.steps(),
        &[Step::Update {
            expected_version: 7,
            update: AttributeUpdate {
                description: Some(String::new()),
                behaviors: Some(Field::Clear),
                metrics_export: Some(Field::Clear),
                ..Default::default()
            }
        }]
    );
}

#[test]
fn unowned_profile_is_refused_unless_adopted_and_adoption_tags_first() {
    let mut o = in_sync(&base());
    o.tags.clear();
    o.attributes.description = Some("theirs".into());
    assert_eq!(
        plan(&base(), Some(&o)),
        Plan::Refuse(Refusal::AlreadyExists)
    );
    let d = Desired {
        adoption_policy: AdoptionPolicy::Adopt,
        ..base()
    };
    let Plan::Converge { steps, adopt: true } = plan(&d, Some(&o)) else {
        panic!("expected adoption")
    };
    assert_eq!(steps[0], Step::Tag(owner().tags()));
    assert!(matches!(steps[1], Step::Update { .. }));
}

#[test]
fn deletion_deletes_only_our_profile_and_respects_retain() {
    let d = Desired {
        deleting: true,
        ..base()
    };
    let o = in_sync(&base());
    assert_eq!(
        plan(&d, Some(&o)),
        Plan::Finalize {
            steps: vec![Step::Delete {
                expected_version: 3
            }],
            farewell: Farewell::Deleted
        }
    );
    assert_eq!(
        plan(&d, None),
        Plan::Finalize {
            steps: vec![],
            farewell: Farewell::Gone
        }
    );
    let retain = Desired {
        deletion_policy: DeletionPolicy::Retain,
        ..d.clone()
    };
    assert_eq!(
        plan(&retain, Some(&o)),
        Plan::Finalize {
            steps: vec![],
            farewell: Farewell::Retained
        }
    );
    let mut theirs = o.clone();
    theirs.tags.insert(NAME_TAG.into(), "other".into());
    assert_eq!(
        plan(&d, Some(&theirs)),
        Plan::Finalize {
            steps: vec![],
            farewell: Farewell::NotOurs
        }
    );
}

#[test]
fn observe_never_plans_writes() {
    let d = Desired {
        management_policy: ManagementPolicy::Observe,
        ..base()
    };
    assert_eq!(plan(&d, None), Plan::Observe);
}
