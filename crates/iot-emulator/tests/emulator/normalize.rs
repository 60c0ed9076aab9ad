//! The Describe normalisation switch (order-free lists reordered, server-side defaults filled)
//! and the deprecated additionalMetricsToRetain (v1) read as its V2 equivalent.

use crate::common::*;
use iot_emulator::EmulatorConfig;
use serde_json::{Value, json};

fn body() -> Value {
    json!({
        "behaviors": [
            {"name": "ips", "metric": "aws:destination-ip-addresses",
             "criteria": {"comparisonOperator": "in-cidr-set",
                          "value": {"cidrs": ["10.0.0.0/8", "192.168.0.0/16"]}}},
            {"name": "ports", "metric": "aws:listening-tcp-ports",
             "criteria": {"comparisonOperator": "in-port-set", "value": {"ports": [22, 443, 8883]},
                          "consecutiveDatapointsToAlarm": 2},
             "suppressAlerts": true},
            {"name": "sent", "metric": "aws:num-messages-sent",
             "criteria": {"comparisonOperator": "greater-than", "value": {"count": 5}}}
        ],
        "additionalMetricsToRetainV2": [
            {"metric": "aws:num-disconnects"},
            {"metric": "aws:num-connection-attempts", "exportMetric": true}
        ]
    })
}

async fn call(emu: &iot_emulator::Emulator, method: &str, path: &str, body: &str) -> Value {
    let auth = auth("us-east-1");
    let r = raw(emu, method, path, &[("Authorization", &auth)], body).await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
    r.json()
}

#[tokio::test]
async fn switch_reorders_sets_and_fills_defaults_in_describe_and_update() {
    let emu = start().await;
    call(&emu, "POST", "/security-profiles/n", &body().to_string()).await;
    let plain = call(&emu, "GET", "/security-profiles/n", "").await;
    assert_eq!(
        plain["behaviors"],
        body()["behaviors"],
        "off: answered as written"
    );
    assert_eq!(
        plain["additionalMetricsToRetainV2"],
        body()["additionalMetricsToRetainV2"]
    );

    let r = raw(
        &emu,
        "POST",
        "/_emulator/normalize",
        &[],
        r#"{"enabled": true}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = call(&emu, "GET", "/security-profiles/n", "").await;
    let b = &d["behaviors"];
    assert_eq!(
        b[0]["criteria"]["value"]["cidrs"],
        json!(["192.168.0.0/16", "10.0.0.0/8"])
    );
    assert_eq!(b[1]["criteria"]["value"]["ports"], json!([8883, 443, 22]));
    assert_eq!(
        b[1]["criteria"]["consecutiveDatapointsToAlarm"], 2,
        "given values stay"
    );
    assert_eq!(b[1]["suppressAlerts"], true);
    for i in [0, 2] {
        assert_eq!(b[i]["suppressAlerts"], false, "{b}");
        assert_eq!(b[i]["exportMetric"], false, "{b}");
        assert_eq!(b[i]["criteria"]["consecutiveDatapointsToAlarm"], 1, "{b}");
        assert_eq!(b[i]["criteria"]["consecutiveDatapointsToClear"], 1, "{b}");
    }
    assert_eq!(
        d["additionalMetricsToRetainV2"],
        json!([{"metric": "aws:num-connection-attempts", "exportMetric": true},
               {"metric": "aws:num-disconnects", "exportMetric": false}])
    );
    // The stored profile is unchanged: only the answer is rewritten.
    let stored = &emu.admin().state().profiles[0];
    assert_eq!(
        stored.behaviors.as_ref().unwrap()[0],
        body()["behaviors"][0]
    );

    let upd = json!({"behaviors": [{"name": "s", "metric": "aws:all-bytes-out",
        "metricDimension": {"dimensionName": "d"},
        "criteria": {"comparisonOperator": "in-set", "value": {"strings": ["a", "b"]}}}]});
    emu.admin()
        .put_dimension(json!({"name": "d", "stringValues": ["t/#"]}))
        .unwrap();
    let u = call(&emu, "PATCH", "/security-profiles/n", &upd.to_string()).await;
    assert_eq!(
        u["behaviors"][0]["metricDimension"],
        json!({"dimensionName": "d", "operator": "IN"})
    );
    assert_eq!(
        u["behaviors"][0]["criteria"]["value"]["strings"],
        json!(["b", "a"])
    );

    assert!(emu.admin().normalize());
    emu.admin().reset();
    assert!(
        !emu.admin().normalize(),
        "reset goes back to the configured value"
    );
    let on = start_with(EmulatorConfig {
        normalize_describe: true,
        ..Default::default()
    })
    .await;
    assert!(on.admin().normalize());
    let get = raw(&on, "GET", "/_emulator/normalize", &[], "")
        .await
        .json();
    assert_eq!(get, json!({"enabled": true}));
}

#[tokio::test]
async fn v1_metrics_to_retain_read_as_both_lists() {
    let emu = start().await;
    let body =
        json!({"additionalMetricsToRetain": ["aws:num-disconnects", "aws:num-messages-received"]});
    call(&emu, "POST", "/security-profiles/v1", &body.to_string()).await;
    let d = call(&emu, "GET", "/security-profiles/v1", "").await;
    assert_eq!(
        d["additionalMetricsToRetain"],
        body["additionalMetricsToRetain"]
    );
    assert_eq!(
        d["additionalMetricsToRetainV2"],
        json!([{"metric": "aws:num-disconnects"}, {"metric": "aws:num-messages-received"}])
    );
    // Through the SDK the V2 list is what a client reading only V2 sees.
    let c = client(&emu, "us-east-1");
    let out = c
        .describe_security_profile()
        .security_profile_name("v1")
        .send()
        .await
        .unwrap();
    let v2: Vec<&str> = out
        .additional_metrics_to_retain_v2()
        .iter()
        .map(|m| m.metric())
        .collect();
    assert_eq!(v2, ["aws:num-disconnects", "aws:num-messages-received"]);
    #[allow(deprecated)]
    let v1 = out.additional_metrics_to_retain().len();
    assert_eq!(v1, 2);
}
