//! How AWS differs from the spec, by the spec's field names: for `DriftCorrected` events and
//! the `Drifted` condition of observed profiles.

use super::model::{Desired, Observed, is_reserved_tag};

/// What differs between the desired profile and the one in AWS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// Spec fields whose value differs (`behaviors`, `tags`, …).
    pub fields: Vec<&'static str>,
    /// Targets attached in AWS that the spec does not list.
    pub attached: Vec<String>,
    /// Targets the spec lists that are not attached in AWS.
    pub detached: Vec<String>,
    /// The profile is gone from AWS.
    pub deleted: bool,
}

impl Drift {
    /// The drift of `observed` (`None`: no profile) from `desired`.
    pub fn between(desired: &Desired, observed: Option<&Observed>) -> Drift {
        let Some(o) = observed else {
            return Drift {
                deleted: true,
                ..Drift::default()
            };
        };
        let mut fields = o.attributes.differing_fields(&desired.attributes);
        // User tags only: ownership tags are the planner's business, not drift.
        let user = |tags: &std::collections::BTreeMap<String, String>| {
            tags.iter()
                .filter(|(k, _)| !is_reserved_tag(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let tags_differ = user(&o.tags) != user(&desired.tags);
        if tags_differ {
            fields.push("tags");
        }
        Drift {
            fields,
            attached: o.targets.difference(&desired.targets).cloned().collect(),
            detached: desired.targets.difference(&o.targets).cloned().collect(),
            deleted: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
            && self.attached.is_empty()
            && self.detached.is_empty()
            && !self.deleted
    }

    /// One line naming everything that differs.
    pub fn describe(&self) -> String {
        if self.deleted {
            return "the profile was deleted outside the operator".to_string();
        }
        let mut parts = Vec::new();
        if !self.fields.is_empty() {
            parts.push(self.fields.join(", "));
        }
        if !self.attached.is_empty() {
            parts.push(format!(
                "targets attached outside the operator: {}",
                self.attached.join(", ")
            ));
        }
        if !self.detached.is_empty() {
            parts.push(format!(
                "targets detached outside the operator: {}",
                self.detached.join(", ")
            ));
        }
        parts.join("; ")
    }
}
