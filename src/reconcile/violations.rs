//! Active violations: whether a resource reports them, what its status says about them, when
//! a read is due and when the change deserves an event. Pure: the controller reads AWS's
//! `ListActiveViolations` and carries out what these functions decide.
//!
//! Reading violations never changes `Ready` or `Synced`: a profile that works and catches
//! violations is healthy; the counts live beside the conditions in `status.violations`.

use crate::api::{SecurityProfileSpec, ViolationsStatus, rfc3339};
use k8s_openapi::jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// At most this many thing names in `status.violations.things`.
pub const MAX_THINGS: usize = 10;

/// The verification state counted when AWS gives none.
const UNKNOWN_STATE: &str = "UNKNOWN";

/// Event reasons (interfaces users filter on).
pub const VIOLATIONS_ACTIVE: &str = "ViolationsActive";
pub const VIOLATIONS_CLEARED: &str = "ViolationsCleared";
/// Reading violations failed (the AWS code is in the message); the counts are kept.
pub const VIOLATIONS_UNREADABLE: &str = "ViolationsUnreadable";

/// One active violation, as much of AWS's `ActiveViolation` as the status uses.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActiveViolation {
    pub thing_name: String,
    pub behavior_name: String,
    pub verification_state: Option<String>,
    /// Epoch seconds.
    pub last_violation_time: Option<i64>,
    pub violation_start_time: Option<i64>,
}

/// What to ask ListActiveViolations for one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViolationsQuery {
    pub list_suppressed_alerts: bool,
}

/// Whether a resource reports its violations: its `spec.violations.report` if set, else the
/// operator's `--report-violations`.
pub fn query(spec: &SecurityProfileSpec, operator_default: bool) -> Option<ViolationsQuery> {
    let v = spec.violations.as_ref();
    let report = v.and_then(|v| v.report).unwrap_or(operator_default);
    report.then(|| ViolationsQuery {
        list_suppressed_alerts: v.and_then(|v| v.list_suppressed_alerts).unwrap_or(false),
    })
}

/// The behavior names of a spec (the keys `byBehavior` always has).
pub fn behavior_names(spec: &SecurityProfileSpec) -> BTreeSet<String> {
    spec.behaviors
        .iter()
        .flatten()
        .map(|b| b.name.clone())
        .collect()
}

fn time(secs: i64) -> Option<String> {
    Timestamp::from_second(secs).ok().map(rfc3339)
}

/// The status of what a read found, at `observed_at` (epoch seconds).
pub fn summarize(
    violations: &[ActiveViolation],
    behaviors: &BTreeSet<String>,
    observed_at: i64,
) -> ViolationsStatus {
    let mut by_behavior: BTreeMap<String, i64> = behaviors.iter().map(|b| (b.clone(), 0)).collect();
    let mut states = BTreeMap::new();
    for v in violations {
        *by_behavior.entry(v.behavior_name.clone()).or_insert(0) += 1;
        let state = v.verification_state.as_deref().unwrap_or(UNKNOWN_STATE);
        *states.entry(state.to_string()).or_insert(0) += 1;
    }
    // Newest first: by last violation time, then start time, then name (a stable order).
    let newest = |v: &ActiveViolation| v.last_violation_time.or(v.violation_start_time);
    let mut ordered: Vec<&ActiveViolation> = violations.iter().collect();
    ordered.sort_by(|a, b| {
        newest(b)
            .cmp(&newest(a))
            .then_with(|| a.thing_name.cmp(&b.thing_name))
    });
    let mut things = Vec::new();
    for v in &ordered {
        if things.len() == MAX_THINGS {
            break;
        }
        if !things.contains(&v.thing_name) {
            things.push(v.thing_name.clone());
        }
    }
    ViolationsStatus {
        active: violations.len() as i64,
        by_behavior,
        verification_states: states,
        things,
        last_violation_time: ordered.first().and_then(|v| newest(v)).and_then(time),
        observed_at: time(observed_at),
        read_error: None,
    }
}

/// The status after a failed read: the last counts kept, the error shown.
pub fn unreadable(previous: Option<&ViolationsStatus>, error: String) -> ViolationsStatus {
    ViolationsStatus {
        read_error: Some(error),
        ..previous.cloned().unwrap_or_default()
    }
}

/// An event the change deserves: only when the count crosses zero (never one per read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// From none (or never read) to some: a Warning.
    Active {
        reason: &'static str,
        message: String,
    },
    /// From some to none: a Normal event.
    Cleared {
        reason: &'static str,
        message: String,
    },
}

pub fn crossing(previous: Option<&ViolationsStatus>, next: &ViolationsStatus) -> Option<Crossing> {
    let before = previous.map_or(0, |p| p.active);
    match (before, next.active) {
        (0, n) if n > 0 => {
            let behaviors: Vec<String> = next
                .by_behavior
                .iter()
                .filter(|(_, c)| **c > 0)
                .map(|(b, c)| format!("{b} ({c})"))
                .collect();
            Some(Crossing::Active {
                reason: VIOLATIONS_ACTIVE,
                message: format!(
                    "{n} active violation{} of {}; things: {}",
                    if n == 1 { "" } else { "s" },
                    behaviors.join(", "),
                    next.things.join(", ")
                ),
            })
        }
        (b, 0) if b > 0 => Some(Crossing::Cleared {
            reason: VIOLATIONS_CLEARED,
            message: format!("no active violations (there were {b})"),
        }),
        _ => None,
    }
}

/// The period at which each reporting resource's violations are read: the resync period, or
/// longer when `reporting` resources cannot all be read within it at `rate` reads per second
/// (the resync budget's share of ListActiveViolations' quota; `None`: no quota).
pub fn period(reporting: usize, resync: Duration, rate: Option<f64>) -> Duration {
    match rate.filter(|r| *r > 0.0) {
        Some(rate) => resync.max(Duration::from_secs_f64(reporting as f64 / rate)),
        None => resync,
    }
}

/// Whether a resync should read violations: never read, or read at least 85% of `period` ago
/// (resyncs are jittered, so a period equal to the resync period reads on every resync, and a
/// longer one on every k-th, never faster than the budget allows on average).
pub fn due(since_last_read: Option<Duration>, period: Duration) -> bool {
    since_last_read.is_none_or(|d| d >= period.mul_f64(0.85))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Behavior, ViolationsSpec};

    fn v(thing: &str, behavior: &str, last: i64, state: Option<&str>) -> ActiveViolation {
        ActiveViolation {
            thing_name: thing.into(),
            behavior_name: behavior.into(),
            verification_state: state.map(Into::into),
            last_violation_time: Some(last),
            violation_start_time: Some(last - 60),
        }
    }

    fn spec(report: Option<bool>, suppressed: Option<bool>) -> SecurityProfileSpec {
        SecurityProfileSpec {
            violations: Some(ViolationsSpec {
                report,
                list_suppressed_alerts: suppressed,
            }),
            behaviors: Some(vec![Behavior {
                name: "msgs".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn the_spec_decides_and_the_operator_flag_fills_in() {
        let off = SecurityProfileSpec::default();
        assert_eq!(query(&off, false), None);
        let on = query(&off, true).unwrap();
        assert!(!on.list_suppressed_alerts);
        assert_eq!(query(&spec(Some(false), None), true), None);
        let q = query(&spec(Some(true), Some(true)), false).unwrap();
        assert!(q.list_suppressed_alerts);
        assert!(query(&spec(None, None), true).is_some());
        assert_eq!(query(&spec(None, None), false), None);
    }

    #[test]
    fn the_summary_counts_by_behavior_and_state_and_lists_the_newest_things() {
        let behaviors = behavior_names(&spec(None, None));
        let mut list: Vec<ActiveViolation> = (0..12)
            .map(|i| v(&format!("t{i:02}"), "msgs", 1_000 + i, None))
            .collect();
        list.push(v("t05", "bytes", 5_000, Some("TRUE_POSITIVE")));
        let s = summarize(&list, &behaviors, 10_000);
        assert_eq!(s.active, 13);
        assert_eq!(s.by_behavior["msgs"], 12);
        assert_eq!(s.by_behavior["bytes"], 1);
        assert_eq!(s.verification_states["UNKNOWN"], 12);
        assert_eq!(s.verification_states["TRUE_POSITIVE"], 1);
        assert_eq!(s.things.len(), MAX_THINGS);
        // t05 is newest (5000) and listed once; then t11, t10, ...
        assert_eq!(&s.things[..3], ["t05", "t11", "t10"]);
        assert_eq!(
            s.last_violation_time.as_deref(),
            Some("1970-01-01T01:23:20Z")
        );
        assert_eq!(s.observed_at.as_deref(), Some("1970-01-01T02:46:40Z"));
        // No violations: every behavior at zero, nothing else.
        let none = summarize(&[], &behaviors, 10_000);
        assert_eq!(none.active, 0);
        assert_eq!(none.by_behavior, BTreeMap::from([("msgs".to_string(), 0)]));
        assert!(none.things.is_empty() && none.last_violation_time.is_none());
    }

    #[test]
    fn events_only_when_the_count_crosses_zero() {
        let b = BTreeSet::from(["msgs".to_string()]);
        let zero = summarize(&[], &b, 1);
        let one = summarize(&[v("t1", "msgs", 1, None)], &b, 2);
        let two = summarize(&[v("t1", "msgs", 1, None), v("t2", "msgs", 2, None)], &b, 3);
        assert!(matches!(
            crossing(None, &one),
            Some(Crossing::Active { .. })
        ));
        assert!(matches!(
            crossing(Some(&zero), &one),
            Some(Crossing::Active { .. })
        ));
        assert_eq!(crossing(Some(&one), &two), None);
        assert_eq!(crossing(Some(&two), &two), None);
        assert!(matches!(
            crossing(Some(&two), &zero),
            Some(Crossing::Cleared { .. })
        ));
        assert_eq!(crossing(None, &zero), None);
        assert_eq!(crossing(Some(&zero), &zero), None);
        let Some(Crossing::Active { message, .. }) = crossing(None, &two) else {
            panic!("an Active crossing");
        };
        assert_eq!(message, "2 active violations of msgs (2); things: t2, t1");
    }

    #[test]
    fn a_failed_read_keeps_the_counts() {
        let b = BTreeSet::from(["msgs".to_string()]);
        let one = summarize(&[v("t1", "msgs", 1, None)], &b, 2);
        let failed = unreadable(Some(&one), "AccessDeniedException: no".into());
        assert_eq!(failed.active, 1);
        assert_eq!(
            failed.read_error.as_deref(),
            Some("AccessDeniedException: no")
        );
        assert_eq!(crossing(Some(&one), &failed), None);
    }

    #[test]
    fn the_period_stretches_with_the_budget_and_reads_fall_due() {
        let ten_min = Duration::from_secs(600);
        // 10,000 profiles at 5 reads/s (50% of 10/s): 2,000 s.
        assert_eq!(
            period(10_000, ten_min, Some(5.0)),
            Duration::from_secs(2_000)
        );
        assert_eq!(period(1_000, ten_min, Some(5.0)), ten_min);
        assert_eq!(period(10_000, ten_min, None), ten_min);
        assert!(due(None, ten_min));
        assert!(due(Some(Duration::from_secs(540)), ten_min));
        assert!(!due(Some(Duration::from_secs(400)), ten_min));
    }
}
