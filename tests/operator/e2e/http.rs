//! A tiny HTTP/1.1 client over a tokio TcpStream: enough for the emulator's admin API and the
//! operator's /metrics, without a client crate.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request on a fresh connection (`Connection: close`); returns (status, body).
pub async fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
    let body = body
        .map(|b| serde_json::to_vec(b).expect("JSON body"))
        .unwrap_or_default();
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} http://{addr}{path}: no answer within 30s"))
        .unwrap_or_else(|e| panic!("{method} http://{addr}{path}: {e}"));
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "{method} http://{addr}{path}: malformed response {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// The emulator's admin API (`/_emulator/`), over HTTP as any outside tool would use it.
#[derive(Clone)]
pub struct EmulatorAdmin {
    addr: String,
}

/// Calls per operation and outcome, as `GET /_emulator/calls` returns them.
pub type Calls = BTreeMap<String, BTreeMap<String, u64>>;

impl EmulatorAdmin {
    /// From the `emulator: http://HOST:PORT` URL the sandbox prints.
    pub fn new(url: &str) -> EmulatorAdmin {
        let addr = url
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("emulator URL {url:?} is not http://"))
            .trim_end_matches('/')
            .to_string();
        EmulatorAdmin { addr }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, bytes) = request(&self.addr, method, path, body.as_ref()).await;
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            (200..300).contains(&status),
            "emulator admin {method} {path}: {status} {text}"
        );
        if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("emulator admin {method} {path}: {e}: {text}"))
        }
    }

    /// Every profile in the emulator, as JSON (`securityProfileName`, `version`, `targets`, …).
    pub async fn profiles(&self) -> Vec<Value> {
        let state = self.call("GET", "/_emulator/state", None).await;
        state["profiles"].as_array().cloned().unwrap_or_default()
    }

    /// The profile of that name, if any.
    pub async fn profile(&self, name: &str) -> Option<Value> {
        self.profiles()
            .await
            .into_iter()
            .find(|p| p["securityProfileName"] == name)
    }

    pub async fn calls(&self) -> Calls {
        let v = self.call("GET", "/_emulator/calls", None).await;
        serde_json::from_value(v).expect("calls are {op: {outcome: n}}")
    }

    pub async fn add_fault(&self, fault: Value) {
        self.call("POST", "/_emulator/faults", Some(fault)).await;
    }

    pub async fn clear_faults(&self) {
        self.call("DELETE", "/_emulator/faults", None).await;
    }

    /// Enforces this IAM policy document for every account.
    pub async fn set_iam_policy(&self, policy: serde_json::Value) {
        self.call(
            "POST",
            "/_emulator/iam",
            Some(serde_json::json!({ "policy": policy })),
        )
        .await;
    }

    /// Creates a thing group in us-east-1 and returns its ARN.
    pub async fn thing_group(&self, name: &str) -> String {
        let v = self
            .call(
                "POST",
                "/_emulator/thing-groups",
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        v["arn"].as_str().expect("thing group ARN").to_string()
    }
}

/// Sum over every outcome and operation.
pub fn total(calls: &Calls) -> u64 {
    calls.values().flat_map(|m| m.values()).sum()
}

/// Calls of one operation with outcome `ok`.
pub fn ok(calls: &Calls, operation: &str) -> u64 {
    calls
        .get(operation)
        .and_then(|m| m.get("ok"))
        .copied()
        .unwrap_or(0)
}

/// Calls of one operation, whatever the outcome.
pub fn all(calls: &Calls, operation: &str) -> u64 {
    calls.get(operation).map(|m| m.values().sum()).unwrap_or(0)
}

/// Sum of the samples of one metric family in a Prometheus text page.
pub fn metric_sum(page: &str, family: &str) -> f64 {
    page.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(super::parse_response(raw), Some((200, b"abcde".to_vec())));
    }

    #[test]
    fn metric_families_are_summed_by_exact_name() {
        let page = "# HELP x\nspo_aws_calls_total{operation=\"A\",outcome=\"ok\"} 2\n\
                    spo_aws_calls_total{operation=\"B\",outcome=\"ok\"} 3\n\
                    spo_aws_calls_total_other 7\n";
        assert_eq!(super::metric_sum(page, "spo_aws_calls_total"), 5.0);
    }
}
