//! Watch streams: replay from a resourceVersion (or synthetic ADDED for the current state),
//! then live events, BOOKMARKs, 410 Expired when history is gone, and the timeout.

use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Event, EventType, Store};
use crate::table::{self, Include};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// How often a watch that asked for bookmarks gets one.
const BOOKMARK_PERIOD: Duration = Duration::from_secs(1);

/// What a watch request asked for.
pub struct WatchParams {
    pub ns: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// None: unset or "0" (start with the current state as ADDED events).
    pub rv: Option<u64>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
    /// Send each object as a one-row Table (`kubectl get -w`).
    pub table: Option<Include>,
    /// Send `PartialObjectMetadata` objects (kube-rs `metadata_watcher`).
    pub meta_only: bool,
}

#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    object: &'a Value,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&Wire { kind, object }).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// The object as this watch's version shows it (CRD versions share storage).
pub fn present<'a>(rt: &ResourceType, obj: &'a Value) -> Cow<'a, Value> {
    if crate::events::is_events_v1(rt) {
        return Cow::Owned(crate::events::from_core(obj));
    }
    let want = rt.api_version();
    if obj["apiVersion"].as_str() == Some(want.as_str()) {
        Cow::Borrowed(obj)
    } else {
        let mut o = obj.clone();
        o["apiVersion"] = json!(want);
        Cow::Owned(o)
    }
}

struct Filter {
    rt: Arc<ResourceType>,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    table: Option<Include>,
    meta_only: bool,
    /// Column definitions go with the first table event only, as the real server does.
    headers_sent: bool,
}

impl Filter {
    fn line(&mut self, kind: &str, obj: &Value) -> Bytes {
        let shown = present(&self.rt, obj);
        match self.table {
            None if self.meta_only => line(kind, &crate::routes::partial(&shown)),
            None => line(kind, &shown),
            Some(include) => {
                let t = table::table(
                    &self.rt,
                    &[&shown],
                    json!({"resourceVersion": shown["metadata"]["resourceVersion"]}),
                    include,
                    !self.headers_sent,
                );
                self.headers_sent = true;
                line(kind, &t)
            }
        }
    }

    fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    /// The wire line for `ev`, or None when this watch does not see it.
    fn render(&mut self, ev: &Event) -> Option<Bytes> {
        if ev.key != self.rt.storage_key() {
            return None;
        }
        if let Some(ns) = &self.ns
            && *ns != ev.namespace
        {
            return None;
        }
        let now = self.matches(&ev.object);
        let kind = match ev.kind {
            EventType::Modified => {
                let before = ev.prev.as_deref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => EventType::Modified,
                    (false, true) => EventType::Added,
                    (true, false) => EventType::Deleted,
                    (false, false) => return None,
                }
            }
            other => {
                if !now {
                    return None;
                }
                other
            }
        };
        Some(self.line(kind.as_str(), &ev.object))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": metadata}),
        )
    }
}

fn expired(rv: u64, floor: u64) -> Bytes {
    line(
        "ERROR",
        &ApiError::expired(format!("too old resource version: {rv} ({floor})")).to_status(),
    )
}

/// Starts a watch; the receiver yields the body's lines and ends with the watch.
pub fn start(store: Arc<Store>, rt: Arc<ResourceType>, p: WatchParams) -> mpsc::Receiver<Bytes> {
    let (tx, out) = mpsc::channel::<Bytes>(1024);
    let mut filter = Filter {
        rt,
        ns: p.ns.filter(|n| !n.is_empty()),
        labels: p.labels,
        fields: p.fields,
        table: p.table,
        meta_only: p.meta_only,
        headers_sent: false,
    };
    let mut initial = Vec::new();
    let mut done = false;
    let (mut rx, mut last_rv) = {
        let state = store.lock();
        let rx = state.subscribe();
        match p.rv.filter(|_| !p.send_initial_events) {
            None => {
                let page = state.list(
                    &filter.rt,
                    filter.ns.as_deref(),
                    &|o| filter.matches(o),
                    0,
                    None,
                );
                for o in page.items {
                    initial.push(filter.line("ADDED", &o));
                }
                if p.send_initial_events {
                    initial.push(filter.bookmark(state.rv, true));
                }
            }
            Some(rv) => match state.events_since(rv) {
                None => {
                    initial.push(expired(rv, state.history_floor));
                    done = true;
                }
                Some(events) => initial.extend(events.iter().filter_map(|e| filter.render(e))),
            },
        }
        (rx, state.rv)
    };
    tokio::spawn(async move {
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        if done {
            return;
        }
        let deadline = tokio::time::sleep(p.timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(BOOKMARK_PERIOD);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = tx.closed() => break,
                r = rx.recv() => match r {
                    Ok(ev) => {
                        if ev.rv > last_rv {
                            last_rv = ev.rv;
                            if let Some(b) = filter.render(&ev)
                                && tx.send(b).await.is_err()
                            {
                                break;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let floor = store.lock().history_floor;
                        let _ = tx.send(expired(last_rv, floor)).await;
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick(), if p.bookmarks => {
                    let rv = store.lock().rv;
                    let mut lines = Vec::new();
                    let mut lagged = false;
                    loop {
                        match rx.try_recv() {
                            Ok(ev) => {
                                if ev.rv > last_rv {
                                    last_rv = ev.rv;
                                    lines.extend(filter.render(&ev));
                                }
                            }
                            Err(broadcast::error::TryRecvError::Lagged(_)) => {
                                lagged = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if lagged {
                        let floor = store.lock().history_floor;
                        let _ = tx.send(expired(last_rv, floor)).await;
                        break;
                    }
                    last_rv = last_rv.max(rv);
                    lines.push(filter.bookmark(last_rv, false));
                    for b in lines {
                        if tx.send(b).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
    out
}
