//! The real helm (default settings: OpenAPI validation, protobuf release Secrets, server-side
//! apply) installing, upgrading and uninstalling a chart with a CRD, a CR, a Deployment, RBAC and
//! a ServiceAccount.

use crate::common::start;
use crate::tools::Cli;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, ListParams};

fn chart() -> String {
    format!("{}/tests/fixtures/chart", env!("CARGO_MANIFEST_DIR"))
}

async fn helm(cli: &Cli, args: &[&str]) -> String {
    let out = cli.run("helm", args).await;
    assert!(
        out.status.success(),
        "helm {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_upgrade_uninstall() {
    let (sb, client) = start().await;
    let cli = Cli::new(&sb);
    let chart = chart();
    let out = helm(&cli, &["install", "demo", &chart]).await;
    assert!(out.contains("STATUS: deployed"), "{out}");

    let gadgets = kube::api::ApiResource {
        group: "test.sandbox.io".into(),
        version: "v1".into(),
        api_version: "test.sandbox.io/v1".into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
    };
    let gadget_api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &gadgets);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    assert_eq!(
        gadget_api.get("demo").await.unwrap().data["spec"]["size"],
        3
    );
    let d = deployments.get("demo").await.unwrap();
    assert_eq!(
        d.spec
            .unwrap()
            .template
            .spec
            .unwrap()
            .service_account_name
            .as_deref(),
        Some("demo")
    );
    Api::<ServiceAccount>::namespaced(client.clone(), "default")
        .get("demo")
        .await
        .unwrap();
    Api::<Role>::namespaced(client.clone(), "default")
        .get("demo-leases")
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), "default")
        .get("demo-leases")
        .await
        .unwrap();
    Api::<ClusterRole>::all(client.clone())
        .get("demo-gadgets")
        .await
        .unwrap();
    Api::<ClusterRoleBinding>::all(client.clone())
        .get("demo-gadgets")
        .await
        .unwrap();
    let releases = secrets
        .list(&ListParams::default().labels("owner=helm,name=demo"))
        .await
        .unwrap();
    assert_eq!(
        releases.items.len(),
        1,
        "helm stored its release as a Secret (protobuf body)"
    );
    assert_eq!(
        releases.items[0].type_.as_deref(),
        Some("helm.sh/release.v1")
    );

    let list = helm(&cli, &["list"]).await;
    assert!(
        list.lines()
            .any(|l| l.starts_with("demo") && l.contains("deployed")),
        "{list}"
    );

    let out = helm(&cli, &["upgrade", "demo", &chart, "--set", "size=9"]).await;
    assert!(out.contains("REVISION: 2"), "{out}");
    assert_eq!(
        gadget_api.get("demo").await.unwrap().data["spec"]["size"],
        9
    );
    assert_eq!(
        configmaps.get("demo-config").await.unwrap().data.unwrap()["size"],
        "9"
    );
    let history = helm(&cli, &["history", "demo"]).await;
    assert!(
        history.contains("superseded") && history.contains("Upgrade complete"),
        "{history}"
    );

    let out = helm(&cli, &["uninstall", "demo"]).await;
    assert!(out.contains("release \"demo\" uninstalled"), "{out}");
    assert!(deployments.get_opt("demo").await.unwrap().is_none());
    assert!(gadget_api.get_opt("demo").await.unwrap().is_none());
    assert!(configmaps.get_opt("demo-config").await.unwrap().is_none());
    assert!(
        secrets
            .list(&ListParams::default().labels("owner=helm"))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // helm keeps CRDs on uninstall.
    Api::<CustomResourceDefinition>::all(client.clone())
        .get("gadgets.test.sandbox.io")
        .await
        .unwrap();

    let bad = cli
        .run("helm", &["install", "bad", &chart, "--set", "size=-1"])
        .await;
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(r#"Gadget.test.sandbox.io "bad" is invalid: spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0"#),
        "{err}"
    );
}
