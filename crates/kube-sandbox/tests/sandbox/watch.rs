//! Watch semantics over the wire: replay from a resourceVersion, BOOKMARKs, 410 Expired,
//! timeoutSeconds and selectors.

use crate::common::start;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use kube_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use std::time::Duration;

fn cm(name: &str, app: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app}}})).unwrap()
}

#[tokio::test]
async fn watch_replays_from_a_version_then_follows() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("before", "x"))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &cm("after1", "x"))
        .await
        .unwrap();
    api.delete("before", &Default::default()).await.unwrap();

    let mut stream = api
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.name_any())),
            WatchEvent::Deleted(o) => seen.push(format!("DELETED {}", o.name_any())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED after1", "DELETED before"]);
    api.create(&PostParams::default(), &cm("live", "x"))
        .await
        .unwrap();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.name_any(), "live"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_and_timeout() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let started = std::time::Instant::now();
    let events: Vec<_> = api
        .watch(&WatchParams::default().timeout(3), &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the stream lasted until its timeout"
    );
    let bookmarks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Bookmark(b) => Some(b.metadata.resource_version.clone()),
            _ => None,
        })
        .collect();
    assert!(
        !bookmarks.is_empty(),
        "bookmarks arrive when asked for: {events:?}"
    );
    assert!(
        bookmarks
            .iter()
            .all(|b| b.parse::<u64>().unwrap() >= rv.parse::<u64>().unwrap())
    );
}

#[tokio::test]
async fn label_selected_watch_sees_objects_enter_and_leave() {
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().labels("app=web").timeout(10), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("other", "db"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("w", "db"))
        .await
        .unwrap();
    let relabel = |app: &str| json!({"metadata": {"labels": {"app": app}}});
    api.patch(
        "w",
        &Default::default(),
        &kube::api::Patch::Merge(relabel("web")),
    )
    .await
    .unwrap();
    api.patch(
        "w",
        &Default::default(),
        &kube::api::Patch::Merge(relabel("db")),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        match stream.try_next().await.unwrap().unwrap() {
            WatchEvent::Added(o) => seen.push(format!("ADDED {}", o.name_any())),
            WatchEvent::Deleted(o) => seen.push(format!("DELETED {}", o.name_any())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["ADDED w", "DELETED w"]);
}

#[tokio::test]
async fn too_old_resource_version_is_expired() {
    let sb = Sandbox::start_with_history(SandboxConfig::default(), 5)
        .await
        .unwrap();
    let client = sb.client().await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), "x"))
            .await
            .unwrap();
    }
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    match stream.try_next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected 410, got {other:?}"),
    }
}
