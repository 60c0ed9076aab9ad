//! Running the real kubectl and helm binaries against a sandbox.

use kube_sandbox::Sandbox;
use std::path::PathBuf;
use std::process::Output;
use tempfile::TempDir;

/// `SPO_TOOLS_DIR`, or `<workspace>/target/tools`.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("SPO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools"))
}

pub fn tool(name: &str) -> PathBuf {
    let p = tools_dir().join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/tools.sh (or set SPO_TOOLS_DIR)",
        p.display()
    );
    p
}

/// A kubeconfig and a private HOME/cache for one test's CLI runs.
pub struct Cli {
    pub dir: TempDir,
    pub kubeconfig: PathBuf,
}

impl Cli {
    pub fn new(sb: &Sandbox) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sb.write_kubeconfig(&kubeconfig).unwrap();
        Cli { dir, kubeconfig }
    }

    /// A CLI for another server, e.g. a real kube-apiserver's admin kubeconfig.
    pub fn for_kubeconfig(path: &std::path::Path) -> Cli {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::copy(path, &kubeconfig).unwrap();
        Cli { dir, kubeconfig }
    }

    pub fn command(&self, tool_name: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(tool(tool_name));
        c.env("HOME", self.dir.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env("HELM_CACHE_HOME", self.dir.path().join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.dir.path().join("helm-config"))
            .env("HELM_DATA_HOME", self.dir.path().join("helm-data"))
            .kill_on_drop(true);
        c
    }

    pub async fn run(&self, tool_name: &str, args: &[&str]) -> Output {
        self.command(tool_name).args(args).output().await.unwrap()
    }

    /// Runs kubectl and returns stdout, panicking with stderr on failure.
    pub async fn kubectl(&self, args: &[&str]) -> String {
        let out = self.run("kubectl", args).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub async fn kubectl_fails(&self, args: &[&str]) -> String {
        let out = self.run("kubectl", args).await;
        assert!(
            !out.status.success(),
            "kubectl {args:?} should have failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn write(&self, name: &str, content: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }
}
