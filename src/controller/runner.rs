//! The kube-runtime Controllers: watches, the reconcile trigger, concurrency, shutdown.

use super::resource::{ManagedKind, paused};
use super::{Context, error_policy, reconcile, reconcile_resource};
use crate::api::{CustomMetric, Dimension, SecurityProfile};
use crate::reconcile::{Dependency, dependencies, desired, is_paused};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
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

/// The trigger of the CustomMetric and Dimension controllers (same rule as for profiles).
fn resource_trigger<K: ManagedKind>(obj: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    predicates::generation(obj).hash(&mut h);
    predicates::finalizers(obj).hash(&mut h);
    obj.meta().deletion_timestamp.is_some().hash(&mut h);
    paused(obj).hash(&mut h);
    Some(h.finish())
}

/// What wakes the profiles that name a CustomMetric or Dimension: its AWS name and whether it
/// is Ready (status changes other than readiness wake nobody).
fn readiness_trigger<K: ManagedKind>(obj: &K) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dependency_of(obj).hash(&mut h);
    is_ready(obj).hash(&mut h);
    Some(h.finish())
}

/// Whether a CustomMetric or Dimension is Ready at its current generation.
pub(crate) fn is_ready<K: ManagedKind>(obj: &K) -> bool {
    obj.resource_status()
        .and_then(|s| s.condition("Ready"))
        .is_some_and(|c| c.status == "True" && c.observed_generation == obj.meta().generation)
}

/// The dependency a CustomMetric or Dimension provides (by its AWS name).
pub(crate) fn dependency_of<K: ManagedKind>(obj: &K) -> Option<Dependency> {
    let name = obj.desired("").ok()?.name;
    Some(match K::KIND {
        "CustomMetric" => Dependency::CustomMetric(name),
        _ => Dependency::Dimension(name),
    })
}

/// The profiles in the cache that name `obj` (same namespace).
fn profiles_naming<K: ManagedKind>(
    profiles: &Store<SecurityProfile>,
    obj: &K,
) -> Vec<ObjectRef<SecurityProfile>> {
    let Some(dependency) = dependency_of(obj) else {
        return vec![];
    };
    profiles
        .state()
        .iter()
        .filter(|sp| sp.namespace() == obj.meta().namespace)
        .filter(|sp| dependencies(&desired(sp, "", "").attributes).contains(&dependency))
        .map(|sp| ObjectRef::from_obj(sp.as_ref()))
        .collect()
}

/// The controller of one of the kinds profiles depend on, over `api`.
async fn resource_controller<K: ManagedKind>(
    api: Api<K>,
    ctx: Arc<Context>,
    concurrency: u16,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let (reader, writer) = reflector::store();
    let stream = watcher(api, WatcherConfig::default().any_semantic())
        .default_backoff()
        .modify(|o: &mut K| o.managed_fields_mut().clear())
        .reflect(writer)
        .applied_objects()
        .predicate_filter(resource_trigger::<K>, Default::default());
    Controller::for_stream(stream, reader)
        .with_config(ControllerConfig::default().concurrency(concurrency))
        .graceful_shutdown_on(shutdown)
        .run(reconcile_resource::<K>, error_policy::<K>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "reconcile error");
            }
        })
        .await;
}

/// A stream of the kind's changes in readiness, for the profiles' controller.
fn readiness_changes<K: ManagedKind>(
    api: Api<K>,
) -> impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    watcher(api, WatcherConfig::default().any_semantic())
        .default_backoff()
        .applied_objects()
        .predicate_filter(readiness_trigger::<K>, Default::default())
}

/// Runs one controller per watched namespace (or one for all) until `shutdown` resolves.
pub async fn run_controllers(
    ctx: Arc<Context>,
    namespaces: &[String],
    concurrency: u16,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    on_ready: impl Fn() + Send + Sync + 'static,
) {
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|ns| Some(ns.as_str())).collect()
    };
    let mut readers = Vec::new();
    let mut runs = Vec::new();
    let mut resource_runs = Vec::new();
    for scope in scopes {
        let api: Api<SecurityProfile> = scoped(&ctx, scope);
        resource_runs.push(futures::future::join(
            resource_controller::<CustomMetric>(
                scoped(&ctx, scope),
                ctx.clone(),
                concurrency,
                shutdown.clone(),
            ),
            resource_controller::<Dimension>(
                scoped(&ctx, scope),
                ctx.clone(),
                concurrency,
                shutdown.clone(),
            ),
        ));
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
        let (metrics_store, dimensions_store) = (reader.clone(), reader.clone());
        let run = Controller::for_stream(stream, reader)
            // A profile waiting for a CustomMetric or Dimension is reconciled as soon as it is Ready.
            .watches_stream(
                readiness_changes::<CustomMetric>(scoped(&ctx, scope)),
                move |cm| profiles_naming(&metrics_store, &cm),
            )
            .watches_stream(
                readiness_changes::<Dimension>(scoped(&ctx, scope)),
                move |d| profiles_naming(&dimensions_store, &d),
            )
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
    futures::join!(
        ready,
        futures::future::join_all(runs),
        futures::future::join_all(resource_runs)
    );
}

/// An API over all namespaces (`None`) or one.
fn scoped<K>(ctx: &Context, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    }
}
