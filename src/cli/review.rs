//! What applying one manifest would do, described from the planner's `Plan`: the fields an
//! update changes (old -> new), targets attached and detached, tags set and removed, or why
//! nothing would be written. Rendered as text for people and as JSON for machines.

use crate::api::{ConditionStatus, Reason};
use crate::reconcile::{Attributes, Observation, Observed, Plan, Step};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write;

/// What applying the manifest does in AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// CreateSecurityProfile (then attach).
    Create,
    /// An unowned profile is tagged as this resource's, then brought to the spec.
    Adopt,
    /// The profile is this resource's and differs from the spec.
    Update,
    /// AWS already matches the spec.
    None,
    /// `managementPolicy: Observe`: never writes.
    Observe,
    /// `iot.awscc.io/paused: "true"`: no AWS call while paused.
    Paused,
    /// The operator would refuse to write (see `reason`).
    Refuse,
    /// The manifest is not a valid resource (see `message`).
    Invalid,
    /// The resource is being deleted and the profile would be deleted.
    Delete,
}

/// One attribute that changes: its spec path, the value in AWS and the value after applying
/// (`null` for absent).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// One tag set: the value in AWS (absent when new) and the value after applying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TagChange {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    pub new: String,
}

/// What applying one manifest would do.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Review {
    pub source: String,
    /// `SecurityProfile`, `CustomMetric` or `Dimension`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_profile_name: Option<String>,
    /// The AWS name of a custom metric or dimension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub action: Action,
    /// The condition reason the operator would report (refusals and invalid specs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub changes: Vec<Change>,
    pub tag: Vec<TagChange>,
    pub untag: Vec<String>,
    pub attach: Vec<String>,
    pub detach: Vec<String>,
}

impl Review {
    /// A review with no decision yet (the identity of the manifest only).
    pub fn new(source: &str, namespace: &str, name: &str) -> Review {
        Review {
            source: source.to_string(),
            kind: "SecurityProfile",
            namespace: namespace.to_string(),
            name: name.to_string(),
            security_profile_name: None,
            aws_name: None,
            region: None,
            action: Action::None,
            reason: None,
            message: None,
            changes: vec![],
            tag: vec![],
            untag: vec![],
            attach: vec![],
            detach: vec![],
        }
    }

    /// The manifest cannot be applied as it is.
    pub fn invalid(mut self, message: String) -> Review {
        self.action = Action::Invalid;
        self.reason = Some(Reason::InvalidSpec.as_str());
        self.message = Some(message);
        self
    }

    /// The cluster admin's guardrails refuse the manifest (adoption not allowed, a value
    /// outside an allowlist): the operator would write nothing.
    pub fn denied(mut self, denial: &crate::reconcile::guard::Denial) -> Review {
        self.action = Action::Refuse;
        self.reason = Some(denial.reason().as_str());
        self.message = Some(denial.to_string());
        self
    }

    pub fn paused(mut self) -> Review {
        self.action = Action::Paused;
        self.message = Some("iot.awscc.io/paused is \"true\": no AWS call".into());
        self
    }

    /// The review of the planner's decision, given what AWS holds. Reasons and messages are
    /// the planner's own, the words the resource's conditions would carry.
    pub fn with_plan(mut self, plan: &Plan, observed: Option<&Observed>) -> Review {
        if let Some(c) = plan
            .conditions()
            .filter(|c| c.ready.status != ConditionStatus::True)
        {
            self.message = Some(c.ready.message);
        }
        match plan {
            Plan::Refuse(refusal) => {
                self.action = Action::Refuse;
                self.reason = Some(refusal.reason().as_str());
                self.message = Some(refusal.message());
            }
            Plan::Observe(o) => {
                self.action = Action::Observe;
                if *o == Observation::InSync {
                    self.message = Some("managementPolicy: Observe: AWS matches the spec".into());
                }
            }
            Plan::Converge(c) => {
                self.action = match (c.steps.first(), &c.announce) {
                    (None, _) => Action::None,
                    (Some(Step::Create { .. }), _) => Action::Create,
                    (_, Some(a)) if a.reason == "Adopted" => Action::Adopt,
                    _ => Action::Update,
                };
                self.describe_steps(&c.steps, observed);
            }
            Plan::Release(identity) => {
                self.action = Action::None;
                self.message = Some(format!(
                    "the recorded profile {identity} would be released and the spec followed"
                ));
            }
            Plan::Finalize(f) => {
                self.action = match f.steps.is_empty() {
                    true => Action::None,
                    false => Action::Delete,
                };
            }
        }
        self
    }

    fn describe_steps(&mut self, steps: &[Step], observed: Option<&Observed>) {
        let empty = Attributes::default();
        let before = observed.map_or(&empty, |o| &o.attributes);
        for step in steps {
            match step {
                Step::Create { attributes, tags } => {
                    self.changes = attribute_changes(&empty, attributes);
                    self.tag = tag_changes(tags.iter(), observed);
                }
                Step::Update { update, .. } => {
                    self.changes = attribute_changes(before, &update.applied_to(before));
                }
                Step::Tag(tags) => self.tag = tag_changes(tags.iter(), observed),
                Step::Untag(keys) => self.untag = keys.iter().cloned().collect(),
                Step::Attach(t) => self.attach.push(t.clone()),
                Step::Detach(t) => self.detach.push(t.clone()),
                Step::Delete { .. } => {}
            }
        }
    }

    /// Whether applying would write to AWS.
    pub fn writes(&self) -> bool {
        matches!(
            self.action,
            Action::Create | Action::Adopt | Action::Update | Action::Delete
        )
    }

    /// Whether the manifest would be refused or is invalid.
    pub fn blocked(&self) -> bool {
        matches!(self.action, Action::Refuse | Action::Invalid)
    }
}

fn json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The attributes that differ, by spec path; behaviors one by one (`behaviors[NAME]`).
fn attribute_changes(old: &Attributes, new: &Attributes) -> Vec<Change> {
    let mut out = Vec::new();
    let mut push = |field: String, o: Value, n: Value| {
        if o != n {
            out.push(Change {
                field,
                old: o,
                new: n,
            });
        }
    };
    push(
        "securityProfileDescription".into(),
        json(&old.description),
        json(&new.description),
    );
    let names: BTreeSet<&str> = old
        .behaviors
        .iter()
        .chain(&new.behaviors)
        .map(|b| b.name.as_str())
        .collect();
    for name in names {
        let find = |a: &Attributes| json(&a.behaviors.iter().find(|b| b.name == name));
        push(format!("behaviors[{name}]"), find(old), find(new));
    }
    push(
        "alertTargets".into(),
        json(&old.alert_targets),
        json(&new.alert_targets),
    );
    let metrics = |a: &Attributes| match a.additional_metrics.is_empty() {
        true => Value::Null,
        false => json(&a.additional_metrics),
    };
    push(
        "additionalMetricsToRetainV2".into(),
        metrics(old),
        metrics(new),
    );
    push(
        "metricsExportConfig".into(),
        json(&old.metrics_export),
        json(&new.metrics_export),
    );
    out
}

fn tag_changes<'a>(
    tags: impl Iterator<Item = (&'a String, &'a String)>,
    observed: Option<&Observed>,
) -> Vec<TagChange> {
    tag_changes_of(tags, observed.map(|o| &o.tags))
}

/// The tags set, with their values in AWS (`observed`: the tags the resource has).
pub(super) fn tag_changes_of<'a>(
    tags: impl Iterator<Item = (&'a String, &'a String)>,
    observed: Option<&std::collections::BTreeMap<String, String>>,
) -> Vec<TagChange> {
    tags.map(|(k, v)| TagChange {
        key: k.clone(),
        old: observed.and_then(|o| o.get(k).cloned()),
        new: v.clone(),
    })
    .collect()
}

/// The reviews as text: one block per manifest, then a summary line.
pub fn render_text(reviews: &[Review]) -> String {
    let mut s = String::new();
    for r in reviews {
        let _ = write!(s, "{:<8} ", label(r.action));
        if r.kind != "SecurityProfile" {
            let _ = write!(s, "{} ", r.kind);
        }
        let _ = write!(s, "{}/{}", r.namespace, r.name);
        let aws_name = r.security_profile_name.as_ref().or(r.aws_name.as_ref());
        if let (Some(aws), Some(region)) = (aws_name, &r.region) {
            let _ = write!(s, " ({aws} in {region})");
        }
        let _ = writeln!(s, "  [{}]", r.source);
        if let (Some(reason), Some(message)) = (r.reason, &r.message) {
            let _ = writeln!(s, "    {reason}: {message}");
        } else if let Some(message) = &r.message {
            let _ = writeln!(s, "    {message}");
        }
        for c in &r.changes {
            let sign = match (c.old.is_null(), c.new.is_null()) {
                (true, _) => '+',
                (_, true) => '-',
                _ => '~',
            };
            let _ = writeln!(s, "    {sign} {}: {} -> {}", c.field, c.old, c.new);
        }
        for t in &r.tag {
            let old = t
                .old
                .as_deref()
                .map_or("(none)".to_string(), |v| format!("{v:?}"));
            let _ = writeln!(s, "    + tag {}: {old} -> {:?}", t.key, t.new);
        }
        for k in &r.untag {
            let _ = writeln!(s, "    - untag {k}");
        }
        for t in &r.attach {
            let _ = writeln!(s, "    + attach {t}");
        }
        for t in &r.detach {
            let _ = writeln!(s, "    - detach {t}");
        }
    }
    let count = |a: Action| reviews.iter().filter(|r| r.action == a).count();
    let _ = writeln!(
        s,
        "Plan: {} to create, {} to adopt, {} to update, {} to delete, {} unchanged, {} observed or paused, {} refused, {} invalid.",
        count(Action::Create),
        count(Action::Adopt),
        count(Action::Update),
        count(Action::Delete),
        count(Action::None),
        count(Action::Observe) + count(Action::Paused),
        count(Action::Refuse),
        count(Action::Invalid),
    );
    s
}

fn label(a: Action) -> &'static str {
    match a {
        Action::Create => "CREATE",
        Action::Adopt => "ADOPT",
        Action::Update => "UPDATE",
        Action::None => "NOCHANGE",
        Action::Observe => "OBSERVE",
        Action::Paused => "PAUSED",
        Action::Refuse => "REFUSED",
        Action::Invalid => "INVALID",
        Action::Delete => "DELETE",
    }
}

/// The machine-readable document of `plan -o json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDocument<'a> {
    /// The document's format version; fields are only ever added.
    pub version: u32,
    /// Whether applying would write to AWS (exit code 2).
    pub changes: bool,
    /// Whether a manifest would be refused or is invalid (exit code 1).
    pub blocked: bool,
    pub resources: &'a [Review],
}
