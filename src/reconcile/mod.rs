//! Desired + observed -> plan (pure), ownership rules, and plan execution.

pub mod desired;
pub mod guard;
#[cfg(test)]
mod guard_tests;
pub mod model;
pub mod plan;
#[cfg(test)]
mod plan_tests;

pub use desired::{SpecError, aws_name, check_identity, desired, is_paused, resolve_region};
pub use model::{Attributes, Desired, Observed, Owner, Ownership};
pub use plan::{AttributeUpdate, Farewell, Field, Plan, Refusal, Step, plan, simulate};
