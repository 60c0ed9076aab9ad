//! IAM identity-policy evaluation: the subset of AWS's policy language the operator's generated
//! policy uses (Effect, Action/NotAction, Resource/NotResource, Condition with the string, ARN,
//! Null and Bool operators and the ForAllValues/ForAnyValue qualifiers), so tests can prove that
//! a write outside the policy is refused by IAM itself and not only by the operator.

use serde_json::Value;
use std::collections::BTreeMap;

/// The service principal IoT assumes roles as (the value of `iam:PassedToService`).
pub const IOT_SERVICE: &str = "iot.amazonaws.com";

/// One authorization question: may the caller perform `action` on `resource`?
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    /// Condition keys present in the request context (lower-cased key prefixes, see [`key`]).
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Request {
        Request {
            action: action.into(),
            resource: resource.into(),
            context: BTreeMap::new(),
        }
    }

    /// Adds `aws:ResourceTag/<k>` for every tag of the existing resource.
    pub fn resource_tags(mut self, tags: &BTreeMap<String, String>) -> Request {
        for (k, v) in tags {
            self.context
                .insert(key(&format!("aws:ResourceTag/{k}")), vec![v.clone()]);
        }
        self
    }

    /// Adds `aws:RequestTag/<k>` for each tag in the request and `aws:TagKeys`.
    pub fn request_tags(mut self, tags: &BTreeMap<String, String>) -> Request {
        for (k, v) in tags {
            self.context
                .insert(key(&format!("aws:RequestTag/{k}")), vec![v.clone()]);
        }
        self.tag_keys(tags.keys().cloned().collect())
    }

    /// Sets `aws:TagKeys` (the keys a tagging request names).
    pub fn tag_keys(mut self, keys: Vec<String>) -> Request {
        self.context.insert(key("aws:TagKeys"), keys);
        self
    }

    /// An `iam:PassRole` check for `role`, passed to AWS IoT.
    pub fn pass_role(role: &str) -> Request {
        let mut r = Request::new("iam:PassRole", role);
        r.context
            .insert(key("iam:PassedToService"), vec![IOT_SERVICE.to_string()]);
        r
    }
}

/// Normalises a condition key for lookup: the global part is case-insensitive, the tag key
/// after `aws:ResourceTag/` or `aws:RequestTag/` keeps its case.
pub fn key(k: &str) -> String {
    match k.split_once('/') {
        Some((prefix, tag)) => format!("{}/{tag}", prefix.to_ascii_lowercase()),
        None => k.to_ascii_lowercase(),
    }
}

/// The result of evaluating one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows it (the default deny).
    ImplicitDeny,
    ExplicitDeny,
}

/// A policy document that failed to parse; the message names the element.
#[derive(Debug, thiserror::Error)]
#[error("invalid IAM policy: {0}")]
pub struct PolicyError(String);

fn perr(msg: impl Into<String>) -> PolicyError {
    PolicyError(msg.into())
}

#[derive(Debug, Clone, PartialEq)]
enum Effect {
    Allow,
    Deny,
}

/// A pattern list, or its `Not…` complement.
#[derive(Debug, Clone)]
struct Patterns {
    negated: bool,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Condition {
    operator: Operator,
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// A parsed identity-based policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
    /// The document as given, for the admin API.
    document: Value,
}

/// A string or a list of strings (a JSON bool or number counts as its text).
fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(perr(format!(
            "{what} must be a string or a list of strings"
        ))),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn patterns(st: &Value, name: &str, not_name: &str) -> Result<Patterns, PolicyError> {
    match (st.get(name), st.get(not_name)) {
        (Some(v), None) => Ok(Patterns {
            negated: false,
            values: strings(v, name)?,
        }),
        (None, Some(v)) => Ok(Patterns {
            negated: true,
            values: strings(v, not_name)?,
        }),
        _ => Err(perr(format!(
            "a statement needs exactly one of {name} and {not_name}"
        ))),
    }
}

fn conditions(st: &Value) -> Result<Vec<Condition>, PolicyError> {
    let mut out = Vec::new();
    let Some(block) = st.get("Condition") else {
        return Ok(out);
    };
    let block = block
        .as_object()
        .ok_or_else(|| perr("Condition must be an object"))?;
    for (op, keys) in block {
        let operator = Operator::parse(op)?;
        let keys = keys
            .as_object()
            .ok_or_else(|| perr(format!("Condition {op} must map keys to values")))?;
        for (k, v) in keys {
            out.push(Condition {
                operator: operator.clone(),
                key: key(k),
                values: strings(v, k)?,
            });
        }
    }
    Ok(out)
}

fn statement(st: &Value) -> Result<Statement, PolicyError> {
    let effect = match st.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(perr("Effect must be \"Allow\" or \"Deny\"")),
    };
    Ok(Statement {
        effect,
        actions: patterns(st, "Action", "NotAction")?,
        resources: patterns(st, "Resource", "NotResource")?,
        conditions: conditions(st)?,
    })
}

impl Policy {
    /// Parses a policy document (`{"Version", "Statement": [...] or {...}}`).
    pub fn parse(document: &Value) -> Result<Policy, PolicyError> {
        let sts = match document.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => return Err(perr("Statement must be an object or a list")),
        };
        Ok(Policy {
            statements: sts.into_iter().map(statement).collect::<Result<_, _>>()?,
            document: document.clone(),
        })
    }

    /// The action allowlist of the old admin form: Allow `actions` on every resource.
    pub fn allow_actions(actions: Vec<String>) -> Policy {
        let document = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        });
        Policy {
            statements: vec![Statement {
                effect: Effect::Allow,
                actions: Patterns {
                    negated: false,
                    values: actions,
                },
                resources: Patterns {
                    negated: false,
                    values: vec!["*".to_string()],
                },
                conditions: Vec::new(),
            }],
            document,
        }
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Explicit deny wins, then any allow, else the default deny.
    pub fn evaluate(&self, req: &Request) -> Decision {
        let mut allowed = false;
        for st in &self.statements {
            if !st.applies(req) {
                continue;
            }
            match st.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        }
    }
}

impl Patterns {
    fn matches(&self, value: &str, case_insensitive: bool) -> bool {
        let hit = self.values.iter().any(|p| {
            if case_insensitive {
                glob(&p.to_ascii_lowercase(), &value.to_ascii_lowercase())
            } else {
                glob(p, value)
            }
        });
        hit != self.negated
    }
}

impl Statement {
    fn applies(&self, req: &Request) -> bool {
        self.actions.matches(&req.action, true)
            && self.resources.matches(&req.resource, false)
            && self.conditions.iter().all(|c| c.holds(&req.context))
    }
}

/// Glob with `*` (any run, also empty) and `?` (one character).
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// ARN matching: each of the six colon-separated parts is globbed on its own, so a wildcard
/// never crosses a colon of the prefix (ArnLike and ArnEquals behave alike).
fn arn_like(pattern: &str, value: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let v: Vec<&str> = value.splitn(6, ':').collect();
    p.len() == 6 && v.len() == 6 && p.iter().zip(&v).all(|(p, v)| glob(p, v))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnLike,
    ArnNotLike,
    Null,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Qualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

#[derive(Debug, Clone)]
struct Operator {
    base: Base,
    qualifier: Qualifier,
    if_exists: bool,
}

impl Operator {
    fn parse(text: &str) -> Result<Operator, PolicyError> {
        let (qualifier, rest) = if let Some(r) = text.strip_prefix("ForAllValues:") {
            (Qualifier::ForAllValues, r)
        } else if let Some(r) = text.strip_prefix("ForAnyValue:") {
            (Qualifier::ForAnyValue, r)
        } else {
            (Qualifier::Single, text)
        };
        let (if_exists, name) = match rest.strip_suffix("IfExists") {
            Some(n) => (true, n),
            None => (false, rest),
        };
        let base = match name {
            "StringEquals" => Base::StringEquals,
            "StringNotEquals" => Base::StringNotEquals,
            "StringEqualsIgnoreCase" => Base::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Base::StringNotEqualsIgnoreCase,
            "StringLike" => Base::StringLike,
            "StringNotLike" => Base::StringNotLike,
            "ArnLike" | "ArnEquals" => Base::ArnLike,
            "ArnNotLike" | "ArnNotEquals" => Base::ArnNotLike,
            "Null" => Base::Null,
            "Bool" => Base::Bool,
            _ => return Err(perr(format!("unsupported condition operator {text}"))),
        };
        Ok(Operator {
            base,
            qualifier,
            if_exists,
        })
    }

    fn negated(&self) -> bool {
        matches!(
            self.base,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::ArnNotLike
        )
    }

    /// Whether one policy value matches one context value (before negation).
    fn matches(&self, policy: &str, value: &str) -> bool {
        match self.base {
            Base::StringEquals | Base::StringNotEquals => policy == value,
            Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase | Base::Bool => {
                policy.eq_ignore_ascii_case(value)
            }
            Base::StringLike | Base::StringNotLike => glob(policy, value),
            Base::ArnLike | Base::ArnNotLike => arn_like(policy, value),
            Base::Null => false,
        }
    }

    /// One context value against the policy values: any matches (positive operators) or
    /// none matches (negated operators).
    fn single(&self, policy: &[String], value: &str) -> bool {
        let any = policy.iter().any(|p| self.matches(p, value));
        any != self.negated()
    }
}

impl Condition {
    fn holds(&self, context: &BTreeMap<String, Vec<String>>) -> bool {
        let present = context.get(&self.key);
        let op = &self.operator;
        if op.base == Base::Null {
            let absent = present.is_none_or(Vec::is_empty);
            return self
                .values
                .iter()
                .any(|v| v.eq_ignore_ascii_case(if absent { "true" } else { "false" }));
        }
        match op.qualifier {
            Qualifier::ForAllValues => present
                .into_iter()
                .flatten()
                .all(|v| op.single(&self.values, v)),
            Qualifier::ForAnyValue => present
                .into_iter()
                .flatten()
                .any(|v| op.single(&self.values, v)),
            Qualifier::Single => match present {
                // A missing key fails a positive operator and passes a negated one.
                None => op.if_exists || op.negated(),
                Some(vals) => vals.iter().any(|v| op.single(&self.values, v)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn globs() {
        assert!(glob("iot:*", "iot:CreateSecurityProfile"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*", ""));
        assert!(!glob("arn:*:x", "arn:y"));
        assert!(arn_like(
            "arn:aws:iot:*:123:securityprofile/*",
            "arn:aws:iot:us-east-1:123:securityprofile/p"
        ));
        assert!(!arn_like(
            "arn:aws:iot:*:123:x",
            "arn:aws:iot:us-east-1:999:x"
        ));
    }

    #[test]
    fn tag_conditions_explicit_deny_and_qualifiers() {
        let p = Policy::parse(&json!({"Statement": [
            {"Effect": "Allow", "Action": "iot:Update*", "Resource": "arn:aws:iot:*:*:securityprofile/*",
             "Condition": {"StringEquals": {"aws:ResourceTag/iot.awscc.io/cluster": "a"}}},
            {"Effect": "Allow", "Action": "iot:CreateSecurityProfile", "Resource": "*",
             "Condition": {"StringEquals": {"aws:RequestTag/iot.awscc.io/cluster": "a"},
                           "ForAllValues:StringLike": {"aws:TagKeys": ["iot.awscc.io/*", "team"]}}},
            {"Effect": "Deny", "NotAction": ["iot:Describe*", "iot:Update*", "iot:Create*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "arn:aws:iam::1:role/ok",
             "Condition": {"StringEquals": {"iam:PassedToService": "iot.amazonaws.com"}}}
        ]}))
        .unwrap();
        let arn = "arn:aws:iot:us-east-1:1:securityprofile/p";
        let upd = |t: &[(&str, &str)]| {
            p.evaluate(&Request::new("iot:UpdateSecurityProfile", arn).resource_tags(&tags(t)))
        };
        assert_eq!(upd(&[("iot.awscc.io/cluster", "a")]), Decision::Allow);
        assert_eq!(
            upd(&[("iot.awscc.io/cluster", "b")]),
            Decision::ImplicitDeny
        );
        assert_eq!(upd(&[]), Decision::ImplicitDeny);
        let create = |t: &[(&str, &str)]| {
            p.evaluate(&Request::new("iot:CreateSecurityProfile", arn).request_tags(&tags(t)))
        };
        assert_eq!(create(&[("iot.awscc.io/cluster", "a")]), Decision::Allow);
        assert_eq!(
            create(&[("iot.awscc.io/cluster", "a"), ("other", "x")]),
            Decision::ImplicitDeny
        );
        assert_eq!(create(&[]), Decision::ImplicitDeny);
        assert_eq!(
            p.evaluate(&Request::new("iot:DeleteSecurityProfile", arn)),
            Decision::ExplicitDeny
        );
        assert_eq!(
            p.evaluate(&Request::pass_role("arn:aws:iam::1:role/ok")),
            Decision::ExplicitDeny,
            "iam:PassRole is not in the NotAction list, so the Deny statement applies"
        );
    }

    #[test]
    fn null_bool_and_negated_operators() {
        let p = Policy::parse(&json!({"Statement": {
            "Effect": "Allow", "Action": "*", "Resource": "*",
            "Condition": {"Null": {"aws:RequestTag/owner": "false"},
                          "StringNotEquals": {"aws:ResourceTag/env": "prod"},
                          "ForAnyValue:StringEquals": {"aws:TagKeys": "owner"}}
        }}))
        .unwrap();
        let r = Request::new("iot:TagResource", "x").request_tags(&tags(&[("owner", "me")]));
        assert_eq!(p.evaluate(&r), Decision::Allow);
        let prod = r.clone().resource_tags(&tags(&[("env", "prod")]));
        assert_eq!(p.evaluate(&prod), Decision::ImplicitDeny);
        assert_eq!(
            p.evaluate(&Request::new("iot:TagResource", "x")),
            Decision::ImplicitDeny
        );
        assert!(Policy::parse(&json!({"Statement": [{"Effect": "Maybe"}]})).is_err());
        assert!(
            Policy::parse(&json!({"Statement": [{"Effect": "Allow", "Action": "*",
            "Resource": "*", "Condition": {"NumericEquals": {"k": "1"}}}]}))
            .is_err()
        );
    }
}
