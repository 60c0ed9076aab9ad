//! The measured phases: convergence, steady state, edits under saturated resyncs, update
//! wave, deletion.

use crate::args::BenchArgs;
use crate::calls::{PhaseCalls, round};
use crate::tracker::Tracker;
use crate::world::{NAMESPACE, World};
use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use securityprofile_operator::api::SecurityProfile;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The measurements of one phase.
#[derive(Debug)]
pub struct Phase {
    pub name: &'static str,
    pub wall_seconds: f64,
    pub calls: PhaseCalls,
    /// Writes to the Kubernetes API of any kind by the operator: the global resourceVersion
    /// delta minus the bench's own writes (one create, patch or delete per resource).
    pub k8s_writes: u64,
    /// Of those, changes to SecurityProfile objects seen by the watch.
    pub profile_writes: u64,
    /// Warning events with reason Throttled (reconciles that failed on throttling).
    pub throttled_events: u64,
    pub cpu_seconds: f64,
    /// Why the phase did not finish, if it did not.
    pub failure: Option<String>,
    pub extra: Value,
}

/// Counters at the start of a phase.
struct Mark {
    at: Instant,
    calls: crate::calls::Counters,
    rv: u64,
    modifications: u64,
    throttled_events: u64,
    cpu: f64,
}

async fn mark(world: &World, tracker: &Tracker) -> Result<Mark> {
    let modifications = tracker.state().modifications;
    Ok(Mark {
        calls: world.emulator.admin().calls(),
        rv: world.global_resource_version().await?,
        modifications,
        throttled_events: world.throttled_events().await?,
        cpu: world.footprint()?.cpu_seconds,
        at: Instant::now(),
    })
}

async fn finish(
    name: &'static str,
    bench_writes: u64,
    world: &World,
    tracker: &Tracker,
    start: Mark,
    end_at: Instant,
    failure: Option<String>,
) -> Result<Phase> {
    let end = mark(world, tracker).await?;
    Ok(Phase {
        name,
        wall_seconds: end_at.duration_since(start.at).as_secs_f64(),
        calls: PhaseCalls::between(&start.calls, &end.calls),
        k8s_writes: end.rv.saturating_sub(start.rv).saturating_sub(bench_writes),
        profile_writes: end.modifications.saturating_sub(start.modifications),
        throttled_events: end.throttled_events.saturating_sub(start.throttled_events),
        cpu_seconds: end.cpu - start.cpu,
        failure,
        extra: json!({}),
    })
}

pub fn name(i: usize) -> String {
    format!("bench-{i:05}")
}

/// A resource with 2 targets, 2 tags and one behavior.
fn manifest(i: usize, groups: &[String]) -> Result<SecurityProfile> {
    let value = json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": name(i), "namespace": NAMESPACE},
        "spec": {
            "securityProfileDescription": format!("bench profile {i}"),
            "behaviors": [{
                "name": "messages-sent",
                "metric": "aws:num-messages-sent",
                "criteria": {
                    "comparisonOperator": "greater-than",
                    "value": {"count": 100},
                    "durationSeconds": 300,
                    "consecutiveDatapointsToAlarm": 1,
                    "consecutiveDatapointsToClear": 1
                }
            }],
            "targetArns": [groups[i % groups.len()], groups[(i + 1) % groups.len()]],
            "tags": [{"key": "team", "value": "bench"}, {"key": "index", "value": i.to_string()}]
        }
    });
    Ok(serde_json::from_value(value)?)
}

/// A generous bound on a phase: 120 s plus ten times its quota floor estimate.
fn timeout(estimated_floor: f64) -> Duration {
    Duration::from_secs_f64(120.0 + 10.0 * estimated_floor)
}

async fn wait_converged(
    tracker: &Tracker,
    expected: &HashMap<String, i64>,
    limit: Duration,
) -> (Instant, Option<String>) {
    let done = tracker
        .wait(limit, |s| {
            expected
                .iter()
                .all(|(n, g)| s.objects.get(n).is_some_and(|e| e.converged_at(*g)))
        })
        .await;
    match done {
        Some(at) => (at, None),
        None => {
            let s = tracker.state();
            let converged = expected
                .iter()
                .filter(|(n, g)| s.objects.get(*n).is_some_and(|e| e.converged_at(**g)))
                .count();
            (
                Instant::now(),
                Some(format!(
                    "{converged}/{} converged after {limit:?}; conditions: {:?}",
                    expected.len(),
                    s.reasons()
                )),
            )
        }
    }
}

/// (1) N new resources, from the first create to all Ready.
pub async fn convergence(args: &BenchArgs, world: &World, tracker: &Tracker) -> Result<Phase> {
    let manifests = (0..args.resources)
        .map(|i| manifest(i, &world.groups))
        .collect::<Result<Vec<_>>>()?;
    let start = mark(world, tracker).await?;
    let api = world.api();
    let created: Vec<(String, i64)> = futures::stream::iter(manifests)
        .map(|sp| {
            let api = api.clone();
            async move {
                let out = api.create(&PostParams::default(), &sp).await?;
                anyhow::Ok((
                    out.metadata.name.unwrap_or_default(),
                    out.metadata.generation.unwrap_or(1),
                ))
            }
        })
        .buffer_unordered(args.apply_parallelism)
        .try_collect()
        .await
        .context("creating SecurityProfiles")?;
    let applied = start.at.elapsed().as_secs_f64();
    let expected: HashMap<String, i64> = created.into_iter().collect();
    let estimate = 2.0 * args.resources as f64 / args.quota("AttachSecurityProfile");
    let (end, failure) = wait_converged(tracker, &expected, timeout(estimate)).await;
    let mut phase = finish(
        "convergence",
        expected.len() as u64,
        world,
        tracker,
        start,
        end,
        failure,
    )
    .await?;
    phase.extra = json!({"applySeconds": round(applied, 3)});
    Ok(phase)
}

/// (2) One resync period (plus the jitter) with nothing changed.
pub async fn steady_state(args: &BenchArgs, world: &World, tracker: &Tracker) -> Result<Phase> {
    let start = mark(world, tracker).await?;
    // Resyncs are jittered by ±10%: 1.1 periods see every resource's next resync.
    let window = args.resync.mul_f64(1.1) + Duration::from_secs(1);
    tokio::time::sleep(window).await;
    let end = Instant::now();
    let not_ready = tracker
        .state()
        .objects
        .values()
        .filter(|e| !e.ready)
        .count();
    let failure = (not_ready > 0).then(|| format!("{not_ready} resources left Ready"));
    let mut phase = finish("steady state", 0, world, tracker, start, end, failure).await?;
    // Every reconcile of an existing profile starts with exactly one DescribeSecurityProfile.
    let resyncs = phase
        .calls
        .0
        .get("DescribeSecurityProfile")
        .map(|c| c.admitted())
        .unwrap_or(0);
    let per_resync = |n: u64| round(n as f64 / resyncs.max(1) as f64, 3);
    phase.extra = json!({
        "windowSeconds": round(window.as_secs_f64(), 3),
        "resyncsSeen": resyncs,
        "awsReadsPerResync": per_resync(phase.calls.reads()),
        "awsWritesPerResync": per_resync(phase.calls.writes()),
        "k8sWritesPerResync": per_resync(phase.k8s_writes),
        "profileWritesPerResync": per_resync(phase.profile_writes),
        "violationReadsPerResync": per_resync(
            phase
                .calls
                .0
                .get("ListActiveViolations")
                .map(|c| c.admitted())
                .unwrap_or(0)
        ),
    });
    Ok(phase)
}

/// (3) The description of every resource changes.
pub async fn update_wave(
    args: &BenchArgs,
    world: &World,
    tracker: &Tracker,
    live: &[usize],
) -> Result<Phase> {
    let start = mark(world, tracker).await?;
    let api = world.api();
    let patched: Vec<(String, i64)> = futures::stream::iter(live.iter().copied())
        .map(|i| {
            let api = api.clone();
            async move {
                let patch =
                    json!({"spec": {"securityProfileDescription": format!("updated profile {i}")}});
                let out = api
                    .patch(&name(i), &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
                anyhow::Ok((name(i), out.metadata.generation.unwrap_or(0)))
            }
        })
        .buffer_unordered(args.apply_parallelism)
        .try_collect()
        .await
        .context("patching SecurityProfiles")?;
    let expected: HashMap<String, i64> = patched.into_iter().collect();
    let estimate = live.len() as f64 / args.quota("UpdateSecurityProfile");
    let (end, failure) = wait_converged(tracker, &expected, timeout(estimate)).await;
    finish(
        "update wave",
        expected.len() as u64,
        world,
        tracker,
        start,
        end,
        failure,
    )
    .await
}

/// (4) Every resource is deleted; the phase ends when the API has none left.
pub async fn deletion(
    args: &BenchArgs,
    world: &World,
    tracker: &Tracker,
    live: &[usize],
) -> Result<Phase> {
    let start = mark(world, tracker).await?;
    let api = world.api();
    futures::stream::iter(live.iter().copied())
        .map(|i| {
            let api = api.clone();
            async move {
                api.delete(&name(i), &DeleteParams::default()).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.apply_parallelism)
        .try_collect::<Vec<()>>()
        .await
        .context("deleting SecurityProfiles")?;
    let estimate = live.len() as f64 / args.quota("DeleteSecurityProfile");
    let done = tracker
        .wait(timeout(estimate), |s| s.objects.is_empty())
        .await;
    let (end, mut failure) = match done {
        Some(at) => (at, None),
        None => {
            let s = tracker.state();
            let msg = format!(
                "{} resources still exist; conditions: {:?}",
                s.objects.len(),
                s.reasons()
            );
            (Instant::now(), Some(msg))
        }
    };
    let left_in_api = world.leftover_resources().await?;
    let left_in_aws = world.leftover_profiles();
    if failure.is_none() && !left_in_api.is_empty() {
        failure = Some(format!("{} resources left in the API", left_in_api.len()));
    }
    if !left_in_aws.is_empty() {
        let sample: Vec<_> = left_in_aws.iter().take(5).collect();
        let msg = format!(
            "{} profiles left in the emulator (e.g. {sample:?})",
            left_in_aws.len()
        );
        failure = Some(match failure {
            Some(f) => format!("{f}; {msg}"),
            None => msg,
        });
    }
    let mut phase = finish(
        "deletion",
        live.len() as u64,
        world,
        tracker,
        start,
        end,
        failure,
    )
    .await?;
    phase.extra = json!({
        "profilesLeftInEmulator": left_in_aws.len(),
        "resourcesLeftInApi": left_in_api.len(),
    });
    Ok(phase)
}

/// The least time one edit can take when its calls wait for nobody but the quota: each of its
/// calls (Describe, ListTargets, ListTags, Update) at most one interval of its operation.
pub fn edit_floor(args: &BenchArgs) -> f64 {
    [
        "DescribeSecurityProfile",
        "ListTargetsForSecurityProfile",
        "ListTagsForResource",
        "UpdateSecurityProfile",
    ]
    .iter()
    .map(|op| 1.0 / args.quota(op))
    .sum()
}

/// (3) While resyncs use their whole budget: `--edits` edits made one after another, each
/// timed from its patch to Ready at its new generation, each made together with one new
/// resource and one deletion.
pub async fn edits_under_resyncs(
    args: &BenchArgs,
    world: &World,
    tracker: &Tracker,
    live: &mut Vec<usize>,
) -> Result<Phase> {
    let n = args.edits;
    let start = mark(world, tracker).await?;
    let api = world.api();
    let edited: Vec<usize> = live[..n].to_vec();
    let new: Vec<usize> = (args.resources..args.resources + n).collect();
    let gone: Vec<usize> = live[live.len().saturating_sub(n).max(n)..].to_vec();
    let limit = timeout(n as f64);
    // Each edit comes with one creation and one deletion, made at the same moment: users'
    // changes spread over the window, competing with the edits for every quota they share.
    let mut latencies = Vec::new();
    for (k, i) in edited.iter().enumerate() {
        if let Some(c) = new.get(k) {
            api.create(&PostParams::default(), &manifest(*c, &world.groups)?)
                .await?;
        }
        if let Some(d) = gone.get(k) {
            api.delete(&name(*d), &DeleteParams::default()).await?;
        }
        let at = Instant::now();
        let patch = json!({"spec": {"securityProfileDescription": format!("edited profile {i}")}});
        let out = api
            .patch(&name(*i), &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let generation = out.metadata.generation.unwrap_or(0);
        let n = name(*i);
        let done = tracker
            .wait(Duration::from_secs(120), |s| {
                s.objects
                    .get(&n)
                    .is_some_and(|e| e.converged_at(generation))
            })
            .await;
        latencies.push(done.map(|d| d.duration_since(at).as_secs_f64()));
    }
    let created_names: Vec<String> = new.iter().map(|i| name(*i)).collect();
    let created = tracker
        .wait(limit, |s| {
            created_names
                .iter()
                .all(|n| s.objects.get(n).is_some_and(|e| e.converged_at(1)))
        })
        .await
        .map(|at| at.duration_since(start.at).as_secs_f64());
    let gone_names: Vec<String> = gone.iter().map(|i| name(*i)).collect();
    let deleted = tracker
        .wait(limit, |s| {
            gone_names.iter().all(|n| !s.objects.contains_key(n))
        })
        .await
        .map(|at| at.duration_since(start.at).as_secs_f64());
    let end = Instant::now();
    let violations_period = world
        .operator_metric("securityprofile_operator_violations_effective_period_seconds")
        .await;
    let effective = world
        .operator_metric("securityprofile_operator_resync_effective_period_seconds")
        .await;
    let backlog = world
        .operator_metric("securityprofile_operator_resync_backlog")
        .await;
    let dropped = world
        .operator_metric("securityprofile_operator_events_dropped_total")
        .await;
    let unconverged = latencies.iter().filter(|l| l.is_none()).count();
    let mut done: Vec<f64> = latencies.iter().flatten().copied().collect();
    done.sort_by(f64::total_cmp);
    let mut failure = Vec::new();
    if unconverged > 0 {
        failure.push(format!("{unconverged} edits did not converge within 120 s"));
    }
    if created.is_none() {
        failure.push(format!("the {n} new resources did not all converge"));
    }
    if deleted.is_none() {
        failure.push(format!("the {n} deletions did not all finish"));
    }
    let failure = (!failure.is_empty()).then(|| failure.join("; "));
    let mut phase = finish(
        "edits under resyncs",
        (edited.len() + new.len() + gone.len()) as u64,
        world,
        tracker,
        start,
        end,
        failure,
    )
    .await?;
    live.retain(|i| !gone.contains(i));
    live.extend(new.iter().copied());
    phase.extra = json!({
        "edits": edited.len(),
        "editFloorSeconds": round(edit_floor(args), 3),
        "worstEditSeconds": done.last().map(|x| round(*x, 3)),
        "medianEditSeconds": done.get(done.len() / 2).map(|x| round(*x, 3)),
        "editSeconds": latencies.iter().map(|x| x.map(|x| round(x, 3))).collect::<Vec<_>>(),
        "creations": new.len(),
        "creationsSeconds": created.map(|x| round(x, 3)),
        "deletions": gone.len(),
        "deletionsSeconds": deleted.map(|x| round(x, 3)),
        "effectiveResyncSeconds": effective.map(|x| round(x, 1)),
        "effectiveViolationsSeconds": violations_period.map(|x| round(x, 1)),
        "resyncBacklog": backlog,
        "eventsDropped": dropped,
    });
    Ok(phase)
}
