//! The least-privilege IAM policy: exactly the actions the operator calls to create, read, update,
//! delete and list permissions, with `iam:PassRole` limited to AWS IoT.

use serde_json::{Value, json};

/// The IoT actions the operator may call.
pub const IOT_ACTIONS: &[&str] = &[
    "iot:AttachSecurityProfile",
    "iot:CreateSecurityProfile",
    "iot:DeleteSecurityProfile",
    "iot:DescribeSecurityProfile",
    "iot:DetachSecurityProfile",
    "iot:ListSecurityProfiles",
    "iot:ListTagsForResource",
    "iot:ListTargetsForSecurityProfile",
    "iot:TagResource",
    "iot:UntagResource",
    "iot:UpdateSecurityProfile",
];

/// The IoT actions of the CustomMetric and Dimension kinds, and the pre-flight validation of
/// a profile's behaviors (in-use checks use `iot:ListSecurityProfiles`, above).
pub const DEPENDENCY_ACTIONS: &[&str] = &[
    "iot:CreateCustomMetric",
    "iot:CreateDimension",
    "iot:DeleteCustomMetric",
    "iot:DeleteDimension",
    "iot:DescribeCustomMetric",
    "iot:DescribeDimension",
    "iot:ListCustomMetrics",
    "iot:ListDimensions",
    "iot:UpdateCustomMetric",
    "iot:UpdateDimension",
    "iot:ValidateSecurityProfileBehaviors",
];

/// Every action of the policy (the emulator's allowlist in the least-privilege test).
pub fn actions() -> Vec<String> {
    IOT_ACTIONS
        .iter()
        .chain(DEPENDENCY_ACTIONS)
        .map(|a| a.to_string())
        .chain(std::iter::once("iam:PassRole".to_string()))
        .collect()
}

/// The policy document.
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

/// The policy as pretty JSON, as `docs/iam-policy.json` holds it.
pub fn policy_json() -> String {
    let mut s = serde_json::to_string_pretty(&policy()).unwrap_or_default();
    s.push('\n');
    s
}

/// The action the operator's own identity needs to serve namespaces annotated with
/// `iot.awscc.io/role-arn` (not part of [`policy`]: only cross-account setups grant it).
pub const CROSS_ACCOUNT_ACTIONS: &[&str] = &["sts:AssumeRole"];

/// The policies of a cross-account setup, printed by `iam-policy --cross-account`:
/// - `operatorPolicy`: the operator's own identity may assume the fleet roles (narrow
///   `Resource` to their ARNs);
/// - `fleetRolePermissionPolicy`: each fleet account's role gets the operator's IoT policy;
/// - `fleetRoleTrustPolicy`: each fleet role trusts the operator's role (replace
///   `OPERATOR_ROLE_ARN`), with the external id of the namespace's `iot.awscc.io/external-id`
///   (drop the condition when the namespace sets none).
pub fn cross_account_policies() -> Value {
    json!({
        "operatorPolicy": {
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "AssumeFleetAccountRoles",
                "Effect": "Allow",
                "Action": CROSS_ACCOUNT_ACTIONS,
                "Resource": "arn:aws:iam::*:role/*"
            }]
        },
        "fleetRolePermissionPolicy": policy(),
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
    })
}

/// [`cross_account_policies`] as pretty JSON.
pub fn cross_account_json() -> String {
    let mut s = serde_json::to_string_pretty(&cross_account_policies()).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_policy_is_the_commands_output() {
        let committed = include_str!("../docs/iam-policy.json");
        assert!(
            committed == super::policy_json(),
            "docs/iam-policy.json is stale: run `cargo run -- iam-policy > docs/iam-policy.json`"
        );
    }

    #[test]
    fn cross_account_policies_cover_both_sides() {
        let p = super::cross_account_policies();
        assert_eq!(
            p["operatorPolicy"]["Statement"][0]["Action"],
            serde_json::json!(["sts:AssumeRole"])
        );
        assert_eq!(p["fleetRolePermissionPolicy"], super::policy());
        let trust = &p["fleetRoleTrustPolicy"]["Statement"][0];
        assert_eq!(trust["Action"], "sts:AssumeRole");
        assert!(trust["Condition"]["StringEquals"]["sts:ExternalId"].is_string());
        assert!(
            !super::actions().iter().any(|a| a.starts_with("sts:")),
            "the single-account policy grants no AssumeRole"
        );
    }

    #[test]
    fn pass_role_is_limited_to_iot() {
        let p = super::policy();
        let pass = p["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == "iam:PassRole")
            .unwrap();
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "iot.amazonaws.com"
        );
    }
}
