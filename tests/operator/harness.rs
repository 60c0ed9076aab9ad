//! One isolated world per test: an emulator, an API server (kube-sandbox or a real
//! kube-apiserver, see `cluster.rs`) with the CRDs installed, a namespace, and the operator
//! running in-process against both.

#![allow(dead_code)]

pub use crate::cluster::{Cluster, Server};
use aws_sdk_iot::config::Credentials;
use clap::Parser;
use iot_emulator::{Emulator, EmulatorConfig, Profile};
use k8s_openapi::api::core::v1::{Event, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use securityprofile_operator::api::{
    SecurityProfile, SecurityProfileSpec, crds as crds_of_the_operator,
};
use securityprofile_operator::config::ControllerArgs;
use securityprofile_operator::operator::{self, Shutdown};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub const NS: &str = "team-a";
pub const CLUSTER: &str = "test-cluster";
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    args: ControllerArgs,
}

/// Controller flags for tests: the emulator, a fixed cluster id, ephemeral probe ports.
pub fn args(emulator_url: &str, extra: &[&str]) -> ControllerArgs {
    let defaults = [
        ("--aws-endpoint-url", emulator_url),
        ("--cluster-id", CLUSTER),
        ("--default-region", REGION),
        ("--metrics-addr", "127.0.0.1:0"),
        ("--health-addr", "127.0.0.1:0"),
        ("--aws-attempt-timeout", "2s"),
    ];
    let mut argv = vec!["test"];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            argv.extend([flag, value]);
        }
    }
    argv.extend_from_slice(extra);
    Flags::parse_from(argv).args
}

pub fn credentials() -> Credentials {
    Credentials::new("AKIDTESTTESTTEST", "test-secret", None, None, "tests")
}

/// The policy `iam-policy --account ACCOUNT --cluster-id CLUSTER` prints (any region: tests
/// move profiles between regions): the one every integration test runs under, so the suite
/// proves the operator works with exactly it.
pub fn iam_policy(cluster: &str) -> Value {
    securityprofile_operator::iam::policy_for(&policy_args(cluster)).expect("a scoped policy")
}

/// The options of [`iam_policy`], for tests that add one (`--report-violations`, …).
pub fn policy_args(cluster: &str) -> securityprofile_operator::iam::PolicyArgs {
    securityprofile_operator::iam::PolicyArgs {
        accounts: vec![ACCOUNT.to_string()],
        regions: Vec::new(),
        allowed_role_arns: vec![format!("arn:aws:iam::{ACCOUNT}:role/*")],
        cluster_id: Some(cluster.to_string()),
        partition: "aws".to_string(),
        ..Default::default()
    }
}

/// The emulator on an ephemeral port, enforcing the scoped policy of `iam-policy` (least
/// privilege, ownership by tags).
pub async fn start_emulator() -> Emulator {
    securityprofile_operator::install_crypto_provider();
    securityprofile_operator::telemetry::init(securityprofile_operator::config::LogFormat::Text);
    let emulator = Emulator::start(EmulatorConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .expect("emulator starts");
    emulator
        .admin()
        .set_iam_policy(None, &iam_policy(CLUSTER))
        .expect("the emulator evaluates the generated policy");
    // The dimension the every-field specs name (AWS refuses a profile naming a missing one).
    emulator
        .admin()
        .put_dimension(json!({
            "name": "TopicFilterForAuthMessages", "type": "TOPIC_FILTER", "stringValues": ["auth/#"],
        }))
        .expect("dimension");
    emulator
}

/// A running operator, stopped on drop.
pub struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<Result<(), operator::RunError>>,
}

impl Running {
    /// Graceful stop (SIGTERM path).
    pub async fn stop(mut self) -> Result<(), operator::RunError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task).await.expect("operator task panicked")
    }

    /// Abrupt stop: the task is dropped wherever it is (kill -9 of an in-process operator).
    pub fn kill(self) {
        self.task.abort();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn start_operator(client: Client, args: ControllerArgs) -> Running {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown: Shutdown = operator::shutdown_on(async move {
        let _ = rx.await;
    });
    let task = tokio::spawn(async move {
        operator::run_with_credentials(client, &args, Some(credentials()), shutdown).await
    });
    Running {
        stop: Some(tx),
        task,
    }
}

pub struct Env {
    pub emulator: Emulator,
    pub cluster: Cluster,
    /// The cluster admin's client (tests act as users and admins).
    pub client: Client,
    /// The operator's identity: the chart's ServiceAccount on kube-apiserver.
    pub operator_client: Client,
    pub operator: Option<Running>,
}

impl Env {
    /// Every call the emulator answered, whatever the operation and outcome.
    pub fn total_calls(&self) -> u64 {
        self.emulator
            .admin()
            .calls()
            .values()
            .flat_map(|outcomes| outcomes.values())
            .sum()
    }

    /// Emulator + sandbox + CRD + namespace + operator (least privilege: the emulator allows only
    /// the actions of `iam-policy`).
    pub async fn start(server: Server) -> Env {
        Env::start_with(server, &[]).await
    }

    pub async fn start_with(server: Server, extra: &[&str]) -> Env {
        let mut env = Env::without_operator(server).await;
        env.operator = Some(env.start_operator(args(&env.emulator.url(), extra)));
        env
    }

    /// Starts an operator as the operator's identity on this server (the chart's
    /// ServiceAccount on kube-apiserver).
    pub fn start_operator(&self, args: ControllerArgs) -> Running {
        start_operator(self.operator_client.clone(), args)
    }

    pub async fn without_operator(server: Server) -> Env {
        let emulator = start_emulator().await;
        let cluster = Cluster::start(server).await;
        let client = cluster.admin.clone();
        let operator_client = cluster.operator_client().await;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for (_, crd) in crds_of_the_operator().unwrap() {
            crds.create(&PostParams::default(), &crd)
                .await
                .expect("CRD installs");
        }
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap(),
            )
            .await
            .expect("namespace");
        // Discovery of the new kind may lag the CRD write: wait until the API serves it.
        let api: Api<SecurityProfile> = Api::namespaced(client.clone(), NS);
        eventually("the CRD is served", Duration::from_secs(10), || async {
            api.list(&ListParams::default()).await.is_ok().then_some(())
        })
        .await;
        Env {
            emulator,
            cluster,
            client,
            operator_client,
            operator: None,
        }
    }

    pub fn api(&self) -> Api<SecurityProfile> {
        Api::namespaced(self.client.clone(), NS)
    }

    /// Merge-patches a namespace's annotations (what a cluster admin does), creating the
    /// namespace when it does not exist yet.
    pub async fn annotate_namespace(&self, name: &str, annotations: Value) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let patch = json!({"metadata": {"name": name, "annotations": annotations}});
        if namespaces
            .get_opt(name)
            .await
            .expect("get namespace")
            .is_none()
        {
            namespaces
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(patch).unwrap(),
                )
                .await
                .expect("create namespace");
            return;
        }
        namespaces
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .expect("annotate namespace");
    }

    pub fn thing_group(&self, name: &str) -> String {
        self.emulator
            .admin()
            .create_thing_group(name, REGION)
            .expect("thing group")
    }

    pub async fn create(&self, name: &str, spec: SecurityProfileSpec) -> SecurityProfile {
        self.api()
            .create(&PostParams::default(), &SecurityProfile::new(name, spec))
            .await
            .expect("create SecurityProfile")
    }

    pub async fn create_json(&self, value: Value) -> SecurityProfile {
        let sp: SecurityProfile = serde_json::from_value(value).expect("a SecurityProfile");
        self.api()
            .create(&PostParams::default(), &sp)
            .await
            .expect("create SecurityProfile")
    }

    /// Merge-patches the spec (a user's `kubectl patch --type merge`).
    pub async fn patch_spec(&self, name: &str, spec: Value) -> SecurityProfile {
        self.api()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await
            .expect("patch spec")
    }

    pub async fn patch_meta(&self, name: &str, metadata: Value) -> SecurityProfile {
        self.api()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "metadata": metadata })),
            )
            .await
            .expect("patch metadata")
    }

    pub async fn delete(&self, name: &str) {
        self.api()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete");
    }

    pub async fn get(&self, name: &str) -> Option<SecurityProfile> {
        self.api().get_opt(name).await.expect("get")
    }

    /// Waits until the resource satisfies `pred`.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&SecurityProfile) -> bool,
    ) -> SecurityProfile {
        self.wait_for_within(name, what, Duration::from_secs(30), pred)
            .await
    }

    /// [`Env::wait_for`] with a longer budget (storms, where backoff is the point).
    pub async fn wait_for_within(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&SecurityProfile) -> bool,
    ) -> SecurityProfile {
        let api = self.api();
        eventually(what, timeout, || async {
            api.get_opt(name).await.ok().flatten().filter(|sp| pred(sp))
        })
        .await
    }

    /// Waits until the current generation is reconciled and Ready=True.
    pub async fn wait_ready(&self, name: &str) -> SecurityProfile {
        self.wait_ready_within(name, Duration::from_secs(30)).await
    }

    pub async fn wait_ready_within(&self, name: &str, timeout: Duration) -> SecurityProfile {
        self.wait_for_within(name, &format!("{name} Ready"), timeout, |sp| {
            condition(sp, "Ready").is_some_and(|c| c.0 == "True")
                && sp.status.as_ref().and_then(|s| s.observed_generation) == sp.metadata.generation
                && condition(sp, "Synced").is_some_and(|c| c.0 == "True")
        })
        .await
    }

    /// Waits until `Synced=False` with `reason`.
    pub async fn wait_synced_false(&self, name: &str, reason: &str) -> SecurityProfile {
        self.wait_for(name, &format!("{name} Synced=False {reason}"), |sp| {
            condition(sp, "Synced").is_some_and(|c| c.0 == "False" && c.1 == reason)
        })
        .await
    }

    pub async fn wait_gone(&self, name: &str) {
        let api = self.api();
        eventually(
            &format!("{name} deleted"),
            Duration::from_secs(30),
            || async { matches!(api.get_opt(name).await, Ok(None)).then_some(()) },
        )
        .await
    }

    /// The emulator's profile of that name in the test region.
    pub fn profile(&self, name: &str) -> Option<Profile> {
        self.emulator
            .admin()
            .state()
            .profiles
            .into_iter()
            .find(|p| p.name == name && p.region == REGION)
    }

    /// Calls of one operation with outcome `ok`.
    pub fn ok_calls(&self, operation: &str) -> u64 {
        self.calls(operation).get("ok").copied().unwrap_or(0)
    }

    /// Calls of one operation by outcome.
    pub fn calls(&self, operation: &str) -> std::collections::BTreeMap<String, u64> {
        self.emulator
            .admin()
            .calls()
            .get(operation)
            .cloned()
            .unwrap_or_default()
    }

    /// All calls of one operation, whatever the outcome.
    pub fn all_calls(&self, operation: &str) -> u64 {
        self.calls(operation).values().sum()
    }

    /// Every write call that succeeded (any mutation of AWS).
    pub fn writes(&self) -> u64 {
        [
            "CreateSecurityProfile",
            "UpdateSecurityProfile",
            "DeleteSecurityProfile",
            "AttachSecurityProfile",
            "DetachSecurityProfile",
            "TagResource",
            "UntagResource",
        ]
        .iter()
        .map(|op| self.ok_calls(op))
        .sum()
    }

    /// Events about a resource, as (type, reason, note).
    pub async fn events(&self, name: &str) -> Vec<(String, String, String)> {
        // Both APIs show the same stored events (on kube-apiserver and on the sandbox): each
        // is taken once, by name.
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let core: Api<Event> = Api::namespaced(self.client.clone(), NS);
        if let Ok(list) = core.list(&ListParams::default()).await {
            for e in list.items {
                if e.involved_object.name.as_deref() == Some(name)
                    && seen.insert(e.metadata.name.clone())
                {
                    out.push((
                        e.type_.unwrap_or_default(),
                        e.reason.unwrap_or_default(),
                        e.message.unwrap_or_default(),
                    ));
                }
            }
        }
        let new: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), NS);
        if let Ok(list) = new.list(&ListParams::default()).await {
            for e in list.items {
                if e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
                    && seen.insert(e.metadata.name.clone())
                {
                    out.push((
                        e.type_.unwrap_or_default(),
                        e.reason.unwrap_or_default(),
                        e.note.unwrap_or_default(),
                    ));
                }
            }
        }
        out
    }

    /// Waits for an event with this reason.
    pub async fn wait_event(&self, name: &str, reason: &str) -> (String, String, String) {
        eventually(
            &format!("event {reason} on {name}"),
            Duration::from_secs(30),
            || async { self.events(name).await.into_iter().find(|e| e.1 == reason) },
        )
        .await
    }
}

/// (status, reason, message) of a condition.
pub fn condition(sp: &SecurityProfile, type_: &str) -> Option<(String, String, String)> {
    sp.condition(type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Polls `f` until it returns `Some`, failing the test with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lets time pass with the operator running, to show that something does NOT happen.
pub async fn settle(d: Duration) {
    tokio::time::sleep(d).await;
}

pub fn name_of(sp: &SecurityProfile) -> String {
    sp.name_any()
}

/// A free loopback port (bound, then released for the operator to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on a loopback port: (status code, the whole response).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

/// The operator's `/metrics` on a loopback port (it must answer 200).
pub async fn scrape(port: u16) -> String {
    let (code, out) = http_get(port, "/metrics").await;
    assert_eq!(code, 200, "{out}");
    out
}
