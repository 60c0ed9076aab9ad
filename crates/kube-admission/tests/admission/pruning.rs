use crate::{resource, with_spec};
use kube_admission::{admit, prune_unknown_fields};
use serde_json::json;

#[test]
fn unknown_fields_are_pruned_but_type_and_object_meta_are_kept() {
    let schema = with_spec(json!({"type": "object", "properties": {"a": {"type": "string"}}}));
    let mut obj = resource(json!({"a": "x", "b": 1, "nested": {"c": true}}));
    obj["status"] = json!({"x": 1});
    obj["metadata"]["labels"] = json!({"l": "v"});
    let unknown = prune_unknown_fields(&schema, &mut obj);
    assert_eq!(unknown, vec!["spec.b", "spec.nested", "status"]);
    assert_eq!(
        obj,
        json!({"apiVersion": "example.com/v1", "kind": "Thing",
               "metadata": {"name": "t", "labels": {"l": "v"}}, "spec": {"a": "x"}})
    );
}

#[test]
fn unknown_fields_inside_array_items_are_reported_with_indices() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}}
    }}));
    let mut obj = resource(json!({"items": [{"n": "a"}, {"n": "b", "x": 1}]}));
    assert_eq!(
        prune_unknown_fields(&schema, &mut obj),
        vec!["spec.items[1].x"]
    );
    assert_eq!(obj["spec"]["items"], json!([{"n": "a"}, {"n": "b"}]));
}

#[test]
fn preserve_unknown_fields_keeps_unknown_keys_but_prunes_inside_known_ones() {
    let schema = with_spec(json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"known": {"type": "object", "properties": {"k": {"type": "string"}}}}
    }));
    let mut obj = resource(json!({"free": {"any": [1, 2]}, "known": {"k": "v", "drop": 1}}));
    assert_eq!(
        prune_unknown_fields(&schema, &mut obj),
        vec!["spec.known.drop"]
    );
    assert_eq!(
        obj["spec"],
        json!({"free": {"any": [1, 2]}, "known": {"k": "v"}})
    );
}

#[test]
fn additional_properties_schemas_keep_every_key() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
    }}));
    let mut obj = resource(json!({"labels": {"a": "1", "b": "2"}}));
    assert!(prune_unknown_fields(&schema, &mut obj).is_empty());
    assert_eq!(obj["spec"]["labels"], json!({"a": "1", "b": "2"}));
}

#[test]
fn embedded_resources_keep_their_metadata() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                     "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    }}));
    let mut obj = resource(json!({"template": {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p"}, "spec": {"a": "x", "b": "y"}, "other": 1}}));
    assert_eq!(
        prune_unknown_fields(&schema, &mut obj),
        vec!["spec.template.other", "spec.template.spec.b"]
    );
    assert_eq!(obj["spec"]["template"]["metadata"], json!({"name": "p"}));
}

#[test]
fn non_nullable_nulls_without_default_are_dropped_and_nullable_ones_kept() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "a": {"type": "string"},
        "b": {"type": "string", "nullable": true}
    }}));
    let mut obj = resource(json!({"a": null, "b": null}));
    assert_eq!(admit(&schema, &mut obj, None), Ok(()));
    assert_eq!(obj["spec"], json!({"b": null}));
}
