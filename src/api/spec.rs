//! `SecurityProfile.spec`: the fields of `AWS::IoT::SecurityProfile` plus the operator's policies.
//!
//! Every AWS limit is carried into the OpenAPI schema (schemars attributes) or a CEL rule
//! (`x-kubernetes-validations`), so that the API server rejects bad input at admission.

use super::status::SecurityProfileStatus;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// AWS's pattern for profile, behavior and dimension names.
pub const NAME_PATTERN: &str = "^[a-zA-Z0-9:_-]+$";

/// A Device Defender security profile, managed in AWS IoT by the operator.
// clippy reads the repeated `type_ = …` of the printcolumn list as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "iot.awscc.io",
    version = "v1alpha1",
    kind = "SecurityProfile",
    plural = "securityprofiles",
    namespaced,
    status = "SecurityProfileStatus",
    shortname = "sp",
    shortname = "iotsp",
    category = "aws",
    category = "iot",
    derive = "Default",
    derive = "PartialEq",
    doc = "SecurityProfile manages an AWS IoT Device Defender security profile: its behaviors, alert targets, retained metrics, metrics export, tags and the thing groups it is attached to.",
    printcolumn(
        name = "AWS NAME",
        type_ = "string",
        json_path = ".status.securityProfileName"
    ),
    printcolumn(name = "REGION", type_ = "string", json_path = ".status.region"),
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "SYNCED",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Synced\")].status"
    ),
    printcolumn(name = "VERSION", type_ = "integer", json_path = ".status.version"),
    printcolumn(name = "TARGETS", type_ = "integer", json_path = ".status.targetCount"),
    printcolumn(
        name = "VIOLATIONS",
        type_ = "integer",
        json_path = ".status.violations.active",
        priority = 1
    ),
    printcolumn(
        name = "ARN",
        type_ = "string",
        json_path = ".status.securityProfileArn",
        priority = 1
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(oldSelf.securityProfileName) || !has(self.securityProfileName) || self.securityProfileName == oldSelf.securityProfileName",
        "message": "securityProfileName is immutable once set (removing it again is allowed, to undo an edit)",
        "fieldPath": ".securityProfileName",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "!has(oldSelf.region) || !has(self.region) || self.region == oldSelf.region",
        "message": "region is immutable once set (removing it again is allowed, to undo an edit)",
        "fieldPath": ".region",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "!has(self.behaviors) || self.behaviors.all(b, has(b.criteria) && has(b.criteria.mlDetectionConfig)) || self.behaviors.all(b, !has(b.criteria) || !has(b.criteria.mlDetectionConfig))",
        "message": "a profile cannot mix ML Detect behaviors (criteria.mlDetectionConfig) with rule-based behaviors",
        "fieldPath": ".behaviors"
    }
]))]
pub struct SecurityProfileSpec {
    /// Name of the security profile in AWS. Defaults to metadata.name, which must then be a valid
    /// AWS name (no dots). Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-zA-Z0-9:_-]+$"))]
    pub security_profile_name: Option<String>,

    /// AWS region of the profile. Resolution order when omitted: the namespace annotation
    /// iot.awscc.io/default-region, the operator's --default-region, the AWS SDK default chain.
    /// Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    )]
    pub region: Option<String>,

    /// A description of the security profile: printable ASCII characters and spaces (AWS's
    /// pattern `[\p{Graph}\x20]*`, so no tabs, newlines or non-ASCII letters), at most 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 1000),
        extend("x-kubernetes-validations" = [{
            "rule": "self.matches('^[ -~]*$')",
            "message": "securityProfileDescription may contain only printable ASCII characters and spaces (no tabs, newlines or non-ASCII characters)"
        }])
    )]
    pub security_profile_description: Option<String>,

    /// Behaviors that, when violated by a device (thing), cause an alert. Keyed by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub behaviors: Option<Vec<Behavior>>,

    /// Destinations to which alerts are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_targets: Option<AlertTargets>,

    /// Metrics whose data is retained in addition to those used in behaviors.
    #[serde(
        default,
        rename = "additionalMetricsToRetainV2",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = 100), extend("x-kubernetes-list-type" = "atomic"))]
    pub additional_metrics_to_retain_v2: Option<Vec<MetricToRetain>>,

    /// Where metrics are exported (an MQTT topic) and the role that may publish there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_export_config: Option<MetricsExportConfig>,

    /// Tags of the profile in AWS, at most 47: AWS allows 50 per resource and the operator adds
    /// its 3 ownership tags. Keys starting with iot.awscc.io/ are reserved for ownership, and
    /// keys starting with aws: (in any case) for AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 47),
        extend(
            "x-kubernetes-list-type" = "map",
            "x-kubernetes-list-map-keys" = ["key"],
            "x-kubernetes-validations" = [{
                "rule": "self.all(t, !t.key.startsWith('iot.awscc.io/') && !t.key.lowerAscii().startsWith('aws:'))",
                "message": "tag keys starting with iot.awscc.io/ are reserved for the operator and aws: (in any case) for AWS"
            }]
        )
    )]
    pub tags: Option<Vec<Tag>>,

    /// ARNs of the targets the profile is attached to: thing groups
    /// (arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME), all/registered-things or all/unregistered-things.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100), extend("x-kubernetes-list-type" = "set", "items" = {
        "type": "string",
        "maxLength": 2048,
        "pattern": "^arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:(thinggroup/[a-zA-Z0-9:_-]+|all/registered-things|all/unregistered-things)$"
    }))]
    pub target_arns: Option<Vec<String>>,

    /// What happens in AWS when this resource is deleted: Delete the profile, or Retain it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Whether a profile that already exists in AWS without ownership tags may be adopted.
    #[serde(default)]
    pub adoption_policy: AdoptionPolicy,

    /// Manage the profile, or only Observe it (never write to AWS).
    #[serde(default)]
    pub management_policy: ManagementPolicy,

    /// Report the profile's active violations in `status.violations` (read from AWS's
    /// ListActiveViolations at the resync pace). Off unless set here or by the operator's
    /// `--report-violations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<ViolationsSpec>,
}

/// Whether and how the operator reports a profile's active violations.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ViolationsSpec {
    /// Read this profile's active violations into `status.violations`. Unset: the operator's
    /// `--report-violations` decides (off by default); `false` opts out even when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<bool>,
    /// Count violations of behaviors whose alerts are suppressed too (ListActiveViolations'
    /// `listSuppressedAlerts`). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_suppressed_alerts: Option<bool>,
}

/// A behavior: a metric, its dimension and the criteria that define normal.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.criteria) || has(self.criteria.mlDetectionConfig) || has(self.metric)",
    "message": "a rule-based behavior (criteria without mlDetectionConfig) requires a metric",
    "fieldPath": ".metric",
    "reason": "FieldValueRequired"
}]))]
pub struct Behavior {
    /// The name for the behavior.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-zA-Z0-9:_-]+$"))]
    pub name: String,
    /// What is measured by the behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub metric: Option<String>,
    /// The dimension of the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_dimension: Option<MetricDimension>,
    /// The criteria by which the behavior is determined to be normal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criteria: Option<BehaviorCriteria>,
    /// Suppress alert notifications for this behavior (evaluation continues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_alerts: Option<bool>,
    /// Export the metric of this behavior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_metric: Option<bool>,
}

/// The dimension of a metric.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricDimension {
    /// The name of the dimension.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-zA-Z0-9:_-]+$"))]
    pub dimension_name: String,
    /// How the dimension's values are interpreted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<DimensionOperator>,
}

/// How the values of a dimension are interpreted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DimensionOperator {
    In,
    NotIn,
}

/// The criteria by which a behavior is determined to be normal: rule-based (a comparisonOperator
/// and exactly one of value or statisticalThreshold) or ML Detect (mlDetectionConfig, which
/// learns the threshold, so none of those three).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(self.mlDetectionConfig) || !has(self.comparisonOperator)",
        "message": "criteria with mlDetectionConfig cannot set comparisonOperator: ML Detect learns the threshold",
        "fieldPath": ".comparisonOperator",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "!has(self.mlDetectionConfig) || !has(self.value)",
        "message": "criteria with mlDetectionConfig cannot set value: ML Detect learns the threshold",
        "fieldPath": ".value",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "!has(self.mlDetectionConfig) || !has(self.statisticalThreshold)",
        "message": "criteria with mlDetectionConfig cannot set statisticalThreshold: ML Detect learns the threshold",
        "fieldPath": ".statisticalThreshold",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "has(self.mlDetectionConfig) || has(self.comparisonOperator)",
        "message": "rule-based criteria (without mlDetectionConfig) require a comparisonOperator",
        "fieldPath": ".comparisonOperator",
        "reason": "FieldValueRequired"
    },
    {
        "rule": "has(self.mlDetectionConfig) || has(self.value) || has(self.statisticalThreshold)",
        "message": "rule-based criteria (without mlDetectionConfig) require value or statisticalThreshold",
        "fieldPath": ".value",
        "reason": "FieldValueRequired"
    },
    {
        "rule": "has(self.mlDetectionConfig) || !has(self.value) || !has(self.statisticalThreshold)",
        "message": "rule-based criteria take exactly one of value or statisticalThreshold, not both",
        "fieldPath": ".statisticalThreshold",
        "reason": "FieldValueForbidden"
    }
]))]
pub struct BehaviorCriteria {
    /// The operator that relates the metric to the value or statistical threshold (required by
    /// rule-based criteria, forbidden with mlDetectionConfig).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison_operator: Option<ComparisonOperator>,
    /// The value to compare the metric with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<MetricValue>,
    /// The time window, in seconds, over which the behavior is evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i32>,
    /// Consecutive violating datapoints that raise an alarm (1-10, AWS default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub consecutive_datapoints_to_alarm: Option<i32>,
    /// Consecutive compliant datapoints that clear an alarm (1-10, AWS default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub consecutive_datapoints_to_clear: Option<i32>,
    /// A statistical ranking (percentile) used as the threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistical_threshold: Option<StatisticalThreshold>,
    /// ML Detect configuration; cannot be combined with comparisonOperator, value or
    /// statisticalThreshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ml_detection_config: Option<MachineLearningDetectionConfig>,
}

/// Comparison operators of Device Defender behaviors.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ComparisonOperator {
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
    InCidrSet,
    NotInCidrSet,
    InPortSet,
    NotInPortSet,
    InSet,
    NotInSet,
}

/// The value a metric is compared with.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricValue {
    /// An integer to compare numeric metrics with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub count: Option<i64>,
    /// A set of CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(length(min = 2, max = 43), regex(pattern = r"^[a-fA-F0-9:./]+$")))]
    pub cidrs: Option<Vec<String>>,
    /// A set of ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(range(min = 0, max = 65535)))]
    pub ports: Option<Vec<i32>>,
    /// A number to compare numeric metrics with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<f64>,
    /// Numbers to compare numeric metrics with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<f64>>,
    /// Strings to compare string metrics with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strings: Option<Vec<String>>,
}

/// A percentile threshold.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatisticalThreshold {
    /// The percentile that resolves to the threshold value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<Statistic>,
}

/// Percentiles Device Defender accepts as statistical thresholds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Statistic {
    #[serde(rename = "p0")]
    P0,
    #[serde(rename = "p0.1")]
    P0_1,
    #[serde(rename = "p0.01")]
    P0_01,
    #[serde(rename = "p1")]
    P1,
    #[serde(rename = "p10")]
    P10,
    #[serde(rename = "p50")]
    P50,
    #[serde(rename = "p90")]
    P90,
    #[serde(rename = "p99")]
    P99,
    #[serde(rename = "p99.9")]
    P99_9,
    #[serde(rename = "p99.99")]
    P99_99,
    #[serde(rename = "p100")]
    P100,
}

/// ML Detect configuration of a behavior.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachineLearningDetectionConfig {
    /// The sensitivity of anomalous behavior evaluation.
    pub confidence_level: ConfidenceLevel,
}

/// ML Detect sensitivity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConfidenceLevel {
    Low,
    Medium,
    High,
}

/// Destinations of alerts, by type (only SNS exists).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct AlertTargets {
    /// An SNS topic that receives alerts.
    #[serde(rename = "SNS", default, skip_serializing_if = "Option::is_none")]
    pub sns: Option<AlertTarget>,
}

/// An alert destination and the role that may publish to it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertTarget {
    /// The ARN of the notification target (an SNS topic).
    #[schemars(length(max = 2048))]
    pub alert_target_arn: String,
    /// The ARN of the role that grants permission to send alerts to the target.
    #[schemars(length(min = 20, max = 2048))]
    pub role_arn: String,
}

/// A metric retained in addition to those of the behaviors.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricToRetain {
    /// What is measured.
    #[schemars(length(min = 1, max = 128))]
    pub metric: String,
    /// The dimension of the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_dimension: Option<MetricDimension>,
    /// Export the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_metric: Option<bool>,
}

/// Where metrics are exported.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsExportConfig {
    /// The MQTT topic metrics are published to.
    #[schemars(length(min = 1, max = 512))]
    pub mqtt_topic: String,
    /// The ARN of the role that may publish to the topic.
    #[schemars(length(min = 20, max = 2048))]
    pub role_arn: String,
}

/// A tag of the profile in AWS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Tag {
    /// The tag's key: letters, digits, spaces and `_.:/=+-@` (AWS's pattern).
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[\p{L}\p{Z}\p{N}_.:/=+@-]*$")
    )]
    pub key: String,
    /// The tag's value.
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub value: String,
}

/// What deleting the resource does in AWS.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the AWS profile (only if it carries this resource's ownership tags).
    #[default]
    Delete,
    /// Leave the AWS profile in place; only the finalizer is removed.
    Retain,
}

/// Whether an existing, unowned AWS profile of the same name may be taken over.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AdoptionPolicy {
    /// Refuse: Synced=False, reason AlreadyExists.
    #[default]
    None,
    /// Tag it as ours and apply the spec.
    Adopt,
}

/// Whether the operator writes to AWS.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete the profile.
    #[default]
    Manage,
    /// Only read the profile named by the spec and report it in status.
    Observe,
}
