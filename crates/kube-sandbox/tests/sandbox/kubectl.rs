//! The real kubectl against the sandbox: apply (client- and server-side), tables, yaml,
//! explain, watch, wait, patch, delete waiting on finalizers, namespaces (protobuf bodies).

use crate::common::{start, widget_crd_json};
use crate::tools::Cli;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const WIDGET: &str = "apiVersion: test.sandbox.io/v1
kind: Widget
metadata:
  name: w1
  namespace: default
spec:
  size: 3
  color: red
";

async fn with_crd(cli: &Cli) {
    let crd = cli.write("crd.json", &widget_crd_json().to_string());
    let out = cli.kubectl(&["apply", "-f", &crd]).await;
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/widgets.test.sandbox.io created"
        ),
        "{out}"
    );
}

fn columns(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_get_table_yaml_and_explain() {
    let (sb, _client) = start().await;
    let cli = Cli::new(&sb);
    with_crd(&cli).await;
    let w = cli.write("w.yaml", WIDGET);
    assert!(
        cli.kubectl(&["apply", "-f", &w])
            .await
            .contains("widget.test.sandbox.io/w1 created")
    );
    assert!(
        cli.kubectl(&["apply", "-f", &w])
            .await
            .contains("widget.test.sandbox.io/w1 unchanged")
    );

    let table = cli.kubectl(&["get", "widgets"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        columns(lines[0]),
        ["NAME", "SIZE", "COLOR", "READY", "AGE"],
        "{table}"
    );
    assert_eq!(&columns(lines[1])[..3], ["w1", "3", "red"], "{table}");

    let all = cli.kubectl(&["get", "wd", "-A"]).await;
    assert!(
        all.lines().next().unwrap().starts_with("NAMESPACE"),
        "{all}"
    );

    let yaml = cli.kubectl(&["get", "widget", "w1", "-o", "yaml"]).await;
    assert!(
        yaml.contains("kind: Widget")
            && yaml.contains("size: 3")
            && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    assert!(
        yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );

    let explain = cli.kubectl(&["explain", "widgets.spec.size"]).await;
    assert!(
        explain.contains("How big.") && explain.contains("<integer>"),
        "{explain}"
    );
    let explain = cli.kubectl(&["explain", "widgets"]).await;
    assert!(explain.contains("A widget for tests."), "{explain}");

    let described = cli.kubectl(&["describe", "widget", "w1"]).await;
    assert!(
        described.contains("Name:         w1") && described.contains("Size:   3"),
        "{described}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_owns_fields_and_reports_conflicts() {
    let (sb, _client) = start().await;
    let cli = Cli::new(&sb);
    let crd = cli.write("crd.json", &widget_crd_json().to_string());
    assert!(
        cli.kubectl(&["apply", "--server-side", "-f", &crd])
            .await
            .contains("serverside-applied")
    );
    let w = cli.write("w.yaml", WIDGET);
    cli.kubectl(&["apply", "--server-side", "-f", &w]).await;

    // Dropping a field from the applied config removes it.
    let smaller = cli.write("w2.yaml", &WIDGET.replace("  color: red\n", ""));
    cli.kubectl(&["apply", "--server-side", "-f", &smaller])
        .await;
    let spec = cli
        .kubectl(&["get", "wd", "w1", "-o", "jsonpath={.spec}"])
        .await;
    assert_eq!(spec, r#"{"size":3}"#);

    let other = cli.write(
        "w3.yaml",
        &WIDGET
            .replace("size: 3", "size: 8")
            .replace("  color: red\n", ""),
    );
    let err = cli
        .kubectl_fails(&[
            "apply",
            "--server-side",
            "--field-manager",
            "other",
            "-f",
            &other,
        ])
        .await;
    assert!(
        err.contains("conflict with \"kubectl\"") && err.contains(".spec.size"),
        "{err}"
    );
    cli.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "--force-conflicts",
        "-f",
        &other,
    ])
    .await;
    let size = cli
        .kubectl(&["get", "wd", "w1", "-o", "jsonpath={.spec.size}"])
        .await;
    assert_eq!(size, "8");
    let managers = cli
        .kubectl(&[
            "get",
            "wd",
            "w1",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(managers.contains("other"), "{managers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_wait_patch_and_delete_with_finalizer() {
    let (sb, _client) = start().await;
    let cli = Cli::new(&sb);
    with_crd(&cli).await;
    let w = cli.write("w.yaml", WIDGET);
    cli.kubectl(&["apply", "-f", &w]).await;

    let mut watch = cli
        .command("kubectl")
        .args(["get", "widgets", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let header = lines.next_line().await.unwrap().unwrap();
    assert!(header.starts_with("NAME"), "{header}");
    let first = lines.next_line().await.unwrap().unwrap();
    assert_eq!(&columns(&first)[..2], ["w1", "3"]);

    cli.kubectl(&[
        "patch",
        "wd",
        "w1",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"size":4}}"#,
    ])
    .await;
    let next = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(&columns(&next)[..2], ["w1", "4"], "watch shows the change");

    let err = cli
        .kubectl_fails(&["patch", "wd", "w1", "--type", "json", "-p", r#"[{"op":"test","path":"/spec/size","value":1},{"op":"replace","path":"/spec/size","value":2}]"#])
        .await;
    assert!(err.contains("invalid"), "{err}");

    let waiting = cli
        .command("kubectl")
        .args(["wait", "--for=condition=Ready", "wd/w1", "--timeout=20s"])
        .output();
    let ready = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cli.kubectl(&[
            "patch",
            "wd",
            "w1",
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
        ])
        .await;
    };
    let (out, _) = tokio::join!(waiting, ready);
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));

    cli.kubectl(&[
        "patch",
        "wd",
        "w1",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["test.sandbox.io/hold"]}}"#,
    ])
    .await;
    let mut delete = cli
        .command("kubectl")
        .args(["delete", "wd", "w1", "--timeout=30s"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        delete.try_wait().unwrap().is_none(),
        "kubectl delete waits while a finalizer remains"
    );
    let pending = cli
        .kubectl(&[
            "get",
            "wd",
            "w1",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(!pending.is_empty());
    cli.kubectl(&[
        "patch",
        "wd",
        "w1",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ])
    .await;
    let status = tokio::time::timeout(Duration::from_secs(20), delete.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let err = cli.kubectl_fails(&["get", "wd", "w1"]).await;
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    watch.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_configmaps_and_secrets_through_kubectl() {
    let (sb, _client) = start().await;
    let cli = Cli::new(&sb);
    assert!(
        cli.kubectl(&["create", "namespace", "team"])
            .await
            .contains("namespace/team created")
    );
    cli.kubectl(&[
        "-n",
        "team",
        "create",
        "configmap",
        "c",
        "--from-literal=a=b",
    ])
    .await;
    cli.kubectl(&[
        "-n",
        "team",
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=k=v",
    ])
    .await;
    let got = cli
        .kubectl(&[
            "-n",
            "team",
            "get",
            "configmap",
            "c",
            "-o",
            "jsonpath={.data.a}",
        ])
        .await;
    assert_eq!(got, "b");
    let secret = cli
        .kubectl(&[
            "-n",
            "team",
            "get",
            "secret",
            "s",
            "-o",
            "jsonpath={.data.k}",
        ])
        .await;
    assert_eq!(secret, "dg==");
    cli.kubectl(&[
        "-n",
        "team",
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
    ])
    .await;
    let svc = cli.kubectl(&["-n", "team", "get", "service", "web"]).await;
    let row = columns(svc.lines().nth(1).unwrap_or_default()).join(" ");
    assert!(
        row.starts_with("web ClusterIP 10.96.") && row.contains("<none> 80/TCP"),
        "{svc}"
    );
    let target = cli
        .kubectl(&[
            "-n",
            "team",
            "get",
            "service",
            "web",
            "-o",
            "jsonpath={.spec.ports[0].targetPort}",
        ])
        .await;
    assert_eq!(target, "8080");
    let ns = cli.kubectl(&["get", "ns"]).await;
    assert!(
        ns.lines().any(|l| columns(l)[..2] == ["team", "Active"]),
        "{ns}"
    );
    // Pods are served (stored as-is; nothing runs them), so `get pods` is not an error.
    let pods = cli.run("kubectl", &["-n", "team", "get", "pods"]).await;
    assert!(pods.status.success());
    assert!(
        String::from_utf8_lossy(&pods.stderr).contains("No resources found in team namespace.")
    );
    // RBAC is not enforced, and the reviews say so.
    assert_eq!(
        cli.kubectl(&["auth", "can-i", "create", "deployments", "-n", "team"])
            .await
            .trim(),
        "yes"
    );
    assert!(
        cli.kubectl(&["auth", "whoami"])
            .await
            .contains("sandbox-admin")
    );
    cli.kubectl(&["delete", "namespace", "team"]).await;
    let err = cli
        .kubectl_fails(&["-n", "team", "get", "configmap", "c"])
        .await;
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reports_invalid_and_unknown_fields() {
    let (sb, _client) = start().await;
    let cli = Cli::new(&sb);
    with_crd(&cli).await;
    let bad = cli.write("bad.yaml", &WIDGET.replace("color: red", "color: purple"));
    let err = cli.kubectl_fails(&["apply", "-f", &bad]).await;
    assert!(err.contains(r#"The Widget "w1" is invalid: "#), "{err}");
    assert!(
        err.contains(
            r#"* spec.color: Unsupported value: "purple": supported values: "red", "green", "blue""#
        ),
        "{err}"
    );
    let unknown = cli.write(
        "unknown.yaml",
        &WIDGET.replace("color: red", "shape: round"),
    );
    let err = cli.kubectl_fails(&["apply", "-f", &unknown]).await;
    assert!(err.contains(r#"unknown field "spec.shape""#), "{err}");
    let err = cli
        .kubectl_fails(&["apply", "--server-side", "-f", &bad])
        .await;
    assert!(
        err.contains(r#"spec.color: Unsupported value: "purple""#),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_events_published_through_events_k8s_io() {
    use kube::Resource;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let (sb, client) = start().await;
    let cli = Cli::new(&sb);
    with_crd(&cli).await;
    let w = cli.write("w.yaml", WIDGET);
    cli.kubectl(&["apply", "-f", &w]).await;
    let api: kube::Api<crate::common::Widget> = kube::Api::namespaced(client.clone(), "default");
    let widget = api.get("w1").await.unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "widget-controller".into(),
            instance: None,
        },
    );
    let event = Event {
        type_: EventType::Normal,
        reason: "Created".into(),
        note: Some("made the widget".into()),
        action: "Create".into(),
        secondary: None,
    };
    let reference = widget.object_ref(&());
    recorder.publish(&event, &reference).await.unwrap();
    // A repeat becomes a series (a merge patch of the stored event).
    recorder.publish(&event, &reference).await.unwrap();

    let core: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(client, "default");
    let listed = core
        .list(
            &kube::api::ListParams::default()
                .fields("involvedObject.name=w1,involvedObject.kind=Widget"),
        )
        .await
        .unwrap();
    assert_eq!(
        listed.items.len(),
        1,
        "one event, stored once for both APIs"
    );
    assert_eq!(listed.items[0].message.as_deref(), Some("made the widget"));

    let described = cli.kubectl(&["describe", "widget", "w1"]).await;
    let events = described.split("Events:").nth(1).unwrap_or_default();
    assert!(
        events.contains("Created") && events.contains("made the widget"),
        "{described}"
    );
    assert!(events.contains("widget-controller"), "{described}");

    let table = cli.kubectl(&["get", "events"]).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        columns(lines[0]),
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{table}"
    );
    assert!(
        lines[1].contains("Normal")
            && lines[1].contains("widget/w1")
            && lines[1].contains("made the widget"),
        "{table}"
    );
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: example.invalid/app:1
          args: [--port=8080]
          env:
            - {name: A, value: a}
        - name: side
          image: example.invalid/side:1
";

/// Client-side apply and `set image` send strategic merge patches: lists merge by key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_patches_keep_list_items() {
    let (sb, _client) = start().await;
    let cli = Cli::new(&sb);
    let d = cli.write("d.yaml", DEPLOYMENT);
    cli.kubectl(&["apply", "-f", &d]).await;
    cli.kubectl(&[
        "set",
        "image",
        "deployment/web",
        "side=example.invalid/side:2",
    ])
    .await;
    let images = cli
        .kubectl(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ])
        .await;
    assert_eq!(images, "example.invalid/app:1 example.invalid/side:2");

    // Change one env value and drop the sidecar: kubectl computes a patch with merge keys.
    let changed = DEPLOYMENT
        .replace("{name: A, value: a}", "{name: A, value: b}")
        .replace(
            "        - name: side\n          image: example.invalid/side:1\n",
            "",
        );
    let d2 = cli.write("d2.yaml", &changed);
    assert!(
        cli.kubectl(&["apply", "-f", &d2])
            .await
            .contains("deployment.apps/web configured")
    );
    let containers = cli
        .kubectl(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers}",
        ])
        .await;
    let containers: serde_json::Value = serde_json::from_str(&containers).unwrap();
    assert_eq!(
        containers,
        serde_json::json!([{"name": "app", "image": "example.invalid/app:1", "args": ["--port=8080"],
                            "env": [{"name": "A", "value": "b"}]}])
    );
    let table = cli.kubectl(&["get", "deploy"]).await;
    assert_eq!(
        columns(table.lines().next().unwrap()),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
}
