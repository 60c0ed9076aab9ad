//! The PrometheusRule and the Grafana dashboard the chart ships, against the operator's metrics.

use super::*;
use crate::harness::{Env, args, eventually, free_port, scrape, start_operator};
use std::collections::BTreeSet;
use std::time::Duration;

/// The alerting rules of the chart's PrometheusRule: (alert, expr).
fn alert_rules() -> Vec<(String, String)> {
    let objects = render(&[
        "prometheusRule.enabled=true",
        "prometheusRule.labels.release=prom",
    ]);
    let rule = one(&objects, "PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["metadata"]["labels"]["release"], "prom");
    let groups = rule["spec"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    groups[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["labels"]["severity"], "warning", "{r:#}");
            assert!(r["annotations"]["summary"].is_string(), "{r:#}");
            (
                r["alert"].as_str().unwrap().to_string(),
                r["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The PromQL queries of the chart's Grafana dashboard.
fn dashboard_queries() -> Vec<String> {
    let objects = render(&["grafanaDashboard.enabled=true"]);
    let cm = one(&objects, "ConfigMap");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let text = cm["data"]["securityprofile-operator.json"]
        .as_str()
        .unwrap();
    let dashboard: Value = serde_json::from_str(text).expect("the dashboard is valid JSON");
    assert_eq!(dashboard["uid"], "securityprofile-operator");
    let panels = dashboard["panels"].as_array().unwrap();
    let ids: BTreeSet<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .map(|t| t["expr"].as_str().unwrap().to_string())
        .collect()
}

/// Parses a PromQL expression as Prometheus does (types checked: a range vector where an
/// instant vector is due is an error).
fn promql(expr: &str) -> Result<(), String> {
    promql_parser::parser::parse(expr).map(|_| ())
}

/// The operator's metric names an expression refers to (its own `securityprofile_operator_…`
/// and the per-profile `securityprofile_…` series).
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("securityprofile_"))
        .map(str::to_string)
        .collect()
}

#[test]
fn prometheus_rule_and_dashboard_are_valid_promql() {
    // The parser is strict: it would catch a broken expression.
    for broken in [
        "sum(rate(x_total[5m])",
        "rate(x_total)",
        "sum by (a) (x) >",
        r#"x{a="b}"#,
    ] {
        assert!(promql(broken).is_err(), "{broken} is not PromQL");
    }
    let rules = alert_rules();
    let names: BTreeSet<&str> = rules.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "SecurityProfileOperatorAccessDenied",
            "SecurityProfileOperatorThrottled",
            "SecurityProfileActiveViolations",
            "SecurityProfileReconcileErrors",
            "SecurityProfilesNotReady",
        ])
    );
    for (alert, expr) in &rules {
        promql(expr).unwrap_or_else(|e| panic!("{alert}: {expr}: {e}"));
    }
    let queries = dashboard_queries();
    assert!(queries.len() >= 10, "{queries:?}");
    for q in &queries {
        promql(q).unwrap_or_else(|e| panic!("dashboard query {q}: {e}"));
    }
    let objects = render(&[]);
    assert!(of_kind(&objects, "PrometheusRule").is_empty());
    assert!(of_kind(&objects, "ConfigMap").is_empty());
}

/// An operator on known probe and metrics ports that has reconciled one profile.
async fn running_world() -> (Env, u16, u16) {
    let mut env = Env::without_operator(crate::cluster::Server::Sandbox).await;
    let (health, metrics) = (free_port(), free_port());
    let (h, m) = (
        format!("127.0.0.1:{health}"),
        format!("127.0.0.1:{metrics}"),
    );
    env.operator = Some(start_operator(
        env.client.clone(),
        args(
            &env.emulator.url(),
            &["--health-addr", &h, "--metrics-addr", &m],
        ),
    ));
    env.create("watched", Default::default()).await;
    env.wait_ready("watched").await;
    (env, health, metrics)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_alerts_and_the_dashboard_query_is_exported() {
    let (_env, _health, metrics) = running_world().await;
    let body = scrape(metrics).await;
    let exported: BTreeSet<String> = body
        .lines()
        .skip_while(|l| !l.is_empty())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        // A family without series yet (no profile reports violations here) is declared.
        .chain(
            body.lines()
                .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()),
        )
        .map(str::to_string)
        .collect();
    assert!(
        exported.contains("securityprofile_operator_build_info"),
        "{exported:?}"
    );
    let build_info = format!(
        "securityprofile_operator_build_info{{version=\"{}\",revision=\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(body.contains(&build_info), "{body}");
    let queried: BTreeSet<String> = alert_rules()
        .iter()
        .map(|(_, e)| e.clone())
        .chain(dashboard_queries())
        .flat_map(|e| metric_names(&e))
        .collect();
    assert!(queried.len() >= 6, "{queried:?}");
    // Its series exist only for resources that report violations and have behaviors (none
    // here); `violations::violations_follow_what_aws_reports` reads them from /metrics.
    let mut queried = queried;
    assert!(
        queried.remove("securityprofile_active_violations"),
        "{queried:?}"
    );
    let missing: Vec<&String> = queried.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "queried but not exported: {missing:?}; exported: {exported:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helm_test_probe_passes_against_a_ready_operator_only() {
    let objects = render(&[]);
    let pod_args: Vec<String> = one(&objects, "Pod")["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let bin = env!("CARGO_BIN_EXE_securityprofile-operator");
    // The pod's own args, with the Service's address replaced by the operator's.
    let probe = |port: u16| {
        let args: Vec<String> = pod_args
            .iter()
            .map(|a| {
                a.replace(
                    "spo-securityprofile-operator-health.spo-system.svc:8081",
                    &format!("127.0.0.1:{port}"),
                )
            })
            .collect();
        assert_ne!(args, pod_args, "the URL names the health Service");
        std::process::Command::new(bin)
            .args(&args)
            .output()
            .unwrap()
    };
    let closed = free_port();
    let out = probe(closed);
    assert!(!out.status.success(), "nothing listens: {}", text(&out));

    let (_env, health, _metrics) = running_world().await;
    let out = eventually("the probe passes", Duration::from_secs(10), || async {
        let out = probe(health);
        out.status.success().then_some(out)
    })
    .await;
    assert!(text(&out).contains("200"), "{}", text(&out));
}
