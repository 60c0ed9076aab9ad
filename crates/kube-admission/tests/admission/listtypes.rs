use crate::{errors, resource, spec_errors, with_spec};
use serde_json::json;

fn set_of(items: serde_json::Value) -> serde_json::Value {
    json!({"type": "object", "properties": {"x": {"type": "array", "x-kubernetes-list-type": "set", "items": items}}})
}

fn map_of(keys: serde_json::Value) -> serde_json::Value {
    json!({"type": "object", "properties": {"x": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": keys,
        "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "port": {"type": "integer"}, "v": {"type": "string"}
        }}
    }}})
}

#[test]
fn set_duplicates_are_reported_once_at_their_second_occurrence() {
    assert_eq!(
        spec_errors(
            set_of(json!({"type": "string"})),
            json!({"x": ["a", "b", "a", "a", "b"]})
        ),
        vec![
            r#"spec.x[2]: Duplicate value: "a""#,
            r#"spec.x[4]: Duplicate value: "b""#
        ]
    );
    assert_eq!(
        spec_errors(set_of(json!({"type": "integer"})), json!({"x": [1, 1]})),
        vec!["spec.x[1]: Duplicate value: 1"]
    );
    assert!(spec_errors(set_of(json!({"type": "string"})), json!({"x": ["a", "b"]})).is_empty());
}

#[test]
fn map_key_duplicates_show_the_key_as_json() {
    assert_eq!(
        spec_errors(
            map_of(json!(["name"])),
            json!({"x": [{"name": "a", "v": "1"}, {"name": "a", "v": "2"}]})
        ),
        vec![r#"spec.x[1]: Duplicate value: {"name":"a"}"#]
    );
    assert_eq!(
        spec_errors(
            map_of(json!(["name", "port"])),
            json!({"x": [{"name": "a", "port": 80}, {"name": "a", "port": 81}, {"port": 80, "name": "a"}]})
        ),
        vec![r#"spec.x[2]: Duplicate value: {"name":"a","port":80}"#]
    );
}

#[test]
fn duplicate_errors_carry_their_reason() {
    let mut obj = resource(json!({"x": ["a", "a"]}));
    let errs = kube_admission::admit(
        &with_spec(set_of(json!({"type": "string"}))),
        &mut obj,
        None,
    )
    .unwrap_err();
    assert_eq!(errs[0].reason(), "FieldValueDuplicate");
}

#[test]
fn list_errors_already_in_the_stored_object_are_not_reported_on_update() {
    let schema = with_spec(set_of(json!({"type": "string"})));
    let old = resource(json!({"x": ["a", "a"]}));
    assert!(errors(&schema, resource(json!({"x": ["a", "a", "b"]})), Some(&old)).is_empty());
    let clean = resource(json!({"x": ["a"]}));
    assert_eq!(
        errors(&schema, resource(json!({"x": ["a", "a"]})), Some(&clean)),
        vec![r#"spec.x[1]: Duplicate value: "a""#]
    );
}
