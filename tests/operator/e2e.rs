//! End to end: the built binary as separate processes (`sandbox --no-controller` serving the API
//! and the emulator, `run` as the operator), driven by kubectl, checked through the emulator's
//! admin API over HTTP. Fault tests (kill -9, leader election, error storms) are in `e2e/faults.rs`.

use crate::cluster::{Server, on_both_servers};
#[path = "e2e/control_plane.rs"]
mod control_plane;
#[path = "e2e/faults.rs"]
mod faults;
#[path = "e2e/http.rs"]
pub(crate) mod http;
#[path = "e2e/identity.rs"]
mod identity;
#[path = "e2e/proxy.rs"]
mod proxy;
#[path = "e2e/world.rs"]
pub(crate) mod world;

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use world::*;

/// What the sandbox's table must show for one example resource.
#[derive(Debug)]
struct Expected {
    aws_name: String,
    targets: usize,
    /// Observe-only: it reports the observed profile as of its last read.
    observes: bool,
}

/// namespace/name → what the table shows, for every SecurityProfile in examples/.
fn example_resources() -> BTreeMap<String, Expected> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("examples/ exists") {
        let path = entry.expect("a directory entry").path();
        if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read an example");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if v["kind"] != "SecurityProfile" {
                continue;
            }
            let name = v["metadata"]["name"].as_str().expect("metadata.name");
            let ns = v["metadata"]["namespace"].as_str().unwrap_or("default");
            let aws_name = v["spec"]["securityProfileName"].as_str().unwrap_or(name);
            let targets = v["spec"]["targetArns"].as_array().map_or(0, Vec::len);
            let observes = v["spec"]["managementPolicy"] == "Observe";
            out.push((
                format!("{ns}/{name}"),
                aws_name.to_string(),
                targets,
                observes,
            ));
        }
    }
    // An observer reports the profile it observes: its manager's targets.
    let managed: BTreeMap<String, usize> = out
        .iter()
        .filter(|r| !r.3)
        .map(|r| (r.1.clone(), r.2))
        .collect();
    out.into_iter()
        .map(|(key, aws_name, targets, observes)| {
            let targets = if observes {
                *managed.get(&aws_name).unwrap_or_else(|| {
                    panic!("{key} observes {aws_name}, which no example manages")
                })
            } else {
                targets
            };
            (
                key,
                Expected {
                    aws_name,
                    targets,
                    observes,
                },
            )
        })
        .collect()
}

/// `sandbox --apply PATH --once [extra]` on free ports: (stdout, stdout and stderr), once it
/// succeeded.
async fn sandbox_once(path: &str, extra: &[&str]) -> (String, String) {
    let dir = TempDir::new("sandbox-once");
    let run = tokio::process::Command::new(BINARY)
        .args(["sandbox", "--apply"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .args(extra)
        .args([
            "--once",
            "--emulator-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--kubeconfig-out",
        ])
        .arg(dir.path().join("kubeconfig"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("sandbox --once finishes")
        .expect("sandbox runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sandbox --once failed:\n{report}");
    (stdout, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_converges_in_the_sandbox() {
    let expected = example_resources();
    assert!(
        expected.len() >= 7,
        "examples/ holds minimal, every field, ML Detect, targets, Retain, Adopt, Observe: {expected:?}"
    );
    let (stdout, report) = sandbox_once("examples", &[]).await;

    // The convergence table: a header, one row per resource, then "N of M converged".
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("NAMESPACE/NAME"))
        .skip(1)
        .take_while(|l| !l.contains(" converged in "))
        .filter(|l| !l.starts_with(' '))
        .collect();
    let mut seen = BTreeMap::new();
    for row in &table {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells.len(), 6, "row {row:?} of\n{report}");
        seen.insert(cells[0].to_string(), cells);
    }
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "every example's resource is in the table:\n{report}"
    );
    for (key, want) in &expected {
        let aws_name = &want.aws_name;
        let cells = &seen[key];
        assert_eq!(cells[1], aws_name, "{key}: AWS name\n{report}");
        assert_eq!(cells[2], "True", "{key}: READY\n{report}");
        assert!(
            cells[3].parse::<u64>().is_ok_and(|v| v >= 1),
            "{key}: VERSION\n{report}"
        );
        let targets: usize = cells[4].parse().expect("TARGETS is a number");
        if want.observes {
            // It may have read the profile between its manager's create and attach (attaching
            // does not bump the version, so it re-reads only at resync).
            assert!(targets <= want.targets, "{key}: TARGETS\n{report}");
        } else {
            assert_eq!(targets, want.targets, "{key}: TARGETS\n{report}");
        }
        assert_eq!(
            cells[5],
            format!("arn:aws:iot:us-east-1:123456789012:securityprofile/{aws_name}"),
            "{key}: ARN\n{report}"
        );
    }
    let n = expected.len();
    assert!(
        stdout.contains(&format!("{n} of {n} converged")),
        "summary line:\n{report}"
    );
}

/// `sandbox --demo-violations`: the example's status fills in from the emulator, then clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_violations_demo_fills_and_clears_the_status() {
    let (stdout, report) = sandbox_once("examples/violations.yaml", &["--demo-violations"]).await;
    for line in [
        "--demo-violations runs the controller with --resync-period 10s and --report-violations",
        "raised 3 violations of messages-sent on watched-fleet",
        "default/watched-fleet: status.violations.active=3",
        r#""messages-sent": 3"#,
        "default/watched-fleet: status.violations.active=0 again",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{report}");
    }
}

async fn kubectl_apply_ready_edit_delete_with_the_run_binary(server: Server) {
    let world = World::start(server, "lifecycle").await;
    let _operator = world.operator("operator", &[]).await;
    let group = world.emulator.thing_group("e2e-fleet").await;
    let behavior = |name: &str, count: u64| {
        json!({"name": name, "metric": "aws:num-disconnects",
               "criteria": {"comparisonOperator": "greater-than", "value": {"count": count},
                            "durationSeconds": 300}})
    };
    let first = security_profile(
        "e2e-life",
        json!({
            "securityProfileDescription": "first",
            "behaviors": [behavior("Disconnects", 5)],
            "targetArns": [group],
            "tags": [{"key": "team", "value": "a"}],
        }),
    );
    let file = world.write("life.yaml", &yaml(&[first]));
    let file = file.to_str().expect("UTF-8 path");

    // apply → Ready
    world.kubectl_ok(&["apply", "-f", file]).await;
    world
        .kubectl_ok(&[
            "wait",
            "--for=condition=Ready",
            "securityprofile/e2e-life",
            "-n",
            "default",
            "--timeout=60s",
        ])
        .await;
    let p = world
        .emulator
        .profile("e2e-life")
        .await
        .expect("the profile exists in AWS once Ready");
    assert_eq!(p["securityProfileDescription"], "first");
    assert_eq!(p["behaviors"].as_array().map(Vec::len), Some(1));
    assert_eq!(p["targets"], json!([group]));
    assert_eq!(p["tags"]["team"], "a");
    assert_eq!(p["version"], 1);

    // The table kubectl prints.
    let table = parse_table(
        &world
            .kubectl_ok(&["get", "securityprofiles", "-n", "default"])
            .await,
    );
    assert_eq!(table.len(), 1, "{table:?}");
    let row = &table[0];
    assert_eq!(cell(row, "NAME"), "e2e-life");
    assert_eq!(cell(row, "AWS NAME"), "e2e-life");
    assert_eq!(cell(row, "REGION"), "us-east-1");
    assert_eq!(cell(row, "READY"), "True");
    assert_eq!(cell(row, "SYNCED"), "True");
    assert_eq!(cell(row, "VERSION"), "1");
    assert_eq!(cell(row, "TARGETS"), "1");

    // Edit the file and apply it again → AWS follows.
    let second = security_profile(
        "e2e-life",
        json!({
            "securityProfileDescription": "second",
            "behaviors": [behavior("Disconnects", 9), behavior("MoreDisconnects", 20)],
            "targetArns": [group],
            "tags": [{"key": "team", "value": "b"}],
        }),
    );
    world.write("life.yaml", &yaml(&[second]));
    world.kubectl_ok(&["apply", "-f", file]).await;
    let p =
        crate::harness::eventually(
            "AWS follows the applied edit",
            Duration::from_secs(60),
            || async {
                world.emulator.profile("e2e-life").await.filter(|p| {
                    p["securityProfileDescription"] == "second" && p["tags"]["team"] == "b"
                })
            },
        )
        .await;
    assert_eq!(p["behaviors"].as_array().map(Vec::len), Some(2));
    assert_eq!(p["behaviors"][0]["criteria"]["value"]["count"], 9);
    world
        .wait_converged(&["e2e-life".into()], Duration::from_secs(60))
        .await;
    let version = world
        .kubectl_ok(&[
            "get",
            "securityprofile",
            "e2e-life",
            "-n",
            "default",
            "-o",
            "jsonpath={.status.version}",
        ])
        .await;
    let aws_version = world.emulator.profile("e2e-life").await.expect("profile")["version"].clone();
    assert_eq!(version, aws_version.to_string(), "status.version is AWS's");
    assert!(
        aws_version.as_u64().is_some_and(|v| v >= 2),
        "{aws_version}"
    );

    // kubectl patch → the target is detached.
    world
        .kubectl_ok(&[
            "patch",
            "securityprofile",
            "e2e-life",
            "-n",
            "default",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"targetArns":[]}}"#,
        ])
        .await;
    crate::harness::eventually(
        "AWS detaches the target",
        Duration::from_secs(60),
        || async {
            world
                .emulator
                .profile("e2e-life")
                .await
                .filter(|p| p["targets"].as_array().is_some_and(Vec::is_empty))
        },
    )
    .await;
    world
        .wait_converged(&["e2e-life".into()], Duration::from_secs(60))
        .await;
    let table = parse_table(
        &world
            .kubectl_ok(&["get", "securityprofiles", "-n", "default"])
            .await,
    );
    assert_eq!(cell(&table[0], "TARGETS"), "0", "{table:?}");

    // kubectl delete waits for the finalizer, which goes only once AWS has deleted the profile.
    world
        .kubectl_ok(&["delete", "-f", file, "--timeout=60s"])
        .await;
    assert!(
        world.emulator.profile("e2e-life").await.is_none(),
        "the AWS profile is gone when kubectl delete returns"
    );
    let err = world
        .kubectl(&["get", "securityprofile", "e2e-life", "-n", "default"])
        .await
        .expect_err("the resource is gone");
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}
on_both_servers!(kubectl_apply_ready_edit_delete_with_the_run_binary);
