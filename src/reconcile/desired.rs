//! From a `SecurityProfile` resource to the `Desired` profile, and its AWS name.

use super::model::{Attributes, Desired, Owner};
use crate::api::{NAME_PATTERN, PAUSED_ANNOTATION, SecurityProfile};
use kube::ResourceExt;

/// Why a resource cannot be turned into a desired profile (reported as `InvalidSpec`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "metadata.name {0:?} is not a valid AWS security profile name (1-128 characters of [a-zA-Z0-9:_-]); set spec.securityProfileName"
    )]
    InvalidDefaultName(String),
    #[error("spec.securityProfileName {0:?} is not a valid AWS security profile name")]
    InvalidName(String),
    #[error(
        "no AWS region: set spec.region, the namespace annotation iot.awscc.io/default-region, or the operator's --default-region"
    )]
    NoRegion,
}

/// Whether `name` is a valid AWS security profile (or behavior) name.
pub fn is_valid_aws_name(name: &str) -> bool {
    debug_assert_eq!(NAME_PATTERN, "^[a-zA-Z0-9:_-]+$");
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
}

/// The AWS name: `spec.securityProfileName`, else `metadata.name` when it is a valid AWS name.
pub fn aws_name(sp: &SecurityProfile) -> Result<String, SpecError> {
    match &sp.spec.security_profile_name {
        Some(name) if is_valid_aws_name(name) => Ok(name.clone()),
        Some(name) => Err(SpecError::InvalidName(name.clone())),
        None => {
            let name = sp.name_any();
            if is_valid_aws_name(&name) {
                Ok(name)
            } else {
                Err(SpecError::InvalidDefaultName(name))
            }
        }
    }
}

/// Whether the resource carries `iot.awscc.io/paused: "true"`.
pub fn is_paused(obj: &impl ResourceExt) -> bool {
    obj.annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The desired profile of a resource, at the AWS `name` its identity resolved to.
pub fn desired(sp: &SecurityProfile, cluster_id: &str, name: &str) -> Desired {
    let spec = &sp.spec;
    Desired {
        name: name.to_string(),
        attributes: Attributes {
            description: spec.security_profile_description.clone(),
            behaviors: spec.behaviors.clone().unwrap_or_default(),
            alert_targets: spec.alert_targets.clone(),
            additional_metrics: spec
                .additional_metrics_to_retain_v2
                .clone()
                .unwrap_or_default(),
            metrics_export: spec.metrics_export_config.clone(),
        }
        .normalized(),
        targets: spec.target_arns.iter().flatten().cloned().collect(),
        tags: spec
            .tags
            .iter()
            .flatten()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        owner: Owner {
            cluster: cluster_id.to_string(),
            namespace: sp.namespace().unwrap_or_default(),
            name: sp.name_any(),
        },
        deletion_policy: spec.deletion_policy,
        adoption_policy: spec.adoption_policy,
        management_policy: spec.management_policy,
        deleting: sp.metadata.deletion_timestamp.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SecurityProfileSpec;

    fn sp(name: &str, spec: SecurityProfileSpec) -> SecurityProfile {
        let mut sp = SecurityProfile::new(name, spec);
        sp.metadata.namespace = Some("team-a".into());
        sp
    }

    #[test]
    fn name_defaults_to_metadata_name() {
        let r = sp("edge-fleet", SecurityProfileSpec::default());
        assert_eq!(aws_name(&r).unwrap(), "edge-fleet");
    }

    #[test]
    fn dotted_metadata_name_needs_an_explicit_name() {
        let r = sp("edge.fleet", SecurityProfileSpec::default());
        let err = aws_name(&r).unwrap_err();
        assert!(
            err.to_string().contains("set spec.securityProfileName"),
            "{err}"
        );
        let r = sp(
            "edge.fleet",
            SecurityProfileSpec {
                security_profile_name: Some("edge_fleet".into()),
                ..Default::default()
            },
        );
        assert_eq!(aws_name(&r).unwrap(), "edge_fleet");
    }

    #[test]
    fn owner_names_the_resource() {
        let d = desired(
            &sp("p1", SecurityProfileSpec::default()),
            "cluster-uid",
            "p1",
        );
        assert_eq!(d.owner.namespace, "team-a");
        assert_eq!(d.owner.name, "p1");
        assert_eq!(d.all_tags().len(), 3);
    }
}
