//! Server-side tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as `kubectl get`
//! asks for them: the Name column, then a CRD version's `additionalPrinterColumns` evaluated
//! with JSONPath (or Age when it has none), or a few columns for built-in kinds.

use crate::registry::ResourceType;
use jsonpath_rust::JsonPath;
use serde_json::{Value, json};

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(q: Option<&str>) -> Include {
        match q {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// Whether an `Accept` header asks for a Table.
pub fn wanted(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

struct Column {
    name: String,
    kind: String,
    format: String,
    description: String,
    priority: i64,
    /// JSONPath (`$...`) or a built-in renderer.
    source: Source,
}

enum Source {
    Name,
    Age,
    Path(String),
    Builtin(fn(&Value) -> Value),
}

fn col(name: &str, kind: &str, description: &str, source: Source) -> Column {
    Column {
        name: name.into(),
        kind: kind.into(),
        format: if matches!(source, Source::Name) {
            "name".into()
        } else {
            String::new()
        },
        description: description.into(),
        priority: 0,
        source,
    }
}

fn name_col() -> Column {
    col(
        "Name",
        "string",
        "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        Source::Name,
    )
}

fn age_col() -> Column {
    col(
        "Age",
        "date",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
        Source::Age,
    )
}

fn count(v: &Value) -> Value {
    json!(v.as_object().map(|m| m.len()).unwrap_or(0))
}

fn last_seen(o: &Value) -> Value {
    let t = [
        &o["series"]["lastObservedTime"],
        &o["lastTimestamp"],
        &o["eventTime"],
        &o["firstTimestamp"],
    ]
    .into_iter()
    .find(|v| v.is_string())
    .cloned()
    .unwrap_or(Value::Null);
    age_of(&t)
}

fn event_object(o: &Value) -> Value {
    let io = &o["involvedObject"];
    json!(format!(
        "{}/{}",
        io["kind"].as_str().unwrap_or("").to_lowercase(),
        io["name"].as_str().unwrap_or("")
    ))
}

/// The real server's Event columns (stored events are in the core shape).
fn event_columns() -> Vec<Column> {
    let mut cols = vec![
        col(
            "Last Seen",
            "string",
            "Time when last event occurred",
            Source::Builtin(last_seen),
        ),
        col(
            "Type",
            "string",
            "Type of this event (Normal, Warning)",
            Source::Builtin(|o| o["type"].clone()),
        ),
        col(
            "Reason",
            "string",
            "Why the action was taken",
            Source::Builtin(|o| o["reason"].clone()),
        ),
        col(
            "Object",
            "string",
            "The object that this event is about",
            Source::Builtin(event_object),
        ),
        col(
            "Subobject",
            "string",
            "The subobject this event is about",
            Source::Builtin(|o| o["involvedObject"]["fieldPath"].clone()),
        ),
        col(
            "Source",
            "string",
            "The component reporting this event",
            Source::Builtin(|o| {
                let c = &o["source"]["component"];
                if c.is_string() {
                    c.clone()
                } else {
                    o["reportingComponent"].clone()
                }
            }),
        ),
        col(
            "Message",
            "string",
            "A human-readable description of the status of this operation",
            Source::Builtin(|o| o["message"].clone()),
        ),
        col(
            "First Seen",
            "string",
            "Time when first event occurred",
            Source::Builtin(|o| {
                let f = &o["firstTimestamp"];
                age_of(if f.is_string() { f } else { &o["eventTime"] })
            }),
        ),
        col(
            "Count",
            "string",
            "Number of times this event has occurred",
            Source::Builtin(|o| {
                let c = &o["series"]["count"];
                if c.is_number() {
                    c.clone()
                } else if o["count"].is_number() {
                    o["count"].clone()
                } else {
                    json!(1)
                }
            }),
        ),
        name_col(),
    ];
    for c in cols.iter_mut() {
        if matches!(
            c.name.as_str(),
            "Subobject" | "Source" | "First Seen" | "Count" | "Name"
        ) {
            c.priority = 1;
        }
    }
    cols
}

fn columns(rt: &ResourceType) -> Vec<Column> {
    if rt.plural == "events" && (rt.group.is_empty() || rt.group == "events.k8s.io") {
        return event_columns();
    }
    let mut cols = vec![name_col()];
    if rt.custom {
        if rt.printer_columns.is_empty() {
            cols.push(age_col());
        }
        for c in &rt.printer_columns {
            let path = c["jsonPath"].as_str().unwrap_or("");
            let path = path.trim().trim_start_matches('{').trim_end_matches('}');
            cols.push(Column {
                name: c["name"].as_str().unwrap_or("").into(),
                kind: c["type"].as_str().unwrap_or("string").into(),
                format: c["format"].as_str().unwrap_or("").into(),
                description: c["description"].as_str().unwrap_or("").into(),
                priority: c["priority"].as_i64().unwrap_or(0),
                source: Source::Path(format!("${path}")),
            });
        }
        return cols;
    }
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => cols.push(col(
            "Status",
            "string",
            "The status of the namespace",
            Source::Builtin(|o| o["status"]["phase"].clone()),
        )),
        ("", "configmaps") => cols.push(col(
            "Data",
            "string",
            "Data contains the configuration data.",
            Source::Builtin(|o| {
                let n = o["data"].as_object().map_or(0, |m| m.len())
                    + o["binaryData"].as_object().map_or(0, |m| m.len());
                json!(n)
            }),
        )),
        ("", "secrets") => {
            cols.push(col(
                "Type",
                "string",
                "The type of the secret",
                Source::Builtin(|o| o["type"].clone()),
            ));
            cols.push(col(
                "Data",
                "string",
                "The number of entries in the secret",
                Source::Builtin(|o| count(&o["data"])),
            ));
        }
        ("apps", "deployments") => {
            cols.push(col(
                "Ready",
                "string",
                "Number of the pod with ready state",
                Source::Builtin(|o| {
                    let ready = o["status"]["readyReplicas"].as_i64().unwrap_or(0);
                    let want = o["spec"]["replicas"].as_i64().unwrap_or(1);
                    json!(format!("{ready}/{want}"))
                }),
            ));
            cols.push(col(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec",
                Source::Builtin(|o| json!(o["status"]["updatedReplicas"].as_i64().unwrap_or(0))),
            ));
            cols.push(col(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment",
                Source::Builtin(|o| json!(o["status"]["availableReplicas"].as_i64().unwrap_or(0))),
            ));
        }
        ("", "services") => {
            cols.push(col(
                "Type",
                "string",
                "The type of service",
                Source::Builtin(|o| json!(o["spec"]["type"].as_str().unwrap_or("ClusterIP"))),
            ));
            cols.push(col(
                "Cluster-IP",
                "string",
                "The cluster IP of the service",
                Source::Builtin(|o| json!(o["spec"]["clusterIP"].as_str().unwrap_or("<none>"))),
            ));
            cols.push(col(
                "External-IP",
                "string",
                "The external IP of the service",
                Source::Builtin(|_| json!("<none>")),
            ));
            cols.push(col(
                "Port(s)",
                "string",
                "The ports of the service",
                Source::Builtin(|o| {
                    let ports: Vec<String> = o["spec"]["ports"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            format!(
                                "{}/{}",
                                p["port"].as_i64().unwrap_or(0),
                                p["protocol"].as_str().unwrap_or("TCP")
                            )
                        })
                        .collect();
                    json!(if ports.is_empty() {
                        "<none>".to_string()
                    } else {
                        ports.join(",")
                    })
                }),
            ));
        }
        ("", "pods") => {
            cols.push(col(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
                Source::Builtin(|o| {
                    let total = o["spec"]["containers"].as_array().map_or(0, |c| c.len());
                    let ready = o["status"]["containerStatuses"]
                        .as_array()
                        .map_or(0, |c| c.iter().filter(|s| s["ready"] == true).count());
                    json!(format!("{ready}/{total}"))
                }),
            ));
            cols.push(col(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
                Source::Builtin(|o| json!(o["status"]["phase"].as_str().unwrap_or("Pending"))),
            ));
            cols.push(col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted.",
                Source::Builtin(|_| json!("0")),
            ));
        }
        ("", "serviceaccounts") => cols.push(col(
            "Secrets",
            "integer",
            "The number of secrets this service account references",
            Source::Builtin(|o| json!(o["secrets"].as_array().map_or(0, |a| a.len()))),
        )),
        ("coordination.k8s.io", "leases") => cols.push(col(
            "Holder",
            "string",
            "The holder of the lease",
            Source::Builtin(|o| o["spec"]["holderIdentity"].clone()),
        )),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => cols.push(col(
            "Role",
            "string",
            "The role the binding refers to",
            Source::Builtin(|o| {
                json!(format!(
                    "{}/{}",
                    o["roleRef"]["kind"].as_str().unwrap_or(""),
                    o["roleRef"]["name"].as_str().unwrap_or("")
                ))
            }),
        )),
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => {
            cols.push(col(
                "Created At",
                "date",
                "",
                Source::Builtin(|o| o["metadata"]["creationTimestamp"].clone()),
            ));
            return cols;
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            cols.push(col(
                "Created At",
                "date",
                "",
                Source::Builtin(|o| o["metadata"]["creationTimestamp"].clone()),
            ));
            return cols;
        }
        _ => {}
    }
    cols.push(age_col());
    cols
}

/// Kubernetes' short human durations (`45s`, `3m20s`, `5h`, `2d3h`).
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age_of(ts: &Value) -> Value {
    ts.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| {
            let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
            json!(human_duration(secs))
        })
        .unwrap_or(Value::Null)
}

/// A typed cell, as the real CRD table convertor renders values of each column type.
fn typed_cell(kind: &str, v: &Value) -> Value {
    match (kind, v) {
        ("integer", Value::Number(n)) => n.as_i64().map(|i| json!(i)).unwrap_or(Value::Null),
        ("number", Value::Number(_)) => v.clone(),
        ("boolean", Value::Bool(_)) => v.clone(),
        ("date", Value::String(_)) => age_of(v),
        ("string", Value::String(_)) => v.clone(),
        ("string", other) => json!(other.to_string()),
        _ => Value::Null,
    }
}

fn cell(c: &Column, obj: &Value) -> Value {
    match &c.source {
        Source::Name => obj["metadata"]["name"].clone(),
        Source::Age => age_of(&obj["metadata"]["creationTimestamp"]),
        // Built-in date columns (CRD "Created At") print the timestamp itself.
        Source::Builtin(f) => f(obj),
        Source::Path(p) => match obj.query(p) {
            Ok(found) => found
                .first()
                .map(|v| typed_cell(&c.kind, v))
                .unwrap_or(Value::Null),
            Err(_) => Value::Null,
        },
    }
}

fn row(rt: &ResourceType, cols: &[Column], obj: &Value, include: Include) -> Value {
    let cells: Vec<Value> = if crate::events::is_events_v1(rt) {
        let core = crate::events::to_core(obj);
        cols.iter().map(|c| cell(c, &core)).collect()
    } else {
        cols.iter().map(|c| cell(c, obj)).collect()
    };
    let mut r = json!({"cells": cells});
    match include {
        Include::None => {}
        Include::Object => r["object"] = obj.clone(),
        Include::Metadata => {
            r["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            })
        }
    }
    r
}

/// A `meta.k8s.io/v1` Table of `objs`; `headers` false leaves out the column definitions.
pub fn table(
    rt: &ResourceType,
    objs: &[&Value],
    metadata: Value,
    include: Include,
    headers: bool,
) -> Value {
    let cols = columns(rt);
    let defs: Vec<Value> = if headers {
        cols.iter()
            .map(|c| {
                json!({"name": c.name, "type": c.kind, "format": c.format,
                       "description": c.description, "priority": c.priority})
            })
            .collect()
    } else {
        vec![]
    };
    let rows: Vec<Value> = objs.iter().map(|o| row(rt, &cols, o, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": defs,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_kubernetes() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(200), "3m20s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(5 * 3600 + 60), "5h1m");
        assert_eq!(human_duration(30 * 3600), "30h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
    }

    #[test]
    fn printer_columns_use_jsonpath_filters() {
        let rt = ResourceType {
            group: "g".into(),
            version: "v1".into(),
            plural: "ws".into(),
            singular: "w".into(),
            kind: "W".into(),
            namespaced: true,
            short_names: vec![],
            categories: vec![],
            status: true,
            generation: true,
            custom: true,
            review: false,
            schema: None,
            printer_columns: vec![
                json!({"name": "Size", "type": "integer", "jsonPath": ".spec.size"}),
                json!({"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}),
                json!({"name": "Missing", "type": "string", "jsonPath": ".spec.nope"}),
            ],
        };
        let o = json!({"metadata": {"name": "a"}, "spec": {"size": 3},
                       "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let t = table(&rt, &[&o], json!({}), Include::Metadata, true);
        assert_eq!(t["rows"][0]["cells"], json!(["a", 3, "True", null]));
        assert_eq!(t["columnDefinitions"][2]["name"], "Ready");
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
