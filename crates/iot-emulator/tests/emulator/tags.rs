//! TagResource / UntagResource / ListTagsForResource on the profile ARN.

use crate::common::*;
use aws_sdk_iot::types::Tag;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

async fn tags_of(c: &aws_sdk_iot::Client, arn: &str) -> Vec<(String, String)> {
    c.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect()
}

#[tokio::test]
async fn tag_untag_and_list() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let arn = c
        .create_security_profile()
        .security_profile_name("t")
        .tags(tag("iot.awscc.io/cluster", "c1"))
        .send()
        .await
        .unwrap()
        .security_profile_arn()
        .unwrap()
        .to_string();
    c.tag_resource()
        .resource_arn(&arn)
        .tags(tag("env", "dev"))
        .tags(tag("iot.awscc.io/cluster", "c2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, &arn).await,
        [
            ("env".to_string(), "dev".to_string()),
            ("iot.awscc.io/cluster".to_string(), "c2".to_string())
        ]
    );
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .tag_keys("absent")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &arn).await.len(), 1);
    // Tags do not change the profile version.
    let d = c
        .describe_security_profile()
        .security_profile_name("t")
        .send()
        .await
        .unwrap();
    assert_eq!(d.version(), 1);
}

#[tokio::test]
async fn tag_errors() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");
    let arn = create(&c, "t").await;

    let missing = format!("arn:aws:iot:us-east-1:{ACCOUNT}:securityprofile/none");
    let err = c
        .tag_resource()
        .resource_arn(&missing)
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");
    let err = c
        .list_tags_for_resource()
        .resource_arn(&missing)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);
    let err = c
        .untag_resource()
        .resource_arn(&missing)
        .tag_keys("a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 404);

    // The same ARN seen from another region does not exist there.
    let eu = client(&emu, "eu-west-1");
    let err = eu
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");

    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag("aws:reserved", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "InvalidRequestException");

    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .tags(tag(&"k".repeat(129), "x"))
        .send()
        .await
        .unwrap_err();
    let (code, msg, _) = err_of(&err);
    assert_eq!(code, "InvalidRequestException");
    assert!(msg.contains("tags.1.member.Key"), "{msg}");

    let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    let err = c
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "LimitExceededException");
    assert_eq!(err_of(&err).2, 410);
    assert!(
        tags_of(&c, &arn).await.is_empty(),
        "a rejected TagResource changes nothing"
    );
}
