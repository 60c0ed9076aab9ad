//! AWS calls of one phase (from the emulator's counters) and the quota floor they imply.

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The emulator's counters: operation -> outcome -> calls.
pub type Counters = BTreeMap<String, BTreeMap<String, u64>>;

/// Operations that change AWS.
pub const WRITES: [&str; 7] = [
    "CreateSecurityProfile",
    "UpdateSecurityProfile",
    "DeleteSecurityProfile",
    "AttachSecurityProfile",
    "DetachSecurityProfile",
    "TagResource",
    "UntagResource",
];

/// Calls of one operation in a phase.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpCalls {
    /// Answered `ok`.
    pub ok: u64,
    /// Rejected by the quota (ThrottlingException).
    pub throttled: u64,
    /// Any other error (NotFound, conflicts, ...): these passed the quota and used a token.
    pub other_errors: u64,
}

impl OpCalls {
    /// Calls that passed the token bucket, i.e. used quota.
    pub fn admitted(&self) -> u64 {
        self.ok + self.other_errors
    }
}

/// The calls of one phase, by operation.
#[derive(Clone, Debug, Default)]
pub struct PhaseCalls(pub BTreeMap<String, OpCalls>);

impl PhaseCalls {
    /// `after - before`.
    pub fn between(before: &Counters, after: &Counters) -> PhaseCalls {
        let mut out = BTreeMap::new();
        for (op, outcomes) in after {
            let mut c = OpCalls::default();
            for (outcome, n) in outcomes {
                let was = before
                    .get(op)
                    .and_then(|o| o.get(outcome))
                    .copied()
                    .unwrap_or(0);
                let d = n.saturating_sub(was);
                match outcome.as_str() {
                    "ok" => c.ok += d,
                    "ThrottlingException" => c.throttled += d,
                    _ => c.other_errors += d,
                }
            }
            if c.ok + c.throttled + c.other_errors > 0 {
                out.insert(op.clone(), c);
            }
        }
        PhaseCalls(out)
    }

    pub fn admitted(&self) -> u64 {
        self.0.values().map(OpCalls::admitted).sum()
    }

    pub fn throttled(&self) -> u64 {
        self.0.values().map(|c| c.throttled).sum()
    }

    /// Successful AWS mutations.
    pub fn writes(&self) -> u64 {
        self.0
            .iter()
            .filter(|(op, _)| WRITES.contains(&op.as_str()))
            .map(|(_, c)| c.ok)
            .sum()
    }

    /// Admitted read calls.
    pub fn reads(&self) -> u64 {
        self.0
            .iter()
            .filter(|(op, _)| !WRITES.contains(&op.as_str()))
            .map(|(_, c)| c.admitted())
            .sum()
    }

    /// The quota floor in seconds: the largest, over operations, of admitted calls / that
    /// operation's quota. No client can do this phase's calls faster with one token bucket
    /// per operation (apart from the bucket's initial burst).
    pub fn floor(&self, quota: impl Fn(&str) -> f64) -> (f64, String) {
        self.0
            .iter()
            .map(|(op, c)| (c.admitted() as f64 / quota(op), op.clone()))
            .fold(
                (0.0, String::new()),
                |best, x| if x.0 > best.0 { x } else { best },
            )
    }

    pub fn to_json(&self, resources: usize) -> Value {
        let per = |n: u64| round(n as f64 / resources.max(1) as f64, 3);
        let ops: BTreeMap<&String, Value> = self
            .0
            .iter()
            .map(|(op, c)| {
                (
                    op,
                    json!({
                        "ok": c.ok,
                        "throttled": c.throttled,
                        "otherErrors": c.other_errors,
                        "admittedPerResource": per(c.admitted()),
                    }),
                )
            })
            .collect();
        json!(ops)
    }
}

pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
