//! What applying a `CustomMetric` or `Dimension` manifest would do, described from the
//! planner's `ResourcePlan` in the words of a profile's review.

use super::review::{Action, Change, Review, tag_changes_of};
use crate::reconcile::{
    CustomMetricAttributes, DimensionAttributes, ResourceObserved, ResourcePlan, ResourceStep,
};
use serde_json::{Value, json};

/// The fields of a kind's attributes, by spec name, as the review shows them.
pub trait ReviewFields {
    fn fields(&self) -> Vec<(&'static str, Value)>;
}

impl ReviewFields for CustomMetricAttributes {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("metricType", json!(self.metric_type.as_str())),
            ("displayName", json!(self.display_name)),
        ]
    }
}

impl ReviewFields for DimensionAttributes {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("type", json!(self.dimension_type.as_str())),
            ("stringValues", json!(self.string_values)),
        ]
    }
}

/// The fields that differ between `old` (absent: nothing) and `new`.
fn changes<A: ReviewFields>(old: Option<&A>, new: &A) -> Vec<Change> {
    let old: Vec<(&str, Value)> = old.map(ReviewFields::fields).unwrap_or_default();
    new.fields()
        .into_iter()
        .map(|(field, new)| {
            let old = old
                .iter()
                .find(|(f, _)| *f == field)
                .map_or(Value::Null, |(_, v)| v.clone());
            Change {
                field: field.to_string(),
                old,
                new,
            }
        })
        .filter(|c| c.old != c.new)
        .collect()
}

impl Review {
    /// This review is of a `CustomMetric` or `Dimension` (`kind`).
    pub fn of_kind(mut self, kind: &'static str) -> Review {
        self.kind = kind;
        self
    }

    /// The review of the planner's decision for a CustomMetric or Dimension (`noun` in
    /// messages), given what AWS holds. Reasons and messages are the ones its conditions would
    /// carry.
    pub fn with_resource_plan<A: ReviewFields>(
        mut self,
        noun: &str,
        plan: &ResourcePlan<A>,
        observed: Option<&ResourceObserved<A>>,
    ) -> Review {
        let name = self.aws_name.clone().unwrap_or_default();
        let region = self.region.clone().unwrap_or_default();
        match plan {
            ResourcePlan::Refuse(refusal) => {
                self.action = Action::Refuse;
                self.reason = Some(refusal.reason().as_str());
                self.message = Some(refusal.message(noun, &name, &region));
            }
            ResourcePlan::Observe => {
                self.action = Action::Observe;
                if observed.is_none() {
                    self.message = Some(format!(
                        "{noun} {name:?} not found in {region} (observe only)"
                    ));
                }
            }
            ResourcePlan::Converge { steps, adopt } => {
                self.action = match (steps.first(), adopt) {
                    (None, _) => Action::None,
                    (Some(ResourceStep::Create { .. }), _) => Action::Create,
                    (_, true) => Action::Adopt,
                    _ => Action::Update,
                };
                self.describe_resource_steps(steps, observed);
            }
            ResourcePlan::Finalize { steps, .. } => {
                self.action = match steps.is_empty() {
                    true => Action::None,
                    false => Action::Delete,
                };
            }
        }
        self
    }

    fn describe_resource_steps<A: ReviewFields>(
        &mut self,
        steps: &[ResourceStep<A>],
        observed: Option<&ResourceObserved<A>>,
    ) {
        let tags = observed.map(|o| &o.tags);
        for step in steps {
            match step {
                ResourceStep::Create { attributes, tags } => {
                    self.changes = changes(None, attributes);
                    self.tag = tag_changes_of(tags.iter(), None);
                }
                ResourceStep::Update(attributes) => {
                    self.changes = changes(observed.map(|o| &o.attributes), attributes);
                }
                ResourceStep::Tag(set) => self.tag = tag_changes_of(set.iter(), tags),
                ResourceStep::Untag(keys) => self.untag = keys.iter().cloned().collect(),
                ResourceStep::Delete => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::CustomMetricType;
    use std::collections::BTreeMap;

    fn review() -> Review {
        let mut r = Review::new("f.yaml", "ns", "battery").of_kind("CustomMetric");
        r.aws_name = Some("batteryLevel".into());
        r.region = Some("eu-west-1".into());
        r
    }

    #[test]
    fn adoption_update_and_create_list_what_they_write() {
        let old = CustomMetricAttributes::new(Some("old".into()), CustomMetricType::Number);
        let new = CustomMetricAttributes::new(Some("new".into()), CustomMetricType::Number);
        let observed = ResourceObserved {
            arn: "arn".into(),
            attributes: old,
            tags: BTreeMap::from([("made-by".into(), "console".into())]),
            creation_date: None,
            last_modified_date: None,
        };
        let plan = ResourcePlan::Converge {
            steps: vec![
                ResourceStep::Tag(BTreeMap::from([(
                    "iot.awscc.io/cluster".into(),
                    "c".into(),
                )])),
                ResourceStep::Update(new.clone()),
                ResourceStep::Untag(["made-by".to_string()].into()),
            ],
            adopt: true,
        };
        let r = review().with_resource_plan("custom metric", &plan, Some(&observed));
        assert_eq!(r.action, Action::Adopt);
        assert!(r.writes());
        assert_eq!(r.changes.len(), 1);
        assert_eq!(
            (
                r.changes[0].field.as_str(),
                &r.changes[0].old,
                &r.changes[0].new
            ),
            ("displayName", &json!("old"), &json!("new"))
        );
        assert_eq!(r.tag[0].key, "iot.awscc.io/cluster");
        assert_eq!(r.untag, ["made-by"]);

        let create = ResourcePlan::Converge {
            steps: vec![ResourceStep::Create {
                attributes: new,
                tags: BTreeMap::new(),
            }],
            adopt: false,
        };
        let r = review().with_resource_plan("custom metric", &create, None);
        assert_eq!(r.action, Action::Create);
        assert_eq!(r.changes.len(), 2, "{:?}", r.changes);
        let none: ResourcePlan<CustomMetricAttributes> = ResourcePlan::Converge {
            steps: vec![],
            adopt: false,
        };
        let r = review().with_resource_plan("custom metric", &none, Some(&observed));
        assert_eq!(r.action, Action::None);
        assert!(!r.writes());
    }

    #[test]
    fn refusals_carry_the_reason_and_message_of_the_condition() {
        let plan: ResourcePlan<CustomMetricAttributes> =
            ResourcePlan::Refuse(crate::reconcile::ResourceRefusal::AlreadyExists);
        let r = review().with_resource_plan("custom metric", &plan, None);
        assert_eq!(r.action, Action::Refuse);
        assert!(r.blocked());
        assert_eq!(r.reason, Some("AlreadyExists"));
        let message = r.message.unwrap();
        assert!(
            message.starts_with("custom metric \"batteryLevel\" already exists in eu-west-1"),
            "{message}"
        );
    }
}
