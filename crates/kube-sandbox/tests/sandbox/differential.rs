//! The sandbox held to the real server: one script of requests (CRUD and conflicts, lists and
//! watches from a resourceVersion, merge/JSON/strategic/server-side-apply patches, the status
//! subresource, finalizers, Events, Leases, and the kubectl flow of the other tests) is sent to
//! kube-sandbox and to a real kube-apiserver (etcd and kube-apiserver built by
//! `scripts/tools.sh`, started by `kube-control-plane`). Each step records what a client can
//! rely on — the status code, the error's reason and causes, the fields the step is about, the
//! order of watch events — and the two records must be equal, except for the steps listed in
//! [`KNOWN_LIMITS`], which must still differ (each is a known limit in the README; a limit that
//! goes away fails the test so the list and the README shrink with it).

use crate::common::widget_crd_json;
use crate::tools::Cli;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::BodyExt;
use kube::Client;
use kube_control_plane::{Config, ControlPlane};
use kube_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// Steps whose answers differ on purpose, with the README's words for why. Each must differ.
const KNOWN_LIMITS: &[(&str, &str)] = &[
    (
        "crd: create",
        "the CRD's `customresourcecleanup.apiextensions.k8s.io` finalizer is there from the \
         create (kube-apiserver's finalizer controller adds it just after)",
    ),
    (
        "finalizer: no new finalizer while deleting",
        "kube-apiserver lists the cause twice; the sandbox once (same message)",
    ),
    (
        "lease: server-side apply by another manager over a created Lease",
        "kube-sandbox records no `Update` entries in managedFields, so an apply never conflicts \
         with fields written by create/update/patch (the real server answers 409)",
    ),
];

const NS: &str = "diff";

/// What one step left for a client to rely on.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    step: String,
    what: Value,
}

/// One server under test, and what it answered so far.
struct Target {
    client: Client,
    cli: Cli,
    seen: Vec<Seen>,
}

impl Target {
    fn record(&mut self, step: &str, what: Value) {
        self.seen.push(Seen {
            step: step.to_string(),
            what,
        });
    }

    /// Sends one request and returns the status code and the JSON body (or the text).
    async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let bytes = match body {
            Some(b) => serde_json::to_vec(&b).expect("json"),
            None => Vec::new(),
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("accept", "application/json")
            .body(kube::client::Body::from(bytes))
            .expect("request");
        let resp = self.client.send(req).await.expect("the server answers");
        let status = resp.status().as_u16();
        let body: Bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        (status, value)
    }

    async fn json(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.send(method, path, "application/json", body).await
    }

    /// Sends a request and records its code and the essence of its answer.
    async fn step(
        &mut self,
        step: &str,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> Value {
        let (code, value) = self.send(method, path, content_type, body).await;
        self.record(step, json!({"code": code, "body": essence(&value)}));
        value
    }

    /// Reads a watch until the server ends it (`timeoutSeconds`) and records its events.
    async fn watch(&mut self, step: &str, path: &str) {
        let (code, value) = self.send(Method::GET, path, "application/json", None).await;
        let text = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let events: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l).expect("a watch event per line"))
            .filter(|e| !is_periodic_bookmark(e))
            .map(|e| json!({"type": e["type"], "object": essence(&e["object"])}))
            .collect();
        self.record(step, json!({"code": code, "events": events}));
    }

    async fn kubectl(&mut self, step: &str, args: &[&str]) {
        let out = self.cli.run("kubectl", args).await;
        let text = |b: &[u8]| normalize_cli(&String::from_utf8_lossy(b));
        self.record(
            step,
            json!({"ok": out.status.success(), "stdout": text(&out.stdout), "stderr": text(&out.stderr)}),
        );
    }
}

/// A BOOKMARK other than the end of the initial events: when servers send them is theirs to
/// choose (kube-apiserver about once a minute, the sandbox every second).
fn is_periodic_bookmark(event: &Value) -> bool {
    event["type"] == "BOOKMARK"
        && event["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] != "true"
}

fn normalize_cli(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Warning:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a client may rely on in an answer: for a Status its code, reason and causes; for an
/// object its identity, labels, annotations, finalizers, generation, whether it is being
/// deleted, its appliers, and the fields of its kind that the script is about (never uids,
/// resourceVersions, timestamps or defaults a kind's controllers fill in); for a list the
/// names of its items and whether it continues.
fn essence(v: &Value) -> Value {
    let kind = v["kind"].as_str().unwrap_or_default();
    if kind == "Status" {
        let causes: Vec<Value> = v["details"]["causes"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| json!({"reason": c["reason"], "field": c["field"]}))
                    .collect()
            })
            .unwrap_or_default();
        let message = v["message"].as_str().map(without_uids);
        return json!({"reason": v["reason"], "code": v["code"], "causes": causes,
                      "message": message});
    }
    if kind.ends_with("List") {
        let names: Vec<Value> = v["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i["metadata"]["name"].clone())
                    .collect()
            })
            .unwrap_or_default();
        return json!({
            "names": names,
            "continues": v["metadata"]["continue"].as_str().is_some_and(|c| !c.is_empty()),
            "remainingItemCount": v["metadata"]["remainingItemCount"],
        });
    }
    let Some(meta) = v.get("metadata") else {
        return v.clone();
    };
    let appliers: Vec<Value> = meta["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["operation"] == "Apply")
                .map(|e| e["manager"].clone())
                .collect()
        })
        .unwrap_or_default();
    let mut out = json!({
        "kind": kind,
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": meta["labels"],
        "annotations": without_last_applied(&meta["annotations"]),
        "finalizers": meta["finalizers"],
        "generation": meta["generation"],
        "deleting": meta.get("deletionTimestamp").is_some(),
        "appliers": appliers,
    });
    let fields = match kind {
        "ConfigMap" => json!({"data": v["data"]}),
        "Deployment" => json!({
            "replicas": v["spec"]["replicas"],
            "containers": v["spec"]["template"]["spec"]["containers"]
                .as_array()
                .map(|cs| cs.iter().map(|c| json!({"name": c["name"], "image": c["image"], "env": c["env"]})).collect::<Vec<_>>()),
        }),
        "Widget" => json!({"spec": v["spec"], "status": v["status"]}),
        "Lease" => json!({"spec": v["spec"]}),
        "Event" => json!({"reason": v["reason"], "note": v["note"], "message": v["message"],
                          "type": v["type"], "regarding": v["regarding"]["name"],
                          "involvedObject": v["involvedObject"]["name"]}),
        _ => json!({}),
    };
    out["fields"] = fields;
    out
}

/// Each server makes its own uids: a message naming one is compared without it.
fn without_uids(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(|c: char| c.is_ascii_hexdigit()) {
        let candidate = &rest[i..];
        let is_uid = candidate.len() >= 36
            && candidate[..36].char_indices().all(|(j, c)| {
                if [8, 13, 18, 23].contains(&j) {
                    c == '-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if is_uid {
            out.push_str(&rest[..i]);
            out.push_str("<uid>");
            rest = &candidate[36..];
        } else {
            let step = i + candidate.chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..step]);
            rest = &rest[step..];
        }
    }
    out.push_str(rest);
    out
}

fn without_last_applied(annotations: &Value) -> Value {
    let mut a = annotations.clone();
    if let Some(map) = a.as_object_mut() {
        map.remove("kubectl.kubernetes.io/last-applied-configuration");
        if map.is_empty() {
            return Value::Null;
        }
    }
    a
}

fn rv(v: &Value) -> String {
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("an object with a resourceVersion")
        .to_string()
}

fn cm(name: &str, app: &str, data: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
           "data": {"k": data}})
}

const CMS: &str = "/api/v1/namespaces/diff/configmaps";
const WIDGETS: &str = "/apis/test.sandbox.io/v1/namespaces/diff/widgets";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/diff/deployments";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/diff/leases";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

/// The script: every request is sent to the target in the same order.
async fn script(t: &mut Target) {
    t.step(
        "namespace: create",
        Method::POST,
        "/api/v1/namespaces",
        "application/json",
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})),
    )
    .await;
    config_maps(t).await;
    watches(t).await;
    deployments(t).await;
    widgets(t).await;
    finalizers(t).await;
    events_and_leases(t).await;
    kubectl_flow(t).await;
}

async fn config_maps(t: &mut Target) {
    let a = t
        .step(
            "configmap: create",
            Method::POST,
            CMS,
            "application/json",
            Some(cm("a", "x", "1")),
        )
        .await;
    t.step(
        "configmap: create again",
        Method::POST,
        CMS,
        "application/json",
        Some(cm("a", "x", "1")),
    )
    .await;
    let stale = rv(&a);
    let mut update = cm("a", "x", "2");
    update["metadata"]["resourceVersion"] = json!(stale);
    let updated = t
        .step(
            "configmap: update",
            Method::PUT,
            &format!("{CMS}/a"),
            "application/json",
            Some(update.clone()),
        )
        .await;
    t.step(
        "configmap: update from a stale resourceVersion",
        Method::PUT,
        &format!("{CMS}/a"),
        "application/json",
        Some(update.clone()),
    )
    .await;
    update["metadata"]["resourceVersion"] = json!(rv(&updated));
    let same = t
        .step(
            "configmap: update changing nothing",
            Method::PUT,
            &format!("{CMS}/a"),
            "application/json",
            Some(update),
        )
        .await;
    t.record(
        "configmap: an update changing nothing keeps the resourceVersion",
        json!(rv(&same) == rv(&updated)),
    );
    t.step(
        "configmap: merge patch",
        Method::PATCH,
        &format!("{CMS}/a"),
        MERGE,
        Some(json!({"data": {"k": "3", "extra": "e"}})),
    )
    .await;
    t.step(
        "configmap: JSON patch whose test fails",
        Method::PATCH,
        &format!("{CMS}/a"),
        JSON_PATCH,
        Some(json!([{"op": "test", "path": "/data/k", "value": "nope"},
                    {"op": "replace", "path": "/data/k", "value": "4"}])),
    )
    .await;
    t.step(
        "configmap: JSON patch whose test passes",
        Method::PATCH,
        &format!("{CMS}/a"),
        JSON_PATCH,
        Some(json!([{"op": "test", "path": "/data/k", "value": "3"},
                    {"op": "replace", "path": "/data/k", "value": "4"},
                    {"op": "remove", "path": "/data/extra"}])),
    )
    .await;
    t.step(
        "configmap: strategic merge patch",
        Method::PATCH,
        &format!("{CMS}/a"),
        STRATEGIC,
        Some(json!({"metadata": {"labels": {"tier": "t"}}})),
    )
    .await;
    t.step(
        "configmap: delete with a wrong uid precondition",
        Method::DELETE,
        &format!("{CMS}/a"),
        "application/json",
        Some(json!({"kind": "DeleteOptions", "apiVersion": "v1",
                    "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
    )
    .await;
    t.step(
        "configmap: get a missing one",
        Method::GET,
        &format!("{CMS}/missing"),
        "application/json",
        None,
    )
    .await;
    for (name, app) in [("b", "x"), ("c", "y"), ("d", "x")] {
        t.json(Method::POST, CMS, Some(cm(name, app, "1"))).await;
    }
    let first = t
        .step(
            "configmap: list a page",
            Method::GET,
            &format!("{CMS}?limit=2"),
            "application/json",
            None,
        )
        .await;
    let token = first["metadata"]["continue"].as_str().unwrap_or_default();
    t.step(
        "configmap: list the next page",
        Method::GET,
        &format!("{CMS}?limit=2&continue={token}"),
        "application/json",
        None,
    )
    .await;
    t.step(
        "configmap: list by label",
        Method::GET,
        &format!("{CMS}?labelSelector=app%3Dx"),
        "application/json",
        None,
    )
    .await;
    t.step(
        "configmap: list by set-based label",
        Method::GET,
        &format!("{CMS}?labelSelector=app%20notin%20(x)"),
        "application/json",
        None,
    )
    .await;
    t.step(
        "configmap: list by field",
        Method::GET,
        &format!("{CMS}?fieldSelector=metadata.name%3Dc"),
        "application/json",
        None,
    )
    .await;
}

async fn watches(t: &mut Target) {
    let (_, list) = t.json(Method::GET, CMS, None).await;
    let from = rv(&list);
    t.json(Method::POST, CMS, Some(cm("e", "x", "1"))).await;
    t.send(
        Method::PATCH,
        &format!("{CMS}/b"),
        MERGE,
        Some(json!({"data": {"k": "2"}})),
    )
    .await;
    t.json(Method::DELETE, &format!("{CMS}/e"), None).await;
    t.send(
        Method::PATCH,
        &format!("{CMS}/c"),
        MERGE,
        Some(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await;
    t.watch(
        "watch: from a resourceVersion",
        &format!("{CMS}?watch=true&resourceVersion={from}&timeoutSeconds=1"),
    )
    .await;
    t.watch(
        "watch: from a resourceVersion with a label selector (objects entering it are ADDED)",
        &format!("{CMS}?watch=true&resourceVersion={from}&labelSelector=app%3Dx&timeoutSeconds=1"),
    )
    .await;
    t.watch(
        "watch: streaming list (sendInitialEvents) ends its initial events with a BOOKMARK",
        &format!(
            "{CMS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
        ),
    )
    .await;
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": NS},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [
                                     {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                                     {"name": "b", "image": "b:1"}]}}}})
}

async fn deployments(t: &mut Target) {
    t.step(
        "deployment: create",
        Method::POST,
        DEPLOYMENTS,
        "application/json",
        Some(deployment()),
    )
    .await;
    t.step(
        "deployment: strategic merge patch merges containers and env by name",
        Method::PATCH,
        &format!("{DEPLOYMENTS}/web"),
        STRATEGIC,
        Some(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "env": [{"name": "Y", "value": "2"}]}]}}}})),
    )
    .await;
    t.step(
        "deployment: strategic merge patch deletes a container with $patch: delete",
        Method::PATCH,
        &format!("{DEPLOYMENTS}/web"),
        STRATEGIC,
        Some(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "$patch": "delete"}]}}}})),
    )
    .await;
    t.step(
        "deployment: merge patch replaces the container list",
        Method::PATCH,
        &format!("{DEPLOYMENTS}/web"),
        MERGE,
        Some(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "c:1"}]}}}})),
    )
    .await;
}

fn widget(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "test.sandbox.io/v1", "kind": "Widget",
           "metadata": {"name": name, "namespace": NS}, "spec": spec})
}

async fn install_crd(t: &mut Target) {
    t.step(
        "crd: create",
        Method::POST,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "application/json",
        Some(widget_crd_json()),
    )
    .await;
    for _ in 0..100 {
        let (code, _) = t.json(Method::GET, WIDGETS, None).await;
        if code == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("widgets were never served");
}

async fn widgets(t: &mut Target) {
    install_crd(t).await;
    let mut w1 = widget("w1", json!({"size": 3}));
    w1["status"] = json!({"observed": 9});
    t.step(
        "widget: create drops status",
        Method::POST,
        WIDGETS,
        "application/json",
        Some(w1),
    )
    .await;
    t.step(
        "widget: strategic merge patch is unsupported",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        STRATEGIC,
        Some(json!({"spec": {"size": 4}})),
    )
    .await;
    t.step(
        "widget: merge patch of spec bumps generation",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        MERGE,
        Some(json!({"spec": {"size": 4}})),
    )
    .await;
    t.step(
        "widget: status patch changes only status",
        Method::PATCH,
        &format!("{WIDGETS}/w1/status"),
        MERGE,
        Some(json!({"spec": {"size": 40}, "status": {"observed": 2}})),
    )
    .await;
    t.step(
        "widget: main endpoint ignores status",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        MERGE,
        Some(json!({"status": {"observed": 7}})),
    )
    .await;
    t.step(
        "widget: a value below the minimum is invalid",
        Method::POST,
        WIDGETS,
        "application/json",
        Some(widget("bad", json!({"size": -1}))),
    )
    .await;
    t.step(
        "widget: a value outside the enum and a missing required field are invalid",
        Method::POST,
        WIDGETS,
        "application/json",
        Some(widget("bad", json!({"color": "pink"}))),
    )
    .await;
    t.step(
        "widget: a CEL transition rule refuses shrinking",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        MERGE,
        Some(json!({"spec": {"size": 1}})),
    )
    .await;
    t.step(
        "widget: an unknown field with strict validation is refused",
        Method::POST,
        &format!("{WIDGETS}?fieldValidation=Strict"),
        "application/json",
        Some(widget("bad", json!({"size": 1, "shape": "round"}))),
    )
    .await;
    t.step(
        "widget: an unknown field is pruned",
        Method::POST,
        WIDGETS,
        "application/json",
        Some(widget("pruned", json!({"size": 1, "shape": "round"}))),
    )
    .await;
    let apply = |manager: &str, force: bool| {
        format!(
            "{WIDGETS}/w2?fieldManager={manager}{}",
            if force { "&force=true" } else { "" }
        )
    };
    t.step(
        "widget: server-side apply creates",
        Method::PATCH,
        &apply("m1", false),
        APPLY,
        Some(widget("w2", json!({"size": 1, "color": "red"}))),
    )
    .await;
    t.step(
        "widget: server-side apply by another manager conflicts",
        Method::PATCH,
        &apply("m2", false),
        APPLY,
        Some(widget("w2", json!({"size": 1, "color": "blue"}))),
    )
    .await;
    t.step(
        "widget: server-side apply with force takes the field",
        Method::PATCH,
        &apply("m2", true),
        APPLY,
        Some(widget("w2", json!({"color": "blue"}))),
    )
    .await;
    t.step(
        "widget: a manager that stops applying a field it shares keeps the value",
        Method::PATCH,
        &apply("m1", false),
        APPLY,
        Some(widget("w2", json!({"size": 1}))),
    )
    .await;
    t.step(
        "widget: server-side apply without a field manager is refused",
        Method::PATCH,
        &format!("{WIDGETS}/w2"),
        APPLY,
        Some(widget("w2", json!({"size": 1}))),
    )
    .await;
}

async fn finalizers(t: &mut Target) {
    t.step(
        "finalizer: added by merge patch",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        MERGE,
        Some(json!({"metadata": {"finalizers": ["test.sandbox.io/hold"]}})),
    )
    .await;
    t.step(
        "finalizer: delete marks the object",
        Method::DELETE,
        &format!("{WIDGETS}/w1"),
        "application/json",
        None,
    )
    .await;
    t.step(
        "finalizer: a spec change while deleting is still accepted",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        MERGE,
        Some(json!({"spec": {"size": 5}})),
    )
    .await;
    t.step(
        "finalizer: no new finalizer while deleting",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        JSON_PATCH,
        Some(json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "test.sandbox.io/more"}])),
    )
    .await;
    t.step(
        "finalizer: removing the last one deletes the object",
        Method::PATCH,
        &format!("{WIDGETS}/w1"),
        JSON_PATCH,
        Some(json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "test.sandbox.io/hold"},
                    {"op": "remove", "path": "/metadata/finalizers/0"}])),
    )
    .await;
    t.step(
        "finalizer: the object is gone",
        Method::GET,
        &format!("{WIDGETS}/w1"),
        "application/json",
        None,
    )
    .await;
}

async fn events_and_leases(t: &mut Target) {
    t.step(
        "event: core/v1 create",
        Method::POST,
        "/api/v1/namespaces/diff/events",
        "application/json",
        Some(json!({"apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": "w2.1", "namespace": NS},
                    "involvedObject": {"apiVersion": "test.sandbox.io/v1", "kind": "Widget",
                                       "name": "w2", "namespace": NS},
                    "reason": "Made", "message": "made it", "type": "Normal",
                    "source": {"component": "diff"}})),
    )
    .await;
    t.step(
        "event: events.k8s.io/v1 create",
        Method::POST,
        "/apis/events.k8s.io/v1/namespaces/diff/events",
        "application/json",
        Some(json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                    "metadata": {"name": "w2.2", "namespace": NS},
                    "regarding": {"apiVersion": "test.sandbox.io/v1", "kind": "Widget",
                                  "name": "w2", "namespace": NS},
                    "reason": "Changed", "note": "changed it", "type": "Warning",
                    "action": "Change", "reportingController": "diff",
                    "reportingInstance": "diff-1",
                    "eventTime": "2026-01-01T00:00:00.000000Z"})),
    )
    .await;
    t.step(
        "event: an events.k8s.io/v1 event without eventTime is invalid",
        Method::POST,
        "/apis/events.k8s.io/v1/namespaces/diff/events",
        "application/json",
        Some(json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                    "metadata": {"name": "w2.3", "namespace": NS},
                    "regarding": {"kind": "Widget", "name": "w2", "namespace": NS},
                    "reason": "Changed", "type": "Normal", "action": "Change",
                    "reportingController": "diff", "reportingInstance": "diff-1"})),
    )
    .await;
    t.step(
        "event: both kinds listed through core/v1 by involvedObject.name",
        Method::GET,
        "/api/v1/namespaces/diff/events?fieldSelector=involvedObject.name%3Dw2",
        "application/json",
        None,
    )
    .await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "leader", "namespace": NS},
                       "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}});
    let created = t
        .step(
            "lease: create",
            Method::POST,
            LEASES,
            "application/json",
            Some(lease.clone()),
        )
        .await;
    let mut renewed = lease.clone();
    renewed["metadata"]["resourceVersion"] = json!(rv(&created));
    renewed["spec"]["leaseTransitions"] = json!(1);
    t.step(
        "lease: renew",
        Method::PUT,
        &format!("{LEASES}/leader"),
        "application/json",
        Some(renewed.clone()),
    )
    .await;
    t.step(
        "lease: a second holder from the stale resourceVersion conflicts",
        Method::PUT,
        &format!("{LEASES}/leader"),
        "application/json",
        Some(renewed),
    )
    .await;
    let mut taken = lease.clone();
    taken["spec"]["holderIdentity"] = json!("b");
    t.step(
        "lease: server-side apply by another manager over a created Lease",
        Method::PATCH,
        &format!("{LEASES}/leader?fieldManager=b"),
        APPLY,
        Some(taken.clone()),
    )
    .await;
    t.step(
        "lease: server-side apply with force takes it",
        Method::PATCH,
        &format!("{LEASES}/leader?fieldManager=b&force=true"),
        APPLY,
        Some(taken),
    )
    .await;
}

const KUBECTL_WIDGET: &str = "apiVersion: test.sandbox.io/v1
kind: Widget
metadata:
  name: k1
  namespace: diff
spec:
  size: 3
  color: red
";

async fn kubectl_flow(t: &mut Target) {
    let file = t.cli.write("k1.yaml", KUBECTL_WIDGET);
    let bad = t
        .cli
        .write("bad.yaml", &KUBECTL_WIDGET.replace("size: 3", "size: -3"));
    // The value `kubectl patch` set: taking over a field at the value it has is no conflict.
    let grown = t
        .cli
        .write("k1-4.yaml", &KUBECTL_WIDGET.replace("size: 3", "size: 4"));
    let steps: &[(&str, Vec<&str>)] = &[
        ("kubectl: apply creates", vec!["apply", "-f", &file]),
        (
            "kubectl: apply again is unchanged",
            vec!["apply", "-f", &file],
        ),
        (
            "kubectl: get with a jsonpath",
            vec![
                "get",
                "widget",
                "k1",
                "-n",
                NS,
                "-o",
                "jsonpath={.spec.size} {.spec.color}",
            ],
        ),
        (
            "kubectl: get a table",
            vec![
                "get",
                "widgets",
                "-n",
                NS,
                "--no-headers",
                "-o",
                "custom-columns=NAME:.metadata.name,SIZE:.spec.size",
            ],
        ),
        (
            "kubectl: patch merge",
            vec![
                "patch",
                "widget",
                "k1",
                "-n",
                NS,
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"size":4}}"#,
            ],
        ),
        (
            "kubectl: server-side apply takes over from client-side apply",
            vec![
                "apply",
                "--server-side",
                "--field-manager",
                "ops",
                "-f",
                &grown,
            ],
        ),
        ("kubectl: invalid manifest", vec!["apply", "-f", &bad]),
        (
            "kubectl: label",
            vec!["label", "widget", "k1", "-n", NS, "team=a"],
        ),
        (
            "kubectl: get by label",
            vec!["get", "widgets", "-n", NS, "-l", "team=a", "-o", "name"],
        ),
        (
            "kubectl: delete waits",
            vec![
                "delete",
                "widget",
                "k1",
                "-n",
                NS,
                "--wait=true",
                "--timeout=20s",
            ],
        ),
        (
            "kubectl: get the deleted one",
            vec!["get", "widget", "k1", "-n", NS],
        ),
    ];
    for (step, args) in steps {
        t.kubectl(step, args).await;
    }
}

/// Every step whose records differ, in order: (step, sandbox's, kube-apiserver's).
fn differences(sandbox: &[Seen], real: &[Seen]) -> Vec<(String, Value, Value)> {
    assert_eq!(
        sandbox.iter().map(|s| &s.step).collect::<Vec<_>>(),
        real.iter().map(|s| &s.step).collect::<Vec<_>>(),
        "both servers ran the same script"
    );
    sandbox
        .iter()
        .zip(real)
        .filter(|(s, r)| s.what != r.what)
        .map(|(s, r)| (s.step.clone(), s.what.clone(), r.what.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_answers_as_kube_apiserver_does() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("start sandbox");
    let plane = ControlPlane::start(Config::default())
        .await
        .expect("kube-apiserver and etcd (built by scripts/tools.sh)");
    let mut targets = BTreeMap::new();
    targets.insert(
        "sandbox",
        Target {
            client: sandbox.client().await.expect("client"),
            cli: Cli::new(&sandbox),
            seen: Vec::new(),
        },
    );
    targets.insert(
        "kube-apiserver",
        Target {
            client: plane.client().await.expect("client"),
            cli: Cli::for_kubeconfig(plane.admin_kubeconfig()),
            seen: Vec::new(),
        },
    );
    for target in targets.values_mut() {
        script(target).await;
    }
    let diffs = differences(&targets["sandbox"].seen, &targets["kube-apiserver"].seen);
    let report: String = diffs
        .iter()
        .map(|(step, s, r)| format!("\n* {step}\n  sandbox:        {s}\n  kube-apiserver: {r}"))
        .collect();
    let differing: Vec<&str> = diffs.iter().map(|(step, _, _)| step.as_str()).collect();
    let known: Vec<&str> = KNOWN_LIMITS.iter().map(|(step, _)| *step).collect();
    assert_eq!(
        differing, known,
        "the sandbox and kube-apiserver differ where no known limit says so (or a known limit \
         is gone: remove it here and from the README):{report}"
    );
    println!(
        "{} steps compared, {} known limits:{report}",
        targets["sandbox"].seen.len(),
        known.len()
    );
}
