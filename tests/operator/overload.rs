//! Overload: resyncs asked for far more often than the read quota allows. Every resource must
//! still be reconciled, and new resources and edits must not wait behind the resync backlog.
//!
//! 40 resources resynced every second, each resync reading ListTargetsForSecurityProfile, which
//! the operator paces at 1 call/s (the emulator allows 2/s, so that network jitter never turns
//! into throttling), ask for 40 times what it allows itself. kube-runtime's runner, with its slots all
//! busy, takes the next due resource in hash order: a few resources are resynced over and
//! over while the others (new ones, edited ones) wait for ever.

use crate::cluster::{Server, on_both_servers};
use crate::harness::*;
use securityprofile_operator::api::SecurityProfileSpec;
use serde_json::json;
use std::time::Duration;

const RESOURCES: usize = 40;

fn described(text: &str) -> SecurityProfileSpec {
    SecurityProfileSpec {
        security_profile_description: Some(text.to_string()),
        ..Default::default()
    }
}

async fn every_resource_is_served_and_edits_go_first_under_resync_overload(server: Server) {
    let mut env = Env::without_operator(server).await;
    let admin = env.emulator.admin();
    admin
        .set_quota("ListTargetsForSecurityProfile", 2.0)
        .unwrap();
    env.operator = Some(env.start_operator(args(
        &env.emulator.url(),
        &[
            "--resync-period",
            "1s",
            "--aws-tps",
            "ListTargetsForSecurityProfile=1",
        ],
    )));
    for i in 0..RESOURCES {
        env.create(&format!("p{i}"), described("v1")).await;
    }
    for i in 0..RESOURCES {
        env.wait_ready_within(&format!("p{i}"), Duration::from_secs(60))
            .await;
    }
    // The resyncs are now far behind. New resources and edits arrive meanwhile.
    for i in 0..5 {
        env.create(&format!("new{i}"), described("v1")).await;
        env.patch_spec(
            &format!("p{}", i * 7),
            json!({"securityProfileDescription": "v2"}),
        )
        .await;
    }
    for i in 0..5 {
        env.wait_ready_within(&format!("new{i}"), Duration::from_secs(20))
            .await;
        let name = format!("p{}", i * 7);
        env.wait_ready_within(&name, Duration::from_secs(20)).await;
        let profile = env.profile(&name).expect("profile in AWS");
        assert_eq!(
            profile.description.as_deref(),
            Some("v2"),
            "the edit of {name} reached AWS"
        );
    }
    // Resyncs went on meanwhile, paced by the budget, and nothing was throttled.
    assert!(env.ok_calls("ListTargetsForSecurityProfile") > 0);
    let throttled: u64 = [
        "DescribeSecurityProfile",
        "ListTargetsForSecurityProfile",
        "ListTagsForResource",
    ]
    .iter()
    .map(|op| {
        env.calls(op)
            .get("ThrottlingException")
            .copied()
            .unwrap_or(0)
    })
    .sum();
    assert_eq!(throttled, 0, "the operator stayed within its quotas");
}
on_both_servers!(every_resource_is_served_and_edits_go_first_under_resync_overload);
