//! The Dockerfile and the production build.

use super::*;
use serde_json::json;
use std::collections::BTreeSet;

// ---------------------------------------------------------------- Dockerfile

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(head) = t.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

/// The Dockerfile builds exactly the binary this test suite builds and runs, from the locked
/// dependency set; the runtime stage is distroless, non-root, with the binary only.
///
/// There is no container engine here, so the image itself is not built. What is checked: the
/// build command is `cargo build --release --locked --no-default-features --bin
/// securityprofile-operator` (no `sandbox` feature: the test servers stay out of the image),
/// after the `GIT_REVISION` build argument (the build context has no `.git`); `--locked`
/// holds (`cargo metadata --locked` fails if Cargo.lock is not up to date with the manifests);
/// the `--bin` target is the one cargo built for this test run (`CARGO_BIN_EXE_…`), and that
/// binary answers the image's entrypoint commands.
#[test]
fn dockerfile_builds_the_tested_binary_into_a_distroless_nonroot_image() {
    let instructions = dockerfile();
    let froms: Vec<&String> = instructions
        .iter()
        .filter(|(op, _)| op == "FROM")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert_eq!(froms[1], "gcr.io/distroless/cc-debian12:nonroot");
    let runtime_start = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    let runtime = &instructions[runtime_start + 1..];

    let run = instructions
        .iter()
        .find(|(op, a)| op == "RUN" && a.contains("cargo build"))
        .expect("a RUN with cargo build");
    let cargo: Vec<&str> = run.1[run.1.find("cargo build").unwrap()..]
        .split("&&")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        cargo,
        [
            "cargo",
            "build",
            "--release",
            "--locked",
            "--no-default-features",
            "--bin",
            "securityprofile-operator"
        ]
    );

    let build = &instructions[..runtime_start];
    let arg = build
        .iter()
        .position(|(op, a)| op == "ARG" && a.starts_with("GIT_REVISION"))
        .expect("ARG GIT_REVISION in the build stage");
    let run_at = build
        .iter()
        .position(|(op, a)| op == "RUN" && a.contains("cargo build"))
        .unwrap();
    assert!(arg < run_at, "the revision is known when cargo builds");
    assert!(
        build
            .iter()
            .any(|(op, a)| op == "ENV" && a == "CARGO_PROFILE_RELEASE_STRIP=symbols"),
        "the release binary is stripped"
    );

    // Only the binary is copied into the runtime image, and it is the entrypoint.
    let copies: Vec<&String> = runtime
        .iter()
        .filter(|(op, _)| op == "COPY" || op == "ADD")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        copies,
        ["--from=build /out/securityprofile-operator /securityprofile-operator"]
    );
    let get = |op: &str| {
        runtime
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, a)| a.as_str())
            .unwrap_or_else(|| panic!("no {op} in the runtime stage"))
    };
    assert_eq!(get("USER"), "65532:65532");
    assert_eq!(get("ENTRYPOINT"), r#"["/securityprofile-operator"]"#);
    assert_eq!(get("CMD"), r#"["run"]"#);
    assert!(get("ENV").contains("LOG_FORMAT=json"));
    // The chart runs the same subcommand and the same user.
    let objects = render(&[]);
    assert_eq!(args_of(&objects)[0], "run");
    assert_eq!(
        one(&objects, "Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"],
        65532
    );

    // --locked: the lockfile satisfies the manifests (`cargo tree --locked` resolves the
    // dependency graph and fails if Cargo.lock would change; scripts/test.sh also builds with
    // --locked), and --bin securityprofile-operator is a target of the package.
    let cargo = || std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()));
    let manifest = root().join("Cargo.toml");
    let out = cargo()
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--depth",
            "0",
        ])
        .args(["-p", "securityprofile-operator", "--manifest-path"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree --locked: {}", text(&out));
    let out = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo metadata: {}", text(&out));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let package = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "securityprofile-operator")
        .unwrap();
    assert!(
        package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| { t["name"] == "securityprofile-operator" && t["kind"] == json!(["bin"]) }),
        "--bin securityprofile-operator is a target"
    );

    // That binary, as built for this test run, answers the image's commands.
    let bin = env!("CARGO_BIN_EXE_securityprofile-operator");
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!(
            "securityprofile-operator {} ({})",
            env!("CARGO_PKG_VERSION"),
            securityprofile_operator::metrics::GIT_REVISION
        )
    );
    let out = std::process::Command::new(bin)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--log-format",
        "--health-addr",
        "--metrics-addr",
        "--leader-elect",
        "[env: LOG_FORMAT=]",
    ] {
        assert!(help.contains(flag), "run --help mentions {flag}: {help}");
    }

    // The build context keeps what cargo needs to load the workspace.
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(ignored.contains(&"target/"));
    for needed in [
        "src/",
        "crates/",
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "benches/",
        "examples/",
    ] {
        assert!(
            !ignored
                .iter()
                .any(|i| needed.starts_with(i.trim_end_matches('*'))),
            ".dockerignore must keep {needed}"
        );
    }
}

/// The crates (name, version) of the product's normal dependency tree with these flags.
fn dependency_tree(flags: &[&str]) -> BTreeSet<(String, String)> {
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args([
            "tree",
            "-e",
            "normal",
            "--locked",
            "--offline",
            "--prefix",
            "none",
        ])
        .args(["-p", "securityprofile-operator", "--manifest-path"])
        .arg(root().join("Cargo.toml"))
        .args(flags)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.to_string()))
        })
        .collect()
}

/// The production build (`--no-default-features`, as the Dockerfile builds it) carries neither
/// test server nor what only they use, and one TLS stack: a single rustls, with ring and no
/// aws-lc, and no hyper 0.14 client.
#[test]
fn production_dependency_tree_has_no_test_servers_and_one_tls_stack() {
    let tree = dependency_tree(&["--no-default-features"]);
    let names: BTreeSet<&str> = tree.iter().map(|(n, _)| n.as_str()).collect();
    for absent in [
        "kube-sandbox",
        "iot-emulator",
        "kube-admission",
        "cel",
        "rcgen",
        "aws-lc-rs",
        "aws-lc-sys",
    ] {
        assert!(
            !names.contains(absent),
            "{absent} is in the production tree"
        );
    }
    let versions = |name: &str| -> Vec<&str> {
        tree.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(
        versions("rustls").len(),
        1,
        "one rustls: {:?}",
        versions("rustls")
    );
    assert!(versions("rustls")[0].starts_with("v0.23"));
    assert_eq!(
        versions("hyper").len(),
        1,
        "one hyper: {:?}",
        versions("hyper")
    );
    assert!(names.contains("ring"));
    assert!(names.contains("aws-sdk-iot") && names.contains("kube-client"));

    // The default build (the README's demo) still has the sandbox: the check above can fail.
    let full = dependency_tree(&[]);
    assert!(full.iter().any(|(n, _)| n == "kube-sandbox"));
    assert!(full.iter().any(|(n, _)| n == "iot-emulator"));
}
