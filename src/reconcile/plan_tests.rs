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

/// The planner for a resource that holds its profile (pinned) and was not Ready before.
fn plan(d: &Desired, o: Option<&Observed>) -> Plan {
    let resolution = Resolution {
        identity: id(d),
        pinned: true,
        moved_to: None,
    };
    super::plan(
        d,
        Facts {
            resolution: &resolution,
            observed: o,
            was_ready: false,
        },
    )
}

fn id(d: &Desired) -> Identity {
    Identity {
        name: d.name.clone(),
        region: "us-east-1".into(),
    }
}

/// A converge plan with no step.
fn nothing() -> Plan {
    Plan::Converge(Convergence {
        steps: vec![],
        record_first: false,
        announce: None,
    })
}

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
            Plan::Converge(_) => true,
            Plan::Refuse(_) => false,
            other => panic!("unexpected plan {other:?}"),
        };
        if !writable {
            return Ok(());
        }
        let after = simulate(o.as_ref(), p.steps(), ARN).expect("a converge plan leaves a profile");
        prop_assert!(after.attributes.same_as(&d.attributes), "{:?} != {:?}", after.attributes, d.attributes);
        prop_assert_eq!(&after.targets, &d.targets);
        let want = d.all_tags();
        let kept: BTreeMap<_, _> = after.tags.iter().filter(|(k, _)| want.contains_key(*k) || !is_reserved_tag(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(kept, want);
        // and the next reconcile finds nothing to do
        prop_assert_eq!(plan(&d, Some(&after)), nothing());
    }

    #[test]
    fn an_in_sync_resource_plans_nothing(d in desired()) {
        prop_assert_eq!(plan(&d, Some(&in_sync(&d))), nothing());
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
    let Plan::Converge(Convergence {
        steps,
        announce: None,
        ..
    }) = plan(&d, None)
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
        Plan::Refuse(Refusal::AlreadyExists(id(&base())))
    );
    let d = Desired {
        adoption_policy: AdoptionPolicy::Adopt,
        ..base()
    };
    let Plan::Converge(Convergence {
        steps,
        announce: Some(Announcement {
            reason: "Adopted", ..
        }),
        ..
    }) = plan(&d, Some(&o))
    else {
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
        Plan::Finalize(Finalization {
            steps: vec![Step::Delete {
                expected_version: 3
            }],
            farewell: Farewell::Deleted
        })
    );
    assert_eq!(
        plan(&d, None),
        Plan::Finalize(Finalization {
            steps: vec![],
            farewell: Farewell::Gone
        })
    );
    let retain = Desired {
        deletion_policy: DeletionPolicy::Retain,
        ..d.clone()
    };
    assert_eq!(
        plan(&retain, Some(&o)),
        Plan::Finalize(Finalization {
            steps: vec![],
            farewell: Farewell::Retained(id(&base()))
        })
    );
    let mut theirs = o.clone();
    theirs.tags.insert(NAME_TAG.into(), "other".into());
    assert_eq!(
        plan(&d, Some(&theirs)),
        Plan::Finalize(Finalization {
            steps: vec![],
            farewell: Farewell::NotOurs(id(&base()))
        })
    );
}

#[test]
fn observe_never_plans_writes() {
    let d = Desired {
        management_policy: ManagementPolicy::Observe,
        ..base()
    };
    assert_eq!(
        plan(&d, None),
        Plan::Observe(Observation::Missing(id(&base())))
    );
}

fn facts<'a>(r: &'a Resolution, o: Option<&'a Observed>, was_ready: bool) -> Facts<'a> {
    Facts {
        resolution: r,
        observed: o,
        was_ready,
    }
}

#[test]
fn a_spec_that_names_another_profile_is_refused_while_ours_exists_and_released_when_gone() {
    let moved = Resolution {
        identity: id(&base()),
        pinned: true,
        moved_to: Some(Ok(Identity {
            name: "renamed".into(),
            region: "us-east-1".into(),
        })),
    };
    let ours = in_sync(&base());
    let p = super::plan(&base(), facts(&moved, Some(&ours), true));
    let Plan::Refuse(r) = &p else {
        panic!("expected a refusal, got {p:?}")
    };
    assert_eq!(r.reason(), Reason::InvalidSpec);
    assert!(
        r.message().contains("\"p\"") && r.message().contains("renamed"),
        "{}",
        r.message()
    );
    assert!(p.steps().is_empty());
    // Gone (or never created): forget the recorded identity, then follow the spec.
    let p = super::plan(&base(), facts(&moved, None, true));
    assert_eq!(p, Plan::Release(id(&base())));
    // Not ours (a profile that happened to carry the name): the same.
    let mut theirs = ours.clone();
    theirs.tags.clear();
    let p = super::plan(&base(), facts(&moved, Some(&theirs), true));
    assert_eq!(p, Plan::Release(id(&base())));
}

#[test]
fn the_identity_is_recorded_before_the_first_write_unless_already_recorded() {
    let fresh = Resolution {
        identity: id(&base()),
        pinned: false,
        moved_to: None,
    };
    let Plan::Converge(c) = super::plan(&base(), facts(&fresh, None, false)) else {
        panic!("expected a create")
    };
    assert!(c.record_first);
    let Plan::Converge(c) = plan(&base(), None) else {
        panic!("expected a create")
    };
    assert!(!c.record_first);
}

#[test]
fn drift_names_targets_attached_and_detached_outside_and_a_deleted_profile() {
    let d = Desired {
        targets: ["g1".to_string(), "g2".to_string()].into(),
        ..base()
    };
    let mut o = in_sync(&d);
    o.targets = ["g2".to_string(), "g3".to_string()].into();
    o.attributes.description = Some("changed".into());
    let r = Resolution {
        identity: id(&d),
        pinned: true,
        moved_to: None,
    };
    let Plan::Converge(c) = super::plan(&d, facts(&r, Some(&o), true)) else {
        panic!("expected a converge")
    };
    let a = c.announce.expect("a drift event");
    assert_eq!(a.reason, "DriftCorrected");
    assert!(
        a.message.contains("securityProfileDescription"),
        "{}",
        a.message
    );
    assert!(
        a.message.contains("attached outside the operator: g3"),
        "{}",
        a.message
    );
    assert!(
        a.message.contains("detached outside the operator: g1"),
        "{}",
        a.message
    );
    let Plan::Converge(c) = super::plan(&d, facts(&r, None, true)) else {
        panic!("expected a create")
    };
    assert!(
        c.announce
            .expect("a drift event")
            .message
            .contains("deleted outside")
    );
    // Not Ready before (a spec change): no drift event.
    let Plan::Converge(c) = super::plan(&d, facts(&r, Some(&o), false)) else {
        panic!("expected a converge")
    };
    assert_eq!(c.announce, None);
}

#[test]
fn observe_is_ready_only_when_aws_matches_and_names_what_drifted() {
    let d = Desired {
        management_policy: ManagementPolicy::Observe,
        ..base()
    };
    let o = in_sync(&d);
    let p = plan(&d, Some(&o));
    assert_eq!(p, Plan::Observe(Observation::InSync));
    assert_eq!(p.conditions().unwrap().ready.status, ConditionStatus::True);
    let mut drifted = o.clone();
    drifted.attributes.description = Some("edited in the console".into());
    drifted.targets.insert("g9".into());
    let p = plan(&d, Some(&drifted));
    let ready = p.conditions().unwrap().ready;
    assert_eq!(
        (ready.status, ready.reason),
        (ConditionStatus::False, Reason::Drifted)
    );
    assert!(ready.message.contains("securityProfileDescription") && ready.message.contains("g9"));
    assert!(p.steps().is_empty());
}

#[test]
fn observe_across_namespaces_is_refused_without_naming_the_owner() {
    let d = Desired {
        management_policy: ManagementPolicy::Observe,
        ..base()
    };
    let mut o = in_sync(&d);
    o.tags.insert(NAMESPACE_TAG.into(), "team-b".into());
    o.tags.insert(NAME_TAG.into(), "secret-name".into());
    let Plan::Refuse(r) = plan(&d, Some(&o)) else {
        panic!("expected a refusal")
    };
    assert_eq!(r.reason(), Reason::OwnedByAnother);
    assert!(!r.message().contains("team-b") && !r.message().contains("secret-name"));
    // Same namespace, another resource: observing is fine.
    let mut same_ns = in_sync(&d);
    same_ns.tags.insert(NAME_TAG.into(), "sibling".into());
    assert!(matches!(plan(&d, Some(&same_ns)), Plan::Observe(_)));
}

#[test]
fn adoption_lists_every_change_it_makes() {
    let d = Desired {
        adoption_policy: AdoptionPolicy::Adopt,
        targets: ["keep".to_string()].into(),
        ..base()
    };
    let mut o = in_sync(&d);
    o.tags = [("made-by".to_string(), "console".to_string())].into();
    o.targets = ["keep".to_string(), "all/registered-things".to_string()].into();
    o.attributes.description = Some("theirs".into());
    let Plan::Converge(c) = plan(&d, Some(&o)) else {
        panic!("expected adoption")
    };
    let a = c.announce.expect("an Adopted event");
    assert_eq!(a.reason, "Adopted");
    for part in [
        "securityProfileDescription",
        "detached all/registered-things",
        "removed tags made-by",
    ] {
        assert!(
            a.message.contains(part),
            "{part} missing from {}",
            a.message
        );
    }
}

#[test]
fn reordered_sets_and_filled_in_defaults_are_no_drift() {
    let criteria = |cidrs: Vec<&str>, alarm: Option<i32>| BehaviorCriteria {
        comparison_operator: Some(ComparisonOperator::InCidrSet),
        value: Some(MetricValue {
            cidrs: Some(cidrs.into_iter().map(String::from).collect()),
            ..Default::default()
        }),
        consecutive_datapoints_to_alarm: alarm,
        ..Default::default()
    };
    let behavior = |cidrs, alarm, op| Behavior {
        name: "b".into(),
        metric: Some("aws:source-ip-address".into()),
        metric_dimension: Some(MetricDimension {
            dimension_name: "d".into(),
            operator: op,
        }),
        criteria: Some(criteria(cidrs, alarm)),
        suppress_alerts: Some(false),
        ..Default::default()
    };
    let spec = Attributes {
        behaviors: vec![behavior(vec!["10.0.0.0/8", "192.168.0.0/16"], None, None)],
        ..Default::default()
    }
    .normalized();
    let aws = Attributes {
        behaviors: vec![behavior(
            vec!["192.168.0.0/16", "10.0.0.0/8"],
            Some(1),
            Some(DimensionOperator::In),
        )],
        ..Default::default()
    }
    .normalized();
    assert!(spec.same_as(&aws));
    assert_ne!(spec, aws, "what is written keeps the spec's own order");
    assert_eq!(AttributeUpdate::between(&aws, &spec), None);
}
