//! Create / Describe / Update / Delete / List and their validation, through aws-sdk-iot.

use crate::common::*;
use aws_sdk_iot::types::{
    AlertTarget, AlertTargetType, Behavior, BehaviorCriteria, ComparisonOperator, ConfidenceLevel,
    MachineLearningDetectionConfig, MetricDimension, MetricToRetain, MetricValue,
    MetricsExportConfig, Tag,
};
use std::collections::HashSet;

const ROLE: &str = "arn:aws:iam::123456789012:role/iot-defender";

fn sns() -> AlertTarget {
    AlertTarget::builder()
        .alert_target_arn("arn:aws:sns:us-east-1:123456789012:alerts")
        .role_arn(ROLE)
        .build()
        .unwrap()
}

fn export() -> MetricsExportConfig {
    MetricsExportConfig::builder()
        .mqtt_topic("$aws/rules/export")
        .role_arn(ROLE)
        .build()
        .unwrap()
}

fn retain() -> MetricToRetain {
    MetricToRetain::builder()
        .metric("aws:num-messages-received")
        .metric_dimension(
            MetricDimension::builder()
                .dimension_name("TopicFilter")
                .operator(aws_sdk_iot::types::DimensionValueOperator::In)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn create_then_describe_returns_every_attribute() {
    let emu = start().await;
    topic_filter(&emu);
    let c = client(&emu, "us-east-1");
    let out = c
        .create_security_profile()
        .security_profile_name("full")
        .security_profile_description("all fields")
        .behaviors(behavior("sent", 100))
        .alert_targets(AlertTargetType::Sns, sns())
        .additional_metrics_to_retain_v2(retain())
        .metrics_export_config(export())
        .tags(Tag::builder().key("team").value("iot").build().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.security_profile_name(), Some("full"));
    assert_eq!(
        out.security_profile_arn(),
        Some("arn:aws:iot:us-east-1:123456789012:securityprofile/full")
    );

    let d = c
        .describe_security_profile()
        .security_profile_name("full")
        .send()
        .await
        .unwrap();
    assert_eq!(d.version(), 1);
    assert_eq!(d.security_profile_description(), Some("all fields"));
    assert_eq!(d.behaviors(), &[behavior("sent", 100)]);
    assert_eq!(
        d.alert_targets().unwrap().get(&AlertTargetType::Sns),
        Some(&sns())
    );
    assert_eq!(d.additional_metrics_to_retain_v2(), &[retain()]);
    assert_eq!(d.metrics_export_config(), Some(&export()));
    let created = d.creation_date().unwrap();
    assert_eq!(Some(created), d.last_modified_date());
    assert!(created.secs() > 1_700_000_000, "epoch seconds: {created:?}");

    let state = emu.admin().state();
    assert_eq!(state.profiles.len(), 1);
    assert_eq!(
        state.profiles[0].tags.get("team").map(String::as_str),
        Some("iot")
    );
    assert_eq!(state.profiles[0].region, "us-east-1");
    assert_eq!(state.profiles[0].account_id, ACCOUNT);
}

#[tokio::test]
async fn duplicate_create_is_409_with_resource_arn() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let arn = create(&c, "dup").await;
    let err = c
        .create_security_profile()
        .security_profile_name("dup")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceAlreadyExistsException");
    assert_eq!(err_of(&err).2, 409);
    match err.into_service_error() {
        aws_sdk_iot::operation::create_security_profile::CreateSecurityProfileError::ResourceAlreadyExistsException(e) => {
            assert_eq!(e.resource_arn(), Some(arn.as_str()));
            assert_eq!(e.resource_id(), Some("dup"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn describe_missing_is_404() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let err = c
        .describe_security_profile()
        .security_profile_name("nope")
        .send()
        .await
        .unwrap_err();
    let (code, msg, status) = err_of(&err);
    assert_eq!((code.as_str(), status), ("ResourceNotFoundException", 404));
    assert!(msg.contains("nope"), "{msg}");
    assert!(err.into_service_error().is_resource_not_found_exception());
}

/// Each invalid input answers InvalidRequestException (400) naming the offending field.
#[tokio::test]
async fn validation_errors_name_the_field() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let crit = |b: aws_sdk_iot::types::builders::BehaviorCriteriaBuilder| {
        Behavior::builder()
            .name("b")
            .metric("aws:num-messages-sent")
            .criteria(b.build())
            .build()
            .unwrap()
    };
    let base = || BehaviorCriteria::builder().comparison_operator(ComparisonOperator::GreaterThan);
    let cases: Vec<(&str, aws_sdk_iot::operation::create_security_profile::builders::CreateSecurityProfileFluentBuilder)> = vec![
        ("securityProfileName", c.create_security_profile().security_profile_name("has space")),
        ("securityProfileName", c.create_security_profile().security_profile_name("x".repeat(129))),
        (
            "securityProfileDescription",
            c.create_security_profile().security_profile_name("p").security_profile_description("d".repeat(1001)),
        ),
        (
            "behaviors.1.member.criteria.consecutiveDatapointsToAlarm",
            c.create_security_profile().security_profile_name("p").behaviors(crit(
                base().value(MetricValue::builder().count(1).build()).consecutive_datapoints_to_alarm(11),
            )),
        ),
        (
            "behaviors.1.member.criteria.value.ports.1.member",
            c.create_security_profile().security_profile_name("p").behaviors(crit(
                base().value(MetricValue::builder().ports(70000).build()),
            )),
        ),
        (
            "behaviors.1.member.criteria.value.cidrs.1.member",
            c.create_security_profile().security_profile_name("p").behaviors(crit(
                base().value(MetricValue::builder().cidrs("not a cidr").build()),
            )),
        ),
        (
            "behaviors.1.member.criteria.value.count",
            c.create_security_profile().security_profile_name("p").behaviors(crit(
                base().value(MetricValue::builder().count(-1).build()),
            )),
        ),
        (
            "behaviors.1.member.name",
            c.create_security_profile().security_profile_name("p").behaviors(
                Behavior::builder().name("bad name!").build().unwrap(),
            ),
        ),
        (
            "behaviors",
            c.create_security_profile().security_profile_name("p").set_behaviors(Some(
                (0..101).map(|i| behavior(&format!("b{i}"), 1)).collect(),
            )),
        ),
        (
            "alertTargets.SNS.roleArn",
            c.create_security_profile().security_profile_name("p").alert_targets(
                AlertTargetType::Sns,
                AlertTarget::builder().alert_target_arn("arn:sns").role_arn("short").build().unwrap(),
            ),
        ),
        (
            "metricsExportConfig.mqttTopic",
            c.create_security_profile().security_profile_name("p").metrics_export_config(
                MetricsExportConfig::builder().mqtt_topic("").role_arn(ROLE).build().unwrap(),
            ),
        ),
        (
            "tags.1.member.Key",
            c.create_security_profile().security_profile_name("p").tags(Tag::builder().key("").build().unwrap()),
        ),
        (
            "mlDetectionConfig",
            c.create_security_profile().security_profile_name("p").behaviors(crit(
                base()
                    .value(MetricValue::builder().count(1).build())
                    .ml_detection_config(
                        MachineLearningDetectionConfig::builder()
                            .confidence_level(ConfidenceLevel::High)
                            .build()
                            .unwrap(),
                    ),
            )),
        ),
        (
            "more than once",
            c.create_security_profile()
                .security_profile_name("p")
                .behaviors(behavior("same", 1))
                .behaviors(behavior("same", 2)),
        ),
    ];
    for (field, req) in cases {
        let err = req.send().await.unwrap_err();
        let (code, msg, status) = err_of(&err);
        assert_eq!(code, "InvalidRequestException", "{field}: {msg}");
        assert_eq!(status, 400, "{field}");
        assert!(msg.contains(field), "message should name {field}: {msg}");
    }
    assert!(
        emu.admin().state().profiles.is_empty(),
        "nothing was created"
    );
}

#[tokio::test]
async fn update_keeps_fields_it_does_not_name_and_bumps_version() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    c.create_security_profile()
        .security_profile_name("u")
        .security_profile_description("before")
        .behaviors(behavior("b1", 1))
        .metrics_export_config(export())
        .send()
        .await
        .unwrap();
    let u = c
        .update_security_profile()
        .security_profile_name("u")
        .security_profile_description("after")
        .expected_version(1)
        .send()
        .await
        .unwrap();
    assert_eq!(u.version(), 2);
    assert_eq!(u.security_profile_description(), Some("after"));
    assert_eq!(u.behaviors(), &[behavior("b1", 1)]);
    assert_eq!(u.metrics_export_config(), Some(&export()));
    assert!(
        u.last_modified_date().unwrap().as_secs_f64() >= u.creation_date().unwrap().as_secs_f64()
    );

    // Without expectedVersion the update is unconditional.
    let u = c
        .update_security_profile()
        .security_profile_name("u")
        .behaviors(behavior("b2", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(u.version(), 3);
    assert_eq!(u.behaviors(), &[behavior("b2", 2)]);
    assert_eq!(u.security_profile_description(), Some("after"));

    let err = c
        .update_security_profile()
        .security_profile_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);
}

#[tokio::test]
async fn delete_flags_clear_only_their_field() {
    let emu = start().await;
    topic_filter(&emu);
    let c = client(&emu, "us-east-1");
    c.create_security_profile()
        .security_profile_name("f")
        .security_profile_description("keep")
        .behaviors(behavior("b1", 1))
        .alert_targets(AlertTargetType::Sns, sns())
        .additional_metrics_to_retain_v2(retain())
        .metrics_export_config(export())
        .send()
        .await
        .unwrap();
    let d = c
        .update_security_profile()
        .security_profile_name("f")
        .delete_behaviors(true)
        .send()
        .await
        .unwrap();
    assert!(d.behaviors().is_empty());
    assert!(d.alert_targets().is_some());
    let d = c
        .update_security_profile()
        .security_profile_name("f")
        .delete_alert_targets(true)
        .send()
        .await
        .unwrap();
    assert!(d.alert_targets().is_none());
    assert_eq!(d.additional_metrics_to_retain_v2().len(), 1);
    let d = c
        .update_security_profile()
        .security_profile_name("f")
        .delete_additional_metrics_to_retain(true)
        .send()
        .await
        .unwrap();
    assert!(d.additional_metrics_to_retain_v2().is_empty());
    assert!(d.metrics_export_config().is_some());
    let d = c
        .update_security_profile()
        .security_profile_name("f")
        .delete_metrics_export_config(true)
        .send()
        .await
        .unwrap();
    assert!(d.metrics_export_config().is_none());
    assert_eq!(d.security_profile_description(), Some("keep"));
    assert_eq!(d.version(), 5);

    // A flag together with a value for the same field is rejected.
    let err = c
        .update_security_profile()
        .security_profile_name("f")
        .delete_behaviors(true)
        .behaviors(behavior("b1", 1))
        .send()
        .await
        .unwrap_err();
    let (code, msg, _) = err_of(&err);
    assert_eq!(code, "InvalidRequestException");
    assert!(msg.contains("deleteBehaviors"), "{msg}");
}

#[tokio::test]
async fn expected_version_conflicts_on_update_and_delete() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    create(&c, "v").await;
    let err = c
        .update_security_profile()
        .security_profile_name("v")
        .expected_version(7)
        .security_profile_description("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "VersionConflictException");
    assert_eq!(err_of(&err).2, 409);
    assert!(err.into_service_error().is_version_conflict_exception());

    let err = c
        .delete_security_profile()
        .security_profile_name("v")
        .expected_version(2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "VersionConflictException");
    assert_eq!(
        emu.admin().state().profiles.len(),
        1,
        "conflict deletes nothing"
    );

    c.delete_security_profile()
        .security_profile_name("v")
        .expected_version(1)
        .send()
        .await
        .unwrap();
    let err = c
        .describe_security_profile()
        .security_profile_name("v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);
    // Deleting what is gone succeeds (the model lists no ResourceNotFound for Delete).
    c.delete_security_profile()
        .security_profile_name("v")
        .send()
        .await
        .unwrap();
}

async fn list_all(c: &aws_sdk_iot::Client, page: i32) -> Vec<String> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_security_profiles()
            .max_results(page)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(out.security_profile_identifiers().len() <= page as usize);
        names.extend(
            out.security_profile_identifiers()
                .iter()
                .map(|i| i.name().to_string()),
        );
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => return names,
        }
    }
}

#[tokio::test]
async fn pagination_never_repeats_or_skips() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let mut expected = Vec::new();
    for i in 0..23 {
        let name = format!("p{i:02}");
        create(&c, &name).await;
        expected.push(name);
    }
    assert_eq!(list_all(&c, 5).await, expected);
    assert_eq!(list_all(&c, 250).await, expected);

    // Profiles created and deleted between pages do not disturb the ones that stay.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut round = 0;
    loop {
        let out = c
            .list_security_profiles()
            .max_results(4)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            out.security_profile_identifiers()
                .iter()
                .map(|i| i.name().to_string()),
        );
        create(&c, &format!("p{round:02}x")).await;
        c.delete_security_profile()
            .security_profile_name(format!("p{:02}x", round.max(1) - 1))
            .send()
            .await
            .unwrap();
        round += 1;
        match out.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no repeats: {seen:?}");
    for name in &expected {
        assert!(seen.contains(name), "{name} skipped: {seen:?}");
    }

    for bad in [0, 251] {
        let err = c
            .list_security_profiles()
            .max_results(bad)
            .send()
            .await
            .unwrap_err();
        let (code, msg, _) = err_of(&err);
        assert_eq!(code, "InvalidRequestException");
        assert!(msg.contains("maxResults"), "{msg}");
    }
    let err = c
        .list_security_profiles()
        .next_token("forged")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "InvalidRequestException");
}

#[tokio::test]
async fn list_filters_by_dimension_or_metric() {
    let emu = start().await;
    topic_filter(&emu);
    let c = client(&emu, "us-east-1");
    create(&c, "plain").await;
    c.create_security_profile()
        .security_profile_name("dim")
        .additional_metrics_to_retain_v2(retain())
        .send()
        .await
        .unwrap();
    let names =
        |out: aws_sdk_iot::operation::list_security_profiles::ListSecurityProfilesOutput| {
            out.security_profile_identifiers()
                .iter()
                .map(|i| i.name().to_string())
                .collect::<Vec<_>>()
        };
    let by_dim = c
        .list_security_profiles()
        .dimension_name("TopicFilter")
        .send()
        .await
        .unwrap();
    assert_eq!(names(by_dim), ["dim"]);
    let by_metric = c
        .list_security_profiles()
        .metric_name("aws:num-messages-sent")
        .send()
        .await
        .unwrap();
    assert_eq!(names(by_metric), ["plain"]);
    let err = c
        .list_security_profiles()
        .dimension_name("a")
        .metric_name("b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "InvalidRequestException");
}

#[tokio::test]
async fn validate_behaviors_reports_rule_errors_and_rejects_model_errors() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let ok = c
        .validate_security_profile_behaviors()
        .behaviors(behavior("a", 1))
        .send()
        .await
        .unwrap();
    assert!(ok.valid());
    assert!(ok.validation_errors().is_empty());

    let ml = Behavior::builder()
        .name("ml")
        .metric("aws:num-messages-sent")
        .criteria(
            BehaviorCriteria::builder()
                .ml_detection_config(
                    MachineLearningDetectionConfig::builder()
                        .confidence_level(ConfidenceLevel::Low)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    let bad = c
        .validate_security_profile_behaviors()
        .behaviors(behavior("a", 1))
        .behaviors(ml)
        .send()
        .await
        .unwrap();
    assert!(!bad.valid());
    assert_eq!(bad.validation_errors().len(), 1);
    assert!(
        bad.validation_errors()[0]
            .error_message()
            .unwrap()
            .contains("mix")
    );

    let err = c
        .validate_security_profile_behaviors()
        .behaviors(
            Behavior::builder()
                .name("no spaces allowed")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    let (code, msg, _) = err_of(&err);
    assert_eq!(code, "InvalidRequestException");
    assert!(msg.contains("behaviors.1.member.name"), "{msg}");
}
