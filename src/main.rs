//! securityprofile-operator: run | crd | iam-policy | sandbox.

use clap::{Parser, Subcommand};
use securityprofile_operator::config::ControllerArgs;
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
    /// Print the CustomResourceDefinition YAML.
    Crd,
    /// Print the least-privilege IAM policy JSON.
    IamPolicy,
    /// Start an embedded Kubernetes API, the IoT emulator and the controller: a local demo.
    Sandbox(Box<SandboxArgs>),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    securityprofile_operator::install_crypto_provider();
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => print!("{}", api::crd_yaml()?),
        Command::IamPolicy => print!("{}", iam::policy_json()),
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
