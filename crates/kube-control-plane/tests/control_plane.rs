//! The control plane itself: it starts, serves the admin and service accounts with RBAC's
//! answers, survives a restart with its data, and compacts etcd so that old watches are 410.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use kube_control_plane::{Config, ControlPlane};
use serde_json::json;

async fn client_from(path: &std::path::Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_service_account_identities_restart_and_compaction() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Without the watch cache, lists and watches at a resourceVersion go to etcd, so a
    // compaction shows (with it, the cache serves them from its own window).
    let mut plane = ControlPlane::start(Config {
        apiserver_args: vec!["--watch-cache=false".into()],
        ..Config::default()
    })
    .await
    .expect("the control plane starts (scripts/tools.sh builds it)");
    let admin = client_from(plane.admin_kubeconfig()).await;
    let version = admin.apiserver_version().await.expect("/version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "34")
    );
    assert!(version.git_version.starts_with("v1.34."), "{version:?}");

    let namespaces: Api<Namespace> = Api::all(admin.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");

    // A service account has no rights but what RBAC gives it.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    accounts
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "robot"}})).unwrap(),
        )
        .await
        .expect("create a service account");
    let robot = client_from(
        &plane
            .service_account_kubeconfig("default", "robot")
            .await
            .expect("TokenRequest"),
    )
    .await;
    let err = Api::<Namespace>::all(robot.clone())
        .list(&ListParams::default())
        .await
        .expect_err("no RBAC grant: forbidden");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 403),
        "{err:?}"
    );
    let audit = plane.audit_events();
    assert!(
        audit.iter().any(
            |e| e["user"]["username"] == "system:serviceaccount:default:robot"
                && e["responseStatus"]["code"] == 403
        ),
        "the audit log records the refusal"
    );

    // A restart keeps the data (etcd) and serves on the same address.
    let before = plane.etcd_revision().await.expect("revision");
    plane.restart_apiserver().await.expect("restart");
    assert!(
        accounts.get_opt("robot").await.expect("get").is_some(),
        "the data outlives the restart\n{}",
        plane.logs()
    );

    // After a compaction, a watch from a resourceVersion before it is 410 Gone.
    let old_rv = namespaces
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a resourceVersion");
    for n in 0..3 {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": format!("ns-{n}")}})).unwrap(),
            )
            .await
            .expect("create a namespace");
    }
    let compacted = plane.compact_etcd().await.expect("compaction");
    assert!(compacted > before, "{compacted} > {before}");
    let answer = namespaces
        .list(
            &ListParams::default()
                .at(&old_rv)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await;
    assert!(
        matches!(&answer, Err(kube::Error::Api(s)) if s.code == 410),
        "an exact list at a compacted resourceVersion is 410 Gone: {answer:?}"
    );
    let mut events = namespaces
        .watch(&WatchParams::default(), &old_rv)
        .await
        .expect("the watch request is answered")
        .boxed();
    let first = events.next().await.expect("an event");
    assert!(
        matches!(&first, Ok(WatchEvent::Error(e)) if e.code == 410),
        "a watch from a compacted resourceVersion gets a 410 ERROR event: {first:?}"
    );
}
