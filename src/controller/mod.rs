//! The kube-runtime Controller: one reconcile function, a finalizer with an apply and a cleanup
//! branch, an error policy, and the plan executor. The planner (`crate::reconcile`) holds the
//! decisions; this module only turns a plan into AWS calls, a status and events.

mod accounts;
mod apply;
mod budget;
mod cache;
mod cleanup;
mod dependencies;
mod error;
mod events;
mod execute;
mod guard;
mod namespace;
mod publisher;
mod queue;
mod reads;
mod resource;
mod runner;
mod status;
mod violations;

pub use budget::{Percent, parse_percent};
pub use error::{Error, error_policy};
pub use resource::{ManagedKind, reconcile_resource};
pub use runner::{RunnerConfig, run_controllers};

use crate::api::{FINALIZER, SecurityProfile};
use crate::aws::Iot;
use crate::metrics::Metrics;
use crate::reconcile::guard::ClusterRules;
use crate::server::Health;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Client, ResourceExt};
use namespace::NamespaceFacts;
use publisher::{Publisher, Reporter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{Instrument, field, info_span};

/// Everything a reconcile needs. `iot` acts as the operator's own identity, or, in the context
/// scoped to a namespace ([`Context::for_namespace`]), as the namespace's role.
pub struct Context {
    pub client: Client,
    pub iot: Arc<Iot>,
    pub metrics: Arc<Metrics>,
    pub publisher: Publisher,
    pub cluster_id: String,
    pub default_region: Option<String>,
    pub resync: Duration,
    /// Running reconciles, for the wedge check of `/healthz`.
    pub health: Health,
    /// The multi-tenant guardrails (`--allow-adoption`, `--allowed-…`).
    pub guard: ClusterRules,
    /// `--report-violations`: resources whose spec does not say report their violations.
    pub report_violations: bool,
    /// The namespace of the reconcile under way, read once (only in a context scoped to it).
    namespace: Option<Arc<NamespaceFacts>>,
    /// Consecutive failures per resource, for exponential backoff.
    failures: Arc<Mutex<HashMap<String, u32>>>,
}

impl Context {
    pub fn new(
        client: Client,
        iot: Iot,
        metrics: Arc<Metrics>,
        cluster_id: String,
        default_region: Option<String>,
        resync: Duration,
    ) -> Context {
        let publisher = Publisher::start(
            client.clone(),
            Reporter {
                controller: "securityprofile-operator".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
            metrics.events_dropped.clone(),
        );
        Context {
            client,
            iot: Arc::new(iot),
            metrics,
            publisher,
            cluster_id,
            default_region,
            resync,
            health: Health::default(),
            guard: ClusterRules::default(),
            report_violations: false,
            namespace: None,
            failures: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// This context acting in the namespace's AWS account: the role its annotation
    /// `iot.awscc.io/role-arn` names (with `iot.awscc.io/external-id`), if `--allowed-role-arns`
    /// allows it, or the operator's own identity when it has none.
    /// The namespace is read here once, and the scoped context keeps it for the reconcile.
    pub(crate) async fn for_namespace(&self, namespace: &str) -> Result<Context, Error> {
        let facts = Arc::new(namespace::read(&self.client, namespace).await?);
        let Some(role) = accounts::role_of(&facts) else {
            return Ok(self.with_iot(self.iot.clone(), facts));
        };
        accounts::check_allowed(&role, &self.guard)?;
        let iot = self.iot.assume(&role).await?;
        Ok(self.with_iot(iot, facts))
    }

    fn with_iot(&self, iot: Arc<Iot>, namespace: Arc<NamespaceFacts>) -> Context {
        Context {
            client: self.client.clone(),
            iot,
            namespace: Some(namespace),
            metrics: self.metrics.clone(),
            publisher: self.publisher.clone(),
            cluster_id: self.cluster_id.clone(),
            default_region: self.default_region.clone(),
            resync: self.resync,
            health: self.health.clone(),
            guard: self.guard.clone(),
            report_violations: self.report_violations,
            failures: self.failures.clone(),
        }
    }

    /// Shares `health` with the probes.
    pub fn with_health(mut self, health: Health) -> Context {
        self.health = health;
        self
    }

    pub fn with_guard(mut self, rules: ClusterRules) -> Context {
        self.guard = rules;
        self
    }

    pub fn with_report_violations(mut self, on: bool) -> Context {
        self.report_violations = on;
        self
    }

    pub(crate) fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        match self.failures.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Counts one more consecutive failure (or miss) of a resource and returns the count.
    pub(crate) fn fail(&self, key: &str) -> u32 {
        let mut failures = self.failures();
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    /// Forgets everything kept about a resource: it is gone, or back to normal.
    pub(crate) fn forget(&self, key: &str, gone: bool) {
        self.failures().remove(key);
        if gone {
            self.metrics.set_conditions(key, None);
            self.metrics.set_violations(key, None);
        }
    }
}

/// `namespace/name` of a SecurityProfile, `Kind/namespace/name` of the other kinds: the key of
/// a resource's failure count and condition gauges (a CustomMetric and a SecurityProfile may
/// share a name).
pub(crate) fn key<K: kube::Resource<DynamicType = ()>>(obj: &K) -> String {
    let (ns, name) = (
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default(),
    );
    match K::kind(&()) {
        kind if kind == "SecurityProfile" => format!("{ns}/{name}"),
        kind => format!("{kind}/{ns}/{name}"),
    }
}

/// Reconciles one resource (the controller's entry point).
pub async fn reconcile(sp: Arc<SecurityProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let _running = ctx.health.running();
    let namespace = sp.namespace().unwrap_or_default();
    let span = info_span!("reconcile", namespace = %namespace, name = %sp.name_any(), aws_name = field::Empty);
    let api: Api<SecurityProfile> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = async {
        let result = finalizer(&api, FINALIZER, sp.clone(), |event| {
            let (ctx, api, namespace) = (ctx.clone(), api.clone(), namespace.clone());
            async move {
                let outcome = match &event {
                    Finalizer::Apply(sp) => match ctx.for_namespace(&namespace).await {
                        Ok(scoped) => apply::apply(sp, &scoped, &api).await,
                        Err(e) => Err(e),
                    },
                    // Scoped (the namespace's role assumed) only if AWS must be looked at.
                    Finalizer::Cleanup(sp) => cleanup::cleanup(sp, &ctx, &api, &namespace).await,
                };
                if let Err(e) = &outcome {
                    let sp = match &event {
                        Finalizer::Apply(sp) | Finalizer::Cleanup(sp) => sp,
                    };
                    status::report_error(sp, &ctx, &api, e).await;
                }
                outcome
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)));
        if let Err(e) = &result
            && e.is_finalizer_write()
        {
            status::report_error(sp.as_ref(), &ctx, &api, e).await;
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
