//! Gathers, for the planner, whether the custom metrics and dimensions a profile names are
//! managed in its namespace and Ready; and writes the waiting status when they are not.

use super::Context;
use super::error::{Error, jittered};
use super::events::publish;
use super::resource::ManagedKind;
use super::runner::{dependency_of, is_ready};
use super::status::{StatusBuilder, write_status_if_changed};
use crate::api::{ConditionStatus, CustomMetric, Dimension, Reason, SecurityProfile};
use crate::reconcile::{
    Dependency, Desired, Readiness, Verdict, dependencies, waiting_for, waiting_message,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use std::collections::{BTreeSet, HashMap};

/// Readiness of the dependencies of `kind` in `namespace` that are among `wanted`.
async fn readiness_of<K: ManagedKind>(
    ctx: &Context,
    namespace: &str,
    wanted: &BTreeSet<Dependency>,
    into: &mut HashMap<Dependency, Readiness>,
) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    for obj in api.list(&ListParams::default()).await? {
        let Some(dependency) = dependency_of(&obj).filter(|d| wanted.contains(d)) else {
            continue;
        };
        let state = if is_ready(&obj) {
            Readiness::Ready
        } else {
            Readiness::NotReady
        };
        // Two resources may manage one AWS name: one Ready is enough.
        into.entry(dependency)
            .and_modify(|r| {
                if state == Readiness::Ready {
                    *r = state;
                }
            })
            .or_insert(state);
    }
    Ok(())
}

/// The dependencies the profile waits for (the decision is the planner's `waiting_for`).
pub(crate) async fn waiting(
    sp: &SecurityProfile,
    desired: &Desired,
    ctx: &Context,
) -> Result<Vec<Dependency>, Error> {
    let wanted = dependencies(&desired.attributes);
    let namespace = sp.namespace().unwrap_or_default();
    let mut readiness = HashMap::new();
    if wanted
        .iter()
        .any(|d| matches!(d, Dependency::CustomMetric(_)))
    {
        readiness_of::<CustomMetric>(ctx, &namespace, &wanted, &mut readiness).await?;
    }
    if wanted.iter().any(|d| matches!(d, Dependency::Dimension(_))) {
        readiness_of::<Dimension>(ctx, &namespace, &wanted, &mut readiness).await?;
    }
    Ok(waiting_for(desired, |d| {
        readiness.get(d).copied().unwrap_or(Readiness::Unmanaged)
    }))
}

/// `Ready=False, reason=WaitingForDependency` naming what the profile waits for; no AWS call.
/// The profile is reconciled again when one of them changes readiness (a watch), or at resync.
pub(crate) async fn report_waiting(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
    waiting: &[Dependency],
) -> Result<Action, Error> {
    let message = waiting_message(waiting);
    let previous = sp.condition("Ready");
    if previous
        .is_none_or(|c| c.reason != Reason::WaitingForDependency.as_str() || c.message != message)
    {
        publish(ctx, sp, EventType::Normal, "WaitingForDependency", &message).await;
    }
    let verdict = Verdict::new(
        ConditionStatus::False,
        Reason::WaitingForDependency,
        message,
    );
    let status = StatusBuilder::new(sp)
        .ready(&verdict)
        .synced(&verdict)
        .build();
    write_status_if_changed(api, sp, status).await?;
    Ok(Action::requeue(jittered(ctx.resync)))
}
