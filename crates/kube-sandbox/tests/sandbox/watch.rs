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

/// Concurrent random creates, updates and deletes: a watch from the starting version, applied
/// event by event, ends in exactly the state a final list shows, with increasing versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_replay_reconstructs_the_final_state() {
    use std::collections::BTreeMap;
    let (_sb, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv0 = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut tasks = Vec::new();
    for writer in 0..4u64 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            // A small deterministic generator per writer.
            let mut x = writer
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for step in 0..60 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                let name = format!("k{}", (x >> 33) % 12);
                match (x >> 20) % 3 {
                    0 => {
                        let _ = api.create(&PostParams::default(), &cm(&name, "r")).await;
                    }
                    1 => {
                        let patch = json!({"data": {"step": format!("{writer}-{step}")}});
                        let _ = api
                            .patch(&name, &Default::default(), &kube::api::Patch::Merge(patch))
                            .await;
                    }
                    _ => {
                        let _ = api.delete(&name, &Default::default()).await;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let final_list = api.list(&ListParams::default()).await.unwrap();
    let final_rv: u64 = final_list
        .metadata
        .resource_version
        .clone()
        .unwrap()
        .parse()
        .unwrap();
    let expected: BTreeMap<String, ConfigMap> = final_list
        .items
        .into_iter()
        .map(|c| (c.name_any(), c))
        .collect();

    let mut stream = api
        .watch(&WatchParams::default().timeout(20), &rv0)
        .await
        .unwrap()
        .boxed();
    let mut state: BTreeMap<String, ConfigMap> = BTreeMap::new();
    let mut last = rv0.parse::<u64>().unwrap();
    while last < final_rv {
        let ev = tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let (obj, gone) = match ev {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => (o, false),
            WatchEvent::Deleted(o) => (o, true),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("{e:?}"),
        };
        let rv: u64 = obj.resource_version().unwrap().parse().unwrap();
        assert!(rv > last, "versions increase: {rv} after {last}");
        last = rv;
        if gone {
            state.remove(&obj.name_any());
        } else {
            state.insert(obj.name_any(), obj);
        }
    }
    assert_eq!(state, expected);
}
