//! `sandbox --demo-violations`: what a platform team sees when devices misbehave. The emulator
//! raises active violations on the applied profiles that report them (AWS would, from device
//! metrics); the controller reads them at its next resync into `status.violations`, the
//! VIOLATIONS column and the metric; then they clear, and so does the status.

use super::SandboxError;
use crate::api::SecurityProfile;
use iot_emulator::Emulator;
use kube::{Api, Client};
use serde_json::json;
use std::time::{Duration, Instant};

/// The things the demo makes violate.
const THINGS: [&str; 3] = ["sensor-17", "sensor-42", "gateway-3"];

/// A profile the demo acts on: the resource, its profile in AWS and the behavior violated.
struct Watched {
    api: Api<SecurityProfile>,
    name: String,
    /// `namespace/name`, as the demo prints it.
    resource: String,
    aws_name: String,
    region: String,
    behavior: String,
}

/// Raises, shows and clears violations on every applied profile that reports them.
pub(super) async fn violations(
    emulator: &Emulator,
    client: &Client,
    applied: &[(String, String)],
    wait: Duration,
) -> Result<(), SandboxError> {
    let watched = reporting(client, applied).await?;
    if watched.is_empty() {
        return Err(SandboxError::Demo(
            "no applied SecurityProfile reports violations and has a behavior (try --apply examples/violations.yaml)"
                .into(),
        ));
    }
    for w in &watched {
        for (i, thing) in THINGS.iter().enumerate() {
            let raised = emulator.admin().put_violation(json!({
                "securityProfileName": w.aws_name, "region": w.region, "thingName": thing,
                "behaviorName": w.behavior, "value": {"count": 250 + i},
            }));
            raised.map_err(|e| SandboxError::Demo(e.to_string()))?;
        }
        println!(
            "raised {} violations of {} on {} in the emulator",
            THINGS.len(),
            w.behavior,
            w.aws_name
        );
    }
    for w in &watched {
        let sp = until(w, wait, |active| active == THINGS.len() as i64).await?;
        let v = sp.status.and_then(|s| s.violations).unwrap_or_default();
        println!(
            "{}: status.violations.active={} byBehavior={:?} things={:?} (kubectl get sp -o wide shows VIOLATIONS {})",
            w.resource, v.active, v.by_behavior, v.things, v.active
        );
    }
    for w in &watched {
        for thing in THINGS {
            let cleared = emulator.admin().put_violation(json!({
                "securityProfileName": w.aws_name, "region": w.region, "thingName": thing,
                "clear": true,
            }));
            cleared.map_err(|e| SandboxError::Demo(e.to_string()))?;
        }
    }
    println!("cleared the violations in the emulator");
    for w in &watched {
        until(w, wait, |active| active == 0).await?;
        println!("{}: status.violations.active=0 again", w.resource);
    }
    Ok(())
}

/// The applied profiles that report violations and have a behavior, as the controller
/// recorded them.
async fn reporting(
    client: &Client,
    applied: &[(String, String)],
) -> Result<Vec<Watched>, SandboxError> {
    let mut out = Vec::new();
    for (namespace, name) in applied {
        let api: Api<SecurityProfile> = Api::namespaced(client.clone(), namespace);
        let sp = api.get(name).await?;
        // The demo runs the controller with --report-violations: it reads what
        // `spec.violations.report` leaves on.
        if crate::reconcile::violations::query(&sp.spec, true).is_none() {
            continue;
        }
        let behavior = sp
            .spec
            .behaviors
            .iter()
            .flatten()
            .next()
            .map(|b| b.name.clone());
        let status = sp.status.unwrap_or_default();
        if let (Some(behavior), Some(aws_name), Some(region)) =
            (behavior, status.security_profile_name, status.region)
        {
            out.push(Watched {
                api,
                name: name.clone(),
                resource: format!("{namespace}/{name}"),
                aws_name,
                region,
                behavior,
            });
        }
    }
    Ok(out)
}

/// Waits until the resource's `status.violations.active` satisfies `pred`.
async fn until(
    w: &Watched,
    wait: Duration,
    pred: impl Fn(i64) -> bool,
) -> Result<SecurityProfile, SandboxError> {
    let start = Instant::now();
    loop {
        let sp = w.api.get(&w.name).await?;
        let active = sp
            .status
            .as_ref()
            .and_then(|s| s.violations.as_ref())
            .filter(|v| v.read_error.is_none())
            .map(|v| v.active);
        if active.is_some_and(&pred) {
            return Ok(sp);
        }
        if start.elapsed() > wait {
            return Err(SandboxError::Demo(format!(
                "{}: status.violations did not follow the emulator within {wait:?} (active: {active:?})",
                w.resource
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
