//! kube-sandbox: an in-process Kubernetes API server (HTTPS, bearer token) with the real API's
//! semantics for the subset of kinds the operator, kubectl and helm use. Test and demo
//! infrastructure: see this crate's README.

mod apply;
mod discovery;
mod events;
mod kubeconfig;
mod openapi;
mod patch;
mod protobuf;
pub mod rbac;
mod registry;
mod routes;
mod selectors;
mod status;
mod store;
mod table;
mod tls;
mod watch;

use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How many events watches can replay by default before answering 410 Expired.
pub const DEFAULT_HISTORY: usize = 100_000;

/// Errors starting or using the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("generating certificates: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("configuring TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("writing kubeconfig {path}: {source}")]
    WriteKubeconfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading the generated kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("building a kube client: {0}")]
    Client(#[from] kube::Error),
}

/// Where to listen.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Default `127.0.0.1:0` (any free port).
    pub addr: SocketAddr,
    /// Authorize requests made with service-account tokens
    /// ([`Sandbox::service_account_token`]) with the Roles, ClusterRoles and bindings in the
    /// store, answering 403 like the API server (default off: any token may do anything). The
    /// sandbox's own token stays a cluster administrator.
    pub rbac: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            rbac: false,
        }
    }
}

/// A running sandbox API server; it stops on `shutdown` or drop.
pub struct Sandbox {
    url: String,
    token: String,
    app: Arc<routes::App>,
    ca_pem: String,
    stop: tokio::sync::watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts the server with the default watch history.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, Error> {
        Self::start_with_history(config, DEFAULT_HISTORY).await
    }

    /// Starts the server keeping `history` events for watch replay (older versions get 410).
    pub async fn start_with_history(
        config: SandboxConfig,
        history: usize,
    ) -> Result<Sandbox, Error> {
        // The operator in the same process may already have installed one: that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = tls::generate()?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let token = random_token();
        let app = Arc::new(routes::App {
            store: store::Store::new(history),
            token: token.clone(),
            authz: rbac::Authz::new(config.rbac),
            address: local.to_string(),
        });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server);
        let accept = tokio::spawn(serve(listener, acceptor, app.clone(), stop_rx));
        Ok(Sandbox {
            url: format!("https://{local}"),
            token,
            app,
            ca_pem: tls.ca_pem,
            stop,
            accept: Some(accept),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The bearer token every request must carry.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A kubeconfig with server, `certificate-authority-data`, token and context `sandbox`.
    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::render(&self.url, &self.ca_pem, &self.token)
    }

    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.kubeconfig_yaml()).map_err(|source| Error::WriteKubeconfig {
            path: path.to_path_buf(),
            source,
        })
    }

    /// A kube-rs client for this server (built from the kubeconfig it writes).
    pub async fn client(&self) -> Result<kube::Client, Error> {
        let kc = kube::config::Kubeconfig::from_yaml(&self.kubeconfig_yaml())?;
        let cfg =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        Ok(kube::Client::try_from(cfg)?)
    }

    /// A bearer token that authenticates as the service account `namespace/name`
    /// (`system:serviceaccount:NAMESPACE:NAME`); with [`SandboxConfig::rbac`] its requests are
    /// authorized by the RBAC objects in the store. The service account object need not exist.
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        let token = random_token();
        self.app.authz.add_token(token.clone(), namespace, name);
        token
    }

    /// A kube-rs client that authenticates as the service account `namespace/name`.
    pub async fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, Error> {
        let token = self.service_account_token(namespace, name);
        let kc = kube::config::Kubeconfig::from_yaml(&kubeconfig::render(
            &self.url,
            &self.ca_pem,
            &token,
        ))?;
        let cfg = kube::config::Config::from_custom_kubeconfig(
            kc,
            &kube::config::KubeConfigOptions::default(),
        )
        .await?;
        Ok(kube::Client::try_from(cfg)?)
    }

    /// The authorization decisions taken for service-account requests, oldest first.
    pub fn authorizations(&self) -> Vec<rbac::Decision> {
        self.app.authz.decisions()
    }

    /// Forgets the recorded decisions.
    pub fn clear_authorizations(&self) {
        self.app.authz.clear()
    }

    /// The rules RBAC grants the service account `namespace/name` now.
    pub fn grants(&self, namespace: &str, name: &str) -> rbac::Grants {
        rbac::Grants::of(&self.app.store.lock(), namespace, name)
    }

    /// Stops accepting, closes connections (watches end) and waits for the listener to close.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(accept) = &self.accept {
            accept.abort();
        }
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn serve(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: Arc<routes::App>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            r = listener.accept() => r,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
            };
            let svc = hyper::service::service_fn(move |req| routes::handle(app.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                _ = stop.changed() => {}
            }
        });
    }
}
