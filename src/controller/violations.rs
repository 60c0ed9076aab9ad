//! Active violations: read `ListActiveViolations` when the runner says they are due (in the
//! pacer's resync lane, whatever the reconcile's lane: it is reporting, not a user's change),
//! then carry out what `reconcile::violations` decides: the status, the metric series and the
//! events of a zero crossing. Never a condition: Ready and Synced do not depend on it.

use super::events::publish;
use super::{Context, key, reads};
use crate::api::{SecurityProfile, ViolationsStatus, now_seconds};
use crate::aws::{Lane, in_lane};
use crate::reconcile::Identity;
use crate::reconcile::violations::{
    self, Crossing, VIOLATIONS_UNREADABLE, behavior_names, summarize, unreadable,
};
use kube::runtime::events::EventType;
use tracing::warn;

/// What the status should say about violations after this reconcile.
pub(crate) enum Next {
    /// As it is (not due, or reporting is off and there is nothing to remove).
    Keep,
    /// Reporting was turned off: remove `status.violations` and the series.
    Remove,
    Set(ViolationsStatus),
}

impl Next {
    /// The status field to write (`None`: leave it as the builder has it).
    pub(crate) fn field(&self) -> Option<Option<ViolationsStatus>> {
        match self {
            Next::Keep => None,
            Next::Remove => Some(None),
            Next::Set(v) => Some(Some(v.clone())),
        }
    }
}

fn previous(sp: &SecurityProfile) -> Option<&ViolationsStatus> {
    sp.status.as_ref()?.violations.as_ref()
}

/// Reads the profile's violations if reporting is on and they are due (or never read).
pub(crate) async fn read(ctx: &Context, sp: &SecurityProfile, id: &Identity) -> Next {
    let previous = previous(sp);
    let Some(query) = violations::query(&sp.spec, ctx.report_violations) else {
        return match previous {
            Some(_) => Next::Remove,
            None => Next::Keep,
        };
    };
    if previous.is_some() && !reads::violations_due() {
        return Next::Keep;
    }
    let listed = in_lane(
        Lane::Resync,
        ctx.iot.list_active_violations(&id.region, &id.name, query),
    )
    .await;
    reads::violations_read();
    Next::Set(match listed {
        Ok(list) => summarize(&list, &behavior_names(&sp.spec), now_seconds().as_second()),
        Err(e) => {
            warn!(profile = %id, error = %e, "cannot read the profile's active violations");
            unreadable(previous, e.to_string())
        }
    })
}

/// After the status is written: the series and the events the change deserves.
pub(crate) async fn announce(ctx: &Context, sp: &SecurityProfile, next: &Next) {
    let before = previous(sp);
    let now = match next {
        Next::Keep => return,
        Next::Remove => {
            ctx.metrics.set_violations(&key(sp), None);
            return;
        }
        Next::Set(now) => now,
    };
    if let Some(error) = &now.read_error {
        if before.and_then(|b| b.read_error.as_ref()) != Some(error) {
            publish(ctx, sp, EventType::Warning, VIOLATIONS_UNREADABLE, error).await;
        }
        return;
    }
    ctx.metrics.set_violations(&key(sp), Some(&now.by_behavior));
    match violations::crossing(before, now) {
        Some(Crossing::Active { reason, message }) => {
            publish(ctx, sp, EventType::Warning, reason, &message).await;
        }
        Some(Crossing::Cleared { reason, message }) => {
            publish(ctx, sp, EventType::Normal, reason, &message).await;
        }
        None => {}
    }
}
