//! The `run` command as a library function: probes, metrics, AWS client, leader election and
//! the controllers. `sandbox` and the tests call the same function.

use crate::aws::{AwsOptions, Fence, Iot};
use crate::config::ControllerArgs;
use crate::controller::{Context, RunnerConfig, run_controllers};
use crate::leader::{Elector, LeaderError};
use crate::metrics::Metrics;
use crate::server::{self, Health};
use aws_sdk_iot::config::Credentials;
use futures::future::{BoxFuture, FutureExt, Shared};
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client};
use std::sync::Arc;
use tokio::sync::watch;
use tracing::info;

/// A cloneable future that resolves when the operator should stop.
pub type Shutdown = Shared<BoxFuture<'static, ()>>;

/// Turns any future into a [`Shutdown`].
pub fn shutdown_on(f: impl std::future::Future<Output = ()> + Send + 'static) -> Shutdown {
    f.boxed().shared()
}

/// Resolves on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> Shutdown {
    shutdown_on(async {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        info!("shutting down: finishing in-flight reconciles");
    })
}

/// Why the operator stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot serve probes or metrics: {0}")]
    Bind(#[from] std::io::Error),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("leader election: {0}")]
    Leader(#[from] LeaderError),
    #[error("lost leadership; exiting so that a new process starts as a follower")]
    LostLeadership,
}

/// The name of the leader-election Lease.
pub const LEASE_NAME: &str = "securityprofile-operator-leader";

/// Runs the operator until `shutdown` resolves, with AWS credentials from the default chain.
pub async fn run(
    client: Client,
    args: &ControllerArgs,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    run_with_credentials(client, args, None, shutdown).await
}

/// Like [`run`], with static AWS credentials when given (the sandbox and tests).
pub async fn run_with_credentials(
    client: Client,
    args: &ControllerArgs,
    credentials: Option<Credentials>,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let health = Health::default();
    let (health_addr, metrics_addr) = server::serve(
        args.serve.health_addr,
        args.serve.metrics_addr,
        health.clone(),
        metrics.clone(),
    )
    .await?;
    info!(%health_addr, %metrics_addr, "serving probes and metrics");
    let cluster_id = cluster_id(&client, args).await?;
    let fence = if args.leader.enabled {
        Fence::leased()
    } else {
        Fence::unfenced()
    };
    let iot = Iot::load(aws_options(args), credentials, metrics.clone())
        .await
        .with_fence(fence.clone());
    let ctx = Context::new(
        client.clone(),
        iot,
        metrics,
        cluster_id,
        args.aws.default_region.clone(),
        args.resync_period,
    )
    .with_health(health.clone())
    .with_guard(args.guard.rules())
    .with_report_violations(args.report_violations);
    let ctx = Arc::new(ctx);
    if !args.leader.enabled {
        let ready = move || health.set_ready(true);
        run_controllers(ctx, RunnerConfig::from(args), shutdown, ready).await;
        return Ok(());
    }
    lead(client, args, ctx, fence, health, shutdown).await
}

/// The `iot.awscc.io/cluster` tag value: the flag, else the kube-system namespace's UID.
async fn cluster_id(client: &Client, args: &ControllerArgs) -> Result<String, RunError> {
    if let Some(id) = &args.cluster_id {
        return Ok(id.clone());
    }
    let ns: Api<Namespace> = Api::all(client.clone());
    Ok(ns
        .get("kube-system")
        .await?
        .metadata
        .uid
        .unwrap_or_default())
}

fn aws_options(args: &ControllerArgs) -> AwsOptions {
    AwsOptions {
        endpoint_url: args.aws.endpoint_url.clone(),
        max_attempts: args.aws.max_attempts,
        attempt_timeout: args.aws.attempt_timeout,
        region: args.aws.default_region.clone(),
        tps: args.aws.tps.clone(),
    }
}

/// Campaigns for the Lease, and reconciles only while leading. Losing the Lease aborts every
/// in-flight reconcile at once (the write fence has already closed by then); a shutdown while
/// leading drains them, then gives the Lease up.
async fn lead(
    client: Client,
    args: &ControllerArgs,
    ctx: Arc<Context>,
    fence: Fence,
    health: Health,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let namespace = args
        .leader
        .namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".to_string());
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        format!(
            "securityprofile-operator-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        )
    });
    let elector = Arc::new(Elector::new(
        Api::namespaced(client, &namespace),
        LEASE_NAME,
        &identity,
        args.leader.lease_duration,
        args.leader.renew_deadline(),
        fence,
    )?);
    let (tx, mut leading) = watch::channel(false);
    let campaign = tokio::spawn({
        let elector = elector.clone();
        async move { elector.run(tx).await }
    });
    let _campaign = AbortOnDrop(campaign.abort_handle());
    // Followers are ready too: they know who leads.
    health.set_ready(true);
    info!(%identity, "waiting for leadership");
    while !*leading.borrow_and_update() {
        tokio::select! {
            changed = leading.changed() => if changed.is_err() { return Ok(()) },
            _ = shutdown.clone() => return Ok(()),
        }
    }
    let lost = async move { while leading.changed().await.is_ok() && *leading.borrow() {} };
    let controllers = run_controllers(ctx, RunnerConfig::from(args), shutdown, || {});
    tokio::select! {
        _ = controllers => {
            elector.release().await;
            Ok(())
        }
        _ = lost => Err(RunError::LostLeadership),
    }
}

/// Aborts a spawned task when dropped, so that nothing outlives the `run` future.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
