//! The apply branch for a CustomMetric or Dimension: observe, plan, execute, status.

use super::status::write_status;
use super::status::{ConditionSpec, Found, resource_status, write_if_changed};
use super::{ManagedKind, paused};
use crate::api::{ConditionStatus, Reason};
use crate::aws::ResourceApi;
use crate::controller::error::{Error, jittered};
use crate::controller::events::publish;
use crate::controller::guard::guard_for;
use crate::controller::namespace::{self, NamespaceFacts};
use crate::controller::{Context, key};
use crate::reconcile::{
    RegionDefaults, ResourceAttributes, ResourceDesired, ResourceObserved, ResourcePlan,
    ResourceRefusal, ResourceStep, check_resource_identity, plan_resource, resource_region,
    simulate_resource,
};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

/// The AWS name, region and observed state of a resource.
pub(crate) struct Located<A> {
    pub desired: ResourceDesired<A>,
    pub region: String,
}

/// Desired state and region, with the identity check (name and region cannot change).
pub(crate) async fn locate<K: ManagedKind>(
    obj: &K,
    ctx: &Context,
) -> Result<Located<K::Attributes>, Error> {
    let desired = obj.desired(&ctx.cluster_id)?;
    tracing::Span::current().record("aws_name", desired.name.as_str());
    let status = obj.resource_status();
    let in_use = status
        .filter(|s| s.arn.is_some())
        .and_then(|s| s.region.as_deref());
    let ns = if in_use.is_none() && obj.spec_region().is_none() {
        namespace::facts(ctx, obj).await?
    } else {
        NamespaceFacts::default()
    };
    let sdk = ctx.iot.default_region();
    let defaults = RegionDefaults {
        namespace: ns.default_region(),
        operator: ctx.default_region.as_deref(),
        sdk: sdk.as_deref(),
    };
    let region = resource_region(obj.spec_region(), in_use, defaults)?;
    check_resource_identity(status, &desired.name, &region)?;
    Ok(Located { desired, region })
}

pub(crate) async fn apply<K: ManagedKind>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
) -> Result<Action, Error> {
    if paused(obj) {
        return Err(Error::Paused);
    }
    let Located { desired, region } = locate(obj, ctx).await?;
    let noun = K::Attributes::NOUN;
    // Guardrails, as for a SecurityProfile: the region before any AWS call, the plan (an
    // adoption) before its first write.
    let guard = guard_for(ctx, obj, &namespace::facts(ctx, obj).await?);
    guard.check_region(&region)?;
    let observed = K::Attributes::observe(&ctx.iot, &region, &desired.name).await?;
    let found = |observed, in_sync| Found {
        name: &desired.name,
        region: &region,
        observed,
        in_sync,
        used_by: None,
    };
    let plan = plan_resource(&desired, observed.as_ref(), &[]);
    guard.check_resource_plan(noun, &desired.name, &plan)?;
    let status = match plan {
        ResourcePlan::Refuse(refusal) => {
            let (reason, message) = refusal_message(noun, &desired.name, &region, refusal);
            publish(ctx, obj, EventType::Warning, reason.as_str(), &message).await;
            let unavailable = (ConditionStatus::False, Reason::Unavailable, message.clone());
            let status = resource_status(
                obj,
                found(None, false),
                unavailable,
                (ConditionStatus::False, reason, message),
            );
            write_status(api, obj, status).await?;
            ctx.failures().remove(&key(obj));
            return Ok(Action::requeue(jittered(ctx.resync)));
        }
        ResourcePlan::Observe => {
            let (ready, synced) =
                observed_conditions(noun, &desired.name, &region, observed.is_some());
            resource_status(
                obj,
                found(observed.as_ref(), observed.is_some()),
                ready,
                synced,
            )
        }
        ResourcePlan::Converge { steps, adopt } => {
            let after = execute(ctx, obj, &region, &desired, observed.as_ref(), &steps).await?;
            if adopt {
                let note = format!("adopted existing {noun} {} ({})", desired.name, after.arn);
                publish(ctx, obj, EventType::Normal, "Adopted", &note).await;
            }
            let ready = (
                ConditionStatus::True,
                Reason::Available,
                format!("the {noun} matches the spec"),
            );
            let synced = (
                ConditionStatus::True,
                Reason::ReconcileSuccess,
                "AWS matches the spec".into(),
            );
            resource_status(obj, found(Some(&after), true), ready, synced)
        }
        ResourcePlan::Finalize { .. } => return Ok(Action::await_change()),
    };
    write_if_changed(api, obj, status).await?;
    ctx.failures().remove(&key(obj));
    Ok(Action::requeue(jittered(ctx.resync)))
}

/// Ready and Synced of an observed resource: Ready while it exists.
fn observed_conditions(
    noun: &str,
    name: &str,
    region: &str,
    exists: bool,
) -> (ConditionSpec, ConditionSpec) {
    let ready: ConditionSpec = if exists {
        (
            ConditionStatus::True,
            Reason::Available,
            format!("the {noun} exists in AWS (observe only)"),
        )
    } else {
        (
            ConditionStatus::False,
            Reason::NotFound,
            format!("{noun} {name:?} not found in {region} (observe only)"),
        )
    };
    let synced = (
        ConditionStatus::True,
        Reason::ReconcileSuccess,
        "observed".into(),
    );
    (ready, synced)
}

fn refusal_message(
    noun: &str,
    name: &str,
    region: &str,
    refusal: ResourceRefusal,
) -> (Reason, String) {
    if let ResourceRefusal::OwnedByAnother(owner) = &refusal {
        // The owner goes to the operator's log only: tenants are not told about each other.
        tracing::info!(%owner, "refused: the {noun} is managed by another resource");
    }
    (refusal.reason(), refusal.message(noun, name, region))
}

/// Runs the steps in order and returns the AWS state they leave; every write is announced by
/// an event.
pub(crate) async fn execute<K: ManagedKind>(
    ctx: &Context,
    obj: &K,
    region: &str,
    desired: &ResourceDesired<K::Attributes>,
    observed: Option<&ResourceObserved<K::Attributes>>,
    steps: &[ResourceStep<K::Attributes>],
) -> Result<ResourceObserved<K::Attributes>, Error> {
    let (iot, name, noun) = (&ctx.iot, desired.name.as_str(), K::Attributes::NOUN);
    let mut state = observed.cloned();
    for step in steps {
        let mut arn = state.as_ref().map(|o| o.arn.clone()).unwrap_or_default();
        let (reason, note) = match step {
            ResourceStep::Create { attributes, tags } => {
                arn = K::Attributes::create(iot, region, name, attributes, tags).await?;
                ("Created", format!("created {noun} {name} ({arn})"))
            }
            ResourceStep::Update(attributes) => {
                K::Attributes::update(iot, region, name, attributes).await?;
                let fields = state
                    .as_ref()
                    .map(|o| attributes.differing_fields(&o.attributes))
                    .unwrap_or_default();
                ("Updated", format!("updated {}", fields.join(", ")))
            }
            ResourceStep::Tag(tags) => {
                iot.tag(region, &arn, tags).await?;
                let keys: Vec<_> = tags.keys().cloned().collect();
                ("TagsUpdated", format!("tagged {}", keys.join(", ")))
            }
            ResourceStep::Untag(keys) => {
                iot.untag(region, &arn, keys).await?;
                let keys: Vec<_> = keys.iter().cloned().collect();
                ("TagsUpdated", format!("removed tags {}", keys.join(", ")))
            }
            ResourceStep::Delete => {
                K::Attributes::delete(iot, region, name).await?;
                ("Deleted", format!("deleted {noun} {name}"))
            }
        };
        publish(ctx, obj, EventType::Normal, reason, &note).await;
        state = simulate_resource(state.as_ref(), std::slice::from_ref(step), &arn);
    }
    match state {
        Some(s) => Ok(s),
        None => Ok(ResourceObserved {
            arn: String::new(),
            attributes: desired.attributes.clone(),
            tags: Default::default(),
            creation_date: None,
            last_modified_date: None,
        }),
    }
}
