//! Throughput figures for the README: create, list and watch of custom resources over HTTPS
//! with kube-rs as the client. Run: `cargo bench -p kube-sandbox --bench sandbox`.

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use kube_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use std::time::{Duration, Instant};

const N: usize = 10_000;
const CONCURRENCY: usize = 32;

fn crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "benchers.bench.sandbox.io"},
        "spec": {
            "group": "bench.sandbox.io",
            "scope": "Namespaced",
            "names": {"plural": "benchers", "singular": "bencher", "kind": "Bencher"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "name": {"type": "string", "maxLength": 128, "pattern": "^[a-zA-Z0-9:_-]+$"},
                            "region": {"type": "string"},
                            "behaviors": {"type": "array", "maxItems": 100, "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["name"],
                                "items": {"type": "object", "required": ["name"], "properties": {
                                    "name": {"type": "string"}, "metric": {"type": "string"},
                                    "count": {"type": "integer", "minimum": 0}}}},
                            "tags": {"type": "object", "additionalProperties": {"type": "string"}}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    }))
    .expect("crd")
}

fn object(i: usize) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "bench.sandbox.io/v1",
        "kind": "Bencher",
        "metadata": {"name": format!("b-{i:05}"), "labels": {"bench": "yes", "shard": (i % 10).to_string()}},
        "spec": {
            "name": format!("profile-{i}"),
            "region": "eu-west-1",
            "behaviors": [
                {"name": "auth-failures", "metric": "aws:num-authorization-failures", "count": 5},
                {"name": "msgs-sent", "metric": "aws:num-messages-sent", "count": 100}
            ],
            "tags": {"team": "iot", "env": "bench"}
        }
    }))
    .expect("object")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn create_all(api: &Api<DynamicObject>, range: std::ops::Range<usize>) -> Duration {
    let started = Instant::now();
    stream::iter(range)
        .map(|i| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &object(i)).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("create");
    started.elapsed()
}

async fn count_events(api: &Api<DynamicObject>, rv: &str, n: usize) -> (Instant, usize) {
    let mut events = api
        .watch(&WatchParams::default().timeout(290), rv)
        .await
        .expect("watch")
        .boxed();
    let mut seen = 0;
    while seen < n {
        match events.try_next().await.expect("watch event") {
            Some(WatchEvent::Added(_) | WatchEvent::Modified(_) | WatchEvent::Deleted(_)) => {
                seen += 1
            }
            Some(WatchEvent::Bookmark(_)) => {}
            Some(WatchEvent::Error(e)) => panic!("watch error {e:?}"),
            None => break,
        }
    }
    (Instant::now(), seen)
}

async fn run(client: Client) {
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd())
        .await
        .expect("crd");
    let ar = ApiResource {
        group: "bench.sandbox.io".into(),
        version: "v1".into(),
        api_version: "bench.sandbox.io/v1".into(),
        kind: "Bencher".into(),
        plural: "benchers".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let rv0 = api
        .list(&ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .resource_version
        .unwrap_or_default();

    // Live watch while creating: events/s is bounded by the writers here.
    let watching = {
        let api = api.clone();
        let rv = rv0.clone();
        tokio::spawn(async move { count_events(&api, &rv, N).await })
    };
    let create = create_all(&api, 0..N).await;
    let (live_end, live_seen) = watching.await.expect("watch task");
    println!(
        "create {N} CRs ({CONCURRENCY} concurrent, with admission): {:.2}s = {:.0}/s; live watch saw {live_seen} events",
        create.as_secs_f64(),
        N as f64 / create.as_secs_f64()
    );
    let _ = live_end;

    let mut lists = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let l = api.list(&ListParams::default()).await.expect("list");
        assert_eq!(l.items.len(), N);
        lists.push(t.elapsed());
    }
    println!(
        "list {N} CRs in one page (kube-rs, DynamicObject): median {:.0} ms",
        median(lists).as_secs_f64() * 1e3
    );

    let mut paged = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut token: Option<String> = None;
        let mut total = 0;
        loop {
            let mut lp = ListParams::default().limit(500);
            if let Some(c) = &token {
                lp = lp.continue_token(c);
            }
            let page = api.list(&lp).await.expect("page");
            total += page.items.len();
            token = page.metadata.continue_.filter(|c| !c.is_empty());
            if token.is_none() {
                break;
            }
        }
        assert_eq!(total, N);
        paged.push(t.elapsed());
    }
    println!(
        "list {N} CRs in pages of 500 (the watcher's way): median {:.0} ms",
        median(paged).as_secs_f64() * 1e3
    );

    let mut replays = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let (end, seen) = count_events(&api, &rv0, N).await;
        assert_eq!(seen, N);
        replays.push(end - t);
    }
    let replay = median(replays);
    println!(
        "watch replay of {N} events from history: median {:.0} ms = {:.0} events/s",
        replay.as_secs_f64() * 1e3,
        N as f64 / replay.as_secs_f64()
    );

    // Live delivery to several watchers at once.
    let rv1 = api
        .list(&ListParams::default().limit(1))
        .await
        .expect("list")
        .metadata
        .resource_version
        .unwrap_or_default();
    let watchers: Vec<_> = (0..4)
        .map(|_| {
            let api = api.clone();
            let rv = rv1.clone();
            tokio::spawn(async move { count_events(&api, &rv, N).await })
        })
        .collect();
    let t = Instant::now();
    stream::iter(0..N)
        .map(|i| {
            let api = api.clone();
            async move { api.delete(&format!("b-{i:05}"), &Default::default()).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .expect("delete");
    let deletes = t.elapsed();
    let mut last = t;
    for w in watchers {
        let (end, seen) = w.await.expect("watcher");
        assert_eq!(seen, N);
        last = last.max(end);
    }
    println!(
        "delete {N} CRs: {:.2}s = {:.0}/s; 4 live watchers each got all {N} events within {:.2}s",
        deletes.as_secs_f64(),
        N as f64 / deletes.as_secs_f64(),
        (last - t).as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sb = Sandbox::start(SandboxConfig::default())
            .await
            .expect("sandbox");
        let client = sb.client().await.expect("client");
        run(client).await;
        sb.shutdown().await;
    });
}
