//! The resync budget: how many resyncs per second fit into a share of each read quota, and
//! the resync period that follows for N resources. Pure arithmetic, so that the figures the
//! operator logs and exports can be checked by hand.
//!
//! A resync reads `DescribeSecurityProfile` every time, but `ListTargetsForSecurityProfile`
//! and `ListTagsForResource` only on every [`FULL_READ_EVERY`]th resync (and always after a
//! resync that found a difference), so its average cost is `1 + 2 / FULL_READ_EVERY` reads.

use std::time::Duration;

/// Every how many resyncs targets and tags are read too.
pub const FULL_READ_EVERY: u8 = 3;

/// The read operations of a resync and how many calls of each one resync makes on average.
pub fn reads_per_resync() -> [(&'static str, f64); 3] {
    let partial = 1.0 / f64::from(FULL_READ_EVERY);
    [
        ("DescribeSecurityProfile", 1.0),
        ("ListTargetsForSecurityProfile", partial),
        ("ListTagsForResource", partial),
    ]
}

/// A share of each read quota, in percent (0 < p <= 100).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percent(f64);

impl Percent {
    pub fn new(p: f64) -> Result<Percent, String> {
        if p.is_finite() && p > 0.0 && p <= 100.0 {
            Ok(Percent(p))
        } else {
            Err(format!(
                "the resync budget must be between 0 and 100%, got {p}"
            ))
        }
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// Parses `50%` or `50`.
pub fn parse_percent(s: &str) -> Result<Percent, String> {
    let n = s.trim().trim_end_matches('%').trim();
    let p: f64 = n
        .parse()
        .map_err(|_| format!("invalid percentage {s:?} (e.g. 50%)"))?;
    Percent::new(p)
}

/// Resyncs per second within `budget` of each read quota; `None` when no read operation has a
/// quota (nothing to stay under).
pub fn resync_rate(budget: Percent, quota: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    reads_per_resync()
        .iter()
        .filter_map(|(op, reads)| Some(budget.0 / 100.0 * quota(op)? / reads))
        .min_by(f64::total_cmp)
}

/// Violations reads per second within `budget` of ListActiveViolations' quota (a read is one
/// call for a profile with at most 250 active violations); `None` without a quota. They have
/// their own share, so reporting violations never slows the resyncs that correct drift.
pub fn violations_rate(budget: Percent, quota: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    quota("ListActiveViolations").map(|q| budget.0 / 100.0 * q)
}

/// The resync plan for `resources` resources.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// The period asked for (`--resync-period`).
    pub requested: Duration,
    /// The period kept: the requested one, or longer when the budget cannot read every
    /// resource that often.
    pub effective: Duration,
    /// Least time between two resyncs (the budget's pace); zero without a quota.
    pub spacing: Duration,
}

/// Least time between two resyncs that read targets and tags too: the budget of the tighter
/// of the two list quotas; zero without a quota.
pub fn full_read_spacing(budget: Percent, quota: impl Fn(&str) -> Option<f64>) -> Duration {
    ["ListTargetsForSecurityProfile", "ListTagsForResource"]
        .iter()
        .filter_map(|op| quota(op))
        .filter(|q| *q > 0.0)
        .map(|q| Duration::from_secs_f64(1.0 / (budget.0 / 100.0 * q)))
        .max()
        .unwrap_or(Duration::ZERO)
}

impl Schedule {
    pub fn new(resources: usize, requested: Duration, rate: Option<f64>) -> Schedule {
        let Some(rate) = rate.filter(|r| *r > 0.0) else {
            return Schedule {
                requested,
                effective: requested,
                spacing: Duration::ZERO,
            };
        };
        let needed = Duration::from_secs_f64(resources as f64 / rate);
        Schedule {
            requested,
            effective: requested.max(needed),
            spacing: Duration::from_secs_f64(1.0 / rate),
        }
    }

    /// Whether the budget forces a longer period than requested.
    pub fn stretched(&self) -> bool {
        self.effective > self.requested
    }
}

/// Whether the number of resources moved far enough from the last logged one (by a quarter)
/// to log the schedule again.
pub fn changed_a_lot(logged: usize, now: usize) -> bool {
    let (lo, hi) = (logged.min(now), logged.max(now));
    hi - lo > lo / 4 && hi - lo >= 10
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented Device Defender quotas.
    fn aws(op: &str) -> Option<f64> {
        Some(if op == "DescribeSecurityProfile" {
            25.0
        } else {
            10.0
        })
    }

    #[test]
    fn rate_is_the_tightest_read_quota_share() {
        // Describe: 12.5/s for 1 read; ListTargets and ListTags: 5/s for 1/3 read = 15/s.
        let r = resync_rate(Percent::new(50.0).unwrap(), aws).unwrap();
        assert!((r - 12.5).abs() < 1e-9, "{r}");
        // With a uniform 10/s: Describe allows 5/s, the lists 15/s.
        let r = resync_rate(Percent::new(50.0).unwrap(), |_| Some(10.0)).unwrap();
        assert!((r - 5.0).abs() < 1e-9, "{r}");
        // Only the list quota set: 100% of 2/s for 1/3 read each = 6 resyncs/s.
        let only_lists = |op: &str| (op == "ListTargetsForSecurityProfile").then_some(2.0);
        let r = resync_rate(Percent::new(100.0).unwrap(), only_lists).unwrap();
        assert!((r - 6.0).abs() < 1e-9, "{r}");
        assert_eq!(resync_rate(Percent::new(50.0).unwrap(), |_| None), None);
    }

    #[test]
    fn period_stretches_when_the_budget_cannot_keep_it() {
        let ten_min = Duration::from_secs(600);
        // 10,000 resources at 12.5 resyncs/s need 800 s.
        let s = Schedule::new(10_000, ten_min, Some(12.5));
        assert_eq!(s.effective, Duration::from_secs(800));
        assert_eq!(s.spacing, Duration::from_millis(80));
        assert!(s.stretched());
        // 1,000 fit in 80 s: the requested period is kept.
        let s = Schedule::new(1_000, ten_min, Some(12.5));
        assert_eq!(s.effective, ten_min);
        assert!(!s.stretched());
        // No quota: nothing to stretch, no spacing.
        let s = Schedule::new(10_000, ten_min, None);
        assert_eq!((s.effective, s.spacing), (ten_min, Duration::ZERO));
    }

    #[test]
    fn full_reads_are_paced_by_the_tighter_list_quota() {
        let half = Percent::new(50.0).unwrap();
        // 50% of 10/s: one full read every 200 ms.
        assert_eq!(full_read_spacing(half, aws), Duration::from_millis(200));
        let tags_slower = |op: &str| {
            Some(if op == "ListTagsForResource" {
                2.0
            } else {
                10.0
            })
        };
        assert_eq!(full_read_spacing(half, tags_slower), Duration::from_secs(1));
        assert_eq!(full_read_spacing(half, |_| None), Duration::ZERO);
    }

    #[test]
    fn violations_have_their_own_share() {
        let half = Percent::new(50.0).unwrap();
        assert_eq!(violations_rate(half, aws), Some(5.0));
        assert_eq!(violations_rate(half, |_| None), None);
    }

    #[test]
    fn average_reads_per_resync() {
        let total: f64 = reads_per_resync().iter().map(|(_, n)| n).sum();
        assert!((total - (1.0 + 2.0 / 3.0)).abs() < 1e-9, "{total}");
    }

    #[test]
    fn percentages_parse() {
        assert_eq!(parse_percent("50%").unwrap().get(), 50.0);
        assert_eq!(parse_percent("12.5").unwrap().get(), 12.5);
        assert!(parse_percent("0").is_err());
        assert!(parse_percent("150%").is_err());
        assert!(parse_percent("half").is_err());
    }

    #[test]
    fn large_changes_in_resource_count_are_logged() {
        assert!(!changed_a_lot(1000, 1100));
        assert!(changed_a_lot(1000, 1300));
        assert!(changed_a_lot(1000, 700));
        assert!(!changed_a_lot(0, 5));
        assert!(changed_a_lot(0, 50));
    }
}
