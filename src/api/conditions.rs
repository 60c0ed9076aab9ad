//! The `Ready` and `Synced` conditions and their reasons.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{Timestamp, Unit};

/// Why a condition has its status. The strings are a contract: users and the Argo CD health
/// check match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Available,
    Unavailable,
    Creating,
    Deleting,
    ReconcileSuccess,
    InvalidSpec,
    AlreadyExists,
    OwnedByAnother,
    AccessDenied,
    Throttled,
    AwsError,
    Paused,
    VersionConflict,
    NotFound,
    /// AWS rejected the request for good (a 4xx that the same request will get again).
    AwsRejected,
    /// The Kubernetes API failed (not AWS).
    KubernetesError,
    /// `managementPolicy: Observe` and AWS differs from the spec.
    Drifted,
    /// `adoptionPolicy: Adopt` where the cluster admin does not allow adoption.
    AdoptionNotAllowed,
    /// The spec names a role, topic, target or region outside the admin's allowlists.
    Forbidden,
    /// A CustomMetric or Dimension the profile names is not ready yet.
    WaitingForDependency,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Available => "Available",
            Reason::Unavailable => "Unavailable",
            Reason::Creating => "Creating",
            Reason::Deleting => "Deleting",
            Reason::ReconcileSuccess => "ReconcileSuccess",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::OwnedByAnother => "OwnedByAnother",
            Reason::AccessDenied => "AccessDenied",
            Reason::Throttled => "Throttled",
            Reason::AwsError => "AwsError",
            Reason::Paused => "Paused",
            Reason::VersionConflict => "VersionConflict",
            Reason::NotFound => "NotFound",
            Reason::AwsRejected => "AwsRejected",
            Reason::KubernetesError => "KubernetesError",
            Reason::Drifted => "Drifted",
            Reason::AdoptionNotAllowed => "AdoptionNotAllowed",
            Reason::Forbidden => "Forbidden",
            Reason::WaitingForDependency => "WaitingForDependency",
        }
    }
}

/// `True`, `False` or `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// Builds a condition, keeping `lastTransitionTime` from `previous` when the status did not change.
pub fn condition(
    type_: &str,
    status: ConditionStatus,
    reason: Reason,
    message: impl Into<String>,
    generation: Option<i64>,
    previous: Option<&[Condition]>,
) -> Condition {
    let now = Time(now_seconds());
    let last_transition_time = previous
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status.as_str())
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(now);
    Condition {
        type_: type_.to_string(),
        status: status.as_str().to_string(),
        reason: reason.as_str().to_string(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// Now, at the seconds precision Kubernetes stores.
pub fn now_seconds() -> Timestamp {
    let now = Timestamp::now();
    now.round(Unit::Second).unwrap_or(now)
}

/// RFC 3339 with seconds precision, as Kubernetes writes times.
pub fn rfc3339(t: Timestamp) -> String {
    let t = t.round(Unit::Second).unwrap_or(t);
    t.to_string()
}

/// Whether a Ready condition says True about `generation` (not an older spec).
pub fn ready_at(ready: Option<&Condition>, generation: Option<i64>) -> bool {
    ready.is_some_and(|c| c.status == "True" && c.observed_generation == generation)
}
