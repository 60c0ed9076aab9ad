//! kube-control-plane: a real Kubernetes control plane for tests, started as controller-runtime's
//! envtest starts one. etcd and kube-apiserver are the binaries `scripts/tools.sh` builds from
//! their Go modules (pinned in `tests/control-plane/go.mod`); this crate runs them on free
//! loopback ports with generated certificates and a service-account signing key, waits for
//! `/readyz`, and writes one kubeconfig per identity: the admin's (a static token in
//! `system:masters`) and, on request, a service account's (a TokenRequest token, so the
//! account has exactly the rights RBAC gives it). No kubelet and no controller manager run:
//! Deployments are stored but no pod starts.

mod apiserver;
mod certs;
mod etcd;
mod process;

use apiserver::ApiServerSpec;
use etcd::Etcd;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use process::Process;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Errors starting or driving the control plane; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "{0} not found: run scripts/tools.sh, which builds kube-apiserver and etcd from tests/control-plane (or set SPO_TOOLS_DIR)"
    )]
    MissingBinary(PathBuf),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{name} exited ({status}); its log ends with:\n{log}")]
    Exited {
        name: &'static str,
        status: String,
        log: String,
    },
    #[error("{name} was not ready within {waited:?}; its log ends with:\n{log}")]
    NotReady {
        name: &'static str,
        waited: Duration,
        log: String,
    },
    #[error("generating certificates: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("etcd: {0}")]
    Etcd(String),
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    #[error("kube-apiserver: {0}")]
    Kube(#[from] kube::Error),
    #[error("TokenRequest for {0}: no token in the answer")]
    NoToken(String),
}

/// How to start the control plane.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where `kube-apiserver` and `etcd` are; default `$SPO_TOOLS_DIR/bin`, else the
    /// workspace's `target/tools/bin`.
    pub bin_dir: Option<PathBuf>,
    /// More kube-apiserver flags (a later flag of the same name wins), e.g.
    /// `--watch-cache=false` to serve watches from etcd itself.
    pub apiserver_args: Vec<String>,
}

/// A running etcd and kube-apiserver; both are killed and their files removed on drop.
pub struct ControlPlane {
    dir: PathBuf,
    etcd: Etcd,
    spec: ApiServerSpec,
    apiserver: Option<Process>,
    url: String,
    ca_pem: String,
    admin_token: String,
    admin_kubeconfig: PathBuf,
}

/// The default directory of the binaries.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("SPO_TOOLS_DIR") {
        Some(tools) => PathBuf::from(tools).join("bin"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/bin"),
    }
}

impl ControlPlane {
    /// Starts etcd, then kube-apiserver, and waits until the API server is ready (its
    /// post-start hooks done: RBAC's bootstrap roles, priority and fairness, the `default`
    /// namespace).
    pub async fn start(config: Config) -> Result<ControlPlane, Error> {
        let bins = config.bin_dir.clone().unwrap_or_else(bin_dir);
        let binary = |name: &str| {
            let path = bins.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::MissingBinary(path))
            }
        };
        let (apiserver_bin, etcd_bin) = (binary("kube-apiserver")?, binary("etcd")?);
        let dir = temp_dir()?;
        let certs = certs::generate()?;
        for (name, text) in [
            ("ca.crt", &certs.ca_pem),
            ("serving.crt", &certs.serving_cert_pem),
            ("serving.key", &certs.serving_key_pem),
            ("sa.key", &certs.service_account_key_pem),
            ("sa.pub", &certs.service_account_public_pem),
        ] {
            write(&dir.join(name), text)?;
        }
        let etcd = Etcd::start(&etcd_bin, &dir).await?;
        let admin_token = random_token();
        let port = free_port()?;
        let spec = ApiServerSpec::new(
            &apiserver_bin,
            &dir,
            port,
            &etcd.client_url,
            &admin_token,
            &config.apiserver_args,
        )?;
        let url = format!("https://127.0.0.1:{port}");
        let admin_kubeconfig = dir.join("admin.kubeconfig");
        write(
            &admin_kubeconfig,
            &kubeconfig(&url, &certs.ca_pem, "admin", &admin_token),
        )?;
        let mut plane = ControlPlane {
            dir,
            etcd,
            spec,
            apiserver: None,
            url,
            ca_pem: certs.ca_pem,
            admin_token,
            admin_kubeconfig,
        };
        plane.start_apiserver().await?;
        Ok(plane)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The admin's bearer token (a member of `system:masters`).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The admin's kubeconfig file (kubectl, helm, kube-rs).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The directory holding the generated files and the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A kube-rs client as the admin.
    pub async fn client(&self) -> Result<Client, Error> {
        client_for(&self.url, &self.ca_pem, &self.admin_token).await
    }

    /// A token for the service account `namespace/name` (which must exist) from the TokenRequest
    /// API, valid for a day.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, Error> {
        let body = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 86400},
        });
        let request = http::Request::post(format!(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"
        ))
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .map_err(|e| Error::Kube(kube::Error::HttpError(e)))?;
        let answer: Value = self.client().await?.request(request).await?;
        answer["status"]["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::NoToken(format!("{namespace}/{name}")))
    }

    /// Writes a kubeconfig for the service account `namespace/name` (see
    /// [`ControlPlane::service_account_token`]) and returns its path.
    pub async fn service_account_kubeconfig(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<PathBuf, Error> {
        let token = self.service_account_token(namespace, name).await?;
        let path = self.dir.join(format!("{namespace}.{name}.kubeconfig"));
        let user = format!("system:serviceaccount:{namespace}:{name}");
        write(&path, &kubeconfig(&self.url, &self.ca_pem, &user, &token))?;
        Ok(path)
    }

    /// Kills kube-apiserver (SIGKILL: a crash, watches break mid-stream) and starts it again on
    /// the same port with the same flags, waiting until it is ready.
    pub async fn restart_apiserver(&mut self) -> Result<(), Error> {
        self.stop_apiserver();
        self.start_apiserver().await
    }

    /// Kills kube-apiserver; etcd keeps the data. [`ControlPlane::start_apiserver`] brings it
    /// back.
    pub fn stop_apiserver(&mut self) {
        if let Some(mut p) = self.apiserver.take() {
            p.kill();
        }
    }

    /// Starts kube-apiserver (stopped by [`ControlPlane::stop_apiserver`]) and waits for
    /// `/readyz`.
    pub async fn start_apiserver(&mut self) -> Result<(), Error> {
        self.stop_apiserver();
        let mut process = self.spec.spawn()?;
        wait_ready(&mut process, &self.url, &self.ca_pem, &self.admin_token).await?;
        self.apiserver = Some(process);
        Ok(())
    }

    /// Compacts etcd's history at its current revision and returns that revision: a watch or
    /// list from an older resourceVersion that the API server must take from etcd is then
    /// `410 Gone`.
    pub async fn compact_etcd(&self) -> Result<i64, Error> {
        self.etcd.compact().await
    }

    /// etcd's current revision (the resourceVersion the API server hands out next is above it).
    pub async fn etcd_revision(&self) -> Result<i64, Error> {
        self.etcd.revision().await
    }

    /// Every audit event so far (one per answered request: `user.username`, `verb`,
    /// `objectRef`, `responseStatus.code`, `requestURI`, ...), oldest first.
    pub fn audit_events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.spec.audit_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The end of kube-apiserver's and etcd's logs, for failure messages.
    pub fn logs(&self) -> String {
        let apiserver = std::fs::read_to_string(&self.spec.log).unwrap_or_default();
        let tail = |s: &str, n: usize| {
            let mut start = s.len().saturating_sub(n);
            while !s.is_char_boundary(start) {
                start += 1;
            }
            s[start..].to_string()
        };
        format!(
            "--- kube-apiserver (last 4000 bytes) ---\n{}\n--- etcd (last 2000 bytes) ---\n{}",
            tail(&apiserver, 4000),
            self.etcd.process.log_tail(2000)
        )
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop_apiserver();
        self.etcd.process.kill();
        if std::env::var_os("KUBE_CONTROL_PLANE_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `/readyz` until it answers `ok` (a cold kube-apiserver on two cores takes a few
/// seconds; a loaded machine much longer).
async fn wait_ready(
    process: &mut Process,
    url: &str,
    ca_pem: &str,
    token: &str,
) -> Result<(), Error> {
    let timeout = Duration::from_secs(120);
    let start = Instant::now();
    let client = client_for(url, ca_pem, token).await?;
    loop {
        process.check_running()?;
        let request = http::Request::get("/readyz")
            .body(Vec::new())
            .map_err(|e| Error::Kube(kube::Error::HttpError(e)))?;
        if let Ok(text) = client.request_text(request).await
            && text.trim() == "ok"
        {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(Error::NotReady {
                name: "kube-apiserver",
                waited: timeout,
                log: process.log_tail(6000),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn client_for(url: &str, ca_pem: &str, token: &str) -> Result<Client, Error> {
    let config = Kubeconfig::from_yaml(&kubeconfig(url, ca_pem, "client", token))?;
    let config =
        kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// A kubeconfig with one cluster, user and context; the context's namespace is `default`.
pub fn kubeconfig(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: control-plane
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: {user:?}
  user:
    token: {token}
contexts:
- name: control-plane
  context:
    cluster: control-plane
    user: {user:?}
    namespace: default
current-context: control-plane
preferences: {{}}
"
    )
}

/// A free loopback port: bound, read, released (the usual race with other processes is
/// accepted; a start that loses it fails with the process's "address already in use").
pub(crate) fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::Io {
            what: "finding a free port".into(),
            source: e,
        })
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

fn temp_dir() -> Result<PathBuf, Error> {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "kube-control-plane-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
        what: format!("creating {}", dir.display()),
        source: e,
    })?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|e| Error::Io {
        what: format!("writing {}", path.display()),
        source: e,
    })
}
