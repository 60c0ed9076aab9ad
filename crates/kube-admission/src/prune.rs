//! Pruning of fields the schema does not know (`pruning/algorithm.go`) and of nulls the schema
//! does not allow (`defaulting/prunenulls.go`), applied when the server decodes a request.

use crate::schema::Schema;
use serde_json::Value;

const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Prunes the whole resource: its root is an embedded resource, so `apiVersion`, `kind` and
/// `metadata` are never pruned. Returns the pruned paths, sorted.
pub(crate) fn prune_root(obj: &mut Value, root: &Schema) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut path = String::new();
    prune(obj, Some(root), true, &mut path, &mut unknown);
    unknown.sort();
    unknown
}

fn push_key(path: &mut String, k: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(k);
}

fn record(path: &str, k: &str, unknown: &mut Vec<String>) {
    let mut p = path.to_string();
    push_key(&mut p, k);
    unknown.push(p);
}

fn prune(
    x: &mut Value,
    s: Option<&Schema>,
    embedded: bool,
    path: &mut String,
    unknown: &mut Vec<String>,
) {
    if let Some(s) = s
        && s.preserve_unknown
    {
        skip_prune(x, s, embedded, path, unknown);
        return;
    }
    let len = path.len();
    match x {
        Value::Object(map) => {
            let Some(s) = s else {
                for k in map.keys() {
                    record(path, k, unknown);
                }
                map.clear();
                return;
            };
            let embedded = embedded || s.embedded_resource;
            map.retain(|k, v| {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    return true;
                }
                let sub = match s.properties.as_ref().and_then(|p| p.get(k)) {
                    Some(p) => Some(Some(p)),
                    None => s.additional.as_ref().map(|_| s.additional_schema()),
                };
                match sub {
                    Some(sub) => {
                        push_key(path, k);
                        prune(v, sub, false, path, unknown);
                        path.truncate(len);
                        true
                    }
                    None => {
                        if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                            record(path, k, unknown);
                        }
                        false
                    }
                }
            });
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                path.push_str(&format!("[{i}]"));
                prune(v, item_schema, false, path, unknown);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Under `x-kubernetes-preserve-unknown-fields` unknown keys stay, but known ones are still
/// pruned inside.
fn skip_prune(
    x: &mut Value,
    s: &Schema,
    embedded: bool,
    path: &mut String,
    unknown: &mut Vec<String>,
) {
    let len = path.len();
    match x {
        Value::Object(map) => {
            let embedded = embedded || s.embedded_resource;
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let sub = match s.properties.as_ref().and_then(|p| p.get(k)) {
                    Some(p) => Some(Some(p)),
                    None => s.additional.as_ref().map(|_| s.additional_schema()),
                };
                if let Some(sub) = sub {
                    push_key(path, k);
                    prune(v, sub, false, path, unknown);
                    path.truncate(len);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    path.push_str(&format!("[{i}]"));
                    skip_prune(v, item_schema, false, path, unknown);
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// Removes null object values whose schema is neither nullable nor defaulted; nulls with a
/// default are left for defaulting to replace.
pub(crate) fn prune_nulls(x: &mut Value, s: Option<&Schema>) {
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let sub = s.and_then(|s| s.field(k));
                let drop =
                    v.is_null() && sub.is_some_and(|sub| !sub.nullable && sub.default.is_none());
                if !drop {
                    prune_nulls(v, sub);
                }
                !drop
            });
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            for v in items {
                prune_nulls(v, item_schema);
            }
        }
        _ => {}
    }
}
