//! The apply branch of the finalizer: resolve, observe, plan (all decided in
//! `crate::reconcile`), then carry the plan out.

use super::error::{Error, backoff, jittered};
use super::events::publish;
use super::execute::execute;
use super::namespace::{self, NamespaceFacts};
use super::status::{StatusBuilder, clear_identity, write_status, write_status_if_changed};
use super::{Context, key};
use crate::api::{Reason, SecurityProfile};
use crate::reconcile::{
    Facts, Observation, Observed, Plan, RegionDefaults, Resolution, desired, identity, is_paused,
    plan, resolve,
};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use std::time::Duration;
use tracing::info;

/// One resource, from spec to a plan and its execution.
pub(crate) async fn apply(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
) -> Result<Action, Error> {
    if is_paused(sp) {
        return Err(Error::Paused);
    }
    let ns = if identity::needs_namespace_default(sp) {
        namespace::facts(ctx, sp).await?
    } else {
        NamespaceFacts::default()
    };
    let resolution = resolve(sp, region_defaults(ctx, &ns, &sdk_region(ctx)))?;
    let id = &resolution.identity;
    tracing::Span::current().record("aws_name", id.name.as_str());
    let desired = desired(sp, &ctx.cluster_id, &id.name);
    let observed = super::reads::observe(ctx, &id.region, &id.name, &desired).await?;
    let facts = Facts {
        resolution: &resolution,
        observed: observed.as_ref(),
        was_ready: was_ready(sp),
    };
    let plan = plan(&desired, facts);
    carry_out(ctx, sp, api, &resolution, observed, plan).await
}

fn sdk_region(ctx: &Context) -> Option<String> {
    ctx.iot.default_region()
}

fn region_defaults<'a>(
    ctx: &'a Context,
    ns: &'a NamespaceFacts,
    sdk: &'a Option<String>,
) -> RegionDefaults<'a> {
    RegionDefaults {
        namespace: ns.default_region(),
        operator: ctx.default_region.as_deref(),
        sdk: sdk.as_deref(),
    }
}

/// Ready=True at the current generation: AWS matched this very spec before.
fn was_ready(sp: &SecurityProfile) -> bool {
    sp.condition("Ready")
        .is_some_and(|c| c.status == "True" && c.observed_generation == sp.metadata.generation)
}

/// Turns a plan into AWS calls, a status and events.
async fn carry_out(
    ctx: &Context,
    sp: &SecurityProfile,
    api: &Api<SecurityProfile>,
    resolution: &Resolution,
    observed: Option<Observed>,
    plan: Plan,
) -> Result<Action, Error> {
    let id = &resolution.identity;
    let conditions = plan.conditions();
    match plan {
        Plan::Refuse(refusal) => {
            if let crate::reconcile::Refusal::OwnedByAnother { owner, .. } = &refusal {
                info!(profile = %id, %owner, "refused: the profile is managed by another resource");
            }
            let message = refusal.message();
            publish(
                ctx,
                sp,
                EventType::Warning,
                refusal.reason().as_str(),
                &message,
            )
            .await;
            let mut status = StatusBuilder::new(sp);
            if let Some(c) = &conditions {
                status = status.conditions(c);
            }
            write_status(api, sp, status.build()).await?;
            ctx.forget(&key(sp), false);
            Ok(Action::requeue(jittered(ctx.resync)))
        }
        Plan::Observe(observation) => {
            let mut status = StatusBuilder::new(sp);
            if let Some(o) = &observed {
                status = status.identity(id).observed(o);
            }
            if let Some(c) = &conditions {
                status = status.conditions(c);
            }
            let changed = write_status_if_changed(api, sp, status.build()).await?;
            if let (true, Observation::Drifted(d)) = (changed, &observation) {
                let note = format!(
                    "AWS differs from the spec in: {} (observe only)",
                    d.describe()
                );
                publish(ctx, sp, EventType::Warning, Reason::Drifted.as_str(), &note).await;
            }
            if observed.is_some() {
                ctx.forget(&key(sp), false);
                return Ok(Action::requeue(jittered(ctx.resync)));
            }
            // Waiting for the profile to appear: look again soon, then less and less often.
            let misses = ctx.fail(&key(sp));
            Ok(Action::requeue(backoff(misses).min(ctx.resync)))
        }
        Plan::Release(stale) => {
            info!(profile = %stale, "the recorded profile is gone or not ours; following the spec");
            clear_identity(api, sp).await?;
            Ok(Action::requeue(Duration::from_millis(100)))
        }
        Plan::Converge(convergence) => {
            let after = execute(
                ctx,
                sp,
                api,
                id,
                observed.as_ref(),
                &convergence.steps,
                convergence.record_first,
            )
            .await?;
            if let Some(a) = &convergence.announce {
                if a.reason == "DriftCorrected" {
                    ctx.metrics.drift_corrections.inc();
                }
                publish(ctx, sp, EventType::Normal, a.reason, &a.message).await;
            }
            let mut status = StatusBuilder::new(sp).identity(id).observed(&after);
            if let Some(c) = &conditions {
                status = status.conditions(c);
            }
            write_status_if_changed(api, sp, status.build()).await?;
            ctx.metrics
                .set_conditions(&key(sp), Some(("True".into(), "True".into())));
            ctx.forget(&key(sp), false);
            Ok(Action::requeue(jittered(ctx.resync)))
        }
        Plan::Finalize(_) => Ok(Action::await_change()),
    }
}
