//! The Describe normalisation switch: answers DescribeSecurityProfile and UpdateSecurityProfile
//! the way AWS may, with lists whose order means nothing reordered and server-side defaults
//! filled in, so the operator's tests can prove such answers cause no false drift.

use serde_json::{Map, Value};

/// Rewrites a DescribeSecurityProfile / UpdateSecurityProfile response body in place.
pub fn describe(body: &mut Value) {
    if let Some(Value::Array(behaviors)) = body.get_mut("behaviors") {
        behaviors.iter_mut().for_each(behavior);
    }
    if let Some(Value::Array(metrics)) = body.get_mut("additionalMetricsToRetainV2") {
        metrics.reverse();
        for m in metrics.iter_mut().filter_map(Value::as_object_mut) {
            fill(m, "exportMetric", Value::Bool(false));
            dimension(m);
        }
    }
    if let Some(Value::Array(metrics)) = body.get_mut("additionalMetricsToRetain") {
        metrics.reverse();
    }
}

fn fill(obj: &mut Map<String, Value>, key: &str, default: Value) {
    if obj.get(key).is_none_or(Value::is_null) {
        obj.insert(key.to_string(), default);
    }
}

/// A dimension without an operator is read as `IN` (the model says so).
fn dimension(obj: &mut Map<String, Value>) {
    if let Some(Value::Object(d)) = obj.get_mut("metricDimension") {
        fill(d, "operator", Value::String("IN".into()));
    }
}

fn behavior(b: &mut Value) {
    let Some(b) = b.as_object_mut() else {
        return;
    };
    fill(b, "suppressAlerts", Value::Bool(false));
    fill(b, "exportMetric", Value::Bool(false));
    dimension(b);
    let Some(Value::Object(c)) = b.get_mut("criteria") else {
        return;
    };
    fill(c, "consecutiveDatapointsToAlarm", Value::from(1));
    fill(c, "consecutiveDatapointsToClear", Value::from(1));
    if let Some(Value::Object(v)) = c.get_mut("value") {
        for key in ["cidrs", "ports", "numbers", "strings"] {
            if let Some(Value::Array(items)) = v.get_mut(key) {
                items.reverse();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reorders_sets_and_fills_defaults() {
        let mut body = json!({
            "behaviors": [{"name": "b", "metric": "aws:destination-ip-addresses",
                "metricDimension": {"dimensionName": "d"},
                "criteria": {"comparisonOperator": "in-cidr-set",
                    "value": {"cidrs": ["10.0.0.0/8", "192.168.0.0/16"]},
                    "consecutiveDatapointsToAlarm": 3}}],
            "additionalMetricsToRetainV2": [{"metric": "a"}, {"metric": "b", "exportMetric": true}],
        });
        describe(&mut body);
        assert_eq!(
            body,
            json!({
                "behaviors": [{"name": "b", "metric": "aws:destination-ip-addresses",
                    "metricDimension": {"dimensionName": "d", "operator": "IN"},
                    "criteria": {"comparisonOperator": "in-cidr-set",
                        "value": {"cidrs": ["192.168.0.0/16", "10.0.0.0/8"]},
                        "consecutiveDatapointsToAlarm": 3, "consecutiveDatapointsToClear": 1},
                    "suppressAlerts": false, "exportMetric": false}],
                "additionalMetricsToRetainV2": [{"metric": "b", "exportMetric": true},
                    {"metric": "a", "exportMetric": false}],
            })
        );
    }
}
