//! `helm install`, `helm upgrade`, `helm uninstall` into each API server (`cluster.rs`), the
//! operator running with the Deployment's args under the chart's RBAC: on kube-sandbox with
//! its RBAC enforcement on (it records each decision), on kube-apiserver with the real RBAC
//! authorizer (its audit log records each request and answer).

use super::*;
use crate::cluster::{Cluster, Server, client_from, kubectl, on_both_servers, tool};
use crate::harness::{Env, NS, REGION, start_emulator, start_operator};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube_sandbox::SandboxConfig;
use kube_sandbox::rbac::{Attributes, Decision as Seen, Grants, RbacObjects};
use securityprofile_operator::api::SecurityProfile;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

// ---------------------------------------------------------------- helm install + operator

/// The values file that turns every feature of the chart on (chart-testing's `ci/` folder).
fn every_feature_values() -> PathBuf {
    chart().join("ci").join("every-feature-values.yaml")
}

/// The Prometheus Operator's CRDs (`scripts/tools.sh` takes them from its Go module), which the
/// chart's ServiceMonitor and PrometheusRule need.
async fn install_prometheus_operator_crds(cluster: &Cluster) {
    let crds = tool("kubectl")
        .parent()
        .and_then(Path::parent)
        .expect("the tools directory")
        .join("crds/prometheus-operator");
    assert!(
        crds.is_dir(),
        "{} is missing: run scripts/tools.sh",
        crds.display()
    );
    kubectl(
        &cluster.admin_kubeconfig,
        &["apply", "--server-side", "-f", &crds.to_string_lossy()],
    )
    .await;
}

/// What the chart granted the operator's ServiceAccount and what it asked, as the server saw
/// it.
struct Access {
    grants: Grants,
    seen: Vec<Seen>,
}

/// The grants of `namespace/name` in the RBAC objects the server holds now.
async fn grants_on_the_server(client: &kube::Client, namespace: &str, name: &str) -> Grants {
    let list = |plural: &'static str, kind: &'static str| {
        let client = client.clone();
        async move {
            let gvk = kube::api::GroupVersionKind::gvk("rbac.authorization.k8s.io", "v1", kind);
            let resource = kube::api::ApiResource::from_gvk_with_plural(&gvk, plural);
            Api::<DynamicObject>::all_with(client, &resource)
                .list(&ListParams::default())
                .await
                .expect("list RBAC objects")
                .items
                .into_iter()
                .map(|o| serde_json::to_value(o).expect("JSON"))
                .collect::<Vec<_>>()
        }
    };
    let rbac = RbacObjects {
        cluster_roles: list("clusterroles", "ClusterRole").await,
        roles: list("roles", "Role").await,
        cluster_role_bindings: list("clusterrolebindings", "ClusterRoleBinding").await,
        role_bindings: list("rolebindings", "RoleBinding").await,
    };
    Grants::from_objects(&rbac, namespace, name)
}

/// The service account's requests in kube-apiserver's audit log after the first `skip` events,
/// as the sandbox records decisions.
fn seen_in_audit(events: &[Value], skip: usize, user: &str) -> Vec<Seen> {
    events
        .iter()
        .skip(skip)
        .filter(|e| e["user"]["username"] == user)
        .map(|e| {
            let o = &e["objectRef"];
            let attributes = o["resource"].as_str().map(|resource| Attributes {
                verb: e["verb"].as_str().unwrap_or_default().to_string(),
                group: o["apiGroup"].as_str().unwrap_or_default().to_string(),
                resource: match o["subresource"].as_str() {
                    Some(sub) => format!("{resource}/{sub}"),
                    None => resource.to_string(),
                },
                namespace: o["namespace"].as_str().map(str::to_string),
                name: o["name"].as_str().map(str::to_string),
            });
            let uri = e["requestURI"].as_str().unwrap_or_default();
            Seen {
                user: user.to_string(),
                request: format!("{} {uri}", e["verb"].as_str().unwrap_or_default()),
                path: uri.split('?').next().unwrap_or_default().to_string(),
                attributes,
                allowed: e["responseStatus"]["code"] != 403,
            }
        })
        .collect()
}

/// Installs the chart into a fresh `server` with `sets` (and a values file), runs the operator
/// in-process with the Deployment's own args as the chart's ServiceAccount (a token the server
/// authorizes with RBAC), and reconciles a profile to Ready and away. Returns what the chart
/// granted and what the operator asked.
async fn install_and_reconcile(server: Server, sets: &[&str], values: Option<&Path>) -> Access {
    let emulator = start_emulator().await;
    let cluster = Cluster::start_bare(
        server,
        SandboxConfig {
            rbac: true,
            ..Default::default()
        },
    )
    .await;
    let client = cluster.admin.clone();
    if values.is_some() {
        install_prometheus_operator_crds(&cluster).await;
    }
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
    std::fs::copy(&cluster.admin_kubeconfig, scratch.0.join("kubeconfig")).unwrap();
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
    if let Some(values) = values {
        cmd.arg("--values").arg(values);
    }
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().await.unwrap();
    let t = text(&out);
    assert!(
        out.status.success(),
        "helm install failed: {t}\n{}",
        cluster.logs()
    );
    assert!(t.contains("STATUS: deployed"), "{t}");
    assert!(
        t.contains("kubectl wait securityprofile"),
        "NOTES.txt is shown: {t}"
    );
    // Every object of the release is on the server as rendered.
    let manifest = scratch
        .helm()
        .args(["get", "manifest", "spo", "-n", "spo-system"])
        .output()
        .unwrap();
    assert!(
        manifest.status.success(),
        "helm get manifest: {}",
        text(&manifest)
    );
    let manifest_file = scratch.0.join("manifest.yaml");
    std::fs::write(&manifest_file, &manifest.stdout).unwrap();
    let listed = kubectl(
        &cluster.admin_kubeconfig,
        &["get", "-f", &manifest_file.to_string_lossy(), "-o", "name"],
    )
    .await;
    let rendered = yaml_documents(&String::from_utf8_lossy(&manifest.stdout)).len();
    assert_eq!(
        listed.lines().count(),
        rendered,
        "every rendered object exists:\n{listed}"
    );

    // The CRD came from the chart; wait until the API serves the kind.
    let profiles: Api<SecurityProfile> = Api::namespaced(client.clone(), NS);
    crate::harness::eventually(
        "the chart's CRD is served",
        Duration::from_secs(30),
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
    // The chart's operator is cluster "kube-system UID" unless clusterId is set: the emulator
    // enforces its policy.
    let cluster_id = match &args.cluster_id {
        Some(id) => id.clone(),
        None => Api::<Namespace>::all(client.clone())
            .get("kube-system")
            .await
            .unwrap()
            .metadata
            .uid
            .expect("kube-system has a UID"),
    };
    emulator
        .admin()
        .set_iam_policy(None, &crate::harness::iam_policy(&cluster_id))
        .unwrap();

    let operator_client = match cluster.sandbox() {
        Some(sandbox) => sandbox
            .service_account_client("spo-system", &sa)
            .await
            .unwrap(),
        None => {
            let plane = cluster.control_plane().expect("a control plane");
            client_from(
                &plane
                    .service_account_kubeconfig("spo-system", &sa)
                    .await
                    .expect("a token from the TokenRequest API"),
            )
            .await
        }
    };
    // The server enforces: what the chart does not grant is Forbidden.
    let denied = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(
        operator_client.clone(),
        "spo-system",
    )
    .list(&ListParams::default())
    .await;
    assert!(
        matches!(&denied, Err(kube::Error::Api(s)) if s.code == 403),
        "listing Secrets is not granted: {denied:?}"
    );
    let audit_start = match cluster.sandbox() {
        Some(sandbox) => {
            sandbox.clear_authorizations();
            0
        }
        None => cluster
            .control_plane()
            .map_or(0, |p| p.audit_events().len()),
    };
    let running = start_operator(operator_client.clone(), args);
    let env = Env {
        emulator,
        cluster,
        client,
        operator_client,
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
    // NOTES.txt's inline example is a valid SecurityProfile (the CRD's schema admits it).
    let mut example = super::chart::notes_example(&t);
    example["metadata"]["namespace"] = json!(NS);
    Api::<SecurityProfile>::namespaced(env.client.clone(), NS)
        .create(
            &PostParams::default(),
            &serde_json::from_value(example).unwrap(),
        )
        .await
        .expect("the NOTES example is admitted");
    let user = kube_sandbox::rbac::service_account_user("spo-system", &sa);
    match env.cluster.sandbox() {
        Some(sandbox) => Access {
            grants: sandbox.grants("spo-system", &sa),
            seen: sandbox.authorizations(),
        },
        None => Access {
            grants: grants_on_the_server(&env.client, "spo-system", &sa).await,
            seen: seen_in_audit(
                &env.cluster
                    .control_plane()
                    .expect("a control plane")
                    .audit_events(),
                audit_start,
                &user,
            ),
        },
    }
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
async fn helm_upgrade_upgrades_the_crd_and_uninstall_keeps_it(server: Server) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let cluster = Cluster::start_bare(server, SandboxConfig::default()).await;
    let client = cluster.admin.clone();
    let scratch = Scratch::new("upgrade");
    std::fs::copy(&cluster.admin_kubeconfig, scratch.0.join("kubeconfig")).unwrap();
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
    crate::harness::eventually("the CRD is served", Duration::from_secs(30), || async {
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
on_both_servers!(helm_upgrade_upgrades_the_crd_and_uninstall_keeps_it);

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
        "the operator's requests were authorized by RBAC"
    );
}

/// Granted but not exercised by one create/delete: the Recorder patches an Event only when the
/// same event repeats (an event series).
fn unexercised() -> BTreeSet<(String, String, String)> {
    let mut idle = BTreeSet::from([("events.k8s.io".into(), "events".into(), "patch".into())]);
    // The install test applies only SecurityProfiles: the finalizer and status writes of the
    // CustomMetric and Dimension controllers are not exercised there (their lists and watches
    // are).
    for resource in [
        "custommetrics",
        "custommetrics/status",
        "dimensions",
        "dimensions/status",
    ] {
        idle.insert(("iot.awscc.io".into(), resource.into(), "patch".into()));
    }
    idle
}

async fn helm_install_then_the_operator_reconciles_with_the_charts_cluster_rbac(server: Server) {
    // Two replicas: leader election on, so the Lease rules are exercised too.
    let Access { grants, seen } = install_and_reconcile(server, &["replicaCount=2"], None).await;
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
on_both_servers!(helm_install_then_the_operator_reconciles_with_the_charts_cluster_rbac);

async fn helm_install_with_watch_namespaces_runs_on_roles_only(server: Server) {
    // Without leader election: every request stays in the watched namespace (and kube-system).
    let Access { grants, seen } = install_and_reconcile(
        server,
        &["watchNamespaces={team-a}", "leaderElection.enabled=false"],
        None,
    )
    .await;
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
on_both_servers!(helm_install_with_watch_namespaces_runs_on_roles_only);

/// Every feature of the chart on (`ci/every-feature-values.yaml`: two replicas, IRSA,
/// guardrails, ServiceMonitor and PrometheusRule against the Prometheus Operator's own CRDs,
/// Grafana dashboard, NetworkPolicy, PDB, extra volumes, …): the server accepts every object,
/// and the operator reconciles with nothing denied.
async fn helm_install_with_every_feature_on(server: Server) {
    let Access { grants, seen } =
        install_and_reconcile(server, &[], Some(&every_feature_values())).await;
    assert_nothing_denied(&seen);
    assert!(!grants.cluster.is_empty(), "a ClusterRole is bound");
}
on_both_servers!(helm_install_with_every_feature_on);
