//! Quotas, injected faults, the IAM allowlist, SigV4 presence, partitioning and call counts.

use crate::common::*;
use aws_sdk_iot::error::SdkError;
use aws_sdk_iot::types::{AlertTarget, AlertTargetType};
use iot_emulator::{EmulatorConfig, Fault, FaultError};
use std::collections::HashMap;
use std::time::Duration;

async fn describe(c: &aws_sdk_iot::Client, name: &str) -> Result<i64, (String, u16)> {
    c.describe_security_profile()
        .security_profile_name(name)
        .send()
        .await
        .map(|d| d.version())
        .map_err(|e| {
            let (code, _, status) = err_of(&e);
            (code, status)
        })
}

#[tokio::test]
async fn tps_quota_answers_throttling() {
    let emu = start_with(EmulatorConfig {
        tps: HashMap::from([("DescribeSecurityProfile".to_string(), 0.01)]),
        ..Default::default()
    })
    .await;
    let c = client(&emu, "us-east-1");
    create(&c, "q").await;
    assert_eq!(
        describe(&c, "q").await,
        Ok(1),
        "the bucket starts with one token"
    );
    assert_eq!(
        describe(&c, "q").await,
        Err(("ThrottlingException".to_string(), 400))
    );
    // Other operations are not limited by this quota.
    create(&c, "q2").await;

    // Run-time quotas: 0 throttles everything; removing it lifts the limit.
    emu.admin().set_quota("CreateSecurityProfile", 0.0).unwrap();
    let err = c
        .create_security_profile()
        .security_profile_name("q3")
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_throttling_exception());
    emu.admin()
        .set_quota("CreateSecurityProfile", None)
        .unwrap();
    create(&c, "q3").await;

    let calls = emu.admin().calls();
    assert_eq!(calls["DescribeSecurityProfile"]["ok"], 1);
    assert_eq!(calls["DescribeSecurityProfile"]["ThrottlingException"], 1);
    assert_eq!(calls["CreateSecurityProfile"]["ok"], 3);
    assert_eq!(calls["CreateSecurityProfile"]["ThrottlingException"], 1);
    assert!(emu.admin().set_quota("NoSuchOperation", 1.0).is_err());
}

#[tokio::test]
async fn default_tps_applies_to_every_operation() {
    let emu = start_with(EmulatorConfig {
        default_tps: Some(0.01),
        ..Default::default()
    })
    .await;
    let c = client(&emu, "us-east-1");
    assert_eq!(
        describe(&c, "x").await,
        Err(("ResourceNotFoundException".into(), 404))
    );
    assert_eq!(
        describe(&c, "x").await,
        Err(("ThrottlingException".into(), 400))
    );
    let err = c.list_security_profiles().send().await.map(|_| ());
    assert!(err.is_ok(), "each operation has its own bucket");
}

#[tokio::test]
async fn counted_and_probability_faults() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    create(&c, "f").await;
    emu.admin()
        .inject_fault(Fault::error(
            "DescribeSecurityProfile",
            FaultError::InternalFailureException,
            2,
        ))
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            describe(&c, "f").await,
            Err(("InternalFailureException".into(), 500))
        );
    }
    assert_eq!(describe(&c, "f").await, Ok(1));

    emu.admin()
        .inject_fault(Fault {
            operation: "*".into(),
            error: Some(FaultError::ThrottlingException),
            delay_ms: None,
            count: None,
            probability: Some(1.0),
        })
        .unwrap();
    assert_eq!(
        describe(&c, "f").await,
        Err(("ThrottlingException".into(), 400))
    );
    let err = c.list_security_profiles().send().await.unwrap_err();
    assert_eq!(err_of(&err).0, "ThrottlingException");
    emu.admin().clear_faults();
    assert_eq!(describe(&c, "f").await, Ok(1));

    let calls = emu.admin().calls();
    assert_eq!(
        calls["DescribeSecurityProfile"]["InternalFailureException"],
        2
    );
    assert_eq!(calls["DescribeSecurityProfile"]["ThrottlingException"], 1);
    assert_eq!(calls["DescribeSecurityProfile"]["ok"], 2);

    let bad = Fault {
        operation: "Nope".into(),
        error: Some(FaultError::Timeout),
        delay_ms: None,
        count: None,
        probability: None,
    };
    assert!(emu.admin().inject_fault(bad).is_err());
}

#[tokio::test]
async fn timeout_fault_holds_the_request() {
    let emu = start().await;
    let c = client_with(&emu, "us-east-1", Some(Duration::from_millis(300)));
    emu.admin()
        .inject_fault(Fault::error(
            "CreateSecurityProfile",
            FaultError::Timeout,
            1,
        ))
        .unwrap();
    let err = c
        .create_security_profile()
        .security_profile_name("held")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(
        emu.admin().state().profiles.is_empty(),
        "a held request is not applied"
    );
    assert_eq!(emu.admin().calls()["CreateSecurityProfile"]["Timeout"], 1);
    // The fault was spent: the next call is served.
    create(&c, "held").await;
}

#[tokio::test]
async fn latency_fault_delays_then_serves_even_if_the_client_gave_up() {
    let emu = start().await;
    let impatient = client_with(&emu, "us-east-1", Some(Duration::from_millis(100)));
    emu.admin()
        .inject_fault(Fault::delay("CreateSecurityProfile", 1000, 1))
        .unwrap();
    let err = impatient
        .create_security_profile()
        .security_profile_name("slow")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    // The server still applies the request once the delay is over.
    let counted = |emu: &iot_emulator::Emulator| {
        emu.admin()
            .calls()
            .get("CreateSecurityProfile")
            .and_then(|m| m.get("ok").copied())
    };
    for _ in 0..100 {
        if counted(&emu).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        counted(&emu),
        Some(1),
        "the delayed create was served and counted"
    );
    assert_eq!(emu.admin().state().profiles[0].name, "slow", "and applied");

    // A patient client sees the normal answer.
    emu.admin()
        .inject_fault(Fault::delay("DescribeSecurityProfile", 50, 1))
        .unwrap();
    let c = client(&emu, "us-east-1");
    assert_eq!(describe(&c, "slow").await, Ok(1));
}

#[tokio::test]
async fn iam_allowlist_denies_other_actions_and_unpassed_roles() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    emu.admin()
        .set_iam_allow(vec!["iot:DescribeSecurityProfile".into()]);
    let err = c
        .create_security_profile()
        .security_profile_name("p")
        .send()
        .await
        .unwrap_err();
    let (code, msg, status) = err_of(&err);
    assert_eq!((code.as_str(), status), ("AccessDeniedException", 403));
    assert!(msg.contains("iot:CreateSecurityProfile"), "{msg}");
    assert_eq!(
        describe(&c, "p").await,
        Err(("ResourceNotFoundException".into(), 404))
    );

    // A roleArn in the request needs iam:PassRole too.
    emu.admin().set_iam_allow(vec!["iot:*".into()]);
    let with_role = || {
        c.create_security_profile()
            .security_profile_name("p")
            .alert_targets(
                AlertTargetType::Sns,
                AlertTarget::builder()
                    .alert_target_arn("arn:aws:sns:us-east-1:123456789012:t")
                    .role_arn("arn:aws:iam::123456789012:role/r")
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let err = with_role().await.unwrap_err();
    let (code, msg, _) = err_of(&err);
    assert_eq!(code, "AccessDeniedException");
    assert!(msg.contains("iam:PassRole"), "{msg}");
    assert!(emu.admin().state().profiles.is_empty());
    create(&c, "no-role").await;

    emu.admin().set_iam_allow(vec![
        "iot:CreateSecurityProfile".into(),
        "iam:PassRole".into(),
    ]);
    with_role().await.unwrap();
    assert_eq!(
        emu.admin().calls()["CreateSecurityProfile"]["AccessDeniedException"],
        2
    );
}

#[tokio::test]
async fn unsigned_requests_are_refused() {
    let emu = start().await;
    let r = raw(&emu, "GET", "/security-profiles", &[], "").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("MissingAuthenticationTokenException")
    );
    assert!(r.json()["message"].is_string());

    let r = raw(
        &emu,
        "GET",
        "/security-profiles",
        &[("Authorization", "AWS4-HMAC-SHA256 Credential=garbage")],
        "",
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("IncompleteSignatureException")
    );

    let signed = auth("us-east-1");
    let r = raw(
        &emu,
        "GET",
        "/security-profiles",
        &[("Authorization", &signed)],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["securityProfileIdentifiers"],
        serde_json::json!([])
    );
    assert!(r.header("x-amzn-RequestId").is_some());
}

#[tokio::test]
async fn state_is_partitioned_by_region_and_account() {
    let emu = start().await;
    let us = client(&emu, "us-east-1");
    let eu = client(&emu, "eu-west-1");
    let arn = create(&us, "shared-name").await;
    assert!(arn.starts_with("arn:aws:iot:us-east-1:"));
    assert_eq!(
        describe(&eu, "shared-name").await,
        Err(("ResourceNotFoundException".into(), 404))
    );
    let eu_arn = create(&eu, "shared-name").await;
    assert_eq!(
        eu_arn,
        format!("arn:aws:iot:eu-west-1:{ACCOUNT}:securityprofile/shared-name")
    );
    eu.update_security_profile()
        .security_profile_name("shared-name")
        .security_profile_description("eu")
        .send()
        .await
        .unwrap();
    assert_eq!(describe(&us, "shared-name").await, Ok(1));
    assert_eq!(describe(&eu, "shared-name").await, Ok(2));

    // A profile of another account is invisible to this emulator's callers.
    emu.admin()
        .put_profile(serde_json::json!({
            "securityProfileName": "other-account",
            "accountId": "999999999999",
        }))
        .unwrap();
    assert_eq!(
        describe(&us, "other-account").await,
        Err(("ResourceNotFoundException".into(), 404))
    );
    let listed = us.list_security_profiles().send().await.unwrap();
    assert_eq!(listed.security_profile_identifiers().len(), 1);
    assert_eq!(emu.admin().state().profiles.len(), 3);
}
