//! Brownfield: profiles made outside the operator are exported, applied with the operator
//! running, and taken over without a single attribute write, attach or detach: only the
//! ownership tags are added. `plan` agrees before (adopt, tags only) and after (no change).

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use clap::Parser;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use securityprofile_operator::api::{
    AdoptionPolicy, CustomMetric, CustomMetricType, DeletionPolicy, Dimension, SecurityProfile,
};
use securityprofile_operator::aws::{AwsOptions, Iot};
use securityprofile_operator::cli::export::{self, ExportArgs};
use securityprofile_operator::cli::plan::{self, PlanArgs};
use securityprofile_operator::cli::progress::Progress;
use securityprofile_operator::cli::review::Action;
use securityprofile_operator::controller::ManagedKind;
use securityprofile_operator::iam::PolicyArgs;
use securityprofile_operator::metrics::Metrics;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The namespace annotation that allows adoption in it.
pub const ALLOW_ADOPTION: &str = "iot.awscc.io/allow-adoption";

#[derive(Parser)]
struct ExportCli {
    #[command(flatten)]
    args: ExportArgs,
}

#[derive(Parser)]
struct PlanCli {
    #[command(flatten)]
    args: PlanArgs,
}

pub fn export_args(argv: &[&str]) -> ExportArgs {
    ExportCli::parse_from([&["export"], argv].concat()).args
}

pub fn plan_args(argv: &[&str]) -> PlanArgs {
    PlanCli::parse_from([&["plan"], argv].concat()).args
}

/// The operator's AWS facade against the emulator, as the commands build it.
pub async fn iot(url: &str) -> Iot {
    let options = AwsOptions {
        endpoint_url: Some(url.to_string()),
        region: Some(REGION.to_string()),
        ..Default::default()
    };
    Iot::load(options, Some(credentials()), Arc::new(Metrics::default())).await
}

/// Calls per operation (all outcomes).
pub fn call_counts(env: &Env) -> BTreeMap<String, u64> {
    env.emulator
        .admin()
        .calls()
        .into_iter()
        .map(|(op, outcomes)| (op, outcomes.values().sum()))
        .collect()
}

/// Calls made between two snapshots, by operation (operations with none left out).
pub fn delta(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn rule_behaviors() -> Value {
    json!([
        {"name": "msg-count", "metric": "aws:num-messages-sent",
         "metricDimension": {"dimensionName": "TopicFilter", "operator": "NOT_IN"},
         "criteria": {"comparisonOperator": "greater-than", "value": {"count": 100},
                      "durationSeconds": 300, "consecutiveDatapointsToAlarm": 2,
                      "consecutiveDatapointsToClear": 3},
         "suppressAlerts": true, "exportMetric": true},
        {"name": "bytes-out", "metric": "aws:all-bytes-out",
         "criteria": {"comparisonOperator": "less-than-equals",
                      "statisticalThreshold": {"statistic": "p99.9"}, "durationSeconds": 900}},
        {"name": "dest-ips", "metric": "aws:destination-ip-addresses",
         "criteria": {"comparisonOperator": "not-in-cidr-set",
                      "value": {"cidrs": ["10.0.0.0/8", "192.168.1.0/24"]}}},
        {"name": "ports", "metric": "aws:listening-tcp-ports",
         "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [22, 443, 8883]}}},
        {"name": "size", "metric": "aws:message-byte-size",
         "criteria": {"comparisonOperator": "greater-than", "value": {"number": 1536.25}}},
        {"name": "custom-numbers", "metric": "custom-numbers",
         "criteria": {"comparisonOperator": "in-set", "value": {"numbers": [1.5, 2.0, 3.75]}}},
        {"name": "custom-strings", "metric": "custom-strings",
         "criteria": {"comparisonOperator": "not-in-set", "value": {"strings": ["ok", "good"]}}},
        {"name": "Aa_alarm:first", "metric": "aws:num-authorization-failures",
         "criteria": {"comparisonOperator": "greater-than-equals", "value": {"count": 5},
                      "durationSeconds": 300}, "suppressAlerts": false}
    ])
}

fn ml_behaviors() -> Value {
    json!([
        {"name": "ml-low", "metric": "aws:num-messages-sent",
         "criteria": {"mlDetectionConfig": {"confidenceLevel": "LOW"}}},
        {"name": "ml-medium", "metric": "aws:all-bytes-out",
         "criteria": {"mlDetectionConfig": {"confidenceLevel": "MEDIUM"}}, "suppressAlerts": true},
        {"name": "ml-high", "metric": "aws:num-disconnects",
         "criteria": {"mlDetectionConfig": {"confidenceLevel": "HIGH"}}, "exportMetric": true}
    ])
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

/// Profiles made "by hand": every attribute and value kind, both retained-metric versions,
/// more targets than one page, many tags, names that are not Kubernetes names, and one profile
/// another cluster owns. Returns the AWS names that should be exported.
async fn fill(env: &Env) -> Vec<&'static str> {
    let admin = env.emulator.admin();
    // Made by someone else: the operator's policy would not let it attach unowned profiles.
    admin.set_iam_allow(vec!["*".into()]);
    let user_tags: Value = (0..40)
        .map(|i| (format!("team/key-{i:02}"), json!(format!("value {i}"))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    admin
        .put_profile(json!({
            "securityProfileName": "Rules_Everything",
            "securityProfileDescription": "every rule-based value kind",
            "behaviors": rule_behaviors(),
            "alertTargets": {"SNS": {"alertTargetArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:alerts"),
                                     "roleArn": role("defender-alerts")}},
            "additionalMetricsToRetainV2": [
                {"metric": "aws:num-connection-attempts", "exportMetric": true},
                {"metric": "aws:num-messages-received",
                 "metricDimension": {"dimensionName": "TopicFilter", "operator": "IN"}}
            ],
            "metricsExportConfig": {"mqttTopic": "$aws/rules/defender_export", "roleArn": role("defender-export")},
            "tags": user_tags
        }))
        .unwrap();
    admin
        .put_profile(json!({
            "securityProfileName": "ml-fleet",
            "behaviors": ml_behaviors(),
            "additionalMetricsToRetain": ["aws:num-disconnects", "aws:source-ip-address"],
            "tags": {"env": "prod", "cost-center": "4711"}
        }))
        .unwrap();
    admin
        .put_profile(json!({
            "securityProfileName": "both:versions",
            "securityProfileDescription": "",
            "additionalMetricsToRetain": ["aws:num-disconnects"],
            "additionalMetricsToRetainV2": [{"metric": "aws:num-disconnects", "exportMetric": true},
                                            {"metric": "aws:all-bytes-out"}]
        }))
        .unwrap();
    admin
        .put_profile(json!({"securityProfileName": "bare"}))
        .unwrap();
    admin
        .put_profile(json!({"securityProfileName": "-Edge_Fleet-"}))
        .unwrap();
    admin
        .put_profile(json!({"securityProfileName": "edge-fleet", "tags": {"k": ""}}))
        .unwrap();
    admin
        .put_profile(json!({
            "securityProfileName": "theirs",
            "tags": {"iot.awscc.io/cluster": "other", "iot.awscc.io/namespace": "x", "iot.awscc.io/name": "theirs"}
        }))
        .unwrap();
    let iot = iot(&env.emulator.url()).await;
    for i in 0..30 {
        let group = env.thing_group(&format!("fleet-{i:02}"));
        iot.attach(REGION, "Rules_Everything", &group)
            .await
            .unwrap();
    }
    for target in ["all/registered-things", "all/unregistered-things"] {
        let arn = format!("arn:aws:iot:{REGION}:{ACCOUNT}:{target}");
        iot.attach(REGION, "ml-fleet", &arn).await.unwrap();
    }
    iot.attach(REGION, "bare", &env.thing_group("bare-group"))
        .await
        .unwrap();
    iot.attach(REGION, "theirs", &env.thing_group("theirs-group"))
        .await
        .unwrap();
    // What Rules_Everything names (a dimension and two custom metrics), one metric with a name
    // that is not a Kubernetes name, and one another cluster owns.
    admin
        .put_dimension(json!({"name": "TopicFilter", "type": "TOPIC_FILTER",
                              "stringValues": ["telemetry/#", "alerts/+"], "tags": {"team": "edge"}}))
        .unwrap();
    for (name, metric_type, display) in [
        ("custom-numbers", "number-list", Some("Error codes")),
        ("custom-strings", "string-list", None),
        ("Wifi_SSIDs", "string-list", Some("Wi-Fi networks")),
    ] {
        admin
            .put_custom_metric(json!({"metricName": name, "metricType": metric_type,
                                      "displayName": display, "tags": {"cost-center": "4711"}}))
            .unwrap();
    }
    admin
        .put_custom_metric(json!({"metricName": "their-metric", "metricType": "number",
            "tags": {"iot.awscc.io/cluster": "other", "iot.awscc.io/namespace": "x", "iot.awscc.io/name": "m"}}))
        .unwrap();
    vec![
        "-Edge_Fleet-",
        "Rules_Everything",
        "bare",
        "both:versions",
        "edge-fleet",
        "ml-fleet",
    ]
}

async fn allow_adoption(env: &Env) {
    let namespaces: Api<Namespace> = Api::all(env.client.clone());
    namespaces
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {ALLOW_ADOPTION: "true"}}})),
        )
        .await
        .expect("annotate the namespace");
}

fn run_binary(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_securityprofile-operator"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env_remove("AWS_ENDPOINT_URL_IOT")
        .env_remove("CLUSTER_ID")
        .env_remove("DEFAULT_REGION")
        .output()
        .expect("the binary runs")
}

async fn exported_profiles_are_adopted_without_any_attribute_write_attach_or_detach(
    server: Server,
) {
    let mut env = Env::without_operator(server).await;
    allow_adoption(&env).await;
    let exported_names = fill(&env).await;
    let url = env.emulator.url();
    let states_before: BTreeMap<String, (i64, Vec<String>)> = env
        .emulator
        .admin()
        .state()
        .profiles
        .into_iter()
        .map(|p| (p.name, (p.version, p.targets)))
        .collect();

    // Export through the library, then through the built binary: the same manifests.
    // Export runs under `iam-policy --export`: the operator's policy plus the one list it needs.
    let export_policy = securityprofile_operator::iam::policy_for(&PolicyArgs {
        accounts: vec![ACCOUNT.to_string()],
        allowed_role_arns: vec![format!("arn:aws:iam::{ACCOUNT}:role/*")],
        cluster_id: Some(CLUSTER.to_string()),
        partition: "aws".to_string(),
        export: true,
        ..Default::default()
    })
    .unwrap();
    env.emulator
        .admin()
        .set_iam_policy(None, &export_policy)
        .unwrap();
    let args = export_args(&["--region", REGION, "--aws-endpoint-url", &url, "-n", NS]);
    let reads_before = call_counts(&env);
    let out = export::export(&iot(&url).await, &args, &Progress::hidden())
        .await
        .expect("export");
    let reads = delta(&reads_before, &call_counts(&env));
    assert_eq!(
        reads.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "DescribeCustomMetric",
            "DescribeDimension",
            "DescribeSecurityProfile",
            "ListCustomMetrics",
            "ListDimensions",
            "ListSecurityProfiles",
            "ListTagsForResource",
            "ListTargetsForSecurityProfile"
        ],
        "export only reads: {reads:?}"
    );
    let aws_names: Vec<&str> = out
        .manifests
        .iter()
        .map(|sp| {
            sp.spec
                .security_profile_name
                .as_deref()
                .or(sp.metadata.name.as_deref())
                .unwrap()
        })
        .collect();
    assert_eq!(aws_names, exported_names);
    check_dependency_manifests(&out);
    let skipped: Vec<_> = out
        .skipped
        .iter()
        .map(|s| (s.noun, s.aws_name.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            ("security profile", "theirs"),
            ("custom metric", "their-metric")
        ]
    );
    assert!(
        out.skipped.iter().all(|s| s.why.contains("cluster other")),
        "{:?}",
        out.skipped
    );
    let yaml = export::to_yaml(&out).unwrap();

    // One directory per server: both variants of the test run at once in this process.
    let dir = std::env::temp_dir().join(format!(
        "spo-export-{}-{}",
        std::process::id(),
        server.name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let bin = run_binary(&[
        "export",
        "--region",
        REGION,
        "--aws-endpoint-url",
        &url,
        "-n",
        NS,
        "-o",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&bin.stderr);
    assert!(bin.status.success(), "export failed: {stderr}");
    assert!(
        stderr.contains("skipped security profile theirs: owned by cluster other")
            && stderr.contains("skipped custom metric their-metric: owned by cluster other"),
        "{stderr}"
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let total = out.manifests.len() + out.custom_metrics.len() + out.dimensions.len();
    assert_eq!(files.len(), total);
    let read = |suffix: &str| -> Vec<String> {
        files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .filter(|n| {
                n.ends_with(suffix) && n.matches('.').count() == suffix.matches('.').count()
            })
            .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
            .collect()
    };
    let by_name = |a: &CustomMetric, b: &CustomMetric| a.metadata.name.cmp(&b.metadata.name);
    let mut metric_files: Vec<CustomMetric> = read(".custommetric.yaml")
        .iter()
        .map(|t| serde_yaml_ng::from_str(t).unwrap())
        .collect();
    metric_files.sort_by(by_name);
    let mut exported_metrics = out.custom_metrics.clone();
    exported_metrics.sort_by(by_name);
    assert_eq!(metric_files, exported_metrics, "one file per custom metric");
    let dimension_files: Vec<Dimension> = read(".dimension.yaml")
        .iter()
        .map(|t| serde_yaml_ng::from_str(t).unwrap())
        .collect();
    assert_eq!(dimension_files, out.dimensions, "one file per dimension");
    let mut from_files: Vec<SecurityProfile> = read(".yaml")
        .iter()
        .map(|t| serde_yaml_ng::from_str(t).unwrap())
        .collect();
    from_files.sort_by_key(aws_name);
    let mut from_lib = out.manifests.clone();
    from_lib.sort_by_key(aws_name);
    assert_eq!(
        from_files, from_lib,
        "binary and library export the same manifests"
    );
    let stdout = run_binary(&[
        "export",
        "--region",
        REGION,
        "--aws-endpoint-url",
        &url,
        "-n",
        NS,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&stdout.stdout),
        yaml,
        "stdout is the YAML stream"
    );

    check_manifests(&out.manifests);

    // Before applying, plan says: adopt, add the ownership tags, nothing else.
    let plan_args = plan_args(&[
        "-f",
        dir.to_str().unwrap(),
        "--aws-endpoint-url",
        &url,
        "--cluster-id",
        CLUSTER,
        "--allow-adoption",
    ]);
    let docs = securityprofile_operator::cli::manifests::load(&plan_args.files).unwrap();
    let reviews = plan::review_all(&iot(&url).await, &plan_args, docs)
        .await
        .unwrap();
    for r in &reviews {
        assert_eq!(r.action, Action::Adopt, "{r:?}");
        assert!(
            r.changes.is_empty()
                && r.attach.is_empty()
                && r.detach.is_empty()
                && r.untag.is_empty(),
            "false drift: {r:#?}"
        );
        let keys: Vec<_> = r.tag.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "iot.awscc.io/cluster",
                "iot.awscc.io/name",
                "iot.awscc.io/namespace"
            ],
            "{r:?}"
        );
    }
    assert_eq!(reviews.len(), total, "every kind is planned");
    assert_eq!(plan::exit_code(&reviews), 2);

    // Apply with the operator running under its own scoped policy (no list).
    env.emulator
        .admin()
        .set_iam_policy(None, &iam_policy(CLUSTER))
        .unwrap();
    let before = call_counts(&env);
    env.operator = Some(env.start_operator(args_for(&url)));
    // Profiles first: those naming an exported metric or dimension wait for it.
    let api = env.api();
    for sp in &out.manifests {
        api.create(&PostParams::default(), sp).await.expect("apply");
    }
    let metrics: Api<CustomMetric> = Api::namespaced(env.client.clone(), NS);
    for cm in &out.custom_metrics {
        metrics
            .create(&PostParams::default(), cm)
            .await
            .expect("apply");
    }
    let dimensions: Api<Dimension> = Api::namespaced(env.client.clone(), NS);
    for d in &out.dimensions {
        dimensions
            .create(&PostParams::default(), d)
            .await
            .expect("apply");
    }
    for sp in &out.manifests {
        env.wait_ready(sp.metadata.name.as_deref().unwrap()).await;
    }
    for cm in &out.custom_metrics {
        wait_resource_ready(&metrics, cm.metadata.name.as_deref().unwrap()).await;
    }
    for d in &out.dimensions {
        wait_resource_ready(&dimensions, d.metadata.name.as_deref().unwrap()).await;
    }
    let calls = delta(&before, &call_counts(&env));
    for op in [
        "CreateSecurityProfile",
        "UpdateSecurityProfile",
        "DeleteSecurityProfile",
        "AttachSecurityProfile",
        "DetachSecurityProfile",
        "UntagResource",
        "CreateCustomMetric",
        "UpdateCustomMetric",
        "DeleteCustomMetric",
        "CreateDimension",
        "UpdateDimension",
        "DeleteDimension",
    ] {
        assert_eq!(calls.get(op), None, "{op} called: {calls:?}");
    }
    assert_eq!(
        env.calls("TagResource"),
        BTreeMap::from([("ok".to_string(), total as u64)]),
        "only the ownership tags, once per resource: {calls:?}"
    );
    let state = env.emulator.admin().state();
    for m in &state.custom_metrics {
        let owner = m.tags.get("iot.awscc.io/cluster").map(String::as_str);
        let expected = if m.name == "their-metric" {
            "other"
        } else {
            CLUSTER
        };
        assert_eq!(owner, Some(expected), "{}", m.name);
    }
    assert!(
        state
            .dimensions
            .iter()
            .all(|d| d.tags.get("iot.awscc.io/cluster").map(String::as_str) == Some(CLUSTER))
    );
    for p in env.emulator.admin().state().profiles {
        let (version, targets) = &states_before[&p.name];
        assert_eq!(&p.version, version, "{} written", p.name);
        assert_eq!(&p.targets, targets, "{} targets changed", p.name);
        if p.name != "theirs" {
            assert_eq!(
                p.tags.get("iot.awscc.io/cluster").map(String::as_str),
                Some(CLUSTER)
            );
        }
    }

    // After applying, plan on the same manifests: nothing to do, exit code 0.
    let docs = securityprofile_operator::cli::manifests::load(&plan_args.files).unwrap();
    let reviews = plan::review_all(&iot(&url).await, &plan_args, docs)
        .await
        .unwrap();
    assert!(
        reviews.iter().all(|r| r.action == Action::None),
        "{reviews:#?}"
    );
    assert_eq!(plan::exit_code(&reviews), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
on_both_servers!(exported_profiles_are_adopted_without_any_attribute_write_attach_or_detach);

/// Waits until a CustomMetric or Dimension is Ready at its generation.
async fn wait_resource_ready<K: ManagedKind>(api: &Api<K>, name: &str) {
    eventually(
        &format!("{name} Ready"),
        std::time::Duration::from_secs(30),
        || async {
            let obj = api.get_opt(name).await.ok().flatten()?;
            let status = obj.resource_status()?;
            let ready = status
                .condition("Ready")
                .is_some_and(|c| c.status == "True")
                && status.observed_generation == obj.meta().generation;
            ready.then_some(())
        },
    )
    .await
}

/// The custom metrics and dimensions are exported with every attribute and their user tags,
/// the AWS name kept where it is no Kubernetes name; the other cluster's metric is not.
fn check_dependency_manifests(out: &export::Export) {
    let metrics: BTreeMap<String, &CustomMetric> = out
        .custom_metrics
        .iter()
        .map(|m| (m.metadata.name.clone().unwrap(), m))
        .collect();
    assert_eq!(
        metrics.keys().map(String::as_str).collect::<Vec<_>>(),
        ["custom-numbers", "custom-strings", "wifi-ssids"]
    );
    let wifi = &metrics["wifi-ssids"].spec;
    assert_eq!(wifi.metric_name.as_deref(), Some("Wifi_SSIDs"));
    assert_eq!(wifi.metric_type, CustomMetricType::StringList);
    assert_eq!(wifi.display_name.as_deref(), Some("Wi-Fi networks"));
    assert_eq!(wifi.region.as_deref(), Some(REGION));
    assert_eq!(wifi.tags.as_ref().map(Vec::len), Some(1));
    let numbers = &metrics["custom-numbers"].spec;
    assert_eq!(numbers.metric_name, None);
    assert_eq!(numbers.metric_type, CustomMetricType::NumberList);
    for m in &out.custom_metrics {
        assert_eq!(m.metadata.namespace.as_deref(), Some(NS));
        assert_eq!(m.spec.adoption_policy, AdoptionPolicy::Adopt);
        assert_eq!(m.spec.deletion_policy, DeletionPolicy::Retain);
    }
    // The harness's dimension and the one Rules_Everything names.
    let dims: Vec<_> = out
        .dimensions
        .iter()
        .map(|d| (d.metadata.name.clone().unwrap(), d.spec.name.clone()))
        .collect();
    assert_eq!(
        dims,
        [
            ("topicfilter".to_string(), Some("TopicFilter".to_string())),
            (
                "topicfilterforauthmessages".to_string(),
                Some("TopicFilterForAuthMessages".to_string())
            )
        ]
    );
    let topic = &out.dimensions[0].spec;
    assert_eq!(topic.string_values, ["alerts/+", "telemetry/#"]);
    assert_eq!(topic.tags.as_ref().map(|t| t[0].key.as_str()), Some("team"));
    assert_eq!(topic.adoption_policy, AdoptionPolicy::Adopt);
    assert_eq!(topic.deletion_policy, DeletionPolicy::Retain);
}

fn args_for(url: &str) -> securityprofile_operator::config::ControllerArgs {
    args(url, &[])
}

fn aws_name(sp: &SecurityProfile) -> String {
    sp.spec
        .security_profile_name
        .clone()
        .or(sp.metadata.name.clone())
        .unwrap()
}

/// The manifests carry what AWS has: names, every attribute, targets and user tags.
fn check_manifests(manifests: &[SecurityProfile]) {
    let by_aws: BTreeMap<String, &SecurityProfile> =
        manifests.iter().map(|sp| (aws_name(sp), sp)).collect();
    let kube = |aws: &str| by_aws[aws].metadata.name.clone().unwrap();
    assert_eq!(kube("Rules_Everything"), "rules-everything");
    assert_eq!(kube("both:versions"), "both-versions");
    assert_eq!(kube("edge-fleet"), "edge-fleet", "a valid name is kept");
    assert!(
        kube("-Edge_Fleet-").starts_with("edge-fleet-"),
        "made unique"
    );
    assert_eq!(by_aws["bare"].spec.security_profile_name, None);
    for sp in manifests {
        assert_eq!(sp.metadata.namespace.as_deref(), Some(NS));
        assert_eq!(sp.spec.region.as_deref(), Some(REGION));
    }
    let rules = &by_aws["Rules_Everything"].spec;
    assert_eq!(rules.behaviors.as_ref().map(Vec::len), Some(8));
    assert_eq!(
        rules.target_arns.as_ref().map(Vec::len),
        Some(30),
        "all pages of targets"
    );
    assert_eq!(rules.tags.as_ref().map(Vec::len), Some(40));
    assert!(rules.alert_targets.is_some() && rules.metrics_export_config.is_some());
    let v2 = rules.additional_metrics_to_retain_v2.as_ref().unwrap();
    assert_eq!(
        v2[1].metric_dimension.as_ref().unwrap().dimension_name,
        "TopicFilter"
    );
    let ml = &by_aws["ml-fleet"].spec;
    let metrics: Vec<_> = ml
        .additional_metrics_to_retain_v2
        .iter()
        .flatten()
        .map(|m| m.metric.as_str())
        .collect();
    assert_eq!(
        metrics,
        ["aws:num-disconnects", "aws:source-ip-address"],
        "v1 became V2"
    );
    assert_eq!(ml.target_arns.as_ref().map(Vec::len), Some(2));
    let both = &by_aws["both:versions"].spec;
    assert_eq!(
        both.additional_metrics_to_retain_v2.as_ref().map(Vec::len),
        Some(2)
    );
    assert_eq!(both.security_profile_description, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_pages_filters_skips_this_clusters_profiles_and_fails_on_aws_errors() {
    securityprofile_operator::install_crypto_provider();
    let emulator = iot_emulator::Emulator::start(iot_emulator::EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let admin = emulator.admin();
    // More than one page of ListSecurityProfiles (250 a page).
    for i in 0..260 {
        admin
            .put_profile(json!({"securityProfileName": format!("edge-{i:03}")}))
            .unwrap();
    }
    admin
        .put_profile(json!({"securityProfileName": "core"}))
        .unwrap();
    admin
        .put_profile(json!({"securityProfileName": "mine", "tags": {
            "iot.awscc.io/cluster": CLUSTER, "iot.awscc.io/namespace": NS, "iot.awscc.io/name": "mine"}}))
        .unwrap();
    // More than one page of ListCustomMetrics (25 a page), and one metric this cluster has.
    for i in 0..30 {
        admin
            .put_custom_metric(json!({"metricName": format!("cm-{i:02}"), "metricType": "number"}))
            .unwrap();
    }
    admin
        .put_custom_metric(json!({"metricName": "mine-metric", "metricType": "number", "tags": {
            "iot.awscc.io/cluster": CLUSTER, "iot.awscc.io/namespace": NS, "iot.awscc.io/name": "m"}}))
        .unwrap();
    let url = emulator.url();
    let fast = ["--aws-tps", "*=5000"];
    // The facade as `export` builds it from its flags: the emulator, at the fast rates.
    let flags = export_args(&[&["--aws-endpoint-url", &url], &fast[..]].concat());
    let options = securityprofile_operator::cli::aws_flags::read_options(
        &flags.aws,
        Some(REGION.to_string()),
    );
    let iot = Iot::load(options, Some(credentials()), Arc::new(Metrics::default())).await;

    let all = export_args(&[&["--region", REGION, "--cluster-id", CLUSTER], &fast[..]].concat());
    let out = export::export(&iot, &all, &Progress::hidden())
        .await
        .unwrap();
    assert_eq!(out.manifests.len(), 261, "every page");
    assert_eq!(out.custom_metrics.len(), 30, "every page of custom metrics");
    assert_eq!(out.skipped.len(), 2);
    assert_eq!(
        (out.skipped[0].noun, out.skipped[0].aws_name.as_str()),
        ("security profile", "mine")
    );
    assert_eq!(
        out.skipped[0].why,
        format!("already managed by this cluster as {NS}/mine")
    );
    assert_eq!(out.skipped[1].aws_name, "mine-metric");
    assert_eq!(
        out.skipped[1].why,
        format!("already managed by this cluster as {NS}/m")
    );
    assert!(
        out.manifests
            .iter()
            .all(|sp| sp.metadata.namespace.is_none())
    );

    let filtered = export_args(
        &[
            &["--region", REGION, "--name-filter", "edge-25?"],
            &fast[..],
        ]
        .concat(),
    );
    let out = export::export(&iot, &filtered, &Progress::hidden())
        .await
        .unwrap();
    let names: Vec<_> = out
        .manifests
        .iter()
        .map(|sp| sp.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        (250..260).map(|i| format!("edge-{i}")).collect::<Vec<_>>()
    );
    assert!(
        out.custom_metrics.is_empty(),
        "the filter applies to every kind"
    );
    let metrics_only =
        export_args(&[&["--region", REGION, "--name-filter", "cm-1?"], &fast[..]].concat());
    let out = export::export(&iot, &metrics_only, &Progress::hidden())
        .await
        .unwrap();
    assert!(out.manifests.is_empty());
    let names: Vec<_> = out
        .custom_metrics
        .iter()
        .map(|m| m.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        (10..20).map(|i| format!("cm-{i}")).collect::<Vec<_>>()
    );

    // An AWS error: exit code 1, the operation, the AWS code and message on stderr.
    admin.set_iam_allow(vec!["iot:Describe*".into()]);
    let bin = run_binary(&[
        "export",
        "--region",
        REGION,
        "--aws-endpoint-url",
        &url,
        "--aws-max-attempts",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&bin.stderr);
    assert_eq!(bin.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("ListSecurityProfiles: AccessDeniedException")
            && stderr.contains("not authorized to perform: iot:ListSecurityProfiles"),
        "{stderr}"
    );
    assert!(bin.stdout.is_empty(), "no partial output");
}
