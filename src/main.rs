//! securityprofile-operator: run | crd | iam-policy | sandbox | export | plan.

use clap::{Parser, Subcommand};
use securityprofile_operator::cli::{export, plan};
use securityprofile_operator::config::{ControllerArgs, LogFormat};
use securityprofile_operator::sandbox::{self, SandboxArgs};
use securityprofile_operator::{api, iam, operator, telemetry};

#[derive(Parser)]
#[command(
    name = "securityprofile-operator",
    version,
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
    /// Print the CustomResourceDefinitions (SecurityProfile, CustomMetric, Dimension) as one
    /// multi-document YAML stream, or write one file per CRD into --out-dir.
    Crd {
        /// Write `crds/`-style files (iot.awscc.io_PLURAL.yaml) into this directory instead.
        #[arg(long)]
        out_dir: Option<std::path::PathBuf>,
    },
    /// Print the least-privilege IAM policy JSON (scoped to accounts, regions, roles and this
    /// cluster's ownership tag with options).
    IamPolicy(iam::PolicyArgs),
    /// Start an embedded Kubernetes API, the IoT emulator and the controller: a local demo.
    Sandbox(Box<SandboxArgs>),
    /// Write a SecurityProfile manifest for every security profile of an AWS region (adopts
    /// them without change).
    Export(Box<export::ExportArgs>),
    /// Show what applying manifests would do in AWS (read-only). Exit code 0: no change,
    /// 2: changes, 1: error or refused/invalid manifest.
    Plan(Box<plan::PlanArgs>),
}

/// Log filter of the one-shot commands: their output is the result; the SDK's notes about the
/// region chain (IMDS unreachable off EC2) are not.
const QUIET: &str = "warn,aws_config=error";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    securityprofile_operator::install_crypto_provider();
    let cli = Cli::parse();
    match cli.command {
        Command::Crd { out_dir: None } => print!("{}", api::crds_yaml()?),
        Command::Crd { out_dir: Some(dir) } => {
            for (file, crd) in api::crds()? {
                std::fs::write(dir.join(file), serde_yaml_ng::to_string(&crd)?)?;
            }
        }
        Command::IamPolicy(args) if args.cross_account => {
            print!("{}", iam::to_json(&iam::cross_account_policies(&args)?))
        }
        Command::IamPolicy(args) => print!("{}", iam::to_json(&iam::policy_for(&args)?)),
        Command::Run(args) => {
            telemetry::init(args.serve.log_format);
            let client = kube_client(&args).await?;
            operator::run(client, &args, operator::shutdown_on_signal()).await?;
        }
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
