//! Shared helpers: start a sandbox, the `Widget` test CRD.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client, CustomResource, api::PostParams};
use kube_sandbox::{Sandbox, SandboxConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

pub async fn start() -> (Sandbox, Client) {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("start sandbox");
    let client = sb.client().await.expect("client");
    (sb, client)
}

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "test.sandbox.io",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus",
    schema = "disabled"
)]
pub struct WidgetSpec {
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct WidgetStatus {
    #[serde(default)]
    pub observed: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<serde_json::Value>,
}

pub fn widget_crd_json() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.test.sandbox.io"},
        "spec": {
            "group": "test.sandbox.io",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                      "listKind": "WidgetList", "shortNames": ["wd"], "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
                    {"name": "Ready", "type": "string",
                     "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A widget for tests.",
                    "properties": {
                        "spec": {"type": "object", "description": "What the widget should be.",
                                 "required": ["size"],
                                 "x-kubernetes-validations": [
                                     {"rule": "self.size >= oldSelf.size", "message": "size may not shrink"}
                                 ],
                                 "properties": {
                                     "size": {"type": "integer", "description": "How big.", "minimum": 0},
                                     "color": {"type": "string", "description": "Its color.",
                                               "enum": ["red", "green", "blue"]}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

/// Installs the Widget CRD and waits until discovery serves it.
pub async fn install_widgets(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition =
        serde_json::from_value(widget_crd_json()).expect("crd json");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("create crd");
    for _ in 0..50 {
        if let Ok(d) = kube::Discovery::new(client.clone()).run().await
            && d.has_group("test.sandbox.io")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("widgets never appeared in discovery");
}

pub fn widget(name: &str, size: i64) -> Widget {
    Widget::new(name, WidgetSpec { size, color: None })
}

pub fn api_status(e: &kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}
