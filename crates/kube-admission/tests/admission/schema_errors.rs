use crate::{errors, resource, spec_errors, with_spec};
use kube_admission::{ErrorType, admit};
use serde_json::json;

fn field(schema: serde_json::Value) -> serde_json::Value {
    json!({"type": "object", "properties": {"x": schema}})
}

#[test]
fn wrong_types_are_type_invalid_with_the_found_type() {
    assert_eq!(
        spec_errors(field(json!({"type": "integer"})), json!({"x": "string"})),
        vec![
            r#"spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#
        ]
    );
    assert_eq!(
        spec_errors(field(json!({"type": "string"})), json!({"x": 5})),
        vec![
            r#"spec.x: Invalid value: "integer": spec.x in body must be of type string: "integer""#
        ]
    );
    assert_eq!(
        spec_errors(field(json!({"type": "object"})), json!({"x": [1]})),
        vec![r#"spec.x: Invalid value: "array": spec.x in body must be of type object: "array""#]
    );
    assert_eq!(
        spec_errors(field(json!({"type": "boolean"})), json!({"x": 1.5})),
        vec![
            r#"spec.x: Invalid value: "number": spec.x in body must be of type boolean: "number""#
        ]
    );
    assert_eq!(
        errors(
            &with_spec(json!({"type": "object"})),
            resource(json!("text")),
            None
        ),
        vec![r#"spec: Invalid value: "string": spec in body must be of type object: "string""#]
    );
}

#[test]
fn type_errors_carry_the_type_invalid_reason() {
    let mut obj = resource(json!({"x": true}));
    let errs = admit(&with_spec(field(json!({"type": "string"}))), &mut obj, None).unwrap_err();
    assert_eq!(errs[0].error_type, ErrorType::TypeInvalid);
    assert_eq!(errs[0].reason(), "FieldValueTypeInvalid");
    assert_eq!(errs[0].field, "spec.x");
}

#[test]
fn numbers_are_accepted_across_integer_and_number() {
    assert!(spec_errors(field(json!({"type": "integer"})), json!({"x": 3.0})).is_empty());
    assert!(spec_errors(field(json!({"type": "number"})), json!({"x": 3})).is_empty());
    assert!(
        spec_errors(
            field(json!({"type": "integer", "format": "int32"})),
            json!({"x": 7})
        )
        .is_empty()
    );
    assert!(
        spec_errors(
            field(json!({"type": "number", "format": "double"})),
            json!({"x": 0.25})
        )
        .is_empty()
    );
    assert_eq!(
        spec_errors(field(json!({"type": "integer"})), json!({"x": 3.5})),
        vec![
            r#"spec.x: Invalid value: "number": spec.x in body must be of type integer: "number""#
        ]
    );
}

#[test]
fn nulls_in_lists_need_nullable_items() {
    let list = |nullable: bool| {
        field(json!({"type": "array", "items": {"type": "string", "nullable": nullable}}))
    };
    assert_eq!(
        spec_errors(list(false), json!({"x": ["a", null]})),
        vec![
            r#"spec.x[1]: Invalid value: "null": spec.x[1] in body must be of type string: "null""#
        ]
    );
    assert!(spec_errors(list(true), json!({"x": ["a", null]})).is_empty());
}

#[test]
fn int_or_string_takes_both_and_its_any_of_checks_the_rest() {
    let ios = field(json!({"x-kubernetes-int-or-string": true,
        "anyOf": [{"type": "integer"}, {"type": "string"}]}));
    assert!(spec_errors(ios.clone(), json!({"x": 80})).is_empty());
    assert!(spec_errors(ios.clone(), json!({"x": "80%"})).is_empty());
    assert_eq!(
        spec_errors(ios, json!({"x": true})),
        vec![
            r#"<nil>: Invalid value: "": "spec.x" must validate at least one schema (anyOf)"#,
            r#"spec.x: Invalid value: "boolean": spec.x in body must be of type integer: "boolean""#
        ]
    );
}

#[test]
fn formats_reject_invalid_strings_and_accept_valid_ones() {
    let dt = field(json!({"type": "string", "format": "date-time"}));
    assert!(spec_errors(dt.clone(), json!({"x": "2026-11-26T10:00:00Z"})).is_empty());
    assert_eq!(
        spec_errors(dt, json!({"x": "tomorrow"})),
        vec![
            r#"spec.x: Invalid value: "tomorrow": spec.x in body must be of type date-time: "tomorrow""#
        ]
    );
    let bytes = field(json!({"type": "string", "format": "byte"}));
    assert!(spec_errors(bytes.clone(), json!({"x": "aGVsbG8="})).is_empty());
    assert_eq!(
        spec_errors(bytes, json!({"x": "not base64!"})),
        vec![
            r#"spec.x: Invalid value: "not base64!": spec.x in body must be of type byte: "not base64!""#
        ]
    );
    // Formats the server does not support are ignored.
    assert!(
        spec_errors(
            field(json!({"type": "string", "format": "arn"})),
            json!({"x": "?"})
        )
        .is_empty()
    );
}

#[test]
fn required_properties() {
    let s = json!({"type": "object", "required": ["a", "b"], "properties": {
        "a": {"type": "string"}, "b": {"type": "object", "required": ["c"], "properties": {"c": {"type": "string"}}}
    }});
    assert_eq!(
        spec_errors(s.clone(), json!({})),
        vec!["spec.a: Required value", "spec.b: Required value"]
    );
    assert_eq!(
        spec_errors(s, json!({"a": "x", "b": {}})),
        vec!["spec.b.c: Required value"]
    );
    let root =
        json!({"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}});
    let mut obj = json!({"apiVersion": "v1", "kind": "K", "metadata": {}});
    let errs = admit(&root, &mut obj, None).unwrap_err();
    assert_eq!(errs[0].to_string(), "spec: Required value");
    assert_eq!(errs[0].reason(), "FieldValueRequired");
}

#[test]
fn enums_list_the_supported_values() {
    let s = field(json!({"type": "string", "enum": ["less-than", "greater-than"]}));
    assert_eq!(
        spec_errors(s, json!({"x": "bigger"})),
        vec![
            r#"spec.x: Unsupported value: "bigger": supported values: "less-than", "greater-than""#
        ]
    );
    let n = field(json!({"type": "integer", "enum": [1, 2]}));
    assert_eq!(
        spec_errors(n.clone(), json!({"x": 3})),
        vec![r#"spec.x: Unsupported value: 3: supported values: "1", "2""#]
    );
    assert!(spec_errors(n, json!({"x": 2})).is_empty());
}

#[test]
fn patterns_quote_the_pattern() {
    let s = field(json!({"type": "string", "pattern": "^[a-zA-Z0-9:_-]+$"}));
    assert_eq!(
        spec_errors(s.clone(), json!({"x": "has space"})),
        vec![
            r#"spec.x: Invalid value: "has space": spec.x in body should match '^[a-zA-Z0-9:_-]+$'"#
        ]
    );
    assert!(spec_errors(s, json!({"x": "ok:name_1-2"})).is_empty());
}

#[test]
fn lengths_count_characters_and_report_the_first_failure_only() {
    let s = field(json!({"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-z]+$"}));
    assert_eq!(
        spec_errors(s.clone(), json!({"x": "ééé"})),
        vec![r#"spec.x: Invalid value: "ééé": spec.x in body should match '^[a-z]+$'"#]
    );
    assert_eq!(
        spec_errors(s.clone(), json!({"x": "ABCD"})),
        vec!["spec.x: Too long: may not be more than 3 bytes"]
    );
    assert_eq!(
        spec_errors(s.clone(), json!({"x": "A"})),
        vec![r#"spec.x: Invalid value: "A": spec.x in body should be at least 2 chars long"#]
    );
    let unicode = field(json!({"type": "string", "maxLength": 3}));
    assert!(spec_errors(unicode.clone(), json!({"x": "ééé"})).is_empty());
    assert_eq!(
        spec_errors(
            field(json!({"type": "string", "maxLength": 1})),
            json!({"x": "ab"})
        ),
        vec!["spec.x: Too long: may not be more than 1 byte"]
    );
    assert_eq!(
        spec_errors(
            field(json!({"type": "string", "maxLength": 128})),
            json!({"x": "a".repeat(129)})
        ),
        vec!["spec.x: Too long: may not be more than 128 bytes"]
    );
}

#[test]
fn numeric_bounds() {
    let s = field(json!({"type": "integer", "minimum": 0, "maximum": 65535}));
    assert_eq!(
        spec_errors(s.clone(), json!({"x": -1})),
        vec!["spec.x: Invalid value: -1: spec.x in body should be greater than or equal to 0"]
    );
    assert_eq!(
        spec_errors(s, json!({"x": 70000})),
        vec!["spec.x: Invalid value: 70000: spec.x in body should be less than or equal to 65535"]
    );
    let ex = field(
        json!({"type": "number", "minimum": 0, "exclusiveMinimum": true,
                         "maximum": 1000000, "exclusiveMaximum": true}),
    );
    assert_eq!(
        spec_errors(ex.clone(), json!({"x": 0})),
        vec!["spec.x: Invalid value: 0: spec.x in body should be greater than 0"]
    );
    assert_eq!(
        spec_errors(ex, json!({"x": 2000000.5})),
        vec!["spec.x: Invalid value: 2.0000005e+06: spec.x in body should be less than 1e+06"]
    );
    assert_eq!(
        spec_errors(
            field(json!({"type": "integer", "multipleOf": 5})),
            json!({"x": 7})
        ),
        vec!["spec.x: Invalid value: 7: spec.x in body should be a multiple of 5"]
    );
}

#[test]
fn item_counts_and_uniqueness() {
    let s =
        field(json!({"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}}));
    assert_eq!(
        spec_errors(s.clone(), json!({"x": []})),
        vec!["spec.x: Invalid value: 0: spec.x in body should have at least 1 items"]
    );
    assert_eq!(
        spec_errors(s, json!({"x": [1, 2, 3]})),
        vec!["spec.x: Too many: 3: must have at most 2 items"]
    );
    let big = field(json!({"type": "array", "maxItems": 100, "items": {"type": "integer"}}));
    let many: Vec<i64> = (0..101).collect();
    assert_eq!(
        spec_errors(big, json!({"x": many})),
        vec!["spec.x: Too many: 101: must have at most 100 items"]
    );
    assert_eq!(
        spec_errors(
            field(json!({"type": "array", "maxItems": 1})),
            json!({"x": [1, 2]})
        ),
        vec!["spec.x: Too many: 2: must have at most 1 item"]
    );
    assert_eq!(
        spec_errors(
            field(json!({"type": "array", "uniqueItems": true})),
            json!({"x": [1, 2, 1]})
        ),
        vec![r#"spec.x: Invalid value: "": spec.x in body shouldn't contain duplicates"#]
    );
}

#[test]
fn property_counts_and_additional_properties() {
    let s = field(
        json!({"type": "object", "minProperties": 1, "maxProperties": 2,
                        "additionalProperties": {"type": "string", "maxLength": 2}}),
    );
    assert_eq!(
        spec_errors(s.clone(), json!({"x": {}})),
        vec!["spec.x: Invalid value: 0: spec.x in body should have at least 1 properties"]
    );
    assert_eq!(
        spec_errors(s.clone(), json!({"x": {"a": "1", "b": "2", "c": "3"}})),
        vec!["spec.x: Too many: 3: must have at most 2 items"]
    );
    assert_eq!(
        spec_errors(s, json!({"x": {"a": "long"}})),
        vec!["spec.x.a: Too long: may not be more than 2 bytes"]
    );
}

#[test]
fn one_of_all_of_and_not() {
    let one_of = field(json!({"type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}));
    assert!(spec_errors(one_of.clone(), json!({"x": {"a": "1"}})).is_empty());
    assert_eq!(
        spec_errors(one_of.clone(), json!({"x": {"a": "1", "b": "2"}})),
        vec![
            r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
        ]
    );
    assert_eq!(
        spec_errors(one_of, json!({"x": {}})),
        vec![
            r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found none valid"#,
            "spec.x.a: Required value"
        ]
    );
    let all_of = field(json!({"type": "string", "allOf": [{"minLength": 2}, {"pattern": "^a"}]}));
    assert_eq!(
        spec_errors(all_of, json!({"x": "b"})),
        vec![
            r#"spec.x: Invalid value: "b": spec.x in body should be at least 2 chars long"#,
            r#"spec.x: Invalid value: "b": spec.x in body should match '^a'"#,
            r#"<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf). None validated"#
        ]
    );
    let not = field(json!({"type": "string", "not": {"pattern": "^forbidden$"}}));
    assert_eq!(
        spec_errors(not, json!({"x": "forbidden"})),
        vec![r#"<nil>: Invalid value: "": "spec.x" must not validate the schema (not)"#]
    );
}

#[test]
fn unchanged_invalid_values_are_ratcheted_on_update() {
    let schema = with_spec(json!({"type": "object", "properties": {
        "x": {"type": "string", "maxLength": 2}, "y": {"type": "string"}
    }}));
    let old = resource(json!({"x": "too long already", "y": "a"}));
    assert!(
        errors(
            &schema,
            resource(json!({"x": "too long already", "y": "b"})),
            Some(&old)
        )
        .is_empty()
    );
    assert_eq!(
        errors(
            &schema,
            resource(json!({"x": "still too long", "y": "b"})),
            Some(&old)
        ),
        vec!["spec.x: Too long: may not be more than 2 bytes"]
    );
}
