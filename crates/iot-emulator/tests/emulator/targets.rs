//! Attach / Detach / ListTargetsForSecurityProfile / ListSecurityProfilesForTarget.

use crate::common::*;

fn all(region: &str, what: &str) -> String {
    format!("arn:aws:iot:{region}:{ACCOUNT}:all/{what}")
}

async fn targets_of(c: &aws_sdk_iot::Client, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_targets_for_security_profile()
            .security_profile_name(name)
            .max_results(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.security_profile_targets().len() <= 1);
        out.extend(
            page.security_profile_targets()
                .iter()
                .map(|t| t.arn().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return out;
        }
    }
}

#[tokio::test]
async fn attach_list_and_detach_targets() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    create(&c, "p1").await;
    create(&c, "p2").await;
    let group = emu
        .admin()
        .create_thing_group("fleet", "us-east-1")
        .unwrap();
    assert_eq!(
        group,
        format!("arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/fleet")
    );

    for target in [
        group.clone(),
        all("us-east-1", "registered-things"),
        all("us-east-1", "unregistered-things"),
    ] {
        c.attach_security_profile()
            .security_profile_name("p1")
            .security_profile_target_arn(&target)
            .send()
            .await
            .unwrap();
    }
    // Attaching again is a no-op.
    c.attach_security_profile()
        .security_profile_name("p1")
        .security_profile_target_arn(&group)
        .send()
        .await
        .unwrap();
    c.attach_security_profile()
        .security_profile_name("p2")
        .security_profile_target_arn(&group)
        .send()
        .await
        .unwrap();

    let mut expected = vec![
        group.clone(),
        all("us-east-1", "registered-things"),
        all("us-east-1", "unregistered-things"),
    ];
    expected.sort();
    assert_eq!(targets_of(&c, "p1").await, expected);

    let mappings = c
        .list_security_profiles_for_target()
        .security_profile_target_arn(&group)
        .recursive(true)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = mappings
        .security_profile_target_mappings()
        .iter()
        .map(|m| {
            assert_eq!(m.target().unwrap().arn(), group);
            m.security_profile_identifier().unwrap().name().to_string()
        })
        .collect();
    assert_eq!(names, ["p1", "p2"]);
    let page = c
        .list_security_profiles_for_target()
        .security_profile_target_arn(&group)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.security_profile_target_mappings().len(), 1);
    assert!(page.next_token().is_some());

    c.detach_security_profile()
        .security_profile_name("p1")
        .security_profile_target_arn(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(targets_of(&c, "p1").await.len(), 2);
    assert_eq!(emu.admin().state().profiles[0].targets.len(), 2);
}

#[tokio::test]
async fn unknown_targets_and_profiles_are_rejected() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    create(&c, "p").await;
    let attach = |name: &str, target: &str| {
        c.attach_security_profile()
            .security_profile_name(name)
            .security_profile_target_arn(target)
            .send()
    };
    let unknown_group = format!("arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/ghost");
    let err = attach("p", &unknown_group).await.unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");
    assert_eq!(err_of(&err).2, 404);

    let err = attach("p", "not-an-arn").await.unwrap_err();
    assert_eq!(err_of(&err).0, "InvalidRequestException");

    // all/registered-things of another region is not this region's target.
    let err = attach("p", &all("eu-west-1", "registered-things"))
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");

    let err = attach("missing", &all("us-east-1", "registered-things"))
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");

    let err = c
        .list_targets_for_security_profile()
        .security_profile_name("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);
    let err = c
        .detach_security_profile()
        .security_profile_name("missing")
        .security_profile_target_arn(all("us-east-1", "registered-things"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);
    let err = c
        .list_security_profiles_for_target()
        .security_profile_target_arn(&unknown_group)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");
    assert!(emu.admin().state().profiles[0].targets.is_empty());
}
