//! The `sandbox` command: kube-sandbox + iot-emulator + the controller in one process, for a
//! zero-install demo and for running the real `run` binary against both (`--no-controller`).
//! Built with the `sandbox` feature only (on by default; the production image leaves it out).

mod demo;

use crate::api::{SecurityProfile, crds};
use crate::config::ControllerArgs;
use crate::operator::{self, Shutdown};
use aws_sdk_iot::config::Credentials;
use clap::Args;
use iot_emulator::{Emulator, EmulatorConfig};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope};
use kube::{Client, ResourceExt};
use kube_sandbox::{Sandbox, SandboxConfig};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Flags of `sandbox`: the controller's, plus where the two servers listen.
#[derive(Args, Clone, Debug)]
pub struct SandboxArgs {
    #[command(flatten)]
    pub controller: ControllerArgs,

    /// Address of the Kubernetes API (HTTPS).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub api_addr: SocketAddr,

    /// Address of the IoT emulator (HTTP).
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub emulator_addr: SocketAddr,

    /// Where to write the kubeconfig (default: a file in the system temp directory).
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,

    /// Manifests to apply once the servers listen: files or folders of YAML (repeatable).
    #[arg(long)]
    pub apply: Vec<PathBuf>,

    /// Exit once the applied resources converged (non-zero, with a report, if some did not).
    #[arg(long)]
    pub once: bool,

    /// Serve only the API and the emulator (run the real `run` binary against them).
    #[arg(long)]
    pub no_controller: bool,

    /// Pre-fill the emulator with N realistic profiles made "by hand" (no ownership tags), to
    /// try export -> plan -> apply offline.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub seed_profiles: usize,

    /// After convergence, raise active violations in the emulator on the applied profiles that
    /// report them, show their status and column fill in, then clear them. Violations are read
    /// at each resync: this reads them every 10 s (or at --resync-period if shorter), and turns
    /// --report-violations on, and says so.
    #[arg(long)]
    pub demo_violations: bool,

    /// How long to wait for the applied resources to converge.
    #[arg(long, default_value = "60s", value_parser = crate::config::parse_duration)]
    pub converge_timeout: Duration,
}

/// Errors of the sandbox command.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("kube-sandbox: {0}")]
    Api(#[from] kube_sandbox::Error),
    #[error("iot-emulator: {0} (is another emulator running? try --emulator-addr 127.0.0.1:0)")]
    Emulator(#[from] iot_emulator::Error),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{path}: {message}")]
    Manifest { path: String, message: String },
    #[error("{0}")]
    Crd(#[from] crate::api::CrdError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("operator: {0}")]
    Operator(#[from] operator::RunError),
    #[error("seeding the emulator: {0}")]
    Seed(String),
    #[error("{0} resource(s) did not converge")]
    NotConverged(usize),
    #[error("violations demo: {0}")]
    Demo(String),
}

/// Credentials the sandbox's controller presents to the emulator (it checks none).
pub fn emulator_credentials() -> Credentials {
    Credentials::new(
        "AKIASANDBOX000000000",
        "sandbox-secret",
        None,
        None,
        "sandbox",
    )
}

/// Runs the sandbox until `shutdown` (or, with `--once`, until convergence).
pub async fn run(args: SandboxArgs, shutdown: Shutdown) -> Result<(), SandboxError> {
    let emulator = Emulator::start(EmulatorConfig {
        listen: args.emulator_addr,
        ..Default::default()
    })
    .await?;
    let sandbox = Sandbox::start(SandboxConfig {
        addr: args.api_addr,
        ..Default::default()
    })
    .await?;
    let kubeconfig = match &args.kubeconfig_out {
        Some(p) => p.clone(),
        None => std::env::temp_dir().join(format!(
            "securityprofile-sandbox-{}.kubeconfig",
            std::process::id()
        )),
    };
    sandbox.write_kubeconfig(&kubeconfig)?;
    let client = sandbox.client().await?;
    let crds_api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in crds()? {
        crds_api.create(&PostParams::default(), &crd).await?;
    }
    println!("kubeconfig: {}", kubeconfig.display());
    println!("emulator: {}", emulator.url());
    if args.seed_profiles > 0 {
        let region = args
            .controller
            .aws
            .default_region
            .as_deref()
            .unwrap_or("us-east-1");
        seed_emulator(&emulator, args.seed_profiles, region).await?;
        println!(
            "seeded {} unowned security profiles in {region}",
            args.seed_profiles
        );
    }

    let operator_task =
        (!args.no_controller).then(|| start_controller(&args, &emulator, &client, &shutdown));

    let documents = load_manifests(&args.apply)?;
    create_thing_groups(&emulator, &documents);
    create_dimensions(&emulator, &documents);
    create_adoptable_profiles(&emulator, &documents, &args.controller);
    let applied = apply(&client, documents).await?;
    println!("applied {} object(s)", applied.len());

    let mut outcome = Ok(());
    if !args.no_controller && !applied.is_empty() {
        let not_ready = report_convergence(&client, &applied, args.converge_timeout).await?;
        if not_ready > 0 {
            outcome = Err(SandboxError::NotConverged(not_ready));
        }
    }
    if args.demo_violations && outcome.is_ok() && !args.no_controller {
        let wait = args.converge_timeout + 3 * demo_period(&args.controller);
        outcome = demo::violations(&emulator, &client, &applied, wait).await;
    }
    if args.once {
        return outcome;
    }
    if let Err(e) = &outcome {
        eprintln!("warning: {e}");
    }
    println!();
    println!("Point kubectl at the sandbox:");
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!("  kubectl get securityprofiles -A");
    println!("Serving until Ctrl-C.");
    shutdown.await;
    if let Some(task) = operator_task {
        let _ = task.await;
    }
    drop(emulator);
    Ok(())
}

/// The operator's controller against the sandbox and its emulator, in the background.
fn start_controller(
    args: &SandboxArgs,
    emulator: &Emulator,
    client: &Client,
    shutdown: &Shutdown,
) -> tokio::task::JoinHandle<Result<(), operator::RunError>> {
    let mut controller = args.controller.clone();
    controller.aws.endpoint_url = Some(emulator.url());
    if args.demo_violations {
        controller.resync_period = demo_period(&args.controller);
        controller.report_violations = true;
        println!(
            "sandbox: --demo-violations runs the controller with --resync-period {}s and --report-violations (run's defaults: 10m, off)",
            controller.resync_period.as_secs()
        );
    }
    controller
        .aws
        .default_region
        .get_or_insert_with(|| "us-east-1".to_string());
    controller
        .cluster_id
        .get_or_insert_with(|| "sandbox".to_string());
    let (client, stop) = (client.clone(), shutdown.clone());
    tokio::spawn(async move {
        operator::run_with_credentials(client, &controller, Some(emulator_credentials()), stop)
            .await
    })
}

/// The resync period of `--demo-violations`: 10 s, or shorter if asked.
fn demo_period(args: &ControllerArgs) -> Duration {
    args.resync_period.min(Duration::from_secs(10))
}

/// Creates `n` unowned profiles (as made "by hand": varied behaviors, targets, tags, no
/// ownership tags), their thing groups and attachments in the emulator's `region`: what
/// `--seed-profiles` does, and what the tests of the brownfield path start from.
pub async fn seed_emulator(
    emulator: &Emulator,
    n: usize,
    region: &str,
) -> Result<(), SandboxError> {
    let admin = emulator.admin();
    let failed = |e: &dyn std::fmt::Display| SandboxError::Seed(e.to_string());
    let seeds = crate::cli::seed::seeds(n, region, admin.account_id());
    for s in &seeds {
        for group in &s.thing_groups {
            admin
                .create_thing_group(group, region)
                .map_err(|e| failed(&e))?;
        }
        admin.put_profile(s.body.clone()).map_err(|e| failed(&e))?;
    }
    let options = crate::aws::AwsOptions {
        endpoint_url: Some(emulator.url()),
        region: Some(region.to_string()),
        ..Default::default()
    };
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let iot = crate::aws::Iot::load(options, Some(emulator_credentials()), metrics).await;
    crate::cli::seed::attach(&iot, region, &seeds)
        .await
        .map_err(|e| failed(&e))
}

/// A document of a manifest file, with where it came from.
struct Document {
    source: String,
    object: DynamicObject,
}

fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, SandboxError> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        Ok(files)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

fn load_manifests(paths: &[PathBuf]) -> Result<Vec<Document>, SandboxError> {
    let mut documents = Vec::new();
    for path in paths {
        for file in manifest_files(path)? {
            let source = file.display().to_string();
            let text = std::fs::read_to_string(&file).map_err(|e| SandboxError::Manifest {
                path: source.clone(),
                message: e.to_string(),
            })?;
            for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                let value =
                    serde_json::Value::deserialize(doc).map_err(|e| SandboxError::Manifest {
                        path: source.clone(),
                        message: e.to_string(),
                    })?;
                if value.is_null() {
                    continue;
                }
                let object: DynamicObject =
                    serde_json::from_value(value).map_err(|e| SandboxError::Manifest {
                        path: source.clone(),
                        message: format!("not a Kubernetes object: {e}"),
                    })?;
                documents.push(Document {
                    source: source.clone(),
                    object,
                });
            }
        }
    }
    Ok(documents)
}

/// The demo's convenience: thing groups that manifests target exist in the emulator.
fn create_thing_groups(emulator: &Emulator, documents: &[Document]) {
    for d in documents {
        let targets = d.object.data["spec"]["targetArns"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for arn in targets.iter().filter_map(|t| t.as_str()) {
            // arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if let [_, _, _, region, _, resource] = parts.as_slice()
                && let Some(name) = resource.strip_prefix("thinggroup/")
            {
                let _ = emulator.admin().create_thing_group(name, region);
            }
        }
    }
}

/// The demo's convenience: dimensions that manifests name exist in the emulator (AWS refuses
/// a profile that names a dimension that does not exist).
fn create_dimensions(emulator: &Emulator, documents: &[Document]) {
    for d in documents {
        let spec = &d.object.data["spec"];
        let region = spec["region"].as_str().unwrap_or("us-east-1");
        let named = ["behaviors", "additionalMetricsToRetainV2"]
            .iter()
            .flat_map(|list| spec[*list].as_array().cloned().unwrap_or_default());
        for item in named {
            if let Some(name) = item["metricDimension"]["dimensionName"].as_str() {
                let dimension = serde_json::json!({
                    "name": name, "type": "TOPIC_FILTER", "stringValues": ["#"], "region": region,
                });
                let _ = emulator.admin().put_dimension(dimension);
            }
        }
    }
}

/// The demo's convenience: a manifest with `adoptionPolicy: Adopt` finds its profile in the
/// emulator, unowned, as if made in the console (adopting it still needs the namespace's
/// `iot.awscc.io/allow-adoption` annotation or `--allow-adoption`, as anywhere).
fn create_adoptable_profiles(emulator: &Emulator, documents: &[Document], args: &ControllerArgs) {
    let default_region = args.aws.default_region.as_deref().unwrap_or("us-east-1");
    for d in documents.iter().filter(|d| {
        d.object
            .types
            .as_ref()
            .is_some_and(|t| t.kind == "SecurityProfile")
            && d.object.data["spec"]["adoptionPolicy"] == "Adopt"
    }) {
        let spec = &d.object.data["spec"];
        let name = spec["securityProfileName"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| d.object.name_any());
        let region = spec["region"].as_str().unwrap_or(default_region);
        let exists = emulator
            .admin()
            .state()
            .profiles
            .iter()
            .any(|p| p.name == name && p.region == region);
        let profile = serde_json::json!({
            "securityProfileName": name, "region": region,
            "securityProfileDescription": "made in the console",
            "tags": {"owner": "console"},
        });
        if !exists && emulator.admin().put_profile(profile).is_ok() {
            println!(
                "created unowned profile {name} in {region} for {} (adoptionPolicy: Adopt)",
                d.source
            );
        }
    }
}

/// Server-side applies every document (namespace `default` when none is given).
async fn apply(
    client: &Client,
    documents: Vec<Document>,
) -> Result<Vec<(String, String)>, SandboxError> {
    let mut applied = Vec::new();
    if documents.is_empty() {
        return Ok(applied);
    }
    let discovery = Discovery::new(client.clone()).run().await?;
    for d in documents {
        let types = d
            .object
            .types
            .clone()
            .ok_or_else(|| SandboxError::Manifest {
                path: d.source.clone(),
                message: "apiVersion and kind are required".into(),
            })?;
        let (group, version) = match types.api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), types.api_version.clone()),
        };
        let gvk = kube::api::GroupVersionKind::gvk(&group, &version, &types.kind);
        let (resource, caps) =
            discovery
                .resolve_gvk(&gvk)
                .ok_or_else(|| SandboxError::Manifest {
                    path: d.source.clone(),
                    message: format!("the server does not serve {}", types.kind),
                })?;
        let name = d.object.name_any();
        let namespace = d
            .object
            .namespace()
            .unwrap_or_else(|| "default".to_string());
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(client.clone(), &namespace, &resource),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            &name,
            &PatchParams::apply("securityprofile-sandbox").force(),
            &Patch::Apply(&d.object),
        )
        .await?;
        println!(
            "{}/{} applied ({})",
            types.kind.to_lowercase(),
            name,
            d.source
        );
        if types.kind == "SecurityProfile" {
            applied.push((namespace, name));
        }
    }
    Ok(applied)
}

/// Terminal: Ready at the current generation, or Synced=False for a reason that waits for the user.
fn settled(sp: &SecurityProfile) -> bool {
    let reconciled =
        sp.status.as_ref().and_then(|s| s.observed_generation) == sp.metadata.generation;
    let ready = sp.is_true("Ready");
    let blocked = sp.condition("Synced").is_some_and(|c| {
        c.status == "False"
            && matches!(
                c.reason.as_str(),
                "InvalidSpec" | "AlreadyExists" | "OwnedByAnother" | "AccessDenied" | "Paused"
            )
    });
    reconciled && (ready || blocked)
}

/// Waits for the applied SecurityProfiles, prints how each converged; returns how many are not Ready.
async fn report_convergence(
    client: &Client,
    applied: &[(String, String)],
    timeout: Duration,
) -> Result<usize, SandboxError> {
    let start = Instant::now();
    let api: Api<SecurityProfile> = Api::all(client.clone());
    let wanted = |sp: &SecurityProfile| {
        applied
            .iter()
            .any(|(ns, n)| sp.namespace().as_deref() == Some(ns.as_str()) && sp.name_any() == *n)
    };
    let items = loop {
        let items: Vec<SecurityProfile> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|sp| wanted(sp))
            .collect();
        if items.iter().all(settled) || start.elapsed() > timeout {
            break items;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!();
    println!(
        "{:<28}  {:<24}  {:<6}  {:>7}  {:>7}  ARN",
        "NAMESPACE/NAME", "AWS NAME", "READY", "VERSION", "TARGETS"
    );
    let mut not_ready = 0;
    for sp in &items {
        let st = sp.status.clone().unwrap_or_default();
        let is_ready = sp.is_true("Ready");
        if !is_ready {
            not_ready += 1;
        }
        println!(
            "{:<28}  {:<24}  {:<6}  {:>7}  {:>7}  {}",
            format!("{}/{}", sp.namespace().unwrap_or_default(), sp.name_any()),
            st.security_profile_name.unwrap_or_default(),
            if is_ready { "True" } else { "False" },
            st.version.map(|v| v.to_string()).unwrap_or_default(),
            st.target_count.unwrap_or(0),
            st.security_profile_arn.unwrap_or_default(),
        );
        if !is_ready && let Some(c) = sp.condition("Synced") {
            println!("    Synced={} {}: {}", c.status, c.reason, c.message);
        }
    }
    let missing = applied.len().saturating_sub(items.len());
    println!(
        "{} of {} converged in {:.1}s",
        items.len() - not_ready,
        applied.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(not_ready + missing)
}
