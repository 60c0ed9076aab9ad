use crate::{errors, resource, spec_errors, with_spec};
use serde_json::{Value, json};

fn with_rules(rules: Value, properties: Value) -> Value {
    json!({"type": "object", "x-kubernetes-validations": rules, "properties": properties})
}

fn props() -> Value {
    json!({"x": {"type": "string"}, "n": {"type": "integer"}, "d": {"type": "number"},
           "list": {"type": "array", "items": {"type": "string"}}})
}

#[test]
fn failing_rules_report_their_message_on_the_node() {
    let s = with_rules(
        json!([{"rule": "self.n < 10", "message": "n must be below 10"}]),
        props(),
    );
    assert_eq!(
        spec_errors(s.clone(), json!({"n": 11})),
        vec![r#"spec: Invalid value: "object": n must be below 10"#]
    );
    assert!(spec_errors(s, json!({"n": 9})).is_empty());
}

#[test]
fn rules_without_message_report_the_rule() {
    let s = with_rules(json!([{"rule": "has(self.x)"}]), props());
    assert_eq!(
        spec_errors(s, json!({})),
        vec![r#"spec: Invalid value: "object": failed rule: has(self.x)"#]
    );
}

#[test]
fn message_expressions_build_the_message_and_fall_back_when_unusable() {
    let s = with_rules(
        json!([{"rule": "self.n < 10", "messageExpression": "'n is ' + string(self.n)", "message": "fallback"},
               {"rule": "self.n < 5", "messageExpression": "self.n", "message": "n must be below 5"}]),
        props(),
    );
    assert_eq!(
        spec_errors(s, json!({"n": 12})),
        vec![
            r#"spec: Invalid value: "object": n is 12"#,
            r#"spec: Invalid value: "object": n must be below 5"#
        ]
    );
}

#[test]
fn field_path_and_reason_shape_the_error() {
    let s = with_rules(
        json!([
            {"rule": "self.x != 'a'", "message": "x may not be a", "fieldPath": ".x"},
            {"rule": "self.x != 'a'", "message": "forbidden a", "reason": "FieldValueForbidden"},
            {"rule": "self.x != 'a'", "message": "required b", "reason": "FieldValueRequired", "fieldPath": ".x"},
            {"rule": "self.x != 'a'", "reason": "FieldValueDuplicate"}
        ]),
        props(),
    );
    assert_eq!(
        spec_errors(s, json!({"x": "a"})),
        vec![
            r#"spec.x: Invalid value: "object": x may not be a"#,
            "spec: Forbidden: forbidden a",
            "spec.x: Required value: required b",
            r#"spec: Duplicate value: "object""#
        ]
    );
}

#[test]
fn rules_on_scalars_name_their_type() {
    let s = json!({"type": "object", "properties": {"x": {"type": "string",
        "x-kubernetes-validations": [{"rule": "self.startsWith('arn:')", "message": "must be an ARN"}]}}});
    assert_eq!(
        spec_errors(s, json!({"x": "nope"})),
        vec![r#"spec.x: Invalid value: "string": must be an ARN"#]
    );
}

#[test]
fn transition_rules_run_only_on_update_with_an_old_value() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "name is immutable"}]},
        "other": {"type": "string"}
    }}));
    assert!(errors(&schema, resource(json!({"name": "a"})), None).is_empty());
    let old = resource(json!({"name": "a", "other": "1"}));
    assert!(
        errors(
            &schema,
            resource(json!({"name": "a", "other": "2"})),
            Some(&old)
        )
        .is_empty()
    );
    assert_eq!(
        errors(&schema, resource(json!({"name": "b"})), Some(&old)),
        vec![r#"spec.name: Invalid value: "string": name is immutable"#]
    );
    // Setting the field for the first time is allowed: there is no old value at that path.
    let unset = resource(json!({"other": "1"}));
    assert!(errors(&schema, resource(json!({"name": "b"})), Some(&unset)).is_empty());
}

#[test]
fn optional_field_cannot_be_removed_once_set() {
    let schema = with_spec(with_rules(
        json!([{"rule": "!has(oldSelf.x) || has(self.x)", "message": "x cannot be removed once set"}]),
        props(),
    ));
    let old = resource(json!({"x": "set"}));
    assert_eq!(
        errors(&schema, resource(json!({"n": 1})), Some(&old)),
        vec![r#"spec: Invalid value: "object": x cannot be removed once set"#]
    );
    assert!(errors(&schema, resource(json!({"x": "changed"})), Some(&old)).is_empty());
    assert!(
        errors(
            &schema,
            resource(json!({"n": 1})),
            Some(&resource(json!({"n": 2})))
        )
        .is_empty()
    );
}

#[test]
fn optional_old_self_rules_also_run_on_create() {
    let schema = with_spec(with_rules(
        json!([{"rule": "oldSelf.hasValue() || self.n == 1", "message": "new objects start at 1",
                "optionalOldSelf": true}]),
        props(),
    ));
    assert_eq!(
        errors(&schema, resource(json!({"n": 2})), None),
        vec![r#"spec: Invalid value: "object": new objects start at 1"#]
    );
    assert!(errors(&schema, resource(json!({"n": 1})), None).is_empty());
    assert!(
        errors(
            &schema,
            resource(json!({"n": 2})),
            Some(&resource(json!({"n": 1})))
        )
        .is_empty()
    );
}

#[test]
fn unchanged_values_are_ratcheted_for_rules_without_old_self() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "x": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() < 3", "message": "short"}]},
        "n": {"type": "integer"}
    }}));
    let old = resource(json!({"x": "long", "n": 1}));
    assert!(errors(&schema, resource(json!({"x": "long", "n": 2})), Some(&old)).is_empty());
    assert_eq!(
        errors(
            &schema,
            resource(json!({"x": "longer", "n": 2})),
            Some(&old)
        ),
        vec![r#"spec.x: Invalid value: "string": short"#]
    );
}

#[test]
fn schema_errors_that_block_rules_are_reported_instead_of_rule_results() {
    let s = with_rules(
        json!([{"rule": "self.n < 10", "message": "n must be below 10"}]),
        json!({"n": {"type": "integer"}, "e": {"type": "string", "enum": ["a"]}}),
    );
    assert_eq!(
        spec_errors(s.clone(), json!({"n": 11, "e": "b"})),
        vec![
            r#"spec.e: Unsupported value: "b": supported values: "a""#,
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
        ]
    );
    // A pattern failure does not block rules.
    let p = with_rules(
        json!([{"rule": "self.n < 10", "message": "n must be below 10"}]),
        json!({"n": {"type": "integer"}, "p": {"type": "string", "pattern": "^a$"}}),
    );
    assert_eq!(
        spec_errors(p, json!({"n": 11, "p": "b"})),
        vec![
            r#"spec.p: Invalid value: "b": spec.p in body should match '^a$'"#,
            r#"spec: Invalid value: "object": n must be below 10"#
        ]
    );
}

#[test]
fn evaluation_and_compile_errors_are_reported_on_the_node() {
    let s = with_rules(json!([{"rule": "self.x == 'a'"}]), props());
    assert_eq!(
        spec_errors(s, json!({"n": 1})),
        vec![r#"spec: Invalid value: "object": no such key: x evaluating rule: self.x == 'a'"#]
    );
    let bad = with_rules(json!([{"rule": "self.n <"}]), props());
    let errs = spec_errors(bad, json!({"n": 1}));
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with(r#"spec: Invalid value: "object": rule compile error: "#),
        "{errs:?}"
    );
}

#[test]
fn root_rules_see_type_and_object_meta_and_report_nil() {
    let schema = json!({"type": "object",
        "x-kubernetes-validations": [{"rule": "self.metadata.name.startsWith('ok-') && self.kind == 'Thing'", "message": "bad name"}],
        "properties": {"spec": {"type": "object"}}});
    assert_eq!(
        errors(&schema, resource(json!({})), None),
        vec![r#"<nil>: Invalid value: "object": bad name"#]
    );
    let mut ok = resource(json!({}));
    ok["metadata"]["name"] = json!("ok-1");
    assert!(errors(&schema, ok, None).is_empty());
}

#[test]
fn map_list_items_correlate_with_their_old_item_by_key() {
    let schema = with_spec(json!({"type": "object", "properties": {"items": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "properties": {
            "name": {"type": "string"},
            "size": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "size may only grow"}]}
        }}
    }}}));
    let old = resource(json!({"items": [{"name": "a", "size": 5}, {"name": "b", "size": 5}]}));
    assert_eq!(
        errors(
            &schema,
            resource(json!({"items": [{"name": "b", "size": 4}, {"name": "a", "size": 6}]})),
            Some(&old)
        ),
        vec![r#"spec.items[0].size: Invalid value: "integer": size may only grow"#]
    );
    // A new item has no old value, so the transition rule does not run.
    assert!(
        errors(
            &schema,
            resource(json!({"items": [{"name": "c", "size": 1}]})),
            Some(&old)
        )
        .is_empty()
    );
}

#[test]
fn cel_values_follow_the_schema_types() {
    let s = json!({"type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.d > 1.5 && self.d < 3", "message": "d"},
        {"rule": "self.t < timestamp('2030-01-01T00:00:00Z')", "message": "t"},
        {"rule": "self.my__dash__field == 'v'", "message": "escaped"},
        {"rule": "self.labels['app.kubernetes.io/name'] == 'x'", "message": "labels"},
        {"rule": "self.ports.all(p, p > 0) && self.ports.exists_one(p, p == 80) && size(self.ports) == 2", "message": "ports"},
        {"rule": "self.name.matches('^[a-z]+$') && self.name.lowerAscii() == self.name", "message": "strings"}
    ],
    "properties": {
        "d": {"type": "number"},
        "t": {"type": "string", "format": "date-time"},
        "my-field": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "ports": {"type": "array", "items": {"type": "integer"}},
        "name": {"type": "string"}
    }});
    let good = json!({"d": 2, "t": "2026-11-26T00:00:00Z", "my-field": "v",
        "labels": {"app.kubernetes.io/name": "x"}, "ports": [80, 443], "name": "abc"});
    assert!(spec_errors(s.clone(), good).is_empty());
    let bad = json!({"d": 5, "t": "2031-01-01T00:00:00Z", "my-field": "w",
        "labels": {"app.kubernetes.io/name": "y"}, "ports": [80, 80], "name": "Abc"});
    let msgs: Vec<String> = ["d", "t", "escaped", "labels", "ports", "strings"]
        .iter()
        .map(|m| format!(r#"spec: Invalid value: "object": {m}"#))
        .collect();
    assert_eq!(spec_errors(s, bad), msgs);
}

#[test]
fn kubernetes_list_set_and_regex_libraries_are_available() {
    let rules: Vec<Value> = [
        "self.nums.isSorted() && !self.words.isSorted()",
        "self.nums.sum() == 6 && self.nums.min() == 1 && self.nums.max() == 3",
        "self.nums.indexOf(2) == 1 && self.words.lastIndexOf('b') == 0 && self.nums.indexOf(9) == -1",
        "sets.contains(self.words, ['a']) && sets.equivalent(self.words, ['a', 'b']) && sets.intersects(self.words, ['z', 'a'])",
        "self.text.find('[0-9]+') == '42' && self.text.findAll('[a-z]+') == ['abc', 'de'] && self.text.findAll('[a-z]+', 1) == ['abc']",
        "self.text.indexOf('42') == 3",
    ]
    .iter()
    .map(|r| json!({"rule": r}))
    .collect();
    let s = with_rules(
        Value::Array(rules),
        json!({"nums": {"type": "array", "items": {"type": "integer"}},
               "words": {"type": "array", "items": {"type": "string"}},
               "text": {"type": "string"}}),
    );
    assert_eq!(
        spec_errors(
            s.clone(),
            json!({"nums": [1, 2, 3], "words": ["b", "a"], "text": "abc42de"})
        ),
        Vec::<String>::new()
    );
    let errs = spec_errors(
        s,
        json!({"nums": [3, 1, 5], "words": ["a", "c"], "text": "x"}),
    );
    assert_eq!(errs.len(), 6, "{errs:?}");
    assert_eq!(
        errs[0],
        r#"spec: Invalid value: "object": failed rule: self.nums.isSorted() && !self.words.isSorted()"#
    );
}

#[test]
fn set_and_map_lists_compare_without_order() {
    let list = |list_type: &str| {
        let mut l = json!({"type": "array", "x-kubernetes-list-type": list_type,
            "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]});
        if list_type == "map" {
            l["x-kubernetes-list-map-keys"] = json!(["k"]);
            l["items"] = json!({"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "integer"}}});
        } else {
            l["items"] = json!({"type": "string"});
        }
        with_spec(json!({"type": "object", "properties": {"l": l}}))
    };
    let set = list("set");
    let old = resource(json!({"l": ["a", "b"]}));
    assert!(errors(&set, resource(json!({"l": ["b", "a"]})), Some(&old)).is_empty());
    assert_eq!(
        errors(&set, resource(json!({"l": ["b", "c"]})), Some(&old)),
        vec![r#"spec.l: Invalid value: "array": immutable"#]
    );
    let atomic = list("atomic");
    assert_eq!(
        errors(&atomic, resource(json!({"l": ["b", "a"]})), Some(&old)),
        vec![r#"spec.l: Invalid value: "array": immutable"#]
    );
    let map = list("map");
    let old = resource(json!({"l": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}));
    assert!(
        errors(
            &map,
            resource(json!({"l": [{"k": "b", "v": 2}, {"k": "a", "v": 1}]})),
            Some(&old)
        )
        .is_empty()
    );
    assert_eq!(
        errors(
            &map,
            resource(json!({"l": [{"k": "b", "v": 3}, {"k": "a", "v": 1}]})),
            Some(&old)
        ),
        vec![r#"spec.l: Invalid value: "array": immutable"#]
    );
    // Sets still behave as lists otherwise.
    let s = json!({"type": "object", "properties": {"l": {"type": "array", "x-kubernetes-list-type": "set",
        "items": {"type": "string"},
        "x-kubernetes-validations": [{"rule": "size(self) == 2 && self[0] == 'x' && 'y' in self && self.all(e, e.size() == 1) && self + ['z'] == ['x', 'y', 'z']"}]}}});
    assert!(spec_errors(s, json!({"l": ["x", "y"]})).is_empty());
}
