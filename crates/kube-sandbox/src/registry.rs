//! The resource types the server serves: the built-in kinds of the contract and every kind an
//! installed CustomResourceDefinition defines. Discovery, routing and storage all read it.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One served (group, version, resource).
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource: the main endpoint ignores `status`.
    pub status: bool,
    /// `metadata.generation` is maintained.
    pub generation: bool,
    /// Defined by a CRD (admission, no strategic merge patch).
    pub custom: bool,
    /// A create-only review (SelfSubjectAccessReview, SelfSubjectReview): answered, not stored.
    pub review: bool,
    /// The CRD version's `openAPIV3Schema`.
    pub schema: Option<Value>,
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `configmaps` or `deployments.apps`, as error messages name a resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Storage key: objects are shared by all versions of a group/resource, and
    /// events.k8s.io Events live with core Events.
    pub fn storage_key(&self) -> (String, String) {
        if crate::events::is_events_v1(self) {
            return (String::new(), "events".into());
        }
        (self.group.clone(), self.plural.clone())
    }

    /// The apiVersion objects are stored with.
    pub fn stored_api_version(&self) -> String {
        if crate::events::is_events_v1(self) {
            return "v1".into();
        }
        self.api_version()
    }
}

/// A group with its versions in preference order.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub name: String,
    pub versions: Vec<String>,
}

/// Every served type, keyed by (group, version, plural).
#[derive(Debug, Default)]
pub struct Registry {
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
    /// Group names in discovery order (built-ins first, then CRD groups as installed).
    group_order: Vec<String>,
    group_versions: BTreeMap<String, Vec<String>>,
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    generation: bool,
}

const BUILTINS: &[Builtin] = &[
    b(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        true,
        false,
    ),
    b(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        false,
        false,
    ),
    b("", "v1", "secrets", "Secret", true, &[], false, false),
    b(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        false,
        false,
    ),
    b("", "v1", "services", "Service", true, &["svc"], true, false),
    b("", "v1", "events", "Event", true, &["ev"], false, false),
    b("", "v1", "pods", "Pod", true, &["po"], true, false),
    b("", "v1", "nodes", "Node", false, &["no"], true, false),
    b(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        true,
        true,
    ),
    b(
        "events.k8s.io",
        "v1",
        "events",
        "Event",
        true,
        &["ev"],
        false,
        false,
    ),
    b(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        false,
        false,
    ),
    b(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        false,
        false,
    ),
    b(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
        false,
        true,
    ),
    b(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        true,
        true,
    ),
    b(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
        &[],
        false,
        false,
    ),
    b(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        false,
        &[],
        false,
        false,
    ),
    b(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
        &[],
        false,
        false,
    ),
    b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        true,
        true,
    ),
];

#[allow(clippy::too_many_arguments)]
const fn b(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
    generation: bool,
) -> Builtin {
    Builtin {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        status,
        generation,
    }
}

impl Registry {
    pub fn with_builtins() -> Self {
        let mut r = Registry::default();
        for bi in BUILTINS {
            let categories = if matches!(bi.plural, "services" | "deployments" | "pods") {
                vec!["all".to_string()]
            } else {
                vec![]
            };
            r.insert(ResourceType {
                group: bi.group.into(),
                version: bi.version.into(),
                plural: bi.plural.into(),
                singular: bi.kind.to_lowercase(),
                kind: bi.kind.into(),
                namespaced: bi.namespaced,
                short_names: bi.short.iter().map(|s| s.to_string()).collect(),
                categories,
                status: bi.status,
                generation: bi.generation,
                custom: false,
                review: bi.group.starts_with("authorization.")
                    || bi.group.starts_with("authentication."),
                schema: None,
                printer_columns: vec![],
            });
        }
        r
    }

    fn insert(&mut self, rt: ResourceType) {
        if !self.group_order.contains(&rt.group) {
            self.group_order.push(rt.group.clone());
        }
        self.types.insert(
            (rt.group.clone(), rt.version.clone(), rt.plural.clone()),
            Arc::new(rt),
        );
        self.reindex();
    }

    /// Recomputes each group's versions (preferred first) and drops groups with no types left.
    fn reindex(&mut self) {
        let mut gv: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (g, v, _) in self.types.keys() {
            let versions = gv.entry(g.clone()).or_default();
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
        gv.values_mut()
            .for_each(|v| v.sort_by_key(|b| std::cmp::Reverse(version_priority(b))));
        self.group_order.retain(|g| gv.contains_key(g));
        self.group_versions = gv;
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    pub fn groups(&self) -> Vec<GroupInfo> {
        self.group_order
            .iter()
            .filter(|g| !g.is_empty())
            .filter_map(|g| {
                self.group_versions.get(g).map(|v| GroupInfo {
                    name: g.clone(),
                    versions: v.clone(),
                })
            })
            .collect()
    }

    pub fn group(&self, name: &str) -> Option<GroupInfo> {
        self.groups().into_iter().find(|g| g.name == name)
    }

    pub fn resources_of(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.types
            .values()
            .filter(|t| t.group == group && t.version == version)
            .cloned()
            .collect()
    }

    /// Replaces the types a CRD defines (called after a CRD is created, updated or deleted).
    pub fn set_crd(&mut self, group: &str, plural: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|(g, _, p), _| !(g == group && p == plural));
        self.reindex();
        for t in types {
            self.insert(t);
        }
    }
}

/// Kubernetes version ordering: GA > beta > alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u64, u64) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    for (prefix, rank) in [("beta", 2u8), ("alpha", 1u8)] {
        if let Some(n) = tail.strip_prefix(prefix)
            && let Ok(minor) = n.parse::<u64>()
        {
            return (rank, major, minor);
        }
    }
    (0, 0, 0)
}

/// The types one CRD object defines (one per served version), or an error message.
pub fn types_from_crd(crd: &Value) -> Result<(String, String, Vec<ResourceType>), String> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().ok_or("spec.group: Required value")?;
    let names = &spec["names"];
    let plural = names["plural"]
        .as_str()
        .ok_or("spec.names.plural: Required value")?;
    let kind = names["kind"]
        .as_str()
        .ok_or("spec.names.kind: Required value")?;
    let singular = names["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut types = Vec::new();
    for v in spec["versions"].as_array().into_iter().flatten() {
        if v["served"].as_bool() == Some(false) {
            continue;
        }
        let name = v["name"]
            .as_str()
            .ok_or("spec.versions[].name: Required value")?;
        types.push(ResourceType {
            group: group.into(),
            version: name.into(),
            plural: plural.into(),
            singular: singular.clone(),
            kind: kind.into(),
            namespaced,
            short_names: strs(&names["shortNames"]),
            categories: strs(&names["categories"]),
            status: v["subresources"]["status"].is_object(),
            generation: true,
            custom: true,
            review: false,
            schema: v["schema"]["openAPIV3Schema"]
                .as_object()
                .map(|_| v["schema"]["openAPIV3Schema"].clone()),
            printer_columns: v["additionalPrinterColumns"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        });
    }
    Ok((group.to_string(), plural.to_string(), types))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v2", "v1beta2", "v1", "v1beta1"];
        v.sort_by_key(|b| std::cmp::Reverse(version_priority(b)));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]);
    }
}
