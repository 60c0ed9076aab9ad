//! A profile read from AWS as a `SecurityProfile` manifest that adopts it without change.

use super::manifest_kinds::user_tags;
use crate::api::{
    AdoptionPolicy, DeletionPolicy, ManagementPolicy, SecurityProfile, SecurityProfileSpec,
};
use crate::reconcile::Observed;

/// Where the manifest goes and what it is called.
pub struct Identity<'a> {
    pub aws_name: &'a str,
    pub kube_name: &'a str,
    pub namespace: Option<&'a str>,
    pub region: &'a str,
}

/// The manifest of an observed profile: every attribute, its targets and user tags (ownership
/// and `aws:` tags dropped), `Adopt` so that the operator takes it over, `Retain` so that a
/// mistake in Git cannot delete it.
pub fn manifest(id: &Identity<'_>, observed: &Observed) -> SecurityProfile {
    let attributes = observed.attributes.clone().normalized();
    let spec = SecurityProfileSpec {
        security_profile_name: (id.aws_name != id.kube_name).then(|| id.aws_name.to_string()),
        region: Some(id.region.to_string()),
        security_profile_description: attributes.description,
        behaviors: non_empty(attributes.behaviors),
        alert_targets: attributes.alert_targets,
        additional_metrics_to_retain_v2: non_empty(attributes.additional_metrics),
        metrics_export_config: attributes.metrics_export,
        tags: user_tags(&observed.tags),
        target_arns: non_empty(observed.targets.iter().cloned().collect()),
        deletion_policy: DeletionPolicy::Retain,
        adoption_policy: AdoptionPolicy::Adopt,
        management_policy: ManagementPolicy::Manage,
        violations: None,
    };
    let mut sp = SecurityProfile::new(id.kube_name, spec);
    sp.metadata.namespace = id.namespace.map(str::to_string);
    sp
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Tag;
    use crate::reconcile::Attributes;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn ownership_and_aws_tags_are_dropped_and_the_name_kept_when_it_differs() {
        let observed = Observed {
            arn: "arn:aws:iot:us-east-1:123456789012:securityprofile/Edge_Fleet".into(),
            version: 3,
            attributes: Attributes {
                description: Some(String::new()),
                ..Default::default()
            },
            targets: BTreeSet::from(["arn:aws:iot:us-east-1:123456789012:thinggroup/g".into()]),
            tags: BTreeMap::from([
                ("team".into(), "edge".into()),
                ("aws:cloudformation:stack-name".into(), "s".into()),
                ("iot.awscc.io/cluster".into(), "c".into()),
            ]),
            creation_date: None,
            last_modified_date: None,
        };
        let id = Identity {
            aws_name: "Edge_Fleet",
            kube_name: "edge-fleet",
            namespace: Some("team-a"),
            region: "eu-west-1",
        };
        let sp = manifest(&id, &observed);
        assert_eq!(sp.metadata.name.as_deref(), Some("edge-fleet"));
        assert_eq!(sp.metadata.namespace.as_deref(), Some("team-a"));
        assert_eq!(sp.spec.security_profile_name.as_deref(), Some("Edge_Fleet"));
        assert_eq!(sp.spec.region.as_deref(), Some("eu-west-1"));
        assert_eq!(sp.spec.security_profile_description, None, "empty is none");
        assert_eq!(
            sp.spec.tags,
            Some(vec![Tag {
                key: "team".into(),
                value: "edge".into()
            }])
        );
        assert_eq!(sp.spec.target_arns.as_ref().map(Vec::len), Some(1));
        assert_eq!(sp.spec.deletion_policy, DeletionPolicy::Retain);
        assert_eq!(sp.spec.adoption_policy, AdoptionPolicy::Adopt);
        let same = Identity {
            aws_name: "edge-fleet",
            ..id
        };
        assert_eq!(manifest(&same, &observed).spec.security_profile_name, None);
    }
}
