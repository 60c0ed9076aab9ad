//! Integration tests: the controller in-process, kube-sandbox and iot-emulator over real sockets.

#[path = "operator/harness.rs"]
mod harness;

#[path = "operator/admission_parity.rs"]
mod admission_parity;
#[path = "operator/drift.rs"]
mod drift;
#[path = "operator/e2e.rs"]
mod e2e;
#[path = "operator/faults.rs"]
mod faults;
#[path = "operator/lifecycle.rs"]
mod lifecycle;
#[path = "operator/overload.rs"]
mod overload;
#[path = "operator/ownership.rs"]
mod ownership;
#[path = "operator/packaging.rs"]
mod packaging;
#[path = "operator/policies.rs"]
mod policies;
#[path = "operator/real.rs"]
mod real;
