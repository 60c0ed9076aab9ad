//! Every decision of a reconcile, as pure functions: which profile a resource is about
//! (`identity`), what it should look like (`desired`), how AWS differs (`drift`), and what to do
//! about it, with the words users read (`plan`, `outcome`). No I/O.

pub mod desired;
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

pub use desired::{SpecError, aws_name, desired, is_paused};
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
