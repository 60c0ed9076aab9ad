//! The controller's side of the multi-tenant guardrails: the rules for a resource's namespace,
//! and the reason a denial reports.

use super::Context;
use super::namespace::NamespaceFacts;
use crate::api::Reason;
use crate::reconcile::guard::{Denial, Guard};
use kube::ResourceExt;

/// The guard for a resource of any kind: the operator's flags narrowed by its namespace's annotations.
pub(super) fn guard_for(ctx: &Context, obj: &impl ResourceExt, ns: &NamespaceFacts) -> Guard {
    Guard::new(
        &ctx.guard,
        &obj.namespace().unwrap_or_default(),
        ns.annotations(),
    )
}

/// The `Synced=False` reason of a denial.
pub(super) fn reason(denial: &Denial) -> Reason {
    denial.reason()
}
