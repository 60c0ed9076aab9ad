//! The README's "Bring your existing profiles" path with the built binary and kubectl:
//! `sandbox --seed-profiles`, `export`, `plan` (exit 2: adopt), `kubectl apply`, `plan` (exit 0),
//! and the emulator's counts show that only the ownership tags were written.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_securityprofile-operator");
const SEEDED: usize = 8;

/// A child process killed on drop, so a failing test leaves nothing behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kubectl() -> PathBuf {
    let tools = std::env::var_os("SPO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools"));
    let kubectl = tools.join("bin/kubectl");
    assert!(
        kubectl.is_file(),
        "kubectl not found at {}: run scripts/tools.sh",
        kubectl.display()
    );
    kubectl
}

/// Runs the binary with emulator credentials; returns (exit code, stdout, stderr).
fn spo(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BINARY)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL_IOT")
        .env_remove("CLUSTER_ID")
        .env_remove("DEFAULT_REGION")
        .output()
        .expect("the binary runs");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

/// `GET /_emulator/calls`, summed over outcomes, over a plain TCP connection.
fn calls(emulator: &str) -> serde_json::Map<String, serde_json::Value> {
    let addr = emulator.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("emulator");
    write!(
        s,
        "GET /_emulator/calls HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).expect("calls JSON");
    v.as_object()
        .unwrap()
        .iter()
        .map(|(op, o)| {
            (
                op.clone(),
                o.as_object()
                    .unwrap()
                    .values()
                    .map(|n| n.as_u64().unwrap())
                    .sum::<u64>()
                    .into(),
            )
        })
        .collect()
}

#[test]
fn readme_path_export_plan_apply_writes_only_ownership_tags() {
    let dir = std::env::temp_dir().join(format!("spo-brownfield-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let seeded = SEEDED.to_string();
    let mut sandbox = Killed(
        Command::new(BINARY)
            .args([
                "sandbox",
                "--seed-profiles",
                &seeded,
                "--api-addr",
                "127.0.0.1:0",
                "--emulator-addr",
                "127.0.0.1:0",
                "--health-addr",
                "127.0.0.1:0",
                "--metrics-addr",
                "127.0.0.1:0",
                "--kubeconfig-out",
            ])
            .arg(&kubeconfig)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sandbox starts"),
    );
    let mut emulator = None;
    let mut seeded_line = false;
    for line in BufReader::new(sandbox.0.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        emulator = emulator.or(line.strip_prefix("emulator: ").map(str::to_string));
        seeded_line |= line == format!("seeded {SEEDED} unowned security profiles in us-east-1");
        if line.starts_with("Serving until") {
            break;
        }
    }
    let emulator = emulator.expect("the sandbox prints its emulator URL");
    assert!(seeded_line, "the sandbox reports the seed");
    let profiles = dir.join("profiles");
    let profiles = profiles.to_str().unwrap();
    let aws = ["--aws-endpoint-url", emulator.as_str()];

    let (code, _, err) = spo(&[
        &[
            "export",
            "--region",
            "us-east-1",
            "-n",
            "default",
            "-o",
            profiles,
        ],
        &aws[..],
    ]
    .concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_dir(profiles).unwrap().count(), SEEDED);
    let plan = [
        &[
            "plan",
            "-f",
            profiles,
            "--cluster-id",
            "sandbox",
            "--allow-adoption",
        ],
        &aws[..],
    ]
    .concat();
    let (code, out, err) = spo(&plan);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains(&format!("0 to create, {SEEDED} to adopt, 0 to update")),
        "{out}"
    );

    let before = calls(&emulator);
    let kubectl = |args: &[&str]| {
        let out = Command::new(kubectl())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    kubectl(&[
        "annotate",
        "namespace",
        "default",
        "iot.awscc.io/allow-adoption=true",
    ]);
    kubectl(&["apply", "-f", profiles]);
    let start = Instant::now();
    loop {
        let (code, out, err) = spo(&plan);
        if code == 0 {
            assert!(out.contains(&format!("{SEEDED} unchanged")), "{out}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not adopted: {out}{err}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = calls(&emulator);
    let made = |op: &str| {
        after.get(op).and_then(|v| v.as_u64()).unwrap_or(0)
            - before.get(op).and_then(|v| v.as_u64()).unwrap_or(0)
    };
    assert_eq!(made("TagResource"), SEEDED as u64, "{after:?}");
    for op in [
        "CreateSecurityProfile",
        "UpdateSecurityProfile",
        "DeleteSecurityProfile",
        "AttachSecurityProfile",
        "DetachSecurityProfile",
        "UntagResource",
    ] {
        assert_eq!(made(op), 0, "{op}: {after:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
