//! The end-to-end world: the built binary as child processes (any number of `run` operators)
//! against one of the two API servers (`cluster.rs`): `sandbox --no-controller` (the API server
//! and the emulator in one child process), or a real kube-apiserver and etcd with the emulator
//! in the test process. kubectl acts as the cluster admin; the operators run with the
//! operator's identity (on kube-apiserver the chart's ServiceAccount and RBAC). Every child is
//! SIGKILLed when its handle drops, so a failing test leaves no process behind.

use super::http::{self, EmulatorAdmin};
use crate::cluster::{Cluster, OPERATOR_NS, Server};
use crate::harness::eventually;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::process::{Child, Command};

/// The operator binary built by cargo for this test crate.
pub const BINARY: &str = env!("CARGO_BIN_EXE_securityprofile-operator");

/// How long a process may take to print what it is waiting for (a loaded 2-core machine).
const STARTUP: Duration = Duration::from_secs(60);

/// kubectl from `scripts/tools.sh`; a missing kubectl fails the test, it never skips it.
pub fn kubectl_path() -> PathBuf {
    let tools = std::env::var_os("SPO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools"));
    let kubectl = tools.join("bin/kubectl");
    assert!(
        kubectl.is_file(),
        "kubectl not found at {}: run scripts/tools.sh (or set SPO_TOOLS_DIR)",
        kubectl.display()
    );
    kubectl
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "spo-e2e-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process whose stdout and stderr go to files; SIGKILLed on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, dir: &Path, cmd: &mut Command) -> Proc {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        let out = std::fs::File::create(&stdout).expect("stdout file");
        let err = std::fs::File::create(&stderr).expect("stderr file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_string(),
            child,
            stdout,
            stderr,
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Both outputs, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- {} stdout ---\n{}\n--- {} stderr (last 4000 bytes) ---\n{}",
            self.name,
            self.stdout(),
            self.name,
            tail(&self.stderr(), 4000)
        )
    }

    /// Fails the test (with the output) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}\n{}", self.name, self.output());
        }
    }

    /// Waits for the process to exit by itself (after a SIGTERM, say) and returns its status.
    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.expect("wait for the child"),
            Err(_) => panic!(
                "{} did not exit within {timeout:?}\n{}",
                self.name,
                self.output()
            ),
        }
    }

    /// kill -9, and reap it.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("SIGKILL the child");
    }

    /// Waits until a line of stdout or stderr satisfies `f` (while the process runs).
    pub async fn wait_line<T>(&mut self, what: &str, f: impl Fn(&str) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + STARTUP;
        loop {
            let found = self
                .stdout()
                .lines()
                .chain(self.stderr().lines())
                .find_map(&f);
            if let Some(v) = found {
                return v;
            }
            self.assert_running();
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}: no {what} within {STARTUP:?}\n{}",
                self.name,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn tail(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// A `run` process with where it serves /metrics.
pub struct Operator {
    pub proc: Proc,
    pub metrics_addr: String,
}

impl Operator {
    /// The operator's own /metrics page.
    pub async fn metrics(&self) -> String {
        let (status, body) = http::request(&self.metrics_addr, "GET", "/metrics", None).await;
        assert_eq!(status, 200, "GET /metrics of {}", self.proc.name);
        String::from_utf8(body).expect("metrics are text")
    }

    /// AWS calls this process made, by its own metrics.
    pub async fn aws_calls(&self) -> f64 {
        http::metric_sum(
            &self.metrics().await,
            "securityprofile_operator_aws_calls_total",
        )
    }
}

/// The API server (and emulator) of a world.
enum Backend {
    /// `sandbox --no-controller`: API server and emulator in one child process.
    Sandbox(Box<Proc>),
    /// A real kube-apiserver and etcd, and the emulator in this process.
    Real(Box<(Cluster, iot_emulator::Emulator)>),
}

/// One API server and emulator, with kubectl at the API server as its admin.
pub struct World {
    pub dir: TempDir,
    backend: Backend,
    /// The admin's kubeconfig (kubectl, helm).
    pub kubeconfig: PathBuf,
    /// The operator's kubeconfig (`run --kubeconfig`).
    pub operator_kubeconfig: PathBuf,
    pub emulator_url: String,
    pub emulator: EmulatorAdmin,
    kubectl: PathBuf,
}

impl World {
    /// Starts the API server and the emulator, installs the CRDs (the sandbox does that
    /// itself; on kube-apiserver `kubectl apply -f crds/`, as an admin would) and allows only
    /// the operator's least-privilege IAM actions.
    pub async fn start(server: Server, label: &str) -> World {
        World::start_with(server, label, &[]).await
    }

    /// [`World::start`] with more kube-apiserver flags (ignored by the sandbox).
    pub async fn start_with(server: Server, label: &str, apiserver_args: &[&str]) -> World {
        World::start_full(server, label, apiserver_args, 0).await
    }

    /// [`World::start`] with an emulator holding `profiles` unowned profiles made "by hand"
    /// (`sandbox --seed-profiles`; on kube-apiserver the same seeding of the emulator).
    pub async fn start_seeded(server: Server, label: &str, profiles: usize) -> World {
        World::start_full(server, label, &[], profiles).await
    }

    async fn start_full(
        server: Server,
        label: &str,
        apiserver_args: &[&str],
        seed_profiles: usize,
    ) -> World {
        let kubectl = kubectl_path();
        let dir = TempDir::new(label);
        let (backend, kubeconfig, operator_kubeconfig, emulator_url) = match server {
            Server::Sandbox => start_sandbox(&dir, seed_profiles).await,
            Server::KubeApiserver => start_real(apiserver_args, seed_profiles).await,
        };
        let emulator = EmulatorAdmin::new(&emulator_url);
        // The emulator enforces exactly what `iam-policy` prints for this account (any region:
        // the tests move profiles between regions) and the operators' cluster id.
        let policy = Command::new(BINARY)
            .args([
                "iam-policy",
                "--account",
                "123456789012",
                "--cluster-id",
                "e2e",
            ])
            .output()
            .await
            .expect("iam-policy runs");
        assert!(policy.status.success(), "iam-policy: {policy:?}");
        let policy: Value = serde_json::from_slice(&policy.stdout).expect("policy JSON");
        emulator.set_iam_policy(policy).await;
        let world = World {
            dir,
            backend,
            kubeconfig,
            operator_kubeconfig,
            emulator_url,
            emulator,
            kubectl,
        };
        if server == Server::KubeApiserver {
            let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
            world
                .kubectl_ok(&["apply", "-f", crds.to_str().expect("UTF-8 path")])
                .await;
        }
        // Discovery must serve the kinds before the tests use them.
        eventually("kubectl serves securityprofiles", STARTUP, || async {
            world.kubectl(&["get", "securityprofiles"]).await.ok()
        })
        .await;
        world
    }

    /// The real control plane (kube-apiserver worlds only).
    pub fn control_plane(&mut self) -> &mut kube_control_plane::ControlPlane {
        match &mut self.backend {
            Backend::Real(real) => real
                .0
                .control_plane_mut()
                .expect("a kube-apiserver world has a control plane"),
            Backend::Sandbox(_) => panic!("the sandbox has no control plane"),
        }
    }

    /// Writes a copy of the operator's kubeconfig that reaches the API server through `addr`
    /// (a [`super::proxy::Proxy`] the test can cut) and returns its path.
    pub fn operator_kubeconfig_via(&self, addr: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.operator_kubeconfig).expect("kubeconfig");
        let server = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .expect("a server line")
            .to_string();
        let path = self.dir.path().join("operator-via-proxy.kubeconfig");
        std::fs::write(&path, text.replace(&server, &format!("https://{addr}")))
            .expect("write kubeconfig");
        path
    }

    /// What the API server printed, for failure messages.
    pub fn server_output(&self) -> String {
        match &self.backend {
            Backend::Sandbox(proc) => proc.output(),
            Backend::Real(real) => real.0.logs(),
        }
    }

    /// Starts `run` against the sandbox; `name` names its output files (and POD_NAME, the
    /// leader-election identity).
    pub async fn operator(&self, name: &str, extra: &[&str]) -> Operator {
        self.operator_with(name, &self.operator_kubeconfig, extra)
            .await
    }

    /// [`World::operator`] with another kubeconfig (through a proxy, say).
    pub async fn operator_with(&self, name: &str, kubeconfig: &Path, extra: &[&str]) -> Operator {
        let mut cmd = Command::new(BINARY);
        cmd.args(["run", "--kubeconfig"])
            .arg(kubeconfig)
            .args([
                "--aws-endpoint-url",
                &self.emulator_url,
                "--cluster-id",
                "e2e",
                "--default-region",
                "us-east-1",
                "--health-addr",
                "127.0.0.1:0",
                "--metrics-addr",
                "127.0.0.1:0",
                "--aws-attempt-timeout",
                "5s",
                "--log-format",
                "json",
            ])
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "AKIAE2ETESTTESTTEST0")
            .env("AWS_SECRET_ACCESS_KEY", "e2e-secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("POD_NAME", name)
            .env("RUST_LOG", "info")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("KUBECONFIG")
            .env_remove("POD_NAMESPACE");
        let mut proc = Proc::spawn(name, self.dir.path(), &mut cmd);
        let metrics_addr = proc
            .wait_line("`serving probes and metrics` log line", |l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["message"] == "serving probes and metrics")
                    .then(|| v["metrics_addr"].as_str().map(str::to_string))
                    .flatten()
            })
            .await;
        Operator { proc, metrics_addr }
    }

    /// Writes a file into the world's directory.
    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).expect("write a manifest");
        path
    }

    /// Runs kubectl against the sandbox: Ok(stdout) on success, Err(stdout + stderr) otherwise.
    pub async fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let run = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(180), run)
            .await
            .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within 180s"))
            .unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "kubectl {args:?}: {}\n{stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// kubectl that must succeed.
    pub async fn kubectl_ok(&self, args: &[&str]) -> String {
        match self.kubectl(args).await {
            Ok(out) => out,
            Err(e) => panic!("{e}\n{}", self.server_output()),
        }
    }

    /// `kubectl get securityprofiles -o json`: the items.
    pub async fn security_profiles(&self) -> Vec<Value> {
        let out = self
            .kubectl_ok(&["get", "securityprofiles", "-n", "default", "-o", "json"])
            .await;
        let list: Value = serde_json::from_str(&out).expect("kubectl -o json");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until every named resource is Ready and Synced at its current generation.
    pub async fn wait_converged(&self, names: &[String], timeout: Duration) {
        let start = tokio::time::Instant::now();
        loop {
            let items = self.security_profiles().await;
            let pending: Vec<&String> = names
                .iter()
                .filter(|n| {
                    !items
                        .iter()
                        .any(|sp| sp["metadata"]["name"] == n.as_str() && converged(sp))
                })
                .collect();
            if pending.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{} resource(s) not converged within {timeout:?}, e.g. {:?}",
                pending.len(),
                items
                    .iter()
                    .filter(|sp| sp["metadata"]["name"] == pending[0].as_str())
                    .map(|sp| &sp["status"])
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// `sandbox --no-controller` in a child process: (backend, kubeconfig for both identities,
/// emulator URL).
async fn start_sandbox(dir: &TempDir, seed_profiles: usize) -> (Backend, PathBuf, PathBuf, String) {
    let kubeconfig_out = dir.path().join("kubeconfig");
    let seed = seed_profiles.to_string();
    let mut sandbox = Proc::spawn(
        "sandbox",
        dir.path(),
        Command::new(BINARY).args([
            "sandbox",
            "--no-controller",
            "--seed-profiles",
            &seed,
            "--api-addr",
            "127.0.0.1:0",
            "--emulator-addr",
            "127.0.0.1:0",
            "--health-addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--kubeconfig-out",
            kubeconfig_out.to_str().expect("UTF-8 temp path"),
        ]),
    );
    let kubeconfig = sandbox
        .wait_line("`kubeconfig:` line", |l| {
            l.strip_prefix("kubeconfig: ").map(PathBuf::from)
        })
        .await;
    let emulator_url = sandbox
        .wait_line("`emulator:` line", |l| {
            l.strip_prefix("emulator: ").map(str::to_string)
        })
        .await;
    assert_eq!(kubeconfig, kubeconfig_out, "--kubeconfig-out is honoured");
    if seed_profiles > 0 {
        let seeded = format!("seeded {seed_profiles} unowned security profiles in us-east-1");
        sandbox
            .wait_line("the `seeded` line", |l| (l == seeded).then_some(()))
            .await;
    }
    let admin = crate::cluster::client_from(&kubeconfig).await;
    crate::cluster::create_namespace(&admin, OPERATOR_NS).await;
    (
        Backend::Sandbox(Box::new(sandbox)),
        kubeconfig.clone(),
        kubeconfig,
        emulator_url,
    )
}

/// A real control plane with the operator's identity, and the emulator in this process.
async fn start_real(
    apiserver_args: &[&str],
    seed_profiles: usize,
) -> (Backend, PathBuf, PathBuf, String) {
    let cluster = Cluster::start_with(Server::KubeApiserver, apiserver_args).await;
    let emulator = iot_emulator::Emulator::start(iot_emulator::EmulatorConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..Default::default()
    })
    .await
    .expect("emulator starts");
    if seed_profiles > 0 {
        securityprofile_operator::sandbox::seed_emulator(&emulator, seed_profiles, "us-east-1")
            .await
            .expect("the emulator is seeded");
    }
    let url = emulator.url();
    let (admin, operator) = (
        cluster.admin_kubeconfig.clone(),
        cluster.operator_kubeconfig.clone(),
    );
    (
        Backend::Real(Box::new((cluster, emulator))),
        admin,
        operator,
        url,
    )
}

/// The status of one condition of a resource (as JSON).
pub fn condition<'a>(sp: &'a Value, type_: &str) -> Option<&'a Value> {
    sp["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Ready=True and Synced=True at the current generation.
pub fn converged(sp: &Value) -> bool {
    sp["status"]["observedGeneration"] == sp["metadata"]["generation"]
        && condition(sp, "Ready").is_some_and(|c| c["status"] == "True")
        && condition(sp, "Synced").is_some_and(|c| c["status"] == "True")
}

/// A kubectl/sandbox table as rows of (column, cell), cut at the header's column starts.
pub fn parse_table(text: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    // Columns are separated by two or more spaces; a header may contain one ("AWS NAME").
    let mut starts = Vec::new();
    let bytes = header.as_bytes();
    for i in 0..bytes.len() {
        let begins = bytes[i] != b' '
            && (i == 0 || (i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' '));
        if begins {
            starts.push(i);
        }
    }
    let cell = |line: &str, k: usize| -> String {
        let from = starts[k].min(line.len());
        let to = starts
            .get(k + 1)
            .copied()
            .unwrap_or(line.len())
            .min(line.len());
        line.get(from..to).unwrap_or("").trim().to_string()
    };
    let names: Vec<String> = (0..starts.len()).map(|k| cell(header, k)).collect();
    lines
        .map(|l| {
            names
                .iter()
                .enumerate()
                .map(|(k, n)| (n.clone(), cell(l, k)))
                .collect()
        })
        .collect()
}

/// The cell of `column` in `row`.
pub fn cell<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    row.iter()
        .find(|(c, _)| c == column)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no column {column} in {row:?}"))
}

/// A SecurityProfile manifest in namespace `default`.
pub fn security_profile(name: &str, spec: Value) -> Value {
    serde_json::json!({
        "apiVersion": "iot.awscc.io/v1alpha1",
        "kind": "SecurityProfile",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    })
}

/// Multi-document YAML, as a user would keep it in a file.
pub fn yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).expect("YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}
