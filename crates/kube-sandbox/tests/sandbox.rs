//! Integration tests: real clients (kube-rs, kubectl, helm) against a running sandbox.

#[path = "sandbox/common.rs"]
mod common;
#[path = "sandbox/crud.rs"]
mod crud;
#[path = "sandbox/custom.rs"]
mod custom;
#[path = "sandbox/differential.rs"]
mod differential;
#[path = "sandbox/helm.rs"]
mod helm;
#[path = "sandbox/kubectl.rs"]
mod kubectl;
#[path = "sandbox/rbac.rs"]
mod rbac;
#[path = "sandbox/runtime.rs"]
mod runtime;
#[path = "sandbox/tools.rs"]
mod tools;
#[path = "sandbox/watch.rs"]
mod watch;
