//! Runs tests/wire_check.py (botocore, an independent client) against the built binary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn tools_dir() -> PathBuf {
    std::env::var_os("SPO_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools"))
}

/// Kills the emulator process when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn botocore_wire_check_against_the_binary() {
    let python = tools_dir().join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/tools.sh (or set SPO_TOOLS_DIR) to install botocore",
        python.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_iot-emulator"))
        .args(["--listen", "127.0.0.1:0", "--account-id", "123456789012"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start iot-emulator binary");
    let stdout = child.stdout.take().expect("stdout is piped");
    let running = Running(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining so the emulator never blocks on a full pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("iot-emulator listening on ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the emulator prints its URL");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire_check.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&url)
        .output()
        .expect("run wire_check.py");
    drop(running);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "wire_check.py failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("wire check passed"), "{stdout}\n{stderr}");
}
