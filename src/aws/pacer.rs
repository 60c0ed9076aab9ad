//! Client-side rate limiting: AWS quotas are per account, region and API operation, so the
//! operator spaces its own calls to each (region, operation) instead of letting the service
//! answer ThrottlingException and the SDK retry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Paces calls to at most the configured rate per (region, operation).
#[derive(Debug, Default)]
pub struct Pacer {
    /// Calls per second by operation name; `*` applies to every operation not named.
    rates: HashMap<String, f64>,
    /// When the next call to each (region, operation) may start.
    next: Mutex<HashMap<(String, &'static str), Instant>>,
}

impl Pacer {
    pub fn new(rates: &[(String, f64)]) -> Pacer {
        Pacer {
            rates: rates.iter().filter(|(_, r)| *r > 0.0).cloned().collect(),
            next: Mutex::new(HashMap::new()),
        }
    }

    fn rate(&self, operation: &str) -> Option<f64> {
        self.rates
            .get(operation)
            .or_else(|| self.rates.get("*"))
            .copied()
    }

    /// Takes the next free slot of this (region, operation) and returns when it starts.
    fn reserve(&self, region: &str, operation: &'static str, now: Instant) -> Option<Instant> {
        let interval = Duration::from_secs_f64(1.0 / self.rate(operation)?);
        let mut next = match self.next.lock() {
            Ok(n) => n,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = next.entry((region.to_string(), operation)).or_insert(now);
        let slot = (*entry).max(now);
        *entry = slot + interval;
        Some(slot)
    }

    /// Waits for this call's slot (immediately when the operation has no rate).
    pub async fn wait(&self, region: &str, operation: &'static str) {
        if let Some(slot) = self.reserve(region, operation, Instant::now()) {
            tokio::time::sleep_until(slot.into()).await;
        }
    }
}

/// Parses `OPERATION=N` or `*=N` (calls per second).
pub fn parse_rate(s: &str) -> Result<(String, f64), String> {
    let (op, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected OPERATION=N or *=N, got {s:?}"))?;
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate in {s:?}"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("the rate in {s:?} must be a positive number"));
    }
    Ok((op.trim().to_string(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_spaced_per_region_and_operation() {
        let p = Pacer::new(&[("*".into(), 10.0), ("AttachSecurityProfile".into(), 2.0)]);
        let t0 = Instant::now();
        let d = |a: Instant| a.duration_since(t0).as_millis();
        assert_eq!(
            d(p.reserve("us-east-1", "DescribeSecurityProfile", t0)
                .unwrap()),
            0
        );
        assert_eq!(
            d(p.reserve("us-east-1", "DescribeSecurityProfile", t0)
                .unwrap()),
            100
        );
        assert_eq!(
            d(p.reserve("us-east-1", "AttachSecurityProfile", t0).unwrap()),
            0
        );
        assert_eq!(
            d(p.reserve("us-east-1", "AttachSecurityProfile", t0).unwrap()),
            500
        );
        // Another region has its own quota.
        assert_eq!(
            d(p.reserve("eu-west-1", "DescribeSecurityProfile", t0)
                .unwrap()),
            0
        );
        // An idle operation does not bank slots: after a pause it starts now.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(
            d(p.reserve("us-east-1", "DescribeSecurityProfile", later)
                .unwrap()),
            5000
        );
    }

    #[test]
    fn no_rate_means_no_wait() {
        let p = Pacer::new(&[]);
        assert!(
            p.reserve("r", "DescribeSecurityProfile", Instant::now())
                .is_none()
        );
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("*=50").unwrap(), ("*".to_string(), 50.0));
        assert_eq!(parse_rate("AttachSecurityProfile=2.5").unwrap().1, 2.5);
        assert!(parse_rate("50").is_err());
        assert!(parse_rate("*=0").is_err());
    }
}
