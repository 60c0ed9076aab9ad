//! Cheaper resyncs: a resync reads targets and tags only on every
//! [`FULL_READ_EVERY`](super::budget::FULL_READ_EVERY)th time, and only while the last full
//! read found AWS as the spec wants it. Work caused by a user always reads everything.
//!
//! In between, `DescribeSecurityProfile` still reads the version and every attribute (so
//! changes to them are corrected at every resync), and the targets and tags are taken to be
//! those of the spec: the last full read found them so, and the spec has not changed since
//! (a spec change is user work). When the attributes differ, targets and tags are read too.

use super::Context;
use super::budget::FULL_READ_EVERY;
use crate::aws::IotError;
use crate::reconcile::{Desired, Drift, Observed, Ownership};
use std::cell::Cell;
use std::future::Future;

/// How a reconcile read AWS, and whether AWS then matched the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Describe only.
    Partial { matched: bool },
    /// Describe, targets and tags.
    Full { matched: bool },
}

/// Per resource: full reads skipped since the last one, and what the last full read found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadHistory {
    skipped: u8,
    matched: bool,
}

impl ReadHistory {
    /// Whether the next resync may skip targets and tags.
    pub fn may_skip(&self) -> bool {
        self.matched && self.skipped + 1 < FULL_READ_EVERY
    }

    /// Records how a reconcile read AWS. A full read that found differences which the
    /// reconcile then corrected (`corrected`) leaves AWS as the spec wants it too; such
    /// resources (new ones among them) start their cycle at `stagger` (0 up to
    /// `FULL_READ_EVERY - 1`), so that resources created together do not all read everything
    /// on the same resync.
    pub fn record(&mut self, outcome: ReadOutcome, corrected: bool, stagger: u8) {
        *self = match outcome {
            ReadOutcome::Partial { matched: true } => ReadHistory {
                skipped: self.skipped.saturating_add(1),
                matched: true,
            },
            ReadOutcome::Partial { matched: false } => ReadHistory::default(),
            ReadOutcome::Full { matched: true } => ReadHistory {
                skipped: 0,
                matched: true,
            },
            ReadOutcome::Full { matched: false } if corrected => ReadHistory {
                skipped: stagger % FULL_READ_EVERY,
                matched: true,
            },
            ReadOutcome::Full { matched: false } => ReadHistory::default(),
        };
    }
}

/// What the runner allows the current reconcile to skip, and what it did.
pub struct ReadPlan {
    may_skip: bool,
    /// Whether the resource's violations are due (see `reconcile::violations::due`).
    violations_due: bool,
    outcome: Cell<Option<ReadOutcome>>,
    violations_read: Cell<bool>,
}

impl ReadPlan {
    pub fn new(may_skip: bool, violations_due: bool) -> ReadPlan {
        ReadPlan {
            may_skip,
            violations_due,
            outcome: Cell::new(None),
            violations_read: Cell::new(false),
        }
    }
}

/// What a reconcile did with the runner's read plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadsDone {
    /// How it read the profile (if it did).
    pub profile: Option<ReadOutcome>,
    /// Whether it read the violations.
    pub violations: bool,
}

tokio::task_local! {
    static PLAN: ReadPlan;
}

/// Runs a reconcile under `plan`; returns its output and how it read AWS.
pub async fn with_reads<F: Future>(plan: ReadPlan, f: F) -> (F::Output, ReadsDone) {
    PLAN.scope(plan, async move {
        let out = f.await;
        let done = PLAN.with(|p| ReadsDone {
            profile: p.outcome.get(),
            violations: p.violations_read.get(),
        });
        (out, done)
    })
    .await
}

/// Whether the runner has the violations of the current reconcile's resource read now (true
/// outside a runner's plan).
pub fn violations_due() -> bool {
    PLAN.try_with(|p| p.violations_due).unwrap_or(true)
}

/// Records that the current reconcile read the violations.
pub fn violations_read() {
    let _ = PLAN.try_with(|p| p.violations_read.set(true));
}

/// Whether AWS is as the spec wants it: our profile, no drift in any field, target or tag.
fn matches(desired: &Desired, observed: Option<&Observed>) -> bool {
    observed.is_some_and(|o| {
        Ownership::of(&o.tags, &desired.owner) == Ownership::Ours
            && Drift::between(desired, Some(o)).is_empty()
    })
}

/// Reads the profile for a reconcile: everything, or (on a resync the runner allows it)
/// everything but targets and tags.
pub async fn observe(
    ctx: &Context,
    region: &str,
    name: &str,
    desired: &Desired,
) -> Result<Option<Observed>, IotError> {
    let may_skip = PLAN.try_with(|p| p.may_skip).unwrap_or(false);
    let observed = if may_skip {
        let Some(d) = ctx.iot.describe(region, name).await? else {
            record(ReadOutcome::Full { matched: false });
            return Ok(None);
        };
        let mut o = Observed {
            arn: d.arn,
            version: d.version,
            attributes: d.attributes,
            targets: desired.targets.clone(),
            tags: desired.all_tags(),
            creation_date: d.creation_date,
            last_modified_date: d.last_modified_date,
        };
        if matches(desired, Some(&o)) {
            record(ReadOutcome::Partial { matched: true });
            return Ok(Some(o));
        }
        // Something changed: read what was skipped too, so that the whole drift is seen (and
        // announced) at once.
        o.targets = ctx.iot.list_targets(region, name).await?;
        o.tags = ctx.iot.list_tags(region, &o.arn).await?;
        Some(o)
    } else {
        ctx.iot.observe(region, name).await?
    };
    let matched = matches(desired, observed.as_ref());
    record(ReadOutcome::Full { matched });
    Ok(observed)
}

fn record(outcome: ReadOutcome) {
    let _ = PLAN.try_with(|p| p.outcome.set(Some(outcome)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_tags_every_third_resync_while_in_sync() {
        let mut h = ReadHistory::default();
        // Nothing known yet: a full read.
        assert!(!h.may_skip());
        let mut pattern = String::new();
        for _ in 0..7 {
            let skip = h.may_skip();
            pattern.push(if skip { 'p' } else { 'F' });
            let outcome = if skip {
                ReadOutcome::Partial { matched: true }
            } else {
                ReadOutcome::Full { matched: true }
            };
            h.record(outcome, true, 0);
        }
        assert_eq!(pattern, "FppFppF");
    }

    #[test]
    fn a_difference_means_a_full_read_next_unless_corrected() {
        let mut h = ReadHistory::default();
        h.record(ReadOutcome::Full { matched: true }, true, 0);
        assert!(h.may_skip());
        h.record(ReadOutcome::Partial { matched: false }, true, 0);
        assert!(!h.may_skip());
        h.record(ReadOutcome::Full { matched: false }, false, 0);
        assert!(!h.may_skip());
        h.record(ReadOutcome::Full { matched: true }, true, 0);
        assert!(h.may_skip());
        // Created or corrected: in sync, at a staggered point of the cycle.
        let mut fresh = ReadHistory::default();
        fresh.record(ReadOutcome::Full { matched: false }, true, 2);
        assert!(!fresh.may_skip());
        let mut fresh = ReadHistory::default();
        fresh.record(ReadOutcome::Full { matched: false }, true, 1);
        assert!(fresh.may_skip());
    }
}
