//! The AWS flags `export` and `plan` share with `run`, and the read quotas they pace at.

use crate::aws::{AwsOptions, parse_rate};
use crate::config::parse_duration;
use clap::Args;
use std::time::Duration;

/// AWS's documented default quotas (calls per second, per account and region) of the read
/// operations `export` and `plan` make.
pub const READ_QUOTAS: [(&str, f64); 4] = [
    ("ListSecurityProfiles", 10.0),
    ("DescribeSecurityProfile", 25.0),
    ("ListTargetsForSecurityProfile", 10.0),
    ("ListTagsForResource", 10.0),
];

/// How to reach AWS, and how fast.
#[derive(Args, Clone, Debug)]
pub struct AwsFlags {
    /// AWS endpoint override (e.g. the IoT emulator).
    #[arg(long, env = "AWS_ENDPOINT_URL_IOT")]
    pub aws_endpoint_url: Option<String>,

    /// Attempts per AWS call (SDK retries with exponential backoff and jitter).
    #[arg(long, default_value_t = 3)]
    pub aws_max_attempts: u32,

    /// Timeout of one AWS call attempt.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub aws_attempt_timeout: Duration,

    /// Client-side rate limit per AWS operation, as OPERATION=N or *=N calls per second
    /// (repeatable or comma-separated). Operations not named keep AWS's documented quotas
    /// (DescribeSecurityProfile=25, ListSecurityProfiles, ListTargetsForSecurityProfile and
    /// ListTagsForResource=10); `*=N` replaces all of them.
    #[arg(long, value_delimiter = ',', value_parser = parse_rate)]
    pub aws_tps: Vec<(String, f64)>,
}

impl AwsFlags {
    /// The facade's options; `region` is the default region of calls.
    pub fn options(&self, region: Option<String>) -> AwsOptions {
        AwsOptions {
            endpoint_url: self.aws_endpoint_url.clone(),
            max_attempts: self.aws_max_attempts,
            attempt_timeout: self.aws_attempt_timeout,
            region,
            tps: read_rates(&self.aws_tps),
        }
    }
}

/// The given rates over the documented read quotas: a named operation replaces its quota,
/// `*` replaces every quota.
pub fn read_rates(given: &[(String, f64)]) -> Vec<(String, f64)> {
    if given.iter().any(|(op, _)| op == "*") {
        return given.to_vec();
    }
    let mut rates: Vec<(String, f64)> = READ_QUOTAS
        .iter()
        .filter(|(op, _)| !given.iter().any(|(g, _)| g == op))
        .map(|(op, n)| (op.to_string(), *n))
        .collect();
    rates.extend_from_slice(given);
    rates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_quotas_unless_overridden() {
        let rate = |rates: &[(String, f64)], op: &str| {
            rates.iter().find(|(o, _)| o == op).map(|(_, n)| *n)
        };
        let defaults = read_rates(&[]);
        assert_eq!(rate(&defaults, "DescribeSecurityProfile"), Some(25.0));
        assert_eq!(rate(&defaults, "ListTagsForResource"), Some(10.0));
        let one = read_rates(&[("DescribeSecurityProfile".into(), 5.0)]);
        assert_eq!(rate(&one, "DescribeSecurityProfile"), Some(5.0));
        assert_eq!(rate(&one, "ListTargetsForSecurityProfile"), Some(10.0));
        assert_eq!(one.len(), 4);
        let all = read_rates(&[("*".into(), 2.0)]);
        assert_eq!(all, vec![("*".to_string(), 2.0)]);
    }
}
