//! The status a reconcile writes, and how it is written.

use super::error::Error;
use super::events::publish;
use super::{Context, key};
use crate::api::{
    ConditionStatus, Reason, SecurityProfile, SecurityProfileStatus, condition, now_seconds,
    rfc3339,
};
use crate::reconcile::Observed;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use tracing::warn;

type ConditionSpec = (ConditionStatus, Reason, String);

/// The status to write after a reconcile.
pub(crate) fn status_of(
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
pub(crate) async fn write_status_if_changed(
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

pub(crate) async fn write_status(
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
pub(crate) async fn report_error(
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
