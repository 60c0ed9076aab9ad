//! STS through aws-sdk-sts: roles from the admin API, trust and external id checks, the keys
//! handed out acting in the role's account, the lifetime override and expired keys.

use crate::common::*;
use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iot::error::ProvideErrorMetadata;
use iot_emulator::{Emulator, Role};
use serde_json::json;

const ROLE_A: &str = "arn:aws:iam::111111111111:role/tenant-a";

fn sts(emu: &Emulator, creds: Credentials) -> aws_sdk_sts::Client {
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(emu.url())
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .build();
    aws_sdk_sts::Client::from_conf(conf)
}

fn static_creds() -> Credentials {
    Credentials::new("AKIDTEST", "secret", None, None, "test")
}

fn iot_with(emu: &Emulator, creds: Credentials) -> aws_sdk_iot::Client {
    let conf = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(emu.url())
        .region(Region::new("us-east-1"))
        .credentials_provider(creds)
        .retry_config(aws_sdk_iot::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_iot::Client::from_conf(conf)
}

async fn assume(
    emu: &Emulator,
    caller: Credentials,
    external_id: Option<&str>,
) -> Result<Credentials, (String, String)> {
    let out = sts(emu, caller)
        .assume_role()
        .role_arn(ROLE_A)
        .role_session_name("op")
        .set_external_id(external_id.map(str::to_string))
        .send()
        .await
        .map_err(|e| {
            (
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            )
        })?;
    let c = out.credentials().expect("credentials");
    assert_eq!(
        out.assumed_role_user().map(|u| u.arn()),
        Some("arn:aws:sts::111111111111:assumed-role/tenant-a/op")
    );
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "sts",
    ))
}

fn register(emu: &Emulator) {
    emu.admin().put_role(
        Role::new(
            ROLE_A,
            Some(vec![ACCOUNT.to_string()]),
            Some("ext-a".to_string()),
        )
        .unwrap(),
    );
}

#[tokio::test]
async fn assumed_keys_act_in_the_role_account() {
    let emu = start().await;
    register(&emu);
    let a_creds = assume(&emu, static_creds(), Some("ext-a")).await.unwrap();
    let a = iot_with(&emu, a_creds.clone());
    let own = client(&emu, "us-east-1");
    create(&a, "in-a").await;
    create(&own, "in-own").await;
    let state = emu.admin().state();
    let accounts: Vec<(&str, &str)> = state
        .profiles
        .iter()
        .map(|p| (p.name.as_str(), p.account_id.as_str()))
        .collect();
    assert_eq!(accounts, [("in-a", "111111111111"), ("in-own", ACCOUNT)]);
    let listed = a.list_security_profiles().send().await.unwrap();
    let names: Vec<_> = listed
        .security_profile_identifiers()
        .iter()
        .map(|i| i.arn())
        .collect();
    assert_eq!(
        names,
        ["arn:aws:iot:us-east-1:111111111111:securityprofile/in-a"]
    );

    // Thing groups of the role's account are targets for its keys, not for the own account.
    let group = emu
        .admin()
        .create_thing_group_in("fleet", "us-east-1", "111111111111")
        .unwrap();
    a.attach_security_profile()
        .security_profile_name("in-a")
        .security_profile_target_arn(&group)
        .send()
        .await
        .unwrap();
    let err = own
        .attach_security_profile()
        .security_profile_name("in-own")
        .security_profile_target_arn(&group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");

    let who = sts(&emu, a_creds.clone())
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some("111111111111"));

    // The role account's own IAM policy applies to the assumed keys, not the default one.
    emu.admin()
        .set_iam_policy(
            Some("111111111111"),
            &json!({"Statement": {"Effect": "Allow", "Action": "iot:Describe*", "Resource": "*"}}),
        )
        .unwrap();
    let (code, msg, _) = err_of(
        &a.create_security_profile()
            .security_profile_name("x")
            .send()
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(
        msg.starts_with("User: arn:aws:sts::111111111111:assumed-role/tenant-a/op is not authorized to perform: iot:CreateSecurityProfile on resource: arn:aws:iot:us-east-1:111111111111:securityprofile/x"),
        "{msg}"
    );
    create(&own, "still-allowed").await;
}

#[tokio::test]
async fn unknown_roles_untrusted_callers_and_wrong_external_ids_are_denied() {
    let emu = start().await;
    let (code, msg) = assume(&emu, static_creds(), Some("ext-a"))
        .await
        .unwrap_err();
    assert_eq!(code, "AccessDenied");
    assert_eq!(
        msg,
        format!(
            "User: arn:aws:iam::{ACCOUNT}:user/AKIDTEST is not authorized to perform: sts:AssumeRole on resource: {ROLE_A}"
        )
    );
    register(&emu);
    for ext in [None, Some("wrong")] {
        assert_eq!(
            assume(&emu, static_creds(), ext).await.unwrap_err().0,
            "AccessDenied"
        );
    }
    // The role's own session is a caller of account 111111111111, which the role doesn't trust.
    let a = assume(&emu, static_creds(), Some("ext-a")).await.unwrap();
    assert_eq!(
        assume(&emu, a, Some("ext-a")).await.unwrap_err().0,
        "AccessDenied"
    );
    // An identity policy without sts:AssumeRole refuses before the trust policy is read.
    emu.admin().set_iam_allow(vec!["iot:*".into()]);
    let (code, msg) = assume(&emu, static_creds(), Some("ext-a"))
        .await
        .unwrap_err();
    assert_eq!(code, "AccessDenied");
    assert!(
        msg.contains("no identity-based policy allows the sts:AssumeRole action"),
        "{msg}"
    );
    let calls = emu.admin().calls();
    assert_eq!(calls["AssumeRole"]["ok"], 1);
    assert_eq!(calls["AssumeRole"]["AccessDenied"], 5);
}

#[tokio::test]
async fn expired_keys_answer_expired_token_and_web_identity_works_unsigned() {
    let emu = start().await;
    register(&emu);
    let r = raw(
        &emu,
        "POST",
        "/_emulator/sts",
        &[],
        r#"{"durationSeconds": 0}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let expired = iot_with(
        &emu,
        assume(&emu, static_creds(), Some("ext-a")).await.unwrap(),
    );
    let (code, msg, status) = err_of(&expired.list_security_profiles().send().await.unwrap_err());
    assert_eq!(
        (code.as_str(), msg.as_str(), status),
        (
            "ExpiredTokenException",
            "The security token included in the request is expired",
            403
        )
    );
    assert_eq!(
        emu.admin().calls()["ListSecurityProfiles"]["ExpiredTokenException"],
        1
    );

    raw(
        &emu,
        "POST",
        "/_emulator/sts",
        &[],
        r#"{"durationSeconds": null}"#,
    )
    .await;
    let fresh = iot_with(
        &emu,
        assume(&emu, static_creds(), Some("ext-a")).await.unwrap(),
    );
    fresh.list_security_profiles().send().await.unwrap();
    raw(
        &emu,
        "POST",
        "/_emulator/sts",
        &[],
        r#"{"expireAll": true}"#,
    )
    .await;
    let err = fresh.list_security_profiles().send().await.unwrap_err();
    assert_eq!(err_of(&err).0, "ExpiredTokenException");

    let web = sts(&emu, static_creds())
        .assume_role_with_web_identity()
        .role_arn(ROLE_A)
        .role_session_name("pod")
        .web_identity_token("eyJhbGciOi.token.sig")
        .send()
        .await
        .unwrap();
    let c = web.credentials().unwrap();
    assert!(c.access_key_id().starts_with("ASIA"));
    let who = iot_with(
        &emu,
        Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().into()),
            None,
            "web",
        ),
    );
    create(&who, "via-web").await;
    assert_eq!(emu.admin().state().profiles[0].account_id, "111111111111");

    // Roles through the admin HTTP API; a bad ARN is a 400.
    let bad = raw(
        &emu,
        "POST",
        "/_emulator/roles",
        &[],
        r#"{"roleArn": "nope"}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    let ok = raw(
        &emu,
        "POST",
        "/_emulator/roles",
        &[],
        r#"{"roleArn": "arn:aws:iam::222222222222:role/b"}"#,
    )
    .await;
    assert_eq!(ok.json()["accountId"], "222222222222");
    let roles = raw(&emu, "GET", "/_emulator/roles", &[], "").await.json();
    assert_eq!(roles.as_array().unwrap().len(), 2);
    emu.admin().reset();
    assert!(emu.admin().roles().is_empty());
}
