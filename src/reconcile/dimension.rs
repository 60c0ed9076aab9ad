//! From a `Dimension` resource to the desired dimension, and what may change in AWS.

use super::resource::{
    ResourceAttributes, ResourceDesired, ResourceSpecError, owner_of, resource_name, tag_map,
};
use crate::api::{Dimension, DimensionType};
use kube::ResourceExt;

/// What `DescribeDimension` returns and `Create`/`UpdateDimension` write. The topic filters are
/// a set: order is not meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DimensionAttributes {
    pub dimension_type: DimensionType,
    pub string_values: Vec<String>,
}

impl DimensionAttributes {
    pub fn new(dimension_type: DimensionType, mut string_values: Vec<String>) -> Self {
        string_values.sort();
        string_values.dedup();
        DimensionAttributes {
            dimension_type,
            string_values,
        }
    }
}

impl ResourceAttributes for DimensionAttributes {
    fn immutable_differences(&self, observed: &Self) -> Vec<&'static str> {
        if self.dimension_type != observed.dimension_type {
            vec!["type"]
        } else {
            vec![]
        }
    }

    fn differing_fields(&self, observed: &Self) -> Vec<&'static str> {
        let mut fields = self.immutable_differences(observed);
        if self.string_values != observed.string_values {
            fields.push("stringValues");
        }
        fields
    }
}

/// The desired dimension of a resource.
pub fn desired_dimension(
    d: &Dimension,
    cluster_id: &str,
) -> Result<ResourceDesired<DimensionAttributes>, ResourceSpecError> {
    let spec = &d.spec;
    Ok(ResourceDesired {
        name: resource_name(spec.name.as_deref(), &d.name_any(), "name")?,
        attributes: DimensionAttributes::new(spec.type_, spec.string_values.clone()),
        tags: tag_map(spec.tags.as_deref()),
        owner: owner_of(&d.metadata, cluster_id),
        deletion_policy: spec.deletion_policy,
        adoption_policy: spec.adoption_policy,
        management_policy: spec.management_policy,
        deleting: d.metadata.deletion_timestamp.is_some(),
    })
}
