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

/// The profile actions AWS also authorizes on the custom metrics and dimensions a profile
/// names (their optional resource types in the Service Authorization Reference).
pub const PROFILE_WRITE_ACTIONS: &[&str] = &[
    "iot:AttachSecurityProfile",
    "iot:CreateSecurityProfile",
    "iot:DeleteSecurityProfile",
    "iot:DetachSecurityProfile",
    "iot:UpdateSecurityProfile",
];

/// The action the `export` command needs to find every profile. The operator calls it too (the
/// in-use check of [`DEPENDENCY_ACTIONS`]), so its policy already holds it.
pub const EXPORT_ACTION: &str = "iot:ListSecurityProfiles";

/// The action of `--report-violations`. Its resource types are `securityprofile` and
/// `thing`, both optional: a request naming the profile is authorized on the profile. Reading
/// is never conditioned on ownership (an observed profile reports its violations too).
pub const VIOLATIONS_ACTION: &str = "iot:ListActiveViolations";

/// The IoT actions of the CustomMetric and Dimension kinds, the in-use check before deleting one
/// (`ListSecurityProfiles` filtered by metric or dimension name), the existence check of the
/// ones a profile names (`ListCustomMetrics`, `ListDimensions`) and the pre-flight validation of
/// a profile's behaviors.
pub const DEPENDENCY_ACTIONS: &[&str] = &[
    "iot:CreateCustomMetric",
    "iot:CreateDimension",
    "iot:DeleteCustomMetric",
    "iot:DeleteDimension",
    "iot:DescribeCustomMetric",
    "iot:DescribeDimension",
    "iot:ListCustomMetrics",
    "iot:ListDimensions",
    "iot:ListSecurityProfiles",
    "iot:UpdateCustomMetric",
    "iot:UpdateDimension",
    "iot:ValidateSecurityProfileBehaviors",
];

/// The actions of [`DEPENDENCY_ACTIONS`] that support no resource-level permission.
const UNSCOPED_DEPENDENCY_ACTIONS: &[&str] = &[
    "iot:ListCustomMetrics",
    "iot:ListDimensions",
    "iot:ListSecurityProfiles",
    "iot:ValidateSecurityProfileBehaviors",
];

/// The action the operator's own identity needs to serve namespaces annotated with
/// `iot.awscc.io/role-arn` (only cross-account setups grant it: see `--cross-account`).
pub const CROSS_ACCOUNT_ACTIONS: &[&str] = &["sts:AssumeRole"];

/// Every action of the policy (the emulator's allowlist in the least-privilege test).
pub fn actions() -> Vec<String> {
    IOT_ACTIONS
        .iter()
        .chain(DEPENDENCY_ACTIONS)
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

    /// Print the policies of a cross-account setup: the operator's own (sts:AssumeRole on the
    /// fleet roles) and, for each fleet account's role, its permission policy (this policy, with
    /// the other options) and its trust policy.
    #[arg(long)]
    pub cross_account: bool,

    /// Add a statement naming what the `export` command needs (iot:ListSecurityProfiles on "*",
    /// which supports no resource-level permission), for an identity that runs `export`. The
    /// operator's policy already allows it: the controller lists profiles by metric or
    /// dimension name before deleting a CustomMetric or Dimension.
    #[arg(long)]
    pub export: bool,

    /// Add what `--report-violations` (or `spec.violations.report`) needs:
    /// iot:ListActiveViolations on the security profiles in scope (the operator always names
    /// the profile, so the optional `thing` resource type is never touched). Without it the
    /// policy grants nothing of the kind.
    #[arg(long)]
    pub report_violations: bool,

    /// Allow attaching and detaching only thing groups that carry this tag (KEY=VALUE, checked
    /// with aws:ResourceTag). Default: any thing group of the accounts and regions.
    #[arg(long, value_name = "KEY=VALUE")]
    pub thing_group_tag: Option<String>,
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
    #[error("--thing-group-tag {0:?} is not KEY=VALUE")]
    BadThingGroupTag(String),
}

impl PolicyArgs {
    fn scoped(&self) -> bool {
        !self.accounts.is_empty()
            || !self.regions.is_empty()
            || !self.allowed_role_arns.is_empty()
            || self.cluster_id.is_some()
            || self.thing_group_tag.is_some()
    }

    /// `--thing-group-tag` as (key, value).
    fn thing_group_tag(&self) -> Result<Option<(&str, &str)>, PolicyError> {
        let Some(raw) = &self.thing_group_tag else {
            return Ok(None);
        };
        match raw.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(Some((k, v))),
            _ => Err(PolicyError::BadThingGroupTag(raw.clone())),
        }
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
    if args.report_violations
        && let Some(statements) = policy["Statement"].as_array_mut()
    {
        let resources = if args.scoped() {
            json!(args.arns("iot", true, "securityprofile/*"))
        } else {
            json!("*")
        };
        statements.push(json!({
            "Sid": "ReadActiveViolations",
            "Effect": "Allow",
            "Action": VIOLATIONS_ACTION,
            "Resource": resources
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
                "Sid": "ManageCustomMetricsAndDimensions",
                "Effect": "Allow",
                "Action": DEPENDENCY_ACTIONS,
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
    // Attach and Detach are also authorized on a thing-group target. The account-wide targets
    // (`all/registered-things`, `all/unregistered-things`) are no resource type of AWS IoT in
    // the Service Authorization Reference: attaching there is authorized on the profile alone.
    let groups = args.arns("iot", true, "thinggroup/*");
    let dependencies: Vec<String> = ["custommetric/*", "dimension/*"]
        .iter()
        .flat_map(|r| args.arns("iot", true, r))
        .collect();
    let roles = if args.allowed_role_arns.is_empty() {
        args.arns("iam", false, "role/*")
    } else {
        args.allowed_role_arns.clone()
    };
    let mut statements = profile_statements(&profiles, cluster);
    let mut attach = json!({
        "Sid": "AttachToThingGroups",
        "Effect": "Allow",
        "Action": ["iot:AttachSecurityProfile", "iot:DetachSecurityProfile"],
        "Resource": groups
    });
    if let Some((key, value)) = args.thing_group_tag()? {
        attach["Condition"] =
            json!({ "StringEquals": { format!("aws:ResourceTag/{key}"): value } });
    }
    statements.push(attach);
    // The profile actions are authorized on each custom metric and dimension the profile
    // names too. Using one is no write to it, and a profile may use a metric that another
    // cluster or a person owns: no ownership condition here (the profile's own statements
    // still require this cluster's tag on the profile).
    statements.push(json!({
        "Sid": "UseCustomMetricsAndDimensionsInProfiles",
        "Effect": "Allow",
        "Action": PROFILE_WRITE_ACTIONS,
        "Resource": dependencies
    }));
    statements.extend(dependency_statements(&dependencies, cluster));
    statements.extend([
        json!({
            "Sid": "ListDependenciesAndValidateBehaviors",
            "Effect": "Allow",
            "Action": UNSCOPED_DEPENDENCY_ACTIONS,
            "Resource": "*"
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

/// The actions of one kind of owned resource, for [`owned_statements`].
struct OwnedKind<'a> {
    /// The plural in statement ids ("SecurityProfiles").
    sid: &'a str,
    resources: &'a [String],
    /// Reads: never conditioned (adoption and export read unowned resources).
    reads: &'a [&'a str],
    creates: &'a [&'a str],
    /// Writes to an existing resource other than tagging.
    writes: &'a [&'a str],
}

/// The statements on security profiles: reads anywhere in scope, creates and claims only with
/// this cluster's tag, every other write only to profiles that already carry it.
fn profile_statements(profiles: &[String], cluster: &str) -> Vec<Value> {
    owned_statements(
        &OwnedKind {
            sid: "SecurityProfiles",
            resources: profiles,
            reads: &[
                "iot:DescribeSecurityProfile",
                "iot:ListTagsForResource",
                "iot:ListTargetsForSecurityProfile",
            ],
            creates: &["iot:CreateSecurityProfile"],
            writes: &[
                "iot:AttachSecurityProfile",
                "iot:DeleteSecurityProfile",
                "iot:DetachSecurityProfile",
                "iot:UpdateSecurityProfile",
            ],
        },
        cluster,
    )
}

/// The statements on custom metrics and dimensions, on the same terms as profiles: a metric or
/// dimension another cluster owns is never updated, deleted, retagged or untagged.
fn dependency_statements(dependencies: &[String], cluster: &str) -> Vec<Value> {
    owned_statements(
        &OwnedKind {
            sid: "CustomMetricsAndDimensions",
            resources: dependencies,
            reads: &[
                "iot:DescribeCustomMetric",
                "iot:DescribeDimension",
                "iot:ListTagsForResource",
            ],
            creates: &["iot:CreateCustomMetric", "iot:CreateDimension"],
            writes: &[
                "iot:DeleteCustomMetric",
                "iot:DeleteDimension",
                "iot:UpdateCustomMetric",
                "iot:UpdateDimension",
            ],
        },
        cluster,
    )
}

/// Reads anywhere in scope; a create must set this cluster's tag (`aws:RequestTag`); an
/// untagged resource may be tagged only as this cluster's (adoption); every other write needs
/// the resource to carry this cluster's tag already (`aws:ResourceTag`), and an untag never
/// removes an ownership key.
fn owned_statements(kind: &OwnedKind<'_>, cluster: &str) -> Vec<Value> {
    let resource_tag = format!("aws:ResourceTag/{CLUSTER_TAG}");
    let request_tag = format!("aws:RequestTag/{CLUSTER_TAG}");
    let (sid, resources) = (kind.sid, kind.resources);
    let one_or_many = |actions: &[&str]| match actions {
        [one] => json!(one),
        many => json!(many),
    };
    vec![
        json!({
            "Sid": format!("Read{sid}"),
            "Effect": "Allow",
            "Action": kind.reads,
            "Resource": resources
        }),
        json!({
            "Sid": format!("Create{sid}OfThisCluster"),
            "Effect": "Allow",
            "Action": one_or_many(kind.creates),
            "Resource": resources,
            "Condition": { "StringEquals": { &request_tag: cluster } }
        }),
        json!({
            "Sid": format!("TagNewOrUnowned{sid}ForThisCluster"),
            "Effect": "Allow",
            "Action": "iot:TagResource",
            "Resource": resources,
            "Condition": {
                "Null": { &resource_tag: "true" },
                "StringEquals": { &request_tag: cluster }
            }
        }),
        json!({
            "Sid": format!("Write{sid}OfThisCluster"),
            "Effect": "Allow",
            "Action": kind.writes,
            "Resource": resources,
            "Condition": { "StringEquals": { &resource_tag: cluster } }
        }),
        json!({
            "Sid": format!("Retag{sid}OfThisCluster"),
            "Effect": "Allow",
            "Action": "iot:TagResource",
            "Resource": resources,
            "Condition": {
                "StringEquals": { &resource_tag: cluster },
                "StringEqualsIfExists": { &request_tag: cluster }
            }
        }),
        json!({
            "Sid": format!("Untag{sid}OfThisClusterButNotOwnership"),
            "Effect": "Allow",
            "Action": "iot:UntagResource",
            "Resource": resources,
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

/// The policies of a cross-account setup (`iam-policy --cross-account`):
/// - `operatorPolicy`: the operator's own identity may assume the fleet roles (the
///   `--allowed-role-arns` when given, else every role);
/// - `fleetRolePermissionPolicy`: each fleet account's role gets the operator's IoT policy (as
///   the other options scope it);
/// - `fleetRoleTrustPolicy`: each fleet role trusts the operator's role (replace
///   `OPERATOR_ROLE_ARN`), with the external id of the namespace's `iot.awscc.io/external-id`
///   (drop the condition when the namespace sets none).
pub fn cross_account_policies(args: &PolicyArgs) -> Result<Value, PolicyError> {
    let roles = if args.allowed_role_arns.is_empty() {
        vec![format!("arn:{}:iam::*:role/*", args.partition)]
    } else {
        args.allowed_role_arns.clone()
    };
    Ok(json!({
        "operatorPolicy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AssumeFleetAccountRoles",
                "Effect": "Allow",
                "Action": CROSS_ACCOUNT_ACTIONS,
                "Resource": roles
            }]
        },
        "fleetRolePermissionPolicy": policy_for(args)?,
        "fleetRoleTrustPolicy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TrustTheOperator",
                "Effect": "Allow",
                "Principal": {"AWS": "OPERATOR_ROLE_ARN"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "EXTERNAL_ID"}}
            }]
        }
    }))
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

    #[test]
    fn report_violations_adds_list_active_violations_on_profiles_only() {
        let without = scoped(&["--account", "123456789012", "--cluster-id", "c"]);
        assert!(!without.to_string().contains(VIOLATIONS_ACTION));
        let with = scoped(&[
            "--account",
            "123456789012",
            "--cluster-id",
            "c",
            "--report-violations",
        ]);
        let s = statement(&with, "ReadActiveViolations");
        assert_eq!(s["Action"], VIOLATIONS_ACTION);
        assert_eq!(
            s["Resource"],
            json!(["arn:aws:iot:*:123456789012:securityprofile/*"])
        );
        assert!(s.get("Condition").is_none());
        let unscoped = scoped(&["--report-violations"]);
        assert_eq!(
            statement(&unscoped, "ReadActiveViolations")["Resource"],
            "*"
        );
        assert!(!policy().to_string().contains(VIOLATIONS_ACTION));
    }

    #[test]
    fn thing_group_tag_narrows_attach_and_detach() {
        let p = scoped(&[
            "--cluster-id",
            "c",
            "--thing-group-tag",
            "fleet-owner=platform",
        ]);
        let groups = statement(&p, "AttachToThingGroups");
        assert_eq!(
            groups["Condition"]["StringEquals"]["aws:ResourceTag/fleet-owner"],
            "platform"
        );
        let args = PolicyArgs {
            cluster_id: Some("c".into()),
            thing_group_tag: Some("no-equals".into()),
            partition: "aws".into(),
            ..Default::default()
        };
        assert_eq!(
            policy_for(&args),
            Err(PolicyError::BadThingGroupTag("no-equals".into()))
        );
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
        let pass = statement(&p, "PassAlertAndExportRolesToIoT");
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "iot.amazonaws.com"
        );
    }

    /// The operator lists security profiles only to find who still uses a custom metric or
    /// dimension it is about to delete (`ListSecurityProfiles` filtered by name).
    #[test]
    fn the_operator_lists_only_for_the_in_use_check() {
        assert!(!IOT_ACTIONS.contains(&EXPORT_ACTION));
        assert!(DEPENDENCY_ACTIONS.contains(&EXPORT_ACTION));
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
        let groups = statement(&p, "AttachToThingGroups");
        assert_eq!(
            groups["Resource"],
            json!([
                "arn:aws:iot:us-east-1:123456789012:thinggroup/*",
                "arn:aws:iot:eu-west-1:123456789012:thinggroup/*"
            ])
        );
        assert!(groups.get("Condition").is_none());
        // No resource type of the reference: nothing names the account-wide targets.
        assert!(!p.to_string().contains("all/"), "{p:#}");
        let uses = statement(&p, "UseCustomMetricsAndDimensionsInProfiles");
        assert_eq!(uses["Action"], json!(PROFILE_WRITE_ACTIONS));
        assert_eq!(
            uses["Resource"],
            json!([
                "arn:aws:iot:us-east-1:123456789012:custommetric/*",
                "arn:aws:iot:eu-west-1:123456789012:custommetric/*",
                "arn:aws:iot:us-east-1:123456789012:dimension/*",
                "arn:aws:iot:eu-west-1:123456789012:dimension/*"
            ])
        );
        assert!(uses.get("Condition").is_none(), "using is not owning");
        // On every resource: only the actions that support no resource-level permission.
        for st in p["Statement"].as_array().unwrap() {
            if st["Resource"] == "*" {
                let actions: Vec<&str> = st["Action"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                assert_eq!(actions, UNSCOPED_DEPENDENCY_ACTIONS, "{st}");
            }
        }
    }

    /// Every action a CustomMetric or Dimension needs on its own ARN is granted, and every
    /// write is conditioned on the cluster's tag: on the resource (update, delete, retag,
    /// untag; or its absence for the adoption's tag) or in the request (create).
    #[test]
    fn custom_metric_and_dimension_writes_need_the_clusters_tag() {
        let p = scoped(&["--account", "123456789012", "--cluster-id", "prod-1"]);
        let on_dependencies: Vec<&Value> = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|st| st["Resource"].to_string().contains(":custommetric/*"))
            // Using a metric in a profile is no write to it (see the scoped policy).
            .filter(|st| st["Sid"] != "UseCustomMetricsAndDimensionsInProfiles")
            .collect();
        assert!(
            on_dependencies
                .iter()
                .all(|st| st["Resource"].to_string().contains(":dimension/*"))
        );
        let mut granted = std::collections::BTreeSet::new();
        for st in &on_dependencies {
            let actions: Vec<String> = match &st["Action"] {
                Value::String(a) => vec![a.clone()],
                v => serde_json::from_value(v.clone()).unwrap(),
            };
            let condition = st["Condition"].to_string();
            let reads = actions
                .iter()
                .all(|a| a.starts_with("iot:Describe") || a.starts_with("iot:List"));
            assert!(
                reads || condition.contains("iot.awscc.io/cluster\":\"prod-1"),
                "an unconditioned write: {st}"
            );
            if reads {
                assert!(st.get("Condition").is_none(), "reads stay open: {st}");
            }
            granted.extend(actions);
        }
        let needed: std::collections::BTreeSet<String> = DEPENDENCY_ACTIONS
            .iter()
            .filter(|a| !UNSCOPED_DEPENDENCY_ACTIONS.contains(a))
            .chain(&[
                "iot:ListTagsForResource",
                "iot:TagResource",
                "iot:UntagResource",
            ])
            .map(|a| a.to_string())
            .collect();
        assert_eq!(granted, needed);
        let create = statement(&p, "CreateCustomMetricsAndDimensionsOfThisCluster");
        assert_eq!(
            create["Condition"]["StringEquals"]["aws:RequestTag/iot.awscc.io/cluster"],
            "prod-1"
        );
        let write = statement(&p, "WriteCustomMetricsAndDimensionsOfThisCluster");
        assert_eq!(
            write["Condition"]["StringEquals"]["aws:ResourceTag/iot.awscc.io/cluster"],
            "prod-1"
        );
        let untag = statement(
            &p,
            "UntagCustomMetricsAndDimensionsOfThisClusterButNotOwnership",
        );
        assert_eq!(
            untag["Condition"]["ForAllValues:StringNotLike"]["aws:TagKeys"],
            json!(["iot.awscc.io/*"])
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
    fn cross_account_policies_cover_both_sides() {
        let args = Cli::parse_from(["iam-policy", "--cross-account"]).args;
        let p = cross_account_policies(&args).unwrap();
        assert_eq!(
            p["operatorPolicy"]["Statement"][0]["Action"],
            json!(["sts:AssumeRole"])
        );
        assert_eq!(p["fleetRolePermissionPolicy"], policy());
        let trust = &p["fleetRoleTrustPolicy"]["Statement"][0];
        assert_eq!(trust["Action"], "sts:AssumeRole");
        assert!(trust["Condition"]["StringEquals"]["sts:ExternalId"].is_string());
        assert!(
            !actions().iter().any(|a| a.starts_with("sts:")),
            "the single-account policy grants no AssumeRole"
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
