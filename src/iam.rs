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

/// Every action of the policy (the emulator's allowlist in the least-privilege test).
pub fn actions() -> Vec<String> {
    IOT_ACTIONS
        .iter()
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
    fn pass_role_is_limited_to_iot() {
        let p = super::policy();
        let pass = &p["Statement"][1];
        assert_eq!(pass["Action"], "iam:PassRole");
        assert_eq!(
            pass["Condition"]["StringEquals"]["iam:PassedToService"],
            "iot.amazonaws.com"
        );
    }
}
