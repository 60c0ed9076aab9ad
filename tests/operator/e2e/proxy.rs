//! A TCP proxy between the operator and the API server that a test can cut, as a network
//! partition would: `cut()` closes every open connection (watches break mid-stream) and refuses
//! new ones until `restore()`. Bytes pass through untouched (TLS is end to end).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: String,
    cut: watch::Sender<u64>,
    refusing: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address").to_string();
        let (cut, cuts) = watch::channel(0u64);
        let refusing = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let task = {
            let refusing = refusing.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    if refusing.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    tokio::spawn(pipe(client, target.clone(), cuts.clone()));
                }
            })
        };
        Proxy {
            addr,
            cut,
            refusing,
            generation,
            task,
        }
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        let n = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.cut.send(n);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies both ways until either side closes or the proxy is cut.
async fn pipe(mut client: TcpStream, target: String, mut cuts: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(&target).await else {
        return;
    };
    cuts.mark_unchanged();
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cuts.changed() => {}
    }
}
