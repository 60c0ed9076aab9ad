//! `metav1.Status` errors with the codes, reasons and wording kube-apiserver uses, so that
//! clients (kube-rs, kubectl, helm) classify them the way they would against a real cluster.

use serde_json::{Value, json};

/// An API error answered as a `metav1.Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `configmaps "x" not found` (qualified is `plural` or `plural.group`).
    pub fn not_found(qualified: &str, group: &str, plural: &str, name: &str) -> Self {
        Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
            .with_details(details(name, group, plural))
    }

    /// A path or resource type this server does not serve.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn already_exists(qualified: &str, group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{qualified} \"{name}\" already exists"),
        )
        .with_details(details(name, group, plural))
    }

    /// Stale resourceVersion on a write.
    pub fn conflict(qualified: &str, group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} \"{name}\": {why}"),
        )
        .with_details(details(name, group, plural))
    }

    pub const STALE: &'static str = "the object has been modified; please apply your changes to the latest version and try again";

    /// 422 with field causes; `causes` are (reason, message, field).
    pub fn invalid(
        kind: &str,
        group: &str,
        name: &str,
        causes: Vec<(String, String, String)>,
    ) -> Self {
        let kind_group = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let rendered: Vec<String> = causes
            .iter()
            .map(|(_, msg, field)| {
                if field.is_empty() {
                    msg.clone()
                } else {
                    format!("{field}: {msg}")
                }
            })
            .collect();
        let joined = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        let causes_json: Vec<Value> = causes
            .iter()
            .map(|(reason, msg, field)| json!({"reason": reason, "message": msg, "field": field}))
            .collect();
        let mut d = json!({"name": name, "kind": kind, "causes": causes_json});
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        Self::new(
            422,
            "Invalid",
            format!("{kind_group} \"{name}\" is invalid: {joined}"),
        )
        .with_details(d)
    }

    /// A patch that cannot be applied (e.g. a failed JSON patch `test`).
    pub fn invalid_patch(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got {content_type})"
            ),
        )
    }

    /// 415 for a PATCH, listing the patch types the resource accepts (no strategic merge for
    /// custom resources), as kube-apiserver does.
    pub fn unsupported_patch_type(strategic: bool) -> Self {
        let types = if strategic {
            "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
        } else {
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        };
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {types}"
            ),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 410: the requested resourceVersion is older than the watch history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

fn details(name: &str, group: &str, plural: &str) -> Value {
    let mut d = json!({"name": name, "kind": plural});
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

/// The `Success` status answered by a delete that removed the object at once.
pub fn success_deleted(name: &str, group: &str, plural: &str, uid: &str) -> Value {
    let mut d = details(name, group, plural);
    d["uid"] = json!(uid);
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_joins_like_the_real_server() {
        let one = ApiError::invalid(
            "SecurityProfile",
            "iot.awscc.io",
            "p",
            vec![(
                "FieldValueNotSupported".into(),
                "Unsupported value: \"bigger\"".into(),
                "spec.x".into(),
            )],
        );
        assert_eq!(
            one.message,
            "SecurityProfile.iot.awscc.io \"p\" is invalid: spec.x: Unsupported value: \"bigger\""
        );
        let two = ApiError::invalid(
            "K",
            "g",
            "p",
            vec![
                ("a".into(), "m1".into(), "f1".into()),
                ("b".into(), "m2".into(), "f2".into()),
            ],
        );
        assert_eq!(two.message, "K.g \"p\" is invalid: [f1: m1, f2: m2]");
        assert_eq!(two.to_status()["details"]["causes"][1]["field"], "f2");
    }
}
