//! A custom metric or dimension read from AWS as a `CustomMetric` / `Dimension` manifest that
//! adopts it without change (the conventions of the profile manifests).

use super::manifest::Identity;
use crate::api::{
    AdoptionPolicy, CustomMetric, CustomMetricSpec, DeletionPolicy, Dimension, DimensionSpec,
    ManagementPolicy, Tag,
};
use crate::reconcile::model::is_reserved_tag;
use crate::reconcile::{CustomMetricAttributes, DimensionAttributes, ResourceObserved};
use std::collections::BTreeMap;

/// User tags only: ownership (`iot.awscc.io/`) and `aws:` tags dropped.
pub(super) fn user_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    let tags: Vec<Tag> = tags
        .iter()
        .filter(|(k, _)| !is_reserved_tag(k))
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    (!tags.is_empty()).then_some(tags)
}

/// The AWS name in the spec only when the Kubernetes name differs from it.
fn spec_name(id: &Identity<'_>) -> Option<String> {
    (id.aws_name != id.kube_name).then(|| id.aws_name.to_string())
}

/// The manifest of an observed custom metric: its type, display name and user tags, `Adopt`
/// so that the operator takes it over, `Retain` so that a mistake in Git cannot delete it.
pub fn custom_metric_manifest(
    id: &Identity<'_>,
    observed: &ResourceObserved<CustomMetricAttributes>,
) -> CustomMetric {
    let spec = CustomMetricSpec {
        metric_name: spec_name(id),
        region: Some(id.region.to_string()),
        display_name: observed.attributes.display_name.clone(),
        metric_type: observed.attributes.metric_type,
        tags: user_tags(&observed.tags),
        deletion_policy: DeletionPolicy::Retain,
        adoption_policy: AdoptionPolicy::Adopt,
        management_policy: ManagementPolicy::Manage,
    };
    let mut cm = CustomMetric::new(id.kube_name, spec);
    cm.metadata.namespace = id.namespace.map(str::to_string);
    cm
}

/// The manifest of an observed dimension: its type, topic filters and user tags, `Adopt` and
/// `Retain` as for custom metrics.
pub fn dimension_manifest(
    id: &Identity<'_>,
    observed: &ResourceObserved<DimensionAttributes>,
) -> Dimension {
    let spec = DimensionSpec {
        name: spec_name(id),
        region: Some(id.region.to_string()),
        type_: observed.attributes.dimension_type,
        string_values: observed.attributes.string_values.clone(),
        tags: user_tags(&observed.tags),
        deletion_policy: DeletionPolicy::Retain,
        adoption_policy: AdoptionPolicy::Adopt,
        management_policy: ManagementPolicy::Manage,
    };
    let mut d = Dimension::new(id.kube_name, spec);
    d.metadata.namespace = id.namespace.map(str::to_string);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CustomMetricType, DimensionType};

    fn observed<A>(attributes: A) -> ResourceObserved<A> {
        ResourceObserved {
            arn: "arn:aws:iot:us-east-1:123456789012:custommetric/Wifi_SSIDs".into(),
            attributes,
            tags: BTreeMap::from([
                ("team".into(), "edge".into()),
                ("aws:cloudformation:stack-name".into(), "s".into()),
                ("iot.awscc.io/cluster".into(), "c".into()),
            ]),
            creation_date: None,
            last_modified_date: None,
        }
    }

    #[test]
    fn manifests_keep_attributes_and_user_tags_and_adopt_without_deleting() {
        let id = Identity {
            aws_name: "Wifi_SSIDs",
            kube_name: "wifi-ssids",
            namespace: Some("team-a"),
            region: "eu-west-1",
        };
        let cm = custom_metric_manifest(
            &id,
            &observed(CustomMetricAttributes::new(
                Some("Wi-Fi".into()),
                CustomMetricType::StringList,
            )),
        );
        assert_eq!(cm.metadata.name.as_deref(), Some("wifi-ssids"));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(cm.spec.metric_name.as_deref(), Some("Wifi_SSIDs"));
        assert_eq!(cm.spec.region.as_deref(), Some("eu-west-1"));
        assert_eq!(cm.spec.display_name.as_deref(), Some("Wi-Fi"));
        assert_eq!(cm.spec.metric_type, CustomMetricType::StringList);
        assert_eq!(
            cm.spec.tags,
            Some(vec![Tag {
                key: "team".into(),
                value: "edge".into()
            }])
        );
        assert_eq!(cm.spec.deletion_policy, DeletionPolicy::Retain);
        assert_eq!(cm.spec.adoption_policy, AdoptionPolicy::Adopt);

        let same = Identity {
            aws_name: "topics",
            kube_name: "topics",
            ..id
        };
        let mut o = observed(DimensionAttributes::new(
            DimensionType::TopicFilter,
            vec!["b/#".into(), "a/#".into()],
        ));
        o.tags.clear();
        let d = dimension_manifest(&same, &o);
        assert_eq!(d.spec.name, None, "the Kubernetes name is the AWS name");
        assert_eq!(d.spec.string_values, ["a/#", "b/#"]);
        assert_eq!(d.spec.tags, None);
        assert_eq!(d.spec.deletion_policy, DeletionPolicy::Retain);
        assert_eq!(d.spec.adoption_policy, AdoptionPolicy::Adopt);
    }
}
