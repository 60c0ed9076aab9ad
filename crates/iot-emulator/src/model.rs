//! The emulator's stored resources and the JSON snapshot the admin API returns.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The operations the emulator serves: Device Defender's security profiles, dimensions and
/// custom metrics (rest-json), and STS's role operations (awsQuery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    CreateSecurityProfile,
    DescribeSecurityProfile,
    UpdateSecurityProfile,
    DeleteSecurityProfile,
    ListSecurityProfiles,
    AttachSecurityProfile,
    DetachSecurityProfile,
    ListTargetsForSecurityProfile,
    ListSecurityProfilesForTarget,
    ValidateSecurityProfileBehaviors,
    TagResource,
    UntagResource,
    ListTagsForResource,
    CreateDimension,
    DescribeDimension,
    UpdateDimension,
    DeleteDimension,
    ListDimensions,
    CreateCustomMetric,
    DescribeCustomMetric,
    UpdateCustomMetric,
    DeleteCustomMetric,
    ListCustomMetrics,
    ListActiveViolations,
    AssumeRole,
    AssumeRoleWithWebIdentity,
    GetCallerIdentity,
}

impl Op {
    pub const ALL: [Op; 27] = [
        Op::CreateSecurityProfile,
        Op::DescribeSecurityProfile,
        Op::UpdateSecurityProfile,
        Op::DeleteSecurityProfile,
        Op::ListSecurityProfiles,
        Op::AttachSecurityProfile,
        Op::DetachSecurityProfile,
        Op::ListTargetsForSecurityProfile,
        Op::ListSecurityProfilesForTarget,
        Op::ValidateSecurityProfileBehaviors,
        Op::TagResource,
        Op::UntagResource,
        Op::ListTagsForResource,
        Op::CreateDimension,
        Op::DescribeDimension,
        Op::UpdateDimension,
        Op::DeleteDimension,
        Op::ListDimensions,
        Op::CreateCustomMetric,
        Op::DescribeCustomMetric,
        Op::UpdateCustomMetric,
        Op::DeleteCustomMetric,
        Op::ListCustomMetrics,
        Op::ListActiveViolations,
        Op::AssumeRole,
        Op::AssumeRoleWithWebIdentity,
        Op::GetCallerIdentity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::CreateSecurityProfile => "CreateSecurityProfile",
            Op::DescribeSecurityProfile => "DescribeSecurityProfile",
            Op::UpdateSecurityProfile => "UpdateSecurityProfile",
            Op::DeleteSecurityProfile => "DeleteSecurityProfile",
            Op::ListSecurityProfiles => "ListSecurityProfiles",
            Op::AttachSecurityProfile => "AttachSecurityProfile",
            Op::DetachSecurityProfile => "DetachSecurityProfile",
            Op::ListTargetsForSecurityProfile => "ListTargetsForSecurityProfile",
            Op::ListSecurityProfilesForTarget => "ListSecurityProfilesForTarget",
            Op::ValidateSecurityProfileBehaviors => "ValidateSecurityProfileBehaviors",
            Op::TagResource => "TagResource",
            Op::UntagResource => "UntagResource",
            Op::ListTagsForResource => "ListTagsForResource",
            Op::CreateDimension => "CreateDimension",
            Op::DescribeDimension => "DescribeDimension",
            Op::UpdateDimension => "UpdateDimension",
            Op::DeleteDimension => "DeleteDimension",
            Op::ListDimensions => "ListDimensions",
            Op::CreateCustomMetric => "CreateCustomMetric",
            Op::DescribeCustomMetric => "DescribeCustomMetric",
            Op::UpdateCustomMetric => "UpdateCustomMetric",
            Op::DeleteCustomMetric => "DeleteCustomMetric",
            Op::ListCustomMetrics => "ListCustomMetrics",
            Op::ListActiveViolations => "ListActiveViolations",
            Op::AssumeRole => "AssumeRole",
            Op::AssumeRoleWithWebIdentity => "AssumeRoleWithWebIdentity",
            Op::GetCallerIdentity => "GetCallerIdentity",
        }
    }

    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// A stored security profile with everything DescribeSecurityProfile returns plus its
/// targets and tags; serialized as one entry of `GET /_emulator/state`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub region: String,
    #[serde(rename = "securityProfileName")]
    pub name: String,
    #[serde(rename = "securityProfileArn")]
    pub arn: String,
    pub version: i64,
    #[serde(
        rename = "securityProfileDescription",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub behaviors: Option<Vec<Value>>,
    #[serde(
        rename = "alertTargets",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub alert_targets: Option<Value>,
    #[serde(
        rename = "additionalMetricsToRetain",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub additional_metrics: Option<Vec<Value>>,
    #[serde(
        rename = "additionalMetricsToRetainV2",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub additional_metrics_v2: Option<Vec<Value>>,
    #[serde(
        rename = "metricsExportConfig",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub metrics_export_config: Option<Value>,
    /// Epoch seconds.
    #[serde(rename = "creationDate")]
    pub creation_date: f64,
    /// Epoch seconds.
    #[serde(rename = "lastModifiedDate")]
    pub last_modified_date: f64,
    /// Attached target ARNs, kept sorted (the order ListTargetsForSecurityProfile pages in).
    pub targets: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl Profile {
    /// The DescribeSecurityProfile / UpdateSecurityProfile response body.
    pub fn describe(&self) -> Value {
        let mut m = Map::new();
        m.insert("securityProfileName".into(), self.name.clone().into());
        m.insert("securityProfileArn".into(), self.arn.clone().into());
        if let Some(d) = &self.description {
            m.insert("securityProfileDescription".into(), d.clone().into());
        }
        if let Some(b) = &self.behaviors {
            m.insert("behaviors".into(), Value::Array(b.clone()));
        }
        if let Some(a) = &self.alert_targets {
            m.insert("alertTargets".into(), a.clone());
        }
        if let Some(a) = &self.additional_metrics {
            m.insert("additionalMetricsToRetain".into(), Value::Array(a.clone()));
        }
        match (&self.additional_metrics_v2, &self.additional_metrics) {
            (Some(a), _) => {
                m.insert(
                    "additionalMetricsToRetainV2".into(),
                    Value::Array(a.clone()),
                );
            }
            // A profile written with the deprecated v1 list also reads as its V2 equivalent.
            (None, Some(v1)) => {
                let v2 = v1
                    .iter()
                    .map(|metric| serde_json::json!({ "metric": metric }))
                    .collect();
                m.insert("additionalMetricsToRetainV2".into(), Value::Array(v2));
            }
            (None, None) => {}
        }
        if let Some(c) = &self.metrics_export_config {
            m.insert("metricsExportConfig".into(), c.clone());
        }
        m.insert("version".into(), self.version.into());
        m.insert("creationDate".into(), self.creation_date.into());
        m.insert("lastModifiedDate".into(), self.last_modified_date.into());
        Value::Object(m)
    }

    /// Sets the attributes present in `body` (Create/Update/admin edits share this). A JSON
    /// null clears the attribute, which only the admin API uses.
    pub fn apply_attributes(&mut self, body: &Value) {
        fn list(v: &Value) -> Option<Vec<Value>> {
            v.as_array().cloned()
        }
        fn opt(v: &Value) -> Option<Value> {
            (!v.is_null()).then(|| v.clone())
        }
        if let Some(v) = body.get("securityProfileDescription") {
            self.description = v.as_str().map(str::to_string);
        }
        if let Some(v) = body.get("behaviors") {
            self.behaviors = list(v);
        }
        if let Some(v) = body.get("alertTargets") {
            self.alert_targets = opt(v);
        }
        if let Some(v) = body.get("additionalMetricsToRetain") {
            self.additional_metrics = list(v);
        }
        if let Some(v) = body.get("additionalMetricsToRetainV2") {
            self.additional_metrics_v2 = list(v);
        }
        if let Some(v) = body.get("metricsExportConfig") {
            self.metrics_export_config = opt(v);
        }
    }
}

/// A thing group created through the admin API (the only way targets come into being).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThingGroup {
    pub name: String,
    pub arn: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub region: String,
    /// Its tags, for `aws:ResourceTag` on Attach/Detach (set through the admin API).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// A Device Defender dimension (type TOPIC_FILTER), as `GET /_emulator/state` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "stringValues")]
    pub string_values: Vec<Value>,
    #[serde(rename = "creationDate")]
    pub creation_date: f64,
    #[serde(rename = "lastModifiedDate")]
    pub last_modified_date: f64,
    pub tags: BTreeMap<String, String>,
    /// The idempotency token of the create; a retry with the same token succeeds.
    #[serde(rename = "clientRequestToken", default)]
    pub client_request_token: String,
}

impl Dimension {
    /// The DescribeDimension / UpdateDimension response body.
    pub fn describe(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "arn": self.arn,
            "type": self.kind,
            "stringValues": self.string_values,
            "creationDate": self.creation_date,
            "lastModifiedDate": self.last_modified_date,
        })
    }
}

/// A Device Defender custom metric, as `GET /_emulator/state` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomMetric {
    #[serde(rename = "accountId")]
    pub account_id: String,
    pub region: String,
    #[serde(rename = "metricName")]
    pub name: String,
    #[serde(rename = "metricArn")]
    pub arn: String,
    #[serde(rename = "metricType")]
    pub metric_type: String,
    #[serde(
        rename = "displayName",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub display_name: Option<String>,
    #[serde(rename = "creationDate")]
    pub creation_date: f64,
    #[serde(rename = "lastModifiedDate")]
    pub last_modified_date: f64,
    pub tags: BTreeMap<String, String>,
    #[serde(rename = "clientRequestToken", default)]
    pub client_request_token: String,
}

impl CustomMetric {
    /// The DescribeCustomMetric / UpdateCustomMetric response body.
    pub fn describe(&self) -> Value {
        let mut v = serde_json::json!({
            "metricName": self.name,
            "metricArn": self.arn,
            "metricType": self.metric_type,
            "creationDate": self.creation_date,
            "lastModifiedDate": self.last_modified_date,
        });
        if let Some(d) = &self.display_name {
            v["displayName"] = Value::String(d.clone());
        }
        v
    }
}

/// The JSON of `GET /_emulator/state`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub profiles: Vec<Profile>,
    #[serde(rename = "thingGroups")]
    pub thing_groups: Vec<ThingGroup>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(rename = "customMetrics", default)]
    pub custom_metrics: Vec<CustomMetric>,
}

/// Builds `arn:aws:iot:REGION:ACCOUNT:securityprofile/NAME`.
/// The ARN of a thing (what ListActiveViolations naming `thingName` is authorized on).
pub fn thing_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:thing/{name}")
}

pub fn profile_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:securityprofile/{name}")
}

/// Builds `arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME`.
pub fn thing_group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:thinggroup/{name}")
}

/// Builds `arn:aws:iot:REGION:ACCOUNT:dimension/NAME`.
pub fn dimension_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:dimension/{name}")
}

/// Builds `arn:aws:iot:REGION:ACCOUNT:custommetric/NAME`.
pub fn custom_metric_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:iot:{region}:{account}:custommetric/{name}")
}

/// The resource part of an IoT ARN, split from its region and account.
#[derive(Debug, PartialEq)]
pub struct IotArn<'a> {
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

/// Parses `arn:aws:iot:REGION:ACCOUNT:RESOURCE`; None when it is not an IoT ARN.
pub fn parse_iot_arn(arn: &str) -> Option<IotArn<'_>> {
    let rest = arn.strip_prefix("arn:aws:iot:")?;
    let mut parts = rest.splitn(3, ':');
    let region = parts.next().filter(|s| !s.is_empty())?;
    let account = parts.next().filter(|s| !s.is_empty())?;
    let resource = parts.next().filter(|s| !s.is_empty())?;
    Some(IotArn {
        region,
        account,
        resource,
    })
}

/// Seconds since the epoch with millisecond precision, as AWS returns timestamps.
pub fn now_epoch() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_millis() as f64) / 1000.0
}
