//! What the generic controller needs to know of each kind.

use crate::api::{CustomMetric, Dimension, ResourceStatus};
use crate::aws::ResourceApi;
use crate::reconcile::{
    CustomMetricAttributes, DimensionAttributes, ResourceAttributes, ResourceDesired,
    ResourceSpecError, desired_custom_metric, desired_dimension,
};
use k8s_openapi::NamespaceResourceScope;
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// A kind that mirrors one named AWS resource with tags.
pub trait ManagedKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// What AWS holds of it, and how to read and write it.
    type Attributes: ResourceAttributes + ResourceApi;
    /// The kind's name, for logs.
    const KIND: &'static str;
    fn desired(
        &self,
        cluster_id: &str,
    ) -> Result<ResourceDesired<Self::Attributes>, ResourceSpecError>;
    fn spec_region(&self) -> Option<&str>;
    fn resource_status(&self) -> Option<&ResourceStatus>;
}

impl ManagedKind for CustomMetric {
    type Attributes = CustomMetricAttributes;
    const KIND: &'static str = "CustomMetric";

    fn desired(
        &self,
        cluster_id: &str,
    ) -> Result<ResourceDesired<Self::Attributes>, ResourceSpecError> {
        desired_custom_metric(self, cluster_id)
    }

    fn spec_region(&self) -> Option<&str> {
        self.spec.region.as_deref()
    }

    fn resource_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
}

impl ManagedKind for Dimension {
    type Attributes = DimensionAttributes;
    const KIND: &'static str = "Dimension";

    fn desired(
        &self,
        cluster_id: &str,
    ) -> Result<ResourceDesired<Self::Attributes>, ResourceSpecError> {
        desired_dimension(self, cluster_id)
    }

    fn spec_region(&self) -> Option<&str> {
        self.spec.region.as_deref()
    }

    fn resource_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
}
