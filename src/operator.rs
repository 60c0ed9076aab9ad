//! The `run` command as a library function: probes, metrics, AWS client, leader election and
//! the controllers. `sandbox` and the tests call the same function.

use crate::aws::{AwsOptions, Iot};
use crate::config::ControllerArgs;
use crate::controller::{Context, RunnerConfig, run_controllers};
use crate::metrics::Metrics;
use crate::server::{self, Health};
use aws_sdk_iot::config::Credentials;
use futures::future::{BoxFuture, FutureExt, Shared};
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use std::sync::Arc;
use std::time::Duration;
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
    Lease(#[from] kube_lease_manager::LeaseManagerError),
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
    let cluster_id = match &args.cluster_id {
        Some(id) => id.clone(),
        None => {
            let ns: Api<Namespace> = Api::all(client.clone());
            ns.get("kube-system")
                .await?
                .metadata
                .uid
                .unwrap_or_default()
        }
    };
    let iot = Iot::load(
        AwsOptions {
            endpoint_url: args.aws.endpoint_url.clone(),
            max_attempts: args.aws.max_attempts,
            attempt_timeout: args.aws.attempt_timeout,
            region: args.aws.default_region.clone(),
            tps: args.aws.tps.clone(),
        },
        credentials,
        metrics.clone(),
    )
    .await;
    let ctx = Arc::new(Context::new(
        client.clone(),
        iot,
        metrics,
        cluster_id,
        args.aws.default_region.clone(),
        args.resync_period,
    ));
    let ready = {
        let health = health.clone();
        move || health.set_ready(true)
    };
    if !args.leader.enabled {
        run_controllers(ctx, RunnerConfig::from(args), shutdown, ready).await;
        return Ok(());
    }

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
    let lease_secs = args.leader.lease_duration.as_secs().max(2);
    let manager = LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
        .with_namespace(namespace)
        .with_identity(identity.clone())
        .with_duration(lease_secs)
        .with_grace((lease_secs / 3).max(1))
        .build()
        .await?;
    let (mut leader, lease_task) = manager.watch().await;
    // If this future is dropped (the process is going away), the lease stops being renewed.
    let _lease_guard = AbortOnDrop(lease_task.abort_handle());
    // Followers are ready too: they know who leads.
    health.set_ready(true);
    info!(%identity, "waiting for leadership");
    loop {
        if *leader.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = leader.changed() => if changed.is_err() { return Ok(()) },
            _ = shutdown.clone() => return Ok(()),
        }
    }
    info!(%identity, "acquired leadership");
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
    let watch_leadership = async move {
        loop {
            if leader.changed().await.is_err() || !*leader.borrow() {
                let _ = lost_tx.send(());
                return leader;
            }
        }
    };
    let lost = shutdown_on(async move {
        let _ = lost_rx.await;
    });
    let stop = {
        let shutdown = shutdown.clone();
        let lost = lost.clone();
        shutdown_on(async move {
            tokio::select! {
                _ = shutdown => {},
                _ = lost => {},
            }
        })
    };
    let watcher = tokio::spawn(watch_leadership);
    let _watcher_guard = AbortOnDrop(watcher.abort_handle());
    run_controllers(ctx, RunnerConfig::from(args), stop, || {}).await;
    let lost_leadership = lost.clone().now_or_never().is_some();
    // Dropping the receiver makes the lease manager release the Lease.
    watcher.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), lease_task).await;
    if lost_leadership {
        return Err(RunError::LostLeadership);
    }
    Ok(())
}

/// Aborts a spawned task when dropped, so that nothing outlives the `run` future.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
