//! Runs the reconciles: watches SecurityProfiles, turns each change into work of the user's
//! lane or the resync lane, and serves the work queue (see `queue`) with `--concurrency`
//! workers. Resyncs are paced by the resync budget (see `budget`). What it keeps of each
//! resource, the object included, lives in one map entry (see `cache`).
//!
//! This replaces kube-runtime's `Controller`, whose runner, when all its slots are busy, picks
//! the next due object in hash order (some can wait for ever under load) and cannot tell a
//! user's change from a periodic resync.

use super::budget::{self, Percent, Schedule};
use super::cache::{self, Cached};
use super::queue::{Due, SharedQueue, Spacing};
use super::reads::{self, ReadHistory, ReadPlan};
use super::resource::{ManagedKind, paused};
use super::{Context, error_policy, reconcile, reconcile_resource};
use crate::api::{CustomMetric, Dimension, SecurityProfile};
use crate::aws::{Lane, LaneCell, in_shared_lane};
use crate::reconcile::{Dependency, is_paused, violations};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::reflector;
use kube::runtime::watcher::{self, Config as WatcherConfig};
use kube::runtime::{WatchStreamExt, predicates};
use rand::Rng;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// How the runner serves the resources.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Namespaces to watch (empty: all).
    pub namespaces: Vec<String>,
    /// Reconciles running at once.
    pub concurrency: u16,
    /// Share of each read quota that resyncs may use.
    pub resync_budget: Percent,
}

impl From<&crate::config::ControllerArgs> for RunnerConfig {
    fn from(args: &crate::config::ControllerArgs) -> RunnerConfig {
        RunnerConfig {
            namespaces: args.watch_namespaces.clone(),
            concurrency: args.concurrency,
            resync_budget: args.resync_budget,
        }
    }
}

/// What the runner keeps per live resource (dropped when it goes).
#[derive(Debug)]
struct Known {
    /// Hash of what makes a change worth reconciling (see [`trigger`]).
    trigger: u64,
    /// The resource as last seen.
    object: Cached,
    /// The watch the resource comes from, and whether its current (re)list has shown it.
    store: usize,
    listed: bool,
    reads: ReadHistory,
    /// Whether it reports its violations, and when they were last read.
    reports: bool,
    violations_read: Option<Instant>,
    /// The lane of its reconcile under way, raised to the user's when a user's change arrives
    /// meanwhile: that change waits for the reconcile, so its calls must not wait behind
    /// resyncs.
    running: Option<Arc<LaneCell>>,
}

struct Runner {
    ctx: Arc<Context>,
    queue: SharedQueue,
    known: Mutex<HashMap<String, Known>>,
    /// The watches that have listed everything once, and a wake-up when one has.
    listed: Mutex<BTreeSet<usize>>,
    listed_changed: Notify,
    /// Resyncs per second within the budget (`None`: no read quota configured).
    rate: Option<f64>,
    /// Violations reads per second within the budget (`None`: no quota configured).
    violations_rate: Option<f64>,
    /// The resource count last logged with its schedule.
    logged: Mutex<Option<usize>>,
}

fn key_of(sp: &SecurityProfile) -> String {
    format!("{}/{}", sp.namespace().unwrap_or_default(), sp.name_any())
}

/// What makes a resource worth reconciling: spec (generation), finalizers, deletion,
/// annotations (the pause annotation among them). Status-only writes change none of these,
/// so they never cause AWS calls.
fn trigger(sp: &SecurityProfile) -> u64 {
    let mut h = DefaultHasher::new();
    predicates::generation(sp).hash(&mut h);
    predicates::finalizers(sp).hash(&mut h);
    sp.metadata.deletion_timestamp.is_some().hash(&mut h);
    is_paused(sp).hash(&mut h);
    sp.annotations().hash(&mut h);
    h.finish()
}

/// Whether a resource seen for the first time needs work for its user: never reconciled at
/// this generation, not Ready at it, or being deleted. Otherwise it only needs a resync.
fn needs_user_work(sp: &SecurityProfile) -> bool {
    let generation = sp.metadata.generation;
    let observed = sp.status.as_ref().and_then(|s| s.observed_generation);
    let ready_now = sp.is_ready_at_generation();
    sp.metadata.deletion_timestamp.is_some() || observed != generation || !ready_now
}

/// The follow-up a reconcile asked for. kube-runtime 5 keeps `Action`'s delay private, so it
/// is read back from its `Debug` form (`Action { requeue_after: Some(1.5s) }`).
fn requeue_after(action: &Action) -> Option<Duration> {
    let text = format!("{action:?}");
    let inner = text.split_once("Some(")?.1.rsplit_once(')')?.0;
    let split = inner.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (n, unit) = inner.split_at(split);
    let n: f64 = n.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "ms" => n / 1e3,
        "µs" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

impl Known {
    /// A user's change arrived: a reconcile under way finishes in the user's lane.
    fn promote(&self) {
        if let Some(cell) = &self.running {
            cell.promote();
        }
    }
}

impl Runner {
    fn known(&self) -> MutexGuard<'_, HashMap<String, Known>> {
        match self.known.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn schedule(&self) -> Schedule {
        Schedule::new(self.known().len(), self.ctx.resync, self.rate)
    }

    /// The period of the violations reads: the resync period kept, or longer when the
    /// reporting resources cannot all be read within it at their budget.
    fn violations_period(&self, resync: &Schedule) -> Duration {
        let reporting = self.known().values().filter(|k| k.reports).count();
        violations::period(reporting, resync.effective, self.violations_rate)
    }

    /// Exports the schedule, and logs it at startup and when the resource count moved a lot.
    fn review_schedule(&self, force: bool) {
        let s = self.schedule();
        let n = self.known().len();
        let m = &self.ctx.metrics;
        m.resync_effective_period.set(s.effective.as_secs_f64());
        let violations_period = self.violations_period(&s);
        m.violations_effective_period
            .set(violations_period.as_secs_f64());
        m.resync_backlog
            .set(self.queue.with(|q| q.backlog()) as i64);
        let mut logged = match self.logged.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !(force || logged.is_some_and(|l| budget::changed_a_lot(l, n))) {
            return;
        }
        *logged = Some(n);
        let rate = self
            .rate
            .map(|r| format!("{r:.2}"))
            .unwrap_or("unlimited".into());
        let reporting = self.known().values().filter(|k| k.reports).count();
        if reporting > 0 {
            info!(
                resources = reporting,
                period_s = violations_period.as_secs_f64(),
                stretched = violations_period > s.effective,
                "active violations read at this period (within the resync budget of ListActiveViolations)"
            );
        }
        if s.stretched() {
            info!(resources = n, requested_s = s.requested.as_secs_f64(), effective_s = s.effective.as_secs_f64(), resyncs_per_s = %rate,
                "resync period stretched: the resync budget cannot read every resource within --resync-period");
        } else {
            info!(resources = n, period_s = s.effective.as_secs_f64(), resyncs_per_s = %rate, "resync period kept within the resync budget");
        }
    }

    /// A resource was added or changed (or listed again after a watch restart).
    fn seen(&self, store: usize, sp: &SecurityProfile) {
        let key = key_of(sp);
        let t = trigger(sp);
        let Some(object) = Cached::new(sp) else {
            debug!(%key, "resource not cached: it cannot be encoded");
            return;
        };
        let now = Instant::now();
        let due = {
            let mut known = self.known();
            let reports = violations::query(&sp.spec, self.ctx.report_violations).is_some();
            match known.get_mut(&key) {
                Some(k) if k.trigger == t => {
                    (k.object, k.listed, k.store) = (object, true, store);
                    None
                }
                Some(k) => {
                    (k.object, k.listed, k.store) = (object, true, store);
                    k.reports = reports;
                    k.trigger = t;
                    k.promote();
                    Some(Due {
                        lane: Lane::User,
                        at: now,
                        full: false,
                    })
                }
                None => {
                    known.insert(
                        key.clone(),
                        Known {
                            trigger: t,
                            object,
                            store,
                            listed: true,
                            reads: Default::default(),
                            reports,
                            violations_read: None,
                            running: None,
                        },
                    );
                    Some(if needs_user_work(sp) {
                        Due {
                            lane: Lane::User,
                            at: now,
                            full: false,
                        }
                    } else {
                        // Already in sync when last seen: its first resync falls anywhere in
                        // one period, so that a restart does not read every resource at once.
                        let spread = self.ctx.resync.mul_f64(rand::rng().random_range(0.0..1.0));
                        Due {
                            lane: Lane::Resync,
                            at: now + spread,
                            full: true,
                        }
                    })
                }
            }
        };
        if let Some(due) = due {
            self.queue.with(|q| q.schedule(&key, due));
        }
    }

    /// A resource a user's change elsewhere concerns (a dependency became ready): user work now.
    fn wake(&self, key: &str) {
        let known = self.known().get(key).map(Known::promote).is_some();
        if known {
            let due = Due {
                lane: Lane::User,
                at: Instant::now(),
                full: false,
            };
            self.queue.with(|q| q.schedule(key, due));
        }
    }

    /// A resource is gone: nothing about it is kept.
    fn gone(&self, key: &str) {
        self.known().remove(key);
        self.queue.with(|q| q.forget(key));
        self.ctx.forget(key, true);
    }

    /// A watch (re)lists: what it does not show again is gone (see [`Runner::listed`]).
    fn relist(&self, store: usize) {
        for k in self.known().values_mut().filter(|k| k.store == store) {
            k.listed = false;
        }
    }

    /// After a (re)list, forgets the resources of this watch that it did not show.
    fn listed(&self, store: usize) {
        let stale: Vec<String> = self
            .known()
            .iter()
            .filter(|(_, v)| v.store == store && !v.listed)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            self.gone(&key);
        }
        let mut listed = match self.listed.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        listed.insert(store);
        self.listed_changed.notify_waiters();
    }

    /// Waits until each of the `watches` has listed everything once.
    async fn wait_until_listed(&self, watches: usize) {
        loop {
            let changed = self.listed_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let done = match self.listed.lock() {
                Ok(l) => l.len() >= watches,
                Err(poisoned) => poisoned.into_inner().len() >= watches,
            };
            if done {
                return;
            }
            changed.await;
        }
    }

    fn get(&self, key: &str) -> Option<Arc<SecurityProfile>> {
        self.known().get(key)?.object.object().map(Arc::new)
    }

    /// The keys of the profiles that name `dependency` in `namespace`.
    fn naming(&self, namespace: &str, dependency: &Dependency) -> Vec<String> {
        self.known()
            .iter()
            .filter(|(key, k)| {
                key.split_once('/').is_some_and(|(ns, _)| ns == namespace)
                    && k.object.needs(dependency)
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Reconciles one resource and returns the follow-up.
    async fn serve(&self, key: &str, lane: Lane) -> Option<Due> {
        let cell = LaneCell::new(lane);
        let resync = self.schedule();
        let violations_period = self.violations_period(&resync);
        let (history, violations_due) = {
            let mut known = self.known();
            let k = known.get_mut(key)?;
            k.running = Some(cell.clone());
            let since = k.violations_read.map(|t| t.elapsed());
            (k.reads, violations::due(since, violations_period))
        };
        let Some(sp) = self.get(key) else {
            self.known().get_mut(key)?.running = None;
            return None;
        };
        let plan = ReadPlan::new(lane == Lane::Resync && history.may_skip(), violations_due);
        let ((action, succeeded), done) = reads::with_reads(
            plan,
            in_shared_lane(cell.clone(), async {
                // Boxed: the reconcile's future is large and deeply nested.
                match Box::pin(reconcile(sp.clone(), self.ctx.clone())).await {
                    Ok(action) => (action, true),
                    Err(e) => (error_policy(sp.clone(), &e, self.ctx.clone()), false),
                }
            }),
        )
        .await;
        let stagger = rand::rng().random_range(0..budget::FULL_READ_EVERY);
        let full = match (done.profile, self.known().get_mut(key)) {
            (outcome, Some(k)) => {
                k.running = None;
                if let Some(outcome) = outcome {
                    k.reads.record(outcome, succeeded, stagger);
                }
                if done.violations {
                    k.violations_read = Some(Instant::now());
                }
                !k.reads.may_skip()
            }
            (_, None) => !history.may_skip(),
        };
        // A resync promoted meanwhile retries (if it failed) as the user's work it delays.
        let lane = cell.get();
        let after = requeue_after(&action)?;
        let requested = self.ctx.resync;
        Some(if after >= requested / 2 {
            // A resync: at the effective period, which the budget may have stretched.
            let s = resync;
            let stretch = s.effective.as_secs_f64() / requested.as_secs_f64().max(1e-3);
            Due {
                lane: Lane::Resync,
                at: Instant::now() + after.mul_f64(stretch.max(1.0)),
                full,
            }
        } else {
            // A retry (backoff) stays in the lane of the work that failed.
            Due {
                lane,
                at: Instant::now() + after,
                full,
            }
        })
    }

    /// One worker: serves the queue until shutdown; a reconcile under way is finished.
    async fn work(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let (key, lane) = tokio::select! {
                next = self.queue.next() => next,
                _ = &mut shutdown => return,
            };
            let next = self.serve(&key, lane).await;
            self.queue.with(|q| q.done(&key, next));
            let backlog = self.queue.with(|q| q.backlog());
            self.ctx.metrics.resync_backlog.set(backlog as i64);
        }
    }
}

/// Runs the watches and the workers until `shutdown` resolves; reconciles under way finish.
pub async fn run_controllers(
    ctx: Arc<Context>,
    config: RunnerConfig,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
    on_ready: impl Fn() + Send + Sync + 'static,
) {
    let apis: Vec<Api<SecurityProfile>> = if config.namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        config
            .namespaces
            .iter()
            .map(|ns| Api::namespaced(ctx.client.clone(), ns))
            .collect()
    };
    let rate = budget::resync_rate(config.resync_budget, |op| ctx.iot.quota(op));
    let violations_rate = budget::violations_rate(config.resync_budget, |op| ctx.iot.quota(op));
    let spacing = Spacing {
        any: Schedule::new(0, ctx.resync, rate).spacing,
        full: budget::full_read_spacing(config.resync_budget, |op| ctx.iot.quota(op)),
    };
    let runner = Arc::new(Runner {
        ctx,
        queue: SharedQueue::new(
            spacing,
            super::queue::resync_workers(usize::from(config.concurrency.max(1))),
        ),
        known: Mutex::new(HashMap::new()),
        listed: Mutex::new(BTreeSet::new()),
        listed_changed: Notify::new(),
        rate,
        violations_rate,
        logged: Mutex::new(None),
    });
    let scopes: Vec<Option<String>> = if config.namespaces.is_empty() {
        vec![None]
    } else {
        config.namespaces.iter().cloned().map(Some).collect()
    };
    let n_watches = apis.len();
    let watches = futures::future::join_all(
        apis.into_iter()
            .enumerate()
            .map(|(i, api)| watch(runner.clone(), i, api)),
    );
    // The kinds profiles depend on: their own controllers, and the wake-ups of the profiles
    // that wait for one of them to become ready.
    let dependency_kinds = futures::future::join_all(
        scopes
            .iter()
            .map(|scope| dependency_kinds(&runner, scope.as_deref(), &config, shutdown.clone())),
    );
    let ready = {
        let runner = runner.clone();
        async move {
            runner.wait_until_listed(n_watches).await;
            runner.review_schedule(true);
            on_ready();
        }
    };
    let workers = futures::future::join_all(
        (0..config.concurrency.max(1)).map(|_| runner.clone().work(shutdown.clone())),
    );
    // The watches run until shutdown; the workers stop taking work then and finish theirs.
    let watching = async {
        tokio::select! {
            _ = async { futures::join!(watches, ready, dependency_kinds) } => {}
            _ = shutdown.clone() => {}
        }
    };
    futures::join!(watching, workers);
}

/// The kinds profiles depend on, in one scope: their own controllers, and the wake-ups of the
/// profiles that wait for one of them to become ready.
async fn dependency_kinds(
    runner: &Arc<Runner>,
    scope: Option<&str>,
    config: &RunnerConfig,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let ctx = &runner.ctx;
    let n = config.concurrency;
    futures::join!(
        resource_controller::<CustomMetric>(scoped(ctx, scope), ctx.clone(), n, shutdown.clone()),
        resource_controller::<Dimension>(scoped(ctx, scope), ctx.clone(), n, shutdown),
        wake_on_readiness::<CustomMetric>(runner.clone(), scoped(ctx, scope)),
        wake_on_readiness::<Dimension>(runner.clone(), scoped(ctx, scope)),
    );
}

/// Wakes the profiles that name a CustomMetric or Dimension when its readiness changes.
async fn wake_on_readiness<K: ManagedKind>(runner: Arc<Runner>, api: Api<K>) {
    readiness_changes(api)
        .for_each(|changed| {
            if let Ok(obj) = changed {
                let namespace = obj.namespace().unwrap_or_default();
                let naming = dependency_of(&obj).map(|d| runner.naming(&namespace, &d));
                for key in naming.unwrap_or_default() {
                    runner.wake(&key);
                }
            }
            async {}
        })
        .await;
}

/// Follows one watch: keeps its cache and turns its events into work.
async fn watch(runner: Arc<Runner>, store: usize, api: Api<SecurityProfile>) {
    let metrics = runner.ctx.metrics.clone();
    let events = watcher::watcher(api, WatcherConfig::default().any_semantic())
        .default_backoff()
        .inspect(move |e| watch_failed::<SecurityProfile>(&metrics, e))
        .modify(cache::strip);
    events
        .for_each(|event| {
            match event {
                Ok(watcher::Event::Apply(sp) | watcher::Event::InitApply(sp)) => {
                    let new = !runner.known().contains_key(&key_of(&sp));
                    runner.seen(store, &sp);
                    if new {
                        runner.review_schedule(false);
                    }
                }
                Ok(watcher::Event::Delete(sp)) => {
                    runner.gone(&key_of(&sp));
                    runner.review_schedule(false);
                }
                Ok(watcher::Event::InitDone) => runner.listed(store),
                Ok(watcher::Event::Init) => runner.relist(store),
                // Reported by `watch_failed`; the watcher retries with backoff.
                Err(_) => {}
            }
            async {}
        })
        .await;
}

/// Reports a failed list or watch, which the watcher retries with backoff (never a reason to
/// exit): a warning that names the kind and the API server's answer, say a ServiceAccount that
/// lost a permission (`Forbidden`) or an API server that went away, and
/// `watch_errors_total{kind,reason}`. A watch whose resourceVersion is gone (`410 Gone`, after
/// a compaction) is normal: the watcher lists again, logged at info.
fn watch_failed<K: kube::Resource<DynamicType = ()>>(
    metrics: &crate::metrics::Metrics,
    event: &Result<watcher::Event<K>, watcher::Error>,
) {
    let Err(error) = event else { return };
    let kind = K::kind(&());
    let reason = watch_error_reason(error);
    metrics.watch_error(&kind, reason);
    if reason == "Expired" {
        info!(%kind, error = %error, "watch expired (410 Gone): listing again");
    } else {
        warn!(
            %kind,
            reason,
            error = %error,
            "cannot list or watch {kind}s; retrying with backoff (check the operator's RBAC and the API server)"
        );
    }
}

/// The API server's reason for a watcher error (`Forbidden`, `Expired`, ...), `Connection` when
/// it did not answer.
fn watch_error_reason(error: &watcher::Error) -> &'static str {
    let status = match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        watcher::Error::NoResourceVersion => return "NoResourceVersion",
        _ => return "Connection",
    };
    match status {
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        410 => "Expired",
        429 => "TooManyRequests",
        500..=599 => "ServerError",
        _ => "Other",
    }
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
    let ready = obj.resource_status().and_then(|s| s.condition("Ready"));
    crate::api::ready_at(ready, obj.meta().generation)
}

/// The dependency a CustomMetric or Dimension provides (by its AWS name).
pub(crate) fn dependency_of<K: ManagedKind>(obj: &K) -> Option<Dependency> {
    let name = obj.desired("").ok()?.name;
    Some(match K::KIND {
        "CustomMetric" => Dependency::CustomMetric(name),
        _ => Dependency::Dimension(name),
    })
}

/// The controller of one of the kinds profiles depend on, over `api`.
async fn resource_controller<K: ManagedKind>(
    api: Api<K>,
    ctx: Arc<Context>,
    concurrency: u16,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let (reader, writer) = reflector::store::<K>();
    let metrics = ctx.metrics.clone();
    let stream = watcher::watcher(api, WatcherConfig::default().any_semantic())
        .default_backoff()
        .inspect(move |e| watch_failed::<K>(&metrics, e))
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
    watcher::watcher(api, WatcherConfig::default().any_semantic())
        .default_backoff()
        .applied_objects()
        .predicate_filter(readiness_trigger::<K>, Default::default())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requeue_delays_are_read_back() {
        assert_eq!(requeue_after(&Action::await_change()), None);
        for d in [
            Duration::from_secs(600),
            Duration::from_millis(1500),
            Duration::from_micros(250),
            Duration::from_nanos(7),
            Duration::from_secs_f64(123.456789),
        ] {
            let back = requeue_after(&Action::requeue(d)).unwrap();
            assert!(
                (back.as_secs_f64() - d.as_secs_f64()).abs() < 1e-6,
                "{d:?} -> {back:?}"
            );
        }
    }
}
