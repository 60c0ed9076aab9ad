//! `x-kubernetes-list-type` invariants (`listtype/validation.go`): set items and map keys are
//! unique; each duplicate is reported once, at its second occurrence.

use crate::schema::Schema;
use crate::{ErrorType, FieldError};
use serde_json::{Map, Value};

/// A `field.Path` child: `spec.behaviors`.
pub(crate) fn path_child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

pub(crate) fn validate(root: &Schema, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Value::Object(map) = obj {
        walk_object("", root, map, &mut errs);
    }
    errs
}

fn walk_object(path: &str, s: &Schema, map: &Map<String, Value>, errs: &mut Vec<FieldError>) {
    if let Some(add) = s.additional_schema() {
        for (k, v) in map {
            walk(&format!("{path}[{k}]"), add, v, errs);
        }
    }
    if let Some(props) = &s.properties {
        for (k, v) in map {
            if let Some(sub) = props.get(k) {
                walk(&path_child(path, k), sub, v, errs);
            }
        }
    }
}

fn walk(path: &str, s: &Schema, v: &Value, errs: &mut Vec<FieldError>) {
    match v {
        Value::Array(items) => walk_array(path, s, items, errs),
        Value::Object(map) => walk_object(path, s, map, errs),
        _ => {}
    }
}

fn duplicate(path: &str, i: usize, value: Value) -> FieldError {
    FieldError::new(
        ErrorType::Duplicate,
        format!("{path}[{i}]"),
        Some(value),
        "",
    )
}

/// Indices of second occurrences, in order.
fn second_occurrences(values: &[Value]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let seen = values[..i].iter().filter(|w| *w == v).count();
        if seen == 1 {
            out.push(i);
        }
    }
    out
}

fn walk_array(path: &str, s: &Schema, items: &[Value], errs: &mut Vec<FieldError>) {
    match s.list_type.as_deref() {
        Some("set") => {
            for i in second_occurrences(items) {
                errs.push(duplicate(path, i, items[i].clone()));
            }
        }
        Some("map") => validate_map_list(path, s, items, errs),
        _ => {}
    }
    if let Some(item_schema) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            walk(&format!("{path}[{i}]"), item_schema, item, errs);
        }
    }
}

fn validate_map_list(path: &str, s: &Schema, items: &[Value], errs: &mut Vec<FieldError>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            errs.push(FieldError::new(
                ErrorType::Invalid,
                format!("{path}[{i}]"),
                Some(x.clone()),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    // Each item's key: the object of its key fields that are present.
    let keys: Vec<Value> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            if let Value::Object(o) = x {
                for k in &s.list_map_keys {
                    if let Some(v) = o.get(k) {
                        key.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(key)
        })
        .collect();
    for i in second_occurrences(&keys) {
        errs.push(duplicate(path, i, keys[i].clone()));
    }
}
