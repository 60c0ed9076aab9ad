//! IAM identity-policy evaluation through aws-sdk-iot: resource ARNs, tag conditions, PassRole
//! limited to one role, explicit deny, and the admin HTTP form.

use crate::common::*;
use aws_sdk_iot::types::{AlertTarget, AlertTargetType, Tag};
use serde_json::json;

const CLUSTER: &str = "iot.awscc.io/cluster";

/// The policy shape the operator's `iam-policy` prints for cluster "x".
fn policy() -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iot:CreateSecurityProfile"],
         "Resource": format!("arn:aws:iot:*:{ACCOUNT}:securityprofile/*"),
         "Condition": {"StringEquals": {format!("aws:RequestTag/{CLUSTER}"): "x"}}},
        {"Effect": "Allow",
         "Action": ["iot:UpdateSecurityProfile", "iot:DeleteSecurityProfile",
                    "iot:AttachSecurityProfile", "iot:TagResource"],
         "Resource": format!("arn:aws:iot:*:{ACCOUNT}:securityprofile/*"),
         "Condition": {"StringEquals": {format!("aws:ResourceTag/{CLUSTER}"): "x"}}},
        {"Effect": "Allow", "Action": "iot:AttachSecurityProfile",
         "Resource": format!("arn:aws:iot:*:{ACCOUNT}:thinggroup/*")},
        {"Effect": "Allow", "Action": ["iot:Describe*", "iot:List*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole",
         "Resource": format!("arn:aws:iam::{ACCOUNT}:role/allowed"),
         "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}}},
        {"Effect": "Deny", "Action": "iot:DeleteSecurityProfile",
         "Resource": format!("arn:aws:iot:*:{ACCOUNT}:securityprofile/protected")}
    ]})
}

fn tagged(name: &str, cluster: Option<&str>) -> serde_json::Value {
    match cluster {
        Some(c) => json!({"securityProfileName": name, "tags": {CLUSTER: c}}),
        None => json!({"securityProfileName": name}),
    }
}

fn profile_arn(name: &str) -> String {
    format!("arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/{name}")
}

#[tokio::test]
async fn resource_tag_conditions_guard_writes_to_existing_profiles() {
    let emu = start().await;
    let admin = emu.admin();
    for (name, cluster) in [("mine", Some("x")), ("theirs", Some("y")), ("bare", None)] {
        admin.put_profile(tagged(name, cluster)).unwrap();
    }
    admin.set_iam_policy(None, &policy()).unwrap();
    let c = client(&emu, "us-east-1");
    let update = |name: &'static str| {
        c.update_security_profile()
            .security_profile_name(name)
            .security_profile_description("changed")
            .send()
    };
    update("mine").await.unwrap();
    for name in ["theirs", "bare"] {
        let (code, msg, status) = err_of(&update(name).await.unwrap_err());
        assert_eq!((code.as_str(), status), ("AccessDeniedException", 403));
        assert_eq!(
            msg,
            format!(
                "User: arn:aws:iam::{ACCOUNT}:user/AKIDTEST is not authorized to perform: iot:UpdateSecurityProfile on resource: {} because no identity-based policy allows the iot:UpdateSecurityProfile action",
                profile_arn(name)
            )
        );
    }
    // Tagging a profile owned elsewhere is refused too, so ownership cannot be stolen.
    let err = c
        .tag_resource()
        .resource_arn(profile_arn("theirs"))
        .tags(Tag::builder().key(CLUSTER).value("x").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "AccessDeniedException");
    let state = admin.state();
    let find = |n: &str| state.profiles.iter().find(|p| p.name == n).unwrap();
    let versions = [find("mine"), find("theirs"), find("bare")].map(|p| p.version);
    assert_eq!(versions, [2, 1, 1]);
    assert_eq!(find("theirs").tags[CLUSTER], "y");
    assert_eq!(
        admin.calls()["UpdateSecurityProfile"]["AccessDeniedException"],
        2
    );

    // Attach needs the profile and the target: thing groups are allowed, all things not.
    let group = admin.create_thing_group("fleet", "us-east-1").unwrap();
    let attach = |name: &'static str, target: String| {
        c.attach_security_profile()
            .security_profile_name(name)
            .security_profile_target_arn(target)
            .send()
    };
    attach("mine", group.clone()).await.unwrap();
    // The account-wide targets are no resource type of the reference: only the profile is
    // checked (the policy names no all/* resource, and the attach is allowed).
    let all = format!("arn:aws:iot:us-east-1:{ACCOUNT}:all/registered-things");
    attach("mine", all).await.unwrap();
    let (_, msg, _) = err_of(&attach("theirs", group).await.unwrap_err());
    assert!(msg.contains(&profile_arn("theirs")), "{msg}");
}

#[tokio::test]
async fn creates_need_the_request_tag_and_pass_role_is_limited() {
    let emu = start().await;
    emu.admin().set_iam_policy(None, &policy()).unwrap();
    let c = client(&emu, "us-east-1");
    let create = |name: &'static str, cluster: Option<&'static str>, role: Option<&'static str>| {
        let mut b = c.create_security_profile().security_profile_name(name);
        if let Some(v) = cluster {
            b = b.tags(Tag::builder().key(CLUSTER).value(v).build().unwrap());
        }
        if let Some(r) = role {
            b = b.alert_targets(
                AlertTargetType::Sns,
                AlertTarget::builder()
                    .alert_target_arn("arn:aws:sns:us-east-1:123456789012:t")
                    .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{r}"))
                    .build()
                    .unwrap(),
            );
        }
        b.send()
    };
    create("ok", Some("x"), None).await.unwrap();
    create("ok-role", Some("x"), Some("allowed")).await.unwrap();
    for (name, cluster) in [("untagged", None), ("other", Some("y"))] {
        let (code, msg, _) = err_of(&create(name, cluster, None).await.unwrap_err());
        assert_eq!(code, "AccessDeniedException");
        assert!(
            msg.contains("iot:CreateSecurityProfile on resource"),
            "{msg}"
        );
    }
    let (code, msg, _) = err_of(
        &create("bad-role", Some("x"), Some("admin"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, "AccessDeniedException");
    assert!(
        msg.contains(&format!(
            "iam:PassRole on resource: arn:aws:iam::{ACCOUNT}:role/admin because no identity-based policy allows the iam:PassRole action"
        )),
        "{msg}"
    );
    let names: Vec<String> = emu
        .admin()
        .state()
        .profiles
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["ok", "ok-role"]);
}

#[tokio::test]
async fn explicit_deny_wins_and_policies_are_per_account() {
    let emu = start().await;
    let admin = emu.admin();
    admin.put_profile(tagged("protected", Some("x"))).unwrap();
    admin.put_profile(tagged("plain", Some("x"))).unwrap();
    admin.set_iam_policy(None, &policy()).unwrap();
    let c = client(&emu, "us-east-1");
    let delete = |name: &'static str| {
        c.delete_security_profile()
            .security_profile_name(name)
            .send()
    };
    let (code, msg, _) = err_of(&delete("protected").await.unwrap_err());
    assert_eq!(code, "AccessDeniedException");
    assert!(
        msg.ends_with(&format!(
            "iot:DeleteSecurityProfile on resource: {} with an explicit deny in an identity-based policy",
            profile_arn("protected")
        )),
        "{msg}"
    );
    delete("plain").await.unwrap();

    // A policy for another account leaves this one's in force.
    admin
        .set_iam_policy(
            Some("999999999999"),
            &json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
        )
        .unwrap();
    assert_eq!(
        err_of(&delete("protected").await.unwrap_err()).0,
        "AccessDeniedException"
    );

    // The admin HTTP form: a bad document is a 400 naming the problem, GET shows the policy.
    let bad = raw(
        &emu,
        "POST",
        "/_emulator/iam",
        &[],
        r#"{"policy": {"Statement": [{"Effect": "Allow", "Action": "*"}]}}"#,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Resource"), "{}", bad.body);
    let get = raw(&emu, "GET", "/_emulator/iam", &[], "").await.json();
    assert_eq!(get["policy"], policy());
    let ok = raw(&emu, "POST", "/_emulator/iam", &[], r#"{"allow": ["*"]}"#).await;
    assert_eq!(ok.status, 200);
    delete("protected").await.unwrap();
    raw(&emu, "POST", "/_emulator/reset", &[], "").await;
    assert!(
        admin.iam_policy(ACCOUNT).is_none(),
        "reset allows everything again"
    );
}
