//! JSON values as CEL sees them (Kubernetes' `UnstructuredToVal`): typed by the schema, with
//! escaped property names, borrowing the object's strings so that no text is copied.

use crate::formats;
use crate::schema::Schema;
use crate::unordered::UnorderedList;
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelNull,
    CelString, CelTimestamp, CelUInt,
};
use cel::common::value::Val as CelVal;
use serde_json::Value;
use std::collections::HashMap;

const CEL_RESERVED: [&str; 20] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
];

/// How a property name is spelled in CEL (Kubernetes' escaping), or `None` when it cannot be
/// referenced.
pub(crate) fn escape_property(name: &str) -> Option<String> {
    if CEL_RESERVED.contains(&name) || name == "while" {
        return Some(format!("__{name}__"));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '-' | '/'));
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if !first_ok || !rest_ok {
        return None;
    }
    Some(
        name.replace("__", "__underscores__")
            .replace('.', "__dot__")
            .replace('-', "__dash__")
            .replace('/', "__slash__"),
    )
}

pub(crate) type Val<'v> = Box<dyn CelVal + 'v>;

fn cel_str(text: &str) -> Val<'_> {
    Box::new(CelString::from(text))
}

/// Converts a JSON value to CEL, borrowing its strings, with its schema's types: `number` is a
/// double, `integer` an int, `byte`/`date-time`/`date`/`duration` strings are
/// bytes/timestamps/durations, objects with properties expose only (escaped) declared
/// properties.
pub(crate) fn to_cel<'v>(v: &'v Value, s: Option<&Schema>) -> Val<'v> {
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => match s.and_then(|s| s.ty.as_deref()) {
            Some("number") => Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0))),
            Some("integer") => match n.as_i64() {
                Some(i) => Box::new(CelInt::from(i)),
                None => Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0))),
            },
            _ => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Box::new(CelInt::from(i)),
                (None, Some(u)) => Box::new(CelUInt::from(u)),
                _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0))),
            },
        },
        Value::String(text) => {
            let format = s.and_then(|s| s.format.as_deref()).map(formats::normalize);
            match format.as_deref() {
                Some("byte") => match formats::decode_base64(text) {
                    Some(bytes) => Box::new(CelBytes::from(bytes)),
                    None => cel_str(text),
                },
                Some("datetime") => match formats::parse_date_time(text) {
                    Some(t) => Box::new(CelTimestamp::from(t)),
                    None => cel_str(text),
                },
                Some("date") => match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                    Ok(d) => Box::new(CelTimestamp::from(
                        d.and_time(chrono::NaiveTime::MIN).and_utc().fixed_offset(),
                    )),
                    Err(_) => cel_str(text),
                },
                Some("duration") => match formats::parse_go_duration(text) {
                    Some(ns) => Box::new(CelDuration::from(chrono::Duration::nanoseconds(ns))),
                    None => cel_str(text),
                },
                _ => cel_str(text),
            }
        }
        Value::Array(items) => {
            let item_schema = s.and_then(|s| s.items.as_deref());
            let list = CelList::from(
                items
                    .iter()
                    .map(|i| to_cel(i, item_schema))
                    .collect::<Vec<_>>(),
            );
            match s.and_then(|s| s.list_type.as_deref()) {
                Some("set") | Some("map") => Box::new(UnorderedList(list)),
                _ => Box::new(list),
            }
        }
        Value::Object(map) => Box::new(CelMap::from(object_entries(map, s))),
    }
}

fn object_entries<'v>(
    map: &'v serde_json::Map<String, Value>,
    s: Option<&Schema>,
) -> HashMap<CelMapKey<'v>, Val<'v>> {
    let mut out = HashMap::with_capacity(map.len());
    match s {
        Some(s) if s.properties.is_some() => {
            if let Some(props) = &s.properties {
                for (k, v) in map {
                    let Some(prop) = props.get(k) else {
                        continue;
                    };
                    let key = match escape_property(k) {
                        Some(name) if name == *k => CelMapKey::from(k.as_str()),
                        Some(name) => CelMapKey::from(name),
                        None => continue,
                    };
                    out.insert(key, to_cel(v, Some(prop)));
                }
            }
        }
        Some(s) if s.additional_schema().is_some() => {
            let add = s.additional_schema();
            for (k, v) in map {
                out.insert(CelMapKey::from(k.as_str()), to_cel(v, add));
            }
        }
        _ => {
            for (k, v) in map {
                out.insert(CelMapKey::from(k.as_str()), to_cel(v, None));
            }
        }
    }
    out
}

/// `self` at the resource root: the schema's view plus `apiVersion`, `kind` and the
/// `metadata.name`/`generateName` the server exposes.
pub(crate) fn root_to_cel<'v>(v: &'v Value, s: &Schema) -> Val<'v> {
    let Value::Object(map) = v else {
        return to_cel(v, Some(s));
    };
    let mut out = object_entries(map, Some(s));
    for k in ["apiVersion", "kind"] {
        if let Some(Value::String(text)) = map.get(k) {
            out.insert(CelMapKey::from(k), cel_str(text));
        }
    }
    let mut meta: HashMap<CelMapKey<'v>, Val<'v>> = HashMap::new();
    for k in ["name", "generateName"] {
        if let Some(Value::String(text)) = map.get("metadata").and_then(|m| m.get(k)) {
            meta.insert(CelMapKey::from(k), cel_str(text));
        }
    }
    out.insert(CelMapKey::from("metadata"), Box::new(CelMap::from(meta)));
    Box::new(CelMap::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_names_are_escaped_like_kubernetes() {
        assert_eq!(escape_property("foo").as_deref(), Some("foo"));
        assert_eq!(
            escape_property("namespace").as_deref(),
            Some("__namespace__")
        );
        assert_eq!(
            escape_property("a-b.c/d").as_deref(),
            Some("a__dash__b__dot__c__slash__d")
        );
        assert_eq!(
            escape_property("a__b").as_deref(),
            Some("a__underscores__b")
        );
        assert_eq!(escape_property("1abc"), None);
    }
}
