//! Server-side apply (`application/apply-patch+yaml`): field ownership per manager recorded in
//! `metadata.managedFields` (FieldsV1), conflicts between appliers (409 unless `force`),
//! removal of fields a manager stopped applying, create when absent. Lists are atomic.

use crate::registry::ResourceType;
use crate::status::ApiError;
use crate::store::{Obj, State, Sub, Write};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

type Path = Vec<String>;

const IGNORED_META: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Leaf paths of an applied configuration (maps are walked, everything else is a leaf).
fn leaves(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                if prefix.is_empty() && (k == "apiVersion" || k == "kind") {
                    continue;
                }
                if prefix.len() == 1
                    && prefix[0] == "metadata"
                    && IGNORED_META.contains(&k.as_str())
                {
                    continue;
                }
                prefix.push(k.clone());
                leaves(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
        }
    }
}

fn to_fields_v1(paths: &BTreeSet<Path>) -> Value {
    fn insert(node: &mut Map<String, Value>, path: &[String]) {
        if let Some((first, rest)) = path.split_first() {
            let child = node
                .entry(format!("f:{first}"))
                .or_insert_with(|| json!({}));
            if let Value::Object(m) = child {
                insert(m, rest);
            }
        }
    }
    let mut root = Map::new();
    for p in paths {
        insert(&mut root, p);
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(m) = v.as_object() else {
        return;
    };
    let named: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.starts_with("f:")).collect();
    if named.is_empty() {
        if !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        return;
    }
    for (k, child) in named {
        prefix.push(k[2..].to_string());
        from_fields_v1(child, prefix, out);
        prefix.pop();
    }
}

fn get<'a>(v: &'a Value, p: &[String]) -> Option<&'a Value> {
    p.iter().try_fold(v, |cur, seg| cur.get(seg))
}

fn remove(v: &mut Value, p: &[String]) {
    let Some((last, parents)) = p.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parents {
        match cur.get_mut(seg) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
    }
}

/// Maps merge, everything else (lists included) is replaced.
fn merge(live: &mut Value, applied: &Value) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                match l.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn owned_by(entry: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    from_fields_v1(&entry["fieldsV1"], &mut Vec::new(), &mut out);
    out
}

fn render(p: &Path) -> String {
    p.iter().map(|s| format!(".{s}")).collect()
}

/// A write that is not an apply takes over the fields it changes: they leave every applier's
/// set (so an applier never keeps owning a field someone else removed or rewrote).
/// `managedFields` stay server-owned: the body's copy is replaced by the adjusted stored one.
pub fn transfer_on_update(old: &Value, new: &mut Value) {
    let entries: Vec<Value> = old["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut kept = Vec::new();
    for mut e in entries {
        if e["operation"] == "Apply" {
            let mut paths = owned_by(&e);
            paths.retain(|p| get(old, p) == get(new, p));
            if paths.is_empty() {
                continue;
            }
            e["fieldsV1"] = to_fields_v1(&paths);
        }
        kept.push(e);
    }
    if let Some(m) = new["metadata"].as_object_mut() {
        if kept.is_empty() {
            m.remove("managedFields");
        } else {
            sort_entries(&mut kept);
            m.insert("managedFields".into(), Value::Array(kept));
        }
    }
}

/// Applies `config` for `manager`; returns the stored object and whether it was created.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    state: &mut State,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    config: Value,
    manager: &str,
    force: bool,
    sub: Sub,
    opts: Write,
) -> Result<(Obj, bool), ApiError> {
    if !config.is_object() || !(config["metadata"].is_object() || config["metadata"].is_null()) {
        return Err(ApiError::bad_request(
            "apply configurations must be objects (with an object metadata)",
        ));
    }
    if let Some(n) = config["metadata"]["name"].as_str()
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({name})"
        )));
    }
    let mut applied_paths = BTreeSet::new();
    leaves(&config, &mut Vec::new(), &mut applied_paths);
    let now = crate::store::now();
    let entry_for = |paths: &BTreeSet<Path>| {
        json!({
            "manager": manager,
            "operation": "Apply",
            "apiVersion": rt.api_version(),
            "time": now,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(paths),
        })
    };
    let live = match state.get(rt, ns, name) {
        Ok(o) => o,
        Err(e) if e.code == 404 && sub == Sub::Main => {
            let mut obj = config.clone();
            crate::store::set_meta(&mut obj, "name", json!(name));
            crate::store::set_meta(
                &mut obj,
                "managedFields",
                json!([entry_for(&applied_paths)]),
            );
            return state
                .create(
                    rt,
                    ns,
                    obj,
                    Write {
                        apply: true,
                        ..opts
                    },
                )
                .map(|o| (o, true));
        }
        Err(e) => return Err(e),
    };
    let mut result = (*live).clone();
    let entries: Vec<Value> = live["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut others = Vec::new();
    let mut previously = BTreeSet::new();
    for e in &entries {
        if e["manager"] == manager && e["operation"] == "Apply" {
            previously = owned_by(e);
        } else {
            others.push(e.clone());
        }
    }
    // Conflicts: another applier owns a field this one sets to a different value.
    let mut conflicts = Vec::new();
    for e in others.iter().filter(|e| e["operation"] == "Apply") {
        let theirs = owned_by(e);
        for p in applied_paths.intersection(&theirs) {
            if get(&live, p) != get(&config, p) {
                conflicts.push((e["manager"].as_str().unwrap_or("").to_string(), p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|(m, p)| {
                json!({"reason": "FieldManagerConflict",
                       "message": format!("conflict with \"{m}\": {}", render(p)),
                       "field": render(p)})
            })
            .collect();
        let listed: Vec<String> = conflicts
            .iter()
            .map(|(m, p)| format!("- conflict with \"{m}\": {}", render(p)))
            .collect();
        let mut err = ApiError::conflict(&rt.qualified(), &rt.group, &rt.plural, name, "");
        err.message = format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            if conflicts.len() == 1 {
                listed[0].trim_start_matches("- ").to_string()
            } else {
                format!("\n{}", listed.join("\n"))
            }
        );
        if let Some(d) = err.details.as_mut() {
            d["causes"] = json!(causes);
        }
        return Err(err);
    }
    // With force, ownership moves to this manager.
    let mut kept = Vec::new();
    let mut still_owned = BTreeSet::new();
    for e in others {
        let mut theirs = owned_by(&e);
        if force {
            theirs.retain(|p| !applied_paths.contains(p));
        }
        still_owned.extend(theirs.iter().cloned());
        if theirs.is_empty() && e["operation"] == "Apply" {
            continue;
        }
        let mut e = e.clone();
        if e["operation"] == "Apply" {
            e["fieldsV1"] = to_fields_v1(&theirs);
        }
        kept.push(e);
    }
    for p in previously.difference(&applied_paths) {
        if !still_owned.contains(p) {
            remove(&mut result, p);
        }
    }
    let mut cfg = config;
    if let Some(m) = cfg["metadata"].as_object_mut() {
        for k in IGNORED_META {
            if *k != "resourceVersion" {
                m.remove(*k);
            }
        }
    }
    merge(&mut result, &cfg);
    kept.push(entry_for(&applied_paths));
    sort_entries(&mut kept);
    result["metadata"]["managedFields"] = Value::Array(kept);
    if cfg["metadata"]["resourceVersion"].is_null() {
        result["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
    }
    state
        .update(
            rt,
            ns,
            name,
            result,
            sub,
            Write {
                apply: true,
                ..opts
            },
        )
        .map(|o| (o, false))
}

/// The order kube-apiserver keeps `managedFields` in: by operation (`Apply` first), then by
/// time to the second, manager and apiVersion.
fn sort_entries(entries: &mut [Value]) {
    let key = |e: &Value| {
        let text = |f: &str| e[f].as_str().unwrap_or_default().to_string();
        let time: String = text("time").chars().take(19).collect();
        (text("operation"), time, text("manager"), text("apiVersion"))
    };
    entries.sort_by_key(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_v1_round_trips() {
        let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "1"}}, "data": {"k": "v", "l": "w"}});
        let mut paths = BTreeSet::new();
        leaves(&cfg, &mut Vec::new(), &mut paths);
        let f = to_fields_v1(&paths);
        assert_eq!(
            f,
            json!({"f:data": {"f:k": {}, "f:l": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})
        );
        let mut back = BTreeSet::new();
        from_fields_v1(&f, &mut Vec::new(), &mut back);
        assert_eq!(back, paths);
    }
}
