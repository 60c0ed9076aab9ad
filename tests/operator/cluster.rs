//! The two Kubernetes API servers every operator test runs against, as envtest runs one suite
//! against whichever server its harness picked:
//!
//! - `sandbox`: kube-sandbox, our embedded API server (in-process, or `sandbox --no-controller`
//!   for the end-to-end tests);
//! - `kube_apiserver`: a real kube-apiserver and etcd (kube-control-plane, built from their Go
//!   modules by `scripts/tools.sh`). The operator runs there as the chart's ServiceAccount,
//!   with exactly the RBAC `helm template` renders, applied with kubectl, and a TokenRequest
//!   token; tests act as the cluster admin.
//!
//! `on_both_servers!(test_fn)` turns `async fn test_fn(server: Server)` into the two tests
//! `test_fn::sandbox` and `test_fn::kube_apiserver`. A test that can run on the real server
//! only (a fault only it gives) is declared with `on_kube_apiserver_only!(test_fn,
//! kube_apiserver_only_because_...)`, whose name says why.

#![allow(dead_code)]

use kube::Client;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_control_plane::ControlPlane;
use kube_sandbox::{Sandbox, SandboxConfig};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The namespace the chart is "installed" in: the operator's ServiceAccount and its
/// leader-election Lease live there, on both servers.
pub const OPERATOR_NS: &str = "spo-system";
/// The chart's ServiceAccount for a release named `spo`.
pub const OPERATOR_SA: &str = "spo-securityprofile-operator";

/// Which API server a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Sandbox,
    KubeApiserver,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Sandbox => "kube-sandbox",
            Server::KubeApiserver => "kube-apiserver",
        }
    }
}

/// Runs `async fn $name(server: Server)` once per server, as `$name::sandbox` and
/// `$name::kube_apiserver`.
macro_rules! on_both_servers {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sandbox() {
                super::$name($crate::cluster::Server::Sandbox).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn kube_apiserver() {
                super::$name($crate::cluster::Server::KubeApiserver).await
            }
        }
    };
}

/// Runs `async fn $name(server: Server)` against the real kube-apiserver only; `$why` names
/// the reason (`$name::kube_apiserver_only_because_...`).
macro_rules! on_kube_apiserver_only {
    ($name:ident, $why:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $why() {
                super::$name($crate::cluster::Server::KubeApiserver).await
            }
        }
    };
}

pub(crate) use {on_both_servers, on_kube_apiserver_only};

/// A started API server with the admin's and the operator's identities.
pub struct Cluster {
    pub server: Server,
    backend: Backend,
    /// The admin (tests act as users and the cluster admin).
    pub admin: Client,
    pub admin_kubeconfig: PathBuf,
    /// The identity the operator runs as.
    pub operator_kubeconfig: PathBuf,
    dir: Scratch,
}

enum Backend {
    Sandbox(Sandbox),
    Real(Box<ControlPlane>),
}

impl Cluster {
    /// Starts `server`, with the `spo-system` namespace and, on kube-apiserver, the operator's
    /// ServiceAccount and the chart's RBAC.
    pub async fn start(server: Server) -> Cluster {
        Cluster::start_with(server, &[]).await
    }

    /// [`Cluster::start`] with more kube-apiserver flags (ignored by the sandbox).
    pub async fn start_with(server: Server, apiserver_args: &[&str]) -> Cluster {
        let cluster =
            Cluster::start_bare_with(server, SandboxConfig::default(), apiserver_args).await;
        match server {
            Server::Sandbox => create_namespace(&cluster.admin, OPERATOR_NS).await,
            Server::KubeApiserver => {
                let rbac = cluster.dir().join("operator-rbac.yaml");
                std::fs::write(&rbac, operator_rbac()).expect("write the rendered RBAC");
                kubectl(
                    &cluster.admin_kubeconfig,
                    &["apply", "-f", &rbac.to_string_lossy()],
                )
                .await;
            }
        }
        let operator_kubeconfig = match cluster.control_plane() {
            Some(plane) => plane
                .service_account_kubeconfig(OPERATOR_NS, OPERATOR_SA)
                .await
                .unwrap_or_else(|e| panic!("a token for the operator: {e}\n{}", plane.logs())),
            None => cluster.admin_kubeconfig.clone(),
        };
        Cluster {
            operator_kubeconfig,
            ..cluster
        }
    }

    /// Starts `server` with nothing installed (what `helm install` starts from); the operator's
    /// kubeconfig is the admin's until one is made. `sandbox` configures kube-sandbox (RBAC).
    pub async fn start_bare(server: Server, sandbox: SandboxConfig) -> Cluster {
        Cluster::start_bare_with(server, sandbox, &[]).await
    }

    async fn start_bare_with(
        server: Server,
        sandbox: SandboxConfig,
        apiserver_args: &[&str],
    ) -> Cluster {
        securityprofile_operator::install_crypto_provider();
        let dir = Scratch::new(server);
        let (backend, admin_kubeconfig) = match server {
            Server::Sandbox => {
                let sandbox = Sandbox::start(sandbox).await.expect("sandbox starts");
                let kubeconfig = dir.0.join("admin.kubeconfig");
                sandbox
                    .write_kubeconfig(&kubeconfig)
                    .expect("sandbox kubeconfig");
                (Backend::Sandbox(sandbox), kubeconfig)
            }
            Server::KubeApiserver => {
                let config = kube_control_plane::Config {
                    apiserver_args: apiserver_args.iter().map(|a| a.to_string()).collect(),
                    ..Default::default()
                };
                let plane = ControlPlane::start(config)
                    .await
                    .unwrap_or_else(|e| panic!("the real control plane starts: {e}"));
                let kubeconfig = plane.admin_kubeconfig().to_path_buf();
                (Backend::Real(Box::new(plane)), kubeconfig)
            }
        };
        let admin = client_from(&admin_kubeconfig).await;
        Cluster {
            server,
            backend,
            admin,
            operator_kubeconfig: admin_kubeconfig.clone(),
            admin_kubeconfig,
            dir,
        }
    }

    /// Wraps a sandbox started elsewhere (the admin is its own token).
    pub async fn from_sandbox(sandbox: Sandbox) -> Cluster {
        let dir = Scratch::new(Server::Sandbox);
        let kubeconfig = dir.0.join("admin.kubeconfig");
        sandbox
            .write_kubeconfig(&kubeconfig)
            .expect("sandbox kubeconfig");
        Cluster {
            server: Server::Sandbox,
            admin: sandbox.client().await.expect("sandbox client"),
            backend: Backend::Sandbox(sandbox),
            operator_kubeconfig: kubeconfig.clone(),
            admin_kubeconfig: kubeconfig,
            dir,
        }
    }

    /// A client for the operator's identity.
    pub async fn operator_client(&self) -> Client {
        client_from(&self.operator_kubeconfig).await
    }

    pub fn sandbox(&self) -> Option<&Sandbox> {
        match &self.backend {
            Backend::Sandbox(s) => Some(s),
            Backend::Real(_) => None,
        }
    }

    pub fn control_plane(&self) -> Option<&ControlPlane> {
        match &self.backend {
            Backend::Real(p) => Some(p),
            Backend::Sandbox(_) => None,
        }
    }

    pub fn control_plane_mut(&mut self) -> Option<&mut ControlPlane> {
        match &mut self.backend {
            Backend::Real(p) => Some(p),
            Backend::Sandbox(_) => None,
        }
    }

    /// The server's logs, for failure messages (kube-apiserver and etcd; nothing for the
    /// in-process sandbox, whose errors are the test's own).
    pub fn logs(&self) -> String {
        self.control_plane().map(|p| p.logs()).unwrap_or_default()
    }

    /// A scratch directory that lives as long as the cluster.
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }
}

/// The `spo-system` namespace, and the chart's ServiceAccount and RBAC as `helm template`
/// renders them for a release `spo` in it (leader election on, so its Lease Role is there).
/// Rendered once per test binary.
pub fn operator_rbac() -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/securityprofile-operator");
        let out = std::process::Command::new(tool("helm"))
            .args(["template", "spo"])
            .arg(&chart)
            .args(["--namespace", OPERATOR_NS])
            .args(["--set", "leaderElection.enabled=true"])
            .args(["--show-only", "templates/serviceaccount.yaml"])
            .args(["--show-only", "templates/rbac.yaml"])
            .output()
            .expect("helm runs");
        assert!(
            out.status.success(),
            "helm template: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {OPERATOR_NS}\n---\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Runs kubectl with a kubeconfig; panics with its output when it fails.
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new(tool("kubectl"))
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tool `scripts/tools.sh` installs; a missing tool fails the test, it never skips it.
pub fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("SPO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools"));
    let path = dir.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} not found: run scripts/tools.sh (or set SPO_TOOLS_DIR)",
        path.display()
    );
    path
}

pub async fn client_from(kubeconfig: &Path) -> Client {
    let config = Kubeconfig::read_from(kubeconfig).expect("a kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .expect("a kube config");
    Client::try_from(config).expect("a kube client")
}

pub async fn create_namespace(client: &Client, name: &str) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": name}})).expect("a namespace"),
        )
        .await
        .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
}

/// A directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(server: Server) -> Scratch {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "spo-cluster-{}-{}-{}",
            server.name(),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
