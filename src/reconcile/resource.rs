//! The pure planner of the kinds that mirror one named AWS resource with tags (`CustomMetric`,
//! `Dimension`): create, update, tag/untag, ownership, adoption, Observe, Retain and the in-use
//! rule of deletion. The attributes are the kind's own (`A`); everything else is shared.

use super::model::{Owner, Ownership, is_reserved_tag};
use crate::api::{AdoptionPolicy, DeletionPolicy, ManagementPolicy, Reason};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

/// What a kind's attributes must tell the planner.
pub trait ResourceAttributes: Clone + PartialEq + Debug {
    /// The spec names of the fields that differ from `observed` and that AWS cannot change
    /// after creation (an adopted resource of another type, say).
    fn immutable_differences(&self, observed: &Self) -> Vec<&'static str>;
    /// The spec names of the fields that differ from `observed` (for events and messages).
    fn differing_fields(&self, observed: &Self) -> Vec<&'static str>;
}

/// The resource the spec asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceDesired<A> {
    /// The AWS name.
    pub name: String,
    pub attributes: A,
    /// User tags (never reserved keys; the CRD's CEL rule rejects them).
    pub tags: BTreeMap<String, String>,
    pub owner: Owner,
    pub deletion_policy: DeletionPolicy,
    pub adoption_policy: AdoptionPolicy,
    pub management_policy: ManagementPolicy,
    /// The resource has a deletionTimestamp.
    pub deleting: bool,
}

impl<A> ResourceDesired<A> {
    /// The full tag set the resource should carry: user tags plus ownership tags.
    pub fn all_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.extend(self.owner.tags());
        tags
    }
}

/// The resource as read from AWS.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceObserved<A> {
    pub arn: String,
    pub attributes: A,
    pub tags: BTreeMap<String, String>,
    pub creation_date: Option<String>,
    pub last_modified_date: Option<String>,
}

/// One AWS write.
#[derive(Clone, Debug, PartialEq)]
pub enum ResourceStep<A> {
    /// `Create…` with these attributes and tags (user tags and ownership tags).
    Create {
        attributes: A,
        tags: BTreeMap<String, String>,
    },
    /// `Update…` with the attributes AWS lets change.
    Update(A),
    /// `TagResource`.
    Tag(BTreeMap<String, String>),
    /// `UntagResource` (never an ownership or AWS-reserved key).
    Untag(BTreeSet<String>),
    /// `Delete…`.
    Delete,
}

/// Why the operator will not write to a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceRefusal {
    /// The name exists in AWS without ownership tags and adoption is not allowed.
    AlreadyExists,
    /// The resource's ownership tags name another resource or cluster.
    OwnedByAnother(String),
    /// Fields AWS cannot change differ from the spec (by spec name).
    Immutable(Vec<&'static str>),
}

impl ResourceRefusal {
    /// The `Synced=False` reason the resource reports.
    pub fn reason(&self) -> Reason {
        match self {
            ResourceRefusal::AlreadyExists => Reason::AlreadyExists,
            ResourceRefusal::OwnedByAnother(_) => Reason::OwnedByAnother,
            ResourceRefusal::Immutable(_) => Reason::InvalidSpec,
        }
    }

    /// The message of the condition and the event, for the `noun` ("custom metric") `name` in
    /// `region`. Another owner is never named: tenants are not told about each other.
    pub fn message(&self, noun: &str, name: &str, region: &str) -> String {
        match self {
            ResourceRefusal::AlreadyExists => format!(
                "{noun} {name:?} already exists in {region} and is not managed by this operator; set spec.adoptionPolicy: Adopt to take it over"
            ),
            ResourceRefusal::OwnedByAnother(_) => format!(
                "{noun} {name:?} in {region} is managed by another resource; it is never written or deleted by this one"
            ),
            ResourceRefusal::Immutable(fields) => format!(
                "{noun} {name:?} in {region} differs in {} which AWS cannot change after creation; create a resource with another name instead",
                fields.join(", ")
            ),
        }
    }
}

/// What happens to the AWS resource when the Kubernetes resource goes away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceFarewell {
    /// Deleted by the plan's steps.
    Deleted,
    /// `deletionPolicy: Retain` or `managementPolicy: Observe`: AWS is left untouched.
    Retained,
    /// There is no resource (any more): nothing to do.
    Gone,
    /// The resource is not this one's: it is left untouched.
    NotOurs,
    /// Security profiles in AWS still use it (named): the finalizer stays, try again later.
    InUse(Vec<String>),
}

/// What to do for one resource.
#[derive(Clone, Debug, PartialEq)]
pub enum ResourcePlan<A> {
    /// Run the steps (none when AWS already matches). `adopt` when an unowned resource is taken.
    Converge {
        steps: Vec<ResourceStep<A>>,
        adopt: bool,
    },
    /// Write nothing; the resource is blocked until the user acts.
    Refuse(ResourceRefusal),
    /// `managementPolicy: Observe`: never write; report what was read.
    Observe,
    /// Being deleted: run the steps; release the finalizer unless the farewell is `InUse`.
    Finalize {
        steps: Vec<ResourceStep<A>>,
        farewell: ResourceFarewell,
    },
}

impl<A> ResourcePlan<A> {
    /// The AWS writes this plan makes.
    pub fn steps(&self) -> &[ResourceStep<A>] {
        match self {
            ResourcePlan::Converge { steps, .. } | ResourcePlan::Finalize { steps, .. } => steps,
            ResourcePlan::Refuse(_) | ResourcePlan::Observe => &[],
        }
    }
}

/// Whether deciding the deletion of this resource needs the list of security profiles that use
/// it (a `ListSecurityProfiles` call): only when the plan would otherwise delete it.
pub fn needs_users<A>(
    desired: &ResourceDesired<A>,
    observed: Option<&ResourceObserved<A>>,
) -> bool {
    desired.deleting
        && desired.deletion_policy == DeletionPolicy::Delete
        && desired.management_policy == ManagementPolicy::Manage
        && observed.is_some_and(|o| Ownership::of(&o.tags, &desired.owner) == Ownership::Ours)
}

/// Decides what to write to make AWS match `desired`, given what was `observed` and, while
/// deleting, the security profiles in AWS that still use the resource (`users`).
pub fn plan_resource<A: ResourceAttributes>(
    desired: &ResourceDesired<A>,
    observed: Option<&ResourceObserved<A>>,
    users: &[String],
) -> ResourcePlan<A> {
    if desired.deleting {
        return finalize(desired, observed, users);
    }
    if desired.management_policy == ManagementPolicy::Observe {
        return observe(desired, observed);
    }
    let Some(observed) = observed else {
        return ResourcePlan::Converge {
            steps: vec![ResourceStep::Create {
                attributes: desired.attributes.clone(),
                tags: desired.all_tags(),
            }],
            adopt: false,
        };
    };
    let adopt = match Ownership::of(&observed.tags, &desired.owner) {
        Ownership::Other(owner) => {
            return ResourcePlan::Refuse(ResourceRefusal::OwnedByAnother(owner));
        }
        Ownership::Unowned if desired.adoption_policy != AdoptionPolicy::Adopt => {
            return ResourcePlan::Refuse(ResourceRefusal::AlreadyExists);
        }
        Ownership::Unowned => true,
        Ownership::Ours => false,
    };
    let immutable = desired
        .attributes
        .immutable_differences(&observed.attributes);
    if !immutable.is_empty() {
        return ResourcePlan::Refuse(ResourceRefusal::Immutable(immutable));
    }
    ResourcePlan::Converge {
        steps: converge(desired, observed),
        adopt,
    }
}

/// `managementPolicy: Observe`: never write. A resource another namespace or cluster manages
/// is not shown to this one (the rule of SecurityProfile).
fn observe<A>(
    desired: &ResourceDesired<A>,
    observed: Option<&ResourceObserved<A>>,
) -> ResourcePlan<A> {
    if let Some(o) = observed
        && let Ownership::Other(owner) = Ownership::of(&o.tags, &desired.owner)
        && !super::plan::same_namespace(&o.tags, &desired.owner)
    {
        return ResourcePlan::Refuse(ResourceRefusal::OwnedByAnother(owner));
    }
    ResourcePlan::Observe
}

/// Tags first, so that an adopted resource is marked as ours before anything else is written.
fn converge<A: ResourceAttributes>(
    desired: &ResourceDesired<A>,
    observed: &ResourceObserved<A>,
) -> Vec<ResourceStep<A>> {
    let mut steps = Vec::new();
    let want = desired.all_tags();
    let to_tag: BTreeMap<_, _> = want
        .iter()
        .filter(|(k, v)| observed.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !to_tag.is_empty() {
        steps.push(ResourceStep::Tag(to_tag));
    }
    if desired.attributes != observed.attributes {
        steps.push(ResourceStep::Update(desired.attributes.clone()));
    }
    let to_untag: BTreeSet<_> = observed
        .tags
        .keys()
        .filter(|k| !want.contains_key(*k) && !is_reserved_tag(k))
        .cloned()
        .collect();
    if !to_untag.is_empty() {
        steps.push(ResourceStep::Untag(to_untag));
    }
    steps
}

fn finalize<A>(
    desired: &ResourceDesired<A>,
    observed: Option<&ResourceObserved<A>>,
    users: &[String],
) -> ResourcePlan<A> {
    let retained = desired.deletion_policy == DeletionPolicy::Retain
        || desired.management_policy == ManagementPolicy::Observe;
    let (steps, farewell) = match observed {
        _ if retained => (vec![], ResourceFarewell::Retained),
        None => (vec![], ResourceFarewell::Gone),
        Some(o) => match Ownership::of(&o.tags, &desired.owner) {
            Ownership::Ours if !users.is_empty() => {
                (vec![], ResourceFarewell::InUse(users.to_vec()))
            }
            Ownership::Ours => (vec![ResourceStep::Delete], ResourceFarewell::Deleted),
            Ownership::Unowned | Ownership::Other(_) => (vec![], ResourceFarewell::NotOurs),
        },
    };
    ResourcePlan::Finalize { steps, farewell }
}

/// The AWS state after `steps` succeed on `observed`. `arn` names what `Create` makes.
pub fn simulate_resource<A: Clone>(
    observed: Option<&ResourceObserved<A>>,
    steps: &[ResourceStep<A>],
    arn: &str,
) -> Option<ResourceObserved<A>> {
    let mut state = observed.cloned();
    for step in steps {
        state = match (state, step) {
            (None, ResourceStep::Create { attributes, tags }) => Some(ResourceObserved {
                arn: arn.to_string(),
                attributes: attributes.clone(),
                tags: tags.clone(),
                creation_date: None,
                last_modified_date: None,
            }),
            (Some(_), ResourceStep::Delete) => None,
            (Some(mut o), step) => {
                match step {
                    ResourceStep::Update(a) => o.attributes = a.clone(),
                    ResourceStep::Tag(tags) => o.tags.extend(tags.clone()),
                    ResourceStep::Untag(keys) => o.tags.retain(|k, _| !keys.contains(k)),
                    ResourceStep::Create { .. } | ResourceStep::Delete => {}
                }
                Some(o)
            }
            (None, _) => None,
        };
    }
    state
}

/// Why a CustomMetric or Dimension cannot be turned into a desired resource (`InvalidSpec`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceSpecError {
    #[error(
        "no AWS region: set spec.region, the namespace annotation iot.awscc.io/default-region, or the operator's --default-region"
    )]
    NoRegion,
    #[error(
        "metadata.name {name:?} is not a valid AWS name (1-128 characters of [a-zA-Z0-9:_-]); set spec.{field}"
    )]
    InvalidDefaultName { name: String, field: &'static str },
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

/// The AWS name: the spec's, else `metadata.name` when it is a valid AWS name (the CRD's
/// pattern already holds for the spec's).
pub fn resource_name(
    spec_name: Option<&str>,
    metadata_name: &str,
    field: &'static str,
) -> Result<String, ResourceSpecError> {
    match spec_name {
        Some(name) => Ok(name.to_string()),
        None if super::desired::is_valid_aws_name(metadata_name) => Ok(metadata_name.to_string()),
        None => Err(ResourceSpecError::InvalidDefaultName {
            name: metadata_name.to_string(),
            field,
        }),
    }
}

/// Refuses a name or region other than the ones already in use (status has an ARN once the
/// resource was found or created).
pub fn check_resource_identity(
    status: Option<&crate::api::ResourceStatus>,
    name: &str,
    region: &str,
) -> Result<(), ResourceSpecError> {
    let Some(status) = status.filter(|s| s.arn.is_some()) else {
        return Ok(());
    };
    let in_use = status.aws_name.as_deref().unwrap_or(name);
    let in_use_region = status.region.as_deref().unwrap_or(region);
    if in_use == name && in_use_region == region {
        return Ok(());
    }
    Err(ResourceSpecError::IdentityChanged {
        in_use: in_use.to_string(),
        in_use_region: in_use_region.to_string(),
        wanted: name.to_string(),
        wanted_region: region.to_string(),
    })
}

/// Ownership tags for a resource of this cluster.
pub fn owner_of(meta: &kube::api::ObjectMeta, cluster_id: &str) -> Owner {
    Owner {
        cluster: cluster_id.to_string(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
    }
}

/// User tags of a spec as a map.
pub fn tag_map(tags: Option<&[crate::api::Tag]>) -> BTreeMap<String, String> {
    tags.unwrap_or_default()
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// The region of a CustomMetric or Dimension: the one in use once it was found or created
/// (status), else the spec's, the namespace default, the operator's, the SDK's.
pub fn resource_region(
    spec_region: Option<&str>,
    in_use: Option<&str>,
    defaults: super::RegionDefaults<'_>,
) -> Result<String, ResourceSpecError> {
    [
        in_use,
        spec_region,
        defaults.namespace,
        defaults.operator,
        defaults.sdk,
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|r| !r.is_empty())
    .map(str::to_string)
    .ok_or(ResourceSpecError::NoRegion)
}
