//! From a `CustomMetric` resource to the desired custom metric, and what may change in AWS.

use super::resource::{
    ResourceAttributes, ResourceDesired, ResourceSpecError, owner_of, resource_name, tag_map,
};
use crate::api::{CustomMetric, CustomMetricType};
use kube::ResourceExt;

/// What `DescribeCustomMetric` returns and `Create`/`UpdateCustomMetric` write. An empty display
/// name is no display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomMetricAttributes {
    pub display_name: Option<String>,
    pub metric_type: CustomMetricType,
}

impl CustomMetricAttributes {
    pub fn new(display_name: Option<String>, metric_type: CustomMetricType) -> Self {
        CustomMetricAttributes {
            display_name: display_name.filter(|d| !d.is_empty()),
            metric_type,
        }
    }
}

impl ResourceAttributes for CustomMetricAttributes {
    fn immutable_differences(&self, observed: &Self) -> Vec<&'static str> {
        if self.metric_type != observed.metric_type {
            vec!["metricType"]
        } else {
            vec![]
        }
    }

    fn differing_fields(&self, observed: &Self) -> Vec<&'static str> {
        let mut fields = self.immutable_differences(observed);
        if self.display_name != observed.display_name {
            fields.push("displayName");
        }
        fields
    }
}

/// The desired custom metric of a resource.
pub fn desired_custom_metric(
    cm: &CustomMetric,
    cluster_id: &str,
) -> Result<ResourceDesired<CustomMetricAttributes>, ResourceSpecError> {
    let spec = &cm.spec;
    Ok(ResourceDesired {
        name: resource_name(spec.metric_name.as_deref(), &cm.name_any(), "metricName")?,
        attributes: CustomMetricAttributes::new(spec.display_name.clone(), spec.metric_type),
        tags: tag_map(spec.tags.as_deref()),
        owner: owner_of(&cm.metadata, cluster_id),
        deletion_policy: spec.deletion_policy,
        adoption_policy: spec.adoption_policy,
        management_policy: spec.management_policy,
        deleting: cm.metadata.deletion_timestamp.is_some(),
    })
}
