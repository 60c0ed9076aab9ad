//! PATCH bodies: JSON merge patch, JSON patch (RFC 6902, `test` included) and strategic merge
//! patch for built-in kinds (merge keys of the common k8s.io/api lists, `$` directives).

use crate::status::ApiError;
use serde_json::{Map, Value};

pub const MERGE: &str = "application/merge-patch+json";
pub const JSON: &str = "application/json-patch+json";
pub const STRATEGIC: &str = "application/strategic-merge-patch+json";
pub const APPLY: &str = "application/apply-patch+yaml";

/// Applies a merge, JSON or strategic patch to `doc`.
pub fn apply(
    content_type: &str,
    custom: bool,
    doc: &mut Value,
    body: &[u8],
) -> Result<(), ApiError> {
    match content_type {
        JSON => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            // Like kube-apiserver (evanphx/json-patch), a `test` for `null` passes on a missing
            // path: kube-rs' finalizer helper relies on it to add the first finalizer.
            let mut patched = doc.clone();
            for op in &ops.0 {
                if let json_patch::PatchOperation::Test(t) = op
                    && t.value.is_null()
                    && patched.pointer(t.path.as_str()).is_none()
                {
                    continue;
                }
                // kube-apiserver answers without the patch library's detail.
                json_patch::patch(&mut patched, std::slice::from_ref(op)).map_err(|_| {
                    ApiError::invalid_patch(
                        "the server rejected our request due to an error in our request",
                    )
                })?;
            }
            *doc = patched;
            Ok(())
        }
        MERGE => {
            let p: Value = parse(body)?;
            json_patch::merge(doc, &p);
            Ok(())
        }
        STRATEGIC if custom => Err(ApiError::unsupported_patch_type(false)),
        STRATEGIC => {
            let p: Value = parse(body)?;
            strategic(doc, &p);
            Ok(())
        }
        _ => Err(ApiError::unsupported_patch_type(!custom)),
    }
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
}

/// The merge key of a built-in list field (`patchMergeKey` in k8s.io/api), from its name and,
/// where the name is shared, its items.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let has = |k: &str| items.iter().any(|i| i.get(k).is_some());
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "readinessGates" => "conditionType",
        "ports" if has("containerPort") => "containerPort",
        "ports" if has("port") => "port",
        _ => return None,
    })
}

/// Lists whose items merge as a set of primitives (`patchStrategy: merge` without a key).
fn primitive_merge(field: &str) -> bool {
    field == "finalizers"
}

/// Strategic merge patch for built-in kinds: maps merge, lists with a known merge key merge by
/// it (`$patch: delete` items remove, `$setElementOrder` orders), `finalizers` merge as a set
/// (`$deleteFromPrimitiveList`), `$retainKeys` prunes, `$patch: replace|delete` on maps; other
/// lists are replaced.
fn strategic(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("delete") => {
            *doc = Value::Null;
            return;
        }
        Some("replace") => {
            *doc = Value::Object(strip(p));
            return;
        }
        _ => {}
    }
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let Value::Object(d) = doc else {
        return;
    };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            d.remove(k);
        } else if v.is_object() {
            let entry = d.entry(k.clone()).or_insert(Value::Null);
            strategic(entry, v);
            if entry.is_null() {
                d.remove(k);
            }
        } else if let Value::Array(items) = v {
            let live = d
                .get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let merged = if primitive_merge(k) {
                let mut out = live;
                for i in items {
                    if !out.contains(i) {
                        out.push(i.clone());
                    }
                }
                out
            } else if let Some(key) = merge_key(k, items) {
                merge_list(live, items, key)
            } else {
                items.iter().map(strip_value).collect()
            };
            d.insert(k.clone(), Value::Array(merged));
        } else {
            d.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/")
            && let (Some(Value::Array(live)), Some(gone)) = (d.get_mut(field), v.as_array())
        {
            live.retain(|i| !gone.contains(i));
        }
        if let Some(field) = k.strip_prefix("$setElementOrder/")
            && let (Some(Value::Array(live)), Some(order)) = (d.get_mut(field), v.as_array())
        {
            reorder(live, order);
        }
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        d.retain(|k, _| keep.iter().any(|r| r == k));
    }
}

/// Merges a list by `key` as kube-apiserver does: the patch's items (merged into their live
/// counterparts, `$patch: delete` ones removed) keep the patch's order, the live items the patch
/// does not name keep theirs, and the two are interleaved by live position; an item new to
/// the list goes before the live items that follow it (so `env: [{name: Y}]` on `[X]` gives
/// `[Y, X]`, as the real server answers).
fn merge_list(live: Vec<Value>, items: &[Value], key: &str) -> Vec<Value> {
    let id = |v: &Value| v.get(key).cloned();
    let named: Vec<Option<Value>> = items.iter().map(id).collect();
    let live_pos = |v: &Value| {
        let k = id(v);
        live.iter().position(|l| k.is_some() && id(l) == k)
    };
    let patched: Vec<Value> = items
        .iter()
        .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
        .map(|item| match live_pos(item) {
            Some(i) => {
                let mut merged = live[i].clone();
                strategic(&mut merged, item);
                merged
            }
            None => strip_value(item),
        })
        .collect();
    let server_only: Vec<Value> = live
        .iter()
        .filter(|l| !named.contains(&id(l)))
        .cloned()
        .collect();
    let (mut left, mut right) = (
        patched.into_iter().peekable(),
        server_only.into_iter().peekable(),
    );
    let mut out = Vec::new();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => return out,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (live_pos(l), live_pos(r)) {
                (Some(li), Some(ri)) => li < ri,
                _ => true,
            },
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
}

/// Orders `live` as `order` lists it (by merge key or primitive value); others keep their place
/// after the listed ones.
fn reorder(live: &mut Vec<Value>, order: &[Value]) {
    let rank = |item: &Value| {
        order.iter().position(|o| match o {
            Value::Object(m) => m.iter().all(|(k, v)| item.get(k) == Some(v)),
            prim => prim == item,
        })
    };
    let mut ranked: Vec<(usize, usize, Value)> = live
        .drain(..)
        .enumerate()
        .map(|(i, v)| (rank(&v).unwrap_or(usize::MAX), i, v))
        .collect();
    ranked.sort_by_key(|(r, i, _)| (*r, *i));
    live.extend(ranked.into_iter().map(|(_, _, v)| v));
}

fn strip(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(strip(m)),
        Value::Array(a) => Value::Array(a.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_test_for_null_passes_on_a_missing_path() {
        let mut doc = serde_json::json!({"metadata": {"name": "x"}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers","value":null},{"op":"add","path":"/metadata/finalizers","value":["f"]}]"#;
        apply(JSON, true, &mut doc, body).unwrap();
        assert_eq!(doc["metadata"]["finalizers"][0], "f");
    }

    #[test]
    fn json_patch_test_op_fails_on_mismatch() {
        let mut d = json!({"a": 1});
        let body =
            br#"[{"op":"test","path":"/a","value":2},{"op":"replace","path":"/a","value":3}]"#;
        let e = apply(JSON, true, &mut d, body).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(d, json!({"a": 1}));
        let body =
            br#"[{"op":"test","path":"/a","value":1},{"op":"replace","path":"/a","value":3}]"#;
        apply(JSON, true, &mut d, body).unwrap();
        assert_eq!(d, json!({"a": 3}));
    }

    #[test]
    fn strategic_is_refused_for_custom_resources() {
        let mut d = json!({});
        assert_eq!(apply(STRATEGIC, true, &mut d, b"{}").unwrap_err().code, 415);
    }

    #[test]
    fn strategic_merges_lists_by_key() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "args": ["--x"]},
            {"name": "side", "image": "s:1"}
        ]}}}, "metadata": {"finalizers": ["a"]}});
        let p = br#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"app"}],
            "containers":[{"name":"app","image":"a:2"},{"name":"side","$patch":"delete"},{"name":"new","image":"n:1"}]}}},
            "metadata":{"finalizers":["b"],"$deleteFromPrimitiveList/finalizers":["a"]}}"#;
        apply(STRATEGIC, false, &mut d, p).unwrap();
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"],
            json!([{"name": "app", "image": "a:2", "args": ["--x"]}, {"name": "new", "image": "n:1"}])
        );
        assert_eq!(d["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn strategic_merges_maps_and_drops_directives() {
        let mut d = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"x": "1"}});
        let p = br#"{"metadata":{"labels":{"a":null,"c":"3"}},"$setElementOrder/x":[],"data":{"$patch":"replace","y":"2"}}"#;
        apply(STRATEGIC, false, &mut d, p).unwrap();
        assert_eq!(
            d,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "data": {"y": "2"}})
        );
    }
}
