//! The bench's world: kube-sandbox and the IoT emulator in this process, the operator's `run`
//! in a separate process (so that its CPU and memory are its own).

use crate::args::BenchArgs;
use crate::procfs::{self, Footprint};
use anyhow::{Context, Result, bail};
use iot_emulator::{Emulator, EmulatorConfig};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use kube_sandbox::{Sandbox, SandboxConfig};
use securityprofile_operator::api::{SecurityProfile, crds as operator_crds};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

pub const NAMESPACE: &str = "bench";
pub const REGION: &str = "us-east-1";
/// Thing groups the resources attach to (each resource takes two of them).
pub const GROUPS: usize = 10;

pub struct World {
    pub emulator: Emulator,
    /// Kept alive: dropping it stops the API server.
    pub _sandbox: Sandbox,
    pub client: Client,
    pub groups: Vec<String>,
    pub operator: Child,
    pub operator_pid: u32,
    pub operator_log: PathBuf,
    pub metrics_addr: std::net::SocketAddr,
    pub ticks: f64,
}

impl World {
    pub async fn start(args: &BenchArgs, dir: &Path) -> Result<World> {
        securityprofile_operator::install_crypto_provider();
        // The emulator enforces the quotas the operator assumes: the uniform --tps, or AWS's
        // documented quota of each operation.
        let tps = match args.tps {
            Some(_) => Default::default(),
            None => securityprofile_operator::aws::DOCUMENTED_QUOTAS
                .iter()
                .map(|(op, q)| (op.to_string(), *q))
                .collect(),
        };
        let emulator = Emulator::start(EmulatorConfig {
            listen: "127.0.0.1:0".parse()?,
            default_tps: args.tps,
            tps,
            ..Default::default()
        })
        .await
        .context("starting the IoT emulator")?;
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .context("starting kube-sandbox")?;
        let client = sandbox.client().await.context("sandbox client")?;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        for (_, crd) in operator_crds()? {
            crds.create(&PostParams::default(), &crd)
                .await
                .context("installing the CRDs")?;
        }
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
            )
            .await
            .context("creating the namespace")?;
        let api: Api<SecurityProfile> = Api::namespaced(client.clone(), NAMESPACE);
        let start = Instant::now();
        while api.list(&ListParams::default().limit(1)).await.is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!("the sandbox does not serve the SecurityProfile kind");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let groups = (0..GROUPS)
            .map(|i| {
                emulator
                    .admin()
                    .create_thing_group(&format!("fleet-{i}"), REGION)
                    .context("creating a thing group")
            })
            .collect::<Result<Vec<_>>>()?;

        std::fs::create_dir_all(dir)?;
        let kubeconfig = dir.join("convergence-kubeconfig.yaml");
        sandbox.write_kubeconfig(&kubeconfig)?;
        let operator_log = dir.join("convergence-operator.log");
        let log = std::fs::File::create(&operator_log)?;
        let metrics_addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?
        };
        let mut operator = Command::new(env!("CARGO_BIN_EXE_securityprofile-operator"));
        operator.arg("run");
        // The operator paces itself at the quota the emulator enforces (its default: AWS's).
        if let Some(t) = args.tps {
            operator.arg("--aws-tps").arg(format!("*={t}"));
        }
        if args.report_violations {
            operator.arg("--report-violations");
        }
        let operator = operator
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["--aws-endpoint-url", &emulator.url()])
            .args(["--cluster-id", "bench", "--default-region", REGION])
            .args(["--metrics-addr", &metrics_addr.to_string()])
            .args(["--health-addr", "127.0.0.1:0"])
            .arg("--resync-period")
            .arg(format!("{}ms", args.resync.as_millis()))
            .arg("--concurrency")
            .arg(args.concurrency.to_string())
            .env("AWS_ACCESS_KEY_ID", "AKIDBENCHBENCHBENCH")
            .env("AWS_SECRET_ACCESS_KEY", "bench-secret")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting the operator")?;
        let operator_pid = operator.id().context("operator pid")?;
        let mut world = World {
            emulator,
            _sandbox: sandbox,
            client,
            groups,
            operator,
            operator_pid,
            operator_log,
            metrics_addr,
            ticks: procfs::clock_ticks(),
        };
        // Let it connect and list before the clock starts; it must still be running after that.
        tokio::time::sleep(Duration::from_secs(2)).await;
        world.check_operator()?;
        Ok(world)
    }

    /// A gauge or counter of the operator's /metrics (plain HTTP/1.0, one sample, no labels).
    pub async fn operator_metric(&self, name: &str) -> Option<f64> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = tokio::net::TcpStream::connect(self.metrics_addr)
            .await
            .ok()?;
        conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: operator\r\n\r\n")
            .await
            .ok()?;
        let mut body = String::new();
        conn.read_to_string(&mut body).await.ok()?;
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Raises one active violation on every tenth resource, so that the operator's reads
    /// have something to page through and report.
    pub fn raise_violations(&self, live: &[usize]) -> Result<()> {
        for i in live.iter().copied().filter(|i| i % 10 == 0) {
            self.emulator
                .admin()
                .put_violation(json!({
                    "securityProfileName": crate::phases::name(i),
                    "thingName": format!("device-{i}"),
                    "behaviorName": "messages-sent",
                    "value": {"count": 500},
                    "region": REGION,
                }))
                .context("raising a violation")?;
        }
        Ok(())
    }

    pub fn api(&self) -> Api<SecurityProfile> {
        Api::namespaced(self.client.clone(), NAMESPACE)
    }

    /// Fails when the operator process has exited.
    pub fn check_operator(&mut self) -> Result<()> {
        if let Some(status) = self.operator.try_wait()? {
            bail!(
                "the operator exited ({status}); see {}",
                self.operator_log.display()
            );
        }
        Ok(())
    }

    pub fn footprint(&self) -> Result<Footprint> {
        procfs::footprint(self.operator_pid, self.ticks)
    }

    /// The sandbox's global resourceVersion: it goes up by one for every stored write.
    pub async fn global_resource_version(&self) -> Result<u64> {
        let list = self.api().list(&ListParams::default().limit(1)).await?;
        Ok(list
            .metadata
            .resource_version
            .unwrap_or_default()
            .parse()
            .unwrap_or(0))
    }

    /// Warning events with reason Throttled (counting repeats of a series).
    pub async fn throttled_events(&self) -> Result<u64> {
        let events: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.client.clone(), NAMESPACE);
        let list = events.list(&ListParams::default()).await?;
        Ok(list
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("Throttled"))
            .map(|e| {
                e.series
                    .as_ref()
                    .map(|s| s.count.max(1) as u64)
                    .unwrap_or(1)
            })
            .sum())
    }

    /// Names of profiles left in the emulator.
    pub fn leftover_profiles(&self) -> Vec<String> {
        self.emulator
            .admin()
            .state()
            .profiles
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    /// SecurityProfile objects the API still has.
    pub async fn leftover_resources(&self) -> Result<Vec<String>> {
        Ok(self
            .api()
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|sp| sp.name_any())
            .collect())
    }
}
