//! Which AWS profile a resource is about: the identity it holds (recorded in its status the
//! moment AWS holds a profile for it) wins over the one its spec, annotations or flags would
//! compute today, so that an edit, a new namespace default or a new `--default-region` can never
//! make the operator lose track of a profile it created.

use super::desired::{SpecError, aws_name};
use super::outcome::Farewell;
use crate::api::{DeletionPolicy, ManagementPolicy, SecurityProfile};

/// A profile's name and region: all the operator needs to find it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub name: String,
    pub region: String,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} in {}", self.name, self.region)
    }
}

/// Where a region comes from when the spec sets none, in order.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegionDefaults<'a> {
    /// The namespace annotation `iot.awscc.io/default-region`.
    pub namespace: Option<&'a str>,
    /// `--default-region`.
    pub operator: Option<&'a str>,
    /// The AWS SDK's default chain (environment, profile, IMDS).
    pub sdk: Option<&'a str>,
}

/// The identity to reconcile, and whether the spec still agrees with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// The recorded identity when there is one, else the one the spec asks for.
    pub identity: Identity,
    /// `identity` comes from the status: AWS holds (or is about to hold) this profile.
    pub pinned: bool,
    /// What the spec asks for today, when it differs from a recorded identity.
    pub moved_to: Option<Result<Identity, SpecError>>,
}

/// The identity recorded on the resource, if it holds one.
pub fn pinned(sp: &SecurityProfile) -> Option<Identity> {
    let status = sp.status.as_ref()?;
    Some(Identity {
        name: status.security_profile_name.clone()?,
        region: status.region.clone()?,
    })
}

/// The identity the spec asks for, resolved against the defaults.
pub fn wanted(sp: &SecurityProfile, defaults: RegionDefaults<'_>) -> Result<Identity, SpecError> {
    let name = aws_name(sp)?;
    let region = [
        sp.spec.region.as_deref(),
        defaults.namespace,
        defaults.operator,
        defaults.sdk,
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|r| !r.is_empty())
    .ok_or(SpecError::NoRegion)?;
    Ok(Identity {
        name,
        region: region.to_string(),
    })
}

/// Resolves the identity of a resource: the recorded one when there is one, else the one the
/// spec asks for. With a recorded identity, defaults no longer matter (a new namespace default
/// or `--default-region` never moves a profile); only a spec that names another name or region
/// is noted, as `moved_to`.
pub fn resolve(
    sp: &SecurityProfile,
    defaults: RegionDefaults<'_>,
) -> Result<Resolution, SpecError> {
    let Some(identity) = pinned(sp) else {
        return Ok(Resolution {
            identity: wanted(sp, defaults)?,
            pinned: false,
            moved_to: None,
        });
    };
    let named = aws_name(sp).map(|name| Identity {
        name,
        region: sp
            .spec
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(&identity.region)
            .to_string(),
    });
    let moved_to = match named {
        Ok(n) if n == identity => None,
        other => Some(other),
    };
    Ok(Resolution {
        identity,
        pinned: true,
        moved_to,
    })
}

/// What deleting a resource has to look at in AWS.
#[derive(Clone, Debug, PartialEq)]
pub enum CleanupScope {
    /// Nothing: the outcome is known without a call.
    Done(Farewell),
    /// The profile at this identity: delete it if it is ours.
    Check(Identity),
}

/// What deleting `sp` has to look at. A resource that never recorded an identity never reached
/// AWS (the identity is recorded before the first write), so its deletion completes at once.
pub fn cleanup_scope(sp: &SecurityProfile) -> CleanupScope {
    let retained = sp.spec.deletion_policy == DeletionPolicy::Retain
        || sp.spec.management_policy == ManagementPolicy::Observe;
    match pinned(sp) {
        None => CleanupScope::Done(Farewell::NeverCreated),
        Some(identity) if retained => CleanupScope::Done(Farewell::Retained(identity)),
        Some(identity) => CleanupScope::Check(identity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{SecurityProfileSpec, SecurityProfileStatus};

    fn sp(spec: SecurityProfileSpec, status: Option<(&str, &str)>) -> SecurityProfile {
        let mut sp = SecurityProfile::new("edge", spec);
        sp.metadata.namespace = Some("team-a".into());
        sp.status = status.map(|(n, r)| SecurityProfileStatus {
            security_profile_name: Some(n.into()),
            region: Some(r.into()),
            ..Default::default()
        });
        sp
    }

    fn defaults<'a>(ns: Option<&'a str>, op: Option<&'a str>) -> RegionDefaults<'a> {
        RegionDefaults {
            namespace: ns,
            operator: op,
            sdk: None,
        }
    }

    #[test]
    fn region_order_spec_namespace_operator_sdk() {
        let spec = SecurityProfileSpec {
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        let d = defaults(Some("us-east-2"), Some("ap-south-1"));
        assert_eq!(wanted(&sp(spec, None), d).unwrap().region, "eu-west-1");
        let r = sp(SecurityProfileSpec::default(), None);
        assert_eq!(wanted(&r, d).unwrap().region, "us-east-2");
        assert_eq!(
            wanted(&r, defaults(Some(" "), Some("ap-south-1")))
                .unwrap()
                .region,
            "ap-south-1"
        );
        let sdk = RegionDefaults {
            sdk: Some("ca-central-1"),
            ..Default::default()
        };
        assert_eq!(wanted(&r, sdk).unwrap().region, "ca-central-1");
        assert_eq!(
            wanted(&r, RegionDefaults::default()),
            Err(SpecError::NoRegion)
        );
    }

    #[test]
    fn a_recorded_identity_wins_over_new_defaults() {
        let r = sp(SecurityProfileSpec::default(), Some(("edge", "us-east-1")));
        let res = resolve(&r, defaults(Some("eu-west-1"), Some("ap-south-1"))).unwrap();
        assert_eq!(res.identity.region, "us-east-1");
        assert!(res.pinned);
        assert_eq!(res.moved_to, None);
        // A region added to the spec is a move.
        let spec = SecurityProfileSpec {
            region: Some("eu-west-1".into()),
            ..Default::default()
        };
        let res = resolve(
            &sp(spec, Some(("edge", "us-east-1"))),
            RegionDefaults::default(),
        )
        .unwrap();
        assert_eq!(
            res.moved_to,
            Some(Ok(Identity {
                name: "edge".into(),
                region: "eu-west-1".into()
            }))
        );
    }

    #[test]
    fn a_name_added_later_is_a_move_not_a_new_identity() {
        let spec = SecurityProfileSpec {
            security_profile_name: Some("other".into()),
            ..Default::default()
        };
        let res = resolve(
            &sp(spec, Some(("edge", "us-east-1"))),
            defaults(None, Some("us-east-1")),
        )
        .unwrap();
        assert_eq!(res.identity.name, "edge");
        assert!(matches!(res.moved_to, Some(Ok(ref w)) if w.name == "other"));
    }

    #[test]
    fn the_same_identity_is_no_move() {
        let r = sp(SecurityProfileSpec::default(), Some(("edge", "us-east-1")));
        let res = resolve(&r, defaults(None, Some("us-east-1"))).unwrap();
        assert_eq!(res.moved_to, None);
        // With no region anywhere, the recorded identity still resolves (deletion needs it).
        let res = resolve(&r, RegionDefaults::default()).unwrap();
        assert_eq!(res.identity.region, "us-east-1");
        assert_eq!(res.moved_to, None);
    }

    #[test]
    fn unpinned_without_region_is_an_error() {
        let r = sp(SecurityProfileSpec::default(), None);
        assert_eq!(
            resolve(&r, RegionDefaults::default()),
            Err(SpecError::NoRegion)
        );
    }
}
