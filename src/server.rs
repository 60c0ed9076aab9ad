//! Probes and metrics over HTTP: `/healthz`, `/readyz`, `/metrics`.

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one reconcile may run before the controller counts as wedged: far beyond the
/// slowest healthy reconcile (a handful of paced calls, each with its retries and timeouts).
pub const WEDGED_AFTER: Duration = Duration::from_secs(15 * 60);

/// Shared by the probes and the controller.
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    in_flight: Arc<InFlight>,
}

/// The reconciles running now and when each started, so that a stuck one fails `/healthz` and
/// the kubelet restarts the process.
#[derive(Default)]
struct InFlight {
    next: AtomicU64,
    started: Mutex<HashMap<u64, Instant>>,
}

impl InFlight {
    fn started(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Instant>> {
        match self.started.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// Marks one reconcile as running until dropped.
pub struct Running {
    in_flight: Arc<InFlight>,
    id: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.in_flight.started().remove(&self.id);
    }
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Registers a reconcile that starts now.
    pub fn running(&self) -> Running {
        let id = self.in_flight.next.fetch_add(1, Ordering::Relaxed);
        self.in_flight.started().insert(id, Instant::now());
        Running {
            in_flight: self.in_flight.clone(),
            id,
        }
    }

    /// How long the oldest running reconcile has been running.
    pub fn oldest_running(&self) -> Option<Duration> {
        let now = Instant::now();
        self.in_flight
            .started()
            .values()
            .map(|t| now.duration_since(*t))
            .max()
    }

    /// Whether a reconcile has been running for longer than `limit`.
    pub fn is_wedged(&self, limit: Duration) -> bool {
        self.oldest_running().is_some_and(|d| d > limit)
    }
}

async fn healthz(State(health): State<Health>) -> (StatusCode, String) {
    match health.oldest_running() {
        Some(d) if d > WEDGED_AFTER => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("wedged: a reconcile has been running for {}s", d.as_secs()),
        ),
        _ => (StatusCode::OK, "ok".to_string()),
    }
}

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(
    State(metrics): State<Arc<Metrics>>,
) -> ([(&'static str, &'static str); 1], String) {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
}

/// Binds both servers (the same address serves all three paths when they are equal) and
/// returns the bound addresses.
pub async fn serve(
    health_addr: SocketAddr,
    metrics_addr: SocketAddr,
    health: Health,
    registry: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, SocketAddr)> {
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health);
    let metrics_router = Router::new()
        .route("/metrics", get(metrics))
        .with_state(registry);
    if health_addr == metrics_addr {
        let listener = tokio::net::TcpListener::bind(health_addr).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, probes.merge(metrics_router)).await });
        return Ok((addr, addr));
    }
    let h = tokio::net::TcpListener::bind(health_addr).await?;
    let m = tokio::net::TcpListener::bind(metrics_addr).await?;
    let (ha, ma) = (h.local_addr()?, m.local_addr()?);
    tokio::spawn(async move { axum::serve(h, probes).await });
    tokio::spawn(async move { axum::serve(m, metrics_router).await });
    Ok((ha, ma))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_that_runs_too_long_wedges_and_finishing_unwedges() {
        let h = Health::default();
        assert!(!h.is_wedged(Duration::ZERO));
        let run = h.running();
        std::thread::sleep(Duration::from_millis(5));
        assert!(h.is_wedged(Duration::from_millis(1)));
        assert!(!h.is_wedged(Duration::from_secs(60)));
        drop(run);
        assert!(!h.is_wedged(Duration::ZERO));
    }
}
