//! Packaging: the Helm chart (lint, template, schema, install into kube-sandbox with the operator
//! running under the chart's RBAC), the Argo CD health check (Lua 5.1), and the Dockerfile.
//!
//! The RBAC check is enforced, not compared: the operator talks to the sandbox through
//! [`RbacProxy`], which authorizes every request against the Roles and ClusterRoles that
//! `helm install` created for the chart's ServiceAccount, answers 403 to anything they do not
//! allow, and records what was asked. kube-sandbox itself enforces no RBAC.

use crate::harness::{Env, NS, REGION, start_operator};
use axum::body::Body as AxumBody;
use axum::http::{Request, Response, StatusCode, header};
use clap::Parser;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use kube_sandbox::{Sandbox, SandboxConfig};
use securityprofile_operator::api::SecurityProfile;
use securityprofile_operator::config::ControllerArgs;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CHART_NAME: &str = "securityprofile-operator";
const CRD_FILE: &str = "iot.awscc.io_securityprofiles.yaml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("charts").join(CHART_NAME)
}

fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("SPO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/tools"));
    let p = dir.join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/tools.sh (or set SPO_TOOLS_DIR)",
        p.display()
    );
    p
}

/// A private directory for one test's helm state and kubeconfig, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "spo-packaging-{tag}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn helm(&self) -> std::process::Command {
        let mut c = std::process::Command::new(tool("helm"));
        c.env("HOME", &self.0)
            .env("HELM_CACHE_HOME", self.0.join("cache"))
            .env("HELM_CONFIG_HOME", self.0.join("config"))
            .env("HELM_DATA_HOME", self.0.join("data"))
            .env("KUBECONFIG", self.0.join("kubeconfig"));
        c
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `helm template` with `--set` values; the raw output.
fn template_output(sets: &[&str]) -> Output {
    let scratch = Scratch::new("template");
    let mut cmd = scratch.helm();
    cmd.args(["template", "spo", "--namespace", "spo-system"])
        .arg(chart());
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd.output().expect("helm runs")
}

/// The objects `helm template` renders with these values.
fn render(sets: &[&str]) -> Vec<Value> {
    let out = template_output(sets);
    assert!(
        out.status.success(),
        "helm template {sets:?} failed: {}",
        text(&out)
    );
    yaml_documents(&String::from_utf8(out.stdout).unwrap())
}

fn yaml_documents(s: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(s)
        .map(|d| Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(objects, kind);
    assert_eq!(found.len(), 1, "expected one {kind}, got {found:#?}");
    found[0]
}

fn container(objects: &[Value]) -> &Value {
    &one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn args_of(objects: &[Value]) -> Vec<String> {
    container(objects)["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// Rules as (apiGroup, resource, verb, resourceNames) tuples, for exact comparisons.
fn rule_set(rules: &Value) -> BTreeSet<(String, String, String, String)> {
    let mut out = BTreeSet::new();
    for r in rules.as_array().unwrap() {
        let names = r["resourceNames"]
            .as_array()
            .map(|n| {
                n.iter()
                    .map(|x| x.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        for g in r["apiGroups"].as_array().unwrap() {
            for res in r["resources"].as_array().unwrap() {
                for v in r["verbs"].as_array().unwrap() {
                    out.insert((
                        g.as_str().unwrap().into(),
                        res.as_str().unwrap().into(),
                        v.as_str().unwrap().into(),
                        names.clone(),
                    ));
                }
            }
        }
    }
    out
}

fn rules(list: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    list.iter()
        .map(|(g, r, v, n)| (g.to_string(), r.to_string(), v.to_string(), n.to_string()))
        .collect()
}

/// What the controller needs on SecurityProfiles and Events in a namespace it watches.
const PROFILE_RULES: &[(&str, &str, &str, &str)] = &[
    ("iot.awscc.io", "securityprofiles", "list", ""),
    ("iot.awscc.io", "securityprofiles", "watch", ""),
    ("iot.awscc.io", "securityprofiles", "patch", ""),
    ("iot.awscc.io", "securityprofiles/status", "patch", ""),
    ("events.k8s.io", "events", "create", ""),
    ("events.k8s.io", "events", "patch", ""),
];

// ---------------------------------------------------------------- chart: lint and metadata

#[test]
fn chart_lints_clean() {
    let scratch = Scratch::new("lint");
    for extra in [
        &[][..],
        &[
            "--set",
            "replicaCount=3",
            "--set",
            "watchNamespaces={a,b}",
            "--set",
            "serviceMonitor.enabled=true",
            "--set",
            "networkPolicy.enabled=true",
        ][..],
    ] {
        let out = scratch
            .helm()
            .args(["lint", "--strict"])
            .arg(chart())
            .args(extra)
            .output()
            .unwrap();
        let t = text(&out);
        assert!(out.status.success(), "helm lint {extra:?}: {t}");
        assert!(t.contains("1 chart(s) linted, 0 chart(s) failed"), "{t}");
    }
}

#[test]
fn chart_app_version_is_the_crate_version() {
    let chart_yaml: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart_yaml["name"], CHART_NAME);
    let objects = render(&[]);
    assert_eq!(
        container(&objects)["image"],
        format!(
            "ghcr.io/securityprofile-operator/securityprofile-operator:{}",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// The chart's CRD is `crds/` verbatim (a file copy) and renders to the same object, plus the
/// chart's labels and the keep policy; it is a template so `helm upgrade` upgrades it.
#[test]
fn chart_crd_is_the_generated_crd() {
    let generated = std::fs::read_to_string(root().join("crds").join(CRD_FILE)).unwrap();
    let copy = std::fs::read_to_string(chart().join("files").join(CRD_FILE)).unwrap();
    assert!(
        generated == copy,
        "charts/{CHART_NAME}/files/{CRD_FILE} is stale: cp crds/{CRD_FILE} charts/{CHART_NAME}/files/"
    );
    assert!(
        !chart().join("crds").exists(),
        "the chart must not use crds/ (helm never upgrades those)"
    );
    let expected: Value = serde_yaml_ng::from_str(&generated).unwrap();

    let objects = render(&[]);
    let mut crd = one(&objects, "CustomResourceDefinition").clone();
    let meta = crd["metadata"].as_object_mut().unwrap();
    let annotations = meta.remove("annotations").expect("annotations");
    assert_eq!(
        annotations,
        json!({
            "helm.sh/resource-policy": "keep",
            "argocd.argoproj.io/sync-options": "Prune=false,Delete=false"
        })
    );
    let labels = meta.remove("labels").expect("labels");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert_eq!(
        crd, expected,
        "the rendered CRD differs from crds/{CRD_FILE}"
    );

    let objects = render(&["crds.keep=false"]);
    let crd = one(&objects, "CustomResourceDefinition");
    assert!(crd["metadata"].get("annotations").is_none(), "{crd:#}");
    let objects = render(&["crds.install=false"]);
    assert!(of_kind(&objects, "CustomResourceDefinition").is_empty());
}

// ---------------------------------------------------------------- chart: rendered objects

#[test]
fn default_values_render_a_hardened_least_privilege_operator() {
    let objects = render(&[]);
    let kinds: BTreeSet<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        ]),
        "no Role for leases with one replica, no ServiceMonitor or NetworkPolicy by default"
    );

    let deployment = one(&objects, "Deployment");
    assert_eq!(deployment["metadata"]["namespace"], "spo-system");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "spo-securityprofile-operator");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = container(&objects);
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert!(sc["capabilities"].get("add").is_none());
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");

    assert_eq!(
        args_of(&objects),
        [
            "run",
            "--log-format=json",
            "--health-addr=0.0.0.0:8081",
            "--metrics-addr=0.0.0.0:8080",
            "--resync-period=10m",
            "--concurrency=8",
            "--aws-max-attempts=3",
            "--aws-attempt-timeout=10s",
        ]
    );
    // The args are valid flags of `run` (the same parser as the binary).
    let parsed = controller_args(&args_of(&objects)[1..]);
    assert!(!parsed.leader.enabled);
    assert!(parsed.watch_namespaces.is_empty());
    assert_eq!(parsed.serve.health_addr.port(), 8081);
    assert_eq!(parsed.serve.metrics_addr.port(), 8080);

    let env: Vec<(&str, &str)> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        env,
        [
            ("POD_NAME", "metadata.name"),
            ("POD_NAMESPACE", "metadata.namespace")
        ]
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "health");
    let ports: Vec<(&str, i64)> = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["containerPort"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(ports, [("metrics", 8080), ("health", 8081)]);
    for kind in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(
                c["resources"][kind].get(r).is_some(),
                "resources.{kind}.{r} missing: {c:#}"
            );
        }
    }

    let sa = one(&objects, "ServiceAccount");
    assert!(
        sa["metadata"].get("annotations").is_none(),
        "no IRSA annotation without a role: {sa:#}"
    );
    let cluster_role = one(&objects, "ClusterRole");
    let mut expected = rules(PROFILE_RULES);
    expected.extend(rules(&[("", "namespaces", "get", "")]));
    assert_eq!(rule_set(&cluster_role["rules"]), expected);
    let binding = one(&objects, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], cluster_role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "spo-securityprofile-operator", "namespace": "spo-system"}])
    );
    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn two_replicas_elect_a_leader_on_a_lease_in_the_release_namespace() {
    let objects = render(&["replicaCount=2"]);
    let args = args_of(&objects);
    assert!(args.contains(&"--leader-elect".to_string()), "{args:?}");
    assert!(args.contains(&"--leader-election-namespace=spo-system".to_string()));
    let parsed = controller_args(&args[1..]);
    assert!(parsed.leader.enabled);
    assert_eq!(parsed.leader.namespace.as_deref(), Some("spo-system"));
    let roles = of_kind(&objects, "Role");
    assert_eq!(roles.len(), 1, "{roles:#?}");
    assert_eq!(roles[0]["metadata"]["namespace"], "spo-system");
    assert_eq!(
        rule_set(&roles[0]["rules"]),
        rules(&[
            ("coordination.k8s.io", "leases", "create", ""),
            (
                "coordination.k8s.io",
                "leases",
                "get",
                securityprofile_operator::operator::LEASE_NAME
            ),
            (
                "coordination.k8s.io",
                "leases",
                "patch",
                securityprofile_operator::operator::LEASE_NAME
            ),
        ])
    );
    assert_eq!(one(&objects, "RoleBinding")["roleRef"]["kind"], "Role");

    // One replica: off unless asked for.
    assert!(!args_of(&render(&["replicaCount=1"])).contains(&"--leader-elect".to_string()));
    assert!(
        args_of(&render(&["leaderElection.enabled=true"])).contains(&"--leader-elect".to_string())
    );
}

#[test]
fn irsa_role_arn_annotates_the_service_account() {
    let arn = "arn:aws:iam::123456789012:role/securityprofile-operator";
    let objects = render(&[
        &format!("serviceAccount.roleArn={arn}"),
        "serviceAccount.annotations.team=iot",
    ]);
    let sa = one(&objects, "ServiceAccount");
    assert_eq!(
        sa["metadata"]["annotations"],
        json!({"eks.amazonaws.com/role-arn": arn, "team": "iot"})
    );
    // An existing service account: none rendered, the Deployment and bindings use its name.
    let objects = render(&["serviceAccount.create=false", "serviceAccount.name=mine"]);
    assert!(of_kind(&objects, "ServiceAccount").is_empty());
    assert_eq!(
        one(&objects, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"],
        "mine"
    );
    assert_eq!(
        one(&objects, "ClusterRoleBinding")["subjects"][0]["name"],
        "mine"
    );
}

#[test]
fn watch_namespaces_render_roles_and_no_cluster_role() {
    let objects = render(&["watchNamespaces={team-a,team-b}"]);
    assert!(of_kind(&objects, "ClusterRole").is_empty());
    assert!(of_kind(&objects, "ClusterRoleBinding").is_empty());
    assert!(args_of(&objects).contains(&"--watch-namespaces=team-a,team-b".to_string()));
    let roles = of_kind(&objects, "Role");
    let by_ns = |ns: &str| {
        roles
            .iter()
            .find(|r| r["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("no Role in {ns}: {roles:#?}"))
    };
    for ns in ["team-a", "team-b"] {
        let mut expected = rules(PROFILE_RULES);
        expected.extend(rules(&[("", "namespaces", "get", ns)]));
        assert_eq!(rule_set(&by_ns(ns)["rules"]), expected, "Role in {ns}");
    }
    // Without clusterId the kube-system UID is read: one get on that one namespace.
    assert_eq!(
        rule_set(&by_ns("kube-system")["rules"]),
        rules(&[("", "namespaces", "get", "kube-system")])
    );
    assert_eq!(roles.len(), 3);
    let bindings = of_kind(&objects, "RoleBinding");
    assert_eq!(bindings.len(), 3);
    for b in &bindings {
        assert_eq!(b["roleRef"]["kind"], "Role");
        assert_eq!(b["subjects"][0]["namespace"], "spo-system");
    }

    // With clusterId: nothing in kube-system, and the flag is passed.
    let objects = render(&["watchNamespaces={team-a}", "clusterId=prod-eu"]);
    assert!(
        of_kind(&objects, "Role")
            .iter()
            .all(|r| r["metadata"]["namespace"] == "team-a")
    );
    let args = args_of(&objects);
    assert!(
        args.contains(&"--cluster-id=prod-eu".to_string()),
        "{args:?}"
    );
    let parsed = controller_args(&args[1..]);
    assert_eq!(parsed.watch_namespaces, ["team-a"]);
    assert_eq!(parsed.cluster_id.as_deref(), Some("prod-eu"));
}

#[test]
fn optional_service_monitor_network_policy_and_aws_settings() {
    let objects = render(&[
        "serviceMonitor.enabled=true",
        "serviceMonitor.labels.release=prom",
        "networkPolicy.enabled=true",
        "aws.region=eu-west-1",
        "aws.endpointUrl=https://iot.eu-west-1.amazonaws.com",
        "podDisruptionBudget.minAvailable=1",
    ]);
    let sm = one(&objects, "ServiceMonitor");
    assert_eq!(sm["metadata"]["labels"]["release"], "prom");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    let svc = one(&objects, "Service");
    assert_eq!(svc["spec"]["ports"][0]["name"], "metrics");
    let np = one(&objects, "NetworkPolicy");
    assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(np["spec"]["ingress"][0]["ports"][0]["port"], 8080);
    let egress_ports: BTreeSet<i64> = np["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["ports"].as_array().unwrap().iter())
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(egress_ports, BTreeSet::from([53, 80, 443, 6443]));
    let args = args_of(&objects);
    assert!(args.contains(&"--default-region=eu-west-1".to_string()));
    assert!(args.contains(&"--aws-endpoint-url=https://iot.eu-west-1.amazonaws.com".to_string()));
    let env = &container(&objects)["env"];
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "AWS_REGION" && e["value"] == "eu-west-1"),
        "{env:#}"
    );
    let pdb = one(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(pdb["spec"].get("maxUnavailable").is_none());
}

#[test]
fn schema_rejects_wrong_values_with_a_clear_error() {
    let cases: &[(&str, &str)] = &[
        ("replicaCount=0", "/replicaCount"),
        ("replicaCount=two", "/replicaCount"),
        ("logFormat=xml", "/logFormat"),
        ("watchNamespaces={Team_A}", "/watchNamespaces/0"),
        ("serviceAccount.roleArn=my-role", "/serviceAccount/roleArn"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("resyncPeriod=ten minutes", "/resyncPeriod"),
        ("aws.region=Europe", "/aws/region"),
        ("ports.metrics=70000", "/ports/metrics"),
        ("replicas=2", "replicas"),
        ("crds.upgrade=true", "upgrade"),
    ];
    for (set, path) in cases {
        let out = template_output(&[set]);
        let t = text(&out);
        assert!(!out.status.success(), "--set {set} should be rejected");
        assert!(
            t.contains("values don't meet the specifications of the schema"),
            "--set {set}: {t}"
        );
        assert!(t.contains(path), "--set {set}: the error names {path}: {t}");
    }
    // And the same keys with valid values render.
    render(&[
        "replicaCount=2",
        "logFormat=text",
        "watchNamespaces={team-a}",
        "serviceAccount.roleArn=arn:aws:iam::123456789012:role/x",
        "image.pullPolicy=Always",
        "resyncPeriod=90s",
        "aws.region=us-gov-west-1",
        "ports.metrics=9090",
    ]);
}

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    args: ControllerArgs,
}

fn controller_args(args: &[String]) -> ControllerArgs {
    let argv = std::iter::once("run".to_string()).chain(args.iter().cloned());
    match Flags::try_parse_from(argv) {
        Ok(f) => f.args,
        Err(e) => panic!("the chart's args are not valid `run` flags: {e}"),
    }
}

// ---------------------------------------------------------------- RBAC-enforcing proxy

/// What the API server derives from a request path for authorization (k8s RequestInfo).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Attributes {
    verb: String,
    group: String,
    /// `resource` or `resource/subresource`.
    resource: String,
    namespace: Option<String>,
    name: Option<String>,
}

fn attributes(method: &str, path: &str, query: &str) -> Option<Attributes> {
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

/// The rules bound to one ServiceAccount: cluster-wide ones and ones valid in a namespace.
#[derive(Clone, Debug, Default)]
struct Grants {
    cluster: Vec<PolicyRule>,
    namespaced: Vec<(String, PolicyRule)>,
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

fn rule_allows(rule: &PolicyRule, a: &Attributes) -> bool {
    let names = rule.resource_names.as_deref().unwrap_or_default();
    matches(&rule.verbs, &a.verb)
        && matches(rule.api_groups.as_deref().unwrap_or_default(), &a.group)
        && matches(rule.resources.as_deref().unwrap_or_default(), &a.resource)
        && (names.is_empty() || a.name.as_deref().is_some_and(|n| matches(names, n)))
}

impl Grants {
    /// Reads the RBAC objects a chart installed and keeps those bound to `ns/sa`.
    async fn load(client: &kube::Client, ns: &str, sa: &str) -> Grants {
        let bound = |subjects: &Option<Vec<k8s_openapi::api::rbac::v1::Subject>>| {
            subjects.iter().flatten().any(|s| {
                s.kind == "ServiceAccount" && s.name == sa && s.namespace.as_deref() == Some(ns)
            })
        };
        let lp = ListParams::default();
        let cluster_roles = Api::<ClusterRole>::all(client.clone())
            .list(&lp)
            .await
            .unwrap()
            .items;
        let cluster_rules = |name: &str| -> Vec<PolicyRule> {
            cluster_roles
                .iter()
                .find(|r| r.metadata.name.as_deref() == Some(name))
                .and_then(|r| r.rules.clone())
                .unwrap_or_default()
        };
        let mut grants = Grants::default();
        for b in Api::<ClusterRoleBinding>::all(client.clone())
            .list(&lp)
            .await
            .unwrap()
            .items
        {
            if bound(&b.subjects) {
                grants.cluster.extend(cluster_rules(&b.role_ref.name));
            }
        }
        let roles = Api::<Role>::all(client.clone())
            .list(&lp)
            .await
            .unwrap()
            .items;
        for b in Api::<RoleBinding>::all(client.clone())
            .list(&lp)
            .await
            .unwrap()
            .items
        {
            if !bound(&b.subjects) {
                continue;
            }
            let bns = b.metadata.namespace.clone().unwrap_or_default();
            let rules = if b.role_ref.kind == "ClusterRole" {
                cluster_rules(&b.role_ref.name)
            } else {
                roles
                    .iter()
                    .find(|r| {
                        r.metadata.name.as_deref() == Some(&b.role_ref.name)
                            && r.metadata.namespace.as_deref() == Some(&bns)
                    })
                    .and_then(|r| r.rules.clone())
                    .unwrap_or_default()
            };
            grants
                .namespaced
                .extend(rules.into_iter().map(|r| (bns.clone(), r)));
        }
        grants
    }

    fn allows(&self, a: &Attributes) -> bool {
        self.cluster.iter().any(|r| rule_allows(r, a))
            || self
                .namespaced
                .iter()
                .any(|(ns, r)| a.namespace.as_deref() == Some(ns) && rule_allows(r, a))
    }

    /// Every (group, resource, verb) these grants name.
    fn granted(&self) -> BTreeSet<(String, String, String)> {
        let mut out = BTreeSet::new();
        let all = self
            .cluster
            .iter()
            .chain(self.namespaced.iter().map(|(_, r)| r));
        for r in all {
            for g in r.api_groups.iter().flatten() {
                for res in r.resources.iter().flatten() {
                    for v in &r.verbs {
                        out.insert((g.clone(), res.clone(), v.clone()));
                    }
                }
            }
        }
        out
    }
}

/// One request seen by the proxy.
#[derive(Clone, Debug)]
struct Seen {
    /// `METHOD path?query`, for failure messages.
    request: String,
    path: String,
    attributes: Option<Attributes>,
    allowed: bool,
}

/// An HTTP front for the sandbox that authorizes each request with the chart's RBAC (403 when
/// denied, like the API server) and forwards the allowed ones with the sandbox's credentials.
struct RbacProxy {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RbacProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RbacProxy {
    async fn start(upstream: kube::Client, grants: Grants) -> RbacProxy {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = (upstream, Arc::new(grants), seen.clone());
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RbacProxy { url, seen, task }
    }

    /// A client for the operator: plain HTTP to the proxy, no credentials of its own.
    fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url.parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

type ProxyState = (kube::Client, Arc<Grants>, Arc<Mutex<Vec<Seen>>>);

async fn forward(
    axum::extract::State((upstream, grants, seen)): axum::extract::State<ProxyState>,
    req: Request<AxumBody>,
) -> Response<AxumBody> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let attributes = attributes(parts.method.as_str(), &path, &query);
    // Discovery and other non-resource paths are open to every authenticated user in a real
    // cluster (system:discovery); resource requests need a rule.
    let allowed = attributes.as_ref().is_none_or(|a| grants.allows(a));
    seen.lock().unwrap().push(Seen {
        request: format!("{} {}", parts.method, parts.uri),
        path: path.clone(),
        attributes: attributes.clone(),
        allowed,
    });
    if !allowed {
        let a = attributes.expect("a denied request is a resource request");
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
            "message": format!("{} {} is forbidden: the chart's RBAC does not allow {} in {:?}", a.resource, a.name.clone().unwrap_or_default(), a.verb, a.namespace),
        });
        return Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header(header::CONTENT_TYPE, "application/json")
            .body(AxumBody::from(status.to_string()))
            .unwrap();
    }
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path);
    let mut builder = Request::builder()
        .method(parts.method.clone())
        .uri(path_and_query);
    for (k, v) in parts.headers.iter() {
        if ![
            header::HOST,
            header::AUTHORIZATION,
            header::CONTENT_LENGTH,
            header::CONNECTION,
        ]
        .contains(k)
        {
            builder = builder.header(k, v);
        }
    }
    let request = builder.body(kube::client::Body::from(bytes)).unwrap();
    match upstream.send(request).await {
        Ok(resp) => {
            let (mut p, b) = resp.into_parts();
            p.headers.remove(header::TRANSFER_ENCODING);
            p.headers.remove(header::CONNECTION);
            Response::from_parts(p, AxumBody::new(b))
        }
        Err(e) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(AxumBody::from(e.to_string()))
            .unwrap(),
    }
}

#[test]
fn request_attributes_follow_the_api_server() {
    let a = |m: &str, p: &str, q: &str| attributes(m, p, q).unwrap();
    let x = a(
        "GET",
        "/apis/iot.awscc.io/v1alpha1/securityprofiles",
        "watch=true&resourceVersion=5",
    );
    assert_eq!(
        (
            x.verb.as_str(),
            x.group.as_str(),
            x.resource.as_str(),
            x.namespace
        ),
        ("watch", "iot.awscc.io", "securityprofiles", None)
    );
    let x = a(
        "PATCH",
        "/apis/iot.awscc.io/v1alpha1/namespaces/team-a/securityprofiles/web/status",
        "",
    );
    assert_eq!(
        (
            x.verb.as_str(),
            x.resource.as_str(),
            x.namespace.as_deref(),
            x.name.as_deref()
        ),
        (
            "patch",
            "securityprofiles/status",
            Some("team-a"),
            Some("web")
        )
    );
    let x = a("GET", "/api/v1/namespaces/kube-system", "");
    assert_eq!(
        (
            x.verb.as_str(),
            x.group.as_str(),
            x.resource.as_str(),
            x.namespace.as_deref(),
            x.name.as_deref()
        ),
        (
            "get",
            "",
            "namespaces",
            Some("kube-system"),
            Some("kube-system")
        )
    );
    let x = a("PUT", "/api/v1/namespaces/team-a/finalize", "");
    assert_eq!(
        (x.verb.as_str(), x.resource.as_str(), x.name.as_deref()),
        ("update", "namespaces/finalize", Some("team-a"))
    );
    let x = a("GET", "/api/v1/namespaces", "");
    assert_eq!((x.verb.as_str(), x.namespace), ("list", None));
    let x = a(
        "POST",
        "/apis/coordination.k8s.io/v1/namespaces/spo/leases",
        "",
    );
    assert_eq!(
        (x.verb.as_str(), x.resource.as_str(), x.name),
        ("create", "leases", None)
    );
    assert!(attributes("GET", "/apis", "").is_none());
    assert!(attributes("GET", "/version", "").is_none());

    let rule = PolicyRule {
        api_groups: Some(vec!["".into()]),
        resources: Some(vec!["namespaces".into()]),
        resource_names: Some(vec!["team-a".into()]),
        verbs: vec!["get".into()],
        ..Default::default()
    };
    let grants = Grants {
        cluster: vec![],
        namespaced: vec![("team-a".into(), rule)],
    };
    assert!(grants.allows(&a("GET", "/api/v1/namespaces/team-a", "")));
    assert!(!grants.allows(&a("GET", "/api/v1/namespaces/team-b", "")));
    assert!(!grants.allows(&a("GET", "/api/v1/namespaces", "")));
    assert!(!grants.allows(&a("PATCH", "/api/v1/namespaces/team-a", "")));
}

// ---------------------------------------------------------------- helm install + operator

/// Installs the chart into a fresh sandbox with `sets`, runs the operator in-process with the
/// Deployment's own args behind the RBAC proxy, and reconciles a profile to Ready and away.
/// Returns the grants and the requests the operator made.
async fn install_and_reconcile(sets: &[&str]) -> (Grants, Vec<Seen>) {
    let (emulator, sandbox, client) = crate::harness::start_servers().await;
    // The profile's namespace carries the default region, so the operator reads it.
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {
                "name": NS,
                "annotations": {"iot.awscc.io/default-region": REGION}
            }}))
            .unwrap(),
        )
        .await
        .unwrap();

    let scratch = Scratch::new("install");
    sandbox
        .write_kubeconfig(&scratch.0.join("kubeconfig"))
        .unwrap();
    let mut cmd = tokio::process::Command::from(scratch.helm());
    cmd.args([
        "install",
        "spo",
        "--namespace",
        "spo-system",
        "--create-namespace",
    ])
    .arg(chart())
    .args(["--set", &format!("aws.endpointUrl={}", emulator.url())])
    .kill_on_drop(true);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().await.unwrap();
    let t = text(&out);
    assert!(out.status.success(), "helm install failed: {t}");
    assert!(t.contains("STATUS: deployed"), "{t}");
    assert!(
        t.contains("kubectl wait securityprofile"),
        "NOTES.txt is shown: {t}"
    );

    // The CRD came from the chart; wait until the API serves the kind.
    let profiles: Api<SecurityProfile> = Api::namespaced(client.clone(), NS);
    crate::harness::eventually(
        "the chart's CRD is served",
        Duration::from_secs(10),
        || async {
            profiles
                .list(&ListParams::default())
                .await
                .is_ok()
                .then_some(())
        },
    )
    .await;

    // The operator runs with exactly the Deployment's args (probe ports made ephemeral).
    let deployment = Api::<Deployment>::namespaced(client.clone(), "spo-system")
        .get("spo-securityprofile-operator")
        .await
        .unwrap();
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let sa = pod.service_account_name.clone().unwrap();
    let args: Vec<String> = pod.containers[0]
        .args
        .clone()
        .unwrap()
        .into_iter()
        .skip(1)
        .map(|a| {
            if a.starts_with("--health-addr=") {
                "--health-addr=127.0.0.1:0".into()
            } else if a.starts_with("--metrics-addr=") {
                "--metrics-addr=127.0.0.1:0".into()
            } else {
                a
            }
        })
        .collect();
    let args = controller_args(&args);

    let grants = Grants::load(&client, "spo-system", &sa).await;
    let proxy = RbacProxy::start(client.clone(), grants.clone()).await;
    // The proxy enforces: what the chart does not grant is Forbidden.
    let denied =
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(proxy.client(), "spo-system")
            .list(&ListParams::default())
            .await;
    assert!(
        matches!(&denied, Err(kube::Error::Api(s)) if s.code == 403),
        "listing Secrets is not granted: {denied:?}"
    );
    proxy.seen.lock().unwrap().clear();
    let running = start_operator(proxy.client(), args);
    let env = Env {
        emulator,
        sandbox,
        client,
        operator: Some(running),
    };
    env.create_json(json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": "packaged", "namespace": NS},
        "spec": {
            "securityProfileDescription": "installed by the chart",
            "behaviors": [{
                "name": "too-many-bytes",
                "metric": "aws:all-bytes-out",
                "criteria": {"comparisonOperator": "greater-than", "value": {"count": 1000}, "durationSeconds": 300}
            }]
        }
    }))
    .await;
    let sp = env.wait_ready("packaged").await;
    let status = sp.status.unwrap();
    assert_eq!(
        status.region.as_deref(),
        Some(REGION),
        "region from the namespace annotation"
    );
    assert!(
        env.profile("packaged").is_some(),
        "the profile exists in AWS"
    );
    env.wait_event("packaged", "Created").await;
    env.delete("packaged").await;
    env.wait_gone("packaged").await;
    assert!(env.profile("packaged").is_none(), "deleted in AWS");
    let mut env = env;
    let result = env.operator.take().unwrap().stop().await;
    assert!(result.is_ok(), "the operator stopped cleanly: {result:?}");
    (grants, proxy.seen())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `helm upgrade` applies a changed CRD (it is a template, not in crds/), and `helm uninstall`
/// leaves the CRD and the user's SecurityProfiles in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_upgrade_upgrades_the_crd_and_uninstall_keeps_it() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    securityprofile_operator::install_crypto_provider();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = sandbox.client().await.unwrap();
    let scratch = Scratch::new("upgrade");
    sandbox
        .write_kubeconfig(&scratch.0.join("kubeconfig"))
        .unwrap();
    let chart_copy = scratch.0.join("chart");
    copy_dir(&chart(), &chart_copy);
    let helm = |args: &[&str]| {
        let out = scratch.helm().args(args).output().unwrap();
        assert!(out.status.success(), "helm {args:?}: {}", text(&out));
        text(&out)
    };
    let chart_arg = chart_copy.to_str().unwrap().to_string();
    helm(&[
        "install",
        "spo",
        &chart_arg,
        "-n",
        "spo-system",
        "--create-namespace",
    ]);
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd_name = "securityprofiles.iot.awscc.io";
    let short_names =
        |crd: CustomResourceDefinition| crd.spec.names.short_names.unwrap_or_default();
    assert_eq!(
        short_names(crds.get(crd_name).await.unwrap()),
        ["sp", "iotsp"]
    );

    // A user's profile (no operator running: it only has to survive).
    let profiles: Api<SecurityProfile> = Api::namespaced(client.clone(), "default");
    crate::harness::eventually("the CRD is served", Duration::from_secs(10), || async {
        profiles
            .list(&ListParams::default())
            .await
            .is_ok()
            .then_some(())
    })
    .await;
    profiles
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
                "metadata": {"name": "keep-me"}, "spec": {}
            }))
            .unwrap(),
        )
        .await
        .unwrap();

    // A new CRD version of the chart: one more short name.
    let crd_file = chart_copy.join("files").join(CRD_FILE);
    let crd = std::fs::read_to_string(&crd_file).unwrap();
    let changed = crd.replacen("    - iotsp\n", "    - iotsp\n    - spupgraded\n", 1);
    assert_ne!(crd, changed, "the CRD file has the short names list");
    std::fs::write(&crd_file, changed).unwrap();
    let out = helm(&["upgrade", "spo", &chart_arg, "-n", "spo-system"]);
    assert!(out.contains("REVISION: 2"), "{out}");
    assert_eq!(
        short_names(crds.get(crd_name).await.unwrap()),
        ["sp", "iotsp", "spupgraded"],
        "helm upgrade applied the new CRD"
    );

    let out = helm(&["uninstall", "spo", "-n", "spo-system"]);
    assert!(
        out.contains("These resources were kept due to the resource policy"),
        "{out}"
    );
    assert!(out.contains("CustomResourceDefinition"), "{out}");
    assert!(
        Api::<Deployment>::namespaced(client.clone(), "spo-system")
            .get_opt("spo-securityprofile-operator")
            .await
            .unwrap()
            .is_none(),
        "the operator is gone"
    );
    assert!(
        crds.get_opt(crd_name).await.unwrap().is_some(),
        "the CRD is kept"
    );
    assert!(
        profiles.get_opt("keep-me").await.unwrap().is_some(),
        "the user's SecurityProfile is kept"
    );
}

/// The (group, resource, verb) triples the operator used.
fn used(seen: &[Seen]) -> BTreeSet<(String, String, String)> {
    seen.iter()
        .filter_map(|s| s.attributes.as_ref())
        .map(|a| (a.group.clone(), a.resource.clone(), a.verb.clone()))
        .collect()
}

fn assert_nothing_denied(seen: &[Seen]) {
    let denied: Vec<&str> = seen
        .iter()
        .filter(|s| !s.allowed)
        .map(|s| s.request.as_str())
        .collect();
    assert!(
        denied.is_empty(),
        "the chart's RBAC denied requests the operator made: {denied:#?}"
    );
    assert!(
        seen.iter().any(|s| s.attributes.is_some()),
        "the operator went through the proxy"
    );
}

/// Granted but not exercised by one create/delete: the Recorder patches an Event only when the
/// same event repeats (an event series).
fn unexercised() -> BTreeSet<(String, String, String)> {
    BTreeSet::from([("events.k8s.io".into(), "events".into(), "patch".into())])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_then_the_operator_reconciles_with_the_charts_cluster_rbac() {
    // Two replicas: leader election on, so the Lease rules are exercised too.
    let (grants, seen) = install_and_reconcile(&["replicaCount=2"]).await;
    assert_nothing_denied(&seen);
    let used = used(&seen);
    let granted = grants.granted();
    let idle: BTreeSet<_> = granted.difference(&used).cloned().collect();
    assert_eq!(
        idle,
        unexercised(),
        "every granted verb is used (least privilege); used: {used:#?}"
    );
    for needed in [
        ("coordination.k8s.io", "leases", "patch"),
        ("", "namespaces", "get"),
        ("iot.awscc.io", "securityprofiles/status", "patch"),
    ] {
        let t = (
            needed.0.to_string(),
            needed.1.to_string(),
            needed.2.to_string(),
        );
        assert!(used.contains(&t), "{needed:?} was used: {used:#?}");
    }
    // Cluster-wide: the kube-system UID is the cluster id.
    assert!(
        seen.iter()
            .any(|s| s.path == "/api/v1/namespaces/kube-system")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_with_watch_namespaces_runs_on_roles_only() {
    let (grants, seen) = install_and_reconcile(&["watchNamespaces={team-a}"]).await;
    assert!(
        grants.cluster.is_empty(),
        "no ClusterRole is bound: {grants:#?}"
    );
    assert_nothing_denied(&seen);
    let idle: BTreeSet<_> = grants.granted().difference(&used(&seen)).cloned().collect();
    assert_eq!(idle, unexercised(), "every granted verb is used");
    // Every resource request stayed inside the watched namespace or read kube-system's UID.
    for s in &seen {
        if let Some(a) = &s.attributes {
            assert!(
                a.namespace.as_deref() == Some(NS) || a.name.as_deref() == Some("kube-system"),
                "request outside the watched namespace: {s:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- Argo CD health check

fn health(obj: Value) -> (String, String) {
    let script = std::fs::read_to_string(root().join("deploy/argocd/health.lua")).unwrap();
    // Argo CD opens only the base, package and table libraries (and a safe `os`) for health
    // scripts: no `string`, no `math`. A script that calls them works here under the full
    // library and fails in Argo CD, so the test opens exactly what Argo CD opens.
    let lua = mlua::Lua::new_with(
        mlua::StdLib::PACKAGE | mlua::StdLib::TABLE,
        mlua::LuaOptions::default(),
    )
    .unwrap();
    let version: String = lua.globals().get("_VERSION").unwrap();
    assert_eq!(version, "Lua 5.1", "Argo CD runs gopher-lua, a Lua 5.1");
    for absent in ["string", "math", "io", "debug"] {
        let lib: mlua::Value = lua.globals().get(absent).unwrap();
        assert!(lib.is_nil(), "{absent} must not be open, as in Argo CD");
    }
    lua.globals().set("obj", to_lua(&lua, &obj)).unwrap();
    let hs: mlua::Table = lua.load(&script).eval().expect("the script runs");
    (hs.get("status").unwrap(), hs.get("message").unwrap())
}

/// JSON to Lua as Argo CD hands objects to health scripts (objects and arrays become tables).
fn to_lua(lua: &mlua::Lua, v: &Value) -> mlua::Value {
    match v {
        Value::Null => mlua::Value::Nil,
        Value::Bool(b) => mlua::Value::Boolean(*b),
        Value::Number(n) => mlua::Value::Number(n.as_f64().unwrap()),
        Value::String(s) => mlua::Value::String(lua.create_string(s).unwrap()),
        Value::Array(items) => {
            let t = lua.create_table().unwrap();
            for (i, item) in items.iter().enumerate() {
                t.set(i + 1, to_lua(lua, item)).unwrap();
            }
            mlua::Value::Table(t)
        }
        Value::Object(map) => {
            let t = lua.create_table().unwrap();
            for (k, item) in map {
                t.set(k.as_str(), to_lua(lua, item)).unwrap();
            }
            mlua::Value::Table(t)
        }
    }
}

fn profile(generation: i64, status: Value) -> Value {
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": "web", "namespace": "team-a", "generation": generation},
        "spec": {},
        "status": status,
    })
}

fn conds(gen_: i64, ready: (&str, &str), synced: (&str, &str)) -> Value {
    json!({
        "observedGeneration": gen_,
        "conditions": [
            {"type": "Ready", "status": ready.0, "reason": ready.1, "message": format!("ready {}", ready.1)},
            {"type": "Synced", "status": synced.0, "reason": synced.1, "message": format!("synced {}", synced.1)},
        ]
    })
}

#[test]
fn argocd_health_maps_status_to_health() {
    let ok = ("True", "ReconcileSuccess");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "no status",
            json!({"apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile", "metadata": {"name": "x", "generation": 1}, "spec": {}}),
            "Progressing",
        ),
        (
            "empty conditions",
            profile(1, json!({"conditions": []})),
            "Progressing",
        ),
        (
            "ready",
            profile(3, conds(3, ("True", "Available"), ok)),
            "Healthy",
        ),
        (
            "generation not reconciled",
            profile(4, conds(3, ("True", "Available"), ok)),
            "Progressing",
        ),
        (
            "no observedGeneration",
            profile(
                1,
                json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Available"}]}),
            ),
            "Progressing",
        ),
        (
            "ready unknown",
            profile(1, conds(1, ("Unknown", "Creating"), ok)),
            "Progressing",
        ),
        (
            "throttled",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "Throttled")),
            ),
            "Progressing",
        ),
        (
            "aws error",
            profile(1, conds(1, ("False", "Unavailable"), ("False", "AwsError"))),
            "Progressing",
        ),
        (
            "version conflict while ready",
            profile(
                1,
                conds(1, ("True", "Available"), ("False", "VersionConflict")),
            ),
            "Healthy",
        ),
        (
            "throttled resync while ready",
            profile(1, conds(1, ("True", "Available"), ("False", "Throttled"))),
            "Healthy",
        ),
        (
            "kubernetes error",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "KubernetesError")),
            ),
            "Progressing",
        ),
        (
            "waiting for a dependency",
            profile(
                1,
                conds(
                    1,
                    ("False", "WaitingForDependency"),
                    ("False", "WaitingForDependency"),
                ),
            ),
            "Progressing",
        ),
        (
            "aws rejected",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "AwsRejected")),
            ),
            "Degraded",
        ),
        (
            "aws rejected while ready",
            profile(1, conds(1, ("True", "Available"), ("False", "AwsRejected"))),
            "Degraded",
        ),
        (
            "forbidden",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "Forbidden")),
            ),
            "Degraded",
        ),
        (
            "adoption not allowed",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "AdoptionNotAllowed")),
            ),
            "Degraded",
        ),
        (
            "observed profile drifted",
            profile(1, conds(1, ("False", "Drifted"), ok)),
            "Degraded",
        ),
        (
            "invalid spec",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "InvalidSpec")),
            ),
            "Degraded",
        ),
        (
            "already exists",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "AlreadyExists")),
            ),
            "Degraded",
        ),
        (
            "owned by another",
            profile(
                1,
                conds(1, ("False", "Unavailable"), ("False", "OwnedByAnother")),
            ),
            "Degraded",
        ),
        (
            "access denied while ready",
            profile(
                1,
                conds(1, ("True", "Available"), ("False", "AccessDenied")),
            ),
            "Degraded",
        ),
        (
            "paused",
            profile(1, conds(1, ("False", "Paused"), ("False", "Paused"))),
            "Suspended",
        ),
        (
            "paused while ready",
            profile(2, conds(2, ("True", "Available"), ("False", "Paused"))),
            "Suspended",
        ),
        (
            "observed profile missing",
            profile(1, conds(1, ("False", "NotFound"), ok)),
            "Degraded",
        ),
    ];
    for (what, obj, want) in cases {
        let (status, message) = health(obj);
        assert_eq!(status, want, "{what}: {message}");
        assert!(!message.is_empty(), "{what}: a message for the UI");
    }
    let (_, message) = health(profile(
        1,
        conds(1, ("False", "Unavailable"), ("False", "InvalidSpec")),
    ));
    assert_eq!(
        message, "InvalidSpec: synced InvalidSpec",
        "the reason and the operator's message"
    );
}

#[test]
fn argocd_configmap_snippet_carries_the_script() {
    let script = std::fs::read_to_string(root().join("deploy/argocd/health.lua")).unwrap();
    let cm: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("deploy/argocd/argocd-cm-patch.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(cm["kind"], "ConfigMap");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    assert!(
        cm["data"]["resource.customizations.health.iot.awscc.io_SecurityProfile"]
            == script.as_str(),
        "deploy/argocd/argocd-cm-patch.yaml does not hold health.lua verbatim"
    );
}

// ---------------------------------------------------------------- Dockerfile

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

/// The Dockerfile builds exactly the binary this test suite builds and runs, from the locked
/// dependency set; the runtime stage is distroless, non-root, with the binary only.
///
/// There is no container engine here, so the image itself is not built. What is checked: the
/// build command is `cargo build --release --locked --bin securityprofile-operator`; `--locked`
/// holds (`cargo metadata --locked` fails if Cargo.lock is not up to date with the manifests);
/// the `--bin` target is the one cargo built for this test run (`CARGO_BIN_EXE_…`), and that
/// binary answers the image's entrypoint commands.
#[test]
fn dockerfile_builds_the_tested_binary_into_a_distroless_nonroot_image() {
    let instructions = dockerfile();
    let froms: Vec<&String> = instructions
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert_eq!(froms[1], "gcr.io/distroless/cc-debian12:nonroot");
    let runtime_start = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    let runtime = &instructions[runtime_start + 1..];

    let run = instructions
        .iter()
        .find(|(op, a)| op == "RUN" && a.contains("cargo build"))
        .expect("a RUN with cargo build");
    let cargo: Vec<&str> = run.1[run.1.find("cargo build").unwrap()..]
        .split("&&")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        cargo,
        [
            "cargo",
            "build",
            "--release",
            "--locked",
            "--bin",
            "securityprofile-operator"
        ]
    );

    let build = &instructions[..runtime_start];
    assert!(
        build
            .iter()
            .any(|(op, a)| op == "ENV" && a == "CARGO_PROFILE_RELEASE_STRIP=symbols"),
        "the release binary is stripped"
    );

    // Only the binary is copied into the runtime image, and it is the entrypoint.
    let copies: Vec<&String> = runtime
        .iter()
        .filter(|(op, _)| op == "COPY" || op == "ADD")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        copies,
        ["--from=build /out/securityprofile-operator /securityprofile-operator"]
    );
    let get = |op: &str| {
        runtime
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .unwrap_or_else(|| panic!("no {op} in the runtime stage"))
    };
    assert_eq!(get("USER"), "65532:65532");
    assert_eq!(get("ENTRYPOINT"), r#"["/securityprofile-operator"]"#);
    assert_eq!(get("CMD"), r#"["run"]"#);
    assert!(get("ENV").contains("LOG_FORMAT=json"));
    // The chart runs the same subcommand and the same user.
    let objects = render(&[]);
    assert_eq!(args_of(&objects)[0], "run");
    assert_eq!(
        one(&objects, "Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
        65532
    );

    // --locked: the lockfile satisfies the manifests (`cargo tree --locked` resolves the
    // dependency graph and fails if Cargo.lock would change; scripts/test.sh also builds with
    // --locked), and --bin securityprofile-operator is a target of the package.
    let cargo = || std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    let manifest = root().join("Cargo.toml");
    let out = cargo()
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--depth",
            "0",
        ])
        .args(["-p", "securityprofile-operator", "--manifest-path"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree --locked: {}", text(&out));
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo metadata: {}", text(&out));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "securityprofile-operator")
        .unwrap();
    assert!(
        package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| { t["name"] == "securityprofile-operator" && t["kind"] == json!(["bin"]) }),
        "--bin securityprofile-operator is a target"
    );

    // That binary, as built for this test run, answers the image's commands.
    let bin = env!("CARGO_BIN_EXE_securityprofile-operator");
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("securityprofile-operator {}", env!("CARGO_PKG_VERSION"))
    );
    let out = std::process::Command::new(bin)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--log-format",
        "--health-addr",
        "--metrics-addr",
        "--leader-elect",
        "[env: LOG_FORMAT=]",
    ] {
        assert!(help.contains(flag), "run --help mentions {flag}: {help}");
    }

    // The build context keeps what cargo needs to load the workspace.
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(ignored.contains(&"target/"));
    for needed in [
        "src/",
        "crates/",
        "Cargo.toml",
        "Cargo.lock",
        "benches/",
        "examples/",
    ] {
        assert!(
            !ignored
                .iter()
                .any(|i| needed.starts_with(i.trim_end_matches('*'))),
            ".dockerignore must keep {needed}"
        );
    }
}

/// Keeps the chart's example path honest: NOTES.txt points at examples/minimal.yaml.
#[test]
fn notes_reference_existing_files() {
    let notes = std::fs::read_to_string(chart().join("templates/NOTES.txt")).unwrap();
    assert!(notes.contains("examples/minimal.yaml"));
    assert!(root().join("examples/minimal.yaml").exists());
    assert!(
        Path::new(&root().join("docs/install.md")).exists(),
        "docs/install.md"
    );
}
