//! The controller of the kinds that mirror one named AWS resource (`CustomMetric`,
//! `Dimension`): one generic reconcile over [`ManagedKind`], sharing the finalizer, error
//! policy, events, status writing and region resolution with the SecurityProfile controller.

mod apply;
mod cleanup;
mod kinds;
mod status;

pub use kinds::ManagedKind;
pub(crate) use status::account_of;

use super::Context;
use super::error::Error;
use crate::api::{FINALIZER, PAUSED_ANNOTATION};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use std::sync::Arc;
use std::time::Instant;
use tracing::{Instrument, field, info_span};

/// Whether the resource carries `iot.awscc.io/paused: "true"`.
pub(crate) fn paused(obj: &impl ResourceExt) -> bool {
    obj.annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Reconciles one CustomMetric or Dimension (the controller's entry point).
pub async fn reconcile_resource<K: ManagedKind>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let start = Instant::now();
    let namespace = obj.namespace().unwrap_or_default();
    let span = info_span!("reconcile", kind = K::KIND, namespace = %namespace, name = %obj.name_any(), aws_name = field::Empty);
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = async {
        let result = finalizer(&api, FINALIZER, obj.clone(), |event| {
            let (ctx, api, namespace) = (ctx.clone(), api.clone(), namespace.clone());
            async move {
                let (obj, apply) = match &event {
                    Finalizer::Apply(o) => (o, true),
                    Finalizer::Cleanup(o) => (o, false),
                };
                let outcome = if apply {
                    match ctx.for_namespace(&namespace).await {
                        Ok(scoped) => apply::apply(obj.as_ref(), &scoped, &api).await,
                        Err(e) => Err(e),
                    }
                } else {
                    // Scoped (the namespace's role assumed) only if AWS must be looked at.
                    cleanup::cleanup(obj.as_ref(), &ctx, &api, &namespace).await
                };
                if let Err(e) = &outcome {
                    status::report_error(obj.as_ref(), &ctx, &api, e).await;
                }
                outcome
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)));
        if let Err(e) = &result
            && e.is_finalizer_write()
        {
            status::report_error(obj.as_ref(), &ctx, &api, e).await;
        }
        result
    }
    .instrument(span)
    .await;
    let label = match &result {
        Ok(_) => "success",
        Err(e) => e.reason().0.as_str(),
    };
    ctx.metrics.reconciled(label, start.elapsed().as_secs_f64());
    result
}
