//! The chart: lint, metadata, the objects it renders for each value, the schema.

use super::*;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

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

/// The chart's CRDs are `crds/` verbatim (file copies) and render to the same objects, plus the
/// chart's labels and the keep policy; they are templates so `helm upgrade` upgrades them.
#[test]
fn chart_crd_is_the_generated_crd() {
    assert!(
        !chart().join("crds").exists(),
        "the chart must not use crds/ (helm never upgrades those)"
    );
    let objects = render(&[]);
    let rendered = of_kind(&objects, "CustomResourceDefinition");
    assert_eq!(rendered.len(), CRD_FILES.len(), "one CRD per file of crds/");
    for file in CRD_FILES {
        let generated = std::fs::read_to_string(root().join("crds").join(file)).unwrap();
        let copy = std::fs::read_to_string(chart().join("files").join(file)).unwrap();
        assert!(
            generated == copy,
            "charts/{CHART_NAME}/files/{file} is stale: cp crds/{file} charts/{CHART_NAME}/files/"
        );
        let expected: Value = serde_yaml_ng::from_str(&generated).unwrap();
        let mut crd: Value = (*rendered
            .iter()
            .find(|c| c["metadata"]["name"] == expected["metadata"]["name"])
            .unwrap_or_else(|| panic!("the chart renders no CRD of crds/{file}")))
        .clone();
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
        assert_eq!(crd, expected, "the rendered CRD differs from crds/{file}");
    }
    let files: BTreeSet<String> = std::fs::read_dir(root().join("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        CRD_FILES.iter().map(|f| f.to_string()).collect(),
        "every file of crds/ is rendered by the chart"
    );

    let objects = render(&["crds.keep=false"]);
    for crd in of_kind(&objects, "CustomResourceDefinition") {
        assert!(crd["metadata"].get("annotations").is_none(), "{crd:#}");
    }
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
            "Pod",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]),
        "a Role for leases (leader election is on by default), the helm test Pod, no \
         ServiceMonitor, NetworkPolicy, PrometheusRule or dashboard by default"
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
            &format!("--aws-tps={DEFAULT_AWS_TPS}"),
            "--leader-elect",
            "--leader-election-namespace=spo-system",
            "--lease-duration=15s",
        ]
    );
    // The args are valid flags of `run` (the same parser as the binary).
    let parsed = controller_args(&args_of(&objects)[1..]);
    assert!(parsed.leader.enabled, "leader election is on by default");
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
                e["valueFrom"]["fieldRef"]["fieldPath"]
                    .as_str()
                    .or(e["value"].as_str())
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        env,
        [
            ("POD_NAME", "metadata.name"),
            ("POD_NAMESPACE", "metadata.namespace"),
            ("RUST_LOG", "info"),
            ("RENEW_DEADLINE", "10s"),
            ("ALLOW_ADOPTION", "false"),
            ("RESYNC_BUDGET", "50"),
            ("REPORT_VIOLATIONS", "false"),
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
    let cluster_role = named(&objects, "ClusterRole", "spo-securityprofile-operator");
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

    // One replica: on unless turned off; more than one: always on.
    assert!(
        !args_of(&render(&["replicaCount=1", "leaderElection.enabled=false"]))
            .contains(&"--leader-elect".to_string())
    );
    assert!(args_of(&render(&["replicaCount=1"])).contains(&"--leader-elect".to_string()));
    assert!(
        args_of(&render(&["replicaCount=2", "leaderElection.enabled=false"]))
            .contains(&"--leader-elect".to_string())
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
    // With the aggregated roles for people, the ClusterRoles are only those (bound to no one).
    let objects = render(&["watchNamespaces={team-a,team-b}"]);
    let names: BTreeSet<&str> = of_kind(&objects, "ClusterRole")
        .iter()
        .map(|r| r["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "spo-securityprofile-operator-edit",
            "spo-securityprofile-operator-view"
        ])
    );
    assert!(of_kind(&objects, "ClusterRoleBinding").is_empty());
    // Without leader election and the roles for people, so that every Role is about the
    // watched namespaces.
    let objects = render(&[
        "watchNamespaces={team-a,team-b}",
        "leaderElection.enabled=false",
        "rbac.aggregateToDefaultRoles=false",
    ]);
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
    let objects = render(&[
        "watchNamespaces={team-a}",
        "clusterId=prod-eu",
        "leaderElection.enabled=false",
    ]);
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
    let svc = named(&objects, "Service", "spo-securityprofile-operator-metrics");
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

// ---------------------------------------------------------------- chart: operator settings

fn env_of(objects: &[Value]) -> Vec<(String, String)> {
    container(objects)["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?.into(), e["value"].as_str()?.into())))
        .collect()
}

fn env_value(objects: &[Value], name: &str) -> Option<String> {
    env_of(objects)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

#[test]
fn aws_tps_defaults_to_the_documented_quotas_and_each_can_be_changed() {
    let parsed = controller_args(&args_of(&render(&[]))[1..]);
    let tps: std::collections::BTreeMap<String, f64> = parsed.aws.tps.into_iter().collect();
    let mut expected: std::collections::BTreeMap<String, f64> = [
        "CreateSecurityProfile",
        "UpdateSecurityProfile",
        "DeleteSecurityProfile",
        "AttachSecurityProfile",
        "DetachSecurityProfile",
        "ListTargetsForSecurityProfile",
        "ListSecurityProfiles",
        "ValidateSecurityProfileBehaviors",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
    ]
    .into_iter()
    .map(|op| (op.to_string(), 10.0))
    .collect();
    expected.insert("DescribeSecurityProfile".into(), 25.0);
    assert_eq!(tps, expected);

    let parsed = controller_args(
        &args_of(&render(&[
            "awsTps.DescribeSecurityProfile=5",
            "awsTps.AttachSecurityProfile=2.5",
        ]))[1..],
    );
    let tps: std::collections::BTreeMap<String, f64> = parsed.aws.tps.into_iter().collect();
    assert_eq!(tps["DescribeSecurityProfile"], 5.0);
    assert_eq!(tps["AttachSecurityProfile"], 2.5);
    assert_eq!(
        tps["CreateSecurityProfile"], 10.0,
        "the others keep their quota"
    );

    let args = args_of(&render(&["awsTps=null"]));
    assert!(
        !args.iter().any(|a| a.starts_with("--aws-tps")),
        "null turns pacing off: {args:?}"
    );
    for (bad, needle) in [
        (
            "awsTps.DescribeSecurityProfile=0",
            "/awsTps/DescribeSecurityProfile",
        ),
        ("awsTps.describe=5", "invalid propertyName 'describe'"),
    ] {
        let out = template_output(&[bad]);
        assert!(!out.status.success(), "--set {bad} is rejected");
        assert!(text(&out).contains(needle), "{}", text(&out));
    }
}

#[test]
fn log_level_and_guardrails_are_passed_as_environment_variables() {
    let objects = render(&[]);
    assert_eq!(env_value(&objects, "RUST_LOG").as_deref(), Some("info"));
    assert_eq!(
        env_value(&objects, "ALLOW_ADOPTION").as_deref(),
        Some("false")
    );
    assert_eq!(env_value(&objects, "RESYNC_BUDGET").as_deref(), Some("50"));
    for name in [
        "ALLOWED_ROLE_ARNS",
        "ALLOWED_SNS_TOPIC_ARNS",
        "ALLOWED_MQTT_TOPICS",
        "ALLOWED_TARGET_ARNS",
        "ALLOWED_REGIONS",
    ] {
        assert_eq!(
            env_value(&objects, name),
            None,
            "{name} is omitted when empty"
        );
    }

    let objects = render(&[
        "logLevel=info\\,securityprofile_operator=debug",
        "allowAdoption=true",
        "allowedRoleArns={arn:aws:iam::123456789012:role/iot-*,arn:aws:iam::123456789012:role/alerts}",
        "allowedSnsTopicArns={arn:aws:sns:*:123456789012:iot-*}",
        "allowedMqttTopics={fleet/+/metrics}",
        "allowedTargetArns={arn:aws:iot:*:123456789012:thinggroup/team-a-*}",
        "allowedRegions={eu-west-1,eu-central-1}",
        "resyncBudget=20",
    ]);
    let env: std::collections::BTreeMap<String, String> = env_of(&objects).into_iter().collect();
    assert_eq!(env["RUST_LOG"], "info,securityprofile_operator=debug");
    assert_eq!(env["ALLOW_ADOPTION"], "true");
    assert_eq!(
        env["ALLOWED_ROLE_ARNS"],
        "arn:aws:iam::123456789012:role/iot-*,arn:aws:iam::123456789012:role/alerts"
    );
    assert_eq!(
        env["ALLOWED_SNS_TOPIC_ARNS"],
        "arn:aws:sns:*:123456789012:iot-*"
    );
    assert_eq!(env["ALLOWED_MQTT_TOPICS"], "fleet/+/metrics");
    assert_eq!(
        env["ALLOWED_TARGET_ARNS"],
        "arn:aws:iot:*:123456789012:thinggroup/team-a-*"
    );
    assert_eq!(env["ALLOWED_REGIONS"], "eu-west-1,eu-central-1");
    assert_eq!(env["RESYNC_BUDGET"], "20");

    for (bad, path) in [
        ("resyncBudget=0", "/resyncBudget"),
        ("resyncBudget=101", "/resyncBudget"),
        ("allowAdoption=maybe", "/allowAdoption"),
        (
            "allowedRegions={eu-west-1 eu-central-1}",
            "/allowedRegions/0",
        ),
        ("logLevel=debug;rm", "/logLevel"),
    ] {
        let out = template_output(&[bad]);
        assert!(!out.status.success(), "--set {bad} is rejected");
        assert!(text(&out).contains(path), "--set {bad}: {}", text(&out));
    }
}

#[test]
fn without_leader_election_an_upgrade_recreates_the_pod() {
    let objects = render(&[]);
    let deployment = one(&objects, "Deployment");
    assert_eq!(
        deployment["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    );
    assert_eq!(
        env_value(&objects, "RENEW_DEADLINE").as_deref(),
        Some("10s")
    );

    let objects = render(&["leaderElection.enabled=false"]);
    assert_eq!(
        one(&objects, "Deployment")["spec"]["strategy"],
        json!({"type": "Recreate"}),
        "one writer at a time without a Lease"
    );
    assert!(!args_of(&objects).contains(&"--leader-elect".to_string()));
    assert_eq!(env_value(&objects, "RENEW_DEADLINE"), None);
    assert!(of_kind(&objects, "Role").is_empty(), "no Lease rules");
    // Even when a rolling update is asked for: without leader election it would run two writers.
    let objects = render(&[
        "leaderElection.enabled=false",
        "updateStrategy.rollingUpdate.maxSurge=2",
    ]);
    assert_eq!(
        one(&objects, "Deployment")["spec"]["strategy"],
        json!({"type": "Recreate"})
    );

    let objects = render(&[
        "updateStrategy.type=Recreate",
        "updateStrategy.rollingUpdate=null",
        "leaderElection.leaseDuration=1m30s",
        "leaderElection.renewDeadline=1m",
    ]);
    assert_eq!(
        one(&objects, "Deployment")["spec"]["strategy"],
        json!({"type": "Recreate"})
    );
    let parsed = controller_args(&args_of(&objects)[1..]);
    assert_eq!(parsed.leader.lease_duration, Duration::from_secs(90));
    assert_eq!(env_value(&objects, "RENEW_DEADLINE").as_deref(), Some("1m"));
    assert_eq!(
        securityprofile_operator::config::parse_duration("1m").unwrap(),
        Duration::from_secs(60),
        "RENEW_DEADLINE is a duration the operator parses"
    );
    for (bad, path) in [
        ("updateStrategy.type=Rolling", "/updateStrategy/type"),
        (
            "leaderElection.renewDeadline=soon",
            "/leaderElection/renewDeadline",
        ),
    ] {
        let out = template_output(&[bad]);
        assert!(!out.status.success(), "--set {bad} is rejected");
        assert!(text(&out).contains(path), "--set {bad}: {}", text(&out));
    }
}

#[test]
fn extra_volumes_common_labels_and_the_linux_node_selector() {
    let objects = render(&[]);
    let pod = &one(&objects, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux"}));
    assert_eq!(
        container(&objects)["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp"}])
    );

    let out = scratch_template(&[
        "--set-json",
        r#"extraVolumes=[{"name":"custom-ca","configMap":{"name":"custom-ca"}}]"#,
        "--set-json",
        r#"extraVolumeMounts=[{"name":"custom-ca","mountPath":"/etc/ssl/custom","readOnly":true}]"#,
        "--set-json",
        r#"extraEnv=[{"name":"SSL_CERT_FILE","value":"/etc/ssl/custom/ca.crt"}]"#,
        "--set",
        "commonLabels.team=iot",
        "--set-string",
        "commonLabels.cost-center=1234",
    ]);
    let pod = &one(&out, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"],
        json!([
            {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
            {"name": "custom-ca", "configMap": {"name": "custom-ca"}}
        ])
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"],
        json!([
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "custom-ca", "mountPath": "/etc/ssl/custom", "readOnly": true}
        ])
    );
    assert_eq!(
        env_value(&out, "SSL_CERT_FILE").as_deref(),
        Some("/etc/ssl/custom/ca.crt")
    );
    for o in &out {
        let labels = &o["metadata"]["labels"];
        assert_eq!(
            labels["team"], "iot",
            "{} {}",
            o["kind"], o["metadata"]["name"]
        );
        assert_eq!(labels["cost-center"], "1234");
    }
    assert_eq!(
        one(&out, "Deployment")["spec"]["template"]["metadata"]["labels"]["team"],
        "iot"
    );
    let bad = template_output(&["commonLabels.team=a b"]);
    assert!(!bad.status.success() && text(&bad).contains("/commonLabels"));
    let bad = scratch_template_output(&["--set-json", r#"extraVolumeMounts=[{"name":"x"}]"#]);
    assert!(
        !bad.status.success() && text(&bad).contains("mountPath"),
        "a mount needs a path: {}",
        text(&bad)
    );
}

/// `helm template` with raw arguments (for `--set-json`).
fn scratch_template_output(args: &[&str]) -> Output {
    let scratch = Scratch::new("template");
    scratch
        .helm()
        .args(["template", "spo"])
        .arg(chart())
        .args(["--namespace", "spo-system"])
        .args(args)
        .output()
        .unwrap()
}

/// `helm template` with raw arguments; the rendered objects.
fn scratch_template(args: &[&str]) -> Vec<Value> {
    let out = scratch_template_output(args);
    assert!(
        out.status.success(),
        "helm template {args:?}: {}",
        text(&out)
    );
    yaml_documents(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn network_policy_allows_ipv4_and_ipv6_and_the_helm_test_pod() {
    let objects = render(&["networkPolicy.enabled=true"]);
    let np = one(&objects, "NetworkPolicy");
    let cidrs: Vec<&str> = np["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["to"].as_array().into_iter().flatten())
        .filter_map(|t| t["ipBlock"]["cidr"].as_str())
        .collect();
    for cidr in ["0.0.0.0/0", "::/0", "169.254.170.23/32", "fd00:ec2::23/128"] {
        assert!(cidrs.contains(&cidr), "{cidr} in {cidrs:?}");
    }
    let ingress = np["spec"]["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 2, "{ingress:#?}");
    assert_eq!(ingress[1]["ports"][0]["port"], 8081);
    let from = &ingress[1]["from"][0]["podSelector"]["matchLabels"];
    let pod = one(&objects, "Pod");
    for (k, v) in from.as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][k], v, "the test pod matches {k}");
    }
    let objects = render(&["networkPolicy.enabled=true", "helmTest.enabled=false"]);
    assert_eq!(
        one(&objects, "NetworkPolicy")["spec"]["ingress"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(of_kind(&objects, "Pod").is_empty());
}

#[test]
fn aggregated_cluster_roles_extend_view_edit_and_admin() {
    let objects = render(&[]);
    let view = named(&objects, "ClusterRole", "spo-securityprofile-operator-view");
    assert_eq!(
        view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"],
        "true"
    );
    let mut expected = BTreeSet::new();
    for kind in ["securityprofiles", "custommetrics", "dimensions"] {
        for res in [kind.to_string(), format!("{kind}/status")] {
            for verb in ["get", "list", "watch"] {
                expected.insert((
                    "iot.awscc.io".into(),
                    res.clone(),
                    verb.into(),
                    String::new(),
                ));
            }
        }
    }
    assert_eq!(rule_set(&view["rules"]), expected);

    let edit = named(&objects, "ClusterRole", "spo-securityprofile-operator-edit");
    let labels = &edit["metadata"]["labels"];
    assert_eq!(
        labels["rbac.authorization.k8s.io/aggregate-to-edit"],
        "true"
    );
    assert_eq!(
        labels["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
    let rules = rule_set(&edit["rules"]);
    for kind in ["securityprofiles", "custommetrics", "dimensions"] {
        for verb in [
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
            "get",
        ] {
            assert!(
                rules.contains(&(
                    "iot.awscc.io".into(),
                    kind.into(),
                    verb.into(),
                    String::new()
                )),
                "edit may {verb} {kind}"
            );
        }
    }
    assert!(
        rules.iter().all(|(_, res, _, _)| !res.ends_with("/status")),
        "edit cannot write status: {rules:#?}"
    );
    // Neither is bound to the operator: they only extend the built-in roles.
    for b in of_kind(&objects, "ClusterRoleBinding") {
        assert_eq!(b["roleRef"]["name"], "spo-securityprofile-operator");
    }
    let objects = render(&["rbac.aggregateToDefaultRoles=false"]);
    assert_eq!(of_kind(&objects, "ClusterRole").len(), 1);
}

#[test]
fn helm_test_pod_probes_readiness_through_the_health_service() {
    let objects = render(&[]);
    let pod = one(&objects, "Pod");
    assert_eq!(pod["metadata"]["annotations"]["helm.sh/hook"], "test");
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["containers"][0]["image"], container(&objects)["image"]);
    assert_eq!(
        spec["containers"][0]["args"],
        json!([
            "probe",
            "--timeout=5s",
            "http://spo-securityprofile-operator-health.spo-system.svc:8081/readyz"
        ])
    );
    assert_eq!(
        spec["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    let svc = named(&objects, "Service", "spo-securityprofile-operator-health");
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], "health");
    let deployment = one(&objects, "Deployment");
    assert_eq!(
        svc["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    // The Deployment (and the PDB) must not select the test pod.
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    assert!(
        selector
            .iter()
            .any(|(k, v)| &pod["metadata"]["labels"][k] != v),
        "the test pod escapes the Deployment's selector"
    );
}

#[test]
fn chart_metadata_for_artifact_hub_and_a_readme_listing_every_value() {
    let chart_yaml: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(chart().join("Chart.yaml")).unwrap())
            .unwrap();
    let a = &chart_yaml["annotations"];
    assert_eq!(a["artifacthub.io/license"], "Apache-2.0");
    assert_eq!(a["artifacthub.io/operator"], "true");
    let parse = |key: &str| -> Value {
        serde_yaml_ng::from_str(a[key].as_str().unwrap_or_else(|| panic!("{key}"))).unwrap()
    };
    let crds = parse("artifacthub.io/crds");
    assert_eq!(crds[0]["kind"], "SecurityProfile");
    assert_eq!(crds[0]["name"], "securityprofiles.iot.awscc.io");
    let examples = parse("artifacthub.io/crdsExamples");
    assert_eq!(examples[0]["apiVersion"], "iot.awscc.io/v1alpha1");
    assert_eq!(examples[0]["kind"], "SecurityProfile");
    let images = parse("artifacthub.io/images");
    assert_eq!(images[0]["image"], container(&render(&[]))["image"]);
    for link in parse("artifacthub.io/links").as_array().unwrap() {
        assert!(link["url"].as_str().unwrap().starts_with("https://"));
    }

    // Every value the schema knows is documented in the chart's README.
    let readme = std::fs::read_to_string(chart().join("README.md")).unwrap();
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(chart().join("values.schema.json")).unwrap())
            .unwrap();
    let mut paths = Vec::new();
    schema_paths(&schema, &schema, "", &mut paths);
    assert!(paths.len() > 80, "{paths:?}");
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !readme.contains(&format!("`{p}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "values missing from the README: {missing:?}"
    );
    for op in [
        "DescribeSecurityProfile",
        "ValidateSecurityProfileBehaviors",
    ] {
        assert!(readme.contains(&format!("| `{op}` |")), "{op}");
    }
}

/// The dotted paths of every value the schema declares (objects with fixed keys expanded).
fn schema_paths(root: &Value, s: &Value, prefix: &str, out: &mut Vec<String>) {
    let mut s = s;
    while let Some(r) = s["$ref"].as_str() {
        s = &root["definitions"][r.rsplit('/').next().unwrap()];
    }
    match s["properties"].as_object() {
        Some(props) => {
            for (k, sub) in props {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                schema_paths(root, sub, &path, out);
            }
        }
        None => out.push(prefix.to_string()),
    }
}

#[test]
fn notes_warn_when_the_cluster_id_is_left_to_the_kube_system_uid() {
    let notes = |sets: &[&str]| {
        let scratch = Scratch::new("notes");
        let mut cmd = scratch.helm();
        cmd.args(["install", "spo"])
            .arg(chart())
            .args(["-n", "spo-system", "--dry-run=client"]);
        for s in sets {
            cmd.args(["--set", s]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let t = text(&out);
        t[t.find("NOTES:").expect("NOTES are shown")..].to_string()
    };
    let n = notes(&[]);
    assert!(n.contains("WARNING: clusterId is empty"), "{n}");
    assert!(n.contains("--set clusterId="), "{n}");
    assert!(n.contains("leader election: on"), "{n}");
    let example = notes_example(&n);
    assert_eq!(example["kind"], "SecurityProfile");
    assert_eq!(example["metadata"]["namespace"], "default");

    let n = notes(&[
        "clusterId=prod-eu-1",
        "watchNamespaces={team-a}",
        "leaderElection.enabled=false",
    ]);
    assert!(!n.contains("WARNING"), "{n}");
    assert!(n.contains("leader election: off (Recreate"), "{n}");
    assert_eq!(notes_example(&n)["metadata"]["namespace"], "team-a");
}

/// The inline SecurityProfile of NOTES.txt (a `kubectl apply -f - <<'YAML'` here-document).
pub(super) fn notes_example(notes: &str) -> Value {
    let start = notes.find("<<'YAML'\n").expect("an inline example") + "<<'YAML'\n".len();
    let len = notes[start..]
        .find("\nYAML\n")
        .expect("the here-document ends");
    serde_yaml_ng::from_str(&notes[start..start + len]).unwrap()
}
