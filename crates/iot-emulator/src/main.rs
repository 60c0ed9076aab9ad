//! `iot-emulator`: runs the emulator until Ctrl-C / SIGTERM.

use clap::Parser;
use iot_emulator::{Emulator, EmulatorConfig};
use std::collections::HashMap;
use std::net::SocketAddr;

/// A local, wire-compatible AWS IoT Device Defender endpoint.
#[derive(Parser, Debug)]
#[command(name = "iot-emulator", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "IOT_EMULATOR_LISTEN", default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    /// The AWS account every resource belongs to.
    #[arg(long, env = "IOT_EMULATOR_ACCOUNT_ID", default_value = "123456789012")]
    account_id: String,
    /// Per-operation quota, OPERATION=TPS (repeatable), e.g. CreateSecurityProfile=10.
    #[arg(long = "tps", value_parser = parse_tps)]
    tps: Vec<(String, f64)>,
    /// Quota for every operation without its own --tps.
    #[arg(long)]
    default_tps: Option<f64>,
    /// Answer DescribeSecurityProfile and UpdateSecurityProfile as AWS may: order-free lists
    /// reordered and server-side defaults filled in.
    #[arg(long, env = "IOT_EMULATOR_NORMALIZE_DESCRIBE")]
    normalize_describe: bool,
    /// Accept security profiles that name dimensions or custom metrics that don't exist
    /// (AWS refuses them).
    #[arg(long, env = "IOT_EMULATOR_NO_REFERENCE_CHECK")]
    no_reference_check: bool,
}

fn parse_tps(s: &str) -> Result<(String, f64), String> {
    let (op, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected OPERATION=TPS, got '{s}'"))?;
    let n: f64 = n.parse().map_err(|e| format!("bad TPS in '{s}': {e}"))?;
    Ok((op.to_string(), n))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = EmulatorConfig {
        listen: args.listen,
        account_id: args.account_id,
        default_tps: args.default_tps,
        tps: args.tps.into_iter().collect::<HashMap<_, _>>(),
        log_requests: true,
        normalize_describe: args.normalize_describe,
        check_references: !args.no_reference_check,
    };
    let emulator = match Emulator::start(config).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("iot-emulator: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Tests and scripts parse this line to find the port when --listen uses port 0.
    println!("iot-emulator listening on {}", emulator.url());
    tracing::info!(url = %emulator.url(), "iot-emulator listening");
    wait_for_signal().await;
    emulator.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
