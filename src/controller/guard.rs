//! The controller's side of the multi-tenant guardrails: the namespace annotations the guard
//! (and the region resolution) read, and what a denial becomes.

use super::Context;
use crate::api::Reason;
use crate::reconcile::guard::{Denial, Guard};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use std::collections::BTreeMap;
use tracing::info;

/// The annotations of a namespace (none when it cannot be found): read once per reconcile for
/// both the default region and the guard.
pub(super) async fn namespace_annotations(
    ctx: &Context,
    namespace: &str,
) -> Result<BTreeMap<String, String>, kube::Error> {
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    Ok(namespaces
        .get_opt(namespace)
        .await?
        .and_then(|ns| ns.metadata.annotations)
        .unwrap_or_default())
}

/// The guard for a namespace: the operator's flags narrowed by its annotations.
pub(super) fn guard_for(
    ctx: &Context,
    namespace: &str,
    annotations: &BTreeMap<String, String>,
) -> Guard {
    Guard::new(&ctx.guard, namespace, annotations)
}

/// The `Synced=False` reason of a denial.
pub(super) fn reason(denial: &Denial) -> Reason {
    match denial {
        Denial::AdoptionNotAllowed { .. } => Reason::AdoptionNotAllowed,
        Denial::Forbidden { .. } => Reason::Forbidden,
        Denial::OwnedByAnother { .. } => Reason::OwnedByAnother,
    }
}

/// Tells admins (in the operator's log, never in status or events) who owns a profile that
/// another resource asked for.
pub(super) fn log_owner(name: &str, owner: &str) {
    info!(
        aws_name = name,
        owner, "profile owned by another resource; refused"
    );
}

/// Logs the owner of a profile behind an `OwnedByAnother` denial (see [`log_owner`]).
pub(super) fn log_denial(denial: &Denial) {
    if let Denial::OwnedByAnother { name, owner } = denial {
        log_owner(name, owner);
    }
}
