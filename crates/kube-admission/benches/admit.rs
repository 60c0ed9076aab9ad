//! Throughput of admission for a SecurityProfile (`cargo bench -p kube-admission`): what the
//! sandbox pays on every custom-resource write.

#![recursion_limit = "512"]

#[path = "../tests/admission/fixtures.rs"]
mod fixtures;

use kube_admission::{CrdSchema, admit};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Instant;

fn measure(name: &str, iterations: u32, mut f: impl FnMut()) {
    // Warm-up fills the regex and CEL caches, as the first write after start-up does.
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per_op = start.elapsed() / iterations;
    let per_sec = 1.0 / per_op.as_secs_f64();
    println!(
        "{name:<48} {:>9.1} µs/op {:>10.0} ops/s",
        per_op.as_secs_f64() * 1e6,
        per_sec
    );
}

/// Removes every `x-kubernetes-validations`, to separate CEL's share of the cost.
fn strip_rules(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("x-kubernetes-validations");
            m.values_mut().for_each(strip_rules);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_rules),
        _ => {}
    }
}

fn main() {
    let schema = fixtures::security_profile_schema();
    let obj = fixtures::security_profile();
    let mut big = obj.clone();
    big["spec"]["behaviors"] = Value::Array(
        (0..100)
            .map(|i| {
                json!({"name": format!("b{i}"), "metric": "aws:num-messages-sent",
                       "criteria": {"comparisonOperator": "greater-than", "value": {"count": i}}})
            })
            .collect(),
    );
    let iterations = 2000;

    measure("admit (parse schema each call), create", iterations, || {
        let mut o = obj.clone();
        black_box(admit(&schema, &mut o, None).is_ok());
    });
    let parsed = CrdSchema::new(&schema);
    measure("CrdSchema::admit, create", iterations, || {
        let mut o = obj.clone();
        black_box(parsed.admit(&mut o, None).is_ok());
    });
    let mut stored = obj.clone();
    let _ = parsed.admit(&mut stored, None);
    measure(
        "CrdSchema::admit, update (transition rules)",
        iterations,
        || {
            let mut o = obj.clone();
            o["spec"]["securityProfileDescription"] = json!("changed");
            black_box(parsed.admit(&mut o, Some(&stored)).is_ok());
        },
    );
    measure(
        "CrdSchema::admit, create, 100 behaviors",
        iterations / 4,
        || {
            let mut o = big.clone();
            black_box(parsed.admit(&mut o, None).is_ok());
        },
    );
    let mut no_rules_schema = schema.clone();
    strip_rules(&mut no_rules_schema);
    let no_rules = CrdSchema::new(&no_rules_schema);
    measure(
        "CrdSchema::admit, create, schema without CEL rules",
        iterations,
        || {
            let mut o = obj.clone();
            black_box(no_rules.admit(&mut o, None).is_ok());
        },
    );
    let mut invalid = obj.clone();
    invalid["spec"]["tags"] = json!([{"key": "iot.awscc.io/x"}]);
    measure(
        "CrdSchema::admit, create, rejected by CEL",
        iterations,
        || {
            let mut o = invalid.clone();
            black_box(parsed.admit(&mut o, None).is_err());
        },
    );
}
