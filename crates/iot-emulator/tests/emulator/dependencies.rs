//! Dimensions and custom metrics through aws-sdk-iot: CRUD, idempotent create, limits, tags,
//! the in-use rule, profiles naming only existing ones, and the shared controls (IAM, faults,
//! quotas, counters, reset).

use crate::common::*;
use aws_sdk_iot::types::{
    Behavior, BehaviorCriteria, ComparisonOperator, CustomMetricType, DimensionType,
    MetricDimension, MetricValue, Tag,
};
use iot_emulator::{Fault, FaultError};
use serde_json::json;

fn battery_behavior(metric: &str) -> Behavior {
    Behavior::builder()
        .name("low-battery")
        .metric(metric)
        .criteria(
            BehaviorCriteria::builder()
                .comparison_operator(ComparisonOperator::LessThan)
                .value(MetricValue::builder().number(20.0).build())
                .build(),
        )
        .build()
        .unwrap()
}

fn with_dimension(dimension: &str) -> Behavior {
    let mut b = behavior("sent", 5);
    b.metric_dimension = Some(
        MetricDimension::builder()
            .dimension_name(dimension)
            .build()
            .unwrap(),
    );
    b
}

#[tokio::test]
async fn dimension_and_custom_metric_lifecycle() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let out = c
        .create_dimension()
        .name("topics")
        .r#type(DimensionType::TopicFilter)
        .string_values("devices/+/auth")
        .tags(Tag::builder().key("team").value("iot").build().unwrap())
        .client_request_token("t1")
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:iot:us-east-1:{ACCOUNT}:dimension/topics");
    assert_eq!(out.arn(), Some(arn.as_str()));
    let again = c
        .create_dimension()
        .name("topics")
        .r#type(DimensionType::TopicFilter)
        .string_values("other")
        .send()
        .await
        .unwrap_err();
    let (code, _, status) = err_of(&again);
    assert_eq!(
        (code.as_str(), status),
        ("ResourceAlreadyExistsException", 409)
    );
    let u = c
        .update_dimension()
        .name("topics")
        .string_values("a/#")
        .string_values("b/#")
        .send()
        .await
        .unwrap();
    assert_eq!(u.string_values(), ["a/#", "b/#"]);
    let d = c.describe_dimension().name("topics").send().await.unwrap();
    assert_eq!(d.r#type(), Some(&DimensionType::TopicFilter));
    assert!(d.last_modified_date() >= d.creation_date());
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);

    let m = c
        .create_custom_metric()
        .metric_name("battery")
        .metric_type(CustomMetricType::Number)
        .display_name("Battery")
        .send()
        .await
        .unwrap();
    assert_eq!(
        m.metric_arn(),
        Some(format!("arn:aws:iot:us-east-1:{ACCOUNT}:custommetric/battery").as_str())
    );
    let um = c
        .update_custom_metric()
        .metric_name("battery")
        .display_name("Battery %")
        .send()
        .await
        .unwrap();
    assert_eq!(um.display_name(), Some("Battery %"));
    assert_eq!(um.metric_type(), Some(&CustomMetricType::Number));
    let listed = c.list_custom_metrics().send().await.unwrap();
    assert_eq!(listed.metric_names(), ["battery"]);
    let listed = c.list_dimensions().send().await.unwrap();
    assert_eq!(listed.dimension_names(), ["topics"]);

    c.delete_custom_metric()
        .metric_name("battery")
        .send()
        .await
        .unwrap();
    c.delete_dimension().name("topics").send().await.unwrap();
    let err = c
        .describe_dimension()
        .name("topics")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);
    c.delete_dimension().name("topics").send().await.unwrap();
    let state = emu.admin().state();
    assert!(state.dimensions.is_empty() && state.custom_metrics.is_empty());
}

#[tokio::test]
async fn profiles_must_name_existing_ones_that_then_cannot_be_deleted() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let create = |b: Behavior| {
        c.create_security_profile()
            .security_profile_name("p")
            .behaviors(b)
            .send()
    };
    for (b, missing) in [
        (battery_behavior("battery"), "custom metric battery"),
        (with_dimension("topics"), "dimension topics"),
    ] {
        let (code, msg, _) = err_of(&create(b).await.unwrap_err());
        assert_eq!(code, "InvalidRequestException");
        assert_eq!(msg, format!("The {missing} does not exist"));
    }
    emu.admin()
        .put_custom_metric(json!({"metricName": "battery", "metricType": "number"}))
        .unwrap();
    emu.admin()
        .put_dimension(json!({"name": "topics", "stringValues": ["t/#"]}))
        .unwrap();
    create(battery_behavior("battery")).await.unwrap();
    c.update_security_profile()
        .security_profile_name("p")
        .behaviors(battery_behavior("battery"))
        .behaviors(with_dimension("topics"))
        .send()
        .await
        .unwrap();
    let err = c
        .delete_custom_metric()
        .metric_name("battery")
        .send()
        .await
        .unwrap_err();
    let (code, msg, _) = err_of(&err);
    assert_eq!(code, "InvalidRequestException");
    assert!(msg.contains("used by security profiles p"), "{msg}");
    let err = c
        .delete_dimension()
        .name("topics")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "InvalidRequestException");
    assert_eq!(emu.admin().state().dimensions.len(), 1);
    let by_metric = c
        .list_security_profiles()
        .metric_name("battery")
        .send()
        .await
        .unwrap();
    assert_eq!(by_metric.security_profile_identifiers().len(), 1);

    // The switch lets a test accept unknown names, as the reference check is AWS's.
    emu.admin().set_check_references(false);
    c.update_security_profile()
        .security_profile_name("p")
        .behaviors(with_dimension("unknown"))
        .send()
        .await
        .unwrap();
    c.delete_custom_metric()
        .metric_name("battery")
        .send()
        .await
        .unwrap();
    emu.admin().reset();
    let err = create(battery_behavior("battery")).await.unwrap_err();
    assert_eq!(
        err_of(&err).0,
        "InvalidRequestException",
        "reset turns the check back on"
    );
}

#[tokio::test]
async fn limits_iam_faults_and_counters_cover_the_new_operations() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    for i in 0..100 {
        emu.admin()
            .put_custom_metric(json!({"metricName": format!("m{i:03}"), "metricType": "number"}))
            .unwrap();
    }
    let err = c
        .create_custom_metric()
        .metric_name("one-too-many")
        .metric_type(CustomMetricType::Number)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "LimitExceededException");
    let eu = client(&emu, "eu-west-1");
    eu.create_custom_metric()
        .metric_name("one-too-many")
        .metric_type(CustomMetricType::Number)
        .send()
        .await
        .expect("the limit is per region");

    emu.admin()
        .set_iam_policy(
            None,
            &json!({"Statement": [{"Effect": "Allow", "Action": "iot:CreateDimension",
                "Resource": format!("arn:aws:iot:*:{ACCOUNT}:dimension/*"),
                "Condition": {"StringEquals": {"aws:RequestTag/iot.awscc.io/cluster": "x"}}}]}),
        )
        .unwrap();
    let dim = |tag: &'static str| {
        c.create_dimension()
            .name("topics")
            .r#type(DimensionType::TopicFilter)
            .string_values("t/#")
            .tags(
                Tag::builder()
                    .key("iot.awscc.io/cluster")
                    .value(tag)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let (code, msg, _) = err_of(&dim("y").await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(
        msg.contains(&format!(
            "iot:CreateDimension on resource: arn:aws:iot:us-east-1:{ACCOUNT}:dimension/topics"
        )),
        "{msg}"
    );
    dim("x").await.unwrap();
    let err = c.list_dimensions().send().await.unwrap_err();
    assert_eq!(err_of(&err).0, "AccessDeniedException");

    emu.admin().set_iam_allow(vec!["*".into()]);
    emu.admin()
        .inject_fault(Fault::error(
            "ListDimensions",
            FaultError::InternalFailureException,
            1,
        ))
        .unwrap();
    emu.admin().set_quota("DescribeCustomMetric", 0.0).unwrap();
    assert_eq!(
        err_of(&c.list_dimensions().send().await.unwrap_err()).2,
        500
    );
    let err = c
        .describe_custom_metric()
        .metric_name("m000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ThrottlingException");
    let calls = emu.admin().calls();
    assert_eq!(calls["CreateCustomMetric"]["LimitExceededException"], 1);
    assert_eq!(calls["CreateDimension"]["AccessDeniedException"], 1);
    assert_eq!(calls["ListDimensions"]["InternalFailureException"], 1);
    assert_eq!(calls["DescribeCustomMetric"]["ThrottlingException"], 1);
}

/// A behavior whose criteria do not fit its custom metric's type: Validate lists it, and
/// Create/Update refuse it; the same criteria on a metric of the right type pass. Custom
/// metrics of another account or region are not consulted.
#[tokio::test]
async fn criteria_must_fit_the_custom_metrics_type() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    for (name, metric_type) in [("battery", "number"), ("ssids", "string-list")] {
        emu.admin()
            .put_custom_metric(json!({"metricName": name, "metricType": metric_type}))
            .unwrap();
    }
    // less-than with a number: right for `number`, wrong for `string-list`.
    let v = c
        .validate_security_profile_behaviors()
        .behaviors(battery_behavior("battery"))
        .send()
        .await
        .unwrap();
    assert!(v.valid, "{v:?}");
    let v = c
        .validate_security_profile_behaviors()
        .behaviors(battery_behavior("ssids"))
        .send()
        .await
        .unwrap();
    assert!(!v.valid);
    let messages: Vec<&str> = v
        .validation_errors()
        .iter()
        .filter_map(|e| e.error_message())
        .collect();
    assert_eq!(
        messages,
        [
            "Behavior 'low-battery': custom metric ssids is of type string-list; comparisonOperator less-than does not apply to it (use in-set or not-in-set)"
        ]
    );
    let err = c
        .create_security_profile()
        .security_profile_name("p")
        .behaviors(battery_behavior("ssids"))
        .send()
        .await
        .unwrap_err();
    let (code, msg, _) = err_of(&err);
    assert_eq!(code, "InvalidRequestException");
    assert!(
        msg.contains("custom metric ssids is of type string-list"),
        "{msg}"
    );
    c.create_security_profile()
        .security_profile_name("p")
        .behaviors(battery_behavior("battery"))
        .send()
        .await
        .unwrap();
    let err = c
        .update_security_profile()
        .security_profile_name("p")
        .behaviors(battery_behavior("ssids"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "InvalidRequestException");
    assert_eq!(
        emu.admin().state().profiles[0].version,
        1,
        "nothing written"
    );
    // In another region the name is no custom metric of the caller: not judged by type.
    let eu = client(&emu, "eu-west-1");
    let v = eu
        .validate_security_profile_behaviors()
        .behaviors(battery_behavior("ssids"))
        .send()
        .await
        .unwrap();
    assert!(v.valid, "{v:?}");
}
