//! The scoped policy as AWS authorizes it: a request is checked on every resource it touches
//! (the profile, each custom metric and dimension it names, a thing-group target), each with
//! its own tags. The emulator evaluates exactly that; these tests would fail under the policy
//! `iam-policy` printed before (kept in `fixtures/`), which allowed the profile actions on
//! profiles and targets only.

use crate::cluster::{Server, on_both_servers};
use crate::dependencies::{apply, custom_metric, dependent_profile, dimension};
use crate::harness::*;
use aws_sdk_iot::error::ProvideErrorMetadata;
use securityprofile_operator::api::{CustomMetric, Dimension};
use serde_json::{Value, json};

/// What `iam-policy --account … --allowed-role-arns … --cluster-id test-cluster` printed
/// before custom metrics, dimensions and the reference's resource types were taken into account.
const BEFORE: &str = include_str!("fixtures/scoped-policy-before-issue-21.json");

/// No call the emulator refused for IAM.
fn no_access_denied(env: &Env) {
    let denied: Vec<String> = env
        .emulator
        .admin()
        .calls()
        .iter()
        .filter_map(|(op, o)| o.get("AccessDeniedException").map(|n| format!("{op} x{n}")))
        .collect();
    assert!(denied.is_empty(), "refused: {denied:?}");
}

/// Under the scoped policy: a profile using a CustomMetric and a Dimension of this cluster is
/// created, updated, attached, detached and deleted.
async fn a_profile_using_a_custom_metric_and_a_dimension_lives_under_the_scoped_policy(
    server: Server,
) {
    let env = Env::start(server).await;
    let (a, b) = (env.thing_group("fleet-a"), env.thing_group("fleet-b"));
    let _: CustomMetric = apply(&env, custom_metric()).await;
    let _: Dimension = apply(&env, dimension()).await;
    let mut profile = dependent_profile();
    profile["spec"]["targetArns"] = json!([a]);
    env.create_json(profile).await;
    env.wait_ready("battery-watch").await;
    let mut behaviors = dependent_profile()["spec"]["behaviors"].clone();
    behaviors[0]["criteria"]["value"] = json!({"number": 5});
    env.patch_spec(
        "battery-watch",
        json!({"behaviors": behaviors, "targetArns": [b]}),
    )
    .await;
    env.wait_for("battery-watch", "updated, moved to fleet-b", |sp| {
        sp.is_ready_at_generation() && sp.status.as_ref().and_then(|s| s.target_count) == Some(1)
    })
    .await;
    let p = env.profile("battery-watch").expect("the profile");
    assert_eq!(p.targets, vec![b.clone()], "{p:?}");
    for op in [
        "CreateSecurityProfile",
        "UpdateSecurityProfile",
        "AttachSecurityProfile",
        "DetachSecurityProfile",
    ] {
        assert!(env.ok_calls(op) >= 1, "{op}");
    }
    env.delete("battery-watch").await;
    env.wait_gone("battery-watch").await;
    assert!(env.profile("battery-watch").is_none());
    assert_eq!(env.ok_calls("DeleteSecurityProfile"), 1);
    no_access_denied(&env);
}
on_both_servers!(a_profile_using_a_custom_metric_and_a_dimension_lives_under_the_scoped_policy);

/// A profile may use a custom metric made by hand or owned by another cluster: the policy lets
/// the profile's actions use it, and nothing writes to it.
async fn a_profile_uses_a_metric_this_cluster_does_not_own(server: Server) {
    let env = Env::start(server).await;
    let admin = env.emulator.admin();
    let theirs = json!({"iot.awscc.io/cluster": "another-cluster", "owner": "team-b"});
    admin
        .put_custom_metric(
            json!({"metricName": "shared-temperature", "metricType": "number", "tags": theirs}),
        )
        .unwrap();
    let before = admin.state().custom_metrics;
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "hot-devices"},
        "spec": {"behaviors": [{"name": "hot", "metric": "shared-temperature",
            "criteria": {"comparisonOperator": "greater-than", "value": {"number": 80}, "durationSeconds": 300}}]}
    }))
    .await;
    env.wait_ready("hot-devices").await;
    env.delete("hot-devices").await;
    env.wait_gone("hot-devices").await;
    assert_eq!(
        admin.state().custom_metrics,
        before,
        "the metric is untouched"
    );
    no_access_denied(&env);
}
on_both_servers!(a_profile_uses_a_metric_this_cluster_does_not_own);

/// An SDK client of the emulator acting as the operator under `policy`.
async fn client_under(policy: &Value) -> (iot_emulator::Emulator, aws_sdk_iot::Client) {
    let emulator = start_emulator().await;
    emulator.admin().set_iam_policy(None, policy).unwrap();
    emulator
        .admin()
        .put_custom_metric(json!({"metricName": "batteryLevel", "metricType": "number"}))
        .unwrap();
    let conf = aws_sdk_iot::Config::builder()
        .behavior_version(aws_sdk_iot::config::BehaviorVersion::latest())
        .endpoint_url(emulator.url())
        .region(aws_sdk_iot::config::Region::new(REGION))
        .credentials_provider(credentials())
        .build();
    (emulator, aws_sdk_iot::Client::from_conf(conf))
}

/// The ownership tag a create by this cluster carries (the policy's request-tag condition).
fn cluster_tag() -> aws_sdk_iot::types::Tag {
    aws_sdk_iot::types::Tag::builder()
        .key("iot.awscc.io/cluster")
        .value(CLUSTER)
        .build()
        .unwrap()
}

fn battery_behavior() -> aws_sdk_iot::types::Behavior {
    use aws_sdk_iot::types::{Behavior, BehaviorCriteria, ComparisonOperator, MetricValue};
    Behavior::builder()
        .name("low-battery")
        .metric("batteryLevel")
        .criteria(
            BehaviorCriteria::builder()
                .comparison_operator(ComparisonOperator::LessThan)
                .value(MetricValue::builder().number(10.0).build())
                .duration_seconds(300)
                .build(),
        )
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_before_is_refused_where_aws_refuses_and_todays_passes() {
    let tag = cluster_tag();
    let before: Value = serde_json::from_str(BEFORE).unwrap();
    let (_emulator, c) = client_under(&before).await;
    let err = c
        .create_security_profile()
        .security_profile_name("battery")
        .behaviors(battery_behavior())
        .tags(tag.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"), "{err:?}");
    assert!(
        err.message()
            .unwrap_or_default()
            .contains(":custommetric/batteryLevel"),
        "{err:?}"
    );

    let (emulator, c) = client_under(&iam_policy(CLUSTER)).await;
    c.create_security_profile()
        .security_profile_name("battery")
        .behaviors(battery_behavior())
        .tags(tag)
        .send()
        .await
        .unwrap();
    let group = emulator
        .admin()
        .create_thing_group("fleet", REGION)
        .unwrap();
    let everyone = format!("arn:aws:iot:{REGION}:{ACCOUNT}:all/registered-things");
    for target in [&group, &everyone] {
        c.attach_security_profile()
            .security_profile_name("battery")
            .security_profile_target_arn(target)
            .send()
            .await
            .unwrap_or_else(|e| panic!("attach {target}: {e:?}"));
        c.detach_security_profile()
            .security_profile_name("battery")
            .security_profile_target_arn(target)
            .send()
            .await
            .unwrap_or_else(|e| panic!("detach {target}: {e:?}"));
    }
    c.update_security_profile()
        .security_profile_name("battery")
        .behaviors(battery_behavior())
        .send()
        .await
        .unwrap();
    c.delete_security_profile()
        .security_profile_name("battery")
        .send()
        .await
        .unwrap();
}

/// `--thing-group-tag`: Attach and Detach only to thing groups that carry the tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thing_group_targets_can_be_narrowed_by_tag() {
    let args = securityprofile_operator::iam::PolicyArgs {
        thing_group_tag: Some("fleet-owner=platform".to_string()),
        ..policy_args(CLUSTER)
    };
    let policy = securityprofile_operator::iam::policy_for(&args).unwrap();
    let (emulator, c) = client_under(&policy).await;
    let admin = emulator.admin();
    let ours = admin.create_thing_group("ours", REGION).unwrap();
    let theirs = admin.create_thing_group("theirs", REGION).unwrap();
    admin.tag_thing_group(
        "ours",
        REGION,
        ACCOUNT,
        [("fleet-owner".to_string(), "platform".to_string())].into(),
    );
    c.create_security_profile()
        .security_profile_name("p")
        .tags(cluster_tag())
        .send()
        .await
        .unwrap();
    c.attach_security_profile()
        .security_profile_name("p")
        .security_profile_target_arn(&ours)
        .send()
        .await
        .unwrap();
    let err = c
        .attach_security_profile()
        .security_profile_name("p")
        .security_profile_target_arn(&theirs)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"), "{err:?}");
}
