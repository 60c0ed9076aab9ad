//! The custom resources of `iot.awscc.io/v1alpha1`: `SecurityProfile` and the resources its
//! behaviors name (`CustomMetric`, `Dimension`): spec, status, conditions and the generated
//! CustomResourceDefinitions.

mod conditions;
mod crd;
mod custom_metric;
mod dimension;
mod resource_status;
mod spec;
mod status;

pub use conditions::{ConditionStatus, Reason, condition, now_seconds, ready_at, rfc3339};
pub use crd::{CrdError, crd, crd_yaml, crds, crds_yaml};
pub use custom_metric::{CustomMetric, CustomMetricSpec, CustomMetricType};
pub use dimension::{Dimension, DimensionSpec, DimensionType};
pub use resource_status::ResourceStatus;
pub use spec::*;
pub use status::{SecurityProfileStatus, ViolationsStatus};

/// The finalizer that keeps a resource until its AWS profile is deleted or retained.
pub const FINALIZER: &str = "iot.awscc.io/finalizer";
/// Annotation that stops all AWS calls for the resource while `"true"`.
pub const PAUSED_ANNOTATION: &str = "iot.awscc.io/paused";
/// Namespace annotation naming the default region of its resources.
pub const DEFAULT_REGION_ANNOTATION: &str = "iot.awscc.io/default-region";
/// Prefix of the ownership tags (and of tag keys users may not set).
pub const RESERVED_TAG_PREFIX: &str = "iot.awscc.io/";
/// Namespace annotation (set by the cluster admin) naming the IAM role the operator assumes
/// for every resource of the namespace; namespaces without it use the operator's own identity.
pub const ROLE_ARN_ANNOTATION: &str = "iot.awscc.io/role-arn";
/// Namespace annotation with the external id the role's trust policy requires (optional).
pub const EXTERNAL_ID_ANNOTATION: &str = "iot.awscc.io/external-id";
