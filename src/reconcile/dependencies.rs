//! The custom metrics and dimensions a security profile names, and whether it must wait for
//! them: a profile that names one managed in the cluster (a CustomMetric or Dimension with that
//! AWS name in its namespace) that is not Ready yet would only be rejected by AWS.

use super::model::{Attributes, Desired};
use crate::api::{ManagementPolicy, MetricDimension};
use std::collections::BTreeSet;
use std::fmt;

/// Prefix of the metrics AWS defines; every other metric name is a custom metric.
pub const AWS_METRIC_PREFIX: &str = "aws:";

/// A custom metric or dimension a profile names, by AWS name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dependency {
    CustomMetric(String),
    Dimension(String),
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dependency::CustomMetric(n) => write!(f, "CustomMetric {n}"),
            Dependency::Dimension(n) => write!(f, "Dimension {n}"),
        }
    }
}

/// Every custom metric and dimension the attributes name: behaviors' metrics and dimensions,
/// and the retained metrics' (`additionalMetricsToRetainV2`).
pub fn dependencies(attributes: &Attributes) -> BTreeSet<Dependency> {
    let behaviors = attributes
        .behaviors
        .iter()
        .map(|b| (b.metric.as_deref(), b.metric_dimension.as_ref()));
    let retained = attributes
        .additional_metrics
        .iter()
        .map(|m| (Some(m.metric.as_str()), m.metric_dimension.as_ref()));
    behaviors
        .chain(retained)
        .flat_map(
            |(metric, dimension): (Option<&str>, Option<&MetricDimension>)| {
                let metric = metric
                    .filter(|m| !m.starts_with(AWS_METRIC_PREFIX))
                    .map(|m| Dependency::CustomMetric(m.to_string()));
                let dimension = dimension.map(|d| Dependency::Dimension(d.dimension_name.clone()));
                metric.into_iter().chain(dimension)
            },
        )
        .collect()
}

/// How a dependency stands in the profile's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// No resource of the cluster manages it: the profile does not wait (it may exist in AWS).
    Unmanaged,
    /// A resource manages it and is Ready at its current generation.
    Ready,
    /// A resource manages it and is not Ready yet.
    NotReady,
    /// No resource of the cluster manages it and AWS has none of that name (yet).
    Missing,
}

/// The dependencies the profile waits for, in order; empty when it may go ahead. A profile
/// being deleted or only observed never waits (it writes nothing that names them).
pub fn waiting_for(
    desired: &Desired,
    readiness: impl Fn(&Dependency) -> Readiness,
) -> Vec<Dependency> {
    if desired.deleting || desired.management_policy == ManagementPolicy::Observe {
        return vec![];
    }
    dependencies(&desired.attributes)
        .into_iter()
        .filter(|d| matches!(readiness(d), Readiness::NotReady | Readiness::Missing))
        .collect()
}

/// The message of `Ready=False, reason=WaitingForDependency`.
pub fn waiting_message(waiting: &[Dependency]) -> String {
    let names: Vec<String> = waiting.iter().map(ToString::to_string).collect();
    format!(
        "waiting for {} to exist in AWS (a resource of this namespace that is Ready, or one created outside the cluster) before writing to AWS",
        names.join(", ")
    )
}

/// The readiness of a dependency from what the cluster says (`managed`: `Some(ready)` when a
/// resource of the namespace manages it) and, for unmanaged ones, whether AWS has it
/// (`in_aws`; `None` when AWS was not asked).
pub fn readiness_of(managed: Option<bool>, in_aws: Option<bool>) -> Readiness {
    match (managed, in_aws) {
        (Some(true), _) => Readiness::Ready,
        (Some(false), _) => Readiness::NotReady,
        (None, Some(false)) => Readiness::Missing,
        (None, _) => Readiness::Unmanaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Behavior, MetricToRetain};
    use crate::reconcile::model::Owner;

    fn desired(attributes: Attributes) -> Desired {
        Desired {
            name: "p".into(),
            attributes,
            targets: Default::default(),
            tags: Default::default(),
            owner: Owner {
                cluster: "c".into(),
                namespace: "ns".into(),
                name: "p".into(),
            },
            deletion_policy: Default::default(),
            adoption_policy: Default::default(),
            management_policy: Default::default(),
            deleting: false,
        }
    }

    fn attributes() -> Attributes {
        Attributes {
            behaviors: vec![
                Behavior {
                    name: "battery".into(),
                    metric: Some("batteryPercentage".into()),
                    ..Default::default()
                },
                Behavior {
                    name: "bytes".into(),
                    metric: Some("aws:message-byte-size".into()),
                    metric_dimension: Some(MetricDimension {
                        dimension_name: "telemetryTopics".into(),
                        operator: None,
                    }),
                    ..Default::default()
                },
            ],
            additional_metrics: vec![MetricToRetain {
                metric: "wifiClients".into(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn custom_metrics_and_dimensions_are_found_in_behaviors_and_retained_metrics() {
        let deps = dependencies(&attributes());
        assert_eq!(
            deps.into_iter().collect::<Vec<_>>(),
            vec![
                Dependency::CustomMetric("batteryPercentage".into()),
                Dependency::CustomMetric("wifiClients".into()),
                Dependency::Dimension("telemetryTopics".into()),
            ],
            "aws: metrics are AWS's own, not dependencies"
        );
    }

    #[test]
    fn waits_only_for_managed_dependencies_that_are_not_ready() {
        let d = desired(attributes());
        let waiting = waiting_for(&d, |dep| match dep {
            Dependency::CustomMetric(n) if n == "batteryPercentage" => Readiness::NotReady,
            Dependency::Dimension(_) => Readiness::NotReady,
            Dependency::CustomMetric(_) => Readiness::Unmanaged,
        });
        assert_eq!(
            waiting,
            vec![
                Dependency::CustomMetric("batteryPercentage".into()),
                Dependency::Dimension("telemetryTopics".into()),
            ]
        );
        assert!(waiting_message(&waiting).starts_with(
            "waiting for CustomMetric batteryPercentage, Dimension telemetryTopics to exist in AWS"
        ));
        assert!(waiting_for(&d, |_| Readiness::Missing).len() == 3);
        assert!(waiting_for(&d, |_| Readiness::Ready).is_empty());
        assert!(waiting_for(&d, |_| Readiness::Unmanaged).is_empty());
    }

    #[test]
    fn readiness_prefers_the_cluster_and_asks_aws_only_for_the_rest() {
        assert_eq!(readiness_of(Some(true), Some(false)), Readiness::Ready);
        assert_eq!(readiness_of(Some(false), Some(true)), Readiness::NotReady);
        assert_eq!(readiness_of(None, Some(false)), Readiness::Missing);
        assert_eq!(readiness_of(None, Some(true)), Readiness::Unmanaged);
        assert_eq!(readiness_of(None, None), Readiness::Unmanaged);
    }

    #[test]
    fn deletion_and_observe_never_wait() {
        let mut d = desired(attributes());
        d.deleting = true;
        assert!(waiting_for(&d, |_| Readiness::NotReady).is_empty());
        let mut d = desired(attributes());
        d.management_policy = ManagementPolicy::Observe;
        assert!(waiting_for(&d, |_| Readiness::NotReady).is_empty());
    }
}
