//! Flags of the multi-tenant guardrails: what every namespace may reach, at most.

use crate::reconcile::guard::{Allowlist, ClusterRules, Lists};
use clap::Args;

/// Cluster-wide guardrails. Every list is comma-separated glob patterns (`*`, `?`); an empty
/// list means no restriction, except that regions must always be known AWS regions. Namespace
/// annotations of the same names (`iot.awscc.io/allowed-role-arns`, …) narrow them.
#[derive(Args, Clone, Debug, Default)]
pub struct GuardArgs {
    /// Allow adoption of unowned profiles, custom metrics and dimensions in every namespace
    /// (otherwise only in namespaces annotated iot.awscc.io/allow-adoption: "true").
    /// `--allow-adoption` alone means true; `--allow-adoption=false` turns it off again (say,
    /// over ALLOW_ADOPTION=true).
    #[arg(
        long,
        env = "ALLOW_ADOPTION",
        default_value_t = false,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub allow_adoption: bool,

    /// Role ARNs that alertTargets.SNS.roleArn and metricsExportConfig.roleArn may name.
    #[arg(long, env = "ALLOWED_ROLE_ARNS", value_delimiter = ',')]
    pub allowed_role_arns: Vec<String>,

    /// SNS topic ARNs that alertTargets.SNS.alertTargetArn may name.
    #[arg(long, env = "ALLOWED_SNS_TOPIC_ARNS", value_delimiter = ',')]
    pub allowed_sns_topic_arns: Vec<String>,

    /// MQTT topics that metricsExportConfig.mqttTopic may name.
    #[arg(long, env = "ALLOWED_MQTT_TOPICS", value_delimiter = ',')]
    pub allowed_mqtt_topics: Vec<String>,

    /// Target ARNs (thing groups, all/registered-things, all/unregistered-things) that
    /// targetArns may name, and that the operator may detach.
    #[arg(long, env = "ALLOWED_TARGET_ARNS", value_delimiter = ',')]
    pub allowed_target_arns: Vec<String>,

    /// Regions profiles, custom metrics and dimensions may live in (default: every known AWS
    /// region). A region listed here is allowed even when this build does not know it yet.
    #[arg(long, env = "ALLOWED_REGIONS", value_delimiter = ',')]
    pub allowed_regions: Vec<String>,
}

impl GuardArgs {
    /// The rules the guard applies, before any namespace narrows them.
    pub fn rules(&self) -> ClusterRules {
        ClusterRules {
            allow_adoption: self.allow_adoption,
            lists: Lists {
                role_arns: Allowlist::from_flag(&self.allowed_role_arns),
                sns_topic_arns: Allowlist::from_flag(&self.allowed_sns_topic_arns),
                mqtt_topics: Allowlist::from_flag(&self.allowed_mqtt_topics),
                target_arns: Allowlist::from_flag(&self.allowed_target_arns),
                regions: Allowlist::from_flag(&self.allowed_regions),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::GuardArgs;
    use crate::reconcile::guard::Allowlist;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        guard: GuardArgs,
    }

    #[test]
    fn defaults_restrict_nothing_but_adoption() {
        let rules = Flags::parse_from(["t"]).guard.rules();
        assert!(!rules.allow_adoption);
        assert!(rules.lists.role_arns.is_unrestricted());
        assert!(rules.lists.regions.is_unrestricted());
    }

    #[test]
    fn allow_adoption_is_settable_both_ways() {
        let parse = |args: &[&str]| {
            let argv = std::iter::once("t").chain(args.iter().copied());
            Flags::try_parse_from(argv).map(|f| f.guard.allow_adoption)
        };
        assert_eq!(parse(&[]).ok(), Some(false));
        assert_eq!(parse(&["--allow-adoption"]).ok(), Some(true));
        assert_eq!(parse(&["--allow-adoption=true"]).ok(), Some(true));
        assert_eq!(parse(&["--allow-adoption=false"]).ok(), Some(false));
        assert!(parse(&["--allow-adoption=maybe"]).is_err());
    }

    #[test]
    fn comma_separated_globs() {
        let f = Flags::parse_from([
            "t",
            "--allow-adoption",
            "--allowed-role-arns",
            "arn:aws:iam::1:role/a-*,arn:aws:iam::1:role/b",
        ]);
        let rules = f.guard.rules();
        assert!(rules.allow_adoption);
        assert_eq!(
            rules.lists.role_arns,
            Allowlist::Only(vec![
                "arn:aws:iam::1:role/a-*".into(),
                "arn:aws:iam::1:role/b".into()
            ])
        );
    }
}
