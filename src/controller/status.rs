//! The status a reconcile writes, and how it is written.

use super::error::Error;
use super::events::publish;
use super::{Context, key};
use crate::api::{
    ConditionStatus, Reason, SecurityProfile, SecurityProfileStatus, condition, now_seconds,
    rfc3339,
};
use crate::reconcile::{Conditions, Identity, Observed, Verdict};
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use tracing::warn;

/// Builds the next status from the current one: what is not set again is kept.
pub(crate) struct StatusBuilder<'a> {
    sp: &'a SecurityProfile,
    status: SecurityProfileStatus,
}

impl<'a> StatusBuilder<'a> {
    pub(crate) fn new(sp: &'a SecurityProfile) -> StatusBuilder<'a> {
        let mut status = sp.status.clone().unwrap_or_default();
        status.observed_generation = sp.metadata.generation;
        StatusBuilder { sp, status }
    }

    /// The profile this resource holds.
    pub(crate) fn identity(mut self, id: &Identity) -> Self {
        self.status.security_profile_name = Some(id.name.clone());
        self.status.region = Some(id.region.clone());
        self
    }

    /// What AWS holds for it.
    pub(crate) fn observed(mut self, o: &Observed) -> Self {
        let s = &mut self.status;
        if !o.arn.is_empty() {
            s.security_profile_arn = Some(o.arn.clone());
            s.account_id = super::resource::account_of(&o.arn).or(s.account_id.take());
        }
        s.version = Some(o.version);
        s.creation_date = o.creation_date.clone().or(s.creation_date.take());
        s.last_modified_date = o.last_modified_date.clone().or(s.last_modified_date.take());
        s.target_arns = Some(o.targets.iter().cloned().collect());
        s.target_count = Some(o.targets.len() as i32);
        self
    }

    /// What the last violations read found (see `violations::Next`).
    pub(crate) fn violations(mut self, next: &super::violations::Next) -> Self {
        if let Some(field) = next.field() {
            self.status.violations = field;
        }
        self
    }

    pub(crate) fn conditions(self, c: &Conditions) -> Self {
        let in_sync = c.in_sync;
        let mut b = self.ready(&c.ready).synced(&c.synced);
        if in_sync {
            b.status.last_sync_time = Some(rfc3339(now_seconds()));
        }
        b
    }

    pub(crate) fn ready(self, v: &Verdict) -> Self {
        self.condition("Ready", v)
    }

    pub(crate) fn synced(self, v: &Verdict) -> Self {
        self.condition("Synced", v)
    }

    fn condition(mut self, type_: &str, v: &Verdict) -> Self {
        let previous = self
            .sp
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref());
        let c = condition(
            type_,
            v.status,
            v.reason,
            v.message.clone(),
            self.sp.metadata.generation,
            previous,
        );
        let conditions = self.status.conditions.get_or_insert_with(Vec::new);
        conditions.retain(|x| x.type_ != type_);
        conditions.push(c);
        conditions.sort_by_key(|x| x.type_ != "Ready");
        self
    }

    pub(crate) fn build(self) -> SecurityProfileStatus {
        self.status
    }
}

/// Writes the status, unless it would change nothing but `lastSyncTime`: a resync that finds
/// AWS as it was costs no Kubernetes write (`lastSyncTime` then says when AWS was last found
/// to match after a change, and the status is known current at `observedGeneration`).
/// Returns whether it wrote.
pub(crate) async fn write_status_if_changed(
    api: &Api<SecurityProfile>,
    sp: &SecurityProfile,
    status: SecurityProfileStatus,
) -> Result<bool, Error> {
    if let Some(previous) = &sp.status {
        let unchanged = SecurityProfileStatus {
            last_sync_time: previous.last_sync_time.clone(),
            ..status.clone()
        };
        if &unchanged == previous && previous.last_sync_time.is_some() {
            return Ok(false);
        }
    }
    write_status(api, sp, status).await?;
    Ok(true)
}

/// Whether `next` says something new beside `lastSyncTime` and the violations.
pub(crate) fn beyond_violations(
    previous: Option<&SecurityProfileStatus>,
    next: &SecurityProfileStatus,
) -> bool {
    previous.is_none_or(|p| {
        let strip = |s: &SecurityProfileStatus| SecurityProfileStatus {
            last_sync_time: None,
            violations: None,
            ..s.clone()
        };
        strip(p) != strip(next)
    })
}

pub(crate) async fn write_status(
    api: &Api<SecurityProfile>,
    sp: &SecurityProfile,
    status: SecurityProfileStatus,
) -> Result<(), Error> {
    patch_status(api, sp, replacing(sp.status.as_ref(), &status)).await
}

/// The merge patch that makes the status exactly `next`, for the whole-status writes of every
/// kind: a member `previous` has and `next` lacks becomes `null`, which removes it (a merge
/// patch keeps what it does not name, so a read error that went, a behavior that left
/// `byBehavior` or `violations` turned off would otherwise stay).
pub(crate) fn replacing<S: serde::Serialize>(previous: Option<&S>, next: &S) -> serde_json::Value {
    let mut patch = serde_json::json!({ "status": next });
    if let Some(previous) = previous.and_then(|p| serde_json::to_value(p).ok()) {
        removals(&previous, &mut patch["status"]);
    }
    patch
}

fn removals(previous: &serde_json::Value, next: &mut serde_json::Value) {
    let (Some(previous), Some(next)) = (previous.as_object(), next.as_object_mut()) else {
        return;
    };
    for (key, was) in previous {
        match next.get_mut(key) {
            None => {
                next.insert(key.clone(), serde_json::Value::Null);
            }
            Some(now) => removals(was, now),
        }
    }
}

/// A merge patch of the status subresource of any of the operator's kinds.
pub(crate) async fn patch_status<K>(
    api: &Api<K>,
    sp: &K,
    patch: serde_json::Value,
) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch_status(
        &sp.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Records the identity (and the ARN once known) before any other write: from now on the
/// resource holds this profile.
pub(crate) async fn record_identity(
    api: &Api<SecurityProfile>,
    sp: &SecurityProfile,
    id: &Identity,
    arn: Option<&str>,
) -> Result<(), Error> {
    let mut status = serde_json::json!({
        "securityProfileName": id.name,
        "region": id.region,
    });
    if let Some(arn) = arn.filter(|a| !a.is_empty()) {
        status["securityProfileArn"] = arn.into();
    }
    patch_status(api, sp, serde_json::json!({ "status": status })).await
}

/// Forgets the recorded identity and everything read from it.
pub(crate) async fn clear_identity(
    api: &Api<SecurityProfile>,
    sp: &SecurityProfile,
) -> Result<(), Error> {
    let cleared = serde_json::json!({ "status": {
        "securityProfileName": null, "region": null, "securityProfileArn": null,
        "version": null, "creationDate": null, "lastModifiedDate": null,
        "targetArns": null, "targetCount": null,
    }});
    patch_status(api, sp, cleared).await
}

/// Records an error: `Synced=False` with the AWS code and message, and a Warning event. A
/// process that lost its Lease writes nothing.
pub(crate) async fn report_error(
    sp: &SecurityProfile,
    ctx: &Context,
    api: &Api<SecurityProfile>,
    err: &Error,
) {
    if err.is_fenced() {
        return;
    }
    let (reason, message) = err.reason();
    warn!(reason = reason.as_str(), error = %message, "reconcile failed");
    // Pausing is the user's choice, not a failure.
    let event_type = if reason == Reason::Paused {
        EventType::Normal
    } else {
        EventType::Warning
    };
    publish(ctx, sp, event_type, reason.as_str(), &message).await;
    let synced = Verdict::new(ConditionStatus::False, reason, message.clone());
    let mut status = StatusBuilder::new(sp).synced(&synced);
    // Ready stays True only while it speaks of this generation (say, a throttled resync of an
    // unchanged spec); after a spec change that could not be applied, AWS no longer matches.
    let still_ready = sp.is_ready_at_generation();
    if !still_ready {
        let why = if reason == Reason::Paused {
            Reason::Paused
        } else {
            Reason::Unavailable
        };
        status = status.ready(&Verdict::new(ConditionStatus::False, why, message));
    }
    if let Err(e) = write_status(api, sp, status.build()).await {
        warn!(error = %e, "could not write status");
    }
    let ready = if still_ready { "True" } else { "False" };
    ctx.metrics
        .set_conditions(&key(sp), Some((ready.into(), "False".into())));
}

#[cfg(test)]
mod tests {
    use super::replacing;
    use serde_json::json;

    #[test]
    fn members_that_went_are_removed_by_the_patch() {
        let previous = json!({
            "version": 3,
            "violations": {"active": 1, "readError": "AccessDenied", "byBehavior": {"a": 1, "b": 0}},
            "conditions": [{"type": "Ready"}]
        });
        let next = json!({
            "version": 4,
            "violations": {"active": 0, "byBehavior": {"a": 0}},
            "conditions": [{"type": "Ready"}]
        });
        assert_eq!(
            replacing(Some(&previous), &next)["status"],
            json!({
                "version": 4,
                "violations": {"active": 0, "readError": null, "byBehavior": {"a": 0, "b": null}},
                "conditions": [{"type": "Ready"}]
            })
        );
        let off = replacing(Some(&previous), &json!({"version": 4}));
        assert_eq!(off["status"]["violations"], json!(null));
        assert_eq!(off["status"]["conditions"], json!(null));
        // The first write names only what it sets.
        assert_eq!(replacing(None, &next)["status"], next);
    }
}
