//! The apply branch of the finalizer: resolve, observe, plan (all decided in
//! `crate::reconcile`), then carry the plan out.

use super::error::{Error, backoff, jittered};
use super::events::publish;
use super::execute::execute;
use super::namespace::{self, NamespaceFacts};
use super::status::{
    StatusBuilder, beyond_violations, clear_identity, write_status, write_status_if_changed,
};
use super::violations::Next;
use super::{Context, guard, key};
use crate::api::{Reason, SecurityProfile};
use crate::reconcile::{
    Conditions, Convergence, Facts, Identity, Observation, Observed, Plan, Refusal, RegionDefaults,
    Resolution, Validate, desired, is_paused, plan, preflight, resolve,
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
    let ns = namespace::facts(ctx, sp).await?;
    let resolution = resolve(sp, region_defaults(ctx, &ns, &sdk_region(ctx)))?;
    let id = &resolution.identity;
    tracing::Span::current().record("aws_name", id.name.as_str());
    let desired = desired(sp, &ctx.cluster_id, &id.name);
    // Guardrails: the spec before any AWS call, the plan before its first write.
    let guard = guard::guard_for(ctx, sp, &ns);
    guard.check_spec(&desired, &id.region)?;
    let spec_changed = !Facts::of(sp, &resolution, None).was_ready;
    let observed = super::reads::observe(ctx, &id.region, &id.name, &desired).await?;
    // AWS is asked for unmanaged dependencies only before a create: a profile that exists
    // already names dependencies AWS accepted.
    let ask_aws = spec_changed && observed.is_none();
    let waiting = super::dependencies::waiting(sp, &desired, ctx, &id.region, ask_aws).await?;
    if !waiting.is_empty() {
        return super::dependencies::report_waiting(sp, ctx, api, &waiting).await;
    }
    let plan = plan(&desired, Facts::of(sp, &resolution, observed.as_ref()));
    guard.check_plan(&desired, observed.as_ref(), &plan)?;
    if let Some(Validate { behaviors }) = preflight(&plan, spec_changed) {
        let errors = ctx.iot.validate_behaviors(&id.region, &behaviors).await?;
        if !errors.is_empty() {
            return Err(Error::Rejected(errors));
        }
    }
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

/// Turns a plan into AWS calls, a status and events.
async fn carry_out(
    ctx: &Context,
    sp: &SecurityProfile,
    api: &Api<SecurityProfile>,
    resolution: &Resolution,
    observed: Option<Observed>,
    plan: Plan,
) -> Result<Action, Error> {
    let out = Carry {
        ctx,
        sp,
        api,
        id: &resolution.identity,
        conditions: plan.conditions(),
    };
    match plan {
        Plan::Refuse(refusal) => out.refuse(&refusal).await,
        Plan::Observe(observation) => out.observe(&observation, observed.as_ref()).await,
        Plan::Release(stale) => {
            info!(profile = %stale, "the recorded profile is gone or not ours; following the spec");
            clear_identity(api, sp).await?;
            Ok(Action::requeue(Duration::from_millis(100)))
        }
        Plan::Converge(c) => out.converge(&c, observed.as_ref()).await,
        Plan::Finalize(_) => Ok(Action::await_change()),
    }
}

/// One plan being carried out: the resource, the identity and the conditions it will leave.
struct Carry<'a> {
    ctx: &'a Context,
    sp: &'a SecurityProfile,
    api: &'a Api<SecurityProfile>,
    id: &'a Identity,
    conditions: Option<Conditions>,
}

impl Carry<'_> {
    fn status(&self) -> StatusBuilder<'_> {
        let status = StatusBuilder::new(self.sp);
        match &self.conditions {
            Some(c) => status.conditions(c),
            None => status,
        }
    }

    async fn refuse(&self, refusal: &Refusal) -> Result<Action, Error> {
        if let Refusal::OwnedByAnother { owner, .. } = refusal {
            info!(profile = %self.id, %owner, "refused: the profile is managed by another resource");
        }
        let reason = refusal.reason();
        let (ctx, sp) = (self.ctx, self.sp);
        publish(
            ctx,
            sp,
            EventType::Warning,
            reason.as_str(),
            &refusal.message(),
        )
        .await;
        write_status(self.api, sp, self.status().build()).await?;
        ctx.forget(&key(sp), false);
        Ok(Action::requeue(jittered(ctx.resync)))
    }

    async fn observe(&self, o: &Observation, observed: Option<&Observed>) -> Result<Action, Error> {
        let (ctx, sp) = (self.ctx, self.sp);
        let mut status = self.status();
        let mut violations = Next::Keep;
        if let Some(observed) = observed {
            violations = super::violations::read(ctx, sp, self.id).await;
            status = status.identity(self.id).observed(observed);
        }
        let status = status.violations(&violations).build();
        // A new violations count alone is no news about drift.
        let news = beyond_violations(sp.status.as_ref(), &status);
        let changed = write_status_if_changed(self.api, sp, status).await?;
        super::violations::announce(ctx, sp, &violations).await;
        if let (true, true, Observation::Drifted(d)) = (changed, news, o) {
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

    async fn converge(
        &self,
        c: &Convergence,
        observed: Option<&Observed>,
    ) -> Result<Action, Error> {
        let (ctx, sp) = (self.ctx, self.sp);
        let after = execute(
            ctx,
            sp,
            self.api,
            self.id,
            observed,
            &c.steps,
            c.record_first,
        )
        .await?;
        if let Some(a) = &c.announce {
            if a.reason == "DriftCorrected" {
                ctx.metrics.drift_corrections.inc();
            }
            publish(ctx, sp, EventType::Normal, a.reason, &a.message).await;
        }
        let violations = super::violations::read(ctx, sp, self.id).await;
        let status = self.status().identity(self.id).observed(&after);
        write_status_if_changed(self.api, sp, status.violations(&violations).build()).await?;
        super::violations::announce(ctx, sp, &violations).await;
        ctx.metrics
            .set_conditions(&key(sp), Some(("True".into(), "True".into())));
        ctx.forget(&key(sp), false);
        Ok(Action::requeue(jittered(ctx.resync)))
    }
}
