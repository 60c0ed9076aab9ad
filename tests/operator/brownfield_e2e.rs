//! The README's "Bring your existing profiles" path with the built binary and kubectl, on both
//! API servers: an emulator holding profiles made "by hand" (`sandbox --seed-profiles`),
//! `export`, `plan` (exit 2: adopt), the admin's namespace annotation, `kubectl apply` with the
//! `run` binary reconciling, `plan` (exit 0), and the emulator's counts show that only the
//! ownership tags were written.

use crate::cluster::{Server, on_both_servers};
use crate::e2e::http;
use crate::e2e::world::{BINARY, World};
use std::time::{Duration, Instant};

const SEEDED: usize = 8;

/// Runs the binary with emulator credentials; returns (exit code, stdout, stderr).
async fn spo(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(BINARY)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL_IOT")
        .env_remove("CLUSTER_ID")
        .env_remove("DEFAULT_REGION")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the binary runs");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

async fn readme_path_export_plan_apply_writes_only_ownership_tags(server: Server) {
    let world = World::start_seeded(server, "brownfield", SEEDED).await;
    let _operator = world.operator("operator", &[]).await;
    let profiles = world.dir.path().join("profiles");
    let profiles = profiles.to_str().expect("UTF-8 path");
    let aws = ["--aws-endpoint-url", world.emulator_url.as_str()];

    let export = [
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
    .concat();
    let (code, _, err) = spo(&export).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_dir(profiles).unwrap().count(), SEEDED);
    let plan = [
        &[
            "plan",
            "-f",
            profiles,
            "--cluster-id",
            "e2e",
            "--allow-adoption",
        ],
        &aws[..],
    ]
    .concat();
    let (code, out, err) = spo(&plan).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains(&format!("0 to create, {SEEDED} to adopt, 0 to update")),
        "{out}"
    );

    let before = world.emulator.calls().await;
    world
        .kubectl_ok(&[
            "annotate",
            "namespace",
            "default",
            "iot.awscc.io/allow-adoption=true",
        ])
        .await;
    world.kubectl_ok(&["apply", "-f", profiles]).await;
    let start = Instant::now();
    loop {
        let (code, out, err) = spo(&plan).await;
        if code == 0 {
            assert!(out.contains(&format!("{SEEDED} unchanged")), "{out}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not adopted: {out}{err}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = world.emulator.calls().await;
    let made = |op: &str| http::ok(&after, op) - http::ok(&before, op);
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
}
on_both_servers!(readme_path_export_plan_apply_writes_only_ownership_tags);
