//! A local, wire-compatible AWS IoT Device Defender endpoint: the security-profile, dimension
//! and custom-metric operations in AWS IoT's rest-json protocol, plus an admin API for tests (state, call
//! counters, faults, quotas, IAM policies, thing groups, out-of-band edits), and STS role
//! assumption whose keys act in the role's account.
//!
//! Start it in-process with [`Emulator::start`] (port 0 picks a free port), or run it on an
//! existing listener with [`serve`].

mod admin;
mod dependencies;
mod dependency_ops;
mod faults;
mod iam;
mod metric_types;
mod model;
mod normalize;
mod ops;
pub mod reference;
mod store;
mod sts;
mod validate;
mod violation_ops;
mod violations;
mod wire;

pub use admin::Admin;
pub use faults::{Calls, Fault, FaultError};
pub use model::{CustomMetric, Dimension, Profile, State, ThingGroup};
pub use sts::Role;
pub use violations::Violation;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The account every resource belongs to.
    pub account_id: String,
    /// Token-bucket quota for operations without their own entry in `tps`.
    pub default_tps: Option<f64>,
    /// Operation name (e.g. `CreateSecurityProfile`) to calls per second.
    pub tps: HashMap<String, f64>,
    /// Log one tracing line per request.
    pub log_requests: bool,
    /// Answer DescribeSecurityProfile / UpdateSecurityProfile as AWS may: order-free lists
    /// reordered, server-side defaults filled in (also switchable at run time).
    pub normalize_describe: bool,
    /// Refuse security profiles that name a dimension or custom metric that doesn't exist,
    /// as AWS does (also switchable at run time).
    pub check_references: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 4566)),
            account_id: "123456789012".to_string(),
            default_tps: None,
            tps: HashMap::new(),
            log_requests: false,
            normalize_describe: false,
            check_references: true,
        }
    }
}

/// Why the emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid admin request: {0}")]
    Invalid(String),
}

/// Everything the request handlers and the admin API share.
pub(crate) struct Shared {
    pub account_id: String,
    pub log_requests: bool,
    /// The configured normalisation switch, which `reset` goes back to.
    pub normalize_default: bool,
    pub normalize: AtomicBool,
    pub check_references_default: bool,
    pub check_references: AtomicBool,
    pub store: Mutex<store::Store>,
    pub sts: Mutex<sts::Sts>,
    pub control: Mutex<faults::Control>,
    pub shutdown: watch::Sender<bool>,
    pub request_ids: std::sync::atomic::AtomicU64,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (every critical
/// section leaves the state consistent before it can panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(config: &EmulatorConfig) -> Result<Arc<Shared>, Error> {
        let mut tps = HashMap::new();
        for (name, t) in &config.tps {
            let op = model::Op::from_name(name)
                .ok_or_else(|| Error::Config(format!("--tps names unknown operation '{name}'")))?;
            if !t.is_finite() || *t < 0.0 {
                return Err(Error::Config(format!("--tps {name}={t} must be >= 0")));
            }
            tps.insert(op, *t);
        }
        if let Some(t) = config.default_tps
            && (!t.is_finite() || t < 0.0)
        {
            return Err(Error::Config(format!("--default-tps {t} must be >= 0")));
        }
        Ok(Arc::new(Shared {
            account_id: config.account_id.clone(),
            log_requests: config.log_requests,
            normalize_default: config.normalize_describe,
            normalize: AtomicBool::new(config.normalize_describe),
            check_references_default: config.check_references,
            check_references: AtomicBool::new(config.check_references),
            store: Mutex::new(store::Store::default()),
            sts: Mutex::new(sts::Sts::default()),
            control: Mutex::new(faults::Control::new(config.default_tps, &tps)),
            shutdown: watch::Sender::new(false),
            request_ids: std::sync::atomic::AtomicU64::new(1),
        }))
    }
}

fn router(shared: Arc<Shared>) -> axum::Router {
    ops::routes()
        .merge(dependency_ops::routes())
        .merge(violation_ops::routes())
        .route("/", axum::routing::post(sts::handle))
        .merge(admin::routes())
        .fallback(ops::unknown)
        .method_not_allowed_fallback(ops::unknown)
        .with_state(shared)
}

/// Serves the emulator on `listener` until the returned future is dropped or fails; for
/// embedding in a process that manages its own runtime and does not need the admin handle.
pub async fn serve(listener: TcpListener, config: EmulatorConfig) -> Result<(), Error> {
    let shared = Shared::new(&config)?;
    axum::serve(listener, router(shared)).await?;
    Ok(())
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    addr: SocketAddr,
    admin: Admin,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Binds `config.listen` and serves on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, Error> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen,
                source,
            })?;
        Self::start_on(listener, config).await
    }

    /// Serves on an already bound listener (`config.listen` is ignored).
    pub async fn start_on(
        listener: TcpListener,
        config: EmulatorConfig,
    ) -> Result<Emulator, Error> {
        let addr = listener.local_addr()?;
        let shared = Shared::new(&config)?;
        let mut stop = shared.shutdown.subscribe();
        let app = router(shared.clone());
        let task = tokio::spawn(async move {
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            });
            if let Err(e) = server.await {
                tracing::error!(error = %e, "iot-emulator server stopped");
            }
        });
        Ok(Emulator {
            addr,
            admin: Admin::new(shared),
            task: Some(task),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the endpoint URL for SDK clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// State inspection and run-time controls.
    pub fn admin(&self) -> &Admin {
        &self.admin
    }

    /// Stops accepting connections, releases held (Timeout) requests and waits briefly for
    /// in-flight requests to finish.
    pub async fn shutdown(mut self) {
        self.admin.shared().shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.admin.shared().shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
