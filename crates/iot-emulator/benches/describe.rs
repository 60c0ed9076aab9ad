//! DescribeSecurityProfile calls per second: the emulator runs on one thread (a current-thread
//! tokio runtime), a hyper client with keep-alive connections drives it from another thread
//! over loopback. Run: `cargo bench -p iot-emulator --bench describe`
//! (BENCH_SECONDS, default 5; BENCH_CONNECTIONS, default 16).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use iot_emulator::{Emulator, EmulatorConfig};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = env_or("BENCH_SECONDS", 5);
    let connections = env_or("BENCH_CONNECTIONS", 16) as usize;
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        rt.block_on(async move {
            let emu = Emulator::start(EmulatorConfig {
                listen: "127.0.0.1:0".parse().expect("address"),
                ..Default::default()
            })
            .await
            .expect("emulator starts");
            emu.admin()
                .put_profile(serde_json::json!({
                    "securityProfileName": "bench",
                    "securityProfileDescription": "benchmark profile",
                    "behaviors": [{
                        "name": "sent",
                        "metric": "aws:num-messages-sent",
                        "criteria": {"comparisonOperator": "greater-than", "value": {"count": 100}, "durationSeconds": 300}
                    }],
                    "tags": {"team": "bench"}
                }))
                .expect("seed profile");
            addr_tx.send(emu.addr()).expect("send address");
            let _ = stop_rx.await;
            emu.shutdown().await;
        });
    });
    let addr = addr_rx.recv().expect("server address");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let (calls, elapsed) = rt.block_on(drive(addr, connections, Duration::from_secs(seconds)));
    let _ = stop_tx.send(());
    server.join().expect("server thread");
    println!(
        "DescribeSecurityProfile: {calls} calls in {:.2}s = {:.0} calls/s (server: 1 thread, {connections} keep-alive connections over loopback)",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64()
    );
}

/// Warms up for half a second, then counts successful calls for `duration`.
async fn drive(addr: SocketAddr, connections: usize, duration: Duration) -> (u64, Duration) {
    let warmup_end = Instant::now() + Duration::from_millis(500);
    let end = warmup_end + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr, warmup_end, end)))
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client task");
    }
    (total, duration)
}

async fn connection(addr: SocketAddr, warmup_end: Instant, end: Instant) -> u64 {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/iot/aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
    let mut counted = 0;
    loop {
        let now = Instant::now();
        if now >= end {
            return counted;
        }
        let req = Request::get("/security-profiles/bench")
            .header("host", addr.to_string())
            .header("authorization", auth)
            .body(Empty::<Bytes>::new())
            .expect("request");
        let resp = sender.send_request(req).await.expect("response");
        assert_eq!(resp.status(), 200, "DescribeSecurityProfile answers 200");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert!(body.starts_with(b"{"), "a JSON body");
        if now >= warmup_end {
            counted += 1;
        }
    }
}
