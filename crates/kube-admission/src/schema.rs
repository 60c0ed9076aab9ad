//! The structural schema of one CRD version, parsed once from its `openAPIV3Schema` JSON into a
//! tree the pruning, defaulting and validation passes walk.

use crate::FieldError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `additionalProperties`: a schema for every other key, or a bare allow/deny.
#[derive(Debug, Clone)]
pub(crate) enum Additional {
    Allows(bool),
    Schema(Box<Schema>),
}

/// One `x-kubernetes-validations` entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rule {
    pub rule: String,
    pub message: Option<String>,
    pub message_expression: Option<String>,
    pub field_path: Option<String>,
    pub reason: Option<String>,
    pub optional_old_self: bool,
}

/// One node of a structural schema; absent keywords are `None`/empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    pub ty: Option<String>,
    pub nullable: bool,
    pub format: Option<String>,
    pub int_or_string: bool,
    pub preserve_unknown: bool,
    pub embedded_resource: bool,
    pub properties: Option<BTreeMap<String, Schema>>,
    pub additional: Option<Additional>,
    pub items: Option<Box<Schema>>,
    pub required: Vec<String>,
    pub enumeration: Option<Vec<Value>>,
    pub pattern: Option<String>,
    pub min_length: Option<i64>,
    pub max_length: Option<i64>,
    pub min_items: Option<i64>,
    pub max_items: Option<i64>,
    pub min_properties: Option<i64>,
    pub max_properties: Option<i64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub exclusive_minimum: bool,
    pub exclusive_maximum: bool,
    pub multiple_of: Option<f64>,
    pub unique_items: bool,
    pub default: Option<Value>,
    pub list_type: Option<String>,
    pub list_map_keys: Vec<String>,
    pub map_type: Option<String>,
    pub all_of: Vec<Schema>,
    pub any_of: Vec<Schema>,
    pub one_of: Vec<Schema>,
    pub not: Option<Box<Schema>>,
    pub rules: Vec<Rule>,
    /// Whether this node or any node below it carries CEL rules (lets the CEL pass skip
    /// subtrees without any).
    pub rules_below: bool,
}

fn int(m: &Map<String, Value>, k: &str) -> Option<i64> {
    m.get(k).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    })
}

fn string(m: &Map<String, Value>, k: &str) -> Option<String> {
    m.get(k).and_then(Value::as_str).map(str::to_string)
}

/// A list of strings (`required`, `x-kubernetes-list-map-keys`); missing is empty.
fn strings(m: &Map<String, Value>, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn flag(m: &Map<String, Value>, k: &str) -> bool {
    m.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn list(m: &Map<String, Value>, k: &str) -> Vec<Schema> {
    m.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Schema::parse).collect())
        .unwrap_or_default()
}

impl Schema {
    /// Parses a schema node; unknown or malformed keywords are ignored, as the server has
    /// already rejected CRDs whose schemas are not structural.
    pub(crate) fn parse(v: &Value) -> Schema {
        let Some(m) = v.as_object() else {
            return Schema::default();
        };
        let properties = m.get("properties").and_then(Value::as_object).map(|p| {
            p.iter()
                .map(|(k, v)| (k.clone(), Schema::parse(v)))
                .collect::<BTreeMap<_, _>>()
        });
        let additional = match m.get("additionalProperties") {
            Some(Value::Bool(b)) => Some(Additional::Allows(*b)),
            Some(v @ Value::Object(_)) => Some(Additional::Schema(Box::new(Schema::parse(v)))),
            _ => None,
        };
        let items = match m.get("items") {
            Some(v @ Value::Object(_)) => Some(Box::new(Schema::parse(v))),
            _ => None,
        };
        let rules = m
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .map(|rules| {
                rules
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|r| Rule {
                        rule: string(r, "rule").unwrap_or_default(),
                        message: string(r, "message").filter(|s| !s.is_empty()),
                        message_expression: string(r, "messageExpression")
                            .filter(|s| !s.is_empty()),
                        field_path: string(r, "fieldPath").filter(|s| !s.is_empty()),
                        reason: string(r, "reason").filter(|s| !s.is_empty()),
                        optional_old_self: flag(r, "optionalOldSelf"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut schema = Schema {
            ty: string(m, "type").filter(|t| !t.is_empty()),
            nullable: flag(m, "nullable"),
            format: string(m, "format").filter(|f| !f.is_empty()),
            int_or_string: flag(m, "x-kubernetes-int-or-string"),
            preserve_unknown: flag(m, "x-kubernetes-preserve-unknown-fields"),
            embedded_resource: flag(m, "x-kubernetes-embedded-resource"),
            properties,
            additional,
            items,
            required: strings(m, "required"),
            enumeration: m.get("enum").and_then(Value::as_array).cloned(),
            pattern: string(m, "pattern").filter(|p| !p.is_empty()),
            min_length: int(m, "minLength"),
            max_length: int(m, "maxLength"),
            min_items: int(m, "minItems"),
            max_items: int(m, "maxItems"),
            min_properties: int(m, "minProperties"),
            max_properties: int(m, "maxProperties"),
            minimum: m.get("minimum").and_then(Value::as_f64),
            maximum: m.get("maximum").and_then(Value::as_f64),
            exclusive_minimum: flag(m, "exclusiveMinimum"),
            exclusive_maximum: flag(m, "exclusiveMaximum"),
            multiple_of: m.get("multipleOf").and_then(Value::as_f64),
            unique_items: flag(m, "uniqueItems"),
            default: m.get("default").filter(|d| !d.is_null()).cloned(),
            list_type: string(m, "x-kubernetes-list-type"),
            list_map_keys: strings(m, "x-kubernetes-list-map-keys"),
            map_type: string(m, "x-kubernetes-map-type"),
            all_of: list(m, "allOf"),
            any_of: list(m, "anyOf"),
            one_of: list(m, "oneOf"),
            not: m.get("not").map(|n| Box::new(Schema::parse(n))),
            rules,
            rules_below: false,
        };
        schema.rules_below = !schema.rules.is_empty()
            || schema.items.as_ref().is_some_and(|i| i.rules_below)
            || schema.additional_schema().is_some_and(|a| a.rules_below)
            || schema
                .properties
                .as_ref()
                .is_some_and(|p| p.values().any(|p| p.rules_below))
            || schema.all_of.iter().any(|a| a.rules_below);
        schema
    }

    /// The schema for key `k` of an object node: a declared property, else
    /// `additionalProperties` (a bare `true` gives no schema, as in the server).
    pub(crate) fn field(&self, k: &str) -> Option<&Schema> {
        if let Some(p) = self.properties.as_ref().and_then(|p| p.get(k)) {
            return Some(p);
        }
        match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The `additionalProperties` schema, if any.
    pub(crate) fn additional_schema(&self) -> Option<&Schema> {
        match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    /// The schema's type name as CEL errors report it (`sts.Type`, empty when untyped).
    pub(crate) fn type_name(&self) -> &str {
        self.ty.as_deref().unwrap_or("")
    }
}

/// A CRD version's schema, parsed once and reusable for every object admitted against it.
#[derive(Debug, Clone)]
pub struct CrdSchema {
    pub(crate) root: Schema,
}

impl CrdSchema {
    /// Parses an `openAPIV3Schema`.
    pub fn new(open_api_v3_schema: &Value) -> Self {
        CrdSchema {
            root: Schema::parse(open_api_v3_schema),
        }
    }

    /// Prunes unknown fields and null values the schema does not allow, returning the pruned
    /// unknown field paths (sorted).
    pub fn prune(&self, obj: &mut Value) -> Vec<String> {
        let unknown = crate::prune::prune_root(obj, &self.root);
        crate::prune::prune_nulls(obj, Some(&self.root));
        unknown
    }

    /// Applies `default`s, as the server does after pruning.
    pub fn apply_defaults(&self, obj: &mut Value) {
        crate::default::apply(obj, &self.root);
    }

    /// Validates an already pruned and defaulted object: schema, list types, then CEL rules.
    /// `old` is the stored object on update (ratcheting and transition rules).
    pub fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        crate::validate::validate_root(&self.root, obj, old, &mut errs);
        let list_errs_allowed = match old {
            // On update list-type errors are reported only when the stored object had none.
            Some(o) => crate::listtype::validate(&self.root, o).is_empty(),
            None => true,
        };
        if list_errs_allowed {
            errs.extend(crate::listtype::validate(&self.root, obj));
        }
        // The server only has a CEL validator when the schema has rules.
        if !self.root.rules_below {
            return errs;
        }
        if errs.iter().any(crate::validate::is_blocking) {
            errs.push(crate::validate::rules_not_checked());
        } else {
            crate::rules::validate_root(&self.root, obj, old, &mut errs);
        }
        errs
    }

    /// Prunes, defaults and validates `obj` in place (see [`crate::admit`]).
    pub fn admit(&self, obj: &mut Value, old: Option<&Value>) -> Result<(), Vec<FieldError>> {
        self.prune(obj);
        self.apply_defaults(obj);
        let errs = self.validate(obj, old);
        if errs.is_empty() { Ok(()) } else { Err(errs) }
    }
}
