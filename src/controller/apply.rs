//! The apply branch of the finalizer: observe AWS, plan, execute, write the status.

use super::error::{Error, backoff, jittered};
use super::events::publish;
use super::execute::execute;
use super::status::{status_of, write_status, write_status_if_changed};
use super::{Context, key};
use crate::api::{ConditionStatus, DEFAULT_REGION_ANNOTATION, Reason, SecurityProfile};
use crate::reconcile::{
    Desired, Observed, Plan, Refusal, check_identity, desired, is_paused, plan, resolve_region,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

/// The region of a resource: spec, then the region already in use (status), then the namespace
/// annotation, then the operator default, then the SDK default chain.
pub(crate) async fn region_of(sp: &SecurityProfile, ctx: &Context) -> Result<String, Error> {
    // A region counts as in use once a profile was found or created there (status has its ARN).
    let in_use = sp
        .status
        .as_ref()
        .filter(|s| s.security_profile_arn.is_some())
        .and_then(|s| s.region.clone());
    let from_namespace = if sp.spec.region.is_none() && in_use.is_none() {
        let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
        namespaces
            .get_opt(&sp.namespace().unwrap_or_default())
            .await?
            .and_then(|ns| ns.annotations().get(DEFAULT_REGION_ANNOTATION).cloned())
    } else {
        None
    };
    let spec_or_status = sp.spec.region.as_deref().or(in_use.as_deref());
    let region = resolve_region(
        spec_or_status,
        from_namespace.as_deref(),
        ctx.default_region.as_deref(),
    );
    Ok(ctx.iot.region(region.as_deref())?)
}

pub(crate) async fn apply(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
) -> Result<Action, Error> {
    if is_paused(sp) {
        return Err(Error::Paused);
    }
    let desired = desired(sp, &ctx.cluster_id)?;
    tracing::Span::current().record("aws_name", desired.name.as_str());
    let region = region_of(sp, ctx).await?;
    check_identity(sp, &desired.name, &region)?;
    let observed = super::reads::observe(ctx, &region, &desired).await?;
    match plan(&desired, observed.as_ref()) {
        Plan::Refuse(refusal) => {
            let (reason, message) = match refusal {
                Refusal::AlreadyExists => (
                    Reason::AlreadyExists,
                    format!(
                        "security profile {:?} already exists in {region} and is not managed by this operator; set spec.adoptionPolicy: Adopt to take it over",
                        desired.name
                    ),
                ),
                Refusal::OwnedByAnother(owner) => (
                    Reason::OwnedByAnother,
                    format!(
                        "security profile {:?} in {region} belongs to another resource ({owner}); it is never written or deleted by this one",
                        desired.name
                    ),
                ),
            };
            publish(ctx, sp, EventType::Warning, reason.as_str(), &message).await;
            let status = status_of(
                sp,
                &desired.name,
                &region,
                None,
                (ConditionStatus::False, Reason::Unavailable, message.clone()),
                (ConditionStatus::False, reason, message),
                false,
            );
            write_status(api, sp, status).await?;
            ctx.failures().remove(&key(sp));
            Ok(Action::requeue(jittered(ctx.resync)))
        }
        Plan::Observe => {
            let ready = match &observed {
                Some(_) => (
                    ConditionStatus::True,
                    Reason::Available,
                    "the profile exists in AWS (observe only)".to_string(),
                ),
                None => (
                    ConditionStatus::False,
                    Reason::NotFound,
                    format!(
                        "security profile {:?} not found in {region} (observe only)",
                        desired.name
                    ),
                ),
            };
            let synced = (
                ConditionStatus::True,
                Reason::ReconcileSuccess,
                "observed".to_string(),
            );
            let status = status_of(
                sp,
                &desired.name,
                &region,
                observed.as_ref(),
                ready,
                synced,
                observed.is_some(),
            );
            write_status_if_changed(api, sp, status).await?;
            if observed.is_some() {
                ctx.failures().remove(&key(sp));
                return Ok(Action::requeue(jittered(ctx.resync)));
            }
            // Waiting for the profile to appear: look again soon, then less and less often.
            let misses = {
                let mut failures = ctx.failures();
                let n = failures.entry(key(sp)).or_insert(0);
                *n += 1;
                *n
            };
            Ok(Action::requeue(backoff(misses).min(ctx.resync)))
        }
        Plan::Converge { steps, adopt } => {
            let was_ready_at_this_generation = sp.condition("Ready").is_some_and(|c| {
                c.status == "True" && c.observed_generation == sp.metadata.generation
            });
            let drift = (!steps.is_empty() && !adopt && was_ready_at_this_generation)
                .then(|| drift_fields(&desired, observed.as_ref()));
            let after = execute(ctx, sp, &region, &desired, observed.as_ref(), &steps).await?;
            if adopt {
                publish(
                    ctx,
                    sp,
                    EventType::Normal,
                    "Adopted",
                    &format!(
                        "adopted existing security profile {} ({})",
                        desired.name, after.arn
                    ),
                )
                .await;
            }
            if let Some(fields) = drift {
                ctx.metrics.drift_corrections.inc();
                publish(
                    ctx,
                    sp,
                    EventType::Normal,
                    "DriftCorrected",
                    &format!(
                        "corrected changes made outside the operator to: {}",
                        fields.join(", ")
                    ),
                )
                .await;
            }
            let ready = (
                ConditionStatus::True,
                Reason::Available,
                "the profile matches the spec".to_string(),
            );
            let synced = (
                ConditionStatus::True,
                Reason::ReconcileSuccess,
                "AWS matches the spec".to_string(),
            );
            let status = status_of(
                sp,
                &desired.name,
                &region,
                Some(&after),
                ready,
                synced,
                true,
            );
            write_status_if_changed(api, sp, status).await?;
            ctx.metrics
                .set_conditions(&key(sp), Some(("True".into(), "True".into())));
            ctx.failures().remove(&key(sp));
            Ok(Action::requeue(jittered(ctx.resync)))
        }
        Plan::Finalize { .. } => Ok(Action::await_change()),
    }
}

/// The spec fields in which AWS differs from the desired state.
fn drift_fields(desired: &Desired, observed: Option<&Observed>) -> Vec<&'static str> {
    let Some(o) = observed else { return vec![] };
    let mut fields = o.attributes.differing_fields(&desired.attributes);
    if o.targets != desired.targets {
        fields.push("targetArns");
    }
    let want = desired.all_tags();
    if o.tags
        .iter()
        .any(|(k, v)| want.get(k).is_some_and(|w| w != v))
        || want.keys().any(|k| !o.tags.contains_key(k))
        || o.tags
            .keys()
            .any(|k| !want.contains_key(k) && !crate::reconcile::model::is_reserved_tag(k))
    {
        fields.push("tags");
    }
    fields
}
