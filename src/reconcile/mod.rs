//! Desired + observed -> plan (pure), ownership rules, and plan execution.

pub mod custom_metric;
pub mod dependencies;
pub mod desired;
pub mod dimension;
pub mod model;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod preflight;
pub mod resource;
#[cfg(test)]
mod resource_tests;

pub use custom_metric::{CustomMetricAttributes, desired_custom_metric};
pub use dependencies::{Dependency, Readiness, dependencies, waiting_for, waiting_message};
pub use desired::{SpecError, aws_name, check_identity, desired, is_paused, resolve_region};
pub use dimension::{DimensionAttributes, desired_dimension};
pub use model::{Attributes, Desired, Observed, Owner, Ownership};
pub use plan::{AttributeUpdate, Farewell, Field, Plan, Refusal, Step, plan, simulate};
pub use preflight::{Validate, preflight};
pub use resource::{
    ResourceAttributes, ResourceDesired, ResourceFarewell, ResourceObserved, ResourcePlan,
    ResourceRefusal, ResourceSpecError, ResourceStep, check_resource_identity, needs_users,
    plan_resource, simulate_resource,
};
