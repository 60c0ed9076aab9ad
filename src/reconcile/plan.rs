//! The pure planner: `plan(desired, observed) -> Plan`. No I/O; the controller executes the
//! steps in order. This is ACK's read / compare / write split, with the compare made pure.

use super::model::{Attributes, Desired, Observed, Ownership, is_reserved_tag};
use crate::api::{
    AdoptionPolicy, AlertTargets, Behavior, DeletionPolicy, ManagementPolicy, MetricToRetain,
    MetricsExportConfig,
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
    pub fn between(observed: &Attributes, desired: &Attributes) -> Option<AttributeUpdate> {
        fn field<T: Clone + PartialEq>(
            observed: &T,
            desired: &T,
            empty: impl Fn(&T) -> bool,
        ) -> Option<Field<T>> {
            match (observed == desired, empty(desired)) {
                (true, _) => None,
                (false, true) => Some(Field::Clear),
                (false, false) => Some(Field::Set(desired.clone())),
            }
        }
        let update = AttributeUpdate {
            description: (observed.description != desired.description)
                .then(|| desired.description.clone().unwrap_or_default()),
            behaviors: field(&observed.behaviors, &desired.behaviors, Vec::is_empty),
            alert_targets: field(
                &observed.alert_targets,
                &desired.alert_targets,
                Option::is_none,
            )
            .map(|f| match f {
                Field::Set(Some(a)) => Field::Set(a),
                _ => Field::Clear,
            }),
            additional_metrics: field(
                &observed.additional_metrics,
                &desired.additional_metrics,
                Vec::is_empty,
            ),
            metrics_export: field(
                &observed.metrics_export,
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

/// Why the operator will not touch a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The name exists in AWS without ownership tags and adoption is not allowed.
    AlreadyExists,
    /// The profile's ownership tags name another resource or cluster.
    OwnedByAnother(String),
}

/// What happens to the AWS profile when the resource goes away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Farewell {
    /// The profile is deleted by the plan's steps.
    Deleted,
    /// `deletionPolicy: Retain` (or `managementPolicy: Observe`): AWS is left untouched.
    Retained,
    /// There is no profile (any more): nothing to do.
    Gone,
    /// The profile is not this resource's: it is left untouched.
    NotOurs,
}

/// What to do for one resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Run the steps (none when AWS already matches). `adopt` when an unowned profile is taken.
    Converge { steps: Vec<Step>, adopt: bool },
    /// Write nothing; the resource is blocked until the user acts.
    Refuse(Refusal),
    /// `managementPolicy: Observe`: never write; report what was read.
    Observe,
    /// The resource is being deleted: run the steps, then release the finalizer.
    Finalize {
        steps: Vec<Step>,
        farewell: Farewell,
    },
}

impl Plan {
    /// The AWS writes this plan makes.
    pub fn steps(&self) -> &[Step] {
        match self {
            Plan::Converge { steps, .. } | Plan::Finalize { steps, .. } => steps,
            Plan::Refuse(_) | Plan::Observe => &[],
        }
    }
}

/// Decides what to write to make AWS match `desired`, given what was `observed`.
pub fn plan(desired: &Desired, observed: Option<&Observed>) -> Plan {
    if desired.deleting {
        return finalize(desired, observed);
    }
    if desired.management_policy == ManagementPolicy::Observe {
        return Plan::Observe;
    }
    let Some(observed) = observed else {
        let mut steps = vec![Step::Create {
            attributes: desired.attributes.clone(),
            tags: desired.all_tags(),
        }];
        steps.extend(desired.targets.iter().cloned().map(Step::Attach));
        return Plan::Converge {
            steps,
            adopt: false,
        };
    };
    match Ownership::of(&observed.tags, &desired.owner) {
        Ownership::Other(owner) => Plan::Refuse(Refusal::OwnedByAnother(owner)),
        Ownership::Unowned if desired.adoption_policy != AdoptionPolicy::Adopt => {
            Plan::Refuse(Refusal::AlreadyExists)
        }
        Ownership::Unowned => Plan::Converge {
            steps: converge(desired, observed),
            adopt: true,
        },
        Ownership::Ours => Plan::Converge {
            steps: converge(desired, observed),
            adopt: false,
        },
    }
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

fn finalize(desired: &Desired, observed: Option<&Observed>) -> Plan {
    let retained = desired.deletion_policy == DeletionPolicy::Retain
        || desired.management_policy == ManagementPolicy::Observe;
    let (steps, farewell) = match observed {
        _ if retained => (vec![], Farewell::Retained),
        None => (vec![], Farewell::Gone),
        Some(o) => match Ownership::of(&o.tags, &desired.owner) {
            Ownership::Ours => (
                vec![Step::Delete {
                    expected_version: o.version,
                }],
                Farewell::Deleted,
            ),
            Ownership::Unowned | Ownership::Other(_) => (vec![], Farewell::NotOurs),
        },
    };
    Plan::Finalize { steps, farewell }
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
