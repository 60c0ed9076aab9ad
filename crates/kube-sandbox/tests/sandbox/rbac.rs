//! The opt-in RBAC authorizer: service-account tokens against Roles, ClusterRoles and bindings,
//! checked with kube-rs and kubectl.

use crate::common::api_status;
use crate::tools::Cli;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::{Client, ResourceExt};
use kube_sandbox::rbac::{Grants, Rule, attributes};
use kube_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;

async fn start(rbac: bool) -> (Sandbox, Client) {
    let sb = Sandbox::start(SandboxConfig {
        rbac,
        ..Default::default()
    })
    .await
    .expect("start sandbox");
    let client = sb.client().await.expect("client");
    (sb, client)
}

/// Creates any object from JSON with the administrator's client.
async fn apply(client: &Client, obj: serde_json::Value) {
    let obj: DynamicObject = serde_json::from_value(obj).unwrap();
    let gvk = kube::api::GroupVersionKind::try_from(obj.types.as_ref().unwrap()).unwrap();
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    let api: Api<DynamicObject> = match obj.namespace() {
        Some(ns) => Api::namespaced_with(client.clone(), &ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    api.create(&PostParams::default(), &obj).await.unwrap();
}

fn sa_subject() -> serde_json::Value {
    json!([{"kind": "ServiceAccount", "name": "reader", "namespace": "apps"}])
}

/// A reader that may list namespaces cluster-wide, get one namespace by name, and create
/// ConfigMaps in team-a only.
async fn grant_reader(client: &Client) {
    for ns in ["apps", "team-a"] {
        apply(
            client,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
    }
    apply(client, json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "ns-reader"},
        "rules": [
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
            {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"], "resourceNames": ["kube-system"]}
        ]
    })).await;
    apply(client, json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "ns-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ns-reader"},
        "subjects": sa_subject()
    })).await;
    apply(
        client,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "cm-writer", "namespace": "team-a"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "list"]}]
        }),
    )
    .await;
    apply(client, json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "cm-writer", "namespace": "team-a"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-writer"},
        "subjects": sa_subject()
    })).await;
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

#[tokio::test]
async fn service_account_requests_are_authorized_by_the_bound_roles() {
    let (sb, admin) = start(true).await;
    grant_reader(&admin).await;
    let sa = sb.service_account_client("apps", "reader").await.unwrap();

    // Allowed by the ClusterRoleBinding and the RoleBinding.
    Api::<Namespace>::all(sa.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    Api::<Namespace>::all(sa.clone())
        .get("kube-system")
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(sa.clone(), "team-a")
        .create(&PostParams::default(), &config_map("ok"))
        .await
        .unwrap();

    // Denied: another resource, another name, another namespace, another verb.
    let denied = [
        Api::<Secret>::all(sa.clone())
            .list(&ListParams::default())
            .await
            .map(|_| ()),
        Api::<Namespace>::all(sa.clone())
            .get("default")
            .await
            .map(|_| ()),
        Api::<ConfigMap>::namespaced(sa.clone(), "default")
            .create(&PostParams::default(), &config_map("no"))
            .await
            .map(|_| ()),
        Api::<ConfigMap>::namespaced(sa.clone(), "team-a")
            .delete("ok", &Default::default())
            .await
            .map(|_| ()),
    ];
    for result in denied {
        let e = result.expect_err("denied by RBAC");
        assert_eq!(api_status(&e), (403, "Forbidden".to_string()), "{e:?}");
    }
    let e = Api::<Secret>::all(sa.clone())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("system:serviceaccount:apps:reader"),
        "the message names the user: {e}"
    );
    // The administrator's token is not restricted, and nothing was written by the denials.
    let cms = Api::<ConfigMap>::namespaced(admin.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(cms.items.iter().all(|c| c.name_any() != "no"));

    // Every decision is recorded, with the request's attributes.
    let decisions = sb.authorizations();
    assert!(
        decisions
            .iter()
            .all(|d| d.user == "system:serviceaccount:apps:reader")
    );
    let denied: Vec<_> = decisions
        .iter()
        .filter(|d| !d.allowed)
        .filter_map(|d| d.attributes.clone())
        .map(|a| (a.verb, a.resource, a.namespace))
        .collect();
    assert_eq!(
        denied,
        [
            ("list".to_string(), "secrets".to_string(), None),
            ("get".into(), "namespaces".into(), Some("default".into())),
            ("create".into(), "configmaps".into(), Some("default".into())),
            ("delete".into(), "configmaps".into(), Some("team-a".into())),
            ("list".into(), "secrets".into(), None),
        ]
    );
    assert!(decisions.iter().filter(|d| d.allowed).count() >= 3);
    sb.clear_authorizations();
    assert!(sb.authorizations().is_empty());

    // Bindings are read at each request: removing one revokes at once.
    Api::<DynamicObject>::namespaced_with(
        admin.clone(),
        "team-a",
        &kube::discovery::ApiResource::erase::<k8s_openapi::api::rbac::v1::RoleBinding>(&()),
    )
    .delete("cm-writer", &Default::default())
    .await
    .unwrap();
    let e = Api::<ConfigMap>::namespaced(sa.clone(), "team-a")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_status(&e).0, 403);
    assert_eq!(
        sb.grants("apps", "reader").granted().len(),
        2,
        "namespaces list and get remain"
    );
}

#[tokio::test]
async fn without_rbac_service_account_tokens_may_do_anything_and_unknown_tokens_are_rejected() {
    let (sb, _admin) = start(false).await;
    let sa = sb.service_account_client("apps", "anyone").await.unwrap();
    Api::<Secret>::all(sa)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(sb.authorizations().iter().all(|d| d.allowed));

    let (rbac_sb, _) = start(true).await;
    let yaml = rbac_sb
        .kubeconfig_yaml()
        .replace(rbac_sb.token(), "not-a-token");
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let stranger = Client::try_from(config).unwrap();
    let e = Api::<Namespace>::all(stranger)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(api_status(&e).0, 401);
}

#[tokio::test]
async fn kubectl_with_a_service_account_token_is_forbidden_what_rbac_does_not_grant() {
    let (sb, admin) = start(true).await;
    grant_reader(&admin).await;
    let cli = Cli::new(&sb);
    let token = sb.service_account_token("apps", "reader");
    let as_reader = |args: &[&str]| {
        let mut a = vec!["--token", token.as_str()];
        a.extend_from_slice(args);
        a.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let args = as_reader(&["get", "namespaces", "-o", "name"]);
    let out = cli
        .kubectl(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(out.contains("namespace/team-a"), "{out}");
    let args = as_reader(&["get", "secrets", "-A"]);
    let err = cli
        .kubectl_fails(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(
        err.contains("Forbidden") || err.contains("forbidden"),
        "{err}"
    );
    assert!(err.contains("system:serviceaccount:apps:reader"), "{err}");
}

#[test]
fn request_attributes_follow_the_api_server() {
    let a = |m: &str, p: &str, q: &str| attributes(m, p, q).unwrap();
    let x = a(
        "GET",
        "/apis/iot.awscc.io/v1alpha1/securityprofiles",
        "watch=true&resourceVersion=5",
    );
    assert_eq!(
        (
            x.verb.as_str(),
            x.group.as_str(),
            x.resource.as_str(),
            x.namespace
        ),
        ("watch", "iot.awscc.io", "securityprofiles", None)
    );
    let x = a(
        "PATCH",
        "/apis/iot.awscc.io/v1alpha1/namespaces/team-a/securityprofiles/web/status",
        "",
    );
    assert_eq!(
        (
            x.verb.as_str(),
            x.resource.as_str(),
            x.namespace.as_deref(),
            x.name.as_deref()
        ),
        (
            "patch",
            "securityprofiles/status",
            Some("team-a"),
            Some("web")
        )
    );
    let x = a("GET", "/api/v1/namespaces/kube-system", "");
    assert_eq!(
        (
            x.verb.as_str(),
            x.group.as_str(),
            x.resource.as_str(),
            x.namespace.as_deref(),
            x.name.as_deref()
        ),
        (
            "get",
            "",
            "namespaces",
            Some("kube-system"),
            Some("kube-system")
        )
    );
    let x = a("PUT", "/api/v1/namespaces/team-a/finalize", "");
    assert_eq!(
        (x.verb.as_str(), x.resource.as_str(), x.name.as_deref()),
        ("update", "namespaces/finalize", Some("team-a"))
    );
    let x = a("GET", "/api/v1/namespaces", "");
    assert_eq!((x.verb.as_str(), x.namespace), ("list", None));
    let x = a(
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/spo/leases",
        "",
    );
    assert_eq!(
        (x.verb.as_str(), x.resource.as_str(), x.name),
        ("create", "leases", None)
    );
    assert!(attributes("GET", "/apis", "").is_none());
    assert!(attributes("GET", "/version", "").is_none());

    let rule = Rule {
        api_groups: vec!["".into()],
        resources: vec!["namespaces".into()],
        resource_names: vec!["team-a".into()],
        verbs: vec!["get".into()],
    };
    let grants = Grants {
        cluster: vec![],
        namespaced: vec![("team-a".into(), rule)],
    };
    assert!(grants.allows(&a("GET", "/api/v1/namespaces/team-a", "")));
    assert!(!grants.allows(&a("GET", "/api/v1/namespaces/team-b", "")));
    assert!(!grants.allows(&a("GET", "/api/v1/namespaces", "")));
    assert!(!grants.allows(&a("PATCH", "/api/v1/namespaces/team-a", "")));
}
