//! The cleanup branch of the finalizer: delete (or retain) the AWS profile.

use super::apply::region_of;
use super::error::Error;
use super::events::publish;
use super::execute::execute;
use super::{Context, key};
use crate::api::{DeletionPolicy, ManagementPolicy, SecurityProfile};
use crate::reconcile::{Farewell, Plan, desired, is_paused, plan};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

pub(crate) async fn cleanup(sp: &SecurityProfile, ctx: &Context) -> Result<Action, Error> {
    let retained = sp.spec.deletion_policy == DeletionPolicy::Retain
        || sp.spec.management_policy == ManagementPolicy::Observe;
    if is_paused(sp) && !retained {
        return Err(Error::Paused);
    }
    let desired = match desired(sp, &ctx.cluster_id) {
        Ok(d) => d,
        // No valid AWS name: nothing was ever created for this resource.
        Err(_) => {
            ctx.metrics.set_conditions(&key(sp), None);
            return Ok(Action::await_change());
        }
    };
    tracing::Span::current().record("aws_name", desired.name.as_str());
    let (region, observed) = if retained {
        (String::new(), None)
    } else {
        let region = region_of(sp, ctx).await?;
        let observed = ctx.iot.observe_ownership(&region, &desired.name).await?;
        (region, observed)
    };
    let Plan::Finalize { steps, farewell } = plan(&desired, observed.as_ref()) else {
        return Ok(Action::await_change());
    };
    execute(ctx, sp, &region, &desired, observed.as_ref(), &steps).await?;
    match farewell {
        Farewell::Deleted => {}
        Farewell::Gone => publish(ctx, sp, EventType::Normal, "Deleted", "no security profile was left in AWS").await,
        Farewell::Retained => publish(ctx, sp, EventType::Normal, "Retained", &format!("security profile {} left in AWS (deletionPolicy: Retain or managementPolicy: Observe)", desired.name)).await,
        Farewell::NotOurs => publish(ctx, sp, EventType::Normal, "Retained", &format!("security profile {} is not owned by this resource and was left in AWS", desired.name)).await,
    }
    ctx.metrics.set_conditions(&key(sp), None);
    ctx.failures().remove(&key(sp));
    Ok(Action::await_change())
}
