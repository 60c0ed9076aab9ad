//! The AWS options of `export` and `plan`: the operator's AWS flags, paced by default at AWS's
//! documented quotas for the reads they make.

use crate::aws::AwsOptions;
use crate::config::AwsArgs;

/// AWS's documented default quotas (calls per second, per account and region) of the read
/// operations `export` and `plan` make.
pub const READ_QUOTAS: [(&str, f64); 4] = [
    ("ListSecurityProfiles", 10.0),
    ("DescribeSecurityProfile", 25.0),
    ("ListTargetsForSecurityProfile", 10.0),
    ("ListTagsForResource", 10.0),
];

/// The facade's options for a read-only command; `region` is the default region of calls.
pub fn read_options(aws: &AwsArgs, region: Option<String>) -> AwsOptions {
    AwsOptions {
        endpoint_url: aws.endpoint_url.clone(),
        max_attempts: aws.max_attempts,
        attempt_timeout: aws.attempt_timeout,
        region,
        tps: read_rates(&aws.tps),
    }
}

/// The given rates (`--aws-tps`) over the documented read quotas: a named operation replaces
/// its quota, `*` replaces every quota.
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
