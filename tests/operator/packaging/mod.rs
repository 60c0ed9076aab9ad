//! Packaging: the Helm chart (lint, template, schema, install into kube-sandbox with the operator
//! running under the chart's RBAC), the Argo CD health check (Lua 5.1), the Dockerfile and the
//! production dependency tree, and the monitoring the chart ships (alerts, dashboard).
//!
//! The RBAC check is enforced, not compared: the operator talks to kube-sandbox with the chart's
//! ServiceAccount token, and the sandbox (with `SandboxConfig::rbac`) authorizes every request
//! against the Roles and ClusterRoles that `helm install` bound to it, answers 403 to anything
//! they do not allow, and records what was asked.

mod argocd;
mod chart;
mod dockerfile;
mod install;
mod monitoring;

use clap::Parser;
use securityprofile_operator::config::ControllerArgs;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;

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

/// The object of `kind` named `name`.
fn named<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    of_kind(objects, kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The `--aws-tps` the chart passes by default: AWS IoT Device Defender's documented quotas.
const DEFAULT_AWS_TPS: &str = "AttachSecurityProfile=10,CreateSecurityProfile=10,\
DeleteSecurityProfile=10,DescribeSecurityProfile=25,DetachSecurityProfile=10,\
ListSecurityProfiles=10,ListTagsForResource=10,ListTargetsForSecurityProfile=10,TagResource=10,\
UntagResource=10,UpdateSecurityProfile=10,ValidateSecurityProfileBehaviors=10";

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
