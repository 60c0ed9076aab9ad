//! The pure planner: `plan(desired, facts) -> Plan`. No I/O; the controller executes the
//! steps in order. This is ACK's read / compare / write split, with the compare made pure.

use super::drift::Drift;
use super::identity::{Identity, Resolution};
use super::model::{
    Attributes, CLUSTER_TAG, Desired, NAMESPACE_TAG, Observed, Owner, Ownership, is_reserved_tag,
};
use super::outcome::{
    Announcement, Convergence, Farewell, Finalization, Observation, Plan, Refusal,
};
use crate::api::{
    AdoptionPolicy, AlertTargets, Behavior, DeletionPolicy, ManagementPolicy, MetricToRetain,
    MetricsExportConfig, SecurityProfile,
};
use std::collections::{BTreeMap, BTreeSet};

/// A field of an update: set it to a value, or clear it with the API's `delete…` flag.
#[derive(Clone, Debug, PartialEq)]
pub enum Field<T> {
    Set(T),
    Clear,
}

/// The attributes one `UpdateSecurityProfile` call changes; `None` leaves a field as it is.
/// A field can be set or cleared, never both.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttributeUpdate {
    /// `Some("")` clears the description (the API has no delete flag for it).
    pub description: Option<String>,
    pub behaviors: Option<Field<Vec<Behavior>>>,
    pub alert_targets: Option<Field<AlertTargets>>,
    pub additional_metrics: Option<Field<Vec<MetricToRetain>>>,
    pub metrics_export: Option<Field<MetricsExportConfig>>,
}

impl AttributeUpdate {
    /// The update that turns `observed` into `desired`, or `None` when they already match.
    /// Fields are compared in their comparable shape (order and AWS defaults do not count) and
    /// written as the spec has them.
    pub fn between(observed: &Attributes, desired: &Attributes) -> Option<AttributeUpdate> {
        fn field<T: Clone + PartialEq>(
            same: bool,
            desired: &T,
            empty: impl Fn(&T) -> bool,
        ) -> Option<Field<T>> {
            match (same, empty(desired)) {
                (true, _) => None,
                (false, true) => Some(Field::Clear),
                (false, false) => Some(Field::Set(desired.clone())),
            }
        }
        let (o, d) = (observed.comparable(), desired.comparable());
        let update = AttributeUpdate {
            description: (o.description != d.description)
                .then(|| desired.description.clone().unwrap_or_default()),
            behaviors: field(
                o.behaviors == d.behaviors,
                &desired.behaviors,
                Vec::is_empty,
            ),
            alert_targets: field(
                o.alert_targets == d.alert_targets,
                &desired.alert_targets,
                Option::is_none,
            )
            .map(|f| match f {
                Field::Set(Some(a)) => Field::Set(a),
                _ => Field::Clear,
            }),
            additional_metrics: field(
                o.additional_metrics == d.additional_metrics,
                &desired.additional_metrics,
                Vec::is_empty,
            ),
            metrics_export: field(
                o.metrics_export == d.metrics_export,
                &desired.metrics_export,
                Option::is_none,
            )
            .map(|f| match f {
                Field::Set(Some(m)) => Field::Set(m),
                _ => Field::Clear,
            }),
        };
        (update != AttributeUpdate::default()).then_some(update)
    }

    /// The spec names of the fields this update writes.
    pub fn fields(&self) -> Vec<&'static str> {
        [
            (self.description.is_some(), "securityProfileDescription"),
            (self.behaviors.is_some(), "behaviors"),
            (self.alert_targets.is_some(), "alertTargets"),
            (
                self.additional_metrics.is_some(),
                "additionalMetricsToRetainV2",
            ),
            (self.metrics_export.is_some(), "metricsExportConfig"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }

    /// The attributes after this update is applied to `attributes`.
    pub fn applied_to(&self, attributes: &Attributes) -> Attributes {
        fn apply<T: Clone + Default>(current: &T, field: &Option<Field<T>>) -> T {
            match field {
                None => current.clone(),
                Some(Field::Set(v)) => v.clone(),
                Some(Field::Clear) => T::default(),
            }
        }
        fn apply_opt<T: Clone>(current: &Option<T>, field: &Option<Field<T>>) -> Option<T> {
            match field {
                None => current.clone(),
                Some(Field::Set(v)) => Some(v.clone()),
                Some(Field::Clear) => None,
            }
        }
        Attributes {
            description: match &self.description {
                None => attributes.description.clone(),
                Some(d) => Some(d.clone()),
            },
            behaviors: apply(&attributes.behaviors, &self.behaviors),
            alert_targets: apply_opt(&attributes.alert_targets, &self.alert_targets),
            additional_metrics: apply(&attributes.additional_metrics, &self.additional_metrics),
            metrics_export: apply_opt(&attributes.metrics_export, &self.metrics_export),
        }
        .normalized()
    }
}

/// One AWS write.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// `CreateSecurityProfile` with these attributes and tags (user tags and ownership tags).
    Create {
        attributes: Attributes,
        tags: BTreeMap<String, String>,
    },
    /// `UpdateSecurityProfile` with `expectedVersion`.
    Update {
        expected_version: i64,
        update: AttributeUpdate,
    },
    /// `TagResource`.
    Tag(BTreeMap<String, String>),
    /// `UntagResource` (never an ownership or AWS-reserved key).
    Untag(BTreeSet<String>),
    /// `AttachSecurityProfile`.
    Attach(String),
    /// `DetachSecurityProfile`.
    Detach(String),
    /// `DeleteSecurityProfile` with `expectedVersion`.
    Delete { expected_version: i64 },
}

/// What the planner knows besides the desired profile.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The identity being reconciled, and whether the spec still agrees with it.
    pub resolution: &'a Resolution,
    /// The profile at that identity, as read from AWS.
    pub observed: Option<&'a Observed>,
    /// Ready=True at the current generation: AWS matched this very spec before, so any
    /// difference now was made outside the operator.
    pub was_ready: bool,
}

impl<'a> Facts<'a> {
    /// The facts of a resource: its identity, what AWS holds there, and whether its status says
    /// Ready=True at the current generation.
    pub fn of(
        sp: &SecurityProfile,
        resolution: &'a Resolution,
        observed: Option<&'a Observed>,
    ) -> Facts<'a> {
        let was_ready = sp.is_ready_at_generation();
        Facts {
            resolution,
            observed,
            was_ready,
        }
    }
}

/// Decides what to write to make AWS match `desired`, given what was observed.
pub fn plan(desired: &Desired, facts: Facts<'_>) -> Plan {
    let Facts {
        resolution,
        observed,
        was_ready,
    } = facts;
    let identity = &resolution.identity;
    let ownership = observed.map(|o| Ownership::of(&o.tags, &desired.owner));
    if desired.deleting {
        return Plan::Finalize(finalize(desired, identity, observed));
    }
    if let Some(wanted) = &resolution.moved_to {
        return match ownership {
            Some(Ownership::Ours) => Plan::Refuse(Refusal::IdentityChanged {
                in_use: identity.clone(),
                wanted: wanted.clone(),
            }),
            _ => Plan::Release(identity.clone()),
        };
    }
    if desired.management_policy == ManagementPolicy::Observe {
        return observe(desired, identity, observed);
    }
    let Some(observed) = observed else {
        return Plan::Converge(Convergence {
            steps: create(desired),
            record_first: !resolution.pinned,
            announce: was_ready
                .then(|| Announcement::drift_corrected(&Drift::between(desired, None))),
        });
    };
    let steps = converge(desired, observed);
    let announce = match ownership {
        Some(Ownership::Other(owner)) => {
            return Plan::Refuse(Refusal::OwnedByAnother {
                identity: identity.clone(),
                owner,
            });
        }
        Some(Ownership::Unowned) if desired.adoption_policy != AdoptionPolicy::Adopt => {
            return Plan::Refuse(Refusal::AlreadyExists(identity.clone()));
        }
        Some(Ownership::Unowned) => Some(Announcement::adopted(identity, &steps)),
        _ => {
            let drift = Drift::between(desired, Some(observed));
            (was_ready && !drift.is_empty()).then(|| Announcement::drift_corrected(&drift))
        }
    };
    Plan::Converge(Convergence {
        record_first: !resolution.pinned && !steps.is_empty(),
        steps,
        announce,
    })
}

/// The steps that create the profile: with its ownership tags, then its targets.
fn create(desired: &Desired) -> Vec<Step> {
    let mut steps = vec![Step::Create {
        attributes: desired.attributes.clone(),
        tags: desired.all_tags(),
    }];
    steps.extend(desired.targets.iter().cloned().map(Step::Attach));
    steps
}

/// `managementPolicy: Observe`: report, never write. A profile another namespace or cluster
/// manages is not shown to this one.
fn observe(desired: &Desired, identity: &Identity, observed: Option<&Observed>) -> Plan {
    let Some(o) = observed else {
        return Plan::Observe(Observation::Missing(identity.clone()));
    };
    if let Ownership::Other(owner) = Ownership::of(&o.tags, &desired.owner)
        && !same_namespace(&o.tags, &desired.owner)
    {
        return Plan::Refuse(Refusal::OwnedByAnother {
            identity: identity.clone(),
            owner,
        });
    }
    let drift = Drift::between(desired, Some(o));
    Plan::Observe(if drift.is_empty() {
        Observation::InSync
    } else {
        Observation::Drifted(drift)
    })
}

/// Whether the profile's ownership tags name this resource's cluster and namespace.
pub(super) fn same_namespace(tags: &BTreeMap<String, String>, owner: &Owner) -> bool {
    tags.get(CLUSTER_TAG) == Some(&owner.cluster)
        && tags.get(NAMESPACE_TAG) == Some(&owner.namespace)
}

/// Steps that bring an existing profile to the desired state. Tags come first so that an
/// adopted profile is marked as ours before anything else is written to it.
fn converge(desired: &Desired, observed: &Observed) -> Vec<Step> {
    let mut steps = Vec::new();
    let want = desired.all_tags();
    let to_tag: BTreeMap<_, _> = want
        .iter()
        .filter(|(k, v)| observed.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !to_tag.is_empty() {
        steps.push(Step::Tag(to_tag));
    }
    if let Some(update) = AttributeUpdate::between(&observed.attributes, &desired.attributes) {
        steps.push(Step::Update {
            expected_version: observed.version,
            update,
        });
    }
    let to_untag: BTreeSet<_> = observed
        .tags
        .keys()
        .filter(|k| !want.contains_key(*k) && !is_reserved_tag(k))
        .cloned()
        .collect();
    if !to_untag.is_empty() {
        steps.push(Step::Untag(to_untag));
    }
    steps.extend(
        desired
            .targets
            .difference(&observed.targets)
            .cloned()
            .map(Step::Attach),
    );
    steps.extend(
        observed
            .targets
            .difference(&desired.targets)
            .cloned()
            .map(Step::Detach),
    );
    steps
}

/// What deleting the resource does to the profile at `identity`.
pub fn finalize(
    desired: &Desired,
    identity: &Identity,
    observed: Option<&Observed>,
) -> Finalization {
    let retained = desired.deletion_policy == DeletionPolicy::Retain
        || desired.management_policy == ManagementPolicy::Observe;
    let (steps, farewell) = match observed {
        _ if retained => (vec![], Farewell::Retained(identity.clone())),
        None => (vec![], Farewell::Gone),
        Some(o) => match Ownership::of(&o.tags, &desired.owner) {
            Ownership::Ours => (
                vec![Step::Delete {
                    expected_version: o.version,
                }],
                Farewell::Deleted,
            ),
            Ownership::Unowned | Ownership::Other(_) => {
                (vec![], Farewell::NotOurs(identity.clone()))
            }
        },
    };
    Finalization { steps, farewell }
}

/// The AWS state after `steps` succeed on `observed`: the model the executor and the property
/// tests share. `arn` names a profile that `Create` makes.
pub fn simulate(observed: Option<&Observed>, steps: &[Step], arn: &str) -> Option<Observed> {
    let mut state = observed.cloned();
    for step in steps {
        state = match (state, step) {
            (None, Step::Create { attributes, tags }) => Some(Observed {
                arn: arn.to_string(),
                version: 1,
                attributes: attributes.clone().normalized(),
                targets: BTreeSet::new(),
                tags: tags.clone(),
                creation_date: None,
                last_modified_date: None,
            }),
            (Some(_), Step::Delete { .. }) => None,
            (Some(mut o), step) => {
                match step {
                    Step::Update { update, .. } => {
                        o.attributes = update.applied_to(&o.attributes);
                        o.version += 1;
                    }
                    Step::Tag(tags) => o.tags.extend(tags.clone()),
                    Step::Untag(keys) => o.tags.retain(|k, _| !keys.contains(k)),
                    Step::Attach(t) => {
                        o.targets.insert(t.clone());
                    }
                    Step::Detach(t) => {
                        o.targets.remove(t);
                    }
                    Step::Create { .. } | Step::Delete { .. } => {}
                }
                Some(o)
            }
            (None, _) => None,
        };
    }
    state
}
