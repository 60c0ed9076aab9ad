//! Many parallel updates at the same expectedVersion: exactly one wins.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_updates_at_one_version_have_one_winner() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    create(&c, "race").await;
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.update_security_profile()
                    .security_profile_name("race")
                    .security_profile_description(format!("writer {i}"))
                    .expected_version(1)
                    .send()
                    .await
                    .map_err(|e| err_of(&e).0)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) => winners.push(out.security_profile_description().unwrap().to_string()),
            Err(code) => {
                assert_eq!(code, "VersionConflictException");
                conflicts += 1;
            }
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner");
    assert_eq!(conflicts, 47);
    let d = c
        .describe_security_profile()
        .security_profile_name("race")
        .send()
        .await
        .unwrap();
    assert_eq!(d.version(), 2);
    assert_eq!(d.security_profile_description(), Some(winners[0].as_str()));
}
