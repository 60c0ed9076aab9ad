//! Active violations: off by default (no ListActiveViolations call at all), and when asked for,
//! status, `kubectl get -o wide`, the metric and the two zero-crossing events follow the
//! violations the emulator raises and clears, while Ready and Synced stay True.

use crate::cluster::{Server, kubectl, on_both_servers};
use crate::harness::*;
use securityprofile_operator::api::ViolationsStatus;
use serde_json::{Value, json};
use std::time::Duration;

fn behavior(name: &str) -> Value {
    json!({
        "name": name,
        "metric": "aws:num-messages-sent",
        "criteria": {
            "comparisonOperator": "greater-than", "value": {"count": 100},
            "durationSeconds": 300, "consecutiveDatapointsToAlarm": 1,
            "consecutiveDatapointsToClear": 1
        }
    })
}

fn manifest(name: &str, behaviors: &[&str], violations: Option<Value>) -> Value {
    let mut spec =
        json!({ "behaviors": behaviors.iter().map(|b| behavior(b)).collect::<Vec<_>>() });
    if let Some(v) = violations {
        spec["violations"] = v;
    }
    json!({
        "apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// The tests' scoped policy (`iam-policy --account … --cluster-id …`) with
/// `--report-violations`.
fn reporting_policy() -> Value {
    let args = securityprofile_operator::iam::PolicyArgs {
        report_violations: true,
        ..policy_args(CLUSTER)
    };
    securityprofile_operator::iam::policy_for(&args).expect("policy")
}

fn raise(env: &Env, profile: &str, thing: &str, behavior: &str, time: f64) {
    env.emulator
        .admin()
        .put_violation(json!({
            "securityProfileName": profile, "thingName": thing, "behaviorName": behavior,
            "value": {"count": 500}, "time": time
        }))
        .expect("raise a violation");
}

fn clear(env: &Env, profile: &str, thing: &str) {
    env.emulator
        .admin()
        .put_violation(json!({"securityProfileName": profile, "thingName": thing, "clear": true}))
        .expect("clear a violation");
}

fn violations_of(sp: &securityprofile_operator::api::SecurityProfile) -> Option<&ViolationsStatus> {
    sp.status.as_ref()?.violations.as_ref()
}

async fn violations_are_not_read_unless_asked(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s"]).await;
    env.create_json(manifest("quiet", &["b1"], None)).await;
    env.create_json(manifest(
        "declined",
        &["b1"],
        Some(json!({"report": false})),
    ))
    .await;
    env.wait_ready("quiet").await;
    env.wait_ready("declined").await;
    raise(&env, "quiet", "t1", "b1", 1_700_000_000.0);
    let describes = env.all_calls("DescribeSecurityProfile");
    eventually("three resyncs of each", Duration::from_secs(20), || async {
        (env.all_calls("DescribeSecurityProfile") >= describes + 6).then_some(())
    })
    .await;
    assert_eq!(env.all_calls("ListActiveViolations"), 0);
    for name in ["quiet", "declined"] {
        let sp = env.get(name).await.unwrap();
        assert!(violations_of(&sp).is_none(), "{name}: {:?}", sp.status);
    }
}
on_both_servers!(violations_are_not_read_unless_asked);

/// The `securityprofile_active_violations` series of one resource: behavior -> value.
async fn series(port: u16, name: &str) -> Vec<(String, String)> {
    let body = scrape(port).await;
    let prefix = format!(
        "securityprofile_active_violations{{namespace=\"{NS}\",name=\"{name}\",behavior=\""
    );
    let mut out: Vec<(String, String)> = body
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| {
            let (behavior, value) = rest.split_once("\"} ")?;
            Some((behavior.to_string(), value.trim().to_string()))
        })
        .collect();
    out.sort();
    out
}

async fn violations_follow_what_aws_reports(server: Server) {
    let mut env = Env::without_operator(server).await;
    let policy = reporting_policy();
    env.emulator.admin().set_iam_policy(None, &policy).unwrap();
    let metrics = free_port();
    let addr = format!("127.0.0.1:{metrics}");
    env.operator = Some(env.start_operator(args(
        &env.emulator.url(),
        &["--resync-period", "1s", "--metrics-addr", &addr],
    )));
    env.create_json(manifest(
        "watched",
        &["b1", "b2"],
        Some(json!({"report": true})),
    ))
    .await;
    env.wait_ready("watched").await;
    let sp = env
        .wait_for("watched", "violations read, none active", |sp| {
            violations_of(sp).is_some_and(|v| v.active == 0 && v.observed_at.is_some())
        })
        .await;
    let v = violations_of(&sp).unwrap();
    assert_eq!(v.by_behavior.get("b1"), Some(&0), "{v:?}");
    assert!(v.things.is_empty() && v.read_error.is_none(), "{v:?}");
    assert_eq!(
        series(metrics, "watched").await,
        [("b1".into(), "0".into()), ("b2".into(), "0".into())]
    );

    raise(&env, "watched", "t1", "b1", 1_700_000_000.0);
    raise(&env, "watched", "t2", "b2", 1_700_000_100.0);
    raise(&env, "watched", "t3", "b1", 1_700_000_200.0);
    let sp = env
        .wait_for("watched", "three active violations", |sp| {
            violations_of(sp).is_some_and(|v| v.active == 3)
        })
        .await;
    let v = violations_of(&sp).unwrap();
    assert_eq!(v.by_behavior.get("b1"), Some(&2), "{v:?}");
    assert_eq!(v.by_behavior.get("b2"), Some(&1), "{v:?}");
    assert_eq!(v.things, ["t3", "t2", "t1"], "newest first");
    assert_eq!(v.verification_states.get("UNKNOWN"), Some(&3), "{v:?}");
    assert_eq!(
        v.last_violation_time.as_deref(),
        Some("2023-11-14T22:16:40Z")
    );
    assert!(
        sp.is_true("Ready") && sp.is_true("Synced"),
        "{:?}",
        sp.status
    );
    let (type_, _, note) = env.wait_event("watched", "ViolationsActive").await;
    assert_eq!(type_, "Warning");
    assert!(note.contains('3'), "{note}");
    eventually("the metric follows", Duration::from_secs(10), || async {
        (series(metrics, "watched").await
            == [
                ("b1".to_string(), "2".to_string()),
                ("b2".into(), "1".into()),
            ])
        .then_some(())
    })
    .await;
    let wide = kubectl(
        &env.cluster.admin_kubeconfig,
        &["get", "sp", "watched", "-n", NS, "-o", "wide"],
    )
    .await;
    let header = wide.lines().next().unwrap_or_default();
    let row = wide.lines().nth(1).unwrap_or_default();
    let column = header.find("VIOLATIONS").expect("a VIOLATIONS column");
    assert!(row[column..].starts_with('3'), "{wide}");

    // One thing clears, then every one: one ViolationsCleared, never a second ViolationsActive.
    clear(&env, "watched", "t3");
    env.wait_for("watched", "two left", |sp| {
        violations_of(sp).is_some_and(|v| v.active == 2)
    })
    .await;
    clear(&env, "watched", "t1");
    clear(&env, "watched", "t2");
    let sp = env
        .wait_for("watched", "all cleared", |sp| {
            violations_of(sp).is_some_and(|v| v.active == 0)
        })
        .await;
    assert!(
        sp.is_true("Ready") && sp.is_true("Synced"),
        "{:?}",
        sp.status
    );
    let (type_, _, _) = env.wait_event("watched", "ViolationsCleared").await;
    assert_eq!(type_, "Normal");
    let reads = env.ok_calls("ListActiveViolations");
    eventually("more resyncs", Duration::from_secs(20), || async {
        (env.ok_calls("ListActiveViolations") >= reads + 3).then_some(())
    })
    .await;
    let events = env.events("watched").await;
    let count = |reason: &str| events.iter().filter(|e| e.1 == reason).count();
    assert_eq!(
        (count("ViolationsActive"), count("ViolationsCleared")),
        (1, 1),
        "{events:?}"
    );

    // A behavior that goes takes its series and its count; so does turning reporting off,
    // and deleting the resource.
    env.patch_spec("watched", json!({"behaviors": [behavior("b1")]}))
        .await;
    eventually("b2's series pruned", Duration::from_secs(20), || async {
        (series(metrics, "watched").await == [("b1".to_string(), "0".to_string())]).then_some(())
    })
    .await;
    env.wait_for("watched", "b2 gone from byBehavior", |sp| {
        violations_of(sp).is_some_and(|v| v.by_behavior.keys().eq(["b1"]))
    })
    .await;
    env.patch_spec("watched", json!({"violations": {"report": false}}))
        .await;
    env.wait_for("watched", "status.violations removed", |sp| {
        sp.is_ready_at_generation() && violations_of(sp).is_none()
    })
    .await;
    assert!(series(metrics, "watched").await.is_empty());
    let reads = env.all_calls("ListActiveViolations");
    settle(Duration::from_secs(3)).await;
    assert_eq!(
        env.all_calls("ListActiveViolations"),
        reads,
        "no read once off"
    );
    env.patch_spec("watched", json!({"violations": {"report": true}}))
        .await;
    env.wait_for("watched", "read again", |sp| violations_of(sp).is_some())
        .await;
    env.delete("watched").await;
    env.wait_gone("watched").await;
    eventually(
        "the resource's series pruned",
        Duration::from_secs(10),
        || async { series(metrics, "watched").await.is_empty().then_some(()) },
    )
    .await;
}
on_both_servers!(violations_follow_what_aws_reports);

/// `--report-violations` turns reading on for every resource; one that says `report: false`
/// stays out, and a refused read shows in status and an event without touching Ready.
async fn the_operator_flag_reports_for_every_resource(server: Server) {
    let env = Env::start_with(server, &["--resync-period", "1s", "--report-violations"]).await;
    env.create_json(manifest("fleet", &["b1"], None)).await;
    env.create_json(manifest(
        "declined",
        &["b1"],
        Some(json!({"report": false})),
    ))
    .await;
    env.wait_ready("declined").await;
    // The test policy lacks iot:ListActiveViolations (no --report-violations in iam-policy).
    let sp = env
        .wait_for("fleet", "the refused read shows", |sp| {
            violations_of(sp).is_some_and(|v| {
                v.read_error
                    .as_deref()
                    .is_some_and(|e| e.contains("AccessDenied"))
            })
        })
        .await;
    assert!(
        sp.is_true("Ready") && sp.is_true("Synced"),
        "{:?}",
        sp.status
    );
    env.wait_event("fleet", "ViolationsUnreadable").await;
    let policy = reporting_policy();
    env.emulator.admin().set_iam_policy(None, &policy).unwrap();
    raise(&env, "fleet", "t1", "b1", 1_700_000_000.0);
    raise(&env, "declined", "t1", "b1", 1_700_000_000.0);
    env.wait_for("fleet", "the read works again", |sp| {
        violations_of(sp).is_some_and(|v| v.active == 1 && v.read_error.is_none())
    })
    .await;
    let declined = env.get("declined").await.unwrap();
    assert!(violations_of(&declined).is_none(), "{:?}", declined.status);
    let state = env.emulator.admin().calls();
    assert!(
        state["ListActiveViolations"].values().sum::<u64>() >= 2,
        "{state:?}"
    );
}
on_both_servers!(the_operator_flag_reports_for_every_resource);
