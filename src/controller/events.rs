//! Kubernetes events about a resource, handed to the bounded publisher (see `publisher`).

use super::Context;
use crate::api::SecurityProfile;
use kube::Resource;
use kube::runtime::events::EventType;

pub(crate) async fn publish(
    ctx: &Context,
    sp: &SecurityProfile,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    ctx.publisher
        .publish(sp.object_ref(&()), type_, reason, note);
}
