//! Active violations: what Device Defender Detect reports while a thing breaks a behavior of a
//! profile. AWS raises and clears them from device metrics; here the admin API does
//! (`POST /_emulator/violations`), and `ListActiveViolations` reads them.
//!
//! A violation belongs to one (profile, thing, behavior). It goes when its profile is deleted
//! or when an update drops its behavior, as AWS stops evaluating a behavior it no longer has.

use crate::model::{Profile, now_epoch};
use crate::store::{Scope, Store, after, page};
use crate::wire::ApiError;
use serde::Serialize;
use serde_json::{Value, json};

/// AWS's `VerificationState` values.
pub const VERIFICATION_STATES: &[&str] = &[
    "FALSE_POSITIVE",
    "BENIGN_POSITIVE",
    "TRUE_POSITIVE",
    "UNKNOWN",
];

/// AWS's `BehaviorCriteriaType` values.
pub const CRITERIA_TYPES: &[&str] = &["STATIC", "STATISTICAL", "MACHINE_LEARNING"];

/// One stored active violation, serialized as AWS's `ActiveViolation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    #[serde(rename = "violationId")]
    pub id: String,
    #[serde(rename = "thingName")]
    pub thing: String,
    #[serde(rename = "securityProfileName")]
    pub profile: String,
    /// The profile's behavior as stored when the violation was last raised.
    pub behavior: Value,
    #[serde(rename = "lastViolationValue")]
    pub value: Value,
    #[serde(
        rename = "violationEventAdditionalInfo",
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_info: Option<Value>,
    #[serde(rename = "verificationState", skip_serializing_if = "Option::is_none")]
    pub verification_state: Option<String>,
    #[serde(rename = "lastViolationTime")]
    pub last_time: f64,
    #[serde(rename = "violationStartTime")]
    pub start_time: f64,
}

impl Violation {
    fn behavior_name(&self) -> &str {
        self.behavior["name"].as_str().unwrap_or_default()
    }

    /// The criteria type of its behavior, as `behaviorCriteriaType` filters it.
    fn criteria_type(&self) -> &'static str {
        let criteria = &self.behavior["criteria"];
        if criteria.get("mlDetectionConfig").is_some() {
            "MACHINE_LEARNING"
        } else if criteria.get("statisticalThreshold").is_some() {
            "STATISTICAL"
        } else {
            "STATIC"
        }
    }

    fn suppressed(&self) -> bool {
        self.behavior["suppressAlerts"].as_bool() == Some(true)
    }
}

/// What to raise or clear (the admin API's body, validated).
pub struct Raise {
    pub profile: String,
    pub thing: String,
    pub behavior: String,
    pub value: Option<Value>,
    pub time: Option<f64>,
    pub verification_state: Option<String>,
}

/// The filters of one ListActiveViolations call.
#[derive(Default)]
pub struct ViolationFilter {
    pub profile: Option<String>,
    pub thing: Option<String>,
    pub criteria_type: Option<String>,
    pub verification_state: Option<String>,
    pub list_suppressed: bool,
}

impl ViolationFilter {
    fn admits(&self, v: &Violation) -> bool {
        self.profile.as_ref().is_none_or(|p| *p == v.profile)
            && self.thing.as_ref().is_none_or(|t| *t == v.thing)
            && self
                .criteria_type
                .as_ref()
                .is_none_or(|c| c == v.criteria_type())
            && self
                .verification_state
                .as_ref()
                .is_none_or(|s| v.verification_state.as_deref() == Some(s.as_str()))
            && (self.list_suppressed || !v.suppressed())
    }
}

fn behavior_of(p: &Profile, name: &str) -> Option<Value> {
    p.behaviors
        .iter()
        .flatten()
        .find(|b| b["name"].as_str() == Some(name))
        .cloned()
}

impl Store {
    /// Admin: raises a violation, or refreshes its value and time when the thing already
    /// violates that behavior (its id and start time are kept, as a continuing violation's are).
    pub fn raise_violation(&mut self, scope: &Scope, r: Raise) -> Result<Violation, ApiError> {
        let part = self.partition(scope);
        let profile = part.profiles.get(&r.profile).ok_or_else(|| {
            ApiError::not_found(format!("The security profile {} does not exist", r.profile))
        })?;
        let behavior = behavior_of(profile, &r.behavior).ok_or_else(|| {
            ApiError::invalid(format!(
                "The security profile {} has no behavior named {}",
                r.profile, r.behavior
            ))
        })?;
        let time = r.time.unwrap_or_else(now_epoch);
        let existing = part
            .violations
            .values()
            .find(|v| {
                v.profile == r.profile && v.thing == r.thing && v.behavior_name() == r.behavior
            })
            .map(|v| (v.id.clone(), v.start_time));
        let (id, start_time) = existing.unwrap_or_else(|| {
            part.violation_ids += 1;
            (format!("{:032x}", part.violation_ids), time)
        });
        let additional_info = behavior["criteria"]
            .get("mlDetectionConfig")
            .map(|ml| json!({ "confidenceLevel": ml["confidenceLevel"] }));
        let v = Violation {
            id: id.clone(),
            thing: r.thing,
            profile: r.profile,
            behavior,
            value: r.value.unwrap_or_else(|| json!({ "count": 1 })),
            additional_info,
            verification_state: r.verification_state,
            last_time: time,
            start_time,
        };
        part.violations.insert(id, v.clone());
        Ok(v)
    }

    /// Admin: clears the violation of a thing on one behavior (or on every behavior when
    /// `behavior` is None); answers how many went.
    pub fn clear_violations(
        &mut self,
        scope: &Scope,
        profile: &str,
        thing: &str,
        behavior: Option<&str>,
    ) -> usize {
        let part = self.partition(scope);
        let before = part.violations.len();
        part.violations.retain(|_, v| {
            !(v.profile == profile
                && v.thing == thing
                && behavior.is_none_or(|b| v.behavior_name() == b))
        });
        before - part.violations.len()
    }

    /// Drops the violations of behaviors `profile` no longer has (all of them once it is gone).
    pub(crate) fn prune_violations(&mut self, scope: &Scope, profile: &str) {
        let part = self.partition(scope);
        let names: Vec<String> = part
            .profiles
            .get(profile)
            .map(|p| {
                p.behaviors
                    .iter()
                    .flatten()
                    .filter_map(|b| b["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        part.violations
            .retain(|_, v| v.profile != profile || names.iter().any(|n| n == v.behavior_name()));
    }

    /// ListActiveViolations on validated input: one page in violation-id order.
    pub fn list_violations(
        &mut self,
        scope: &Scope,
        filter: &ViolationFilter,
        max: usize,
        after_key: Option<String>,
    ) -> Result<Value, ApiError> {
        let part = self.partition(scope);
        if let Some(p) = &filter.profile
            && !part.profiles.contains_key(p)
        {
            return Err(ApiError::not_found(format!(
                "The security profile {p} does not exist"
            )));
        }
        let matching = part
            .violations
            .range(after(&after_key))
            .filter(|(_, v)| filter.admits(v));
        let (items, token) = page(matching, max);
        let mut out = json!({ "activeViolations": items });
        if let Some(t) = token {
            out["nextToken"] = json!(t);
        }
        Ok(out)
    }

    /// Admin: every active violation of every partition.
    pub fn all_violations(&self) -> Vec<Violation> {
        self.partitions()
            .flat_map(|p| p.violations.values().cloned())
            .collect()
    }
}
