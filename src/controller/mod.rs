//! The kube-runtime Controller: one reconcile function, a finalizer with an apply and a cleanup
//! branch, an error policy, and the plan executor. The planner (`crate::reconcile`) holds the
//! decisions; this module only turns a plan into AWS calls, a status and events.

mod apply;
mod budget;
mod cleanup;
mod error;
mod events;
mod execute;
mod guard;
mod namespace;
mod publisher;
mod queue;
mod reads;
mod runner;
mod status;

pub use budget::{Percent, parse_percent};
pub use error::{Error, error_policy};
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
use publisher::{Publisher, Reporter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{Instrument, field, info_span};

/// Everything a reconcile needs.
pub struct Context {
    pub client: Client,
    pub iot: Iot,
    pub metrics: Arc<Metrics>,
    pub publisher: Publisher,
    pub cluster_id: String,
    pub default_region: Option<String>,
    pub resync: Duration,
    /// Running reconciles, for the wedge check of `/healthz`.
    pub health: Health,
    /// The multi-tenant guardrails (`--allow-adoption`, `--allowed-…`).
    pub guard: ClusterRules,
    /// Consecutive failures per resource, for exponential backoff.
    failures: Mutex<HashMap<String, u32>>,
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
            iot,
            metrics,
            publisher,
            cluster_id,
            default_region,
            resync,
            health: Health::default(),
            guard: ClusterRules::default(),
            failures: Mutex::new(HashMap::new()),
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
        }
    }
}

pub(crate) fn key(sp: &SecurityProfile) -> String {
    format!("{}/{}", sp.namespace().unwrap_or_default(), sp.name_any())
}

/// Reconciles one resource (the controller's entry point).
pub async fn reconcile(sp: Arc<SecurityProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let _running = ctx.health.running();
    let namespace = sp.namespace().unwrap_or_default();
    let span = info_span!("reconcile", namespace = %namespace, name = %sp.name_any(), aws_name = field::Empty);
    let api: Api<SecurityProfile> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = async {
        finalizer(&api, FINALIZER, sp.clone(), |event| {
            let (ctx, api) = (ctx.clone(), api.clone());
            async move {
                let outcome = match &event {
                    Finalizer::Apply(sp) => apply::apply(sp, &ctx, &api).await,
                    Finalizer::Cleanup(sp) => cleanup::cleanup(sp, &ctx, &api).await,
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
        .map_err(|e| Error::Finalizer(Box::new(e)))
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
