//! The controller's flags (each also an environment variable), shared by `run` and `sandbox`.

pub mod guard;

use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// Flags of the controller: the watch, and one group per layer (AWS, leader election, serving).
#[derive(Args, Clone, Debug)]
pub struct ControllerArgs {
    /// Kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config, then the in-cluster config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Namespaces to watch, comma-separated (default: all).
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    pub watch_namespaces: Vec<String>,

    /// How often AWS is read again to correct drift (jittered by ±10%).
    #[arg(long, env = "RESYNC_PERIOD", default_value = "10m", value_parser = parse_duration)]
    pub resync_period: Duration,

    /// Share of each AWS read quota (DescribeSecurityProfile, ListTargetsForSecurityProfile,
    /// ListTagsForResource, and ListActiveViolations when violations are reported) that
    /// periodic resyncs may use, in percent; the rest is kept for
    /// user changes. When the resources cannot all be resynced within --resync-period at
    /// this share, the period is stretched (logged, and exported as a metric).
    #[arg(long, env = "RESYNC_BUDGET", default_value = "50%", value_parser = crate::controller::parse_percent)]
    pub resync_budget: crate::controller::Percent,

    /// Report the active violations of every SecurityProfile in its status, metrics and
    /// events (ListActiveViolations at the resync pace, within --resync-budget of its quota);
    /// a resource's spec.violations.report overrides it either way. Needs
    /// iot:ListActiveViolations (`iam-policy --report-violations`).
    #[arg(
        long,
        env = "REPORT_VIOLATIONS",
        default_value_t = false,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub report_violations: bool,

    /// Reconciles running at once.
    #[arg(long, env = "CONCURRENCY", default_value_t = 8)]
    pub concurrency: u16,

    /// Value of the iot.awscc.io/cluster ownership tag (default: the kube-system namespace UID).
    #[arg(long, env = "CLUSTER_ID")]
    pub cluster_id: Option<String>,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(flatten)]
    pub leader: LeaderArgs,

    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub guard: guard::GuardArgs,
}

/// How the operator reaches AWS (also used by the read-only commands).
#[derive(Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// Region for resources that set none (after the namespace annotation iot.awscc.io/default-region).
    #[arg(long, env = "DEFAULT_REGION")]
    pub default_region: Option<String>,

    /// AWS endpoint override (e.g. the IoT emulator).
    #[arg(long = "aws-endpoint-url", env = "AWS_ENDPOINT_URL_IOT")]
    pub endpoint_url: Option<String>,

    /// Attempts per AWS call (SDK retries with exponential backoff and jitter).
    #[arg(
        long = "aws-max-attempts",
        env = "AWS_MAX_ATTEMPTS",
        default_value_t = 3
    )]
    pub max_attempts: u32,

    /// Timeout of one AWS call attempt.
    #[arg(long = "aws-attempt-timeout", env = "AWS_ATTEMPT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub attempt_timeout: Duration,

    /// Client-side rate limit per AWS account, region and operation, as OPERATION=N or *=N
    /// calls per second (repeatable or comma-separated; `*` covers every operation not named).
    /// Default: AWS's documented Device Defender quotas (10/s for every operation the operator
    /// calls, 25/s for DescribeSecurityProfile), so that it paces itself instead of being
    /// throttled.
    #[arg(long = "aws-tps", env = "AWS_TPS", value_delimiter = ',', value_parser = crate::aws::parse_rate)]
    pub tps: Vec<(String, f64)>,
}

/// Leader election: one writer at a time.
#[derive(Args, Clone, Debug)]
pub struct LeaderArgs {
    /// Elect a leader on a coordination.k8s.io Lease before reconciling.
    #[arg(long = "leader-elect", env = "LEADER_ELECT", default_value_t = false)]
    pub enabled: bool,

    /// Namespace of the leader-election Lease (default: the pod's namespace, else default).
    #[arg(long = "leader-election-namespace", env = "LEADER_ELECTION_NAMESPACE")]
    pub namespace: Option<String>,

    /// Lease duration for leader election: how long another replica waits before taking over.
    #[arg(long = "lease-duration", env = "LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// A leader that has not renewed its Lease for this long stops every AWS write; shorter than
    /// the lease duration, so a leader is fenced before another can take over (default: two
    /// thirds of the lease duration).
    #[arg(long = "renew-deadline", env = "RENEW_DEADLINE", value_parser = parse_duration)]
    pub renew_deadline: Option<Duration>,
}

impl LeaderArgs {
    /// The renew deadline in force.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
            .unwrap_or_else(|| self.lease_duration.mul_f64(2.0 / 3.0))
    }
}

/// Probes, metrics and logs.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address of /metrics.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:8080")]
    pub metrics_addr: SocketAddr,

    /// Address of /healthz and /readyz.
    #[arg(long, env = "HEALTH_ADDR", default_value = "127.0.0.1:8081")]
    pub health_addr: SocketAddr,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The longest duration a flag accepts: the Lease's `leaseDurationSeconds` is an int32, and the
/// resync jitter multiplies the period by up to 1.1, so anything longer would overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(i32::MAX as u64);

/// The units a duration may use (humantime knows more, e.g. weeks and years, which no flag needs).
const UNITS: [&str; 5] = ["ms", "s", "m", "h", "d"];

/// Parses a duration: `1h30m`, `90s`, `10m`, `250ms`, `1d` (units may be combined), a
/// decimal with one unit (`1.5m`) or a plain number of seconds (`2`, `0.5`). Values longer than
/// [`MAX_DURATION`] are rejected rather than wrapped or saturated.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let unknown_unit = s
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|unit| !unit.is_empty() && !UNITS.contains(unit));
    let parsed = if let Some(unit) = unknown_unit {
        Err(format!("unknown unit {unit:?}"))
    } else if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        decimal(s, 1.0)
    } else {
        humantime::parse_duration(s)
            .map_err(|e| e.to_string())
            .or_else(|humantime_error| {
                let split = s
                    .find(|c: char| !c.is_ascii_digit() && c != '.')
                    .unwrap_or(s.len());
                let scale = match &s[split..] {
                    "s" => 1.0,
                    "ms" => 0.001,
                    "m" => 60.0,
                    "h" => 3600.0,
                    _ => return Err(humantime_error),
                };
                decimal(&s[..split], scale)
            })
    };
    match parsed {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        Ok(_) => Err(format!(
            "duration {s:?} is too long (at most {}s, about 68 years)",
            MAX_DURATION.as_secs()
        )),
        Err(e) => Err(format!(
            "invalid duration {s:?}: {e} (use e.g. 1h30m, 90s, 250ms or a number of seconds; units ms, s, m, h, d)"
        )),
    }
}

/// `num` (a non-negative decimal) times `scale` seconds.
fn decimal(num: &str, scale: f64) -> Result<Duration, String> {
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{num:?} is not a number"))?;
    Duration::try_from_secs_f64(n * scale).map_err(|_| "the value is out of range".to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn durations_combine_units_like_humantime() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("2m 5s").unwrap(), Duration::from_secs(125));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration(" 15s ").unwrap(), Duration::from_secs(15));
    }

    #[test]
    fn durations_that_would_overflow_are_rejected() {
        for s in [
            "99999999999999999999999",
            "99999999999999999999h",
            "1e400",
            "100000000000000000000000000000000000000000.5h",
            "25000d",
            "5 weeks",
        ] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains(s.trim()), "{s}: {e}");
        }
        assert!(
            parse_duration("25000d").unwrap_err().contains("too long"),
            "25,000 days (68.4 years) is past the int32 seconds of a Lease"
        );
        assert!(parse_duration("24855d").is_ok());
        assert_eq!(
            parse_duration(&super::MAX_DURATION.as_secs().to_string()).unwrap(),
            super::MAX_DURATION
        );
        for s in ["", "-5s", "inf", "NaN", "1..5s", "10 parsecs"] {
            assert!(parse_duration(s).is_err(), "{s:?} is not a duration");
        }
    }
}
