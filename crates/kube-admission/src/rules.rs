//! CEL `x-kubernetes-validations` (`schema/cel/validation.go`): each rule runs with `self`
//! bound to its node; transition rules (those naming `oldSelf`) run only where an old value
//! correlates, unless `optionalOldSelf` is set. Failures are worded as the server words them.

use crate::cache::{self, CelExpr};
use crate::cel_values::{root_to_cel, to_cel};
use crate::listtype::path_child;
use crate::schema::{Rule, Schema};
use crate::validate::correlated_item;
use crate::{ErrorType, FieldError};
use cel::common::types::CelOptional;
use cel::{Context, ExecutionError, Value as Cel};
use serde_json::Value;

/// The longest message a `messageExpression` may produce (`MaxEvaluatedMessageExpressionSizeBytes`).
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// Error paths as `field.Path` prints them; the root is `<nil>`.
fn field_of(path: &str) -> String {
    if path.is_empty() {
        "<nil>".into()
    } else {
        path.to_string()
    }
}

/// Resolves a rule's `fieldPath` (`.spec.x`, `['a.b']`) against the node's schema into the
/// relative path the server appends (`spec.x`, `a.b`, `labels[k]`).
fn normalize_field_path(field_path: &str, schema: &Schema) -> Option<String> {
    let mut out = String::new();
    let mut s = schema;
    let mut rest = field_path;
    while !rest.is_empty() {
        let name: String;
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            name = r[..end].to_string();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let mut end = None;
            let bytes = r.as_bytes();
            for i in 0..bytes.len() {
                if bytes[i] == b'\'' && (i == 0 || bytes[i - 1] != b'\\') {
                    end = Some(i);
                    break;
                }
            }
            let end = end?;
            name = r[..end].replace("\\'", "'").replace("\\\\", "\\");
            rest = r[end + 1..].strip_prefix(']')?;
        } else {
            return None;
        }
        if name.is_empty() {
            return None;
        }
        if let Some(props) = &s.properties {
            s = props.get(&name)?;
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&name);
        } else if let Some(add) = s.additional_schema() {
            s = add;
            out.push_str(&format!("[{name}]"));
        } else {
            return None;
        }
    }
    Some(out)
}

fn rule_error_string(rule: &Rule) -> String {
    match &rule.message {
        Some(m) => m.trim().to_string(),
        None => rule.rule.trim().to_string(),
    }
}

fn rule_message_or_default(rule: &Rule) -> String {
    match &rule.message {
        Some(m) => m.trim().to_string(),
        None => format!("failed rule: {}", rule_error_string(rule)),
    }
}

/// cel-go's wording for the common runtime errors.
fn eval_error_detail(e: &ExecutionError, rule: &Rule) -> String {
    match e {
        ExecutionError::NoSuchOverload(_)
        | ExecutionError::UnsupportedBinaryOperator(..)
        | ExecutionError::ValuesNotComparable(..)
        | ExecutionError::UnexpectedType { .. } => format!(
            "'no such overload': call arguments did not match a supported operator, function or macro signature for rule: {}",
            rule_error_string(rule)
        ),
        ExecutionError::NoSuchKey(k) => {
            format!(
                "no such key: {k} evaluating rule: {}",
                rule_error_string(rule)
            )
        }
        ExecutionError::DivisionByZero(_) => {
            format!(
                "division by zero evaluating rule: {}",
                rule_error_string(rule)
            )
        }
        ExecutionError::RemainderByZero(_) => {
            format!(
                "modulus by zero evaluating rule: {}",
                rule_error_string(rule)
            )
        }
        other => format!("{other} evaluating rule: {}", rule_error_string(rule)),
    }
}

fn field_error_for_reason(
    path: &str,
    type_name: &str,
    detail: String,
    reason: Option<&str>,
) -> FieldError {
    let field = field_of(path);
    let value = Some(Value::from(type_name));
    match reason {
        Some("FieldValueForbidden") => {
            FieldError::new(ErrorType::Forbidden, field, Some(Value::from("")), detail)
        }
        Some("FieldValueRequired") => {
            FieldError::new(ErrorType::Required, field, Some(Value::from("")), detail)
        }
        Some("FieldValueDuplicate") => FieldError::new(ErrorType::Duplicate, field, value, ""),
        _ => FieldError::new(ErrorType::Invalid, field, value, detail),
    }
}

/// Evaluates a `messageExpression`; `None` when it fails or yields no usable message.
fn message_from_expression(source: &str, ctx: &Context) -> Option<String> {
    let compiled = cache::cel_program(source);
    let expr = compiled.as_ref().as_ref().ok()?;
    match expr.program.execute(ctx) {
        Ok(Cel::String(s)) => {
            let trimmed = s.trim();
            (!trimmed.is_empty() && !trimmed.contains('\n') && trimmed.len() <= MAX_MESSAGE_BYTES)
                .then(|| trimmed.to_string())
        }
        _ => None,
    }
}

struct Node<'a> {
    schema: &'a Schema,
    value: &'a Value,
    old: Option<&'a Value>,
    path: &'a str,
    is_root: bool,
}

fn eval_rules(node: &Node, errs: &mut Vec<FieldError>) {
    let s = node.schema;
    let type_name = s.type_name();
    let compiled: Vec<_> = s
        .rules
        .iter()
        .map(|r| cache::cel_program(&r.rule))
        .collect();
    let uses_old = |c: &std::sync::Arc<Result<CelExpr, String>>| {
        c.as_ref().as_ref().is_ok_and(|e| e.uses_old_self)
    };
    let any_plain_old = s
        .rules
        .iter()
        .zip(&compiled)
        .any(|(r, c)| !r.optional_old_self && uses_old(c));
    let any_optional = s.rules.iter().any(|r| r.optional_old_self);
    let convert = |v| {
        if node.is_root {
            root_to_cel(v, s)
        } else {
            to_cel(v, Some(s))
        }
    };
    let unchanged = node.old.is_some_and(|o| o == node.value);
    let env = cache::cel_env();
    // One context per node (variables are converted once), plus one for optionalOldSelf rules.
    let mut ctx = Context::with_env(env.clone());
    ctx.add_variable_as_val("self", convert(node.value));
    if any_plain_old && let Some(old) = node.old {
        ctx.add_variable_as_val("oldSelf", convert(old));
    }
    let optional_ctx = any_optional.then(|| {
        let mut c = Context::with_env(env.clone());
        c.add_variable_as_val("self", convert(node.value));
        let optional = match node.old {
            Some(old) => CelOptional::of(convert(old)),
            None => CelOptional::none(),
        };
        c.add_variable_as_val("oldSelf", Box::new(optional));
        c
    });
    for (rule, compiled) in s.rules.iter().zip(&compiled) {
        let expr: &CelExpr = match compiled.as_ref() {
            Ok(expr) => expr,
            Err(e) => {
                errs.push(FieldError::new(
                    ErrorType::Invalid,
                    field_of(node.path),
                    Some(Value::from(type_name)),
                    format!("rule compile error: {e}"),
                ));
                continue;
            }
        };
        if expr.uses_old_self && node.old.is_none() && !rule.optional_old_self {
            continue;
        }
        let rule_ctx = match (&optional_ctx, rule.optional_old_self) {
            (Some(c), true) => c,
            _ => &ctx,
        };
        match expr.program.execute(rule_ctx) {
            Err(e) => {
                errs.push(FieldError::new(
                    ErrorType::Invalid,
                    field_of(node.path),
                    Some(Value::from(type_name)),
                    eval_error_detail(&e, rule),
                ));
                continue;
            }
            Ok(Cel::Bool(true)) => continue,
            Ok(_) => {}
        }
        // Ratcheting: an unchanged value keeps passing rules that do not look at oldSelf.
        if !expr.uses_old_self && unchanged {
            continue;
        }
        let mut path = node.path.to_string();
        if let Some(rel) = rule
            .field_path
            .as_deref()
            .and_then(|fp| normalize_field_path(fp, s))
            .filter(|rel| !rel.is_empty())
        {
            path = path_child(&path, &rel);
        }
        let detail = rule
            .message_expression
            .as_deref()
            .and_then(|src| message_from_expression(src, &ctx))
            .unwrap_or_else(|| rule_message_or_default(rule));
        errs.push(field_error_for_reason(
            &path,
            type_name,
            detail,
            rule.reason.as_deref(),
        ));
    }
}

fn walk(node: Node, errs: &mut Vec<FieldError>) {
    let s = node.schema;
    if node.value.is_null() || !s.rules_below {
        return;
    }
    if !s.rules.is_empty() {
        eval_rules(&node, errs);
    }
    for sub in &s.all_of {
        walk(
            Node {
                schema: sub,
                value: node.value,
                old: node.old,
                path: node.path,
                is_root: node.is_root,
            },
            errs,
        );
    }
    match node.value {
        Value::Array(items) => {
            if let Some(item_schema) = s.items.as_deref() {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{}[{i}]", node.path);
                    walk(
                        Node {
                            schema: item_schema,
                            value: item,
                            old: correlated_item(s, item, node.old),
                            path: &path,
                            is_root: false,
                        },
                        errs,
                    );
                }
            }
        }
        Value::Object(map) => {
            let correlatable = matches!(
                s.map_type.as_deref(),
                None | Some("granular") | Some("atomic")
            );
            let old_of = |k: &str| node.old.filter(|_| correlatable).and_then(|o| o.get(k));
            if let Some(add) = s.additional_schema() {
                for (k, v) in map {
                    let path = format!("{}[{k}]", node.path);
                    walk(
                        Node {
                            schema: add,
                            value: v,
                            old: old_of(k),
                            path: &path,
                            is_root: false,
                        },
                        errs,
                    );
                }
            }
            if let Some(props) = &s.properties {
                for (k, v) in map {
                    if let Some(prop) = props.get(k) {
                        let path = path_child(node.path, k);
                        walk(
                            Node {
                                schema: prop,
                                value: v,
                                old: old_of(k),
                                path: &path,
                                is_root: false,
                            },
                            errs,
                        );
                    }
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn validate_root(
    root: &Schema,
    obj: &Value,
    old: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    walk(
        Node {
            schema: root,
            value: obj,
            old,
            path: "",
            is_root: true,
        },
        errs,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_paths_normalize_against_the_schema() {
        let s = Schema::parse(&json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {"a.b": {"type": "string"}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        }));
        assert_eq!(
            normalize_field_path(".spec['a.b']", &s).as_deref(),
            Some("spec.a.b")
        );
        assert_eq!(
            normalize_field_path(".labels['x']", &s).as_deref(),
            Some("labels[x]")
        );
        assert_eq!(normalize_field_path(".nope", &s), None);
    }
}
