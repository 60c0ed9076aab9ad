//! Structural-schema validation with kube-openapi's semantics and wording (`validate/*.go`,
//! `errors/schema.go`), mapped to field errors as `kubeOpenAPIResultToFieldErrors` maps them.
//! On update, errors inside a value equal to the stored one are dropped (CRD validation
//! ratcheting, on by default since 1.30).

use crate::render::{go_float, go_quote, go_v};
use crate::schema::{Additional, Schema};
use crate::{ErrorType, FieldError, cache, formats};
use serde_json::{Map, Value};

/// kube-openapi path of a property: `spec`, `spec.behaviors`.
pub(crate) fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// The field an error names: the validator path without its leading dot, `<nil>` at the root.
fn field_of(path: &str) -> String {
    let p = path.strip_prefix('.').unwrap_or(path);
    if p.is_empty() {
        "<nil>".to_string()
    } else {
        p.to_string()
    }
}

fn invalid(path: &str, value: Value, detail: String) -> FieldError {
    FieldError::new(ErrorType::Invalid, field_of(path), Some(value), detail)
}

/// Errors the server reports without a path (composition failures, non-validation errors).
fn unscoped(detail: String) -> FieldError {
    FieldError::new(ErrorType::Invalid, "<nil>", Some(Value::from("")), detail)
}

/// Errors that stop CEL rules from being evaluated (`hasBlockingErr`).
pub(crate) fn is_blocking(e: &FieldError) -> bool {
    matches!(
        e.error_type,
        ErrorType::NotSupported
            | ErrorType::Required
            | ErrorType::TooLong
            | ErrorType::TooMany
            | ErrorType::TypeInvalid
    )
}

/// The error added instead of CEL results when a blocking error was found.
pub(crate) fn rules_not_checked() -> FieldError {
    FieldError::new(
        ErrorType::Invalid,
        "<nil>",
        Some(Value::Null),
        "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
    )
}

/// The JSON type name of a value, as the type validator infers it.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The Go format name of a value (`schemaInfoForType`), used when a format mismatches.
fn go_format(v: &Value) -> &'static str {
    match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        _ => "",
    }
}

/// Numbers as the server holds them: JSON integers as int64, the rest as float64.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    let n = v.as_number()?;
    Some(match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(0.0)),
    })
}

/// Equality with the numeric conversion the enum check applies (`1` equals `1.0`).
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a.as_number(), b.as_number()) {
        (Some(x), Some(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

pub(crate) fn validate_root(
    s: &Schema,
    obj: &Value,
    old: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    validate(s, obj, "", old, errs);
}

/// Validates one value; with an old value equal to it, its errors are ratcheted away.
fn validate(s: &Schema, data: &Value, path: &str, old: Option<&Value>, errs: &mut Vec<FieldError>) {
    let start = errs.len();
    validate_value(s, data, path, old, errs);
    if errs.len() > start && old.is_some_and(|o| o == data) {
        errs.truncate(start);
    }
}

fn validate_value(
    s: &Schema,
    data: &Value,
    path: &str,
    old: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    if data.is_null() {
        if let Some(e) = type_error(s, data, path) {
            errs.push(e);
        }
        enum_check(s, data, path, errs);
        return;
    }
    if let Some(e) = type_error(s, data, path) {
        errs.push(e);
    }
    composition(s, data, path, old, errs);
    match data {
        Value::String(text) => {
            string_checks(s, text, path, errs);
            format_check(s, text, path, errs);
        }
        Value::Number(_) => number_checks(s, data, path, errs),
        Value::Array(items) => array_checks(s, items, path, old, errs),
        _ => {}
    }
    enum_check(s, data, path, errs);
    if let Value::Object(map) = data {
        object_checks(s, map, path, old, errs);
    }
}

fn type_failure(path: &str, type_name: &str, found: &str) -> FieldError {
    FieldError::new(
        ErrorType::TypeInvalid,
        field_of(path),
        Some(Value::from(found)),
        format!(
            "{path} in body must be of type {type_name}: {}",
            go_quote(found)
        ),
    )
}

/// The type validator: `type`, `nullable`, and the format/type consistency check.
fn type_error(s: &Schema, data: &Value, path: &str) -> Option<FieldError> {
    // int-or-string nodes are untyped; their anyOf (if any) does the checking.
    if s.int_or_string {
        return None;
    }
    let ty = s.ty.as_deref()?;
    let format = s.format.as_deref().filter(|f| formats::is_supported(f));
    if data.is_null() {
        return (!s.nullable && ty != "null").then(|| type_failure(path, ty, "null"));
    }
    let found = json_type(data);
    let float_int = found == "number"
        && ty == "integer"
        && data
            .as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.is_finite());
    let int_float = found == "integer" && ty == "number";
    let matches_type = ty == found || float_int || int_float;
    let stringish = matches!(data, Value::String(_) | Value::Array(_));
    if let Some(format) = format {
        if !stringish && !matches_type {
            return Some(type_failure(path, format, go_format(data)));
        }
        if ty != "number" && ty != "integer" && stringish {
            return None;
        }
    }
    (!matches_type).then(|| type_failure(path, ty, found))
}

fn result_of(s: &Schema, data: &Value, path: &str, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate(s, data, path, old, &mut errs);
    errs
}

/// `allOf`, `anyOf`, `oneOf` and `not`, with go-openapi's messages and best-failure reporting.
fn composition(
    s: &Schema,
    data: &Value,
    path: &str,
    old: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    if !s.any_of.is_empty() {
        let mut best: Option<Vec<FieldError>> = None;
        let mut ok = false;
        for sub in &s.any_of {
            let r = result_of(sub, data, path, old);
            if r.is_empty() {
                ok = true;
                break;
            }
            if best.as_ref().is_none_or(|b| r.len() < b.len()) {
                best = Some(r);
            }
        }
        if !ok {
            errs.push(unscoped(format!(
                "{} must validate at least one schema (anyOf)",
                go_quote(path)
            )));
            errs.extend(best.unwrap_or_default());
        }
    }
    if !s.one_of.is_empty() {
        let mut best: Option<Vec<FieldError>> = None;
        let mut valid = 0;
        for sub in &s.one_of {
            let r = result_of(sub, data, path, old);
            if r.is_empty() {
                valid += 1;
                best = None;
                continue;
            }
            if valid == 0 && best.as_ref().is_none_or(|b| r.len() < b.len()) {
                best = Some(r);
            }
        }
        if valid != 1 {
            let extra = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            errs.push(unscoped(format!(
                "{} must validate one and only one schema (oneOf). {extra}",
                go_quote(path)
            )));
            errs.extend(best.unwrap_or_default());
        }
    }
    if !s.all_of.is_empty() {
        let mut valid = 0;
        for sub in &s.all_of {
            let r = result_of(sub, data, path, old);
            if r.is_empty() {
                valid += 1;
            }
            errs.extend(r);
        }
        if valid != s.all_of.len() {
            let extra = if valid == 0 { ". None validated" } else { "" };
            errs.push(unscoped(format!(
                "{} must validate all the schemas (allOf){extra}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = &s.not
        && result_of(not, data, path, old).is_empty()
    {
        errs.push(unscoped(format!(
            "{} must not validate the schema (not)",
            go_quote(path)
        )));
    }
}

/// maxLength, then minLength, then pattern: the first failure only, as kube-openapi does.
fn string_checks(s: &Schema, text: &str, path: &str, errs: &mut Vec<FieldError>) {
    let chars = || text.chars().count() as i64;
    if let Some(max) = s.max_length
        && chars() > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        errs.push(FieldError::new(
            ErrorType::TooLong,
            field_of(path),
            Some(Value::from("<value omitted>")),
            format!("may not be more than {max} {unit}"),
        ));
        return;
    }
    if let Some(min) = s.min_length
        && chars() < min
    {
        errs.push(invalid(
            path,
            Value::from(text),
            format!("{path} in body should be at least {min} chars long"),
        ));
        return;
    }
    if let Some(pattern) = &s.pattern {
        let detail = match cache::regex(pattern).as_ref() {
            Ok(re) if re.is_match(text) => return,
            Ok(_) => format!("{path} in body should match '{pattern}'"),
            Err(e) => {
                format!("{path} in body should match '{pattern}, but pattern is invalid: {e}'")
            }
        };
        errs.push(invalid(path, Value::from(text), detail));
    }
}

fn format_check(s: &Schema, text: &str, path: &str, errs: &mut Vec<FieldError>) {
    let Some(format) = s.format.as_deref().filter(|f| formats::is_supported(f)) else {
        return;
    };
    if !formats::validates(format, text) {
        errs.push(FieldError::new(
            ErrorType::TypeInvalid,
            field_of(path),
            Some(Value::from(text)),
            format!(
                "{path} in body must be of type {format}: {}",
                go_quote(text)
            ),
        ));
    }
}

fn bound_text(bound: f64, data: Num) -> String {
    match data {
        Num::Int(_) => (bound as i64).to_string(),
        Num::Float(_) => go_float(bound),
    }
}

/// multipleOf, minimum, maximum; integer data is compared with the bound truncated to int64.
fn number_checks(s: &Schema, data: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(n) = num(data) else {
        return;
    };
    if let Some(factor) = s.multiple_of
        && factor > 0.0
    {
        let multiple = match n {
            Num::Int(i) if factor.fract() == 0.0 => i % (factor as i64) == 0,
            Num::Int(i) => ((i as f64) / factor).fract() == 0.0,
            Num::Float(f) => (f / factor).fract() == 0.0,
        };
        if !multiple {
            errs.push(invalid(
                path,
                data.clone(),
                format!(
                    "{path} in body should be a multiple of {}",
                    go_v(&Value::from(factor))
                ),
            ));
        }
    }
    if let Some(min) = s.minimum {
        let below = match n {
            Num::Int(i) => {
                let m = min as i64;
                if s.exclusive_minimum { i <= m } else { i < m }
            }
            Num::Float(f) => {
                if s.exclusive_minimum {
                    f <= min
                } else {
                    f < min
                }
            }
        };
        if below {
            let rel = if s.exclusive_minimum {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errs.push(invalid(
                path,
                data.clone(),
                format!("{path} in body should be {rel} {}", bound_text(min, n)),
            ));
        }
    }
    if let Some(max) = s.maximum {
        let above = match n {
            Num::Int(i) => {
                let m = max as i64;
                if s.exclusive_maximum { i >= m } else { i > m }
            }
            Num::Float(f) => {
                if s.exclusive_maximum {
                    f >= max
                } else {
                    f > max
                }
            }
        };
        if above {
            let rel = if s.exclusive_maximum {
                "less than"
            } else {
                "less than or equal to"
            };
            errs.push(invalid(
                path,
                data.clone(),
                format!("{path} in body should be {rel} {}", bound_text(max, n)),
            ));
        }
    }
}

/// The stored item a new list item corresponds to: only `x-kubernetes-list-type: map` items
/// correlate, by their key fields.
pub(crate) fn correlated_item<'a>(
    s: &Schema,
    item: &Value,
    old: Option<&'a Value>,
) -> Option<&'a Value> {
    if s.list_type.as_deref() != Some("map") || s.list_map_keys.is_empty() {
        return None;
    }
    let old_items = old?.as_array()?;
    let item = item.as_object()?;
    let key_of = |o: &Map<String, Value>| -> Vec<Option<Value>> {
        s.list_map_keys.iter().map(|k| o.get(k).cloned()).collect()
    };
    let wanted = key_of(item);
    old_items
        .iter()
        .find(|o| o.as_object().is_some_and(|o| key_of(o) == wanted))
}

fn array_checks(
    s: &Schema,
    items: &[Value],
    path: &str,
    old: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    if let Some(item_schema) = s.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            let old_item = correlated_item(s, item, old);
            validate(item_schema, item, &index(path, i), old_item, errs);
        }
    }
    let size = items.len() as i64;
    if let Some(min) = s.min_items
        && size < min
    {
        errs.push(invalid(
            path,
            Value::from(size),
            format!("{path} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = s.max_items
        && size > max
    {
        errs.push(too_many(path, size, max));
    }
    if s.unique_items {
        let duplicate = items
            .iter()
            .enumerate()
            .any(|(i, a)| items[..i].iter().any(|b| a == b));
        if duplicate {
            errs.push(invalid(
                path,
                Value::from(""),
                format!("{path} in body shouldn't contain duplicates"),
            ));
        }
    }
}

fn too_many(path: &str, actual: i64, max: i64) -> FieldError {
    let unit = if max == 1 { "item" } else { "items" };
    FieldError::new(
        ErrorType::TooMany,
        field_of(path),
        Some(Value::from(actual)),
        format!("must have at most {max} {unit}"),
    )
}

fn enum_check(s: &Schema, data: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(values) = &s.enumeration else {
        return;
    };
    if values.is_empty() || (!data.is_null() && values.iter().any(|v| loosely_equal(data, v))) {
        return;
    }
    let supported: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::String(s) => go_quote(s),
            other => go_quote(&crate::render::go_json(other)),
        })
        .collect();
    errs.push(FieldError::new(
        ErrorType::NotSupported,
        field_of(path),
        Some(data.clone()),
        format!("supported values: {}", supported.join(", ")),
    ));
}

fn object_checks(
    s: &Schema,
    map: &Map<String, Value>,
    path: &str,
    old: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    let count = map.len() as i64;
    if let Some(min) = s.min_properties
        && count < min
    {
        errs.push(invalid(
            path,
            Value::from(count),
            format!("{path} in body should have at least {min} properties"),
        ));
    }
    if let Some(max) = s.max_properties
        && count > max
    {
        errs.push(too_many(path, count, max));
    }
    let is_property = |k: &str| s.properties.as_ref().is_some_and(|p| p.contains_key(k));
    match &s.additional {
        Some(Additional::Allows(false)) => {
            for k in map.keys().filter(|k| !is_property(k)) {
                errs.push(invalid(
                    path,
                    Value::from(k.as_str()),
                    format!("{path}.{k} in body is a forbidden property"),
                ));
            }
        }
        Some(Additional::Schema(add)) => {
            for (k, v) in map.iter().filter(|(k, _)| !is_property(k)) {
                let old_v = old.and_then(|o| o.get(k));
                validate(add, v, &format!("{path}.{k}"), old_v, errs);
            }
        }
        _ => {}
    }
    if let Some(props) = &s.properties {
        for (k, prop) in props {
            if let Some(v) = map.get(k) {
                let old_v = old.and_then(|o| o.get(k));
                validate(prop, v, &child(path, k), old_v, errs);
            }
        }
    }
    for k in &s.required {
        if !map.contains_key(k) {
            errs.push(FieldError::new(
                ErrorType::Required,
                field_of(&format!("{path}.{k}")),
                Some(Value::from("")),
                "",
            ));
        }
    }
}
