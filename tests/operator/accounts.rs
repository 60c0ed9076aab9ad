//! Cross-account by namespace: a namespace annotated with `iot.awscc.io/role-arn` is served in
//! that role's account (STS AssumeRole against the emulator), a namespace without it in the
//! operator's own; temporary credentials are refreshed before they expire; a role the
//! operator cannot assume is `Synced=False AccessDenied`, and deleting what needs no AWS call
//! does not need the role.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use iot_emulator::Role;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use securityprofile_operator::api::SecurityProfile;
use serde_json::json;
use std::time::Duration;

const ACCOUNT_A: &str = "111111111111";
const ACCOUNT_B: &str = "222222222222";

fn role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/iot-fleet")
}

/// The policies `iam-policy --cross-account --account ACCOUNT --cluster-id CLUSTER` prints.
fn cross_account(account: &str) -> serde_json::Value {
    let args = securityprofile_operator::iam::PolicyArgs {
        accounts: vec![account.to_string()],
        regions: Vec::new(),
        allowed_role_arns: Vec::new(),
        cluster_id: Some(CLUSTER.to_string()),
        partition: "aws".to_string(),
        cross_account: true,
        ..Default::default()
    };
    securityprofile_operator::iam::cross_account_policies(&args).expect("policies")
}

/// The operator with the two fleet roles registered, every account under the policies
/// `iam-policy --cross-account` prints: the operator's account its scoped policy plus the
/// AssumeRole statement, each fleet account the fleet role's permission policy.
async fn two_accounts(server: Server, extra: &[&str]) -> Env {
    let env = Env::start_with(server, extra).await;
    let admin = env.emulator.admin();
    let own = admin.account_id().to_string();
    let mut operator = iam_policy(CLUSTER);
    let assume = cross_account(&own)["operatorPolicy"]["Statement"][0].clone();
    operator["Statement"].as_array_mut().unwrap().push(assume);
    admin.set_iam_policy(Some(&own), &operator).unwrap();
    for account in [ACCOUNT_A, ACCOUNT_B] {
        let fleet = &cross_account(account)["fleetRolePermissionPolicy"];
        admin.set_iam_policy(Some(account), fleet).unwrap();
        admin.put_role(Role::new(&role_arn(account), None, None).expect("a role"));
    }
    env
}

async fn namespace(env: &Env, name: &str, role: Option<&str>) {
    let annotations = match role {
        Some(r) => json!({ "iot.awscc.io/role-arn": r }),
        None => json!({}),
    };
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "annotations": annotations}}))
            .unwrap();
    Api::<Namespace>::all(env.client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
}

async fn profile_in(env: &Env, namespace: &str, name: &str) -> Api<SecurityProfile> {
    let api: Api<SecurityProfile> = Api::namespaced(env.client.clone(), namespace);
    let sp: SecurityProfile = serde_json::from_value(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": name},
        "spec": {"securityProfileDescription": format!("fleet of {namespace}")}
    }))
    .unwrap();
    api.create(&PostParams::default(), &sp)
        .await
        .expect("create");
    api
}

async fn wait_condition(
    api: &Api<SecurityProfile>,
    name: &str,
    what: &str,
    pred: impl Fn(&SecurityProfile) -> bool,
) -> SecurityProfile {
    eventually(what, Duration::from_secs(30), || async {
        api.get_opt(name).await.ok().flatten().filter(|sp| pred(sp))
    })
    .await
}

fn ready(sp: &SecurityProfile) -> bool {
    condition(sp, "Ready").is_some_and(|c| c.0 == "True")
        && condition(sp, "Synced").is_some_and(|c| c.0 == "True")
}

/// Every profile in the emulator: (account, name).
fn placed(env: &Env) -> Vec<(String, String)> {
    let mut v: Vec<_> = env
        .emulator
        .admin()
        .state()
        .profiles
        .into_iter()
        .map(|p| (p.account_id, p.name))
        .collect();
    v.sort();
    v
}

async fn each_namespace_lands_in_its_roles_account_and_the_default_in_the_operators(
    server: Server,
) {
    let env = two_accounts(server, &[]).await;
    let own = env.emulator.admin().account_id().to_string();
    namespace(&env, "fleet-a", Some(&role_arn(ACCOUNT_A))).await;
    namespace(&env, "fleet-b", Some(&role_arn(ACCOUNT_B))).await;
    let a = profile_in(&env, "fleet-a", "gateways").await;
    let b = profile_in(&env, "fleet-b", "sensors").await;
    let default = profile_in(&env, NS, "cameras").await;
    let sp_a = wait_condition(&a, "gateways", "gateways Ready", ready).await;
    let sp_b = wait_condition(&b, "sensors", "sensors Ready", ready).await;
    let sp_d = wait_condition(&default, "cameras", "cameras Ready", ready).await;
    assert_eq!(
        placed(&env),
        vec![
            (ACCOUNT_A.to_string(), "gateways".to_string()),
            (ACCOUNT_B.to_string(), "sensors".to_string()),
            (own.clone(), "cameras".to_string()),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "each profile in its namespace's account, and nowhere else"
    );
    let account = |sp: &SecurityProfile| sp.status.as_ref().and_then(|s| s.account_id.clone());
    assert_eq!(account(&sp_a).as_deref(), Some(ACCOUNT_A));
    assert_eq!(account(&sp_b).as_deref(), Some(ACCOUNT_B));
    assert_eq!(account(&sp_d).as_deref(), Some(own.as_str()));
    assert!(env.ok_calls("AssumeRole") >= 2, "one session per role");
}
on_both_servers!(each_namespace_lands_in_its_roles_account_and_the_default_in_the_operators);

async fn expiring_credentials_are_refreshed_without_a_failed_reconcile(server: Server) {
    let env = two_accounts(server, &["--resync-period", "1s"]).await;
    // Every session lives 12 s: past the SDK's refresh margin within the test.
    env.emulator.admin().set_sts_duration(Some(12));
    namespace(&env, "fleet-a", Some(&role_arn(ACCOUNT_A))).await;
    let a = profile_in(&env, "fleet-a", "gateways").await;
    wait_condition(&a, "gateways", "gateways Ready", ready).await;
    let assumed = env.ok_calls("AssumeRole");
    // Resyncs every second keep reading AWS in account A across the expiry of the session.
    eventually("a new session", Duration::from_secs(30), || async {
        (env.ok_calls("AssumeRole") > assumed).then_some(())
    })
    .await;
    let describes = env.ok_calls("DescribeSecurityProfile");
    eventually("more resyncs", Duration::from_secs(20), || async {
        (env.ok_calls("DescribeSecurityProfile") >= describes + 2).then_some(())
    })
    .await;
    let calls = env.emulator.admin().calls();
    let refused: Vec<_> = calls
        .iter()
        .flat_map(|(op, outcomes)| {
            outcomes
                .iter()
                .filter(|(o, _)| o.contains("Expired") || o.contains("Denied"))
                .map(move |(o, n)| format!("{op} {o} x{n}"))
        })
        .collect();
    assert!(
        refused.is_empty(),
        "no call with an expired token: {refused:?}"
    );
    let sp = a.get("gateways").await.unwrap();
    assert!(ready(&sp), "still Ready and Synced: {:?}", sp.status);
}
on_both_servers!(expiring_credentials_are_refreshed_without_a_failed_reconcile);

async fn a_role_that_cannot_be_assumed_is_access_denied(server: Server) {
    let env = two_accounts(server, &[]).await;
    namespace(
        &env,
        "fleet-x",
        Some("arn:aws:iam::333333333333:role/not-registered"),
    )
    .await;
    let x = profile_in(&env, "fleet-x", "orphan").await;
    let sp = wait_condition(&x, "orphan", "Synced=False AccessDenied", |sp| {
        condition(sp, "Synced").is_some_and(|c| c.0 == "False" && c.1 == "AccessDenied")
    })
    .await;
    let (_, _, message) = condition(&sp, "Synced").unwrap();
    assert!(
        message.contains("arn:aws:iam::333333333333:role/not-registered"),
        "{message}"
    );
    assert!(placed(&env).is_empty(), "nothing written anywhere");
    assert_eq!(env.all_calls("CreateSecurityProfile"), 0);
}
on_both_servers!(a_role_that_cannot_be_assumed_is_access_denied);

/// Deleting needs the namespace's role only when AWS must be looked at: after the admin points
/// the namespace at a role that cannot be assumed, a resource that never reached AWS and one
/// whose profile is retained are both deleted at once, and the retained profile stays in its
/// account.
async fn deletions_that_leave_aws_alone_do_not_need_the_role(server: Server) {
    let env = two_accounts(server, &[]).await;
    namespace(&env, "fleet-a", Some(&role_arn(ACCOUNT_A))).await;
    let api: Api<SecurityProfile> = Api::namespaced(env.client.clone(), "fleet-a");
    let kept: SecurityProfile = serde_json::from_value(json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": "kept"},
        "spec": {"securityProfileDescription": "kept", "deletionPolicy": "Retain"}
    }))
    .unwrap();
    api.create(&PostParams::default(), &kept).await.unwrap();
    wait_condition(&api, "kept", "kept Ready", ready).await;
    let broken = json!({"metadata": {"annotations": {
        "iot.awscc.io/role-arn": "arn:aws:iam::333333333333:role/not-registered"}}});
    Api::<Namespace>::all(env.client.clone())
        .patch("fleet-a", &PatchParams::default(), &Patch::Merge(&broken))
        .await
        .unwrap();
    profile_in(&env, "fleet-a", "never-made").await;
    wait_condition(&api, "never-made", "never-made AccessDenied", |sp| {
        condition(sp, "Synced").is_some_and(|c| c.0 == "False" && c.1 == "AccessDenied")
    })
    .await;
    for name in ["kept", "never-made"] {
        api.delete(name, &DeleteParams::default()).await.unwrap();
    }
    eventually("both resources gone", Duration::from_secs(30), || async {
        let left = api.list(&Default::default()).await.ok()?;
        left.items.is_empty().then_some(())
    })
    .await;
    assert_eq!(
        placed(&env),
        vec![(ACCOUNT_A.to_string(), "kept".to_string())],
        "the retained profile stays in its account"
    );
    assert_eq!(env.all_calls("DeleteSecurityProfile"), 0);
}
on_both_servers!(deletions_that_leave_aws_alone_do_not_need_the_role);
