//! `plan`: each kind of change and each refusal, the text and JSON outputs and the exit codes
//! (of the built binary), against the emulator, which proves that plan never writes.

use crate::brownfield::{iot, plan_args};
use crate::harness::*;
use iot_emulator::{Emulator, EmulatorConfig};
use securityprofile_operator::cli::manifests;
use securityprofile_operator::cli::plan;
use securityprofile_operator::cli::review::{Action, Review};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn owner_tags(name: &str) -> Value {
    json!({"iot.awscc.io/cluster": CLUSTER, "iot.awscc.io/namespace": NS, "iot.awscc.io/name": name})
}

fn behavior(name: &str, count: i64) -> Value {
    json!({"name": name, "metric": "aws:num-messages-sent",
           "criteria": {"comparisonOperator": "greater-than", "value": {"count": count}}})
}

fn manifest(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "iot.awscc.io/v1alpha1", "kind": "SecurityProfile",
           "metadata": {"name": name, "namespace": NS}, "spec": spec})
}

/// AWS as the manifests find it; returns the thing group ARNs g1 and g2.
async fn fill(emulator: &Emulator) -> (String, String) {
    let admin = emulator.admin();
    let g1 = admin.create_thing_group("g1", REGION).unwrap();
    let g2 = admin.create_thing_group("g2", REGION).unwrap();
    let mut tags = owner_tags("ours").as_object().unwrap().clone();
    tags.extend([
        ("keep".to_string(), json!("1")),
        ("change".to_string(), json!("old")),
        ("drop".to_string(), json!("x")),
    ]);
    admin
        .put_profile(
            json!({"securityProfileName": "ours", "securityProfileDescription": "old",
                            "behaviors": [behavior("b1", 5), behavior("b2", 1)], "tags": tags}),
        )
        .unwrap();
    admin
        .put_profile(
            json!({"securityProfileName": "same", "securityProfileDescription": "same",
                            "tags": owner_tags("same")}),
        )
        .unwrap();
    admin
        .put_profile(
            json!({"securityProfileName": "legacy", "securityProfileDescription": "by hand"}),
        )
        .unwrap();
    admin
        .put_profile(
            json!({"securityProfileName": "adoptable", "securityProfileDescription": "by hand"}),
        )
        .unwrap();
    admin
        .put_profile(json!({"securityProfileName": "theirs",
                            "tags": {"iot.awscc.io/cluster": "other", "iot.awscc.io/namespace": "x", "iot.awscc.io/name": "theirs"}}))
        .unwrap();
    let iot = iot(&emulator.url()).await;
    iot.attach(REGION, "ours", &g1).await.unwrap();
    (g1, g2)
}

/// One manifest file per case in a fresh folder.
fn write_manifests(dir: &Path, g1: &str, g2: &str) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let cases = [
        (
            "a-create",
            manifest(
                "fresh",
                json!({
            "securityProfileDescription": "new one", "behaviors": [behavior("b1", 3)],
            "targetArns": [g1], "tags": [{"key": "team", "value": "edge"}]}),
            ),
        ),
        (
            "b-update",
            manifest(
                "ours",
                json!({
            "securityProfileDescription": "new", "behaviors": [behavior("b1", 10), behavior("b3", 2)],
            "targetArns": [g2],
            "tags": [{"key": "keep", "value": "1"}, {"key": "change", "value": "new"}]}),
            ),
        ),
        (
            "c-same",
            manifest("same", json!({"securityProfileDescription": "same"})),
        ),
        (
            "d-exists",
            manifest("legacy", json!({"securityProfileDescription": "mine"})),
        ),
        (
            "e-theirs",
            manifest("theirs", json!({"adoptionPolicy": "Adopt"})),
        ),
        (
            "f-adopt",
            manifest(
                "adoptable",
                json!({"adoptionPolicy": "Adopt", "securityProfileDescription": "managed"}),
            ),
        ),
        (
            "g-observe",
            manifest(
                "legacy-watch",
                json!({"managementPolicy": "Observe", "securityProfileName": "legacy"}),
            ),
        ),
        ("h-dotted", manifest("a.b", json!({}))),
        (
            "i-bad-enum",
            manifest(
                "bad",
                json!({"behaviors": [{"name": "x", "criteria": {"comparisonOperator": "bogus"}}]}),
            ),
        ),
    ];
    for (file, m) in cases {
        let text = serde_yaml_ng::to_string(&m).unwrap();
        std::fs::write(dir.join(format!("{file}.yaml")), text).unwrap();
    }
    std::fs::write(
        dir.join("z-not-a-profile.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    )
    .unwrap();
}

fn run_plan(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_securityprofile-operator"))
        .arg("plan")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env_remove("AWS_ENDPOINT_URL_IOT")
        .env_remove("CLUSTER_ID")
        .env_remove("DEFAULT_REGION")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn by_name(reviews: &[Review]) -> BTreeMap<String, &Review> {
    reviews.iter().map(|r| (r.name.clone(), r)).collect()
}

fn fields(r: &Review) -> Vec<(&str, Value, Value)> {
    r.changes
        .iter()
        .map(|c| (c.field.as_str(), c.old.clone(), c.new.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_each_change_and_refusal_and_never_writes() {
    securityprofile_operator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    emulator
        .admin()
        .set_iam_allow(securityprofile_operator::iam::actions());
    let (g1, g2) = fill(&emulator).await;
    let dir: PathBuf = std::env::temp_dir().join(format!("spo-plan-{}", std::process::id()));
    write_manifests(&dir, &g1, &g2);
    let url = emulator.url();
    let state_before = emulator.admin().state();
    let calls_before = emulator.admin().calls();

    // Adoption not allowed (the default), then allowed, as the operator's flag says.
    let refused = plan_args(&[
        "-f",
        dir.to_str().unwrap(),
        "--aws-endpoint-url",
        &url,
        "--cluster-id",
        CLUSTER,
        "--default-region",
        REGION,
    ]);
    let docs = manifests::load(&refused.files).unwrap();
    let reviews = plan::review_all(&iot(&url).await, &refused, docs)
        .await
        .unwrap();
    let adoptable = reviews.iter().find(|r| r.name == "adoptable").unwrap();
    assert_eq!(
        (adoptable.action, adoptable.reason),
        (Action::Refuse, Some("AdoptionNotAllowed"))
    );
    assert_eq!(
        plan::exit_code(&reviews),
        1,
        "a refused manifest fails the check"
    );
    let args = plan_args(&[
        "-f",
        dir.to_str().unwrap(),
        "--aws-endpoint-url",
        &url,
        "--cluster-id",
        CLUSTER,
        "--default-region",
        REGION,
        "--allow-adoption",
    ]);
    let docs = manifests::load(&args.files).unwrap();
    assert_eq!(docs.len(), 9, "the ConfigMap is skipped");
    let reviews = plan::review_all(&iot(&url).await, &args, docs)
        .await
        .unwrap();
    let r = by_name(&reviews);

    let fresh = r["fresh"];
    assert_eq!(fresh.action, Action::Create);
    assert_eq!(
        fields(fresh).iter().map(|f| f.0).collect::<Vec<_>>(),
        ["securityProfileDescription", "behaviors[b1]"]
    );
    assert!(fields(fresh).iter().all(|f| f.1.is_null()));
    assert_eq!(fresh.attach, std::slice::from_ref(&g1));
    let tags: Vec<_> = fresh.tag.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(
        tags,
        [
            "iot.awscc.io/cluster",
            "iot.awscc.io/name",
            "iot.awscc.io/namespace",
            "team"
        ]
    );

    let ours = r["ours"];
    assert_eq!(ours.action, Action::Update);
    let f = fields(ours);
    assert_eq!(
        f[0],
        ("securityProfileDescription", json!("old"), json!("new"))
    );
    assert_eq!(f[1].0, "behaviors[b1]");
    assert_eq!(f[1].1["criteria"]["value"]["count"], json!(5));
    assert_eq!(f[1].2["criteria"]["value"]["count"], json!(10));
    assert_eq!(
        (f[2].0, f[2].2.is_null()),
        ("behaviors[b2]", true),
        "removed"
    );
    assert_eq!((f[3].0, f[3].1.is_null()), ("behaviors[b3]", true), "added");
    assert_eq!(f.len(), 4);
    assert_eq!(ours.tag.len(), 1);
    assert_eq!(
        (
            ours.tag[0].key.as_str(),
            ours.tag[0].old.as_deref(),
            ours.tag[0].new.as_str()
        ),
        ("change", Some("old"), "new")
    );
    assert_eq!(ours.untag, ["drop"]);
    assert_eq!(ours.attach, std::slice::from_ref(&g2));
    assert_eq!(ours.detach, std::slice::from_ref(&g1));

    assert_eq!(r["same"].action, Action::None);
    assert_eq!(
        (r["legacy"].action, r["legacy"].reason),
        (Action::Refuse, Some("AlreadyExists"))
    );
    assert!(
        r["legacy"]
            .message
            .as_deref()
            .unwrap()
            .contains("adoptionPolicy: Adopt")
    );
    assert_eq!(
        (r["theirs"].action, r["theirs"].reason),
        (Action::Refuse, Some("OwnedByAnother"))
    );
    assert!(
        r["theirs"]
            .message
            .as_deref()
            .unwrap()
            .contains("managed by another resource")
    );
    let adopt = r["adoptable"];
    assert_eq!(adopt.action, Action::Adopt);
    assert_eq!(
        fields(adopt),
        [(
            "securityProfileDescription",
            json!("by hand"),
            json!("managed")
        )]
    );
    assert_eq!(adopt.tag.len(), 3, "the ownership tags");
    assert_eq!(r["legacy-watch"].action, Action::Observe);
    assert_eq!(
        (r["a.b"].action, r["a.b"].reason),
        (Action::Invalid, Some("InvalidSpec"))
    );
    assert!(
        r["a.b"]
            .message
            .as_deref()
            .unwrap()
            .contains("set spec.securityProfileName")
    );
    let bad = reviews
        .iter()
        .find(|r| r.source.contains("i-bad-enum"))
        .unwrap();
    assert_eq!(bad.action, Action::Invalid);
    assert!(bad.message.as_deref().unwrap().contains("bogus"), "{bad:?}");
    assert_eq!(plan::exit_code(&reviews), 1, "a refusal fails the plan");

    // Exit codes and outputs of the built binary.
    let common = [
        "--aws-endpoint-url",
        &url,
        "--cluster-id",
        CLUSTER,
        "--default-region",
        REGION,
    ];
    let file = |f: &str| dir.join(format!("{f}.yaml")).display().to_string();
    let run = |f: &str, extra: &[&str]| {
        let path = file(f);
        run_plan(&[&["-f", path.as_str()], &common[..], extra].concat())
    };
    let (code, out, err) = run("c-same", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("NOCHANGE") && out.contains("1 unchanged"),
        "{out}"
    );
    let (code, out, err) = run("b-update", &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("~ securityProfileDescription: \"old\" -> \"new\""),
        "{out}"
    );
    assert!(
        out.contains(&format!("- detach {g1}")) && out.contains("- untag drop"),
        "{out}"
    );
    let (code, out, _) = run("b-update", &["-o", "json"]);
    assert_eq!(code, 2);
    let doc: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (
            doc["version"].clone(),
            doc["changes"].clone(),
            doc["blocked"].clone()
        ),
        (json!(1), json!(true), json!(false))
    );
    assert_eq!(doc["resources"][0]["action"], "update");
    assert_eq!(doc["resources"][0]["securityProfileName"], "ours");
    assert_eq!(doc["resources"][0]["changes"][0]["old"], "old");
    assert_eq!(doc["resources"][0]["detach"], json!([g1]));
    let (code, out, _) = run("a-create", &["-o", "json"]);
    assert_eq!(
        (
            code,
            serde_json::from_str::<Value>(&out).unwrap()["resources"][0]["action"].clone()
        ),
        (2, json!("create"))
    );
    for refused in ["d-exists", "e-theirs", "h-dotted", "i-bad-enum"] {
        let (code, out, err) = run(refused, &[]);
        assert_eq!(code, 1, "{refused}: {out}{err}");
    }
    let (code, _, err) = run_plan(&[&["-f", "/nonexistent/spo.yaml"], &common[..]].concat());
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/spo.yaml"), "{err}");

    // What was read, and nothing else: plan never writes.
    let calls = emulator.admin().calls();
    let made: BTreeMap<&str, u64> = calls
        .iter()
        .map(|(op, o)| {
            let before: u64 = calls_before.get(op).map_or(0, |b| b.values().sum());
            (op.as_str(), o.values().sum::<u64>() - before)
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        made.keys().copied().collect::<Vec<_>>(),
        [
            "DescribeSecurityProfile",
            "ListTagsForResource",
            "ListTargetsForSecurityProfile"
        ],
        "{made:?}"
    );
    assert_eq!(emulator.admin().state(), state_before, "AWS is unchanged");

    // An AWS error is exit code 1 with the AWS code and message.
    emulator.admin().set_iam_allow(vec!["iot:List*".into()]);
    let (code, _, err) = run("c-same", &["--aws-max-attempts", "1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("AccessDeniedException") && err.contains("iot:DescribeSecurityProfile"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `plan` reviews CustomMetric and Dimension manifests with the same planner and guardrails as
/// the controller: create, adopt (tags only), the refusals (AlreadyExists, AdoptionNotAllowed,
/// Forbidden region), in text and JSON from the built binary, and never writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reviews_custom_metrics_and_dimensions_and_never_writes() {
    securityprofile_operator::install_crypto_provider();
    let emulator = Emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let admin = emulator.admin();
    admin
        .put_custom_metric(
            json!({"metricName": "legacyMetric", "metricType": "number", "displayName": "by hand"}),
        )
        .unwrap();
    admin
        .put_dimension(
            json!({"name": "legacyTopics", "type": "TOPIC_FILTER", "stringValues": ["l/#"]}),
        )
        .unwrap();
    let dir: PathBuf = std::env::temp_dir().join(format!("spo-plan-kinds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let doc = |kind: &str, name: &str, spec: Value| {
        json!({"apiVersion": "iot.awscc.io/v1alpha1", "kind": kind,
               "metadata": {"name": name, "namespace": NS}, "spec": spec})
    };
    let stream = [
        doc(
            "CustomMetric",
            "fresh-metric",
            json!({"metricType": "string-list", "displayName": "new"}),
        ),
        doc(
            "CustomMetric",
            "legacy",
            json!({"metricName": "legacyMetric", "metricType": "number"}),
        ),
        doc(
            "Dimension",
            "legacy-topics",
            json!({"name": "legacyTopics", "type": "TOPIC_FILTER",
            "stringValues": ["l/#"], "adoptionPolicy": "Adopt"}),
        ),
        doc(
            "Dimension",
            "far",
            json!({"type": "TOPIC_FILTER", "stringValues": ["f/#"], "region": "xx-north-9"}),
        ),
    ]
    .iter()
    .map(|v| serde_yaml_ng::to_string(v).unwrap())
    .collect::<Vec<_>>()
    .join("---\n");
    std::fs::write(dir.join("kinds.yaml"), stream).unwrap();
    let url = emulator.url();
    let state_before = admin.state();
    let calls_before: u64 = admin.calls().values().flat_map(|o| o.values()).sum();
    let base = [
        "-f",
        dir.to_str().unwrap(),
        "--aws-endpoint-url",
        &url,
        "--cluster-id",
        CLUSTER,
        "--default-region",
        REGION,
    ];
    let (code, json_out, _) = run_plan(&[&base[..], &["-o", "json"]].concat());
    assert_eq!(code, 1, "refusals fail the check");
    let doc: Value = serde_json::from_str(&json_out).unwrap();
    let rows: Vec<(String, String, String, Value)> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("name"), s("action"), r["reason"].clone())
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "CustomMetric".into(),
                "fresh-metric".into(),
                "create".into(),
                Value::Null
            ),
            (
                "CustomMetric".into(),
                "legacy".into(),
                "refuse".into(),
                json!("AlreadyExists")
            ),
            (
                "Dimension".into(),
                "legacy-topics".into(),
                "refuse".into(),
                json!("AdoptionNotAllowed")
            ),
            (
                "Dimension".into(),
                "far".into(),
                "refuse".into(),
                json!("Forbidden")
            ),
        ]
    );
    let fresh = &doc["resources"][0];
    assert_eq!(fresh["awsName"], "fresh-metric");
    assert_eq!(
        fresh["changes"][0],
        json!({"field": "metricType", "old": null, "new": "string-list"})
    );

    // With adoption allowed, the dimension is adopted with its ownership tags only.
    let (code, text, _) = run_plan(&[&base[..], &["--allow-adoption"]].concat());
    assert_eq!(code, 1, "the unadoptable metric still refuses");
    assert!(
        text.contains("CREATE   CustomMetric team-a/fresh-metric (fresh-metric in us-east-1)"),
        "{text}"
    );
    assert!(
        text.contains("ADOPT    Dimension team-a/legacy-topics (legacyTopics in us-east-1)"),
        "{text}"
    );
    assert!(
        text.contains("+ tag iot.awscc.io/cluster: (none) -> \"test-cluster\""),
        "{text}"
    );
    assert!(
        text.contains("REFUSED  CustomMetric team-a/legacy (legacyMetric in us-east-1)"),
        "{text}"
    );
    let calls_after: u64 = admin.calls().values().flat_map(|o| o.values()).sum();
    assert!(calls_after > calls_before, "AWS was read");
    assert_eq!(admin.calls().get("TagResource"), None, "nothing written");
    assert_eq!(admin.state(), state_before, "AWS is unchanged");
    let _ = std::fs::remove_dir_all(&dir);
}
