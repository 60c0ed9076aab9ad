//! Opt-in lanes against the real world: the lifecycle against a real AWS account, and the
//! operator against a real cluster and a real account. Everything else in this suite is proven
//! against our own emulator and API server; these lanes are where AWS's own normalisation
//! would show, so after each step they check that a resync plans no write.
//!
//! They are `#[ignore]`d, so the default run lists them as ignored with the reason. Run them
//! with `scripts/real-lanes.sh`, which needs:
//! - `SPO_REAL_AWS_REGION` and AWS credentials in the default chain (AWS lane);
//! - additionally `SPO_REAL_KUBECONFIG`, a cluster where the CRD may be installed (cluster lane).
//!
//! Without them each lane prints `SKIPPED` with what is missing and passes.

use crate::harness::{eventually, name_of};
use kube::api::{Api, DeleteParams, PostParams};
use securityprofile_operator::api::{SecurityProfile, SecurityProfileSpec};
use securityprofile_operator::aws::{AwsOptions, Iot};
use securityprofile_operator::metrics::Metrics;
use securityprofile_operator::reconcile::{
    Desired, Facts, Identity, Observed, Plan, Resolution, Step, desired, plan,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The variable's value, or a printed SKIPPED line naming it.
fn lane(lane: &str, vars: &[&str]) -> Option<Vec<String>> {
    let values: Vec<Option<String>> = vars
        .iter()
        .map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .collect();
    if values.iter().all(Option::is_some) {
        return Some(values.into_iter().flatten().collect());
    }
    eprintln!("SKIPPED: the {lane} lane needs {}", vars.join(" and "));
    println!("SKIPPED: the {lane} lane needs {}", vars.join(" and "));
    None
}

fn spec(description: &str) -> SecurityProfileSpec {
    serde_json::from_value(json!({
        "securityProfileDescription": description,
        "behaviors": [{
            "name": "Disconnects",
            "metric": "aws:num-disconnects",
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 5}, "durationSeconds": 300}
        }, {
            "name": "SourceIp",
            "metric": "aws:source-ip-address",
            "criteria": {"comparisonOperator": "not-in-cidr-set", "value": {"cidrs": ["192.168.0.0/16", "10.0.0.0/8"]}}
        }],
        "tags": [{"key": "lane", "value": "real"}]
    }))
    .expect("a valid spec")
}

fn planned(d: &Desired, id: &Identity, observed: Option<&Observed>) -> Plan {
    let resolution = Resolution {
        identity: id.clone(),
        pinned: true,
        moved_to: None,
    };
    let facts = Facts {
        resolution: &resolution,
        observed,
        was_ready: true,
    };
    plan(d, facts)
}

/// Runs the steps the planner asks for, as the controller would.
async fn run(iot: &Iot, id: &Identity, observed: Option<&Observed>, steps: &[Step]) {
    let arn = observed.map(|o| o.arn.clone()).unwrap_or_default();
    for step in steps {
        let (r, n) = (id.region.as_str(), id.name.as_str());
        let done = match step {
            Step::Create { attributes, tags } => {
                iot.create(r, n, attributes, tags).await.map(|_| ())
            }
            Step::Update {
                expected_version,
                update,
            } => iot
                .update(r, n, *expected_version, update)
                .await
                .map(|_| ()),
            Step::Tag(tags) => iot.tag(r, &arn, tags).await,
            Step::Untag(keys) => iot.untag(r, &arn, keys).await,
            Step::Attach(t) => iot.attach(r, n, t).await,
            Step::Detach(t) => iot.detach(r, n, t).await,
            Step::Delete { expected_version } => iot.delete(r, n, *expected_version).await,
        };
        done.unwrap_or_else(|e| panic!("{step:?}: {e}"));
    }
}

/// Reads the profile and runs what the planner asks for to reach `d`.
async fn converge(iot: &Iot, d: &Desired, id: &Identity) {
    let observed = iot.observe(&id.region, &id.name).await.expect("observe");
    run(
        iot,
        id,
        observed.as_ref(),
        planned(d, id, observed.as_ref()).steps(),
    )
    .await;
}

/// Deletes the profile as the finalizer would, and checks it is gone.
async fn delete(iot: &Iot, d: Desired, id: &Identity) {
    let deleting = Desired {
        deleting: true,
        ..d
    };
    converge(iot, &deleting, id).await;
    assert!(
        iot.describe(&id.region, &id.name)
            .await
            .expect("describe")
            .is_none(),
        "deleted"
    );
}

async fn assert_resync_writes_nothing(iot: &Iot, d: &Desired, id: &Identity, after: &str) {
    let observed = iot.observe(&id.region, &id.name).await.expect("observe");
    let p = planned(d, id, observed.as_ref());
    assert!(
        p.steps().is_empty(),
        "a resync after {after} would write: {p:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "opt-in lane against a real AWS account: scripts/real-lanes.sh"]
async fn real_aws_lifecycle_then_every_resync_writes_nothing() {
    let Some(vars) = lane("real AWS", &["SPO_REAL_AWS_REGION"]) else {
        return;
    };
    let options = AwsOptions {
        region: Some(vars[0].clone()),
        ..Default::default()
    };
    let iot = Iot::load(options, None, Arc::new(Metrics::default())).await;
    let name = format!("spo-lane-{}", rand::random::<u32>());
    let id = Identity {
        name: name.clone(),
        region: vars[0].clone(),
    };
    let mut sp = SecurityProfile::new(&name, spec("created by the real-AWS lane"));
    sp.metadata.namespace = Some("lane".into());
    let d = desired(&sp, "real-lane", &name);
    run(&iot, &id, None, planned(&d, &id, None).steps()).await;
    assert_resync_writes_nothing(&iot, &d, &id, "create").await;

    sp.spec = spec("updated by the real-AWS lane");
    sp.spec.tags = None;
    let d = desired(&sp, "real-lane", &name);
    converge(&iot, &d, &id).await;
    assert_resync_writes_nothing(&iot, &d, &id, "update").await;

    delete(&iot, d, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "opt-in lane against a real cluster and AWS account: scripts/real-lanes.sh"]
async fn real_cluster_lifecycle_then_a_resync_writes_nothing() {
    let Some(vars) = lane(
        "real cluster",
        &["SPO_REAL_KUBECONFIG", "SPO_REAL_AWS_REGION"],
    ) else {
        return;
    };
    let kubeconfig = kube::config::Kubeconfig::read_from(&vars[0]).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("kube config");
    let client = kube::Client::try_from(config).expect("kube client");
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let crd = securityprofile_operator::api::crd().expect("crd");
    let _ = crds.create(&PostParams::default(), &crd).await;
    let ns = format!("spo-lane-{}", rand::random::<u16>());
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns"),
        )
        .await
        .expect("namespace");
    let args = crate::harness::args("", &[]);
    let mut args = args;
    args.aws.endpoint_url = None;
    args.aws.default_region = Some(vars[1].clone());
    args.watch_namespaces = vec![ns.clone()];
    args.resync_period = Duration::from_secs(10);
    args.cluster_id = Some("real-lane".into());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = securityprofile_operator::operator::shutdown_on(async move {
        let _ = rx.await;
    });
    let op = tokio::spawn({
        let client = client.clone();
        async move { securityprofile_operator::operator::run(client, &args, shutdown).await }
    });
    let api: Api<SecurityProfile> = Api::namespaced(client.clone(), &ns);
    let sp = SecurityProfile::new("lane", spec("created through a real cluster"));
    api.create(&PostParams::default(), &sp)
        .await
        .expect("create");
    let ready = eventually(
        "Ready in a real cluster",
        Duration::from_secs(120),
        || async { api.get("lane").await.ok().filter(|sp| sp.is_true("Ready")) },
    )
    .await;
    let version = ready.status.as_ref().and_then(|s| s.version);
    // Two resyncs later AWS was not written: the version is the one the create left.
    tokio::time::sleep(Duration::from_secs(25)).await;
    let again = api.get("lane").await.expect("get");
    assert_eq!(
        again.status.and_then(|s| s.version),
        version,
        "a resync wrote to AWS"
    );
    api.delete(&name_of(&ready), &DeleteParams::default())
        .await
        .expect("delete");
    eventually(
        "deleted in a real cluster",
        Duration::from_secs(120),
        || async {
            api.get_opt("lane")
                .await
                .ok()
                .and_then(|o| o.is_none().then_some(()))
        },
    )
    .await;
    let _ = tx.send(());
    let _ = op.await;
    let _ = namespaces.delete(&ns, &DeleteParams::default()).await;
}

/// A spec that uses the lane's custom metric and dimension, attached to `targets`.
fn spec_using(metric: &str, dimension: &str, targets: &[&str]) -> SecurityProfileSpec {
    serde_json::from_value(json!({
        "securityProfileDescription": "created by the real IAM lane",
        "behaviors": [{
            "name": "LaneMetric",
            "metric": metric,
            "criteria": {"comparisonOperator": "greater-than", "value": {"number": 5}, "durationSeconds": 300}
        }, {
            "name": "LaneTopics",
            "metric": "aws:num-messages-sent",
            "metricDimension": {"dimensionName": dimension},
            "criteria": {"comparisonOperator": "greater-than", "value": {"count": 100}, "durationSeconds": 300}
        }],
        "targetArns": targets,
    }))
    .expect("a valid spec")
}

/// The scoped policy against AWS's own IAM: `scripts/real-lanes.sh` puts what `iam-policy
/// --account … --region … --cluster-id real-lane` prints on the role `SPO_REAL_IAM_ROLE_NAME`,
/// makes a custom metric, a dimension and a thing group with its own credentials (so they are
/// not this cluster's), and runs this test with the role's credentials: every call of a
/// profile that uses them, created, attached, updated, detached and deleted, must be allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "opt-in lane against a real AWS account and IAM role: scripts/real-lanes.sh"]
async fn real_iam_scoped_policy_allows_a_profile_using_a_metric_and_a_dimension() {
    let Some(vars) = lane(
        "real IAM",
        &[
            "SPO_REAL_AWS_REGION",
            "SPO_REAL_IAM_METRIC",
            "SPO_REAL_IAM_DIMENSION",
            "SPO_REAL_IAM_THING_GROUP_ARN",
        ],
    ) else {
        return;
    };
    let (region, metric, dimension, group) = (&vars[0], &vars[1], &vars[2], &vars[3]);
    let options = AwsOptions {
        region: Some(region.clone()),
        ..Default::default()
    };
    let iot = Iot::load(options, None, Arc::new(Metrics::default())).await;
    let name = format!("spo-lane-iam-{}", rand::random::<u32>());
    let id = Identity {
        name: name.clone(),
        region: region.clone(),
    };
    let mut sp = SecurityProfile::new(&name, spec_using(metric, dimension, &[group]));
    sp.metadata.namespace = Some("lane".into());
    // Created with the ownership tags of cluster `real-lane` (the policy's --cluster-id), and
    // attached to the thing group.
    let d = desired(&sp, "real-lane", &name);
    run(&iot, &id, None, planned(&d, &id, None).steps()).await;
    converge(&iot, &d, &id).await;
    assert_resync_writes_nothing(&iot, &d, &id, "create and attach").await;

    // Updated and detached.
    let mut updated = spec_using(metric, dimension, &[]);
    updated.security_profile_description = Some("updated by the real IAM lane".into());
    sp.spec = updated;
    let d = desired(&sp, "real-lane", &name);
    converge(&iot, &d, &id).await;
    assert_resync_writes_nothing(&iot, &d, &id, "update and detach").await;

    delete(&iot, d, &id).await;
}
