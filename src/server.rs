//! Probes and metrics over HTTP: `/healthz`, `/readyz`, `/metrics`.

use crate::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by the probes and the controller.
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
}

impl Health {
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

async fn healthz() -> &'static str {
    "ok"
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
