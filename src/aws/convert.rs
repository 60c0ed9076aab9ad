//! Spec types <-> aws-sdk-iot types. Enums cross by their wire strings, which the spec's serde
//! names already are, so there is one spelling of each value in the code base.

use crate::api::{
    AlertTarget, AlertTargets, Behavior, BehaviorCriteria, MachineLearningDetectionConfig,
    MetricDimension, MetricToRetain, MetricValue, MetricsExportConfig, StatisticalThreshold,
};
use aws_sdk_iot::error::BuildError;
use aws_sdk_iot::types as sdk;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};

/// A spec value that cannot be expressed as an SDK value (or the reverse).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Build(#[from] BuildError),
    #[error("unknown enum value {0:?} from AWS")]
    UnknownValue(String),
}

fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn from_wire<T: DeserializeOwned>(s: &str) -> Result<T, ConvertError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| ConvertError::UnknownValue(s.to_string()))
}

pub fn dimension_to_sdk(d: &MetricDimension) -> Result<sdk::MetricDimension, ConvertError> {
    Ok(sdk::MetricDimension::builder()
        .dimension_name(&d.dimension_name)
        .set_operator(
            d.operator
                .as_ref()
                .map(|o| sdk::DimensionValueOperator::from(wire(o).as_str())),
        )
        .build()?)
}

pub fn dimension_from_sdk(d: &sdk::MetricDimension) -> Result<MetricDimension, ConvertError> {
    Ok(MetricDimension {
        dimension_name: d.dimension_name.clone(),
        operator: d
            .operator
            .as_ref()
            .map(|o| from_wire(o.as_str()))
            .transpose()?,
    })
}

pub fn behavior_to_sdk(b: &Behavior) -> Result<sdk::Behavior, ConvertError> {
    let criteria = b.criteria.as_ref().map(criteria_to_sdk).transpose()?;
    Ok(sdk::Behavior::builder()
        .name(&b.name)
        .set_metric(b.metric.clone())
        .set_metric_dimension(
            b.metric_dimension
                .as_ref()
                .map(dimension_to_sdk)
                .transpose()?,
        )
        .set_criteria(criteria)
        .set_suppress_alerts(b.suppress_alerts)
        .set_export_metric(b.export_metric)
        .build()?)
}

fn criteria_to_sdk(c: &BehaviorCriteria) -> Result<sdk::BehaviorCriteria, ConvertError> {
    let ml = c
        .ml_detection_config
        .as_ref()
        .map(|m| {
            sdk::MachineLearningDetectionConfig::builder()
                .confidence_level(sdk::ConfidenceLevel::from(
                    wire(&m.confidence_level).as_str(),
                ))
                .build()
        })
        .transpose()?;
    Ok(sdk::BehaviorCriteria::builder()
        .set_comparison_operator(
            c.comparison_operator
                .as_ref()
                .map(|o| sdk::ComparisonOperator::from(wire(o).as_str())),
        )
        .set_value(c.value.as_ref().map(|v| {
            sdk::MetricValue::builder()
                .set_count(v.count)
                .set_cidrs(v.cidrs.clone())
                .set_ports(v.ports.clone())
                .set_number(v.number)
                .set_numbers(v.numbers.clone())
                .set_strings(v.strings.clone())
                .build()
        }))
        .set_duration_seconds(c.duration_seconds)
        .set_consecutive_datapoints_to_alarm(c.consecutive_datapoints_to_alarm)
        .set_consecutive_datapoints_to_clear(c.consecutive_datapoints_to_clear)
        .set_statistical_threshold(c.statistical_threshold.as_ref().map(|t| {
            sdk::StatisticalThreshold::builder()
                .set_statistic(t.statistic.as_ref().map(wire))
                .build()
        }))
        .set_ml_detection_config(ml)
        .build())
}

pub fn behavior_from_sdk(b: &sdk::Behavior) -> Result<Behavior, ConvertError> {
    Ok(Behavior {
        name: b.name.clone(),
        metric: b.metric.clone(),
        metric_dimension: b
            .metric_dimension
            .as_ref()
            .map(dimension_from_sdk)
            .transpose()?,
        criteria: b.criteria.as_ref().map(criteria_from_sdk).transpose()?,
        suppress_alerts: b.suppress_alerts,
        export_metric: b.export_metric,
    })
}

fn criteria_from_sdk(c: &sdk::BehaviorCriteria) -> Result<BehaviorCriteria, ConvertError> {
    Ok(BehaviorCriteria {
        comparison_operator: c
            .comparison_operator
            .as_ref()
            .map(|o| from_wire(o.as_str()))
            .transpose()?,
        value: c.value.as_ref().map(|v| MetricValue {
            count: v.count,
            cidrs: v.cidrs.clone(),
            ports: v.ports.clone(),
            number: v.number,
            numbers: v.numbers.clone(),
            strings: v.strings.clone(),
        }),
        duration_seconds: c.duration_seconds,
        consecutive_datapoints_to_alarm: c.consecutive_datapoints_to_alarm,
        consecutive_datapoints_to_clear: c.consecutive_datapoints_to_clear,
        statistical_threshold: c
            .statistical_threshold
            .as_ref()
            .map(|t| -> Result<_, ConvertError> {
                Ok(StatisticalThreshold {
                    statistic: t.statistic.as_deref().map(from_wire).transpose()?,
                })
            })
            .transpose()?,
        ml_detection_config: c
            .ml_detection_config
            .as_ref()
            .map(|m| -> Result<_, ConvertError> {
                Ok(MachineLearningDetectionConfig {
                    confidence_level: from_wire(m.confidence_level.as_str())?,
                })
            })
            .transpose()?,
    })
}

pub fn alert_targets_to_sdk(
    a: &AlertTargets,
) -> Result<HashMap<sdk::AlertTargetType, sdk::AlertTarget>, ConvertError> {
    let mut map = HashMap::new();
    if let Some(sns) = &a.sns {
        map.insert(
            sdk::AlertTargetType::Sns,
            sdk::AlertTarget::builder()
                .alert_target_arn(&sns.alert_target_arn)
                .role_arn(&sns.role_arn)
                .build()?,
        );
    }
    Ok(map)
}

pub fn alert_targets_from_sdk(
    map: &HashMap<sdk::AlertTargetType, sdk::AlertTarget>,
) -> Option<AlertTargets> {
    map.get(&sdk::AlertTargetType::Sns).map(|t| AlertTargets {
        sns: Some(AlertTarget {
            alert_target_arn: t.alert_target_arn.clone(),
            role_arn: t.role_arn.clone(),
        }),
    })
}

pub fn metric_to_sdk(m: &MetricToRetain) -> Result<sdk::MetricToRetain, ConvertError> {
    Ok(sdk::MetricToRetain::builder()
        .metric(&m.metric)
        .set_metric_dimension(
            m.metric_dimension
                .as_ref()
                .map(dimension_to_sdk)
                .transpose()?,
        )
        .set_export_metric(m.export_metric)
        .build()?)
}

pub fn metric_from_sdk(m: &sdk::MetricToRetain) -> Result<MetricToRetain, ConvertError> {
    Ok(MetricToRetain {
        metric: m.metric.clone(),
        metric_dimension: m
            .metric_dimension
            .as_ref()
            .map(dimension_from_sdk)
            .transpose()?,
        export_metric: m.export_metric,
    })
}

pub fn export_to_sdk(m: &MetricsExportConfig) -> Result<sdk::MetricsExportConfig, ConvertError> {
    Ok(sdk::MetricsExportConfig::builder()
        .mqtt_topic(&m.mqtt_topic)
        .role_arn(&m.role_arn)
        .build()?)
}

pub fn export_from_sdk(m: &sdk::MetricsExportConfig) -> MetricsExportConfig {
    MetricsExportConfig {
        mqtt_topic: m.mqtt_topic.clone(),
        role_arn: m.role_arn.clone(),
    }
}

pub fn tags_to_sdk(tags: &BTreeMap<String, String>) -> Result<Vec<sdk::Tag>, ConvertError> {
    tags.iter()
        .map(|(k, v)| Ok(sdk::Tag::builder().key(k).value(v).build()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ComparisonOperator, ConfidenceLevel, DimensionOperator, Statistic};

    #[test]
    fn behaviors_round_trip_through_the_sdk_types() {
        let b = Behavior {
            name: "b1".into(),
            metric: Some("aws:message-byte-size".into()),
            metric_dimension: Some(MetricDimension {
                dimension_name: "TopicFilter".into(),
                operator: Some(DimensionOperator::NotIn),
            }),
            criteria: Some(BehaviorCriteria {
                comparison_operator: Some(ComparisonOperator::NotInCidrSet),
                value: Some(MetricValue {
                    count: Some(3),
                    cidrs: Some(vec!["10.0.0.0/8".into()]),
                    ports: Some(vec![443]),
                    number: Some(1.5),
                    numbers: Some(vec![2.5]),
                    strings: Some(vec!["x".into()]),
                }),
                duration_seconds: Some(300),
                consecutive_datapoints_to_alarm: Some(2),
                consecutive_datapoints_to_clear: Some(3),
                statistical_threshold: Some(StatisticalThreshold {
                    statistic: Some(Statistic::P99_9),
                }),
                ml_detection_config: None,
            }),
            suppress_alerts: Some(true),
            export_metric: Some(false),
        };
        let sdk = behavior_to_sdk(&b).unwrap();
        assert_eq!(
            sdk.criteria()
                .unwrap()
                .comparison_operator()
                .unwrap()
                .as_str(),
            "not-in-cidr-set"
        );
        assert_eq!(
            sdk.criteria()
                .unwrap()
                .statistical_threshold()
                .unwrap()
                .statistic(),
            Some("p99.9")
        );
        assert_eq!(behavior_from_sdk(&sdk).unwrap(), b);

        let ml = Behavior {
            name: "ml".into(),
            criteria: Some(BehaviorCriteria {
                ml_detection_config: Some(MachineLearningDetectionConfig {
                    confidence_level: ConfidenceLevel::High,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            behavior_from_sdk(&behavior_to_sdk(&ml).unwrap()).unwrap(),
            ml
        );
    }

    #[test]
    fn unknown_enum_values_from_aws_are_errors_not_panics() {
        let sdk = sdk::MetricDimension::builder()
            .dimension_name("d")
            .operator(sdk::DimensionValueOperator::from("SOMETHING_NEW"))
            .build()
            .unwrap();
        assert!(matches!(
            dimension_from_sdk(&sdk),
            Err(ConvertError::UnknownValue(_))
        ));
    }
}
