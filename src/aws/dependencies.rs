//! The IoT operations of the resources security profiles name (custom metrics, dimensions),
//! the in-use lookup (`ListSecurityProfiles` by metric or dimension name) and pre-flight
//! validation (`ValidateSecurityProfileBehaviors`); paced and counted like every other call.

use super::client::{Access, Iot, IotError};
use super::convert::{self, ConvertError};
use super::error::ErrorClass;
use crate::api::{Behavior, CustomMetricType, DimensionType};
use crate::reconcile::{CustomMetricAttributes, DimensionAttributes, ResourceObserved};
use aws_sdk_iot::types as sdk;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

/// What the controller of a CustomMetric or Dimension calls, by kind.
pub trait ResourceApi: Sized + Send + Sync {
    /// The kind's AWS noun, for messages ("custom metric").
    const NOUN: &'static str;
    /// Describe + tags; `None` when there is no such resource.
    fn observe(
        iot: &Iot,
        region: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<ResourceObserved<Self>>, IotError>> + Send;
    /// Create with tags; returns the ARN.
    fn create(
        iot: &Iot,
        region: &str,
        name: &str,
        attributes: &Self,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, IotError>> + Send;
    /// Update the attributes AWS lets change.
    fn update(
        iot: &Iot,
        region: &str,
        name: &str,
        attributes: &Self,
    ) -> impl Future<Output = Result<(), IotError>> + Send;
    /// Delete; a resource already gone counts as deleted.
    fn delete(
        iot: &Iot,
        region: &str,
        name: &str,
    ) -> impl Future<Output = Result<(), IotError>> + Send;
    /// The security profiles in AWS that name it.
    fn users(
        iot: &Iot,
        region: &str,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, IotError>> + Send;
}

fn date(d: Option<DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(Format::DateTime).ok())
}

/// Which filter of `ListSecurityProfiles` to use.
#[derive(Clone, Copy, Debug)]
enum UsedBy<'a> {
    Metric(&'a str),
    Dimension(&'a str),
}

impl Iot {
    /// `ListSecurityProfiles` filtered by metric or dimension name, all pages: the profiles
    /// that still use it.
    async fn security_profiles_using(
        &self,
        region: &str,
        used: UsedBy<'_>,
    ) -> Result<Vec<String>, IotError> {
        let client = self.client(region);
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let req = client.list_security_profiles().set_next_token(token);
            let req = match used {
                UsedBy::Metric(m) => req.metric_name(m),
                UsedBy::Dimension(d) => req.dimension_name(d),
            };
            let out = self
                .call(region, "ListSecurityProfiles", Access::Read, req.send())
                .await?;
            names.extend(
                out.security_profile_identifiers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.name),
            );
            token = out.next_token;
            if token.is_none() {
                names.sort();
                return Ok(names);
            }
        }
    }

    /// `ListCustomMetrics`, all pages: the names of the account's custom metrics.
    pub async fn custom_metric_names(&self, region: &str) -> Result<BTreeSet<String>, IotError> {
        let client = self.client(region);
        let (mut names, mut token) = (BTreeSet::new(), None);
        loop {
            let send = client.list_custom_metrics().set_next_token(token).send();
            let out = self
                .call(region, "ListCustomMetrics", Access::Read, send)
                .await?;
            names.extend(out.metric_names.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// `ListDimensions`, all pages: the names of the account's dimensions.
    pub async fn dimension_names(&self, region: &str) -> Result<BTreeSet<String>, IotError> {
        let client = self.client(region);
        let (mut names, mut token) = (BTreeSet::new(), None);
        loop {
            let send = client.list_dimensions().set_next_token(token).send();
            let out = self
                .call(region, "ListDimensions", Access::Read, send)
                .await?;
            names.extend(out.dimension_names.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    /// `ValidateSecurityProfileBehaviors`: AWS's validation errors, none when AWS accepts them.
    pub async fn validate_behaviors(
        &self,
        region: &str,
        behaviors: &[Behavior],
    ) -> Result<Vec<String>, IotError> {
        let behaviors = behaviors
            .iter()
            .map(convert::behavior_to_sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let send = self
            .client(region)
            .validate_security_profile_behaviors()
            .set_behaviors(Some(behaviors))
            .send();
        let out = self
            .call(
                region,
                "ValidateSecurityProfileBehaviors",
                Access::Read,
                send,
            )
            .await?;
        let errors: Vec<String> = out
            .validation_errors
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.error_message.unwrap_or_default())
            .collect();
        if out.valid {
            return Ok(vec![]);
        }
        if errors.is_empty() {
            return Ok(vec![
                "AWS found the behaviors invalid without saying why".into(),
            ]);
        }
        Ok(errors)
    }

    fn not_found_is_none<T>(result: Result<T, IotError>) -> Result<Option<T>, IotError> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.class() == ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn observed<A>(
        &self,
        region: &str,
        described: Option<(String, A, Option<String>, Option<String>)>,
    ) -> Result<Option<ResourceObserved<A>>, IotError> {
        let Some((arn, attributes, creation_date, last_modified_date)) = described else {
            return Ok(None);
        };
        let tags = self.list_tags(region, &arn).await?;
        Ok(Some(ResourceObserved {
            arn,
            attributes,
            tags,
            creation_date,
            last_modified_date,
        }))
    }
}

impl ResourceApi for CustomMetricAttributes {
    const NOUN: &'static str = "custom metric";

    async fn observe(
        iot: &Iot,
        region: &str,
        name: &str,
    ) -> Result<Option<ResourceObserved<Self>>, IotError> {
        let out = iot
            .client(region)
            .describe_custom_metric()
            .metric_name(name)
            .send();
        let described = match Iot::not_found_is_none(
            iot.call(region, "DescribeCustomMetric", Access::Read, out)
                .await,
        )? {
            None => None,
            Some(out) => {
                let wire = out.metric_type.as_ref().map(|t| t.as_str()).unwrap_or("");
                let metric_type = CustomMetricType::parse(wire)
                    .ok_or_else(|| ConvertError::UnknownValue(wire.to_string()))?;
                Some((
                    out.metric_arn.unwrap_or_default(),
                    CustomMetricAttributes::new(out.display_name, metric_type),
                    date(out.creation_date),
                    date(out.last_modified_date),
                ))
            }
        };
        iot.observed(region, described).await
    }

    async fn create(
        iot: &Iot,
        region: &str,
        name: &str,
        attributes: &Self,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, IotError> {
        let tags = convert::tags_to_sdk(tags)?;
        let out = iot
            .client(region)
            .create_custom_metric()
            .metric_name(name)
            .set_display_name(attributes.display_name.clone())
            .metric_type(sdk::CustomMetricType::from(attributes.metric_type.as_str()))
            .set_tags(Some(tags))
            .send();
        let out = iot
            .call(region, "CreateCustomMetric", Access::Write, out)
            .await?;
        Ok(out.metric_arn.unwrap_or_default())
    }

    async fn update(
        iot: &Iot,
        region: &str,
        name: &str,
        attributes: &Self,
    ) -> Result<(), IotError> {
        // The display name is the only mutable field, and required by the operation: an
        // absent one is written as empty.
        let out = iot
            .client(region)
            .update_custom_metric()
            .metric_name(name)
            .display_name(attributes.display_name.clone().unwrap_or_default())
            .send();
        iot.call(region, "UpdateCustomMetric", Access::Write, out)
            .await?;
        Ok(())
    }

    async fn delete(iot: &Iot, region: &str, name: &str) -> Result<(), IotError> {
        let out = iot
            .client(region)
            .delete_custom_metric()
            .metric_name(name)
            .send();
        Iot::not_found_is_none(
            iot.call(region, "DeleteCustomMetric", Access::Write, out)
                .await,
        )?;
        Ok(())
    }

    async fn users(iot: &Iot, region: &str, name: &str) -> Result<Vec<String>, IotError> {
        iot.security_profiles_using(region, UsedBy::Metric(name))
            .await
    }
}

impl ResourceApi for DimensionAttributes {
    const NOUN: &'static str = "dimension";

    async fn observe(
        iot: &Iot,
        region: &str,
        name: &str,
    ) -> Result<Option<ResourceObserved<Self>>, IotError> {
        let out = iot.client(region).describe_dimension().name(name).send();
        let described = match Iot::not_found_is_none(
            iot.call(region, "DescribeDimension", Access::Read, out)
                .await,
        )? {
            None => None,
            Some(out) => {
                let wire = out.r#type.as_ref().map(|t| t.as_str()).unwrap_or("");
                if wire != DimensionType::TopicFilter.as_str() {
                    return Err(ConvertError::UnknownValue(wire.to_string()).into());
                }
                Some((
                    out.arn.unwrap_or_default(),
                    DimensionAttributes::new(
                        DimensionType::TopicFilter,
                        out.string_values.unwrap_or_default(),
                    ),
                    date(out.creation_date),
                    date(out.last_modified_date),
                ))
            }
        };
        iot.observed(region, described).await
    }

    async fn create(
        iot: &Iot,
        region: &str,
        name: &str,
        attributes: &Self,
        tags: &BTreeMap<String, String>,
    ) -> Result<String, IotError> {
        let tags = convert::tags_to_sdk(tags)?;
        let out = iot
            .client(region)
            .create_dimension()
            .name(name)
            .r#type(sdk::DimensionType::from(attributes.dimension_type.as_str()))
            .set_string_values(Some(attributes.string_values.clone()))
            .set_tags(Some(tags))
            .send();
        let out = iot
            .call(region, "CreateDimension", Access::Write, out)
            .await?;
        Ok(out.arn.unwrap_or_default())
    }

    async fn update(
        iot: &Iot,
        region: &str,
        name: &str,
        attributes: &Self,
    ) -> Result<(), IotError> {
        let out = iot
            .client(region)
            .update_dimension()
            .name(name)
            .set_string_values(Some(attributes.string_values.clone()))
            .send();
        iot.call(region, "UpdateDimension", Access::Write, out)
            .await?;
        Ok(())
    }

    async fn delete(iot: &Iot, region: &str, name: &str) -> Result<(), IotError> {
        let out = iot.client(region).delete_dimension().name(name).send();
        Iot::not_found_is_none(
            iot.call(region, "DeleteDimension", Access::Write, out)
                .await,
        )?;
        Ok(())
    }

    async fn users(iot: &Iot, region: &str, name: &str) -> Result<Vec<String>, IotError> {
        iot.security_profiles_using(region, UsedBy::Dimension(name))
            .await
    }
}
