//! Built-in kinds through kube-rs `Api`: CRUD, conflicts, patches, selectors, paging, auth.

use crate::common::{api_status, start};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels.iter().cloned().collect::<BTreeMap<_, _>>()},
        "data": {"n": "0"}
    }))
    .unwrap()
}

#[tokio::test]
async fn default_namespaces_exist_with_uids() {
    let (_sb, client) = start().await;
    let ns: Api<Namespace> = Api::all(client);
    for name in ["default", "kube-system"] {
        let n = ns.get(name).await.unwrap();
        assert!(n.uid().is_some_and(|u| u.len() == 36), "{name} has a uid");
        assert_eq!(n.status.unwrap().phase.as_deref(), Some("Active"));
    }
}

#[tokio::test]
async fn configmap_create_get_update_conflict_delete() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let rv1 = created.resource_version().unwrap();
    assert_eq!(created.namespace().as_deref(), Some("default"));
    assert!(created.creation_timestamp().is_some());

    let dup = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    assert_eq!(api_status(&dup), (409, "AlreadyExists".into()));

    let mut changed = created.clone();
    changed
        .data
        .as_mut()
        .unwrap()
        .insert("n".into(), "1".into());
    let updated = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert!(
        updated.resource_version().unwrap().parse::<u64>().unwrap() > rv1.parse::<u64>().unwrap()
    );
    // `changed` still carries the old resourceVersion: stale write.
    let stale = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    assert_eq!(api_status(&stale), (409, "Conflict".into()));

    // A no-op update keeps the resourceVersion.
    let same = api
        .replace("a", &PostParams::default(), &updated)
        .await
        .unwrap();
    assert_eq!(same.resource_version(), updated.resource_version());

    let missing = api.get("nope").await.unwrap_err();
    assert_eq!(api_status(&missing), (404, "NotFound".into()));

    let deleted = api.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right(), "deleted at once: a Status");
    assert_eq!(api_status(&api.get("a").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn merge_and_json_patches_with_test() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("p", &[]))
        .await
        .unwrap();
    let merged = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "x"}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.data.as_ref().unwrap()["m"], "x");
    assert_eq!(merged.data.as_ref().unwrap()["n"], "0");

    let failing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/n", "value": "9"},
        {"op": "replace", "path": "/data/n", "value": "10"}
    ]))
    .unwrap();
    let err = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
        .await
        .unwrap_err();
    assert_eq!(api_status(&err).0, 422);
    assert_eq!(api.get("p").await.unwrap().data.unwrap()["n"], "0");

    let passing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/n", "value": "0"},
        {"op": "replace", "path": "/data/n", "value": "10"}
    ]))
    .unwrap();
    let patched = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(passing))
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["n"], "10");

    // A merge patch carrying a stale resourceVersion is a conflict.
    let err = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"n": "11"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), (409, "Conflict".into()));

    let strategic = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"s": "1"}}})),
        )
        .await
        .unwrap();
    assert_eq!(strategic.labels()["s"], "1");
}

#[tokio::test]
async fn selectors_paging_and_deletecollection() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..7 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        api.create(
            &PostParams::default(),
            &cm(&format!("c{i}"), &[("tier", tier)]),
        )
        .await
        .unwrap();
    }
    let even = api
        .list(&ListParams::default().labels("tier=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 4);
    let set = api
        .list(&ListParams::default().labels("tier in (odd),tier!=even"))
        .await
        .unwrap();
    assert_eq!(set.items.len(), 3);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=c3"))
        .await
        .unwrap();
    assert_eq!(
        by_name
            .items
            .iter()
            .map(|c| c.name_any())
            .collect::<Vec<_>>(),
        ["c3"]
    );

    let first = api.list(&ListParams::default().limit(3)).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let token = first.metadata.continue_.clone().expect("continue token");
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let second = api
        .list(&ListParams::default().limit(3).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 3);
    assert!(
        second
            .items
            .iter()
            .all(|c| !first.items.iter().any(|f| f.name_any() == c.name_any()))
    );
    // Later pages carry the first page's resourceVersion, even after writes in between.
    api.create(&PostParams::default(), &cm("zz", &[]))
        .await
        .unwrap();
    let third = api
        .list(
            &ListParams::default()
                .limit(3)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(
        third.metadata.resource_version,
        first.metadata.resource_version
    );
    assert_eq!(third.items.len(), 2, "c6 and the new zz");
    api.delete("zz", &DeleteParams::default()).await.unwrap();

    // Other namespaces are not listed.
    let cms_kube_system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    assert!(
        cms_kube_system
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let all: Api<ConfigMap> = Api::all(client);
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        7
    );

    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("tier=odd"),
    )
    .await
    .unwrap();
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    assert_eq!(left, ["c0", "c2", "c4", "c6"]);
}

#[tokio::test]
async fn secrets_string_data_is_encoded() {
    let (_sb, client) = start().await;
    let api: Api<Secret> = Api::namespaced(client, "default");
    let s: Secret =
        serde_json::from_value(json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}))
            .unwrap();
    let created = api.create(&PostParams::default(), &s).await.unwrap();
    assert_eq!(created.data.unwrap()["k"].0, b"v");
    assert!(created.string_data.is_none());
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
}

#[tokio::test]
async fn namespace_delete_removes_its_contents() {
    let (_sb, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "tmp"}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "tmp");
    api.create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap();
    nss.delete("tmp", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_status(&api.get("x").await.unwrap_err()).0, 404);
    assert_eq!(api_status(&nss.get("tmp").await.unwrap_err()).0, 404);
    let missing_ns: Api<ConfigMap> = Api::namespaced(client, "nowhere");
    let err = missing_ns
        .create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), (404, "NotFound".into()));
}

#[tokio::test]
async fn requests_without_the_token_are_unauthorized() {
    let (sb, _client) = start().await;
    let kc = kube::config::Kubeconfig::from_yaml(&sb.kubeconfig_yaml()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    cfg.auth_info.token = Some("wrong".to_string().into());
    let bad = kube::Client::try_from(cfg).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(bad, "default");
    let err = api.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(api_status(&err), (401, "Unauthorized".into()));
}

#[tokio::test]
async fn kubeconfig_file_round_trips() {
    let (sb, _client) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    sb.write_kubeconfig(&path).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    assert_eq!(kc.current_context.as_deref(), Some("sandbox"));
    let cluster = kc.clusters[0].cluster.as_ref().unwrap();
    assert_eq!(cluster.server.as_deref(), Some(sb.url().as_str()));
    assert!(cluster.certificate_authority_data.is_some());
    assert!(sb.url().starts_with("https://127.0.0.1:"));
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let v = client.apiserver_version().await.unwrap();
    assert_eq!(v.major, "1");
}

/// Parallel read-modify-write increments: every writer that loses a race gets 409 and retries,
/// so the final count equals the number of acknowledged writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_writers_see_conflicts_and_lose_nothing() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("counter", &[]))
        .await
        .unwrap();
    const WRITERS: usize = 6;
    const ROUNDS: usize = 5;
    let conflicts = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (api, conflicts, barrier) = (api.clone(), conflicts.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                let mut first = true;
                loop {
                    let mut c = api.get("counter").await.unwrap();
                    if first {
                        // Everyone has read the same version before anyone writes.
                        barrier.wait().await;
                        first = false;
                    }
                    let n: usize = c.data.as_ref().unwrap()["n"].parse().unwrap();
                    c.data
                        .as_mut()
                        .unwrap()
                        .insert("n".into(), (n + 1).to_string());
                    match api.replace("counter", &PostParams::default(), &c).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => {
                            conflicts.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("round {round}: {e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n: usize = api.get("counter").await.unwrap().data.unwrap()["n"]
        .parse()
        .unwrap();
    assert_eq!(n, WRITERS * ROUNDS, "no acknowledged increment is lost");
    assert!(
        conflicts.load(Ordering::SeqCst) >= ROUNDS * (WRITERS - 1),
        "each round loses WRITERS-1 races"
    );
}

/// Leader election (kube-lease-manager) relies on server-side apply conflicts: a second
/// applier cannot take fields another owns, but can once the owner removed them.
#[tokio::test]
async fn lease_handover_through_apply_conflicts() {
    use k8s_openapi::api::coordination::v1::Lease;
    let (_sb, client) = start().await;
    let leases: Api<Lease> = Api::namespaced(client, "default");
    leases
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "leader"}, "spec": {}})).unwrap(),
        )
        .await
        .unwrap();
    let lock = |holder: &str| {
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
               "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15}})
    };
    leases
        .patch("leader", &PatchParams::apply("a"), &Patch::Apply(lock("a")))
        .await
        .unwrap();
    let err = leases
        .patch("leader", &PatchParams::apply("b"), &Patch::Apply(lock("b")))
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), (409, "Conflict".into()));
    // "a" renews with a strategic patch, then releases by clearing its fields.
    leases
        .patch(
            "leader",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"leaseDurationSeconds": 20}})),
        )
        .await
        .unwrap();
    leases
        .patch(
            "leader",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"spec": {"holderIdentity": null, "leaseDurationSeconds": null}}),
            ),
        )
        .await
        .unwrap();
    let taken = leases
        .patch("leader", &PatchParams::apply("b"), &Patch::Apply(lock("b")))
        .await
        .unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("b"));
    let managers: Vec<String> = taken
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["b"], "a no longer owns anything");
}

/// Malformed bodies are answered with 400 and leave the server serving.
#[tokio::test]
async fn malformed_bodies_are_bad_requests() {
    let (_sb, client) = start().await;
    let post = |path: &str, body: &str| {
        http::Request::post(path)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    for body in [r#"{"metadata": "x"}"#, "[1, 2]", "not json"] {
        let err = client
            .request_text(post("/api/v1/namespaces/default/configmaps", body))
            .await
            .unwrap_err();
        assert_eq!(api_status(&err).0, 400, "{body}");
    }
    let odd_ports = r#"{"metadata": {"name": "odd"}, "spec": {"ports": [1, {"port": 80}]}}"#;
    let created = client
        .request_text(post("/api/v1/namespaces/default/services", odd_ports))
        .await
        .unwrap();
    assert!(created.contains(r#""targetPort":80"#), "{created}");
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.list(&ListParams::default()).await.unwrap();
}
