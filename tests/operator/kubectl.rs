//! The install path as a user meets it with kubectl, on both API servers at once, so that the
//! sandbox is held to the real kube-apiserver: the CRDs are accepted and established (the real
//! server estimates every CEL rule's cost when a CRD is created), `kubectl apply
//! --dry-run=server` accepts every example and refuses every invalid manifest of the admission
//! corpus with the same message, field path included, and `kubectl explain` and the printer
//! columns (`kubectl get -o wide`) show the same.

use crate::admission_parity::{corpus, resource};
use crate::cluster::{Cluster, Server, kubectl, tool};
use securityprofile_operator::api::crds;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Both servers with the operator's CRDs applied by kubectl from `crds/` (as an admin
/// installs them) and established.
async fn both_servers() -> Vec<Cluster> {
    let mut clusters = Vec::new();
    for server in [Server::Sandbox, Server::KubeApiserver] {
        let cluster = Cluster::start(server).await;
        let crd_dir = root().join("crds");
        kubectl(
            &cluster.admin_kubeconfig,
            &["apply", "-f", &crd_dir.to_string_lossy()],
        )
        .await;
        for (_, crd) in crds().expect("the CRDs") {
            let name = crd.metadata.name.expect("a CRD name");
            kubectl(
                &cluster.admin_kubeconfig,
                &[
                    "wait",
                    "--for=condition=Established",
                    &format!("crd/{name}"),
                    "--timeout=60s",
                ],
            )
            .await;
        }
        clusters.push(cluster);
    }
    clusters
}

/// kubectl's exit status and output.
async fn run(kubeconfig: &Path, args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("kubectl runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The names of the Namespaces the examples define.
fn example_namespaces(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).expect("examples/") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            names.extend(example_namespaces(&path));
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("an example");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc).expect("YAML");
            if value["kind"] == "Namespace"
                && let Some(name) = value["metadata"]["name"].as_str()
            {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// `kubectl apply` error lines by object name: `name -> "SecurityProfile.iot.awscc.io "name" is
/// invalid: field: message"`.
fn errors_by_name(output: &str) -> BTreeMap<String, String> {
    output
        .lines()
        .filter_map(|l| {
            let at = l.find("SecurityProfile.iot.awscc.io \"")?;
            let rest = &l[at..];
            let name = rest.split('"').nth(1)?.to_string();
            Some((name, rest.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_accepts_every_example_and_refuses_every_invalid_manifest_alike_on_both_servers() {
    let clusters = both_servers().await;
    // Every example, recursively (namespaces, custom metrics, dimensions and profiles).
    let examples = root().join("examples");
    for cluster in &clusters {
        // A dry run creates no namespace: the examples' own namespaces are created first, as
        // the real apply of a file that holds them would.
        for name in example_namespaces(&examples) {
            crate::cluster::create_namespace(&cluster.admin, &name).await;
        }
        let (ok, out) = run(
            &cluster.admin_kubeconfig,
            &[
                "apply",
                "--dry-run=server",
                "-R",
                "-f",
                &examples.to_string_lossy(),
            ],
        )
        .await;
        assert!(
            ok,
            "{}: the examples are accepted:\n{out}",
            cluster.server.name()
        );
        assert!(out.contains("(server dry run)"), "{out}");
    }

    // Every invalid manifest of the admission corpus, in one file: kubectl reports each refusal.
    let corpus = corpus();
    let manifests: Vec<String> = corpus
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let mut sp =
                serde_json::to_value(resource(&format!("invalid-{i}"), &case.spec)).expect("JSON");
            sp["metadata"]["namespace"] = json!("default");
            serde_yaml_ng::to_string(&sp).expect("YAML")
        })
        .collect();
    let file = clusters[0].dir().join("invalid.yaml");
    std::fs::write(&file, manifests.join("---\n")).expect("write manifests");
    let mut refusals = Vec::new();
    for cluster in &clusters {
        let (ok, out) = run(
            &cluster.admin_kubeconfig,
            &["apply", "--dry-run=server", "-f", &file.to_string_lossy()],
        )
        .await;
        assert!(!ok, "{}: kubectl fails", cluster.server.name());
        refusals.push(errors_by_name(&out));
    }
    let mut differences = Vec::new();
    for (i, case) in corpus.iter().enumerate() {
        let name = format!("invalid-{i}");
        let (sandbox, real) = (refusals[0].get(&name), refusals[1].get(&name));
        match (sandbox, real) {
            (Some(s), Some(r)) if s == r && r.contains(case.field) => {}
            _ => differences.push(format!(
                "{} ({}):\n  kube-sandbox:   {sandbox:?}\n  kube-apiserver: {real:?}",
                case.label, case.field
            )),
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} invalid manifests are not refused alike, naming the field:\n{}",
        differences.len(),
        corpus.len(),
        differences.join("\n")
    );
}

/// The header and cells of `kubectl get` (AGE left out: it is a duration since creation).
fn table(output: &str) -> Vec<Vec<String>> {
    let rows: Vec<Vec<String>> = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .collect();
    let age = rows.first().and_then(|h| h.iter().position(|c| c == "AGE"));
    rows.into_iter()
        .map(|mut r| {
            if let Some(i) = age.filter(|i| *i < r.len()) {
                r.remove(i);
            }
            r
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_and_printer_columns_are_the_same_on_both_servers() {
    let clusters = both_servers().await;
    let mut explained = Vec::new();
    let mut tables = Vec::new();
    for cluster in &clusters {
        let kubeconfig = &cluster.admin_kubeconfig;
        let mut out = String::new();
        for path in [
            "securityprofile.spec.behaviors.criteria",
            "custommetric.spec",
            "dimension.spec",
        ] {
            out.push_str(&kubectl(kubeconfig, &["explain", path]).await);
        }
        explained.push(out);
        // A profile with a status as the operator writes it.
        let sp = json!({
            "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
            "metadata": {"name": "columns", "namespace": "default"},
            "spec": {"securityProfileName": "Columns"},
        });
        let file = cluster.dir().join("columns.yaml");
        std::fs::write(&file, serde_yaml_ng::to_string(&sp).expect("YAML")).expect("write");
        kubectl(kubeconfig, &["apply", "-f", &file.to_string_lossy()]).await;
        let status = json!({"status": {
            "securityProfileName": "Columns", "region": "us-east-1", "version": 3,
            "targetCount": 2,
            "securityProfileArn": "arn:aws:iot:us-east-1:123456789012:securityprofile/Columns",
            "violations": {"active": 4, "observedAt": "2026-01-01T00:00:00Z"},
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Available", "message": "",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess", "message": "",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"},
            ],
        }});
        kubectl(
            kubeconfig,
            &[
                "patch",
                "securityprofile",
                "columns",
                "-n",
                "default",
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ],
        )
        .await;
        let mut both = table(&kubectl(kubeconfig, &["get", "sp", "-n", "default"]).await);
        both.extend(table(
            &kubectl(kubeconfig, &["get", "sp", "-n", "default", "-o", "wide"]).await,
        ));
        tables.push(both);
    }
    assert!(
        explained[1].contains("comparisonOperator") && explained[1].contains("metricType"),
        "{}",
        explained[1]
    );
    assert_eq!(
        explained[0], explained[1],
        "kubectl explain: sandbox vs kube-apiserver"
    );
    let want: Vec<Vec<String>> = [
        vec![
            "NAME", "AWS NAME", "REGION", "READY", "SYNCED", "VERSION", "TARGETS",
        ],
        vec!["columns", "Columns", "us-east-1", "True", "True", "3", "2"],
        vec![
            "NAME",
            "AWS NAME",
            "REGION",
            "READY",
            "SYNCED",
            "VERSION",
            "TARGETS",
            "VIOLATIONS",
            "ARN",
        ],
        vec![
            "columns",
            "Columns",
            "us-east-1",
            "True",
            "True",
            "3",
            "2",
            "4",
            "arn:aws:iot:us-east-1:123456789012:securityprofile/Columns",
        ],
    ]
    .iter()
    .map(|r| r.iter().map(|c| c.to_string()).collect())
    .collect();
    assert_eq!(tables[1], want, "kube-apiserver's table");
    assert_eq!(
        tables[0], tables[1],
        "kubectl get: sandbox vs kube-apiserver"
    );
}
