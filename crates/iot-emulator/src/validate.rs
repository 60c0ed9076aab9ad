//! Input validation: the service model's constraints (required members, lengths, patterns,
//! enums, ranges, list limits) written as a small static shape table, plus the behaviour rules
//! AWS applies on top of the model. Messages follow AWS's "N validation errors detected: Value
//! … at 'path' failed to satisfy constraint: …" format so they name the field.

use serde_json::Value;

/// A model pattern: its text (for messages) and a matcher written for it.
pub type Pattern = (&'static str, fn(&str) -> bool);

/// One shape of the model, reduced to what validation needs.
pub enum Shape {
    Str {
        min: usize,
        max: Option<usize>,
        pattern: Option<Pattern>,
    },
    Enum(&'static [&'static str]),
    Int {
        min: Option<i64>,
        max: Option<i64>,
    },
    Double,
    Bool,
    List {
        member: &'static Shape,
        max: Option<usize>,
    },
    /// A map keyed by an enum (AlertTargets).
    Map {
        keys: &'static [&'static str],
        value: &'static Shape,
    },
    Struct(&'static [Member]),
}

/// A structure member: JSON name, shape, required.
pub struct Member(pub &'static str, pub &'static Shape, pub bool);

fn is_name(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'_' || b == b'-')
}
fn is_graph_or_space(s: &str) -> bool {
    // Java's \p{Graph} is printable ASCII without space.
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}
fn is_cidr(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.' || b == b'/')
}
fn is_tag_key(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_alphabetic()
            || c.is_numeric()
            || (c.is_whitespace() && !c.is_control())
            || "_.:/=+-@".contains(c)
    })
}

const NAME_PATTERN: &str = "[a-zA-Z0-9:_-]+";

pub static NAME: Shape = Shape::Str {
    min: 1,
    max: Some(128),
    pattern: Some((NAME_PATTERN, is_name)),
};
pub static DESCRIPTION: Shape = Shape::Str {
    min: 0,
    max: Some(1000),
    pattern: Some(("[\\p{Graph}\\x20]*", is_graph_or_space)),
};
static ANY_STRING: Shape = Shape::Str {
    min: 0,
    max: None,
    pattern: None,
};
static DIMENSION_OPERATOR: Shape = Shape::Enum(&["IN", "NOT_IN"]);
static METRIC_DIMENSION: Shape = Shape::Struct(&[
    Member("dimensionName", &NAME, true),
    Member("operator", &DIMENSION_OPERATOR, false),
]);
static COMPARISON_OPERATOR: Shape = Shape::Enum(&[
    "less-than",
    "less-than-equals",
    "greater-than",
    "greater-than-equals",
    "in-cidr-set",
    "not-in-cidr-set",
    "in-port-set",
    "not-in-port-set",
    "in-set",
    "not-in-set",
]);
static UNSIGNED_LONG: Shape = Shape::Int {
    min: Some(0),
    max: None,
};
static CIDR: Shape = Shape::Str {
    min: 2,
    max: Some(43),
    pattern: Some(("[a-fA-F0-9:\\.\\/]+", is_cidr)),
};
static PORT: Shape = Shape::Int {
    min: Some(0),
    max: Some(65535),
};
static DOUBLE: Shape = Shape::Double;
static BOOL: Shape = Shape::Bool;
static METRIC_VALUE: Shape = Shape::Struct(&[
    Member("count", &UNSIGNED_LONG, false),
    Member(
        "cidrs",
        &Shape::List {
            member: &CIDR,
            max: None,
        },
        false,
    ),
    Member(
        "ports",
        &Shape::List {
            member: &PORT,
            max: None,
        },
        false,
    ),
    Member("number", &DOUBLE, false),
    Member(
        "numbers",
        &Shape::List {
            member: &DOUBLE,
            max: None,
        },
        false,
    ),
    Member(
        "strings",
        &Shape::List {
            member: &ANY_STRING,
            max: None,
        },
        false,
    ),
]);
static ANY_INT: Shape = Shape::Int {
    min: None,
    max: None,
};
static DATAPOINTS: Shape = Shape::Int {
    min: Some(1),
    max: Some(10),
};
static STATISTIC: Shape = Shape::Enum(&[
    "p0", "p0.1", "p0.01", "p1", "p10", "p50", "p90", "p99", "p99.9", "p99.99", "p100",
]);
static CONFIDENCE: Shape = Shape::Enum(&["LOW", "MEDIUM", "HIGH"]);
static CRITERIA: Shape = Shape::Struct(&[
    Member("comparisonOperator", &COMPARISON_OPERATOR, false),
    Member("value", &METRIC_VALUE, false),
    Member("durationSeconds", &ANY_INT, false),
    Member("consecutiveDatapointsToAlarm", &DATAPOINTS, false),
    Member("consecutiveDatapointsToClear", &DATAPOINTS, false),
    Member(
        "statisticalThreshold",
        &Shape::Struct(&[Member("statistic", &STATISTIC, false)]),
        false,
    ),
    Member(
        "mlDetectionConfig",
        &Shape::Struct(&[Member("confidenceLevel", &CONFIDENCE, true)]),
        false,
    ),
]);
static BEHAVIOR: Shape = Shape::Struct(&[
    Member("name", &NAME, true),
    Member("metric", &ANY_STRING, false),
    Member("metricDimension", &METRIC_DIMENSION, false),
    Member("criteria", &CRITERIA, false),
    Member("suppressAlerts", &BOOL, false),
    Member("exportMetric", &BOOL, false),
]);
pub static BEHAVIORS: Shape = Shape::List {
    member: &BEHAVIOR,
    max: Some(100),
};
static ROLE_ARN: Shape = Shape::Str {
    min: 20,
    max: Some(2048),
    pattern: None,
};
static ALERT_TARGET: Shape = Shape::Struct(&[
    Member("alertTargetArn", &ANY_STRING, true),
    Member("roleArn", &ROLE_ARN, true),
]);
pub static ALERT_TARGETS: Shape = Shape::Map {
    keys: &["SNS"],
    value: &ALERT_TARGET,
};
pub static METRICS_TO_RETAIN: Shape = Shape::List {
    member: &ANY_STRING,
    max: None,
};
pub static METRICS_TO_RETAIN_V2: Shape = Shape::List {
    member: &Shape::Struct(&[
        Member("metric", &ANY_STRING, true),
        Member("metricDimension", &METRIC_DIMENSION, false),
        Member("exportMetric", &BOOL, false),
    ]),
    max: None,
};
pub static METRICS_EXPORT_CONFIG: Shape = Shape::Struct(&[
    Member(
        "mqttTopic",
        &Shape::Str {
            min: 1,
            max: Some(512),
            pattern: None,
        },
        true,
    ),
    Member("roleArn", &ROLE_ARN, true),
]);
pub static TAG_KEY: Shape = Shape::Str {
    min: 1,
    max: Some(128),
    pattern: Some(("^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$", is_tag_key)),
};
static TAG: Shape = Shape::Struct(&[
    Member("Key", &TAG_KEY, true),
    Member(
        "Value",
        &Shape::Str {
            min: 0,
            max: Some(256),
            pattern: None,
        },
        false,
    ),
]);
pub static TAG_LIST: Shape = Shape::List {
    member: &TAG,
    max: None,
};
pub static TAG_KEY_LIST: Shape = Shape::List {
    member: &TAG_KEY,
    max: None,
};
pub static STRING: Shape = Shape::Str {
    min: 0,
    max: None,
    pattern: None,
};

/// The profile attributes shared by Create and Update request bodies.
pub static PROFILE_ATTRIBUTES: &[Member] = &[
    Member("securityProfileDescription", &DESCRIPTION, false),
    Member("behaviors", &BEHAVIORS, false),
    Member("alertTargets", &ALERT_TARGETS, false),
    Member("additionalMetricsToRetain", &METRICS_TO_RETAIN, false),
    Member("additionalMetricsToRetainV2", &METRICS_TO_RETAIN_V2, false),
    Member("metricsExportConfig", &METRICS_EXPORT_CONFIG, false),
];

/// Collects constraint violations in AWS's wording.
#[derive(Default)]
pub struct Violations(Vec<String>);

impl Violations {
    pub fn push(&mut self, v: String) {
        self.0.push(v);
    }
    /// The InvalidRequestException message, or None when the input is valid.
    pub fn message(&self) -> Option<String> {
        match self.0.len() {
            0 => None,
            1 => Some(format!("1 validation error detected: {}", self.0[0])),
            n => Some(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            )),
        }
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => format!("'{other}'"),
    }
}

/// Checks `value` (the JSON found at `path`) against `shape`.
pub fn check(shape: &Shape, value: &Value, path: &str, out: &mut Violations) {
    let fail = |out: &mut Violations, what: &str| {
        out.push(format!(
            "Value {} at '{path}' failed to satisfy constraint: {what}",
            show(value)
        ))
    };
    match shape {
        Shape::Str { min, max, pattern } => {
            let Value::String(s) = value else {
                return fail(out, "Member must be a string");
            };
            let len = s.chars().count();
            if len < *min || max.is_some_and(|m| len > m) {
                let max = max.map_or("unbounded".to_string(), |m| m.to_string());
                fail(
                    out,
                    &format!("Member must have length between {min} and {max}, inclusive"),
                );
            }
            if let Some((text, ok)) = pattern
                && !ok(s)
            {
                fail(
                    out,
                    &format!("Member must satisfy regular expression pattern: {text}"),
                );
            }
        }
        Shape::Enum(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => {}
            _ => fail(
                out,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            ),
        },
        Shape::Int { min, max } => {
            let Some(n) = value.as_i64() else {
                return fail(out, "Member must be an integer");
            };
            if let Some(m) = min
                && n < *m
            {
                fail(
                    out,
                    &format!("Member must have value greater than or equal to {m}"),
                );
            }
            if let Some(m) = max
                && n > *m
            {
                fail(
                    out,
                    &format!("Member must have value less than or equal to {m}"),
                );
            }
        }
        Shape::Double => {
            if !value.is_number() {
                fail(out, "Member must be a number");
            }
        }
        Shape::Bool => {
            if !value.is_boolean() {
                fail(out, "Member must be a boolean");
            }
        }
        Shape::List { member, max } => {
            let Value::Array(items) = value else {
                return fail(out, "Member must be a list");
            };
            if let Some(m) = max
                && items.len() > *m
            {
                out.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {m}"
                ));
            }
            for (i, item) in items.iter().enumerate() {
                check(member, item, &format!("{path}.{}.member", i + 1), out);
            }
        }
        Shape::Map { keys, value: inner } => {
            let Value::Object(map) = value else {
                return fail(out, "Member must be a map");
            };
            for (k, v) in map {
                if !keys.contains(&k.as_str()) {
                    out.push(format!(
                        "Value '{k}' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                        keys.join(", ")
                    ));
                }
                check(inner, v, &format!("{path}.{k}"), out);
            }
        }
        Shape::Struct(members) => {
            let Value::Object(_) = value else {
                return fail(out, "Member must be a structure");
            };
            check_members(members, value, path, out);
        }
    }
}

/// Checks the named members of an object (the top level of a request body, or a structure).
pub fn check_members(members: &[Member], obj: &Value, prefix: &str, out: &mut Violations) {
    for Member(name, shape, required) in members {
        let path = if prefix.is_empty() {
            (*name).to_string()
        } else {
            format!("{prefix}.{name}")
        };
        match obj.get(*name) {
            None | Some(Value::Null) => {
                if *required {
                    out.push(format!(
                        "Value null at '{path}' failed to satisfy constraint: Member must not be null"
                    ));
                }
            }
            Some(v) => check(shape, v, &path, out),
        }
    }
}

/// Device Defender's built-in metrics (cloud-side and device-side). A behavior's `aws:` metric
/// must be one of them: the name is free text in the model, so only the service can tell.
pub const BUILT_IN_METRICS: &[&str] = &[
    "aws:all-bytes-in",
    "aws:all-bytes-out",
    "aws:all-packets-in",
    "aws:all-packets-out",
    "aws:destination-ip-addresses",
    "aws:listening-tcp-ports",
    "aws:listening-udp-ports",
    "aws:message-byte-size",
    "aws:num-authorization-failures",
    "aws:num-connection-attempts",
    "aws:num-disconnects",
    "aws:num-established-tcp-connections",
    "aws:num-listening-tcp-ports",
    "aws:num-listening-udp-ports",
    "aws:num-messages-received",
    "aws:num-messages-sent",
    "aws:source-ip-address",
];

/// Rules AWS applies to behaviors beyond the model (ValidateSecurityProfileBehaviors reports
/// them as validationErrors; Create/Update answer InvalidRequest). Assumes `check` passed.
pub fn behavior_rules(behaviors: &[Value]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut names = std::collections::HashSet::new();
    let (mut ml, mut rule) = (0, 0);
    for b in behaviors {
        let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
        if !names.insert(name) {
            errors.push(format!("Behavior name '{name}' is used more than once"));
        }
        if let Some(metric) = b.get("metric").and_then(Value::as_str)
            && metric.starts_with("aws:")
            && !BUILT_IN_METRICS.contains(&metric)
        {
            errors.push(format!(
                "Behavior '{name}': {metric} is not a Device Defender metric"
            ));
        }
        let Some(c) = b.get("criteria").filter(|c| !c.is_null()) else {
            continue;
        };
        let has = |k: &str| c.get(k).is_some_and(|v| !v.is_null());
        if has("mlDetectionConfig") {
            ml += 1;
            if has("value") || has("statisticalThreshold") || has("comparisonOperator") {
                errors.push(format!(
                    "Behavior '{name}': criteria with mlDetectionConfig cannot also set comparisonOperator, value or statisticalThreshold"
                ));
            }
        } else {
            rule += 1;
            if b.get("metric").is_none_or(Value::is_null) {
                errors.push(format!(
                    "Behavior '{name}': a rule-based behavior requires a metric"
                ));
            }
            if !has("comparisonOperator") {
                errors.push(format!(
                    "Behavior '{name}': a rule-based criteria requires a comparisonOperator"
                ));
            }
            if has("value") == has("statisticalThreshold") {
                errors.push(format!(
                    "Behavior '{name}': a rule-based criteria requires exactly one of value or statisticalThreshold"
                ));
            }
        }
    }
    if ml > 0 && rule > 0 {
        errors.push(
            "A security profile cannot mix ML Detect behaviors with rule-based behaviors"
                .to_string(),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_violation_names_the_field() {
        let mut v = Violations::default();
        let b = json!([{"name": "ok", "criteria": {"consecutiveDatapointsToAlarm": 11}}]);
        check(&BEHAVIORS, &b, "behaviors", &mut v);
        let m = v.message().unwrap();
        assert!(
            m.contains("'behaviors.1.member.criteria.consecutiveDatapointsToAlarm'"),
            "{m}"
        );
        assert!(m.contains("less than or equal to 10"), "{m}");
    }

    #[test]
    fn patterns_and_required() {
        let mut v = Violations::default();
        check(&NAME, &json!("bad name"), "securityProfileName", &mut v);
        check_members(
            &PROFILE_ATTRIBUTES[5..],
            &json!({"metricsExportConfig": {"mqttTopic": "t"}}),
            "",
            &mut v,
        );
        let m = v.message().unwrap();
        assert!(m.starts_with("2 validation errors"), "{m}");
        assert!(m.contains("metricsExportConfig.roleArn"), "{m}");
    }

    #[test]
    fn ml_and_rules_do_not_mix() {
        let b = vec![
            json!({"name": "a", "criteria": {"mlDetectionConfig": {"confidenceLevel": "LOW"}}}),
            json!({"name": "b", "metric": "aws:num-messages-sent", "criteria": {"comparisonOperator": "less-than", "value": {"count": 1}}}),
        ];
        let errs = behavior_rules(&b);
        assert_eq!(errs.len(), 1, "{errs:?}");
    }
}
