//! Multi-tenant guardrails (pure): what the cluster admin lets one namespace reach.
//!
//! One operator serves many teams. The admin gives cluster-wide allowlists with flags and
//! narrows them per namespace with annotations; a value must match both. Adoption of profiles
//! made outside the operator is opt-in per namespace or cluster-wide. These checks run before
//! any AWS call ([`Guard::check_spec`]) and, once AWS was read, before the first write
//! ([`Guard::check_plan`]), so a refused resource costs no write, and a forbidden region costs
//! no SDK client and no pacer entry. (Observe across namespaces is the planner's refusal.)

use super::model::{Desired, Observed, Ownership};
use super::outcome::Plan;
use super::plan::Step;
use super::resource::ResourcePlan;
use std::collections::BTreeMap;

/// Namespace annotation (`"true"`) that lets its resources adopt unowned profiles.
pub const ALLOW_ADOPTION_ANNOTATION: &str = "iot.awscc.io/allow-adoption";

/// What an allowlist restricts: one per flag and namespace annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    RoleArns,
    SnsTopicArns,
    MqttTopics,
    TargetArns,
    Regions,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::RoleArns,
        Kind::SnsTopicArns,
        Kind::MqttTopics,
        Kind::TargetArns,
        Kind::Regions,
    ];

    /// The namespace annotation that narrows this list.
    pub fn annotation(self) -> &'static str {
        match self {
            Kind::RoleArns => "iot.awscc.io/allowed-role-arns",
            Kind::SnsTopicArns => "iot.awscc.io/allowed-sns-topic-arns",
            Kind::MqttTopics => "iot.awscc.io/allowed-mqtt-topics",
            Kind::TargetArns => "iot.awscc.io/allowed-target-arns",
            Kind::Regions => "iot.awscc.io/allowed-regions",
        }
    }

    /// The operator flag that sets this list cluster-wide.
    pub fn flag(self) -> &'static str {
        match self {
            Kind::RoleArns => "--allowed-role-arns",
            Kind::SnsTopicArns => "--allowed-sns-topic-arns",
            Kind::MqttTopics => "--allowed-mqtt-topics",
            Kind::TargetArns => "--allowed-target-arns",
            Kind::Regions => "--allowed-regions",
        }
    }
}

/// Glob patterns (`*` any run of characters, `?` one character). `Unrestricted` allows
/// everything; a list allows what matches one of its patterns (an empty list allows nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Allowlist {
    #[default]
    Unrestricted,
    Only(Vec<String>),
}

impl Allowlist {
    /// A cluster-wide list from a flag: no pattern (or only empty ones) means no restriction,
    /// so that an unset chart value keeps a single-tenant install working.
    pub fn from_flag(patterns: &[String]) -> Allowlist {
        let patterns: Vec<String> = patterns
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if patterns.is_empty() {
            Allowlist::Unrestricted
        } else {
            Allowlist::Only(patterns)
        }
    }

    /// A namespace list from an annotation value (comma-separated). An annotation that is set
    /// but empty allows nothing: a namespace list only ever narrows, so it fails closed.
    pub fn from_annotation(value: &str) -> Allowlist {
        Allowlist::Only(
            value
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn allows(&self, value: &str) -> bool {
        match self {
            Allowlist::Unrestricted => true,
            Allowlist::Only(patterns) => patterns.iter().any(|p| glob_match(p, value)),
        }
    }

    pub fn is_unrestricted(&self) -> bool {
        matches!(self, Allowlist::Unrestricted)
    }
}

/// Whether `value` matches the glob `pattern` (`*` any run, `?` one character, nothing else
/// special), over the whole string. Iterative with one backtrack point: linear in practice.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, vi));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == v[vi] => {
                pi += 1;
                vi += 1;
            }
            _ => match star {
                Some((sp, sv)) => {
                    pi = sp + 1;
                    vi = sv + 1;
                    star = Some((sp, sv + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The AWS regions the operator knows (all partitions). Any other region string is refused
/// unless the admin names it in `--allowed-regions` (say, a region newer than this build).
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Whether `region` has the shape of an AWS region: lowercase words joined by `-`, ending in a
/// number (`eu-west-1`, `us-gov-east-1`). Anything else never reaches the SDK.
pub fn is_region_shaped(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((last, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.chars().all(|c| c.is_ascii_digit())
}

/// One scope's lists: the cluster's (flags) or a namespace's (annotations).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lists {
    pub role_arns: Allowlist,
    pub sns_topic_arns: Allowlist,
    pub mqtt_topics: Allowlist,
    pub target_arns: Allowlist,
    pub regions: Allowlist,
}

impl Lists {
    pub fn get(&self, kind: Kind) -> &Allowlist {
        match kind {
            Kind::RoleArns => &self.role_arns,
            Kind::SnsTopicArns => &self.sns_topic_arns,
            Kind::MqttTopics => &self.mqtt_topics,
            Kind::TargetArns => &self.target_arns,
            Kind::Regions => &self.regions,
        }
    }

    fn get_mut(&mut self, kind: Kind) -> &mut Allowlist {
        match kind {
            Kind::RoleArns => &mut self.role_arns,
            Kind::SnsTopicArns => &mut self.sns_topic_arns,
            Kind::MqttTopics => &mut self.mqtt_topics,
            Kind::TargetArns => &mut self.target_arns,
            Kind::Regions => &mut self.regions,
        }
    }

    /// A namespace's lists from its annotations; an absent annotation leaves that list open.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Lists {
        let mut lists = Lists::default();
        for kind in Kind::ALL {
            if let Some(value) = annotations.get(kind.annotation()) {
                *lists.get_mut(kind) = Allowlist::from_annotation(value);
            }
        }
        lists
    }
}

/// The cluster admin's rules, from the operator's flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterRules {
    /// `--allow-adoption`: adoption is allowed in every namespace.
    pub allow_adoption: bool,
    pub lists: Lists,
}

/// Why the guard refuses a resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    #[error(
        "{noun} {name:?} exists in AWS without ownership tags and adoption is not allowed in namespace {namespace:?}; a cluster admin allows it with the namespace annotation iot.awscc.io/allow-adoption: \"true\" or the operator's --allow-adoption"
    )]
    AdoptionNotAllowed {
        /// What would be adopted ("security profile", "custom metric", "dimension").
        noun: &'static str,
        name: String,
        namespace: String,
    },
    #[error("{field} {value:?} is forbidden: {why}")]
    Forbidden {
        field: String,
        value: String,
        why: String,
    },
}

impl Denial {
    /// The `Synced=False` reason the operator reports for this denial.
    pub fn reason(&self) -> crate::api::Reason {
        match self {
            Denial::AdoptionNotAllowed { .. } => crate::api::Reason::AdoptionNotAllowed,
            Denial::Forbidden { .. } => crate::api::Reason::Forbidden,
        }
    }
}

/// The rules as they apply to one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    namespace: String,
    allow_adoption: bool,
    cluster: Lists,
    local: Lists,
}

impl Guard {
    /// The cluster's rules narrowed by one namespace's annotations.
    pub fn new(
        rules: &ClusterRules,
        namespace: &str,
        annotations: &BTreeMap<String, String>,
    ) -> Guard {
        let annotated = annotations
            .get(ALLOW_ADOPTION_ANNOTATION)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Guard {
            namespace: namespace.to_string(),
            allow_adoption: rules.allow_adoption || annotated,
            cluster: rules.lists.clone(),
            local: Lists::from_annotations(annotations),
        }
    }

    /// Checks one value against both lists of its kind.
    pub fn check(&self, kind: Kind, field: &str, value: &str) -> Result<(), Denial> {
        let why = if !self.cluster.get(kind).allows(value) {
            format!("not allowed by the operator's {}", kind.flag())
        } else if !self.local.get(kind).allows(value) {
            format!(
                "not allowed by the annotation {} of namespace {:?}",
                kind.annotation(),
                self.namespace
            )
        } else {
            return Ok(());
        };
        Err(Denial::Forbidden {
            field: field.to_string(),
            value: value.to_string(),
            why,
        })
    }

    /// A region is valid when the cluster list names it (and it has a region's shape), or,
    /// without a cluster list, when it is a known AWS region; the namespace list narrows.
    pub fn check_region(&self, region: &str) -> Result<(), Denial> {
        let field = "region";
        let known = if self.cluster.regions.is_unrestricted() {
            KNOWN_REGIONS.contains(&region)
        } else {
            is_region_shaped(region)
        };
        if !known {
            return Err(Denial::Forbidden {
                field: field.to_string(),
                value: region.to_string(),
                why: "not a known AWS region (spec.region, the namespace annotation iot.awscc.io/default-region or --default-region)".to_string(),
            });
        }
        self.check(Kind::Regions, field, region)
    }

    /// Everything the spec asks for, before any AWS call: region, roles, topics and targets.
    pub fn check_spec(&self, desired: &Desired, region: &str) -> Result<(), Denial> {
        self.check_region(region)?;
        let a = &desired.attributes;
        if let Some(sns) = a.alert_targets.as_ref().and_then(|t| t.sns.as_ref()) {
            let path = "spec.alertTargets.SNS";
            self.check(Kind::RoleArns, &format!("{path}.roleArn"), &sns.role_arn)?;
            self.check(
                Kind::SnsTopicArns,
                &format!("{path}.alertTargetArn"),
                &sns.alert_target_arn,
            )?;
        }
        if let Some(export) = &a.metrics_export {
            let path = "spec.metricsExportConfig";
            self.check(Kind::RoleArns, &format!("{path}.roleArn"), &export.role_arn)?;
            self.check(
                Kind::MqttTopics,
                &format!("{path}.mqttTopic"),
                &export.mqtt_topic,
            )?;
        }
        for target in &desired.targets {
            self.check(Kind::TargetArns, "spec.targetArns", target)?;
        }
        Ok(())
    }

    /// The plan, before its first write: adoption only where allowed, and no attach or detach
    /// of a target outside the lists (an adopted profile's `all/registered-things`, say).
    pub fn check_plan(
        &self,
        desired: &Desired,
        observed: Option<&Observed>,
        plan: &Plan,
    ) -> Result<(), Denial> {
        let Plan::Converge(convergence) = plan else {
            return Ok(());
        };
        let adopts =
            observed.is_some_and(|o| Ownership::of(&o.tags, &desired.owner) == Ownership::Unowned);
        self.check_adoption("security profile", &desired.name, adopts)?;
        for step in &convergence.steps {
            match step {
                Step::Attach(t) => self.check(Kind::TargetArns, "spec.targetArns", t)?,
                Step::Detach(t) => self.check(Kind::TargetArns, "existing target", t)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// An adoption (`adopts`: the plan takes over an unowned resource) only where the admin
    /// allows it: the same rule for profiles, custom metrics and dimensions.
    pub fn check_adoption(
        &self,
        noun: &'static str,
        name: &str,
        adopts: bool,
    ) -> Result<(), Denial> {
        if adopts && !self.allow_adoption {
            return Err(Denial::AdoptionNotAllowed {
                noun,
                name: name.to_string(),
                namespace: self.namespace.clone(),
            });
        }
        Ok(())
    }

    /// A CustomMetric or Dimension's plan, before its first write: adoption only where allowed.
    /// (Its region was checked with [`Guard::check_region`] before any AWS call; it names no
    /// role, topic or target.)
    pub fn check_resource_plan<A>(
        &self,
        noun: &'static str,
        name: &str,
        plan: &ResourcePlan<A>,
    ) -> Result<(), Denial> {
        let adopts = matches!(plan, ResourcePlan::Converge { adopt: true, .. });
        self.check_adoption(noun, name, adopts)
    }
}
