//! Pre-flight validation: which behaviors to check with `ValidateSecurityProfileBehaviors`
//! before a plan's writes. Only a create or an update that writes behaviors is checked, and
//! only while the spec changed since it was last applied (a resync correcting drift writes
//! behaviors AWS already accepted, and validation costs quota).

use super::outcome::Plan;
use super::plan::{Field, Step};
use crate::api::Behavior;

/// What the controller validates before running the plan's steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Validate {
    pub behaviors: Vec<Behavior>,
}

/// The validation to run first, if any. `spec_changed`: the generation is not yet Ready.
pub fn preflight(plan: &Plan, spec_changed: bool) -> Option<Validate> {
    if !spec_changed {
        return None;
    }
    let Plan::Converge(convergence) = plan else {
        return None;
    };
    convergence.steps.iter().find_map(|step| match step {
        Step::Create { attributes, .. } if !attributes.behaviors.is_empty() => Some(Validate {
            behaviors: attributes.behaviors.clone(),
        }),
        Step::Update { update, .. } => match &update.behaviors {
            Some(Field::Set(behaviors)) => Some(Validate {
                behaviors: behaviors.clone(),
            }),
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{AttributeUpdate, Attributes, Convergence, Observation};

    fn converge(steps: Vec<Step>) -> Plan {
        Plan::Converge(Convergence {
            steps,
            record_first: false,
            announce: None,
        })
    }

    fn behaviors() -> Vec<Behavior> {
        vec![Behavior {
            name: "b".into(),
            metric: Some("aws:num-disconnects".into()),
            ..Default::default()
        }]
    }

    fn create(behaviors: Vec<Behavior>) -> Plan {
        converge(vec![Step::Create {
            attributes: Attributes {
                behaviors,
                ..Default::default()
            },
            tags: Default::default(),
        }])
    }

    fn update(update: AttributeUpdate) -> Plan {
        converge(vec![
            Step::Tag(Default::default()),
            Step::Update {
                expected_version: 1,
                update,
            },
        ])
    }

    #[test]
    fn a_changed_spec_that_creates_or_rewrites_behaviors_is_validated_first() {
        let want = Some(Validate {
            behaviors: behaviors(),
        });
        assert_eq!(preflight(&create(behaviors()), true), want);
        let rewrite = AttributeUpdate {
            behaviors: Some(Field::Set(behaviors())),
            ..Default::default()
        };
        assert_eq!(preflight(&update(rewrite), true), want);
    }

    #[test]
    fn resyncs_and_writes_without_behaviors_are_not_validated() {
        assert_eq!(preflight(&create(behaviors()), false), None);
        assert_eq!(preflight(&create(vec![]), true), None);
        let description = AttributeUpdate {
            description: Some("d".into()),
            ..Default::default()
        };
        assert_eq!(preflight(&update(description), true), None);
        let clear = AttributeUpdate {
            behaviors: Some(Field::Clear),
            ..Default::default()
        };
        assert_eq!(preflight(&update(clear), true), None);
        assert_eq!(preflight(&Plan::Observe(Observation::InSync), true), None);
    }
}
