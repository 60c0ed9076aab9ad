//! Turns a plan's steps into AWS calls and events.

use super::Context;
use super::error::Error;
use super::events::publish;
use super::status::record_identity;
use crate::api::SecurityProfile;
use crate::reconcile::{Identity, Observed, Step, simulate};
use kube::api::Api;
use kube::runtime::events::EventType;
use tracing::info;

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
/// announced by an event, also when a later step fails. With `record_first`, the identity is
/// recorded on the resource before the first write, and the ARN right after a create: from
/// then on, every reconcile and the deletion use that profile, whatever the spec says later.
pub(crate) async fn execute(
    ctx: &Context,
    sp: &SecurityProfile,
    api: &Api<SecurityProfile>,
    id: &Identity,
    observed: Option<&Observed>,
    steps: &[Step],
    record_first: bool,
) -> Result<Observed, Error> {
    if record_first && !steps.is_empty() {
        record_identity(api, sp, id, observed.map(|o| o.arn.as_str())).await?;
    }
    let mut changes = Changes::default();
    let result = run_steps(ctx, sp, api, id, observed, steps, &mut changes).await;
    changes.publish(ctx, sp).await;
    result
}

async fn run_steps(
    ctx: &Context,
    sp: &SecurityProfile,
    api: &Api<SecurityProfile>,
    id: &Identity,
    observed: Option<&Observed>,
    steps: &[Step],
    changes: &mut Changes,
) -> Result<Observed, Error> {
    let (region, name) = (id.region.as_str(), id.name.as_str());
    let mut state = observed.cloned();
    for (i, step) in steps.iter().enumerate() {
        let arn = state.as_ref().map(|o| o.arn.clone()).unwrap_or_default();
        match step {
            Step::Create { attributes, tags } => {
                let arn = ctx.iot.create(region, name, attributes, tags).await?;
                info!(%arn, "created security profile");
                let note = format!("created security profile {name} ({arn})");
                publish(ctx, sp, EventType::Normal, "Created", &note).await;
                if i + 1 < steps.len() {
                    record_identity(api, sp, id, Some(&arn)).await?;
                }
                state = simulate(None, std::slice::from_ref(step), &arn);
                let described = ctx.iot.describe(region, name).await?;
                if let (Some(s), Some(d)) = (state.as_mut(), described) {
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
                update_step(ctx, sp, id, *expected_version, update, state.as_mut()).await?;
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
    Ok(state.unwrap_or_else(nothing))
}

/// `UpdateSecurityProfile`, announced with the fields it changed; `state` takes AWS's answer.
async fn update_step(
    ctx: &Context,
    sp: &SecurityProfile,
    id: &Identity,
    expected_version: i64,
    update: &crate::reconcile::AttributeUpdate,
    state: Option<&mut Observed>,
) -> Result<(), Error> {
    let d = ctx
        .iot
        .update(&id.region, &id.name, expected_version, update)
        .await?;
    let fields = state
        .as_ref()
        .map(|o| o.attributes.differing_fields(&d.attributes))
        .unwrap_or_default();
    let note = format!("updated {} (version {})", fields.join(", "), d.version);
    publish(ctx, sp, EventType::Normal, "Updated", &note).await;
    if let Some(s) = state {
        s.version = d.version;
        s.attributes = d.attributes;
        s.creation_date = d.creation_date.or(s.creation_date.take());
        s.last_modified_date = d.last_modified_date;
    }
    Ok(())
}

/// No profile (what a deletion leaves).
fn nothing() -> Observed {
    Observed {
        arn: String::new(),
        version: 0,
        attributes: Default::default(),
        targets: Default::default(),
        tags: Default::default(),
        creation_date: None,
        last_modified_date: None,
    }
}
