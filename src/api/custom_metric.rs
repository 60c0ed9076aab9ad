//! `CustomMetric`: the fields of `AWS::IoT::CustomMetric` plus the operator's policies.

use super::resource_status::ResourceStatus;
use super::spec::{AdoptionPolicy, DeletionPolicy, ManagementPolicy, Tag};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Device Defender custom metric, managed in AWS IoT by the operator.
// clippy reads the repeated `type_ = …` of the printcolumn list as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "iot.awscc.io",
    version = "v1alpha1",
    kind = "CustomMetric",
    plural = "custommetrics",
    namespaced,
    status = "ResourceStatus",
    shortname = "iotcm",
    category = "aws",
    category = "iot",
    derive = "PartialEq",
    doc = "CustomMetric manages an AWS IoT Device Defender custom metric that security profiles can name in their behaviors and retained metrics.",
    printcolumn(name = "AWS NAME", type_ = "string", json_path = ".status.awsName"),
    printcolumn(name = "TYPE", type_ = "string", json_path = ".spec.metricType"),
    printcolumn(name = "REGION", type_ = "string", json_path = ".status.region"),
    printcolumn(
        name = "ACCOUNT",
        type_ = "string",
        json_path = ".status.accountId",
        priority = 1
    ),
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
    printcolumn(
        name = "ARN",
        type_ = "string",
        json_path = ".status.arn",
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
        "rule": "!has(oldSelf.metricName) || (has(self.metricName) && self.metricName == oldSelf.metricName)",
        "message": "metricName is immutable once set",
        "fieldPath": ".metricName",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "!has(oldSelf.region) || (has(self.region) && self.region == oldSelf.region)",
        "message": "region is immutable once set",
        "fieldPath": ".region",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "self.metricType == oldSelf.metricType",
        "message": "metricType cannot change after the metric is created",
        "fieldPath": ".metricType",
        "reason": "FieldValueForbidden"
    }
]))]
pub struct CustomMetricSpec {
    /// Name of the custom metric in AWS, as behaviors name it. Defaults to metadata.name, which
    /// must then be a valid AWS name (no dots). Cannot start with aws: (reserved for AWS's
    /// metrics). Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 128),
        regex(pattern = r"^[a-zA-Z0-9:_-]+$"),
        extend("x-kubernetes-validations" = [{
            "rule": "!self.startsWith('aws:')",
            "message": "metric names starting with aws: are reserved for AWS's own metrics"
        }])
    )]
    pub metric_name: Option<String>,

    /// AWS region of the metric. Resolution order when omitted: the namespace annotation
    /// iot.awscc.io/default-region, the operator's --default-region, the AWS SDK default chain.
    /// Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    )]
    pub region: Option<String>,

    /// A friendly name shown in the console; need not be unique, can change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128), regex(pattern = r"^[^\p{Cc}]*$"))]
    pub display_name: Option<String>,

    /// The type of the metric's values. Cannot change after creation.
    pub metric_type: CustomMetricType,

    /// Tags of the metric in AWS. Keys starting with iot.awscc.io/ are reserved for ownership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 50),
        extend(
            "x-kubernetes-list-type" = "map",
            "x-kubernetes-list-map-keys" = ["key"],
            "x-kubernetes-validations" = [{
                "rule": "self.all(t, !t.key.startsWith('iot.awscc.io/') && !t.key.startsWith('aws:'))",
                "message": "tag keys starting with iot.awscc.io/ are reserved for the operator and aws: for AWS"
            }]
        )
    )]
    pub tags: Option<Vec<Tag>>,

    /// What happens in AWS when this resource is deleted: Delete the metric, or Retain it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Whether a metric that already exists in AWS without ownership tags may be adopted.
    #[serde(default)]
    pub adoption_policy: AdoptionPolicy,

    /// Manage the metric, or only Observe it (never write to AWS).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// The type of a custom metric's values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CustomMetricType {
    StringList,
    IpAddressList,
    NumberList,
    Number,
}

impl CustomMetricType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomMetricType::StringList => "string-list",
            CustomMetricType::IpAddressList => "ip-address-list",
            CustomMetricType::NumberList => "number-list",
            CustomMetricType::Number => "number",
        }
    }

    /// The type of a wire value, `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<CustomMetricType> {
        [
            CustomMetricType::StringList,
            CustomMetricType::IpAddressList,
            CustomMetricType::NumberList,
            CustomMetricType::Number,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}
