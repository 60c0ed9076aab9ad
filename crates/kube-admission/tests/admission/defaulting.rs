use crate::{resource, with_spec};
use kube_admission::admit;
use serde_json::json;

#[test]
fn missing_properties_take_their_default_after_pruning() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "policy": {"type": "string", "enum": ["Delete", "Retain"], "default": "Delete"},
        "count": {"type": "integer", "default": 3}
    }}));
    let mut obj = resource(json!({"count": 5, "unknown": "x"}));
    assert_eq!(admit(&schema, &mut obj, None), Ok(()));
    assert_eq!(obj["spec"], json!({"policy": "Delete", "count": 5}));
}

#[test]
fn defaults_apply_inside_existing_array_items_and_defaulted_objects() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"},
            "mode": {"type": "string", "default": "fast"}
        }}},
        "settings": {"type": "object", "default": {}, "properties": {
            "level": {"type": "integer", "default": 2}
        }}
    }}));
    let mut obj = resource(json!({"items": [{"name": "a"}, {"name": "b", "mode": "slow"}]}));
    assert_eq!(admit(&schema, &mut obj, None), Ok(()));
    assert_eq!(
        obj["spec"],
        json!({"items": [{"name": "a", "mode": "fast"}, {"name": "b", "mode": "slow"}],
               "settings": {"level": 2}})
    );
}

#[test]
fn absent_parent_objects_are_not_created_for_nested_defaults() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "opt": {"type": "object", "properties": {"x": {"type": "string", "default": "d"}}}
    }}));
    let mut obj = resource(json!({}));
    assert_eq!(admit(&schema, &mut obj, None), Ok(()));
    assert_eq!(obj["spec"], json!({}));
}

#[test]
fn non_nullable_nulls_are_replaced_by_their_default() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "a": {"type": "string", "default": "x"},
        "list": {"type": "array", "items": {"type": "string", "default": "item"}},
        "map": {"type": "object", "additionalProperties": {"type": "string", "default": "v"}}
    }}));
    let mut obj = resource(json!({"a": null, "list": [null, "y"], "map": {"k": null}}));
    assert_eq!(admit(&schema, &mut obj, None), Ok(()));
    assert_eq!(
        obj["spec"],
        json!({"a": "x", "list": ["item", "y"], "map": {"k": "v"}})
    );
}
