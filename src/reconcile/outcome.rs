//! What the planner decides, with the words users read: the plan, why a resource is refused,
//! what an observed profile looks like, what happens on deletion, and the conditions each
//! outcome leaves. The controller turns these into calls, status and events without adding a
//! decision of its own.

use super::drift::Drift;
use super::identity::Identity;
use super::plan::Step;
use crate::api::{ConditionStatus, Reason};
use crate::reconcile::SpecError;

/// What to do for one resource.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Run the steps (none when AWS already matches).
    Converge(Convergence),
    /// Write nothing; the resource is blocked until the user (or another resource) acts.
    Refuse(Refusal),
    /// `managementPolicy: Observe`: never write; report what was read.
    Observe(Observation),
    /// The recorded identity holds no profile of this resource any more (deleted, or never
    /// created) and the spec names another: forget it, then plan again.
    Release(Identity),
    /// The resource is being deleted: run the steps, then release the finalizer.
    Finalize(Finalization),
}

impl Plan {
    /// The AWS writes this plan makes.
    pub fn steps(&self) -> &[Step] {
        match self {
            Plan::Converge(c) => &c.steps,
            Plan::Finalize(f) => &f.steps,
            Plan::Refuse(_) | Plan::Observe(_) | Plan::Release(_) => &[],
        }
    }
}

/// Steps that make AWS match the spec, and what to say about them.
#[derive(Clone, Debug, PartialEq)]
pub struct Convergence {
    pub steps: Vec<Step>,
    /// The identity is not recorded on the resource yet: record it before the first write, so
    /// that no later edit can make the operator lose the profile.
    pub record_first: bool,
    /// An event to publish once the steps succeeded.
    pub announce: Option<Announcement>,
}

/// A Normal event about what a convergence meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    pub reason: &'static str,
    pub message: String,
}

impl Announcement {
    /// An unowned profile taken over, with every change the plan makes to it.
    pub fn adopted(identity: &Identity, steps: &[Step]) -> Announcement {
        let changes = describe_steps(steps);
        let message = if changes.is_empty() {
            format!("adopted existing security profile {identity} without other changes")
        } else {
            format!("adopted existing security profile {identity}; {changes}")
        };
        Announcement {
            reason: "Adopted",
            message,
        }
    }

    /// Changes made outside the operator, now undone.
    pub fn drift_corrected(drift: &Drift) -> Announcement {
        let message = if drift.deleted {
            "the profile was deleted outside the operator; created it again".to_string()
        } else {
            format!(
                "corrected changes made outside the operator to: {}",
                drift.describe()
            )
        };
        Announcement {
            reason: "DriftCorrected",
            message,
        }
    }
}

/// Every change of a plan, for the `Adopted` event (the history stays in `kubectl describe`).
fn describe_steps(steps: &[Step]) -> String {
    let mut parts = Vec::new();
    for step in steps {
        match step {
            Step::Update { update, .. } => {
                parts.push(format!("updated {}", update.fields().join(", ")))
            }
            Step::Attach(t) => parts.push(format!("attached {t}")),
            Step::Detach(t) => parts.push(format!("detached {t}")),
            Step::Untag(keys) => parts.push(format!(
                "removed tags {}",
                keys.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            Step::Tag(tags) => parts.push(format!(
                "tagged {}",
                tags.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
            Step::Create { .. } | Step::Delete { .. } => {}
        }
    }
    parts.join("; ")
}

/// Why the operator will not touch a profile.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The name exists in AWS without ownership tags and adoption was not asked for.
    AlreadyExists(Identity),
    /// The profile's ownership tags name another resource or cluster. `owner` describes them
    /// for the operator's log only: tenants are not told about each other.
    OwnedByAnother { identity: Identity, owner: String },
    /// The spec names another profile than the one this resource holds.
    IdentityChanged {
        in_use: Identity,
        wanted: Result<Identity, SpecError>,
    },
}

impl Refusal {
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::AlreadyExists(_) => Reason::AlreadyExists,
            Refusal::OwnedByAnother { .. } => Reason::OwnedByAnother,
            Refusal::IdentityChanged { .. } => Reason::InvalidSpec,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::AlreadyExists(id) => format!(
                "security profile {id} already exists and is not managed by this operator; set spec.adoptionPolicy: Adopt to take it over"
            ),
            Refusal::OwnedByAnother { identity, .. } => format!(
                "security profile {identity} is managed by another resource; it is never written or deleted by this one"
            ),
            Refusal::IdentityChanged { in_use, wanted } => {
                let wanted = match wanted {
                    Ok(w) => format!("names {w}"),
                    Err(e) => format!("is invalid ({e})"),
                };
                format!(
                    "this resource manages security profile {in_use}, but the spec now {wanted}. The AWS name and region of a resource cannot change: undo the edit to return to Ready, or create a new resource for the other profile (and delete this one to delete {in_use:?})",
                    in_use = in_use.name
                )
            }
        }
    }
}

/// What `managementPolicy: Observe` found.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// No such profile in AWS.
    Missing(Identity),
    /// AWS matches the spec.
    InSync,
    /// AWS differs from the spec.
    Drifted(Drift),
}

/// What happens to the AWS profile when the resource goes away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Farewell {
    /// The profile is deleted by the plan's steps.
    Deleted,
    /// `deletionPolicy: Retain` (or `managementPolicy: Observe`): AWS is left untouched.
    Retained(Identity),
    /// There is no profile (any more): nothing to do.
    Gone,
    /// The profile is not this resource's: it is left untouched.
    NotOurs(Identity),
    /// The resource never held a profile: it never reached AWS.
    NeverCreated,
}

impl Farewell {
    /// The Normal event that says goodbye, if any (`Deleted` has its own from the step).
    pub fn announcement(&self) -> Option<Announcement> {
        let (reason, message) = match self {
            Farewell::Deleted => return None,
            Farewell::Gone => ("Deleted", "no security profile was left in AWS".to_string()),
            Farewell::NeverCreated => (
                "Deleted",
                "this resource never reached AWS; nothing to delete".to_string(),
            ),
            Farewell::Retained(id) => (
                "Retained",
                format!(
                    "security profile {id} left in AWS (deletionPolicy: Retain or managementPolicy: Observe)"
                ),
            ),
            Farewell::NotOurs(id) => (
                "Retained",
                format!("security profile {id} is not owned by this resource and was left in AWS"),
            ),
        };
        Some(Announcement { reason, message })
    }
}

/// A deletion's steps and what they mean.
#[derive(Clone, Debug, PartialEq)]
pub struct Finalization {
    pub steps: Vec<Step>,
    pub farewell: Farewell,
}

/// One condition's status, reason and message.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub status: ConditionStatus,
    pub reason: Reason,
    pub message: String,
}

impl Verdict {
    pub fn new(status: ConditionStatus, reason: Reason, message: impl Into<String>) -> Verdict {
        Verdict {
            status,
            reason,
            message: message.into(),
        }
    }
}

/// The Ready and Synced conditions an outcome leaves, and whether AWS was found to match.
#[derive(Clone, Debug, PartialEq)]
pub struct Conditions {
    pub ready: Verdict,
    pub synced: Verdict,
    /// AWS matches the spec now (sets `lastSyncTime`).
    pub in_sync: bool,
}

impl Plan {
    /// The conditions once the plan has been carried out (`None` for plans that end the
    /// resource or that are planned again at once).
    pub fn conditions(&self) -> Option<Conditions> {
        use ConditionStatus::{False, True};
        match self {
            Plan::Converge(_) => Some(Conditions {
                ready: Verdict::new(True, Reason::Available, "the profile matches the spec"),
                synced: Verdict::new(True, Reason::ReconcileSuccess, "AWS matches the spec"),
                in_sync: true,
            }),
            Plan::Refuse(r) => Some(Conditions {
                ready: Verdict::new(False, Reason::Unavailable, r.message()),
                synced: Verdict::new(False, r.reason(), r.message()),
                in_sync: false,
            }),
            Plan::Observe(o) => {
                let ready = match o {
                    Observation::InSync => Verdict::new(
                        True,
                        Reason::Available,
                        "AWS matches the spec (observe only)",
                    ),
                    Observation::Drifted(d) => Verdict::new(
                        False,
                        Reason::Drifted,
                        format!(
                            "AWS differs from the spec in: {} (observe only: nothing is written)",
                            d.describe()
                        ),
                    ),
                    Observation::Missing(id) => Verdict::new(
                        False,
                        Reason::NotFound,
                        format!("security profile {id} not found (observe only)"),
                    ),
                };
                Some(Conditions {
                    in_sync: *o == Observation::InSync,
                    ready,
                    synced: Verdict::new(True, Reason::ReconcileSuccess, "observed"),
                })
            }
            Plan::Release(_) | Plan::Finalize(_) => None,
        }
    }
}
