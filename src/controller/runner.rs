//! The kube-runtime Controllers: watches, the reconcile trigger, concurrency, shutdown.

use super::{Context, error_policy, reconcile};
use crate::api::SecurityProfile;
use crate::reconcile::is_paused;
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::watcher::Config as WatcherConfig;
use kube::runtime::{WatchStreamExt, predicates, reflector, watcher};
use std::future::Future;
use std::sync::Arc;

/// What makes a resource worth reconciling: spec (generation), finalizers, deletion, the pause
/// annotation. Status-only writes change none of these, so they never cause AWS calls.
fn reconcile_trigger(sp: &SecurityProfile) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    predicates::generation(sp).hash(&mut h);
    predicates::finalizers(sp).hash(&mut h);
    sp.metadata.deletion_timestamp.is_some().hash(&mut h);
    is_paused(sp).hash(&mut h);
    Some(h.finish())
}

/// Runs one controller per watched namespace (or one for all) until `shutdown` resolves.
pub async fn run_controllers(
    ctx: Arc<Context>,
    namespaces: &[String],
    concurrency: u16,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    on_ready: impl Fn() + Send + Sync + 'static,
) {
    let apis: Vec<Api<SecurityProfile>> = if namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    };
    let mut readers = Vec::new();
    let mut runs = Vec::new();
    for api in apis {
        let (reader, writer) = reflector::store();
        readers.push(reader.clone());
        let stream = watcher(api, WatcherConfig::default().any_semantic())
            .default_backoff()
            // The cache keeps what reconciles read: not managedFields, nor kubectl's copy of
            // the whole last applied manifest (a large share of memory at 10,000 resources).
            .modify(|sp: &mut SecurityProfile| {
                sp.managed_fields_mut().clear();
                sp.annotations_mut()
                    .remove("kubectl.kubernetes.io/last-applied-configuration");
            })
            .reflect(writer)
            .applied_objects()
            .predicate_filter(reconcile_trigger, Default::default());
        let run = Controller::for_stream(stream, reader)
            .with_config(ControllerConfig::default().concurrency(concurrency))
            .graceful_shutdown_on(shutdown.clone())
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|res| async move {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "reconcile error");
                }
            });
        runs.push(run);
    }
    let ready = async move {
        for r in readers {
            let _ = r.wait_until_ready().await;
        }
        on_ready();
    };
    futures::join!(ready, futures::future::join_all(runs));
}
