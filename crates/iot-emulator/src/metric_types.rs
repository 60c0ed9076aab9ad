//! What a behavior on a custom metric may ask, by the metric's `metricType`: the operators of
//! each type, statistical thresholds and ML Detect only on `number`, and no `durationSeconds`
//! on the list types. ValidateSecurityProfileBehaviors reports these as validationErrors,
//! Create/UpdateSecurityProfile refuse them (InvalidRequest). A behavior on a metric the
//! account does not hold is not judged here (the reference check answers it).

use serde_json::Value;
use std::collections::BTreeMap;

const NUMERIC: &[&str] = &[
    "less-than",
    "less-than-equals",
    "greater-than",
    "greater-than-equals",
];
const SET: &[&str] = &["in-set", "not-in-set"];
const CIDR_SET: &[&str] = &["in-cidr-set", "not-in-cidr-set"];

/// The comparison operators a custom metric of this type accepts (`None` for a type AWS does
/// not have: nothing is judged).
fn operators(metric_type: &str) -> Option<&'static [&'static str]> {
    match metric_type {
        "number" => Some(NUMERIC),
        "number-list" | "string-list" => Some(SET),
        "ip-address-list" => Some(CIDR_SET),
        _ => None,
    }
}

/// The errors of behaviors whose criteria do not fit the type of the custom metric they name.
/// `types` maps the account's custom metric names to their `metricType`.
pub fn custom_metric_rules(behaviors: &[Value], types: &BTreeMap<String, String>) -> Vec<String> {
    let mut errors = Vec::new();
    for b in behaviors {
        let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
        let Some(metric) = b.get("metric").and_then(Value::as_str) else {
            continue;
        };
        let Some(metric_type) = types.get(metric).map(String::as_str) else {
            continue;
        };
        let (Some(allowed), Some(c)) = (
            operators(metric_type),
            b.get("criteria").filter(|c| c.is_object()),
        ) else {
            continue;
        };
        let has = |k: &str| c.get(k).is_some_and(|v| !v.is_null());
        let what = format!("Behavior '{name}': custom metric {metric} is of type {metric_type}");
        if has("mlDetectionConfig") {
            if metric_type != "number" {
                errors.push(format!(
                    "{what}; ML Detect supports only custom metrics of type number"
                ));
            }
            continue;
        }
        if let Some(op) = c.get("comparisonOperator").and_then(Value::as_str)
            && !allowed.contains(&op)
        {
            errors.push(format!(
                "{what}; comparisonOperator {op} does not apply to it (use {})",
                allowed.join(" or ")
            ));
        }
        if metric_type != "number" && has("statisticalThreshold") {
            errors.push(format!(
                "{what}; statisticalThreshold applies only to custom metrics of type number"
            ));
        }
        if metric_type != "number" && has("durationSeconds") {
            errors.push(format!(
                "{what}; durationSeconds cannot be used with a list-based metric type"
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn types() -> BTreeMap<String, String> {
        [
            ("battery", "number"),
            ("codes", "number-list"),
            ("ssids", "string-list"),
            ("peers", "ip-address-list"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn behavior(metric: &str, criteria: Value) -> Value {
        json!({"name": "b", "metric": metric, "criteria": criteria})
    }

    #[test]
    fn each_type_takes_its_own_operators() {
        let ok = [
            behavior(
                "battery",
                json!({"comparisonOperator": "less-than", "value": {"number": 5}, "durationSeconds": 300}),
            ),
            behavior(
                "battery",
                json!({"comparisonOperator": "greater-than", "statisticalThreshold": {"statistic": "p90"}, "durationSeconds": 300}),
            ),
            behavior(
                "battery",
                json!({"mlDetectionConfig": {"confidenceLevel": "LOW"}}),
            ),
            behavior(
                "codes",
                json!({"comparisonOperator": "in-set", "value": {"numbers": [1, 2]}}),
            ),
            behavior(
                "ssids",
                json!({"comparisonOperator": "not-in-set", "value": {"strings": ["home"]}}),
            ),
            behavior(
                "peers",
                json!({"comparisonOperator": "in-cidr-set", "value": {"cidrs": ["10.0.0.0/8"]}}),
            ),
            // Not a custom metric of the account: judged elsewhere.
            behavior("ghost", json!({"comparisonOperator": "in-cidr-set"})),
            behavior(
                "aws:num-messages-sent",
                json!({"comparisonOperator": "greater-than"}),
            ),
        ];
        for b in ok {
            assert_eq!(
                custom_metric_rules(std::slice::from_ref(&b), &types()),
                Vec::<String>::new(),
                "{b}"
            );
        }
        let wrong = [
            behavior(
                "battery",
                json!({"comparisonOperator": "in-set", "value": {"numbers": [1]}}),
            ),
            behavior(
                "codes",
                json!({"comparisonOperator": "greater-than", "value": {"number": 1}}),
            ),
            behavior(
                "ssids",
                json!({"comparisonOperator": "in-cidr-set", "value": {"cidrs": ["10.0.0.0/8"]}}),
            ),
            behavior(
                "peers",
                json!({"comparisonOperator": "in-set", "value": {"strings": ["x"]}}),
            ),
            behavior(
                "codes",
                json!({"mlDetectionConfig": {"confidenceLevel": "HIGH"}}),
            ),
            behavior(
                "ssids",
                json!({"comparisonOperator": "in-set", "statisticalThreshold": {"statistic": "p50"}}),
            ),
            behavior(
                "peers",
                json!({"comparisonOperator": "in-cidr-set", "value": {"cidrs": ["10.0.0.0/8"]}, "durationSeconds": 300}),
            ),
        ];
        for b in wrong {
            let errors = custom_metric_rules(std::slice::from_ref(&b), &types());
            assert_eq!(errors.len(), 1, "{b}: {errors:?}");
            assert!(
                errors[0].starts_with("Behavior 'b': custom metric "),
                "{errors:?}"
            );
        }
        let errors = custom_metric_rules(
            &[behavior(
                "codes",
                json!({"comparisonOperator": "less-than", "value": {"number": 1}}),
            )],
            &types(),
        );
        assert_eq!(
            errors,
            [
                "Behavior 'b': custom metric codes is of type number-list; comparisonOperator less-than does not apply to it (use in-set or not-in-set)"
            ]
        );
    }
}
