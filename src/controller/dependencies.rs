//! Gathers, for the planner, whether the custom metrics and dimensions a profile names are
//! managed in its namespace and Ready, or else exist in AWS; and writes the waiting status.

use super::Context;
use super::error::{Error, jittered};
use super::events::publish;
use super::resource::ManagedKind;
use super::runner::{dependency_of, is_ready};
use super::status::{StatusBuilder, write_status_if_changed};
use crate::api::{ConditionStatus, CustomMetric, Dimension, Reason, SecurityProfile};
use crate::reconcile::{
    Dependency, Desired, Verdict, dependencies, readiness_of, waiting_for, waiting_message,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use std::collections::{BTreeSet, HashMap};

/// Whether the resources of `kind` in `namespace` that manage one of `wanted` are Ready (two
/// resources may manage one AWS name: one Ready is enough).
async fn managed<K: ManagedKind>(
    ctx: &Context,
    namespace: &str,
    wanted: &BTreeSet<Dependency>,
    into: &mut HashMap<Dependency, bool>,
) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), namespace);
    for obj in api.list(&ListParams::default()).await? {
        let Some(dependency) = dependency_of(&obj).filter(|d| wanted.contains(d)) else {
            continue;
        };
        *into.entry(dependency).or_insert(false) |= is_ready(&obj);
    }
    Ok(())
}

/// Which of the unmanaged dependencies AWS has (`ListCustomMetrics`, `ListDimensions`).
async fn in_aws(
    ctx: &Context,
    region: &str,
    unmanaged: &BTreeSet<&Dependency>,
) -> Result<BTreeSet<Dependency>, Error> {
    let mut found = BTreeSet::new();
    let is_metric = |d: &&&Dependency| matches!(d, Dependency::CustomMetric(_));
    if unmanaged.iter().any(|d| is_metric(&d)) {
        let names = ctx.iot.custom_metric_names(region).await?;
        found.extend(names.into_iter().map(Dependency::CustomMetric));
    }
    if unmanaged.iter().any(|d| !is_metric(&d)) {
        let names = ctx.iot.dimension_names(region).await?;
        found.extend(names.into_iter().map(Dependency::Dimension));
    }
    Ok(found)
}

/// The dependencies the profile waits for (the decision is the planner's `waiting_for`). AWS
/// is asked about the ones no resource of the namespace manages only when `ask_aws` (a spec
/// not yet applied, for a profile AWS does not have yet): resyncs cost no list call.
pub(crate) async fn waiting(
    sp: &SecurityProfile,
    desired: &Desired,
    ctx: &Context,
    region: &str,
    ask_aws: bool,
) -> Result<Vec<Dependency>, Error> {
    let wanted = dependencies(&desired.attributes);
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let namespace = sp.namespace().unwrap_or_default();
    let mut ready = HashMap::new();
    if wanted
        .iter()
        .any(|d| matches!(d, Dependency::CustomMetric(_)))
    {
        managed::<CustomMetric>(ctx, &namespace, &wanted, &mut ready).await?;
    }
    if wanted.iter().any(|d| matches!(d, Dependency::Dimension(_))) {
        managed::<Dimension>(ctx, &namespace, &wanted, &mut ready).await?;
    }
    let unmanaged: BTreeSet<&Dependency> =
        wanted.iter().filter(|d| !ready.contains_key(*d)).collect();
    let existing = match ask_aws && !unmanaged.is_empty() {
        true => Some(in_aws(ctx, region, &unmanaged).await?),
        false => None,
    };
    Ok(waiting_for(desired, |d| {
        let in_aws = existing.as_ref().map(|e| e.contains(d));
        readiness_of(ready.get(d).copied(), in_aws)
    }))
}

/// `Ready=False, reason=WaitingForDependency` naming what the profile waits for; no AWS write.
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
