//! `Dimension`: the fields of `AWS::IoT::Dimension` plus the operator's policies.

use super::resource_status::ResourceStatus;
use super::spec::{AdoptionPolicy, DeletionPolicy, ManagementPolicy, Tag};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Device Defender dimension (a set of MQTT topic filters a behavior's metric is scoped to).
// clippy reads the repeated `type_ = …` of the printcolumn list as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "iot.awscc.io",
    version = "v1alpha1",
    kind = "Dimension",
    plural = "dimensions",
    namespaced,
    status = "ResourceStatus",
    shortname = "iotdim",
    category = "aws",
    category = "iot",
    derive = "PartialEq",
    doc = "Dimension manages an AWS IoT Device Defender dimension (topic filters) that security profile behaviors can be scoped to.",
    printcolumn(name = "AWS NAME", type_ = "string", json_path = ".status.awsName"),
    printcolumn(name = "TYPE", type_ = "string", json_path = ".spec.type"),
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
        "rule": "!has(oldSelf.name) || (has(self.name) && self.name == oldSelf.name)",
        "message": "name is immutable once set",
        "fieldPath": ".name",
        "reason": "FieldValueForbidden"
    },
    {
        "rule": "!has(oldSelf.region) || (has(self.region) && self.region == oldSelf.region)",
        "message": "region is immutable once set",
        "fieldPath": ".region",
        "reason": "FieldValueForbidden"
    }
]))]
pub struct DimensionSpec {
    /// Name of the dimension in AWS, as behaviors' metricDimension.dimensionName names it.
    /// Defaults to metadata.name, which must then be a valid AWS name (no dots). Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[a-zA-Z0-9:_-]+$"))]
    pub name: Option<String>,

    /// AWS region of the dimension. Resolution order when omitted: the namespace annotation
    /// iot.awscc.io/default-region, the operator's --default-region, the AWS SDK default chain.
    /// Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
    )]
    pub region: Option<String>,

    /// The type of the dimension (only TOPIC_FILTER exists).
    #[serde(rename = "type")]
    pub type_: DimensionType,

    /// The MQTT topic filters of the dimension (1-100, each 1-256 characters).
    #[schemars(
        length(min = 1, max = 100),
        inner(length(min = 1, max = 256)),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub string_values: Vec<String>,

    /// Tags of the dimension in AWS. Keys starting with iot.awscc.io/ are reserved for ownership.
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

    /// What happens in AWS when this resource is deleted: Delete the dimension, or Retain it.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// Whether a dimension that already exists in AWS without ownership tags may be adopted.
    #[serde(default)]
    pub adoption_policy: AdoptionPolicy,

    /// Manage the dimension, or only Observe it (never write to AWS).
    #[serde(default)]
    pub management_policy: ManagementPolicy,
}

/// The type of a dimension.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DimensionType {
    #[default]
    #[serde(rename = "TOPIC_FILTER")]
    TopicFilter,
}

impl DimensionType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            DimensionType::TopicFilter => "TOPIC_FILTER",
        }
    }
}
