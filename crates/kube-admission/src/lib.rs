//! Admission for custom resources, as kube-apiserver (1.34) does it: pruning of unknown fields,
//! defaulting, structural-schema validation, `x-kubernetes-list-type` uniqueness and CEL
//! `x-kubernetes-validations`, with errors worded as the real server words them.
//!
//! `admit` is the one-call entry point; [`CrdSchema`] keeps a parsed schema for callers that
//! admit many objects against the same CRD version. Regexes and CEL programs are compiled once
//! per process and cached by their source text.

mod cache;
mod cel_values;
mod default;
mod formats;
mod library;
mod listtype;
mod prune;
mod render;
mod rules;
mod schema;
mod unordered;
mod validate;

use serde_json::Value;
use std::fmt;

pub use schema::CrdSchema;

/// The kinds of field error kube-apiserver reports (`k8s.io/apimachinery/pkg/util/validation/field`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Invalid,
    NotSupported,
    TooLong,
    TooMany,
    Duplicate,
    Forbidden,
    TypeInvalid,
}

impl ErrorType {
    /// The words the server prints for this type (`ErrorType.String()`).
    pub fn words(&self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Forbidden => "Forbidden",
        }
    }
}

/// One field error: rendered the way the real API server renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub error_type: ErrorType,
    /// Field path, e.g. `spec.behaviors[0].criteria.comparisonOperator` (`<nil>` for errors the
    /// server reports without a path).
    pub field: String,
    /// The offending value; `None` when the server omits it.
    pub bad_value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub(crate) fn new(
        error_type: ErrorType,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            error_type,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// The `StatusCause.reason`, e.g. `FieldValueNotSupported`.
    pub fn reason(&self) -> &'static str {
        match self.error_type {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The `StatusCause.message` (everything after `field: `), as `field.Error.ErrorBody` builds
    /// it: the type's words, the bad value (except for Required, Forbidden and TooLong), then
    /// the detail.
    pub fn message(&self) -> String {
        let mut s = String::from(self.error_type.words());
        let shows_value = !matches!(
            self.error_type,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong
        );
        if shows_value && let Some(v) = &self.bad_value {
            s.push_str(": ");
            s.push_str(&render::bad_value(v));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// Admits `obj` (a whole custom resource) against one CRD version's `openAPIV3Schema`:
/// prunes unknown fields, applies defaults, validates, and evaluates CEL rules (with `old`, the
/// stored object on update, for transition rules). On success `obj` is the object to store.
/// The parsed schema is cached (keyed by the schema's JSON), so repeated calls with the same
/// schema do not parse it again.
pub fn admit(schema: &Value, obj: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
    cache::crd_schema(schema).admit(obj, old)
}

/// Prunes unknown fields from `obj` as the server does when it decodes a request, and returns
/// their paths sorted (`spec.foo`, `spec.items[0].bar`): what `fieldValidation=Strict` reports
/// as `unknown field "spec.foo"`.
pub fn prune_unknown_fields(schema: &Value, obj: &mut Value) -> Vec<String> {
    cache::crd_schema(schema).prune(obj)
}
