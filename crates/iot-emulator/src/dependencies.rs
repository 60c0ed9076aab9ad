//! Dimensions and custom metrics, the resources a security profile refers to: their AWS
//! semantics on the store (create with idempotency token, account limits, the in-use rule on
//! delete) and the check that a profile names only ones that exist.

use crate::model::{CustomMetric, Dimension, Profile, custom_metric_arn, dimension_arn, now_epoch};
use crate::store::{Scope, Store, after, page};
use crate::wire::ApiError;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// AWS IoT's quota of dimensions per account and region.
pub const MAX_DIMENSIONS: usize = 10;
/// AWS IoT's quota of custom metrics per account and region.
pub const MAX_CUSTOM_METRICS: usize = 100;

/// The dimension names a profile body (or stored profile) refers to.
fn dimension_names(body: &Value) -> Vec<String> {
    let lists = ["behaviors", "additionalMetricsToRetainV2"];
    lists
        .iter()
        .filter_map(|k| body.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.get("metricDimension")?.get("dimensionName")?.as_str())
        .map(str::to_string)
        .collect()
}

/// The custom metric names a profile body refers to: every metric outside AWS's own `aws:`
/// namespace names a custom metric by its name.
fn custom_metric_names(body: &Value) -> Vec<String> {
    let lists = ["behaviors", "additionalMetricsToRetainV2"];
    let v2 = lists
        .iter()
        .filter_map(|k| body.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.get("metric")?.as_str());
    let v1 = body
        .get("additionalMetricsToRetain")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    v2.chain(v1)
        .filter(|m| !m.starts_with("aws:"))
        .map(str::to_string)
        .collect()
}

/// The ARNs of the custom metrics and dimensions a profile body names (each once): resources
/// a request on the profile touches, which IAM authorizes too.
pub(crate) fn referenced_arns(scope: &Scope, body: &Value) -> Vec<String> {
    let mut arns: Vec<String> = custom_metric_names(body)
        .iter()
        .map(|m| custom_metric_arn(&scope.region, &scope.account, m))
        .chain(
            dimension_names(body)
                .iter()
                .map(|d| dimension_arn(&scope.region, &scope.account, d)),
        )
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// A stored profile as a body, for the reference scans.
fn profile_body(p: &Profile) -> Value {
    json!({
        "behaviors": p.behaviors,
        "additionalMetricsToRetainV2": p.additional_metrics_v2,
        "additionalMetricsToRetain": p.additional_metrics,
    })
}

impl Store {
    /// The custom metrics and dimensions a stored profile names (none when it doesn't exist).
    pub(crate) fn referenced_by(&mut self, scope: &Scope, name: &str) -> Vec<String> {
        match self.partition(scope).profiles.get(name) {
            Some(p) => referenced_arns(scope, &profile_body(p)),
            None => Vec::new(),
        }
    }

    /// Refuses a profile body that names a dimension or custom metric the caller's partition
    /// doesn't hold.
    pub fn check_references(&mut self, scope: &Scope, body: &Value) -> Result<(), ApiError> {
        let part = self.partition(scope);
        if let Some(d) = dimension_names(body)
            .into_iter()
            .find(|d| !part.dimensions.contains_key(d))
        {
            return Err(ApiError::invalid(format!(
                "The dimension {d} does not exist"
            )));
        }
        if let Some(m) = custom_metric_names(body)
            .into_iter()
            .find(|m| !part.custom_metrics.contains_key(m))
        {
            return Err(ApiError::invalid(format!(
                "The custom metric {m} does not exist"
            )));
        }
        Ok(())
    }

    /// The `metricType` of each custom metric of the caller's partition, by name.
    pub fn custom_metric_types(&mut self, scope: &Scope) -> BTreeMap<String, String> {
        self.partition(scope)
            .custom_metrics
            .values()
            .map(|m| (m.name.clone(), m.metric_type.clone()))
            .collect()
    }

    /// Refuses a profile body whose behaviors ask a custom metric for what its type cannot
    /// give (see `metric_types`).
    pub fn check_metric_types(&mut self, scope: &Scope, body: &Value) -> Result<(), ApiError> {
        let Some(behaviors) = body.get("behaviors").and_then(Value::as_array) else {
            return Ok(());
        };
        let errors =
            crate::metric_types::custom_metric_rules(behaviors, &self.custom_metric_types(scope));
        if errors.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(errors.join("; ")))
    }

    /// The profiles of the partition that name `name` (as dimension or as custom metric).
    fn users(&mut self, scope: &Scope, name: &str, dimension: bool) -> Vec<String> {
        let part = self.partition(scope);
        part.profiles
            .values()
            .filter(|p| {
                let body = profile_body(p);
                let names = if dimension {
                    dimension_names(&body)
                } else {
                    custom_metric_names(&body)
                };
                names.iter().any(|n| n == name)
            })
            .map(|p| p.name.clone())
            .collect()
    }

    pub fn create_dimension(
        &mut self,
        scope: &Scope,
        name: &str,
        body: &Value,
        tags: BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let arn = dimension_arn(&scope.region, &scope.account, name);
        let token = body["clientRequestToken"].as_str().unwrap_or_default();
        let part = self.partition(scope);
        if let Some(d) = part.dimensions.get(name) {
            if d.client_request_token == token {
                return Ok(json!({ "name": name, "arn": arn }));
            }
            return Err(ApiError::already_exists(
                format!("Dimension {name} already exists"),
                name,
                &arn,
            ));
        }
        if part.dimensions.len() >= MAX_DIMENSIONS {
            return Err(ApiError::limit_exceeded(format!(
                "An account can have at most {MAX_DIMENSIONS} dimensions in a region"
            )));
        }
        let now = now_epoch();
        part.dimensions.insert(
            name.to_string(),
            Dimension {
                account_id: scope.account.clone(),
                region: scope.region.clone(),
                name: name.to_string(),
                arn: arn.clone(),
                kind: body["type"].as_str().unwrap_or("TOPIC_FILTER").to_string(),
                string_values: body["stringValues"].as_array().cloned().unwrap_or_default(),
                creation_date: now,
                last_modified_date: now,
                tags,
                client_request_token: token.to_string(),
            },
        );
        Ok(json!({ "name": name, "arn": arn }))
    }

    pub(crate) fn dimension(
        &mut self,
        scope: &Scope,
        name: &str,
    ) -> Result<&mut Dimension, ApiError> {
        self.partition(scope)
            .dimensions
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("The dimension {name} does not exist")))
    }

    pub fn describe_dimension(&mut self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        Ok(self.dimension(scope, name)?.describe())
    }

    pub fn update_dimension(
        &mut self,
        scope: &Scope,
        name: &str,
        values: Vec<Value>,
    ) -> Result<Value, ApiError> {
        let d = self.dimension(scope, name)?;
        d.string_values = values;
        d.last_modified_date = now_epoch().max(d.last_modified_date);
        Ok(d.describe())
    }

    /// DeleteDimension: a missing dimension deletes fine (the model lists no
    /// ResourceNotFound); one a profile still names is refused.
    pub fn delete_dimension(&mut self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        refuse_in_use("dimension", name, self.users(scope, name, true))?;
        self.partition(scope).dimensions.remove(name);
        Ok(json!({}))
    }

    pub fn list_dimensions(
        &mut self,
        scope: &Scope,
        max: usize,
        after_key: Option<String>,
    ) -> Value {
        list_names(
            &self.partition(scope).dimensions,
            "dimensionNames",
            max,
            &after_key,
        )
    }

    pub fn create_custom_metric(
        &mut self,
        scope: &Scope,
        name: &str,
        body: &Value,
        tags: BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let arn = custom_metric_arn(&scope.region, &scope.account, name);
        let token = body["clientRequestToken"].as_str().unwrap_or_default();
        let part = self.partition(scope);
        if let Some(m) = part.custom_metrics.get(name) {
            if m.client_request_token == token {
                return Ok(json!({ "metricName": name, "metricArn": arn }));
            }
            return Err(ApiError::already_exists(
                format!("Custom metric {name} already exists"),
                name,
                &arn,
            ));
        }
        if part.custom_metrics.len() >= MAX_CUSTOM_METRICS {
            return Err(ApiError::limit_exceeded(format!(
                "An account can have at most {MAX_CUSTOM_METRICS} custom metrics in a region"
            )));
        }
        let now = now_epoch();
        part.custom_metrics.insert(
            name.to_string(),
            CustomMetric {
                account_id: scope.account.clone(),
                region: scope.region.clone(),
                name: name.to_string(),
                arn: arn.clone(),
                metric_type: body["metricType"].as_str().unwrap_or_default().to_string(),
                display_name: body["displayName"].as_str().map(str::to_string),
                creation_date: now,
                last_modified_date: now,
                tags,
                client_request_token: token.to_string(),
            },
        );
        Ok(json!({ "metricName": name, "metricArn": arn }))
    }

    pub(crate) fn custom_metric(
        &mut self,
        scope: &Scope,
        name: &str,
    ) -> Result<&mut CustomMetric, ApiError> {
        self.partition(scope)
            .custom_metrics
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("The custom metric {name} does not exist")))
    }

    pub fn describe_custom_metric(&mut self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        Ok(self.custom_metric(scope, name)?.describe())
    }

    pub fn update_custom_metric(
        &mut self,
        scope: &Scope,
        name: &str,
        display_name: &str,
    ) -> Result<Value, ApiError> {
        let m = self.custom_metric(scope, name)?;
        m.display_name = Some(display_name.to_string());
        m.last_modified_date = now_epoch().max(m.last_modified_date);
        Ok(m.describe())
    }

    /// DeleteCustomMetric: like DeleteDimension, missing is fine and in use is refused.
    pub fn delete_custom_metric(&mut self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        refuse_in_use("custom metric", name, self.users(scope, name, false))?;
        self.partition(scope).custom_metrics.remove(name);
        Ok(json!({}))
    }

    pub fn list_custom_metrics(
        &mut self,
        scope: &Scope,
        max: usize,
        after_key: Option<String>,
    ) -> Value {
        list_names(
            &self.partition(scope).custom_metrics,
            "metricNames",
            max,
            &after_key,
        )
    }
}

/// Deleting a dimension or custom metric that security profiles still name is refused.
fn refuse_in_use(noun: &str, name: &str, users: Vec<String>) -> Result<(), ApiError> {
    if users.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(format!(
        "Cannot delete {noun} {name}: it is used by security profiles {}",
        users.join(", ")
    )))
}

/// One page of the names of a name-keyed map, as `{field: [...], nextToken}`.
fn list_names<V>(
    map: &BTreeMap<String, V>,
    field: &str,
    max: usize,
    after_key: &Option<String>,
) -> Value {
    let items = map
        .range(after(after_key))
        .map(|(k, _)| (k, Value::String(k.clone())));
    let (names, token) = page(items, max);
    let mut out = json!({ field: names });
    if let Some(t) = token {
        out["nextToken"] = t.into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_found_in_behaviors_and_metrics_to_retain() {
        let body = json!({
            "behaviors": [{"name": "b", "metric": "battery", "metricDimension": {"dimensionName": "d1"}},
                          {"name": "c", "metric": "aws:num-messages-sent"}],
            "additionalMetricsToRetainV2": [{"metric": "aws:x", "metricDimension": {"dimensionName": "d2"}}],
            "additionalMetricsToRetain": ["wifi", "aws:y"],
        });
        assert_eq!(dimension_names(&body), ["d1", "d2"]);
        assert_eq!(custom_metric_names(&body), ["battery", "wifi"]);
    }
}
