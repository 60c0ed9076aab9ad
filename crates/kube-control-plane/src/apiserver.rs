//! kube-apiserver on a loopback port, configured as a small production server is: TLS with the
//! generated CA, the RBAC and Node authorizers, the default admission plugins, API priority and
//! fairness, service-account tokens signed with the generated key, and an audit log of every
//! request (so tests can see what a client asked and what it was answered).

use crate::Error;
use crate::process::Process;
use std::path::{Path, PathBuf};

/// Audit every request at the Metadata level (who, verb, resource, response code), once it is
/// answered: enough to count a client's requests without logging bodies.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
";

/// How the API server is started; kept so that a restart uses the same port and files.
pub struct ApiServerSpec {
    pub binary: PathBuf,
    pub args: Vec<String>,
    pub log: PathBuf,
    pub audit_log: PathBuf,
}

impl ApiServerSpec {
    /// Writes the files the flags name into `dir` and returns the spec.
    pub fn new(
        binary: &Path,
        dir: &Path,
        port: u16,
        etcd_url: &str,
        admin_token: &str,
        extra: &[String],
    ) -> Result<ApiServerSpec, Error> {
        let audit_log = dir.join("audit.log");
        let file = |name: &str, text: &str| -> Result<String, Error> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::Io {
                what: format!("writing {}", path.display()),
                source: e,
            })?;
            Ok(path.to_string_lossy().into_owned())
        };
        let tokens = file(
            "tokens.csv",
            &format!("{admin_token},admin,admin,\"system:masters\"\n"),
        )?;
        let audit_policy = file("audit-policy.yaml", AUDIT_POLICY)?;
        let mut args: Vec<String> = vec![
            format!("--etcd-servers={etcd_url}"),
            format!("--secure-port={port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--tls-cert-file={}", dir.join("serving.crt").display()),
            format!(
                "--tls-private-key-file={}",
                dir.join("serving.key").display()
            ),
            format!("--client-ca-file={}", dir.join("ca.crt").display()),
            format!("--token-auth-file={tokens}"),
            "--authorization-mode=Node,RBAC".into(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!(
                "--service-account-key-file={}",
                dir.join("sa.pub").display()
            ),
            format!(
                "--service-account-signing-key-file={}",
                dir.join("sa.key").display()
            ),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            format!("--audit-policy-file={audit_policy}"),
            format!("--audit-log-path={}", audit_log.display()),
            "--audit-log-format=json".into(),
            "--audit-log-mode=blocking".into(),
        ];
        args.extend_from_slice(extra);
        Ok(ApiServerSpec {
            binary: binary.to_path_buf(),
            args,
            log: dir.join("kube-apiserver.log"),
            audit_log,
        })
    }

    pub fn spawn(&self) -> Result<Process, Error> {
        Process::spawn("kube-apiserver", &self.binary, &self.args, self.log.clone())
    }
}
