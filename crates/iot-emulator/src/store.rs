//! The emulator's state: profiles and thing groups partitioned by account and region, and the
//! AWS semantics applied to them. Callers hold one mutex around the whole store, so every
//! operation is atomic (two updates at the same expectedVersion never both win).

use crate::model::{
    CustomMetric, Dimension, IotArn, Profile, State, ThingGroup, now_epoch, parse_iot_arn,
    profile_arn, thing_group_arn,
};
use crate::wire::{ApiError, encode_token};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

/// Where a request's resources live: the caller's account and the credential scope's region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

/// AWS IoT's documented limit of user tags per resource (AWS Tagging quotas).
pub const MAX_TAGS: usize = 50;

/// Which profiles ListSecurityProfiles returns.
pub enum ListFilter {
    All,
    Dimension(String),
    Metric(String),
}

/// The four `delete…` flags of UpdateSecurityProfile.
#[derive(Default, Clone, Copy)]
pub struct DeleteFlags {
    pub behaviors: bool,
    pub alert_targets: bool,
    pub additional_metrics: bool,
    pub metrics_export_config: bool,
}

/// The resources of one account and region.
#[derive(Default)]
pub(crate) struct Partition {
    pub profiles: BTreeMap<String, Profile>,
    pub thing_groups: BTreeMap<String, ThingGroup>,
    pub dimensions: BTreeMap<String, Dimension>,
    pub custom_metrics: BTreeMap<String, CustomMetric>,
    /// Active violations by violation id.
    pub violations: BTreeMap<String, crate::violations::Violation>,
    /// The last violation id handed out.
    pub violation_ids: u64,
}

/// All resources of the emulator.
#[derive(Default)]
pub struct Store {
    partitions: HashMap<Scope, Partition>,
}

fn not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("The security profile {name} does not exist"))
}

/// Returns one page of `items` (sorted by key) after `after`, and the token for the next page.
pub(crate) fn page<'a, T: 'a>(
    items: impl Iterator<Item = (&'a String, T)>,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in items {
        if out.len() == max {
            more = true;
            break;
        }
        last = Some(k);
        out.push(v);
    }
    let token = if more {
        last.map(|k| encode_token(k))
    } else {
        None
    };
    (out, token)
}

pub(crate) fn after(key: &Option<String>) -> (Bound<String>, Bound<String>) {
    match key {
        Some(k) => (Bound::Excluded(k.clone()), Bound::Unbounded),
        None => (Bound::Unbounded, Bound::Unbounded),
    }
}

fn uses_dimension(p: &Profile, dim: &str) -> bool {
    let matches = |v: &Value| {
        v.get("metricDimension")
            .and_then(|d| d.get("dimensionName"))
            .and_then(Value::as_str)
            == Some(dim)
    };
    p.behaviors.iter().flatten().any(matches)
        || p.additional_metrics_v2.iter().flatten().any(matches)
}

fn uses_metric(p: &Profile, metric: &str) -> bool {
    let matches = |v: &Value| v.get("metric").and_then(Value::as_str) == Some(metric);
    p.behaviors.iter().flatten().any(matches)
        || p.additional_metrics_v2.iter().flatten().any(matches)
        || p.additional_metrics
            .iter()
            .flatten()
            .any(|v| v.as_str() == Some(metric))
}

impl Store {
    pub(crate) fn partition(&mut self, scope: &Scope) -> &mut Partition {
        self.partitions.entry(scope.clone()).or_default()
    }

    /// Every partition, by account then region.
    pub(crate) fn partitions(&self) -> impl Iterator<Item = &Partition> {
        let mut scopes: Vec<&Scope> = self.partitions.keys().collect();
        scopes.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        scopes.into_iter().map(|s| &self.partitions[s])
    }

    fn profile(&mut self, scope: &Scope, name: &str) -> Result<&mut Profile, ApiError> {
        self.partition(scope)
            .profiles
            .get_mut(name)
            .ok_or_else(|| not_found(name))
    }

    /// CreateSecurityProfile on validated input.
    pub fn create(
        &mut self,
        scope: &Scope,
        name: &str,
        body: &Value,
        tags: BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let arn = profile_arn(&scope.region, &scope.account, name);
        let part = self.partition(scope);
        if part.profiles.contains_key(name) {
            return Err(ApiError::already_exists(
                format!("Security profile {name} already exists"),
                name,
                &arn,
            ));
        }
        if tags.len() > MAX_TAGS {
            return Err(ApiError::limit_exceeded(format!(
                "A resource can have at most {MAX_TAGS} tags"
            )));
        }
        let now = now_epoch();
        let mut profile = Profile {
            account_id: scope.account.clone(),
            region: scope.region.clone(),
            name: name.to_string(),
            arn: arn.clone(),
            version: 1,
            description: None,
            behaviors: None,
            alert_targets: None,
            additional_metrics: None,
            additional_metrics_v2: None,
            metrics_export_config: None,
            creation_date: now,
            last_modified_date: now,
            targets: Vec::new(),
            tags,
        };
        profile.apply_attributes(body);
        part.profiles.insert(name.to_string(), profile);
        Ok(json!({ "securityProfileName": name, "securityProfileArn": arn }))
    }

    pub fn describe(&mut self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        Ok(self.profile(scope, name)?.describe())
    }

    /// UpdateSecurityProfile on validated input: named attributes replace, flags clear, the
    /// rest is kept; version goes up by one.
    pub fn update(
        &mut self,
        scope: &Scope,
        name: &str,
        body: &Value,
        flags: DeleteFlags,
        expected_version: Option<i64>,
    ) -> Result<Value, ApiError> {
        let p = self.profile(scope, name)?;
        if let Some(v) = expected_version
            && v != p.version
        {
            return Err(ApiError::version_conflict(format!(
                "The version of security profile {name} is {}, not the expected version {v}",
                p.version
            )));
        }
        p.apply_attributes(body);
        if flags.behaviors {
            p.behaviors = None;
        }
        if flags.alert_targets {
            p.alert_targets = None;
        }
        if flags.additional_metrics {
            p.additional_metrics = None;
            p.additional_metrics_v2 = None;
        }
        if flags.metrics_export_config {
            p.metrics_export_config = None;
        }
        p.version += 1;
        p.last_modified_date = now_epoch().max(p.last_modified_date);
        let answer = p.describe();
        self.prune_violations(scope, name);
        Ok(answer)
    }

    /// DeleteSecurityProfile: deleting a profile that does not exist succeeds (the model lists
    /// no ResourceNotFound for this operation).
    pub fn delete(
        &mut self,
        scope: &Scope,
        name: &str,
        expected_version: Option<i64>,
    ) -> Result<Value, ApiError> {
        let part = self.partition(scope);
        if let Some(p) = part.profiles.get(name) {
            if let Some(v) = expected_version
                && v != p.version
            {
                return Err(ApiError::version_conflict(format!(
                    "The version of security profile {name} is {}, not the expected version {v}",
                    p.version
                )));
            }
            part.profiles.remove(name);
            self.prune_violations(scope, name);
        }
        Ok(json!({}))
    }

    pub fn list(
        &mut self,
        scope: &Scope,
        filter: &ListFilter,
        max: usize,
        after_key: Option<String>,
    ) -> Value {
        let part = self.partition(scope);
        let items = part
            .profiles
            .range(after(&after_key))
            .filter(|(_, p)| match filter {
                ListFilter::All => true,
                ListFilter::Dimension(d) => uses_dimension(p, d),
                ListFilter::Metric(m) => uses_metric(p, m),
            })
            .map(|(k, p)| (k, json!({ "name": p.name, "arn": p.arn })));
        let (ids, token) = page(items, max);
        let mut out = json!({ "securityProfileIdentifiers": ids });
        if let Some(t) = token {
            out["nextToken"] = t.into();
        }
        out
    }

    /// Checks that a target ARN names something that exists in the caller's partition.
    fn check_target(&mut self, scope: &Scope, target: &str) -> Result<(), ApiError> {
        let Some(IotArn {
            region,
            account,
            resource,
        }) = parse_iot_arn(target)
        else {
            return Err(ApiError::invalid(format!(
                "securityProfileTargetArn '{target}' is not a valid AWS IoT ARN"
            )));
        };
        let here = region == scope.region && account == scope.account;
        let missing = || ApiError::not_found(format!("The target {target} does not exist"));
        match resource {
            "all/registered-things" | "all/unregistered-things" => {
                if here {
                    Ok(())
                } else {
                    Err(missing())
                }
            }
            r if r.starts_with("thinggroup/") => {
                let name = &r["thinggroup/".len()..];
                if here && self.partition(scope).thing_groups.contains_key(name) {
                    Ok(())
                } else {
                    Err(missing())
                }
            }
            _ => Err(ApiError::invalid(format!(
                "securityProfileTargetArn '{target}' must name a thing group or all/registered-things or all/unregistered-things"
            ))),
        }
    }

    /// AttachSecurityProfile: attaching an attached target again is a no-op.
    pub fn attach(&mut self, scope: &Scope, name: &str, target: &str) -> Result<Value, ApiError> {
        self.profile(scope, name)?;
        self.check_target(scope, target)?;
        let p = self.profile(scope, name)?;
        if let Err(i) = p.targets.binary_search_by(|t| t.as_str().cmp(target)) {
            p.targets.insert(i, target.to_string());
        }
        Ok(json!({}))
    }

    /// DetachSecurityProfile: detaching a target that is not attached is a no-op.
    pub fn detach(&mut self, scope: &Scope, name: &str, target: &str) -> Result<Value, ApiError> {
        if parse_iot_arn(target).is_none() {
            return Err(ApiError::invalid(format!(
                "securityProfileTargetArn '{target}' is not a valid AWS IoT ARN"
            )));
        }
        let p = self.profile(scope, name)?;
        p.targets.retain(|t| t != target);
        Ok(json!({}))
    }

    pub fn list_targets(
        &mut self,
        scope: &Scope,
        name: &str,
        max: usize,
        after_key: Option<String>,
    ) -> Result<Value, ApiError> {
        let p = self.profile(scope, name)?;
        let items = p
            .targets
            .iter()
            .filter(|t| after_key.as_ref().is_none_or(|a| t.as_str() > a.as_str()))
            .map(|t| (t, json!({ "arn": t })));
        let (targets, token) = page(items, max);
        let mut out = json!({ "securityProfileTargets": targets });
        if let Some(t) = token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    /// ListSecurityProfilesForTarget. Thing groups have no hierarchy here, so `recursive`
    /// returns the same mappings.
    pub fn list_for_target(
        &mut self,
        scope: &Scope,
        target: &str,
        max: usize,
        after_key: Option<String>,
    ) -> Result<Value, ApiError> {
        self.check_target(scope, target)?;
        let part = self.partition(scope);
        let items = part
            .profiles
            .range(after(&after_key))
            .filter(|(_, p)| p.targets.iter().any(|t| t == target))
            .map(|(k, p)| {
                (
                    k,
                    json!({
                        "securityProfileIdentifier": { "name": p.name, "arn": p.arn },
                        "target": { "arn": target },
                    }),
                )
            });
        let (mappings, token) = page(items, max);
        let mut out = json!({ "securityProfileTargetMappings": mappings });
        if let Some(t) = token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    /// The tags of the resource `arn` names in the caller's partition, if it exists.
    pub fn tags_of(&self, scope: &Scope, arn: &str) -> Option<BTreeMap<String, String>> {
        let parsed = parse_iot_arn(arn)?;
        if parsed.region != scope.region || parsed.account != scope.account {
            return None;
        }
        let part = self.partitions.get(scope)?;
        let (kind, name) = parsed.resource.split_once('/')?;
        match kind {
            "securityprofile" => part.profiles.get(name).map(|p| p.tags.clone()),
            "dimension" => part.dimensions.get(name).map(|d| d.tags.clone()),
            "custommetric" => part.custom_metrics.get(name).map(|m| m.tags.clone()),
            "thinggroup" => part.thing_groups.get(name).map(|g| g.tags.clone()),
            _ => None,
        }
    }

    /// Resolves a resourceArn of the tagging operations to the tags of a profile, dimension
    /// or custom metric of the caller's partition.
    fn tagged(
        &mut self,
        scope: &Scope,
        arn: &str,
    ) -> Result<&mut BTreeMap<String, String>, ApiError> {
        let Some(parsed) = parse_iot_arn(arn) else {
            return Err(ApiError::invalid(format!(
                "resourceArn '{arn}' is not a valid AWS IoT ARN"
            )));
        };
        let Some((kind, name)) = parsed.resource.split_once('/') else {
            return Err(ApiError::invalid(format!(
                "resourceArn '{arn}' names no resource"
            )));
        };
        let missing = || ApiError::not_found(format!("The resource {arn} does not exist"));
        if parsed.region != scope.region || parsed.account != scope.account {
            return Err(missing());
        }
        let (kind, name) = (kind.to_string(), name.to_string());
        let part = self.partition(scope);
        let tags = match kind.as_str() {
            "securityprofile" => part.profiles.get_mut(&name).map(|p| &mut p.tags),
            "dimension" => part.dimensions.get_mut(&name).map(|d| &mut d.tags),
            "custommetric" => part.custom_metrics.get_mut(&name).map(|m| &mut m.tags),
            _ => {
                return Err(ApiError::invalid(format!(
                    "resourceArn '{arn}': the emulator tags security profiles, dimensions and custom metrics"
                )));
            }
        };
        tags.ok_or_else(missing)
    }

    pub fn tag(
        &mut self,
        scope: &Scope,
        arn: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let current = self.tagged(scope, arn)?;
        let mut merged = current.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(ApiError::limit_exceeded(format!(
                "A resource can have at most {MAX_TAGS} tags"
            )));
        }
        *current = merged;
        Ok(json!({}))
    }

    pub fn untag(&mut self, scope: &Scope, arn: &str, keys: &[String]) -> Result<Value, ApiError> {
        let tags = self.tagged(scope, arn)?;
        for k in keys {
            tags.remove(k);
        }
        Ok(json!({}))
    }

    pub fn list_tags(
        &mut self,
        scope: &Scope,
        arn: &str,
        after_key: Option<String>,
    ) -> Result<Value, ApiError> {
        let tags = self.tagged(scope, arn)?;
        let items = tags
            .range(after(&after_key))
            .map(|(k, v)| (k, json!({ "Key": k, "Value": v })));
        let (tags, token) = page(items, MAX_TAGS);
        let mut out = json!({ "tags": tags });
        if let Some(t) = token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    /// Admin: creates a thing group (idempotent) and returns it.
    pub fn create_thing_group(&mut self, scope: &Scope, name: &str) -> ThingGroup {
        let group = ThingGroup {
            name: name.to_string(),
            arn: thing_group_arn(&scope.region, &scope.account, name),
            account_id: scope.account.clone(),
            region: scope.region.clone(),
            tags: BTreeMap::new(),
        };
        self.partition(scope)
            .thing_groups
            .entry(name.to_string())
            .or_insert(group)
            .clone()
    }

    /// Admin: creates a profile or merges attributes into it as an out-of-band update would.
    pub fn put_profile(
        &mut self,
        scope: &Scope,
        name: &str,
        body: &Value,
        tags: BTreeMap<String, String>,
    ) -> Result<Profile, ApiError> {
        let exists = self.partition(scope).profiles.contains_key(name);
        if !exists {
            self.create(scope, name, body, tags)?;
        } else {
            let p = self.profile(scope, name)?;
            p.apply_attributes(body);
            p.tags.extend(tags);
            p.version += 1;
            p.last_modified_date = now_epoch().max(p.last_modified_date);
            self.prune_violations(scope, name);
        }
        Ok(self.profile(scope, name)?.clone())
    }

    /// Admin: a snapshot of everything, partitions in a stable order.
    pub fn state(&self) -> State {
        let mut state = State::default();
        for part in self.partitions() {
            state.profiles.extend(part.profiles.values().cloned());
            state
                .thing_groups
                .extend(part.thing_groups.values().cloned());
            state.dimensions.extend(part.dimensions.values().cloned());
            state
                .custom_metrics
                .extend(part.custom_metrics.values().cloned());
        }
        state
    }
}
