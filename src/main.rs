//! securityprofile-operator: run | crd | iam-policy | sandbox | export | plan | probe.

use clap::{Parser, Subcommand};
use securityprofile_operator::cli::{export, plan};
use securityprofile_operator::config::{ControllerArgs, LogFormat};
#[cfg(feature = "sandbox")]
use securityprofile_operator::sandbox::{self, SandboxArgs};
use securityprofile_operator::{api, iam, operator, telemetry};

#[derive(Parser)]
#[command(
    name = "securityprofile-operator",
    version = securityprofile_operator::metrics::VERSION_LINE,
    about = "Kubernetes operator for AWS IoT Device Defender security profiles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(Box<ControllerArgs>),
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Print the least-privilege IAM policy JSON (scoped to accounts, regions, roles and this
    /// cluster's ownership tag with options).
    IamPolicy(iam::PolicyArgs),
    /// Start an embedded Kubernetes API, the IoT emulator and the controller: a local demo.
    #[cfg(feature = "sandbox")]
    Sandbox(Box<SandboxArgs>),
    /// Write a SecurityProfile manifest for every security profile of an AWS region (adopts
    /// them without change).
    Export(Box<export::ExportArgs>),
    /// Show what applying manifests would do in AWS (read-only). Exit code 0: no change,
    /// 2: changes, 1: error or refused/invalid manifest.
    Plan(Box<plan::PlanArgs>),
    /// GET an http:// URL and exit 0 on a 200 answer (the chart's `helm test` asks /readyz;
    /// the image has no shell or curl).
    Probe {
        /// The URL, e.g. http://operator-health.ns.svc:8081/readyz.
        url: String,
        /// Give up after this long.
        #[arg(long, default_value = "5s", value_parser = securityprofile_operator::config::parse_duration)]
        timeout: std::time::Duration,
    },
}

/// Log filter of the one-shot commands: their output is the result; the SDK's notes about the
/// region chain (IMDS unreachable off EC2) are not.
const QUIET: &str = "warn,aws_config=error";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    securityprofile_operator::install_crypto_provider();
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => print!("{}", api::crd_yaml()?),
        Command::IamPolicy(args) => print!("{}", iam::to_json(&iam::policy_for(&args)?)),
        Command::Run(args) => {
            telemetry::init(args.serve.log_format);
            let client = kube_client(&args).await?;
            operator::run(client, &args, operator::shutdown_on_signal()).await?;
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            // The demo prints its own report; logs are for when something goes wrong.
            telemetry::init_with_default(args.controller.serve.log_format, "warn");
            sandbox::run(*args, operator::shutdown_on_signal()).await?;
        }
        Command::Export(args) => {
            telemetry::init_with_default(LogFormat::Text, QUIET);
            export::run(&args, None).await?;
        }
        Command::Plan(args) => {
            telemetry::init_with_default(LogFormat::Text, QUIET);
            std::process::exit(plan::run(&args, None).await?.into());
        }
        Command::Probe { url, timeout } => {
            let status = tokio::time::timeout(timeout, probe(&url))
                .await
                .map_err(|_| anyhow::anyhow!("{url}: no answer within {timeout:?}"))??;
            println!("{url}: {status}");
            if status != 200 {
                anyhow::bail!("{url} answered {status}, not 200");
            }
        }
    }
    Ok(())
}

async fn kube_client(args: &ControllerArgs) -> anyhow::Result<kube::Client> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// One HTTP/1.1 GET of a plain `http://host:port/path` URL; the response's status code.
async fn probe(url: &str) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    stream.take(1024).read_to_end(&mut head).await?;
    let head = String::from_utf8_lossy(&head);
    head.strip_prefix("HTTP/1.")
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{url}: not an HTTP response: {head:?}"))
}
