//! The kube-runtime Controller: watch, finalizer, predicates, events, status, backoff.
//!
//! One reconcile function (`reconcile`), a finalizer branch (`cleanup`), an error policy, and
//! the plan executor (`execute`). The planner (`reconcile::plan`) holds the decisions.

mod budget;
mod publisher;
mod queue;
mod reads;
mod runner;

pub use budget::{Percent, parse_percent};
pub use runner::{RunnerConfig, run_controllers};

use crate::api::{
    ConditionStatus, DEFAULT_REGION_ANNOTATION, DeletionPolicy, FINALIZER, ManagementPolicy,
    Reason, SecurityProfile, SecurityProfileStatus, condition, now_seconds, rfc3339,
};
use crate::aws::{ErrorClass, Iot, IotError};
use crate::metrics::Metrics;
use crate::reconcile::{
    Desired, Farewell, Observed, Plan, Refusal, SpecError, Step, check_identity, desired,
    is_paused, plan, resolve_region, simulate,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Client, Resource, ResourceExt};
use publisher::{Publisher, Reporter};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{Instrument, field, info, info_span, warn};

/// Everything a reconcile needs.
pub struct Context {
    pub client: Client,
    pub iot: Iot,
    pub metrics: Arc<Metrics>,
    pub publisher: Publisher,
    pub cluster_id: String,
    pub default_region: Option<String>,
    pub resync: Duration,
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
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Drops what is kept about a resource that is gone (its failure count, its conditions in
    /// the resource gauges).
    pub fn forget(&self, key: &str) {
        self.failures().remove(key);
        self.metrics.set_conditions(key, None);
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        match self.failures.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Iot(#[from] IotError),
    #[error("invalid spec: {0}")]
    Spec(#[from] SpecError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("paused: the iot.awscc.io/paused annotation is \"true\"")]
    Paused,
    #[error("{0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

/// How the error policy requeues after an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    /// Exponential backoff with jitter (throttling, 5xx, timeouts, conflicts).
    Backoff,
    /// Terminal for now: retry at the resync period (AccessDenied, AWS 4xx).
    Slow,
    /// Only a change to the resource helps (invalid spec, paused).
    OnChange,
}

impl Error {
    fn root(&self) -> &Error {
        match self {
            Error::Finalizer(e) => match e.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.root(),
                _ => self,
            },
            other => other,
        }
    }

    fn retry(&self) -> Retry {
        match self.root() {
            Error::Iot(e) if e.class().is_retryable() => Retry::Backoff,
            Error::Iot(IotError::NoRegion) => Retry::OnChange,
            Error::Iot(_) => Retry::Slow,
            Error::Spec(_) | Error::Paused => Retry::OnChange,
            Error::Kube(_) | Error::Finalizer(_) => Retry::Backoff,
        }
    }

    /// The Synced=False reason and message of this error.
    fn reason(&self) -> (Reason, String) {
        match self.root() {
            Error::Iot(IotError::Aws(e)) => {
                let reason = match e.class {
                    ErrorClass::Throttled => Reason::Throttled,
                    ErrorClass::AccessDenied => Reason::AccessDenied,
                    ErrorClass::VersionConflict => Reason::VersionConflict,
                    _ => Reason::AwsError,
                };
                (reason, e.to_string())
            }
            Error::Iot(e @ IotError::NoRegion) => (Reason::InvalidSpec, e.to_string()),
            Error::Iot(e) => (Reason::AwsError, e.to_string()),
            Error::Spec(e) => (Reason::InvalidSpec, e.to_string()),
            Error::Paused => (Reason::Paused, self.root().to_string()),
            e => (Reason::AwsError, e.to_string()),
        }
    }
}

fn key(sp: &SecurityProfile) -> String {
    format!("{}/{}", sp.namespace().unwrap_or_default(), sp.name_any())
}

/// `d` jittered by ±10%, so that resyncs of many resources spread out.
fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.9..1.1))
}

/// Exponential backoff with jitter: 1s, 2s, 4s … capped at 5 minutes, each between half and all of it.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << failures.saturating_sub(1).min(9))
        .min(Duration::from_secs(300));
    base.mul_f64(rand::rng().random_range(0.5..=1.0))
}

/// Reconciles one resource (the controller's entry point).
pub async fn reconcile(sp: Arc<SecurityProfile>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let namespace = sp.namespace().unwrap_or_default();
    let span = info_span!("reconcile", namespace = %namespace, name = %sp.name_any(), aws_name = field::Empty);
    let api: Api<SecurityProfile> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = async {
        finalizer(&api, FINALIZER, sp.clone(), |event| {
            let (ctx, api) = (ctx.clone(), api.clone());
            async move {
                let outcome = match &event {
                    Finalizer::Apply(sp) => apply(sp, &ctx, &api).await,
                    Finalizer::Cleanup(sp) => cleanup(sp, &ctx).await,
                };
                if let Err(e) = &outcome {
                    let sp = match &event {
                        Finalizer::Apply(sp) | Finalizer::Cleanup(sp) => sp,
                    };
                    report_error(sp, &ctx, &api, e).await;
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

/// Requeues after an error: backoff for retryable errors, the resync period for terminal ones.
pub fn error_policy(sp: Arc<SecurityProfile>, err: &Error, ctx: Arc<Context>) -> Action {
    let n = {
        let mut failures = ctx.failures();
        let n = failures.entry(key(&sp)).or_insert(0);
        *n += 1;
        *n
    };
    match err.retry() {
        Retry::Backoff => Action::requeue(backoff(n)),
        Retry::Slow => Action::requeue(jittered(ctx.resync)),
        Retry::OnChange => Action::await_change(),
    }
}

/// The region of a resource: spec, then the region already in use (status), then the namespace
/// annotation, then the operator default, then the SDK default chain.
async fn region_of(sp: &SecurityProfile, ctx: &Context) -> Result<String, Error> {
    // A region counts as in use once a profile was found or created there (status has its ARN).
    let in_use = sp
        .status
        .as_ref()
        .filter(|s| s.security_profile_arn.is_some())
        .and_then(|s| s.region.clone());
    let from_namespace = if sp.spec.region.is_none() && in_use.is_none() {
        let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
        namespaces
            .get_opt(&sp.namespace().unwrap_or_default())
            .await?
            .and_then(|ns| ns.annotations().get(DEFAULT_REGION_ANNOTATION).cloned())
    } else {
        None
    };
    let spec_or_status = sp.spec.region.as_deref().or(in_use.as_deref());
    let region = resolve_region(
        spec_or_status,
        from_namespace.as_deref(),
        ctx.default_region.as_deref(),
    );
    Ok(ctx.iot.region(region.as_deref())?)
}

async fn apply(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
) -> Result<Action, Error> {
    if is_paused(sp) {
        return Err(Error::Paused);
    }
    let desired = desired(sp, &ctx.cluster_id)?;
    tracing::Span::current().record("aws_name", desired.name.as_str());
    let region = region_of(sp, ctx).await?;
    check_identity(sp, &desired.name, &region)?;
    let observed = reads::observe(ctx, &region, &desired).await?;
    match plan(&desired, observed.as_ref()) {
        Plan::Refuse(refusal) => {
            let (reason, message) = match refusal {
                Refusal::AlreadyExists => (
                    Reason::AlreadyExists,
                    format!(
                        "security profile {:?} already exists in {region} and is not managed by this operator; set spec.adoptionPolicy: Adopt to take it over",
                        desired.name
                    ),
                ),
                Refusal::OwnedByAnother(owner) => (
                    Reason::OwnedByAnother,
                    format!(
                        "security profile {:?} in {region} belongs to another resource ({owner}); it is never written or deleted by this one",
                        desired.name
                    ),
                ),
            };
            publish(ctx, sp, EventType::Warning, reason.as_str(), &message).await;
            let status = status_of(
                sp,
                &desired.name,
                &region,
                None,
                (ConditionStatus::False, Reason::Unavailable, message.clone()),
                (ConditionStatus::False, reason, message),
                false,
            );
            write_status(api, sp, status).await?;
            ctx.failures().remove(&key(sp));
            Ok(Action::requeue(jittered(ctx.resync)))
        }
        Plan::Observe => {
            let ready = match &observed {
                Some(_) => (
                    ConditionStatus::True,
                    Reason::Available,
                    "the profile exists in AWS (observe only)".to_string(),
                ),
                None => (
                    ConditionStatus::False,
                    Reason::NotFound,
                    format!(
                        "security profile {:?} not found in {region} (observe only)",
                        desired.name
                    ),
                ),
            };
            let synced = (
                ConditionStatus::True,
                Reason::ReconcileSuccess,
                "observed".to_string(),
            );
            let status = status_of(
                sp,
                &desired.name,
                &region,
                observed.as_ref(),
                ready,
                synced,
                observed.is_some(),
            );
            write_status_if_changed(api, sp, status).await?;
            if observed.is_some() {
                ctx.failures().remove(&key(sp));
                return Ok(Action::requeue(jittered(ctx.resync)));
            }
            // Waiting for the profile to appear: look again soon, then less and less often.
            let misses = {
                let mut failures = ctx.failures();
                let n = failures.entry(key(sp)).or_insert(0);
                *n += 1;
                *n
            };
            Ok(Action::requeue(backoff(misses).min(ctx.resync)))
        }
        Plan::Converge { steps, adopt } => {
            let was_ready_at_this_generation = sp.condition("Ready").is_some_and(|c| {
                c.status == "True" && c.observed_generation == sp.metadata.generation
            });
            let drift = (!steps.is_empty() && !adopt && was_ready_at_this_generation)
                .then(|| drift_fields(&desired, observed.as_ref()));
            let after = execute(ctx, sp, &region, &desired, observed.as_ref(), &steps).await?;
            if adopt {
                publish(
                    ctx,
                    sp,
                    EventType::Normal,
                    "Adopted",
                    &format!(
                        "adopted existing security profile {} ({})",
                        desired.name, after.arn
                    ),
                )
                .await;
            }
            if let Some(fields) = drift {
                ctx.metrics.drift_corrections.inc();
                publish(
                    ctx,
                    sp,
                    EventType::Normal,
                    "DriftCorrected",
                    &format!(
                        "corrected changes made outside the operator to: {}",
                        fields.join(", ")
                    ),
                )
                .await;
            }
            let ready = (
                ConditionStatus::True,
                Reason::Available,
                "the profile matches the spec".to_string(),
            );
            let synced = (
                ConditionStatus::True,
                Reason::ReconcileSuccess,
                "AWS matches the spec".to_string(),
            );
            let status = status_of(
                sp,
                &desired.name,
                &region,
                Some(&after),
                ready,
                synced,
                true,
            );
            write_status_if_changed(api, sp, status).await?;
            ctx.metrics
                .set_conditions(&key(sp), Some(("True".into(), "True".into())));
            ctx.failures().remove(&key(sp));
            Ok(Action::requeue(jittered(ctx.resync)))
        }
        Plan::Finalize { .. } => Ok(Action::await_change()),
    }
}

/// The spec fields in which AWS differs from the desired state.
fn drift_fields(desired: &Desired, observed: Option<&Observed>) -> Vec<&'static str> {
    let Some(o) = observed else { return vec![] };
    let mut fields = o.attributes.differing_fields(&desired.attributes);
    if o.targets != desired.targets {
        fields.push("targetArns");
    }
    let want = desired.all_tags();
    if o.tags
        .iter()
        .any(|(k, v)| want.get(k).is_some_and(|w| w != v))
        || want.keys().any(|k| !o.tags.contains_key(k))
        || o.tags
            .keys()
            .any(|k| !want.contains_key(k) && !crate::reconcile::model::is_reserved_tag(k))
    {
        fields.push("tags");
    }
    fields
}

async fn cleanup(sp: &SecurityProfile, ctx: &Context) -> Result<Action, Error> {
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

/// What one reconcile did to targets and tags: published as one event per kind, because the
/// event recorder folds events of the same reason into one series and would keep only the
/// first message ("attached to g1" ×2 instead of g1 and g2).
#[derive(Default)]
struct Changes {
    attached: Vec<String>,
    detached: Vec<String>,
    tagged: Vec<String>,
    untagged: Vec<String>,
}

impl Changes {
    async fn publish(self, ctx: &Context, sp: &SecurityProfile) {
        if !self.attached.is_empty() {
            let note = format!("attached to {}", self.attached.join(", "));
            publish(ctx, sp, EventType::Normal, "TargetAttached", &note).await;
        }
        if !self.detached.is_empty() {
            let note = format!("detached from {}", self.detached.join(", "));
            publish(ctx, sp, EventType::Normal, "TargetDetached", &note).await;
        }
        let mut tags = Vec::new();
        if !self.tagged.is_empty() {
            tags.push(format!("tagged {}", self.tagged.join(", ")));
        }
        if !self.untagged.is_empty() {
            tags.push(format!("removed tags {}", self.untagged.join(", ")));
        }
        if !tags.is_empty() {
            publish(ctx, sp, EventType::Normal, "TagsUpdated", &tags.join("; ")).await;
        }
    }
}

/// Runs the plan's steps in order and returns the AWS state they leave. Every AWS mutation is
/// announced by an event, also when a later step fails.
async fn execute(
    ctx: &Context,
    sp: &SecurityProfile,
    region: &str,
    desired: &Desired,
    observed: Option<&Observed>,
    steps: &[Step],
) -> Result<Observed, Error> {
    let mut changes = Changes::default();
    let result = run_steps(ctx, sp, region, desired, observed, steps, &mut changes).await;
    changes.publish(ctx, sp).await;
    result
}

async fn run_steps(
    ctx: &Context,
    sp: &SecurityProfile,
    region: &str,
    desired: &Desired,
    observed: Option<&Observed>,
    steps: &[Step],
    changes: &mut Changes,
) -> Result<Observed, Error> {
    let name = desired.name.as_str();
    let mut state = observed.cloned();
    for step in steps {
        let arn = state.as_ref().map(|o| o.arn.clone()).unwrap_or_default();
        match step {
            Step::Create { attributes, tags } => {
                let arn = ctx.iot.create(region, name, attributes, tags).await?;
                info!(%arn, "created security profile");
                let note = format!("created security profile {name} ({arn})");
                publish(ctx, sp, EventType::Normal, "Created", &note).await;
                state = simulate(None, std::slice::from_ref(step), &arn);
                if let (Some(s), Some(d)) = (state.as_mut(), ctx.iot.describe(region, name).await?)
                {
                    s.version = d.version;
                    s.attributes = d.attributes;
                    s.creation_date = d.creation_date;
                    s.last_modified_date = d.last_modified_date;
                }
                continue;
            }
            Step::Update {
                expected_version,
                update,
            } => {
                let d = ctx
                    .iot
                    .update(region, name, *expected_version, update)
                    .await?;
                let fields = state
                    .as_ref()
                    .map(|o| o.attributes.differing_fields(&d.attributes))
                    .unwrap_or_default();
                let note = format!("updated {} (version {})", fields.join(", "), d.version);
                publish(ctx, sp, EventType::Normal, "Updated", &note).await;
                if let Some(s) = state.as_mut() {
                    s.version = d.version;
                    s.attributes = d.attributes;
                    s.creation_date = d.creation_date.or(s.creation_date.take());
                    s.last_modified_date = d.last_modified_date;
                }
                continue;
            }
            Step::Tag(tags) => {
                ctx.iot.tag(region, &arn, tags).await?;
                changes.tagged.extend(tags.keys().cloned());
            }
            Step::Untag(keys) => {
                ctx.iot.untag(region, &arn, keys).await?;
                changes.untagged.extend(keys.iter().cloned());
            }
            Step::Attach(target) => {
                ctx.iot.attach(region, name, target).await?;
                changes.attached.push(target.clone());
            }
            Step::Detach(target) => {
                ctx.iot.detach(region, name, target).await?;
                changes.detached.push(target.clone());
            }
            Step::Delete { expected_version } => {
                ctx.iot.delete(region, name, *expected_version).await?;
                let note = format!("deleted security profile {name}");
                publish(ctx, sp, EventType::Normal, "Deleted", &note).await;
            }
        }
        state = simulate(state.as_ref(), std::slice::from_ref(step), &arn);
    }
    Ok(state.unwrap_or_else(|| Observed {
        arn: String::new(),
        version: 0,
        attributes: Default::default(),
        targets: Default::default(),
        tags: Default::default(),
        creation_date: None,
        last_modified_date: None,
    }))
}

type ConditionSpec = (ConditionStatus, Reason, String);

/// The status to write after a reconcile.
fn status_of(
    sp: &SecurityProfile,
    name: &str,
    region: &str,
    observed: Option<&Observed>,
    ready: ConditionSpec,
    synced: ConditionSpec,
    in_sync: bool,
) -> SecurityProfileStatus {
    let previous = sp.status.clone().unwrap_or_default();
    let generation = sp.metadata.generation;
    let prev_conditions = previous.conditions.as_deref();
    let targets: Option<Vec<String>> = observed.map(|o| o.targets.iter().cloned().collect());
    SecurityProfileStatus {
        observed_generation: generation,
        security_profile_arn: observed
            .map(|o| o.arn.clone())
            .or(previous.security_profile_arn),
        security_profile_name: Some(name.to_string()),
        region: Some(region.to_string()),
        version: observed.map(|o| o.version).or(previous.version),
        creation_date: observed
            .and_then(|o| o.creation_date.clone())
            .or(previous.creation_date),
        last_modified_date: observed
            .and_then(|o| o.last_modified_date.clone())
            .or(previous.last_modified_date),
        target_count: targets
            .as_ref()
            .map(|t| t.len() as i32)
            .or(previous.target_count),
        target_arns: targets.or(previous.target_arns),
        last_sync_time: if in_sync {
            Some(rfc3339(now_seconds()))
        } else {
            previous.last_sync_time
        },
        conditions: Some(vec![
            condition(
                "Ready",
                ready.0,
                ready.1,
                ready.2,
                generation,
                prev_conditions,
            ),
            condition(
                "Synced",
                synced.0,
                synced.1,
                synced.2,
                generation,
                prev_conditions,
            ),
        ]),
    }
}

/// Writes the status, unless it would change nothing but `lastSyncTime`: a resync that finds
/// AWS as it was costs no Kubernetes write (`lastSyncTime` then says when AWS was last found
/// to match after a change, and the status is known current at `observedGeneration`).
async fn write_status_if_changed(
    api: &Api<SecurityProfile>,
    sp: &SecurityProfile,
    status: SecurityProfileStatus,
) -> Result<(), Error> {
    if let Some(previous) = &sp.status {
        let unchanged = SecurityProfileStatus {
            last_sync_time: previous.last_sync_time.clone(),
            ..status.clone()
        };
        if &unchanged == previous && previous.last_sync_time.is_some() {
            return Ok(());
        }
    }
    write_status(api, sp, status).await
}

async fn write_status(
    api: &Api<SecurityProfile>,
    sp: &SecurityProfile,
    status: SecurityProfileStatus,
) -> Result<(), Error> {
    let patch = serde_json::json!({ "status": status });
    api.patch_status(
        &sp.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Records an error: `Synced=False` with the AWS code and message, and a Warning event.
async fn report_error(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
    err: &Error,
) {
    let (reason, message) = err.reason();
    warn!(reason = reason.as_str(), error = %message, "reconcile failed");
    // Pausing is the user's choice, not a failure.
    let event_type = if reason == Reason::Paused {
        EventType::Normal
    } else {
        EventType::Warning
    };
    publish(ctx, sp, event_type, reason.as_str(), &message).await;
    // Ready stays True only while it speaks of this generation (say, a throttled resync of an
    // unchanged spec); after a spec change that could not be applied, AWS no longer matches.
    let still_ready = sp
        .condition("Ready")
        .filter(|c| c.status == "True" && c.observed_generation == sp.metadata.generation)
        .cloned();
    let ready = (
        ConditionStatus::False,
        if reason == Reason::Paused {
            Reason::Paused
        } else {
            Reason::Unavailable
        },
        message.clone(),
    );
    let name = sp
        .status
        .as_ref()
        .and_then(|s| s.security_profile_name.clone())
        .or_else(|| crate::reconcile::aws_name(sp).ok())
        .unwrap_or_default();
    let region = sp
        .status
        .as_ref()
        .and_then(|s| s.region.clone())
        .or(sp.spec.region.clone())
        .unwrap_or_default();
    let mut status = status_of(
        sp,
        &name,
        &region,
        None,
        ready,
        (ConditionStatus::False, reason, message),
        false,
    );
    if name.is_empty() {
        status.security_profile_name = None;
    }
    if region.is_empty() {
        status.region = None;
    }
    let ready_status = if still_ready.is_some() {
        "True"
    } else {
        "False"
    };
    if let (Some(ready), Some(conditions)) = (still_ready, status.conditions.as_mut()) {
        conditions.retain(|c| c.type_ != "Ready");
        conditions.insert(0, ready);
    }
    if let Err(e) = write_status(api, sp, status).await {
        warn!(error = %e, "could not write status");
    }
    ctx.metrics
        .set_conditions(&key(sp), Some((ready_status.into(), "False".into())));
}

async fn publish(ctx: &Context, sp: &SecurityProfile, type_: EventType, reason: &str, note: &str) {
    ctx.publisher
        .publish(sp.object_ref(&()), type_, reason, note);
}
