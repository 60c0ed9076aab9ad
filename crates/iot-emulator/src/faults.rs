//! Run-time controls the admin API sets: injected faults, per-operation token buckets, the IAM
//! policies, and the per-operation call counters.

use crate::iam::{Decision as IamDecision, Policy, Request};
use crate::model::Op;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// The error an injected fault answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultError {
    ThrottlingException,
    InternalFailureException,
    /// Hold the request without ever answering it (until the emulator stops).
    Timeout,
}

/// A fault rule, as `POST /_emulator/faults` takes it. Exactly one of `error` and `delayMs`;
/// `count` fires that many times, `probability` fires at random; with neither it always fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// An operation name, or `*` for all.
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FaultError>,
    /// Delay the request this long, then serve it normally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

impl Fault {
    /// An error fault on `operation` that fires `count` times.
    pub fn error(operation: &str, error: FaultError, count: u64) -> Fault {
        Fault {
            operation: operation.to_string(),
            error: Some(error),
            delay_ms: None,
            count: Some(count),
            probability: None,
        }
    }

    /// A latency fault on `operation` that fires `count` times.
    pub fn delay(operation: &str, delay_ms: u64, count: u64) -> Fault {
        Fault {
            operation: operation.to_string(),
            error: None,
            delay_ms: Some(delay_ms),
            count: Some(count),
            probability: None,
        }
    }

    /// Checks the rule is well formed; the message says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if self.operation != "*" && Op::from_name(&self.operation).is_none() {
            return Err(format!("unknown operation '{}'", self.operation));
        }
        if self.error.is_some() == self.delay_ms.is_some() {
            return Err("a fault needs exactly one of 'error' and 'delayMs'".into());
        }
        if self.count.is_some() && self.probability.is_some() {
            return Err("a fault takes 'count' or 'probability', not both".into());
        }
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err("'probability' must be between 0 and 1".into());
        }
        Ok(())
    }
}

/// What the fault rules decided for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Serve,
    Fail(FaultError),
    Delay(u64),
}

/// A token bucket holding at most `max(tps, 1)` tokens (none when tps is 0).
#[derive(Debug, Clone)]
struct Bucket {
    tps: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(tps: f64) -> Bucket {
        Bucket {
            tps,
            tokens: Self::capacity(tps),
            last: Instant::now(),
        }
    }
    fn capacity(tps: f64) -> f64 {
        if tps <= 0.0 { 0.0 } else { tps.max(1.0) }
    }
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.tps).min(Self::capacity(self.tps));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Per-operation and per-outcome call counts, as `GET /_emulator/calls` returns them.
pub type Calls = BTreeMap<String, BTreeMap<String, u64>>;

/// The mutable controls, behind their own mutex (separate from the store's).
#[derive(Debug)]
pub struct Control {
    faults: Vec<Fault>,
    quotas: HashMap<Op, Bucket>,
    default_tps: Option<f64>,
    default_buckets: HashMap<Op, Bucket>,
    /// The policy of every account without its own; None allows everything.
    default_policy: Option<Policy>,
    account_policies: HashMap<String, Policy>,
    calls: Calls,
}

impl Control {
    pub fn new(default_tps: Option<f64>, tps: &HashMap<Op, f64>) -> Control {
        Control {
            faults: Vec::new(),
            quotas: tps.iter().map(|(op, t)| (*op, Bucket::new(*t))).collect(),
            default_tps,
            default_buckets: HashMap::new(),
            default_policy: None,
            account_policies: HashMap::new(),
            calls: Calls::new(),
        }
    }

    /// Admin reset: faults, IAM policies and counters go back to their start values; quotas
    /// from the command line stay, refilled.
    pub fn reset(&mut self) {
        self.faults.clear();
        self.default_policy = None;
        self.account_policies.clear();
        self.calls.clear();
        for b in self.quotas.values_mut() {
            *b = Bucket::new(b.tps);
        }
        self.default_buckets.clear();
    }

    pub fn add_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.faults.clone()
    }

    /// Sets (Some) or removes (None) an operation's quota; `*` sets the default quota.
    pub fn set_quota(&mut self, op: Option<Op>, tps: Option<f64>) {
        match op {
            Some(op) => match tps {
                Some(t) => {
                    self.quotas.insert(op, Bucket::new(t));
                }
                None => {
                    self.quotas.remove(&op);
                }
            },
            None => {
                self.default_tps = tps;
                self.default_buckets.clear();
            }
        }
    }

    /// Takes a token for `op`; false means ThrottlingException.
    pub fn admit(&mut self, op: Op) -> bool {
        if let Some(b) = self.quotas.get_mut(&op) {
            return b.take();
        }
        match self.default_tps {
            Some(t) => self
                .default_buckets
                .entry(op)
                .or_insert_with(|| Bucket::new(t))
                .take(),
            None => true,
        }
    }

    /// Runs the fault rules in order; the first that fires decides.
    pub fn decide(&mut self, op: Op) -> Decision {
        let mut decision = Decision::Serve;
        let mut spent = None;
        for (i, f) in self.faults.iter_mut().enumerate() {
            if f.operation != "*" && f.operation != op.name() {
                continue;
            }
            let fires = match (f.count, f.probability) {
                (Some(0), _) => false,
                (Some(n), _) => {
                    f.count = Some(n - 1);
                    if n == 1 {
                        spent = Some(i);
                    }
                    true
                }
                (None, Some(p)) => rand::random::<f64>() < p,
                (None, None) => true,
            };
            if fires {
                decision = match (f.error, f.delay_ms) {
                    (Some(e), _) => Decision::Fail(e),
                    (None, Some(ms)) => Decision::Delay(ms),
                    (None, None) => Decision::Serve,
                };
                break;
            }
        }
        if let Some(i) = spent {
            self.faults.remove(i);
        }
        decision
    }

    /// Sets the policy of `account`, or (None) of every account without its own.
    pub fn set_policy(&mut self, account: Option<&str>, policy: Policy) {
        match account {
            Some(a) => {
                self.account_policies.insert(a.to_string(), policy);
            }
            None => self.default_policy = Some(policy),
        }
    }

    /// The policy that applies to `account` (None: everything is allowed).
    pub fn policy(&self, account: &str) -> Option<&Policy> {
        self.account_policies
            .get(account)
            .or(self.default_policy.as_ref())
    }

    /// Evaluates one request of a caller in `account`.
    pub fn evaluate(&self, account: &str, req: &Request) -> IamDecision {
        self.policy(account)
            .map_or(IamDecision::Allow, |p| p.evaluate(req))
    }

    pub fn count(&mut self, op: Op, outcome: &str) {
        let per_op = match self.calls.get_mut(op.name()) {
            Some(m) => m,
            None => self.calls.entry(op.name().to_string()).or_default(),
        };
        match per_op.get_mut(outcome) {
            Some(n) => *n += 1,
            None => {
                per_op.insert(outcome.to_string(), 1);
            }
        }
    }

    pub fn calls(&self) -> Calls {
        self.calls.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_fault_fires_then_disappears() {
        let mut c = Control::new(None, &HashMap::new());
        c.add_fault(Fault::error(
            "DescribeSecurityProfile",
            FaultError::ThrottlingException,
            2,
        ));
        assert_eq!(c.decide(Op::ListSecurityProfiles), Decision::Serve);
        assert_eq!(
            c.decide(Op::DescribeSecurityProfile),
            Decision::Fail(FaultError::ThrottlingException)
        );
        assert_eq!(
            c.decide(Op::DescribeSecurityProfile),
            Decision::Fail(FaultError::ThrottlingException)
        );
        assert_eq!(c.decide(Op::DescribeSecurityProfile), Decision::Serve);
        assert!(c.faults().is_empty());
    }

    #[test]
    fn zero_tps_bucket_always_throttles_and_iam_globs() {
        let mut c = Control::new(Some(0.0), &HashMap::new());
        assert!(!c.admit(Op::TagResource));
        c.set_policy(None, Policy::allow_actions(vec!["iot:Describe*".into()]));
        let eval = |c: &Control, account: &str, action: &str| {
            c.evaluate(account, &Request::new(action, "*")) == IamDecision::Allow
        };
        assert!(eval(&c, "1", "iot:describesecurityprofile"));
        assert!(!eval(&c, "1", "iot:CreateSecurityProfile"));
        c.set_policy(Some("2"), Policy::allow_actions(vec!["iot:*".into()]));
        assert!(eval(&c, "2", "iot:CreateSecurityProfile"));
        assert!(!eval(&c, "1", "iot:CreateSecurityProfile"));
    }
}
