//! Every decision of a reconcile, as pure functions: which profile a resource is about
//! (`identity`), what it should look like (`desired`), how AWS differs (`drift`), and what to do
//! about it, with the words users read (`plan`, `outcome`). No I/O.

pub mod custom_metric;
pub mod dependencies;
pub mod desired;
pub mod dimension;
pub mod drift;
pub mod guard;
#[cfg(test)]
mod guard_tests;
pub mod identity;
pub mod model;
pub mod outcome;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod preflight;
pub mod resource;
#[cfg(test)]
mod resource_tests;
pub mod violations;

pub use custom_metric::{CustomMetricAttributes, desired_custom_metric};
pub use dependencies::{
    Dependency, Readiness, dependencies, readiness_of, waiting_for, waiting_message,
};
pub use desired::{SpecError, aws_name, desired, is_paused};
pub use dimension::{DimensionAttributes, desired_dimension};
pub use drift::Drift;
pub use identity::{
    CleanupScope, Identity, RegionDefaults, Resolution, cleanup_scope, pinned, resolve,
};
pub use model::{Attributes, Desired, Observed, Owner, Ownership};
pub use outcome::{
    Announcement, Conditions, Convergence, Farewell, Finalization, Observation, Plan, Refusal,
    Verdict,
};
pub use plan::{AttributeUpdate, Facts, Field, Step, finalize, plan, simulate};
pub use preflight::{Validate, preflight};
pub use resource::{
    ResourceAttributes, ResourceDesired, ResourceFarewell, ResourceObserved, ResourcePlan,
    ResourceRefusal, ResourceSpecError, ResourceStep, check_resource_identity, needs_users,
    plan_resource, resource_region, simulate_resource,
};
