//! The cleanup branch of the finalizer: delete (or retain) the profile the resource holds. The
//! recorded identity decides which one, never the spec, annotations or flags of today. A
//! deletion that leaves AWS alone (never created, or retained) needs neither the namespace
//! nor its role: it finishes even when the role can no longer be assumed.

use super::error::Error;
use super::events::publish;
use super::execute::execute;
use super::{Context, key};
use crate::api::SecurityProfile;
use crate::reconcile::{CleanupScope, Farewell, cleanup_scope, desired, finalize, is_paused};
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

pub(crate) async fn cleanup(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
    namespace: &str,
) -> Result<Action, Error> {
    let farewell = match cleanup_scope(sp) {
        CleanupScope::Done(farewell) => farewell,
        CleanupScope::Check(id) => {
            if is_paused(sp) {
                return Err(Error::Paused);
            }
            tracing::Span::current().record("aws_name", id.name.as_str());
            let scoped = ctx.for_namespace(namespace).await?;
            let ctx = &scoped;
            let desired = desired(sp, &ctx.cluster_id, &id.name);
            let observed = ctx.iot.observe_ownership(&id.region, &id.name).await?;
            let f = finalize(&desired, &id, observed.as_ref());
            execute(ctx, sp, api, &id, observed.as_ref(), &f.steps, false).await?;
            f.farewell
        }
    };
    if let Some(a) = Farewell::announcement(&farewell) {
        publish(ctx, sp, EventType::Normal, a.reason, &a.message).await;
    }
    ctx.forget(&key(sp), true);
    Ok(Action::await_change())
}
