//! The admin API over HTTP, as emulator.md lists it, and out-of-band edits.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn admin_http_api() {
    let emu = start().await;
    let c = client(&emu, "us-east-1");

    let r = raw(
        &emu,
        "POST",
        "/_emulator/thing-groups",
        &[],
        r#"{"name": "g1", "region": "eu-west-1"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"name": "g1", "arn": format!("arn:aws:iot:eu-west-1:{ACCOUNT}:thinggroup/g1")})
    );
    let r = raw(
        &emu,
        "POST",
        "/_emulator/thing-groups",
        &[],
        r#"{"name": "g2"}"#,
    )
    .await;
    assert_eq!(
        r.json()["arn"],
        format!("arn:aws:iot:us-east-1:{ACCOUNT}:thinggroup/g2")
    );
    let r = raw(
        &emu,
        "POST",
        "/_emulator/thing-groups",
        &[],
        r#"{"name": "bad name"}"#,
    )
    .await;
    assert_eq!(r.status, 400);

    let r = raw(
        &emu,
        "POST",
        "/_emulator/profiles",
        &[],
        r#"{"securityProfileName": "pre", "securityProfileDescription": "made out of band", "tags": {"owner": "someone"}}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], 1);
    let d = c
        .describe_security_profile()
        .security_profile_name("pre")
        .send()
        .await
        .unwrap();
    assert_eq!(d.security_profile_description(), Some("made out of band"));

    // Drift: merge into the existing profile, version goes up.
    let r = raw(
        &emu,
        "POST",
        "/_emulator/profiles",
        &[],
        r#"{"securityProfileName": "pre", "securityProfileDescription": "drifted"}"#,
    )
    .await;
    assert_eq!(r.json()["version"], 2);
    assert_eq!(r.json()["tags"]["owner"], "someone");
    let d = c
        .describe_security_profile()
        .security_profile_name("pre")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (d.version(), d.security_profile_description()),
        (2, Some("drifted"))
    );
    let r = raw(
        &emu,
        "POST",
        "/_emulator/profiles",
        &[],
        r#"{"securityProfileName": "pre", "behaviors": [{"name": "x y"}]}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("behaviors.1.member.name"), "{}", r.body);

    let state = raw(&emu, "GET", "/_emulator/state", &[], "").await.json();
    assert_eq!(state["profiles"][0]["securityProfileName"], "pre");
    assert_eq!(state["profiles"][0]["accountId"], ACCOUNT);
    assert_eq!(state["profiles"][0]["region"], "us-east-1");
    assert_eq!(state["profiles"][0]["targets"], json!([]));
    assert!(state["profiles"][0]["creationDate"].is_number());
    assert_eq!(state["thingGroups"].as_array().unwrap().len(), 2);
    assert_eq!(serde_json::to_value(emu.admin().state()).unwrap(), state);

    let r = raw(
        &emu,
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation": "DescribeSecurityProfile", "error": "ThrottlingException", "count": 1}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw(
        &emu,
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation": "DescribeSecurityProfile", "delayMs": 10, "probability": 0.5}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        raw(&emu, "GET", "/_emulator/faults", &[], "")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = raw(
        &emu,
        "POST",
        "/_emulator/faults",
        &[],
        r#"{"operation": "DescribeSecurityProfile", "error": "Boom"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    let err = c
        .describe_security_profile()
        .security_profile_name("pre")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ThrottlingException");
    raw(&emu, "DELETE", "/_emulator/faults", &[], "").await;

    let r = raw(
        &emu,
        "POST",
        "/_emulator/quotas",
        &[],
        r#"{"operation": "ListSecurityProfiles", "tps": 0}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let err = c.list_security_profiles().send().await.unwrap_err();
    assert_eq!(err_of(&err).0, "ThrottlingException");
    raw(
        &emu,
        "POST",
        "/_emulator/quotas",
        &[],
        r#"{"operation": "ListSecurityProfiles", "tps": null}"#,
    )
    .await;
    c.list_security_profiles().send().await.unwrap();

    let r = raw(
        &emu,
        "POST",
        "/_emulator/iam",
        &[],
        r#"{"allow": ["iot:List*"]}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let err = c
        .describe_security_profile()
        .security_profile_name("pre")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).2, 403);
    c.list_security_profiles().send().await.unwrap();

    let calls = raw(&emu, "GET", "/_emulator/calls", &[], "").await.json();
    assert_eq!(calls["DescribeSecurityProfile"]["ok"], 2);
    assert_eq!(calls["DescribeSecurityProfile"]["ThrottlingException"], 1);
    assert_eq!(calls["DescribeSecurityProfile"]["AccessDeniedException"], 1);
    assert_eq!(calls["ListSecurityProfiles"]["ThrottlingException"], 1);

    let r = raw(&emu, "POST", "/_emulator/reset", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(emu.admin().state(), iot_emulator::State::default());
    assert!(emu.admin().calls().is_empty());
    // Reset also restores the allow-all IAM default.
    let err = c
        .describe_security_profile()
        .security_profile_name("pre")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_of(&err).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn unknown_paths_answer_a_json_error() {
    let emu = start().await;
    let r = raw(
        &emu,
        "GET",
        "/things",
        &[("Authorization", &auth("us-east-1"))],
        "",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("UnknownOperationException")
    );
}

#[tokio::test]
async fn shutdown_releases_the_port() {
    let emu = start().await;
    let addr = emu.addr();
    emu.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens after shutdown"
    );
}

#[tokio::test]
async fn serve_runs_on_an_existing_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(iot_emulator::serve(listener, Default::default()));
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "GET /security-profiles HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        auth("us-east-1")
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        out.contains(r#"{"securityProfileIdentifiers":[]}"#),
        "{out}"
    );
    server.abort();
}
