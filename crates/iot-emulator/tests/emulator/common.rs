//! Shared helpers: start an emulator, build SDK clients against it, raw HTTP.

use aws_sdk_iot::Client;
use aws_sdk_iot::config::http::HttpResponse;
use aws_sdk_iot::config::retry::RetryConfig;
use aws_sdk_iot::config::timeout::TimeoutConfig;
use aws_sdk_iot::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iot::types::{Behavior, BehaviorCriteria, ComparisonOperator, MetricValue};
use iot_emulator::{Emulator, EmulatorConfig};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const ACCOUNT: &str = "123456789012";

/// An emulator on a free loopback port.
pub async fn start() -> Emulator {
    start_with(EmulatorConfig::default()).await
}

pub async fn start_with(mut config: EmulatorConfig) -> Emulator {
    config.listen = "127.0.0.1:0".parse().unwrap();
    Emulator::start(config).await.expect("emulator starts")
}

/// An SDK client for `region` with retries off, so every error reaches the test.
pub fn client(emu: &Emulator, region: &str) -> Client {
    client_with(emu, region, None)
}

pub fn client_with(emu: &Emulator, region: &str, attempt_timeout: Option<Duration>) -> Client {
    let mut b = aws_sdk_iot::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(emu.url())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled());
    if let Some(t) = attempt_timeout {
        b = b.timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(t)
                .build(),
        );
    }
    Client::from_conf(b.build())
}

/// Error code, message and HTTP status of an SDK error (status 0 when no response came).
pub fn err_of<E>(e: &SdkError<E, HttpResponse>) -> (String, String, u16)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map_or(0, |r| r.status().as_u16());
    (
        e.code().unwrap_or("<none>").to_string(),
        e.message().unwrap_or("").to_string(),
        status,
    )
}

/// A rule-based behavior on messages sent.
pub fn behavior(name: &str, count: i64) -> Behavior {
    Behavior::builder()
        .name(name)
        .metric("aws:num-messages-sent")
        .criteria(
            BehaviorCriteria::builder()
                .comparison_operator(ComparisonOperator::GreaterThan)
                .value(MetricValue::builder().count(count).build())
                .duration_seconds(300)
                .consecutive_datapoints_to_alarm(1)
                .consecutive_datapoints_to_clear(1)
                .build(),
        )
        .build()
        .unwrap()
}

pub async fn create(c: &Client, name: &str) -> String {
    c.create_security_profile()
        .security_profile_name(name)
        .behaviors(behavior("b1", 10))
        .send()
        .await
        .expect("create")
        .security_profile_arn()
        .unwrap()
        .to_string()
}

/// A raw HTTP/1.1 exchange, for the admin API and requests the SDK would never send.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub async fn raw(
    emu: &Emulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Raw {
    let mut s = tokio::net::TcpStream::connect(emu.addr()).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
        emu.addr(),
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Raw {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A valid-looking SigV4 Authorization header for `region` (the emulator reads the scope only).
pub fn auth(region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/{region}/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd"
    )
}

/// Creates the dimension `TopicFilter` the shared test bodies name (profiles must name
/// existing dimensions).
pub fn topic_filter(emu: &Emulator) {
    emu.admin()
        .put_dimension(
            serde_json::json!({"name": "TopicFilter", "stringValues": ["devices/+/auth"]}),
        )
        .expect("dimension");
}
