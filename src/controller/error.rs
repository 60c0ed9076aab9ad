//! Errors of one reconcile and what the error policy does about each.

use super::Context;
use crate::api::Reason;
use crate::aws::{ErrorClass, IotError};
use crate::reconcile::guard::Denial;
use crate::reconcile::{ResourceSpecError, SpecError};
use kube::runtime::controller::Action;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Iot(#[from] IotError),
    #[error("invalid spec: {0}")]
    Spec(#[from] SpecError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("paused: the iot.awscc.io/paused annotation is \"true\"")]
    Paused,
    #[error("{0}")]
    Denied(#[from] Denial),
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error("invalid spec: {0}")]
    ResourceSpec(#[from] ResourceSpecError),
    /// Pre-flight validation: AWS would reject the behaviors (its messages).
    #[error("ValidateSecurityProfileBehaviors: AWS rejects the behaviors: {}", .0.join("; "))]
    Rejected(Vec<String>),
    /// A custom metric or dimension is still named by security profiles in AWS.
    #[error("{noun} {name} is still used by the security profiles {}; it is deleted once none uses it", .users.join(", "))]
    InUse {
        noun: &'static str,
        name: String,
        users: Vec<String>,
    },
}

/// How the error policy requeues after an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Exponential backoff with jitter (throttling, 5xx, timeouts, conflicts).
    Backoff,
    /// Terminal for now: retry at the resync period (AccessDenied, AWS 4xx).
    Slow,
    /// Only a change to the resource helps (invalid spec, paused).
    OnChange,
    /// Waiting for something outside the resource that changes soon (a resource in use).
    Soon,
}

impl Error {
    /// Whether the finalizer helper's own write failed (adding or removing the finalizer, say a
    /// ServiceAccount without `patch`): nothing has reported it yet, unlike an error of the
    /// apply or cleanup it wraps.
    pub(crate) fn is_finalizer_write(&self) -> bool {
        matches!(self, Error::Finalizer(e) if !matches!(
            e.as_ref(),
            kube::runtime::finalizer::Error::ApplyFailed(_)
                | kube::runtime::finalizer::Error::CleanupFailed(_)
        ))
    }

    pub(crate) fn root(&self) -> &Error {
        match self {
            Error::Finalizer(e) => match e.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.root(),
                _ => self,
            },
            other => other,
        }
    }

    pub(crate) fn retry(&self) -> Retry {
        match self.root() {
            Error::Iot(e) if e.class().is_retryable() => Retry::Backoff,
            Error::Iot(_) => Retry::Slow,
            // A region may appear later (a namespace annotation, a new flag): look again on the
            // resync period.
            Error::Spec(SpecError::NoRegion) => Retry::Slow,
            Error::Spec(_) | Error::ResourceSpec(_) | Error::Rejected(_) | Error::Paused => {
                Retry::OnChange
            }
            Error::InUse { .. } => Retry::Soon,
            // The admin may change the namespace's annotations: look again at the resync.
            Error::Denied(_) => Retry::Slow,
            Error::Kube(_) | Error::Finalizer(_) => Retry::Backoff,
        }
    }

    /// Whether this process lost the right to write (it writes no status about it either).
    pub(crate) fn is_fenced(&self) -> bool {
        matches!(self.root(), Error::Iot(IotError::Fenced(_)))
    }

    /// The Synced=False reason and message of this error.
    pub(crate) fn reason(&self) -> (Reason, String) {
        let reason = match self.root() {
            Error::Iot(IotError::Aws(e)) => match e.class {
                ErrorClass::Throttled => Reason::Throttled,
                ErrorClass::AccessDenied => Reason::AccessDenied,
                ErrorClass::VersionConflict => Reason::VersionConflict,
                ErrorClass::Transient | ErrorClass::AlreadyExists => Reason::AwsError,
                ErrorClass::Invalid | ErrorClass::NotFound => Reason::AwsRejected,
            },
            Error::Iot(IotError::Convert(_)) | Error::Spec(_) => Reason::InvalidSpec,
            Error::Iot(IotError::Fenced(_)) => Reason::AwsError,
            Error::Iot(IotError::AssumeRole { .. } | IotError::RoleNotAllowed(_)) => {
                Reason::AccessDenied
            }
            Error::ResourceSpec(_) | Error::Rejected(_) => Reason::InvalidSpec,
            Error::InUse { .. } => Reason::Deleting,
            Error::Paused => Reason::Paused,
            Error::Denied(d) => super::guard::reason(d),
            Error::Kube(_) | Error::Finalizer(_) => Reason::KubernetesError,
        };
        (reason, self.root().to_string())
    }
}

/// `d` jittered by ±10%, so that resyncs of many resources spread out.
pub(crate) fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.9..1.1))
}

/// Exponential backoff with jitter: 1s, 2s, 4s … capped at 5 minutes, each between half and all of it.
pub(crate) fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(9))
        .min(Duration::from_secs(300));
    base.mul_f64(rand::rng().random_range(0.5..=1.0))
}

/// How often a resource whose deletion waits for its users is looked at again.
const IN_USE_RETRY: Duration = Duration::from_secs(5);

/// Requeues after an error: backoff for retryable errors, the resync period for terminal ones.
pub fn error_policy<K: kube::Resource<DynamicType = ()>>(
    sp: Arc<K>,
    err: &Error,
    ctx: Arc<Context>,
) -> Action {
    let n = ctx.fail(&super::key(sp.as_ref()));
    match err.retry() {
        Retry::Backoff => Action::requeue(backoff(n)),
        Retry::Slow => Action::requeue(jittered(ctx.resync)),
        Retry::OnChange => Action::await_change(),
        Retry::Soon => Action::requeue(jittered(IN_USE_RETRY)),
    }
}
