//! Kubernetes events about a resource.

use super::Context;
use crate::api::SecurityProfile;
use kube::Resource;
use kube::runtime::events::{Event, EventType};
use tracing::warn;

pub(crate) async fn publish(
    ctx: &Context,
    sp: &SecurityProfile,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &sp.object_ref(&())).await {
        warn!(error = %e, "could not publish event");
    }
}
