//! The cleanup branch for a CustomMetric or Dimension: delete it (or retain it) once no
//! security profile in AWS uses it.

use super::apply::{execute, locate};
use super::{ManagedKind, paused};
use crate::api::{DeletionPolicy, ManagementPolicy};
use crate::aws::ResourceApi;
use crate::controller::error::Error;
use crate::controller::events::publish;
use crate::controller::guard::guard_for;
use crate::controller::namespace;
use crate::controller::{Context, key};
use crate::reconcile::{ResourceFarewell, ResourcePlan, needs_users, plan_resource};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

/// Deletes (or retains) the resource's AWS counterpart; a retained one needs no AWS call, so
/// neither the namespace's role.
pub(crate) async fn cleanup<K: ManagedKind>(
    obj: &K,
    ctx: &Context,
    _api: &Api<K>,
    namespace: &str,
) -> Result<Action, Error> {
    let Ok(desired) = obj.desired(&ctx.cluster_id) else {
        // No valid AWS name: nothing was ever created for this resource.
        return Ok(Action::await_change());
    };
    let retained = desired.deletion_policy == DeletionPolicy::Retain
        || desired.management_policy == ManagementPolicy::Observe;
    if paused(obj) && !retained {
        return Err(Error::Paused);
    }
    let noun = K::Attributes::NOUN;
    let scoped;
    let (ctx, region, observed, users) = if retained {
        (ctx, String::new(), None, vec![])
    } else {
        scoped = ctx.for_namespace(namespace).await?;
        let ctx = &scoped;
        let region = locate(obj, ctx).await?.region;
        if nothing_made_there(obj, ctx, &region).await? {
            ctx.failures().remove(&key(obj));
            return Ok(Action::await_change());
        }
        let observed = K::Attributes::observe(&ctx.iot, &region, &desired.name).await?;
        let users = if needs_users(&desired, observed.as_ref()) {
            K::Attributes::users(&ctx.iot, &region, &desired.name).await?
        } else {
            vec![]
        };
        (ctx, region, observed, users)
    };
    let ResourcePlan::Finalize { steps, farewell } =
        plan_resource(&desired, observed.as_ref(), &users)
    else {
        return Ok(Action::await_change());
    };
    execute(ctx, obj, &region, &desired, observed.as_ref(), &steps).await?;
    let name = &desired.name;
    let note = match farewell {
        ResourceFarewell::InUse(users) => {
            return Err(Error::InUse {
                noun,
                name: name.clone(),
                users,
            });
        }
        ResourceFarewell::Deleted => None,
        ResourceFarewell::Gone => Some(("Deleted", format!("no {noun} was left in AWS"))),
        ResourceFarewell::Retained => Some((
            "Retained",
            format!(
                "{noun} {name} left in AWS (deletionPolicy: Retain or managementPolicy: Observe)"
            ),
        )),
        ResourceFarewell::NotOurs => Some((
            "Retained",
            format!("{noun} {name} is not owned by this resource and was left in AWS"),
        )),
    };
    if let Some((reason, note)) = note {
        publish(ctx, obj, EventType::Normal, reason, &note).await;
    }
    ctx.failures().remove(&key(obj));
    Ok(Action::await_change())
}

/// A resource that never got an AWS resource (no ARN in its status) in a region the guardrails
/// forbid made nothing there: it goes without an AWS call, as it never made one.
async fn nothing_made_there<K: ManagedKind>(
    obj: &K,
    ctx: &Context,
    region: &str,
) -> Result<bool, Error> {
    let recorded = obj.resource_status().is_some_and(|s| s.arn.is_some());
    if recorded {
        return Ok(false);
    }
    let guard = guard_for(ctx, obj, &namespace::facts(ctx, obj).await?);
    Ok(guard.check_region(region).is_err())
}
