//! Multi-tenant guardrails: a namespace reaches only what the cluster admin gave it. Every test
//! counts the emulator's calls; the emulator enforces the policy `iam-policy` generates.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use kube::api::{Api, PostParams};
use securityprofile_operator::api::SecurityProfile;
use serde_json::{Value, json};
use std::time::Duration;

/// Calls answered with AccessDeniedException, over every operation.
fn access_denied(env: &Env) -> u64 {
    env.emulator
        .admin()
        .calls()
        .values()
        .filter_map(|outcomes| outcomes.get("AccessDeniedException"))
        .sum()
}

fn sp(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": name}, "spec": spec
    })
}

/// The AWS error code of a failed call.
fn code<T, E: aws_sdk_iot::error::ProvideErrorMetadata, R>(
    result: Result<T, aws_sdk_iot::error::SdkError<E, R>>,
) -> Option<String> {
    use aws_sdk_iot::error::ProvideErrorMetadata;
    result.err().and_then(|e| e.code().map(str::to_string))
}

/// An AWS client of the emulator's account: someone working in the console, out of band.
fn console(env: &Env) -> aws_sdk_iot::Client {
    let config = aws_sdk_iot::Config::builder()
        .behavior_version(aws_sdk_iot::config::BehaviorVersion::latest())
        .region(aws_sdk_iot::config::Region::new(REGION))
        .endpoint_url(env.emulator.url())
        .credentials_provider(credentials())
        .build();
    aws_sdk_iot::Client::from_conf(config)
}

async fn adoption_is_refused_without_the_annotation_and_allowed_with_it(server: Server) {
    let env = Env::start(server).await;
    env.emulator
        .admin()
        .put_profile(json!({"securityProfileName": "legacy", "securityProfileDescription": "made by hand", "tags": {"owner": "ops"}}))
        .unwrap();
    env.create_json(sp(
        "legacy",
        json!({"securityProfileDescription": "managed now", "adoptionPolicy": "Adopt"}),
    ))
    .await;
    let refused = env.wait_synced_false("legacy", "AdoptionNotAllowed").await;
    let message = condition(&refused, "Synced").unwrap().2;
    assert!(
        message.contains("iot.awscc.io/allow-adoption") && message.contains("--allow-adoption"),
        "the message says how an admin allows it: {message}"
    );
    env.wait_event("legacy", "AdoptionNotAllowed").await;
    assert!(env.ok_calls("DescribeSecurityProfile") >= 1, "AWS was read");
    assert_eq!(env.writes(), 0, "nothing written");
    assert_eq!(
        env.all_calls("TagResource"),
        0,
        "not even the ownership tags were tried"
    );
    let p = env.profile("legacy").unwrap();
    assert_eq!(p.version, 1);
    assert_eq!(p.tags.len(), 1, "tags untouched: {:?}", p.tags);

    // The admin allows adoption in this namespace; the next reconcile (here a spec change;
    // otherwise the resync) adopts.
    env.annotate_namespace(NS, json!({"iot.awscc.io/allow-adoption": "true"}))
        .await;
    env.patch_spec(
        "legacy",
        json!({"securityProfileDescription": "managed from Git"}),
    )
    .await;
    env.wait_ready("legacy").await;
    env.wait_event("legacy", "Adopted").await;
    let p = env.profile("legacy").unwrap();
    assert_eq!(p.description.as_deref(), Some("managed from Git"));
    assert_eq!(
        p.tags.get("iot.awscc.io/cluster").map(String::as_str),
        Some(CLUSTER)
    );
    assert_eq!(env.ok_calls("TagResource"), 1, "ownership tags, once");
    assert_eq!(env.ok_calls("UpdateSecurityProfile"), 1);
    assert_eq!(
        access_denied(&env),
        0,
        "the generated policy allows the adoption"
    );
}
on_both_servers!(adoption_is_refused_without_the_annotation_and_allowed_with_it);

async fn adoption_that_would_detach_a_forbidden_target_writes_nothing(server: Server) {
    let env = Env::start_with(
        server,
        &[
            "--allow-adoption",
            "--allowed-target-arns",
            "arn:aws:iot:*:*:thinggroup/team-a-*",
        ],
    )
    .await;
    env.emulator
        .admin()
        .put_profile(json!({"securityProfileName": "fleetwide"}))
        .unwrap();
    let all = format!("arn:aws:iot:{REGION}:{ACCOUNT}:all/registered-things");
    // Someone attached it to the whole fleet in the console (IAM allows that principal all).
    env.emulator.admin().set_iam_allow(vec!["*".into()]);
    console(&env)
        .attach_security_profile()
        .security_profile_name("fleetwide")
        .security_profile_target_arn(&all)
        .send()
        .await
        .expect("out-of-band attach");
    env.emulator
        .admin()
        .set_iam_policy(None, &iam_policy(CLUSTER))
        .unwrap();
    let before = env.writes();

    env.create_json(sp("fleetwide", json!({"adoptionPolicy": "Adopt"})))
        .await;
    let refused = env.wait_synced_false("fleetwide", "Forbidden").await;
    let message = condition(&refused, "Synced").unwrap().2;
    assert!(message.contains(&all), "names the value: {message}");
    assert!(
        message.contains("--allowed-target-arns"),
        "names the list: {message}"
    );
    settle(Duration::from_millis(300)).await;
    assert_eq!(
        env.writes(),
        before,
        "adoption never happens halfway: no tag"
    );
    assert_eq!(env.all_calls("DetachSecurityProfile"), 0);
    let p = env.profile("fleetwide").unwrap();
    assert!(p.tags.is_empty(), "no ownership tags: {:?}", p.tags);
}
on_both_servers!(adoption_that_would_detach_a_forbidden_target_writes_nothing);

async fn values_outside_the_lists_are_forbidden_with_zero_aws_calls(server: Server) {
    let env = Env::start_with(
        server,
        &[
            "--allowed-role-arns",
            "arn:aws:iam::123456789012:role/team-*",
            "--allowed-regions",
            "us-east-1,eu-west-1",
        ],
    )
    .await;
    env.annotate_namespace(
        NS,
        json!({
            "iot.awscc.io/allowed-role-arns": "arn:aws:iam::*:role/team-a-*",
            "iot.awscc.io/allowed-sns-topic-arns": "arn:aws:sns:*:*:team-a-*",
            "iot.awscc.io/allowed-mqtt-topics": "$aws/rules/team_a_*",
            "iot.awscc.io/allowed-target-arns": "arn:aws:iot:*:*:thinggroup/team-a-*"
        }),
    )
    .await;
    let role = |name: &str| format!("arn:aws:iam::{ACCOUNT}:role/{name}");
    let export = |topic: &str, role: &str| json!({"mqttTopic": topic, "roleArn": role});
    let alerts = |topic: &str| json!({"SNS": {"alertTargetArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:{topic}"), "roleArn": role("team-a-alerts")}});
    let all = format!("arn:aws:iot:{REGION}:{ACCOUNT}:all/registered-things");
    let cases = [
        // (resource, spec, field, value, the list that refuses)
        (
            "other-teams-role",
            json!({"metricsExportConfig": export("$aws/rules/team_a_x", &role("team-b-export"))}),
            "spec.metricsExportConfig.roleArn",
            role("team-b-export"),
            "iot.awscc.io/allowed-role-arns",
        ),
        (
            "admin-role",
            json!({"metricsExportConfig": export("$aws/rules/team_a_x", &role("admin"))}),
            "spec.metricsExportConfig.roleArn",
            role("admin"),
            "--allowed-role-arns",
        ),
        (
            "fleet-topic",
            json!({"metricsExportConfig": export("$aws/rules/fleet", &role("team-a-export"))}),
            "spec.metricsExportConfig.mqttTopic",
            "$aws/rules/fleet".to_string(),
            "iot.awscc.io/allowed-mqtt-topics",
        ),
        (
            "fleet-sns",
            json!({"alertTargets": alerts("fleet-alerts")}),
            "spec.alertTargets.SNS.alertTargetArn",
            format!("arn:aws:sns:{REGION}:{ACCOUNT}:fleet-alerts"),
            "iot.awscc.io/allowed-sns-topic-arns",
        ),
        (
            "whole-fleet",
            json!({"targetArns": [all]}),
            "spec.targetArns",
            all.clone(),
            "iot.awscc.io/allowed-target-arns",
        ),
        (
            "far-region",
            json!({"region": "ap-south-1"}),
            "region",
            "ap-south-1".to_string(),
            "--allowed-regions",
        ),
    ];
    for (name, spec, ..) in &cases {
        env.create_json(sp(name, spec.clone())).await;
    }
    for (name, _, field, value, list) in &cases {
        let refused = env.wait_synced_false(name, "Forbidden").await;
        let message = condition(&refused, "Synced").unwrap().2;
        assert!(
            message.starts_with(&format!("{field} {value:?} is forbidden")),
            "{name}: {message}"
        );
        assert!(message.contains(list), "{name}: names {list}: {message}");
    }
    assert_eq!(
        env.total_calls(),
        0,
        "not one AWS call for a forbidden spec"
    );

    // Inside every list, the same namespace converges.
    let group = env
        .emulator
        .admin()
        .create_thing_group("team-a-gateways", "eu-west-1")
        .unwrap();
    env.create_json(sp(
        "allowed",
        json!({
            "region": "eu-west-1",
            "alertTargets": alerts("team-a-alerts"),
            "metricsExportConfig": export("$aws/rules/team_a_metrics", &role("team-a-export")),
            "targetArns": [group]
        }),
    ))
    .await;
    env.wait_ready("allowed").await;
    assert_eq!(env.ok_calls("CreateSecurityProfile"), 1);
    assert_eq!(env.ok_calls("AttachSecurityProfile"), 1);
    assert_eq!(access_denied(&env), 0);
}
on_both_servers!(values_outside_the_lists_are_forbidden_with_zero_aws_calls);

async fn iam_denies_a_write_to_a_profile_of_another_cluster(server: Server) {
    // The operator is told that it is cluster "prod-eu", so its own ownership check passes on
    // a profile that cluster owns; its IAM policy is the one generated for CLUSTER.
    let env = Env::start_with(server, &["--cluster-id", "prod-eu"]).await;
    env.emulator
        .admin()
        .put_profile(json!({
            "securityProfileName": "victim",
            "securityProfileDescription": "prod's",
            "tags": {"iot.awscc.io/cluster": "prod-eu", "iot.awscc.io/namespace": NS, "iot.awscc.io/name": "victim"}
        }))
        .unwrap();
    env.create_json(sp(
        "victim",
        json!({"securityProfileDescription": "overwritten"}),
    ))
    .await;
    let denied = env.wait_synced_false("victim", "AccessDenied").await;
    let message = condition(&denied, "Synced").unwrap().2;
    assert!(message.contains("AccessDeniedException"), "{message}");
    let updates = env.calls("UpdateSecurityProfile");
    assert!(
        updates.get("AccessDeniedException").copied().unwrap_or(0) >= 1,
        "the operator tried and IAM refused: {updates:?}"
    );
    assert_eq!(updates.get("ok"), None);
    assert_eq!(env.writes(), 0);
    let p = env.profile("victim").unwrap();
    assert_eq!((p.version, p.description.as_deref()), (1, Some("prod's")));

    // Deleting the resource: the operator tries to delete "its" profile; IAM refuses too.
    env.delete("victim").await;
    env.wait_for("victim", "a denied delete", |_| {
        env.calls("DeleteSecurityProfile")
            .contains_key("AccessDeniedException")
    })
    .await;
    assert!(env.profile("victim").is_some(), "prod's profile survives");
    assert_eq!(env.writes(), 0);
}
on_both_servers!(iam_denies_a_write_to_a_profile_of_another_cluster);

async fn observe_is_refused_across_namespaces(server: Server) {
    let env = Env::start(server).await;
    env.annotate_namespace("team-b", json!({})).await;
    let team_b: Api<SecurityProfile> = Api::namespaced(env.client.clone(), "team-b");
    let create_b = |name: &str, spec: Value| {
        let team_b = team_b.clone();
        let object: SecurityProfile = serde_json::from_value(sp(name, spec)).unwrap();
        async move {
            team_b
                .create(&PostParams::default(), &object)
                .await
                .expect("create in team-b")
        }
    };
    let synced_in_b = |name: &'static str| {
        let team_b = team_b.clone();
        eventually(name, Duration::from_secs(30), move || {
            let team_b = team_b.clone();
            async move {
                team_b
                    .get_opt(name)
                    .await
                    .ok()
                    .flatten()
                    .filter(|sp| condition(sp, "Synced").is_some_and(|c| c.0 == "True"))
            }
        })
    };
    create_b(
        "secret-owner",
        json!({"securityProfileName": "TeamBProfile", "securityProfileDescription": "team b's"}),
    )
    .await;
    synced_in_b("secret-owner").await;
    let writes = env.writes();
    let describes = env.ok_calls("DescribeSecurityProfile");

    env.create_json(sp(
        "peek",
        json!({"securityProfileName": "TeamBProfile", "managementPolicy": "Observe"}),
    ))
    .await;
    let refused = env.wait_synced_false("peek", "OwnedByAnother").await;
    let message = condition(&refused, "Synced").unwrap().2;
    for leak in ["team-b", "secret-owner", CLUSTER] {
        assert!(!message.contains(leak), "{leak} leaked: {message}");
    }
    let status = refused.status.clone().unwrap_or_default();
    assert_eq!(status.security_profile_arn, None, "no ARN reported");
    assert_eq!(status.version, None, "no version reported");
    assert_eq!(status.target_arns, None, "no targets reported");
    assert!(
        env.ok_calls("DescribeSecurityProfile") > describes,
        "AWS was read"
    );
    assert_eq!(env.writes(), writes, "and nothing written");

    // Within team-b, observing works; and so does observing an unowned profile from team-a.
    create_b(
        "watcher",
        json!({"securityProfileName": "TeamBProfile", "managementPolicy": "Observe"}),
    )
    .await;
    synced_in_b("watcher").await;
    env.emulator
        .admin()
        .put_profile(json!({"securityProfileName": "ConsoleMade"}))
        .unwrap();
    env.create_json(sp(
        "peek-unowned",
        json!({"securityProfileName": "ConsoleMade", "managementPolicy": "Observe"}),
    ))
    .await;
    // Observers report (Synced=True); Ready says whether AWS matches their spec.
    env.wait_for("peek-unowned", "peek-unowned observed", |sp| {
        condition(sp, "Synced").is_some_and(|c| c.0 == "True" && c.1 == "ReconcileSuccess")
    })
    .await;
    assert_eq!(env.writes(), writes, "observers never write");
}
on_both_servers!(observe_is_refused_across_namespaces);

async fn an_unknown_region_makes_no_call_even_on_delete(server: Server) {
    // No --allowed-regions: only known AWS regions. The CRD admits any region-shaped string.
    let env = Env::start(server).await;
    env.create_json(sp("nowhere", json!({"region": "xx-north-9"})))
        .await;
    let refused = env.wait_synced_false("nowhere", "Forbidden").await;
    let message = condition(&refused, "Synced").unwrap().2;
    assert!(
        message.starts_with("region \"xx-north-9\" is forbidden: not a known AWS region"),
        "{message}"
    );
    env.delete("nowhere").await;
    env.wait_gone("nowhere").await;
    assert_eq!(
        env.total_calls(),
        0,
        "no AWS call for an unknown region, not even to delete"
    );
}
on_both_servers!(an_unknown_region_makes_no_call_even_on_delete);

async fn the_generated_policy_lets_a_cluster_write_only_its_own_profiles(server: Server) {
    // Any client with the operator's credentials, bug or not, runs under the policy.
    let env = Env::without_operator(server).await;
    let iot = console(&env);
    let tag = |k: &str, v: &str| {
        aws_sdk_iot::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    let denied = |what: &str, e: Option<String>| {
        assert_eq!(
            e.as_deref(),
            Some("AccessDeniedException"),
            "{what} must be denied by IAM"
        );
    };

    let untagged = iot
        .create_security_profile()
        .security_profile_name("untagged")
        .send()
        .await;
    denied("a create without this cluster's tag", code(untagged));
    let ours = iot
        .create_security_profile()
        .security_profile_name("ours")
        .tags(tag("iot.awscc.io/cluster", CLUSTER))
        .send()
        .await
        .expect("a create with this cluster's tag")
        .security_profile_arn
        .unwrap();
    iot.tag_resource()
        .resource_arn(&ours)
        .tags(tag("team", "a"))
        .send()
        .await
        .expect("user tags on our profile");
    let r = iot
        .untag_resource()
        .resource_arn(&ours)
        .tag_keys("iot.awscc.io/cluster")
        .send()
        .await;
    denied("removing the ownership tag", code(r));
    let r = iot
        .tag_resource()
        .resource_arn(&ours)
        .tags(tag("iot.awscc.io/cluster", "prod-eu"))
        .send()
        .await;
    denied("handing our profile to another cluster", code(r));

    let theirs = env
        .emulator
        .admin()
        .put_profile(
            json!({"securityProfileName": "theirs", "tags": {"iot.awscc.io/cluster": "prod-eu"}}),
        )
        .unwrap()
        .arn;
    let r = iot
        .update_security_profile()
        .security_profile_name("theirs")
        .security_profile_description("mine now")
        .send()
        .await;
    denied("updating another cluster's profile", code(r));
    let r = iot
        .tag_resource()
        .resource_arn(&theirs)
        .tags(tag("iot.awscc.io/cluster", CLUSTER))
        .send()
        .await;
    denied("re-tagging another cluster's profile as ours", code(r));
    let r = iot
        .delete_security_profile()
        .security_profile_name("theirs")
        .send()
        .await;
    denied("deleting another cluster's profile", code(r));
    let foreign_role = aws_sdk_iot::types::MetricsExportConfig::builder()
        .mqtt_topic("$aws/rules/x")
        .role_arn("arn:aws:iam::999999999999:role/elsewhere")
        .build()
        .unwrap();
    let r = iot
        .update_security_profile()
        .security_profile_name("ours")
        .metrics_export_config(foreign_role)
        .send()
        .await;
    denied("passing a role outside the allowed ones", code(r));

    assert_eq!(access_denied(&env), 7, "{:?}", env.emulator.admin().calls());
    assert_eq!(env.profile("theirs").unwrap().version, 1);
    let ours = env.profile("ours").unwrap();
    assert_eq!(
        ours.tags.get("iot.awscc.io/cluster").map(String::as_str),
        Some(CLUSTER)
    );
}
on_both_servers!(the_generated_policy_lets_a_cluster_write_only_its_own_profiles);
