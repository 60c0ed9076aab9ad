//! What the planner compares: the desired profile (from the spec) and the observed one (from AWS),
//! both in one normalized shape so that equal meaning compares equal.

use crate::api::{
    AdoptionPolicy, AlertTargets, Behavior, BehaviorCriteria, DeletionPolicy, DimensionOperator,
    ManagementPolicy, MetricDimension, MetricToRetain, MetricsExportConfig, RESERVED_TAG_PREFIX,
};
use std::collections::{BTreeMap, BTreeSet};

/// The attributes `UpdateSecurityProfile` writes, normalized: an empty description is no
/// description, behaviors are keyed by name (order is not meaning), `false` flags are unset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes {
    pub description: Option<String>,
    pub behaviors: Vec<Behavior>,
    pub alert_targets: Option<AlertTargets>,
    pub additional_metrics: Vec<MetricToRetain>,
    pub metrics_export: Option<MetricsExportConfig>,
}

impl Attributes {
    /// Brings attributes to one shape in which equal meaning compares equal: an empty
    /// description is none, behaviors are ordered by name, `false` flags are unset. This is
    /// also the shape written to AWS.
    pub fn normalized(mut self) -> Self {
        self.description = self.description.filter(|d| !d.is_empty());
        self.behaviors.sort_by(|a, b| a.name.cmp(&b.name));
        for b in &mut self.behaviors {
            b.suppress_alerts = b.suppress_alerts.filter(|v| *v);
            b.export_metric = b.export_metric.filter(|v| *v);
            if b.criteria.as_ref() == Some(&BehaviorCriteria::default()) {
                b.criteria = None;
            }
        }
        for m in &mut self.additional_metrics {
            m.export_metric = m.export_metric.filter(|v| *v);
        }
        self.alert_targets = self.alert_targets.filter(|a| a.sns.is_some());
        self
    }

    /// The shape in which attributes are compared, never written: on top of [`normalized`],
    /// lists whose order means nothing to AWS are sorted and values AWS assumes when they are
    /// absent (a dimension operator of `IN`, one datapoint to alarm or clear) are dropped, so
    /// that what AWS reorders or fills in never reads as drift.
    ///
    /// [`normalized`]: Attributes::normalized
    pub fn comparable(&self) -> Self {
        let mut c = self.clone().normalized();
        for b in &mut c.behaviors {
            normalize_dimension(&mut b.metric_dimension);
            if let Some(criteria) = b.criteria.as_mut() {
                normalize_criteria(criteria);
            }
        }
        for m in &mut c.additional_metrics {
            normalize_dimension(&mut m.metric_dimension);
        }
        c.additional_metrics.sort_by(|a, b| {
            let dim = |m: &MetricToRetain| {
                m.metric_dimension
                    .as_ref()
                    .map(|d| (d.dimension_name.clone(), format!("{:?}", d.operator)))
            };
            (a.metric.as_str(), dim(a)).cmp(&(b.metric.as_str(), dim(b)))
        });
        c
    }

    /// Whether two attribute sets mean the same to AWS.
    pub fn same_as(&self, other: &Attributes) -> bool {
        self.comparable() == other.comparable()
    }

    /// The fields that differ, by their spec names (for events and messages).
    pub fn differing_fields(&self, other: &Attributes) -> Vec<&'static str> {
        let (this, other) = (self.comparable(), other.comparable());
        let mut fields = Vec::new();
        if this.description != other.description {
            fields.push("securityProfileDescription");
        }
        if this.behaviors != other.behaviors {
            fields.push("behaviors");
        }
        if this.alert_targets != other.alert_targets {
            fields.push("alertTargets");
        }
        if this.additional_metrics != other.additional_metrics {
            fields.push("additionalMetricsToRetainV2");
        }
        if this.metrics_export != other.metrics_export {
            fields.push("metricsExportConfig");
        }
        fields
    }
}

/// `IN` is the operator AWS assumes when a dimension names none.
fn normalize_dimension(d: &mut Option<MetricDimension>) {
    if let Some(d) = d.as_mut()
        && d.operator == Some(DimensionOperator::In)
    {
        d.operator = None;
    }
}

/// Sets compare as sets; one datapoint is what AWS assumes when none is given.
fn normalize_criteria(c: &mut BehaviorCriteria) {
    if let Some(v) = c.value.as_mut() {
        if let Some(x) = v.cidrs.as_mut() {
            x.sort();
        }
        if let Some(x) = v.ports.as_mut() {
            x.sort_unstable();
        }
        if let Some(x) = v.numbers.as_mut() {
            x.sort_by(f64::total_cmp);
        }
        if let Some(x) = v.strings.as_mut() {
            x.sort();
        }
    }
    for n in [
        &mut c.consecutive_datapoints_to_alarm,
        &mut c.consecutive_datapoints_to_clear,
    ] {
        if *n == Some(1) {
            *n = None;
        }
    }
}

/// The resource that owns a profile, written as the three ownership tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub cluster: String,
    pub namespace: String,
    pub name: String,
}

pub const CLUSTER_TAG: &str = "iot.awscc.io/cluster";
pub const NAMESPACE_TAG: &str = "iot.awscc.io/namespace";
pub const NAME_TAG: &str = "iot.awscc.io/name";

impl Owner {
    pub fn tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (CLUSTER_TAG.to_string(), self.cluster.clone()),
            (NAMESPACE_TAG.to_string(), self.namespace.clone()),
            (NAME_TAG.to_string(), self.name.clone()),
        ])
    }
}

/// Whose a profile in AWS is, from its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// All three ownership tags name this resource.
    Ours,
    /// No ownership tag at all: created outside the operator.
    Unowned,
    /// Ownership tags that name another resource or cluster (described for the message).
    Other(String),
}

impl Ownership {
    pub fn of(tags: &BTreeMap<String, String>, owner: &Owner) -> Ownership {
        let present: Vec<_> = [CLUSTER_TAG, NAMESPACE_TAG, NAME_TAG]
            .iter()
            .filter_map(|k| tags.get(*k).map(|v| (*k, v)))
            .collect();
        if present.is_empty() {
            return Ownership::Unowned;
        }
        if owner.tags().iter().all(|(k, v)| tags.get(k) == Some(v)) {
            return Ownership::Ours;
        }
        let described = present
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ownership::Other(described)
    }
}

/// Whether a tag key is one the operator must never remove (its own, or AWS's).
pub fn is_reserved_tag(key: &str) -> bool {
    key.starts_with(RESERVED_TAG_PREFIX) || key.starts_with("aws:")
}

/// The profile the spec asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The AWS name.
    pub name: String,
    pub attributes: Attributes,
    pub targets: BTreeSet<String>,
    /// User tags (never reserved keys; the CRD's CEL rule rejects them).
    pub tags: BTreeMap<String, String>,
    pub owner: Owner,
    pub deletion_policy: DeletionPolicy,
    pub adoption_policy: AdoptionPolicy,
    pub management_policy: ManagementPolicy,
    /// The resource has a deletionTimestamp.
    pub deleting: bool,
}

impl Desired {
    /// The full tag set the profile should carry: user tags plus ownership tags.
    pub fn all_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.extend(self.owner.tags());
        tags
    }
}

/// The profile as read from AWS.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub arn: String,
    pub version: i64,
    pub attributes: Attributes,
    pub targets: BTreeSet<String>,
    pub tags: BTreeMap<String, String>,
    pub creation_date: Option<String>,
    pub last_modified_date: Option<String>,
}
