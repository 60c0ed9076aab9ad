//! From a `SecurityProfile` resource to the `Desired` profile: AWS name and region resolution.

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
        "this resource manages {in_use} in {in_use_region}; the spec now names {wanted} in {wanted_region}. The AWS name and region cannot change: create a new resource instead"
    )]
    IdentityChanged {
        in_use: String,
        in_use_region: String,
        wanted: String,
        wanted_region: String,
    },
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

/// The region: the spec, then the namespace annotation, then the operator's default. `None`
/// leaves it to the AWS SDK default chain.
pub fn resolve_region(
    spec_region: Option<&str>,
    namespace_default: Option<&str>,
    operator_default: Option<&str>,
) -> Option<String> {
    [spec_region, namespace_default, operator_default]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|r| !r.is_empty())
        .map(str::to_string)
}

/// Refuses a name or region other than the ones of the profile already in use (status carries
/// an ARN once a profile was found or created): adding `spec.securityProfileName` or
/// `spec.region` later is allowed only when it names the same profile.
pub fn check_identity(sp: &SecurityProfile, name: &str, region: &str) -> Result<(), SpecError> {
    let Some(status) = sp
        .status
        .as_ref()
        .filter(|s| s.security_profile_arn.is_some())
    else {
        return Ok(());
    };
    let in_use = status.security_profile_name.as_deref().unwrap_or(name);
    let in_use_region = status.region.as_deref().unwrap_or(region);
    if in_use == name && in_use_region == region {
        return Ok(());
    }
    Err(SpecError::IdentityChanged {
        in_use: in_use.to_string(),
        in_use_region: in_use_region.to_string(),
        wanted: name.to_string(),
        wanted_region: region.to_string(),
    })
}

/// Whether the resource carries `iot.awscc.io/paused: "true"`.
pub fn is_paused(sp: &SecurityProfile) -> bool {
    sp.annotations()
        .get(PAUSED_ANNOTATION)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The desired profile of a resource.
pub fn desired(sp: &SecurityProfile, cluster_id: &str) -> Result<Desired, SpecError> {
    let spec = &sp.spec;
    Ok(Desired {
        name: aws_name(sp)?,
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
    })
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
    fn region_resolution_order() {
        assert_eq!(
            resolve_region(Some("eu-west-1"), Some("us-east-2"), Some("ap-south-1")).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            resolve_region(None, Some("us-east-2"), Some("ap-south-1")).as_deref(),
            Some("us-east-2")
        );
        assert_eq!(
            resolve_region(None, Some(" "), Some("ap-south-1")).as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(resolve_region(None, None, None), None);
    }

    #[test]
    fn owner_names_the_resource() {
        let d = desired(&sp("p1", SecurityProfileSpec::default()), "cluster-uid").unwrap();
        assert_eq!(d.owner.namespace, "team-a");
        assert_eq!(d.owner.name, "p1");
        assert_eq!(d.all_tags().len(), 3);
    }
}
