//! Defaulting (`defaulting/algorithm.go`): missing properties and non-nullable nulls take their
//! schema's `default`, then defaulting recurses into every value, defaulted ones included.

use crate::schema::Schema;
use serde_json::Value;

fn non_nullable_null(x: &Value, s: Option<&Schema>) -> bool {
    x.is_null() && s.is_some_and(|s| !s.nullable)
}

pub(crate) fn apply(x: &mut Value, s: &Schema) {
    match x {
        Value::Object(map) => {
            if let Some(props) = &s.properties {
                for (k, prop) in props {
                    let Some(default) = &prop.default else {
                        continue;
                    };
                    let missing = map.get(k).is_none_or(|v| non_nullable_null(v, Some(prop)));
                    if missing {
                        map.insert(k.clone(), default.clone());
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.as_ref().and_then(|p| p.get(k)) {
                    apply(v, prop);
                } else if let Some(add) = s.additional_schema() {
                    if non_nullable_null(v, Some(add))
                        && let Some(d) = &add.default
                    {
                        *v = d.clone();
                    }
                    apply(v, add);
                }
            }
        }
        Value::Array(items) => {
            let Some(item_schema) = s.items.as_deref() else {
                return;
            };
            for v in items {
                if non_nullable_null(v, Some(item_schema))
                    && let Some(d) = &item_schema.default
                {
                    *v = d.clone();
                }
                apply(v, item_schema);
            }
        }
        _ => {}
    }
}
