//! kube-runtime against the sandbox: `watcher` and a small `Controller`.

use crate::common::{Widget, install_widgets, start, widget};
use futures::StreamExt;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn watcher_lists_then_follows() {
    let (_sb, client) = start().await;
    install_widgets(&client).await;
    let api: Api<Widget> = Api::namespaced(client, "default");
    // More than one page of the watcher's initial list.
    for i in 0..3 {
        api.create(&PostParams::default(), &widget(&format!("pre{i}"), i))
            .await
            .unwrap();
    }
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default().page_size(2)).boxed();
    let mut initial = BTreeSet::new();
    loop {
        match stream.next().await.unwrap().unwrap() {
            Event::Init => {}
            Event::InitApply(w) => {
                initial.insert(w.name_any());
            }
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        initial,
        ["pre0", "pre1", "pre2"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    api.create(&PostParams::default(), &widget("post", 7))
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Event::Apply(w) => assert_eq!((w.name_any(), w.spec.size), ("post".to_string(), 7)),
        other => panic!("unexpected {other:?}"),
    }
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

async fn reconcile(w: Arc<Widget>, client: Arc<Client>) -> Result<Action, ReconcileError> {
    let api: Api<Widget> = Api::namespaced((*client).clone(), &w.namespace().unwrap());
    api.patch_status(
        &w.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"observed": w.spec.size}})),
    )
    .await?;
    Ok(Action::await_change())
}

#[tokio::test]
async fn controller_reconciles_into_status() {
    let (_sb, client) = start().await;
    install_widgets(&client).await;
    let api: Api<Widget> = Api::namespaced(client.clone(), "default");
    let ctl = Controller::new(api.clone(), watcher::Config::default())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            Arc::new(client.clone()),
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(ctl);
    api.create(&PostParams::default(), &widget("c", 3))
        .await
        .unwrap();
    api.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"size": 4}})),
    )
    .await
    .unwrap();
    let mut observed = 0;
    for _ in 0..100 {
        observed = api
            .get_status("c")
            .await
            .unwrap()
            .status
            .map(|s| s.observed)
            .unwrap_or(0);
        if observed == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    handle.abort();
    assert_eq!(
        observed, 4,
        "the controller saw the spec change and wrote status"
    );
}

/// Two kube-lease-manager instances (the operator's leader election): one holds the Lease,
/// the other gets it only after the holder releases it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_manager_elects_one_leader_and_hands_over() {
    use kube_lease_manager::LeaseManagerBuilder;
    let (_sb, client) = start().await;
    let one = LeaseManagerBuilder::new(client.clone(), "leader")
        .with_namespace("default")
        .with_identity("one")
        .with_duration(6)
        .with_grace(1)
        .build()
        .await
        .unwrap();
    let two = LeaseManagerBuilder::new(client.clone(), "leader")
        .with_namespace("default")
        .with_identity("two")
        .with_duration(6)
        .with_grace(1)
        .build()
        .await
        .unwrap();
    assert!(
        one.changed().await.unwrap(),
        "the first manager takes the free lease"
    );
    assert!(
        tokio::time::timeout(Duration::from_secs(2), two.changed())
            .await
            .is_err(),
        "the second manager cannot lock a held lease"
    );
    one.release().await.unwrap();
    // The waiting manager retries when the lease it last saw would expire (client behaviour).
    let got = tokio::time::timeout(Duration::from_secs(15), two.changed()).await;
    assert!(
        matches!(got, Ok(Ok(true))),
        "the second manager takes over after release: {got:?}"
    );
    let lease: k8s_openapi::api::coordination::v1::Lease = Api::namespaced(client, "default")
        .get("leader")
        .await
        .unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity.as_deref(), Some("two"));
}

/// Streaming lists (`sendInitialEvents`) and the metadata-only watcher.
#[tokio::test]
async fn streaming_list_and_metadata_watcher() {
    let (_sb, client) = start().await;
    install_widgets(&client).await;
    let api: Api<Widget> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &widget("s1", 1))
        .await
        .unwrap();

    let mut stream =
        watcher::watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Event::Init => {}
            Event::InitApply(w) => initial.push(w.name_any()),
            Event::InitDone => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["s1"]);

    let meta_api: Api<kube::core::PartialObjectMeta<Widget>> =
        Api::namespaced(api.clone().into_client(), "default");
    let mut meta = watcher::watcher(meta_api, watcher::Config::default()).boxed();
    loop {
        if let Event::InitDone = meta.next().await.unwrap().unwrap() {
            break;
        }
    }
    api.create(&PostParams::default(), &widget("s2", 2))
        .await
        .unwrap();
    match tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Event::Apply(w) => assert_eq!(w.name_any(), "s2"),
        other => panic!("unexpected {other:?}"),
    }
    match tokio::time::timeout(Duration::from_secs(10), meta.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Event::Apply(m) => {
            assert_eq!(m.name_any(), "s2");
            assert_eq!(
                m.types.as_ref().map(|t| t.kind.as_str()),
                Some("PartialObjectMetadata")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let m = api.get_metadata("s1").await.unwrap();
    assert!(m.metadata.uid.is_some());
}
