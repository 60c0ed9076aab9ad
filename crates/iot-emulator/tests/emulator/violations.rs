//! ListActiveViolations and the admin endpoint that raises and clears violations.

use crate::common::*;
use aws_sdk_iot::Client;
use aws_sdk_iot::types::{
    Behavior, BehaviorCriteria, BehaviorCriteriaType, ConfidenceLevel,
    MachineLearningDetectionConfig, StatisticalThreshold, VerificationState,
};
use iot_emulator::Emulator;
use serde_json::json;

fn raise(emu: &Emulator, profile: &str, thing: &str, behavior: &str, time: f64) {
    emu.admin()
        .put_violation(json!({
            "securityProfileName": profile, "thingName": thing, "behaviorName": behavior,
            "value": {"count": 42}, "time": time
        }))
        .expect("raise");
}

/// A profile with a static, a statistical and a suppressed behavior, and `{name}-ml` with an
/// ML Detect one.
async fn four_kinds(c: &Client, name: &str) {
    let statistical = Behavior::builder()
        .name("stat")
        .metric("aws:num-messages-received")
        .criteria(
            BehaviorCriteria::builder()
                .comparison_operator(aws_sdk_iot::types::ComparisonOperator::GreaterThan)
                .statistical_threshold(StatisticalThreshold::builder().statistic("p90").build())
                .duration_seconds(300)
                .build(),
        )
        .build()
        .unwrap();
    let ml = Behavior::builder()
        .name("ml")
        .metric("aws:num-authorization-failures")
        .criteria(
            BehaviorCriteria::builder()
                .ml_detection_config(
                    MachineLearningDetectionConfig::builder()
                        .confidence_level(ConfidenceLevel::High)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    let mut quiet = behavior("quiet", 5);
    quiet.suppress_alerts = Some(true);
    c.create_security_profile()
        .security_profile_name(name)
        .behaviors(behavior("static", 10))
        .behaviors(statistical)
        .behaviors(quiet)
        .send()
        .await
        .unwrap();
    // ML Detect behaviors cannot share a profile with rule-based ones.
    c.create_security_profile()
        .security_profile_name(format!("{name}-ml"))
        .behaviors(ml)
        .send()
        .await
        .unwrap();
}

async fn things(
    c: &Client,
    f: impl Fn(aws_sdk_iot::operation::list_active_violations::builders::ListActiveViolationsFluentBuilder) -> aws_sdk_iot::operation::list_active_violations::builders::ListActiveViolationsFluentBuilder,
) -> Vec<String> {
    let out = f(c.list_active_violations()).send().await.unwrap();
    let mut names: Vec<String> = out
        .active_violations()
        .iter()
        .map(|v| {
            format!(
                "{}/{}",
                v.thing_name().unwrap(),
                v.behavior().unwrap().name()
            )
        })
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn violations_are_listed_with_aws_fields_and_filters() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    four_kinds(&c, "p").await;
    create(&c, "other").await;
    raise(&emu, "p", "t1", "static", 1_700_000_000.0);
    raise(&emu, "p", "t2", "stat", 1_700_000_100.0);
    raise(&emu, "p-ml", "t3", "ml", 1_700_000_200.0);
    raise(&emu, "p", "t4", "quiet", 1_700_000_300.0);
    raise(&emu, "other", "t1", "b1", 1_700_000_400.0);
    emu.admin()
        .put_violation(json!({
            "securityProfileName": "p", "thingName": "t5", "behaviorName": "static",
            "verificationState": "TRUE_POSITIVE"
        }))
        .unwrap();

    let out = c
        .list_active_violations()
        .security_profile_name("p")
        .thing_name("t1")
        .send()
        .await
        .unwrap();
    let [v] = out.active_violations() else {
        panic!("one violation: {out:?}")
    };
    assert_eq!(v.security_profile_name(), Some("p"));
    assert_eq!(
        v.behavior().unwrap().metric(),
        Some("aws:num-messages-sent")
    );
    assert_eq!(v.last_violation_value().unwrap().count(), Some(42));
    assert_eq!(v.last_violation_time().unwrap().secs(), 1_700_000_000);
    assert_eq!(v.violation_start_time().unwrap().secs(), 1_700_000_000);
    assert!(!v.violation_id().unwrap().is_empty());
    assert!(v.violation_event_additional_info().is_none());

    // Suppressed alerts only when asked; profile and thing filters.
    let p = |b: aws_sdk_iot::operation::list_active_violations::builders::ListActiveViolationsFluentBuilder| b.security_profile_name("p");
    assert_eq!(things(&c, p).await, ["t1/static", "t2/stat", "t5/static"]);
    assert_eq!(
        things(&c, |b| p(b).list_suppressed_alerts(true)).await,
        ["t1/static", "t2/stat", "t4/quiet", "t5/static"]
    );
    assert_eq!(
        things(&c, |b| b.thing_name("t1")).await,
        ["t1/b1", "t1/static"]
    );
    assert_eq!(
        things(&c, |b| p(b)
            .behavior_criteria_type(BehaviorCriteriaType::Statistical))
        .await,
        ["t2/stat"]
    );
    assert_eq!(
        things(&c, |b| p(b)
            .behavior_criteria_type(BehaviorCriteriaType::Static))
        .await,
        ["t1/static", "t5/static"]
    );
    let ml = c
        .list_active_violations()
        .behavior_criteria_type(BehaviorCriteriaType::MachineLearning)
        .send()
        .await
        .unwrap();
    let [v] = ml.active_violations() else {
        panic!("{ml:?}")
    };
    assert_eq!(
        v.violation_event_additional_info()
            .unwrap()
            .confidence_level(),
        Some(&ConfidenceLevel::High)
    );
    assert_eq!(
        things(&c, |b| b
            .verification_state(VerificationState::TruePositive))
        .await,
        ["t5/static"]
    );

    // Unknown profile; bad enum.
    let err = c
        .list_active_violations()
        .security_profile_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");
    let bad = raw(
        &emu,
        "GET",
        "/active-violations?behaviorCriteriaType=FUZZY",
        &[("Authorization", &auth("us-east-1"))],
        "",
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("behaviorCriteriaType"), "{}", bad.body);
    assert_eq!(emu.admin().calls()["ListActiveViolations"]["ok"], 8);
}

#[tokio::test]
async fn violations_page_refresh_clear_and_follow_the_profile() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    c.create_security_profile()
        .security_profile_name("p")
        .behaviors(behavior("a", 1))
        .behaviors(behavior("b", 2))
        .send()
        .await
        .unwrap();
    for i in 0..7 {
        raise(
            &emu,
            "p",
            &format!("t{i}"),
            "a",
            1_700_000_000.0 + f64::from(i),
        );
    }
    raise(&emu, "p", "t0", "b", 1_700_000_000.0);

    // Every page of at most 3, each violation once.
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let out = c
            .list_active_violations()
            .security_profile_name("p")
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(out.active_violations().len() <= 3);
        seen.extend(
            out.active_violations()
                .iter()
                .map(|v| v.violation_id().unwrap().to_string()),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (8, 8));

    // Raising again refreshes the value and time, keeps the id and start.
    let before = emu.admin().violations();
    emu.admin()
        .put_violation(json!({
            "securityProfileName": "p", "thingName": "t0", "behaviorName": "a",
            "value": {"count": 99}, "time": 1_800_000_000.0
        }))
        .unwrap();
    let after = emu.admin().violations();
    assert_eq!(after.len(), 8);
    let old = before
        .iter()
        .find(|v| v.thing == "t0" && v.behavior["name"] == "a")
        .unwrap();
    let new = after
        .iter()
        .find(|v| v.thing == "t0" && v.behavior["name"] == "a")
        .unwrap();
    assert_eq!((&new.id, new.start_time), (&old.id, old.start_time));
    assert_eq!(
        (new.last_time, new.value.clone()),
        (1_800_000_000.0, json!({"count": 99}))
    );

    // Clear one behavior of one thing, then all of a thing's.
    let cleared = emu
        .admin()
        .put_violation(json!({"securityProfileName": "p", "thingName": "t1", "behaviorName": "a", "clear": true}))
        .unwrap();
    assert_eq!(cleared, json!({"cleared": 1}));
    let cleared = emu
        .admin()
        .put_violation(json!({"securityProfileName": "p", "thingName": "t0", "clear": true}))
        .unwrap();
    assert_eq!(cleared, json!({"cleared": 2}));
    assert_eq!(emu.admin().violations().len(), 5);

    // An update that drops behavior "a" drops its violations; deleting the profile the rest.
    raise(&emu, "p", "t0", "b", 1_700_000_000.0);
    c.update_security_profile()
        .security_profile_name("p")
        .behaviors(behavior("b", 2))
        .send()
        .await
        .unwrap();
    let left = emu.admin().violations();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].behavior["name"], "b");
    c.delete_security_profile()
        .security_profile_name("p")
        .send()
        .await
        .unwrap();
    assert!(emu.admin().violations().is_empty());

    // The admin endpoint refuses what cannot be: unknown profile or behavior, bad state.
    create(&c, "q").await;
    for body in [
        json!({"securityProfileName": "nope", "thingName": "t", "behaviorName": "b1"}),
        json!({"securityProfileName": "q", "thingName": "t", "behaviorName": "nope"}),
        json!({"securityProfileName": "q", "thingName": "t", "behaviorName": "b1", "verificationState": "MAYBE"}),
    ] {
        let r = raw(
            &emu,
            "POST",
            "/_emulator/violations",
            &[],
            &body.to_string(),
        )
        .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
    }
    let r = raw(
        &emu,
        "POST",
        "/_emulator/violations",
        &[],
        r#"{"securityProfileName": "q", "thingName": "t", "behaviorName": "b1"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["lastViolationValue"], json!({"count": 1}));
    let listed = raw(&emu, "GET", "/_emulator/violations", &[], "")
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    emu.admin().reset();
    assert!(emu.admin().violations().is_empty());
}

#[tokio::test]
async fn list_active_violations_is_authorized_on_the_profile_it_names() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    create(&c, "mine").await;
    create(&c, "theirs").await;
    emu.admin()
        .set_iam_policy(
            None,
            &json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "iot:ListActiveViolations",
                "Resource": "arn:aws:iot:*:123456789012:securityprofile/mine"
            }]}),
        )
        .unwrap();
    c.list_active_violations()
        .security_profile_name("mine")
        .send()
        .await
        .unwrap();
    for denied in [Some("theirs"), None] {
        let err = c
            .list_active_violations()
            .set_security_profile_name(denied.map(str::to_string))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err_of(&err).0, "AccessDeniedException", "{denied:?}");
    }
}
