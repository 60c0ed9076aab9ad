#![recursion_limit = "512"]

//! Admission of custom resources against CRD schemas, asserting the exact messages the real
//! kube-apiserver (1.34) returns.

#[path = "admission/cel.rs"]
mod cel;
#[path = "admission/defaulting.rs"]
mod defaulting;
#[path = "admission/fixtures.rs"]
mod fixtures;
#[path = "admission/listtypes.rs"]
mod listtypes;
#[path = "admission/pruning.rs"]
mod pruning;
#[path = "admission/schema_errors.rs"]
mod schema_errors;
#[path = "admission/securityprofile.rs"]
mod securityprofile;
#[path = "admission/securityprofile_rules.rs"]
mod securityprofile_rules;

use kube_admission::{FieldError, admit};
use serde_json::{Value, json};

/// Wraps a `spec` schema into a resource schema.
pub fn with_spec(spec: Value) -> Value {
    json!({"type": "object", "properties": {"spec": spec}})
}

/// A resource with the given spec.
pub fn resource(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec})
}

/// The rendered errors (`field: message`) of admitting `obj`; empty when admitted.
pub fn errors(schema: &Value, obj: Value, old: Option<&Value>) -> Vec<String> {
    let mut obj = obj;
    match admit(schema, &mut obj, old) {
        Ok(()) => vec![],
        Err(errs) => errs.iter().map(FieldError::to_string).collect(),
    }
}

/// The errors of a spec against a spec schema, on create.
pub fn spec_errors(spec_schema: Value, spec: Value) -> Vec<String> {
    errors(&with_spec(spec_schema), resource(spec), None)
}
