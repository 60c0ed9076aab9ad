//! One etcd member on loopback, and the two maintenance calls tests need (the current revision
//! and a compaction), through etcd's JSON gateway (`/v3/...`), so no etcd client library is
//! needed.

use crate::process::Process;
use crate::{Error, free_port};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Etcd {
    pub process: Process,
    pub client_url: String,
    addr: String,
}

impl Etcd {
    pub async fn start(binary: &Path, dir: &Path) -> Result<Etcd, Error> {
        let client_port = free_port()?;
        let peer_port = free_port()?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let args: Vec<String> = [
            "--name",
            "default",
            "--data-dir",
            &dir.join("etcd-data").to_string_lossy(),
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
            "--initial-cluster",
            &format!("default={peer_url}"),
            // A test's data lives as long as the test: durability costs time and buys nothing.
            "--unsafe-no-fsync",
            "--log-level",
            "warn",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let process = Process::spawn("etcd", binary, &args, dir.join("etcd.log"))?;
        let mut etcd = Etcd {
            process,
            client_url,
            addr: format!("127.0.0.1:{client_port}"),
        };
        etcd.wait_healthy(Duration::from_secs(60)).await?;
        Ok(etcd)
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            self.process.check_running()?;
            if let Ok((200, body)) = request(&self.addr, "GET", "/health", None).await
                && body["health"] == "true"
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(Error::NotReady {
                    name: "etcd",
                    waited: timeout,
                    log: self.process.log_tail(4000),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The store's current revision.
    pub async fn revision(&self) -> Result<i64, Error> {
        // A range over one (absent) key answers with the header's revision.
        let (status, body) = request(
            &self.addr,
            "POST",
            "/v3/kv/range",
            Some(json!({"key": "AA=="})),
        )
        .await?;
        parse_revision(status, &body)
    }

    /// Compacts the history up to the current revision: a watch from an older resourceVersion
    /// then cannot be served (`410 Gone` for clients of the API server).
    pub async fn compact(&self) -> Result<i64, Error> {
        let revision = self.revision().await?;
        let (status, body) = request(
            &self.addr,
            "POST",
            "/v3/kv/compaction",
            Some(json!({"revision": revision.to_string(), "physical": true})),
        )
        .await?;
        if status != 200 {
            return Err(Error::Etcd(format!("compaction answered {status}: {body}")));
        }
        Ok(revision)
    }
}

fn parse_revision(status: u16, body: &Value) -> Result<i64, Error> {
    let revision = body["header"]["revision"]
        .as_str()
        .and_then(|r| r.parse().ok());
    match (status, revision) {
        (200, Some(r)) => Ok(r),
        _ => Err(Error::Etcd(format!("range answered {status}: {body}"))),
    }
}

/// One HTTP/1.1 request over a new connection (`Connection: close`), JSON in and out.
async fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), Error> {
    let io = |e| Error::Io {
        what: format!("{method} http://{addr}{path}"),
        source: e,
    };
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.map_err(io)?;
    stream.write_all(body.as_bytes()).await.map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Etcd(format!("no HTTP status in {head:?}")))?;
    let payload = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((
        status,
        serde_json::from_str(&payload).unwrap_or(Value::Null),
    ))
}

/// The body of a chunked answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n"), "{\"a\":1}");
    }

    #[test]
    fn the_revision_is_read_from_the_header() {
        assert_eq!(
            parse_revision(200, &json!({"header": {"revision": "42"}})).unwrap(),
            42
        );
        assert!(parse_revision(500, &json!({})).is_err());
    }
}
