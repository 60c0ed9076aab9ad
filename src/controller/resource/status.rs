//! The status of a CustomMetric or Dimension, and how errors land in it.

use super::ManagedKind;
use crate::api::{ConditionStatus, Reason, ResourceStatus, condition, now_seconds, rfc3339};
use crate::controller::Context;
use crate::controller::error::Error;
use crate::controller::events::publish;
use crate::controller::status::{patch_status, replacing};
use crate::reconcile::ResourceObserved;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::Api;
use kube::runtime::events::EventType;
use tracing::warn;

pub(crate) type ConditionSpec = (ConditionStatus, Reason, String);

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`).
pub(crate) fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// What a reconcile found, for the status.
pub(crate) struct Found<'a, A> {
    pub name: &'a str,
    pub region: &'a str,
    pub observed: Option<&'a ResourceObserved<A>>,
    /// AWS was read and found to match the spec.
    pub in_sync: bool,
    /// Profiles that hold the resource while its deletion waits.
    pub used_by: Option<Vec<String>>,
}

/// The status to write after a reconcile.
pub(crate) fn resource_status<K: ManagedKind, A>(
    obj: &K,
    found: Found<'_, A>,
    ready: ConditionSpec,
    synced: ConditionSpec,
) -> ResourceStatus {
    let previous = obj.resource_status().cloned().unwrap_or_default();
    let generation = obj.meta().generation;
    let prev = previous.conditions.as_deref();
    let arn = found.observed.map(|o| o.arn.clone()).or(previous.arn);
    ResourceStatus {
        observed_generation: generation,
        account_id: arn.as_deref().and_then(account_of).or(previous.account_id),
        arn,
        aws_name: Some(found.name.to_string()),
        region: Some(found.region.to_string()),
        creation_date: found
            .observed
            .and_then(|o| o.creation_date.clone())
            .or(previous.creation_date),
        last_modified_date: found
            .observed
            .and_then(|o| o.last_modified_date.clone())
            .or(previous.last_modified_date),
        used_by: found.used_by,
        last_sync_time: if found.in_sync {
            Some(rfc3339(now_seconds()))
        } else {
            previous.last_sync_time
        },
        conditions: Some(vec![
            condition("Ready", ready.0, ready.1, ready.2, generation, prev),
            condition("Synced", synced.0, synced.1, synced.2, generation, prev),
        ]),
    }
}

/// Writes the status unless only `lastSyncTime` would change (an idle resync writes nothing).
pub(crate) async fn write_if_changed<K: ManagedKind>(
    api: &Api<K>,
    obj: &K,
    status: ResourceStatus,
) -> Result<(), Error> {
    if let Some(previous) = obj.resource_status() {
        let unchanged = ResourceStatus {
            last_sync_time: previous.last_sync_time.clone(),
            ..status.clone()
        };
        if &unchanged == previous && previous.last_sync_time.is_some() {
            return Ok(());
        }
    }
    write_status(api, obj, status).await
}

/// Records an error: `Synced=False` with the reason and message, and an event.
pub(crate) async fn report_error<K: ManagedKind>(
    obj: &K,
    ctx: &Context,
    api: &Api<K>,
    err: &Error,
) {
    let (reason, message) = err.reason();
    warn!(reason = reason.as_str(), error = %message, "reconcile failed");
    let event_type = match err {
        Error::Paused | Error::InUse { .. } => EventType::Normal,
        _ => EventType::Warning,
    };
    let event_reason = match err {
        Error::InUse { .. } => "InUse",
        _ => reason.as_str(),
    };
    publish(ctx, obj, event_type, event_reason, &message).await;
    let mut status = obj.resource_status().cloned().unwrap_or_default();
    status.observed_generation = obj.meta().generation;
    status.used_by = match err {
        Error::InUse { users, .. } => Some(users.clone()),
        _ => None,
    };
    let conditions = error_conditions(
        status.conditions.as_deref(),
        obj.meta().generation,
        reason,
        &message,
    );
    status.conditions = Some(conditions);
    if let Err(e) = write_status(api, obj, status).await {
        warn!(error = %e, "could not write status");
    }
}

/// Writes the whole status of a CustomMetric or Dimension.
pub(crate) async fn write_status<K: ManagedKind>(
    api: &Api<K>,
    obj: &K,
    status: ResourceStatus,
) -> Result<(), Error> {
    patch_status(api, obj, replacing(obj.resource_status(), &status)).await
}

/// The conditions after a failed reconcile: `Synced=False` with the reason; `Ready` stays True
/// only while it speaks of this generation (the rule of SecurityProfile's error report).
fn error_conditions(
    previous: Option<&[Condition]>,
    generation: Option<i64>,
    reason: Reason,
    message: &str,
) -> Vec<Condition> {
    let ready_now = previous.and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    let still_ready = ready_now
        .filter(|c| crate::api::ready_at(Some(c), generation))
        .cloned();
    let ready = still_ready.unwrap_or_else(|| {
        let why = if reason == Reason::Paused {
            Reason::Paused
        } else {
            Reason::Unavailable
        };
        condition(
            "Ready",
            ConditionStatus::False,
            why,
            message,
            generation,
            previous,
        )
    });
    let synced = condition(
        "Synced",
        ConditionStatus::False,
        reason,
        message,
        generation,
        previous,
    );
    vec![ready, synced]
}
