//! Opt-in RBAC for service-account tokens ([`crate::SandboxConfig::rbac`]).
//!
//! The sandbox's own token is a cluster administrator. A token minted with
//! [`crate::Sandbox::service_account_token`] authenticates as
//! `system:serviceaccount:NS:NAME`; with `rbac` on, each of its requests is authorized the way the
//! API server's RBAC authorizer does it: the request's attributes (verb, API group, resource and
//! subresource, namespace, name) must match a rule of a ClusterRole bound by a
//! ClusterRoleBinding, or of a Role or ClusterRole bound by a RoleBinding in the request's
//! namespace. The bindings are read from the store at each request, so a `helm install` takes
//! effect at once. Non-resource paths (discovery, OpenAPI, `/version`) are open to every
//! authenticated user, as `system:discovery` has them. Every decision is recorded.

use crate::store::{State, Store};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// What the API server derives from a request for authorization (its RequestInfo).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// The attributes of a resource request; `None` for non-resource paths (`/apis`, `/version`).
pub fn attributes(method: &str, path: &str, query: &str) -> Option<Attributes> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, mut rest) = match parts.first() {
        Some(&"api") if parts.len() >= 3 => (String::new(), &parts[2..]),
        Some(&"apis") if parts.len() >= 4 => (parts[1].to_string(), &parts[3..]),
        _ => return None,
    };
    let mut namespace = None;
    if rest[0] == "namespaces" && rest.len() > 1 {
        // GET /api/v1/namespaces/NAME is in namespace NAME, as the API server has it.
        namespace = Some(rest[1].to_string());
        // …/namespaces/NAME/status and /finalize are subresources of the namespace itself.
        if rest.len() > 2 && !matches!(rest[2], "status" | "finalize") {
            rest = &rest[2..];
        }
    }
    let resource = match rest.get(2) {
        Some(sub) => format!("{}/{sub}", rest[0]),
        None => rest[0].to_string(),
    };
    let name = rest.get(1).map(|s| s.to_string());
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (method, name.is_some()) {
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) if watch => "watch",
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => return None,
    };
    Some(Attributes {
        verb: verb.into(),
        group,
        resource,
        namespace,
        name,
    })
}

/// One PolicyRule (resource rules only; `nonResourceURLs` rules are not needed: those paths
/// are open).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Rule {
    fn from_json(v: &Value) -> Rule {
        Rule {
            verbs: strings(v, "verbs"),
            api_groups: strings(v, "apiGroups"),
            resources: strings(v, "resources"),
            resource_names: strings(v, "resourceNames"),
        }
    }

    /// Whether the rule covers the request (`*` matches anything; resourceNames, when set,
    /// only requests that name one of them).
    pub fn allows(&self, a: &Attributes) -> bool {
        let matches = |list: &[String], value: &str| list.iter().any(|x| x == "*" || x == value);
        matches(&self.verbs, &a.verb)
            && matches(&self.api_groups, &a.group)
            && matches(&self.resources, &a.resource)
            && (self.resource_names.is_empty()
                || a.name
                    .as_deref()
                    .is_some_and(|n| matches(&self.resource_names, n)))
    }
}

/// The rules bound to one service account: cluster-wide ones, and ones valid in one namespace.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    pub cluster: Vec<Rule>,
    pub namespaced: Vec<(String, Rule)>,
}

impl Grants {
    pub fn allows(&self, a: &Attributes) -> bool {
        self.cluster.iter().any(|r| r.allows(a))
            || self
                .namespaced
                .iter()
                .any(|(ns, r)| a.namespace.as_deref() == Some(ns) && r.allows(a))
    }

    /// Every (group, resource, verb) these grants name.
    pub fn granted(&self) -> BTreeSet<(String, String, String)> {
        let all = self
            .cluster
            .iter()
            .chain(self.namespaced.iter().map(|(_, r)| r));
        let mut out = BTreeSet::new();
        for r in all {
            for g in &r.api_groups {
                for res in &r.resources {
                    for v in &r.verbs {
                        out.insert((g.clone(), res.clone(), v.clone()));
                    }
                }
            }
        }
        out
    }

    /// The grants of `namespace/name` in the store now.
    pub(crate) fn of(state: &State, namespace: &str, name: &str) -> Grants {
        let all = |plural: &str| -> Vec<Value> {
            let rt = state
                .registry
                .get("rbac.authorization.k8s.io", "v1", plural);
            rt.map(|rt| {
                state
                    .list(&rt, None, &|_| true, 0, None)
                    .items
                    .iter()
                    .map(|o| (**o).clone())
                    .collect()
            })
            .unwrap_or_default()
        };
        Grants::from_objects(
            &RbacObjects {
                cluster_roles: all("clusterroles"),
                roles: all("roles"),
                cluster_role_bindings: all("clusterrolebindings"),
                role_bindings: all("rolebindings"),
            },
            namespace,
            name,
        )
    }

    /// The grants of the service account `namespace/name` given these RBAC objects (as any API
    /// server stores them: a test reads them from a real one to compare).
    pub fn from_objects(rbac: &RbacObjects, namespace: &str, name: &str) -> Grants {
        let bound = |binding: &Value| {
            binding["subjects"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| {
                    s["kind"] == "ServiceAccount"
                        && s["name"] == name
                        && s["namespace"] == namespace
                })
        };
        let rules_of = |roles: &[Value], role: &str, ns: Option<&str>| -> Vec<Rule> {
            roles
                .iter()
                .find(|r| {
                    r["metadata"]["name"] == role
                        && r["metadata"]["namespace"].as_str() == ns.filter(|n| !n.is_empty())
                })
                .and_then(|r| r["rules"].as_array())
                .map(|rules| rules.iter().map(Rule::from_json).collect())
                .unwrap_or_default()
        };
        let mut grants = Grants::default();
        for b in rbac.cluster_role_bindings.iter().filter(|b| bound(b)) {
            let role = b["roleRef"]["name"].as_str().unwrap_or_default();
            grants
                .cluster
                .extend(rules_of(&rbac.cluster_roles, role, None));
        }
        for b in rbac.role_bindings.iter().filter(|b| bound(b)) {
            let ns = b["metadata"]["namespace"].as_str().unwrap_or_default();
            let role = b["roleRef"]["name"].as_str().unwrap_or_default();
            let rules = if b["roleRef"]["kind"] == "ClusterRole" {
                rules_of(&rbac.cluster_roles, role, None)
            } else {
                rules_of(&rbac.roles, role, Some(ns))
            };
            grants
                .namespaced
                .extend(rules.into_iter().map(|r| (ns.to_string(), r)));
        }
        grants
    }
}

/// Every Role, ClusterRole and binding of a server, as JSON objects.
#[derive(Clone, Debug, Default)]
pub struct RbacObjects {
    pub cluster_roles: Vec<Value>,
    pub roles: Vec<Value>,
    pub cluster_role_bindings: Vec<Value>,
    pub role_bindings: Vec<Value>,
}

/// One authorization decision for a service account's request.
#[derive(Clone, Debug)]
pub struct Decision {
    /// `system:serviceaccount:NS:NAME`.
    pub user: String,
    /// `METHOD path?query`, for failure messages.
    pub request: String,
    pub path: String,
    /// `None` for non-resource paths (always allowed).
    pub attributes: Option<Attributes>,
    pub allowed: bool,
}

/// The user name of a service account.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The authenticator and authorizer of a sandbox: service-account tokens, whether RBAC is
/// enforced, and the decisions taken.
#[derive(Default)]
pub(crate) struct Authz {
    pub enforce: bool,
    /// token -> (namespace, name) of the service account.
    tokens: Mutex<HashMap<String, (String, String)>>,
    decisions: Mutex<Vec<Decision>>,
}

impl Authz {
    pub fn new(enforce: bool) -> Authz {
        Authz {
            enforce,
            ..Default::default()
        }
    }

    pub fn add_token(&self, token: String, namespace: &str, name: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(token, (namespace.to_string(), name.to_string()));
    }

    /// The service account a token belongs to.
    pub fn service_account(&self, token: &str) -> Option<(String, String)> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(token).cloned()
    }

    pub fn decisions(&self) -> Vec<Decision> {
        self.decisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear(&self) {
        self.decisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Authorizes (when enforcing) and records one request of a service account.
    pub fn decide(
        &self,
        store: &Store,
        (namespace, name): &(String, String),
        method: &str,
        path: &str,
        query: &str,
    ) -> Decision {
        let attributes = attributes(method, path, query);
        let allowed = !self.enforce
            || attributes
                .as_ref()
                .is_none_or(|a| Grants::of(&store.lock(), namespace, name).allows(a));
        let request = match query {
            "" => format!("{method} {path}"),
            q => format!("{method} {path}?{q}"),
        };
        let decision = Decision {
            user: service_account_user(namespace, name),
            request,
            path: path.to_string(),
            attributes,
            allowed,
        };
        self.decisions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(decision.clone());
        decision
    }
}
