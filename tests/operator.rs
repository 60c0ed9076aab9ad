//! Integration tests: the controller in-process, kube-sandbox and iot-emulator over real sockets.

#[path = "operator/cluster.rs"]
mod cluster;
#[path = "operator/harness.rs"]
mod harness;

#[path = "operator/accounts.rs"]
mod accounts;
#[path = "operator/admission_parity.rs"]
mod admission_parity;
#[path = "operator/brownfield.rs"]
mod brownfield;
#[path = "operator/brownfield_e2e.rs"]
mod brownfield_e2e;
#[path = "operator/dependencies.rs"]
mod dependencies;
#[path = "operator/drift.rs"]
mod drift;
#[path = "operator/e2e.rs"]
mod e2e;
#[path = "operator/faults.rs"]
mod faults;
#[path = "operator/guard.rs"]
mod guard;
#[path = "operator/iam_reference.rs"]
mod iam_reference;
#[path = "operator/kinds.rs"]
mod kinds;
#[path = "operator/kubectl.rs"]
mod kubectl;
#[path = "operator/lifecycle.rs"]
mod lifecycle;
#[path = "operator/overload.rs"]
mod overload;
#[path = "operator/ownership.rs"]
mod ownership;
#[path = "operator/packaging/mod.rs"]
mod packaging;
#[path = "operator/plan.rs"]
mod plan;
#[path = "operator/policies.rs"]
mod policies;
#[path = "operator/real.rs"]
mod real;
#[path = "operator/violations.rs"]
mod violations;
