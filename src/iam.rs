//! The IAM policy of the operator, printed by `iam-policy`.
//!
//! Without options: the least-privilege action list on every resource (today's shape, kept in
//! `docs/iam-policy.json`). With options (accounts, regions, roles, cluster id): a policy that
//! enforces ownership by itself, so that even a bug in the operator cannot write to a profile
//! of another cluster. IoT actions are limited to security-profile and thing-group ARNs (the
//! resource types AWS IoT supports for these actions), writes to an existing profile need its
//! `iot.awscc.io/cluster` tag to name this cluster (`aws:ResourceTag`), a create or an adoption
//! must set it (`aws:RequestTag`), and `iam:PassRole` is limited to the allowed roles.

use crate::reconcile::model::CLUSTER_TAG;
use clap::Args;
use serde_json::{Value, json};

/// The IoT actions the operator may call.
pub const IOT_ACTIONS: &[&str] = &[
    "iot:AttachSecurityProfile",
    "iot:CreateSecurityProfile",
    "iot:DeleteSecurityProfile",
    "iot:DescribeSecurityProfile",
    "iot:DetachSecurityProfile",
    "iot:ListTagsForResource",
    "iot:ListTargetsForSecurityProfile",
    "iot:TagResource",
    "iot:UntagResource",
    "iot:UpdateSecurityProfile",
];

/// The action the `export` command needs (with its own credentials); the operator never lists.
pub const EXPORT_ACTION: &str = "iot:ListSecurityProfiles";

/// Every action of the policy (the emulator's allowlist in the least-privilege test).
pub fn actions() -> Vec<String> {
    IOT_ACTIONS
        .iter()
        .map(|a| a.to_string())
        .chain(std::iter::once("iam:PassRole".to_string()))
        .collect()
}

/// Options of `iam-policy`. None given: the unscoped least-privilege policy.
#[derive(Args, Clone, Debug, Default)]
pub struct PolicyArgs {
    /// AWS account id the operator manages profiles in (repeatable; default: any).
    #[arg(long = "account")]
    pub accounts: Vec<String>,

    /// Region the operator manages profiles in (repeatable; default: any).
    #[arg(long = "region")]
    pub regions: Vec<String>,

    /// Roles the operator may pass to AWS IoT, comma-separated ARNs or IAM wildcards (default:
    /// every role of the accounts). Match the operator's --allowed-role-arns.
    #[arg(long, value_delimiter = ',')]
    pub allowed_role_arns: Vec<String>,

    /// The operator's --cluster-id (the value of its iot.awscc.io/cluster tag). Required with
    /// any other option.
    #[arg(long)]
    pub cluster_id: Option<String>,

    /// AWS partition (aws, aws-cn, aws-us-gov).
    #[arg(long, default_value = "aws")]
    pub partition: String,

    /// Add the statement that the `export` command needs (iot:ListSecurityProfiles on "*",
    /// which supports no resource-level permission). The operator itself never lists.
    #[arg(long)]
    pub export: bool,
}

/// Bad `iam-policy` options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(
        "--cluster-id is required for a scoped policy: pass the operator's --cluster-id (by default the UID of the kube-system namespace: kubectl get ns kube-system -o jsonpath='{{.metadata.uid}}')"
    )]
    NoClusterId,
    #[error("--account {0:?} is not a 12-digit AWS account id")]
    BadAccount(String),
}

impl PolicyArgs {
    fn scoped(&self) -> bool {
        !self.accounts.is_empty()
            || !self.regions.is_empty()
            || !self.allowed_role_arns.is_empty()
            || self.cluster_id.is_some()
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` for every account and region.
    fn arns(&self, service: &str, regional: bool, resource: &str) -> Vec<String> {
        let accounts = if self.accounts.is_empty() {
            vec!["*".to_string()]
        } else {
            self.accounts.clone()
        };
        let regions = match (regional, self.regions.is_empty()) {
            (false, _) => vec![String::new()],
            (true, true) => vec!["*".to_string()],
            (true, false) => self.regions.clone(),
        };
        let p = &self.partition;
        let mut out = Vec::new();
        for a in &accounts {
            for r in &regions {
                out.push(format!("arn:{p}:{service}:{r}:{a}:{resource}"));
            }
        }
        out
    }
}

/// The policy the options ask for.
pub fn policy_for(args: &PolicyArgs) -> Result<Value, PolicyError> {
    let mut policy = if args.scoped() {
        scoped_policy(args)?
    } else {
        policy()
    };
    if args.export
        && let Some(statements) = policy["Statement"].as_array_mut()
    {
        statements.push(json!({
            "Sid": "ExportListsSecurityProfiles",
            "Effect": "Allow",
            "Action": EXPORT_ACTION,
            "Resource": "*"
        }));
    }
    Ok(policy)
}

/// The unscoped policy document: least-privilege actions on every resource.
pub fn policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ManageDeviceDefenderSecurityProfiles",
                "Effect": "Allow",
                "Action": IOT_ACTIONS,
                "Resource": "*"
            },
            {
                "Sid": "PassAlertAndExportRolesToIoT",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": "*",
                "Condition": {
                    "StringEquals": { "iam:PassedToService": "iot.amazonaws.com" }
                }
            }
        ]
    })
}

/// The policy that enforces ownership by itself (see the module documentation).
fn scoped_policy(args: &PolicyArgs) -> Result<Value, PolicyError> {
    let cluster = args.cluster_id.as_deref().ok_or(PolicyError::NoClusterId)?;
    if let Some(bad) = args
        .accounts
        .iter()
        .find(|a| a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(PolicyError::BadAccount(bad.clone()));
    }
    let profiles = args.arns("iot", true, "securityprofile/*");
    // Attach and Detach are also authorized on the target: thing groups and the account-wide
    // targets.
    let targets: Vec<String> = [
        "thinggroup/*",
        "all/registered-things",
        "all/unregistered-things",
    ]
    .iter()
    .flat_map(|t| args.arns("iot", true, t))
    .collect();
    let roles = if args.allowed_role_arns.is_empty() {
        args.arns("iam", false, "role/*")
    } else {
        args.allowed_role_arns.clone()
    };
    let mut statements = profile_statements(&profiles, cluster);
    statements.extend([
        json!({
            "Sid": "AttachToTargets",
            "Effect": "Allow",
            "Action": ["iot:AttachSecurityProfile", "iot:DetachSecurityProfile"],
            "Resource": targets
        }),
        json!({
            "Sid": "PassAlertAndExportRolesToIoT",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": roles,
            "Condition": {
                "StringEquals": { "iam:PassedToService": "iot.amazonaws.com" }
            }
        }),
    ]);
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// The statements on security profiles: reads anywhere in scope, creates and claims only with
/// this cluster's tag, every other write only to profiles that already carry it.
fn profile_statements(profiles: &[String], cluster: &str) -> Vec<Value> {
    let resource_tag = format!("aws:ResourceTag/{CLUSTER_TAG}");
    let request_tag = format!("aws:RequestTag/{CLUSTER_TAG}");
    vec![
        json!({
            "Sid": "ReadSecurityProfiles",
            "Effect": "Allow",
            "Action": [
                "iot:DescribeSecurityProfile",
                "iot:ListTagsForResource",
                "iot:ListTargetsForSecurityProfile"
            ],
            "Resource": profiles
        }),
        json!({
            "Sid": "CreateSecurityProfilesOfThisCluster",
            "Effect": "Allow",
            "Action": "iot:CreateSecurityProfile",
            "Resource": profiles,
            "Condition": { "StringEquals": { &request_tag: cluster } }
        }),
        json!({
            "Sid": "TagNewOrUnownedSecurityProfilesForThisCluster",
            "Effect": "Allow",
            "Action": "iot:TagResource",
            "Resource": profiles,
            "Condition": {
                "Null": { &resource_tag: "true" },
                "StringEquals": { &request_tag: cluster }
            }
        }),
        json!({
            "Sid": "WriteSecurityProfilesOfThisCluster",
            "Effect": "Allow",
            "Action": [
                "iot:AttachSecurityProfile",
                "iot:DeleteSecurityProfile",
                "iot:DetachSecurityProfile",
                "iot:UpdateSecurityProfile"
            ],
            "Resource": profiles,
            "Condition": { "StringEquals": { &resource_tag: cluster } }
        }),
        json!({
            "Sid": "RetagSecurityProfilesOfThisCluster",
            "Effect": "Allow",
            "Action": "iot:TagResource",
            "Resource": profiles,
            "Condition": {
                "StringEquals": { &resource_tag: cluster },
                "StringEqualsIfExists": { &request_tag: cluster }
            }
        }),
        json!({
            "Sid": "UntagSecurityProfilesOfThisClusterButNotOwnership",
            "Effect": "Allow",
            "Action": "iot:UntagResource",
            "Resource": profiles,
            "Condition": {
                "StringEquals": { &resource_tag: cluster },
                "ForAllValues:StringNotLike": { "aws:TagKeys": ["iot.awscc.io/*"] }
            }
        }),
    ]
}

/// A policy as pretty JSON with a final newline, as `docs/iam-policy.json` holds it.
pub fn to_json(policy: &Value) -> String {
    let mut s = serde_json::to_string_pretty(policy).unwrap_or_default();
    s.push('\n');
    s
}

/// The unscoped policy as pretty JSON.
pub fn policy_json() -> String {
    to_json(&policy())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: PolicyArgs,
    }

    fn scoped(argv: &[&str]) -> Value {
        let args = Cli::parse_from(std::iter::once("iam-policy").chain(argv.iter().copied())).args;
        policy_for(&args).expect("a policy")
    }

    fn statement<'a>(p: &'a Value, sid: &str) -> &'a Value {
        p["Statement"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["Sid"] == sid))
            .unwrap_or_else(|| panic!("statement {sid} in {p:#}"))
    }

    #[test]
    fn docs_policy_is_the_commands_output() {
        let committed = include_str!("../docs/iam-policy.json");
        assert!(
            committed == super::policy_json(),
            "docs/iam-policy.json is stale: run `cargo run -- iam-policy > docs/iam-policy.json`"
        );
    }

    #[test]
    fn install_guide_example_is_the_commands_output() {
        let guide = include_str!("../docs/install.md");
        let section = guide
            .split("### A policy that enforces ownership by itself")
            .nth(1)
            .expect("the install guide has the scoped policy example");
        let json = section
            .split("```json\n")
            .nth(1)
            .and_then(|s| s.split("\n```").next())
            .expect("a JSON block");
        let documented: Value = serde_json::from_str(json).expect("valid JSON");
        let printed = scoped(&[
            "--account",
            "123456789012",
            "--region",
            "eu-west-1",
            "--allowed-role-arns",
            "arn:aws:iam::123456789012:role/iot-team-*",
            "--cluster-id",
            "prod-eu",
        ]);
        assert_eq!(documented, printed, "docs/install.md shows a stale policy");
    }

    #[test]
    fn pass_role_is_limited_to_iot() {
        let p = super::policy();
        let pass = &p["Statement"][1];
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "iot.amazonaws.com"
        );
    }

    #[test]
    fn the_operator_never_lists() {
        assert!(!actions().iter().any(|a| a == EXPORT_ACTION));
        let p = scoped(&["--export"]);
        assert_eq!(
            statement(&p, "ExportListsSecurityProfiles")["Action"],
            EXPORT_ACTION
        );
    }

    #[test]
    fn scoped_policy_names_accounts_regions_roles_and_the_cluster() {
        let p = scoped(&[
            "--account",
            "123456789012",
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--allowed-role-arns",
            "arn:aws:iam::123456789012:role/team-a-*",
            "--cluster-id",
            "prod-1",
        ]);
        assert_eq!(
            statement(&p, "ReadSecurityProfiles")["Resource"],
            json!([
                "arn:aws:iot:us-east-1:123456789012:securityprofile/*",
                "arn:aws:iot:eu-west-1:123456789012:securityprofile/*"
            ])
        );
        let write = statement(&p, "WriteSecurityProfilesOfThisCluster");
        assert_eq!(
            write["Condition"]["StringEquals"]["aws:ResourceTag/iot.awscc.io/cluster"],
            "prod-1"
        );
        let create = statement(&p, "CreateSecurityProfilesOfThisCluster");
        assert_eq!(
            create["Condition"]["StringEquals"]["aws:RequestTag/iot.awscc.io/cluster"],
            "prod-1"
        );
        let pass = statement(&p, "PassAlertAndExportRolesToIoT");
        assert_eq!(
            pass["Resource"],
            json!(["arn:aws:iam::123456789012:role/team-a-*"])
        );
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "iot.amazonaws.com"
        );
        let targets = statement(&p, "AttachToTargets")["Resource"].to_string();
        for t in [
            "arn:aws:iot:eu-west-1:123456789012:thinggroup/*",
            "arn:aws:iot:us-east-1:123456789012:all/registered-things",
        ] {
            assert!(targets.contains(t), "{t} in {targets}");
        }
        let text = p.to_string();
        assert!(!text.contains("ListSecurityProfiles"), "{text}");
        assert!(
            !text.contains("\"Resource\":\"*\""),
            "no IoT action on every resource: {text}"
        );
    }

    #[test]
    fn partition_and_default_roles() {
        let p = scoped(&[
            "--account",
            "123456789012",
            "--cluster-id",
            "c",
            "--partition",
            "aws-cn",
        ]);
        assert_eq!(
            statement(&p, "PassAlertAndExportRolesToIoT")["Resource"],
            json!(["arn:aws-cn:iam::123456789012:role/*"])
        );
        assert_eq!(
            statement(&p, "ReadSecurityProfiles")["Resource"],
            json!(["arn:aws-cn:iot:*:123456789012:securityprofile/*"])
        );
    }

    #[test]
    fn bad_options_are_clear_errors() {
        let args = Cli::parse_from(["iam-policy", "--account", "123456789012"]).args;
        assert_eq!(policy_for(&args), Err(PolicyError::NoClusterId));
        let args = Cli::parse_from(["iam-policy", "--account", "12345", "--cluster-id", "c"]).args;
        assert!(policy_for(&args).unwrap_err().to_string().contains("12345"));
    }
}
