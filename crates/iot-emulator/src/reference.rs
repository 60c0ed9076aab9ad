//! The Service Authorization Reference for the actions the emulator serves: for each action its
//! resource types (required or optional) and condition keys, and for each resource type its
//! ARN format and condition keys. The evaluator authorizes a request on every resource of
//! these types that the request touches, each with its own tags, as IAM does.
//!
//! Source: the Service Authorization Reference, "Actions, resources, and condition keys for AWS
//! IoT" and "… for AWS Identity and Access Management" / "… for AWS Security Token Service".

/// A resource type of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub resource_type: &'static str,
    pub required: bool,
}

/// One action of the reference.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    pub name: &'static str,
    /// Empty: the action supports no resource-level permission (`*`).
    pub resources: &'static [Uses],
    /// Condition keys of the action itself (beside those of its resource types).
    pub condition_keys: &'static [&'static str],
}

/// One resource type of the reference.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    pub name: &'static str,
    pub arn: &'static str,
    pub condition_keys: &'static [&'static str],
}

const fn req(resource_type: &'static str) -> Uses {
    Uses {
        resource_type,
        required: true,
    }
}

const fn opt(resource_type: &'static str) -> Uses {
    Uses {
        resource_type,
        required: false,
    }
}

const TAGGED: &[&str] = &["aws:ResourceTag/${TagKey}"];
const REQUEST_TAGS: &[&str] = &["aws:RequestTag/${TagKey}", "aws:TagKeys"];

/// The resource types the emulator's actions touch.
pub const RESOURCE_TYPES: &[ResourceType] = &[
    ResourceType {
        name: "securityprofile",
        arn: "arn:${Partition}:iot:${Region}:${Account}:securityprofile/${SecurityProfileName}",
        condition_keys: TAGGED,
    },
    ResourceType {
        name: "custommetric",
        arn: "arn:${Partition}:iot:${Region}:${Account}:custommetric/${MetricName}",
        condition_keys: TAGGED,
    },
    ResourceType {
        name: "dimension",
        arn: "arn:${Partition}:iot:${Region}:${Account}:dimension/${DimensionName}",
        condition_keys: TAGGED,
    },
    ResourceType {
        name: "thinggroup",
        arn: "arn:${Partition}:iot:${Region}:${Account}:thinggroup/${ThingGroupName}",
        condition_keys: TAGGED,
    },
    ResourceType {
        name: "thing",
        arn: "arn:${Partition}:iot:${Region}:${Account}:thing/${ThingName}",
        condition_keys: &[],
    },
    ResourceType {
        name: "role",
        arn: "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",
        condition_keys: TAGGED,
    },
];

const PROFILE_AND_USES: &[Uses] = &[
    req("securityprofile"),
    opt("custommetric"),
    opt("dimension"),
];
const PROFILE_USES_AND_GROUP: &[Uses] = &[
    req("securityprofile"),
    opt("custommetric"),
    opt("dimension"),
    opt("thinggroup"),
];
const TAGGABLE: &[Uses] = &[
    opt("securityprofile"),
    opt("custommetric"),
    opt("dimension"),
];

/// The actions the emulator serves (and `iam:PassRole`, which it checks beside them).
pub const ACTIONS: &[Action] = &[
    Action {
        name: "iot:CreateSecurityProfile",
        resources: PROFILE_AND_USES,
        condition_keys: REQUEST_TAGS,
    },
    Action {
        name: "iot:UpdateSecurityProfile",
        resources: PROFILE_AND_USES,
        condition_keys: &[],
    },
    Action {
        name: "iot:DeleteSecurityProfile",
        resources: PROFILE_AND_USES,
        condition_keys: &[],
    },
    Action {
        name: "iot:AttachSecurityProfile",
        resources: PROFILE_USES_AND_GROUP,
        condition_keys: &[],
    },
    Action {
        name: "iot:DetachSecurityProfile",
        resources: PROFILE_USES_AND_GROUP,
        condition_keys: &[],
    },
    Action {
        name: "iot:DescribeSecurityProfile",
        resources: &[req("securityprofile")],
        condition_keys: &[],
    },
    Action {
        name: "iot:ListTargetsForSecurityProfile",
        resources: &[req("securityprofile")],
        condition_keys: &[],
    },
    Action {
        name: "iot:ListActiveViolations",
        resources: &[opt("securityprofile"), opt("thing")],
        condition_keys: &[],
    },
    Action {
        name: "iot:TagResource",
        resources: TAGGABLE,
        condition_keys: REQUEST_TAGS,
    },
    Action {
        name: "iot:UntagResource",
        resources: TAGGABLE,
        condition_keys: &["aws:TagKeys"],
    },
    Action {
        name: "iot:ListTagsForResource",
        resources: TAGGABLE,
        condition_keys: &[],
    },
    Action {
        name: "iot:CreateCustomMetric",
        resources: &[req("custommetric")],
        condition_keys: REQUEST_TAGS,
    },
    Action {
        name: "iot:DescribeCustomMetric",
        resources: &[req("custommetric")],
        condition_keys: &[],
    },
    Action {
        name: "iot:UpdateCustomMetric",
        resources: &[req("custommetric")],
        condition_keys: &[],
    },
    Action {
        name: "iot:DeleteCustomMetric",
        resources: &[req("custommetric")],
        condition_keys: &[],
    },
    Action {
        name: "iot:CreateDimension",
        resources: &[req("dimension")],
        condition_keys: REQUEST_TAGS,
    },
    Action {
        name: "iot:DescribeDimension",
        resources: &[req("dimension")],
        condition_keys: &[],
    },
    Action {
        name: "iot:UpdateDimension",
        resources: &[req("dimension")],
        condition_keys: &[],
    },
    Action {
        name: "iot:DeleteDimension",
        resources: &[req("dimension")],
        condition_keys: &[],
    },
    Action {
        name: "iot:ListSecurityProfiles",
        resources: &[],
        condition_keys: &[],
    },
    Action {
        name: "iot:ListSecurityProfilesForTarget",
        resources: &[],
        condition_keys: &[],
    },
    Action {
        name: "iot:ListCustomMetrics",
        resources: &[],
        condition_keys: &[],
    },
    Action {
        name: "iot:ListDimensions",
        resources: &[],
        condition_keys: &[],
    },
    Action {
        name: "iot:ValidateSecurityProfileBehaviors",
        resources: &[],
        condition_keys: &[],
    },
    Action {
        name: "iam:PassRole",
        resources: &[req("role")],
        condition_keys: &["iam:AssociatedResourceArn", "iam:PassedToService"],
    },
    Action {
        name: "sts:AssumeRole",
        resources: &[req("role")],
        condition_keys: &["sts:ExternalId", "aws:RequestTag/${TagKey}", "aws:TagKeys"],
    },
];

/// The reference's entry for `action` (e.g. `iot:AttachSecurityProfile`).
pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// Whether a request of `action` is authorized on the resources of `resource_type` it touches.
pub fn touches(action_name: &str, resource_type: &str) -> bool {
    action(action_name)
        .is_some_and(|a| a.resources.iter().any(|u| u.resource_type == resource_type))
}

/// Whether a request of `action` is authorized on the resource `arn` it touches: its type is
/// one of the reference's, listed for the action.
pub fn checks(action_name: &str, arn: &str) -> bool {
    resource_type_of(arn).is_some_and(|t| touches(action_name, t))
}

/// The resource type of an ARN, if it is one of the reference's (`all/registered-things` is
/// none: attaching at account level is authorized on the profile only).
pub fn resource_type_of(arn: &str) -> Option<&'static str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let (kind, _) = resource.split_once('/')?;
    RESOURCE_TYPES
        .iter()
        .find(|t| t.name == kind)
        .map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_type_an_action_names_has_an_arn_format() {
        for a in ACTIONS {
            for u in a.resources {
                assert!(
                    RESOURCE_TYPES.iter().any(|t| t.name == u.resource_type),
                    "{}: {}",
                    a.name,
                    u.resource_type
                );
            }
        }
        assert!(touches("iot:AttachSecurityProfile", "thinggroup"));
        assert!(touches("iot:CreateSecurityProfile", "custommetric"));
        assert!(!touches("iot:DescribeSecurityProfile", "dimension"));
        assert_eq!(
            resource_type_of("arn:aws:iot:us-east-1:1:thinggroup/g"),
            Some("thinggroup")
        );
        assert_eq!(
            resource_type_of("arn:aws:iot:us-east-1:1:all/registered-things"),
            None
        );
    }
}
