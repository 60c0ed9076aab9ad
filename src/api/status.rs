//! `SecurityProfile.status`: what the operator found in AWS, and the Ready/Synced conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Observed state of a SecurityProfile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfileStatus {
    /// The metadata.generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// ARN of the AWS profile in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile_arn: Option<String>,
    /// Name of the AWS profile in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_profile_name: Option<String>,
    /// Region of the AWS profile in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// AWS account that holds the profile (the namespace's role's account, or the operator's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// AWS version of the profile after the last write or read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// When the profile was created in AWS (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_date: Option<String>,
    /// When the profile was last modified in AWS (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date: Option<String>,
    /// Targets actually attached in AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_arns: Option<Vec<String>>,
    /// Number of targetArns (for the printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_count: Option<i32>,
    /// Last time AWS state was read and found to match the spec (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// Ready and Synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,
    /// The profile's active violations, when reporting is on (`spec.violations.report` or the
    /// operator's `--report-violations`); absent when it is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<ViolationsStatus>,
}

/// What AWS's ListActiveViolations answered for the profile when last read.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ViolationsStatus {
    /// Active violations (one per thing and behavior).
    pub active: i64,
    /// Active violations per behavior name (every behavior of the spec, zero included).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_behavior: BTreeMap<String, i64>,
    /// Active violations per verification state (UNKNOWN when none was set).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub verification_states: BTreeMap<String, i64>,
    /// The things violating, newest violation first (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub things: Vec<String>,
    /// The newest violation's last violation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_violation_time: Option<String>,
    /// When the violations were read (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<String>,
    /// Why the last read failed (AWS error code and message), while it fails; the counts
    /// above are those of the last read that worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

impl super::SecurityProfile {
    /// The condition of this type, if the status has one.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == type_)
    }

    /// Ready=True at the current generation: AWS matched this very spec when last reconciled.
    pub fn is_ready_at_generation(&self) -> bool {
        super::ready_at(self.condition("Ready"), self.metadata.generation)
    }

    /// Whether the condition of this type has status `True`.
    pub fn is_true(&self, type_: &str) -> bool {
        self.condition(type_).is_some_and(|c| c.status == "True")
    }
}
