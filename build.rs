//! Records the git revision the binary is built from (`GIT_REVISION` at compile time), for
//! `--version` and the `build_info` metric. Order: `git rev-parse --short HEAD`, else the
//! `GIT_REVISION` environment variable (the Dockerfile's build argument: the image build has no
//! `.git`), else `unknown`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_REVISION");
    // Rebuild when HEAD moves (a commit or a checkout writes both files).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        for file in ["HEAD", "logs/HEAD"] {
            let path = Path::new(&dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    let revision = git(&["rev-parse", "--short", "HEAD"])
        .or_else(|| {
            std::env::var("GIT_REVISION")
                .ok()
                .filter(|r| !r.trim().is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=GIT_REVISION={revision}");
}
