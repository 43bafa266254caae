//! A TCP proxy in front of PostgreSQL that the test can break on purpose.
//!
//! - `Pass`: bytes flow.
//! - `Refuse`: every open connection is closed and the listening socket too,
//!   so new connections are refused (a database that went away).
//! - `Blackhole`: every open connection is closed; new ones are accepted and
//!   then never answered (a firewall dropping packets).
//! - `Stall`: open connections stay open but no byte moves either way, and
//!   new ones are held unanswered (a network partition); `Pass` resumes them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Refuse,
    Blackhole,
    Stall,
}

pub struct Proxy {
    port: u16,
    upstream: String,
    mode: watch::Sender<Mode>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Proxy {
    /// Listens on a random local port, forwarding to `upstream` (host:port).
    pub async fn start(upstream: &str) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("an address").port();
        let (mode, _) = watch::channel(Mode::Pass);
        let proxy = Arc::new(Self {
            port,
            upstream: upstream.to_string(),
            mode,
            accept: Mutex::new(None),
        });
        proxy.serve(listener);
        proxy
    }

    /// `url` with the proxy's host and port.
    pub fn url_through(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("a database URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let mode = self.mode.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let mode = mode.clone();
                tokio::spawn(async move { connection(client, upstream, mode).await });
            }
        });
        *lock(&self.accept) = Some(task);
    }

    pub async fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
        let listening = lock(&self.accept).is_some();
        if mode == Mode::Refuse {
            let task = lock(&self.accept).take();
            if let Some(task) = task {
                task.abort();
                let _ = task.await;
            }
        } else if !listening {
            let address = SocketAddr::from(([127, 0, 0, 1], self.port));
            let started = Instant::now();
            let listener = loop {
                match TcpListener::bind(address).await {
                    Ok(listener) => break listener,
                    Err(error) => {
                        assert!(
                            started.elapsed() < Duration::from_secs(5),
                            "cannot listen on {address} again: {error}"
                        );
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            self.serve(listener);
        }
        // Let the connection tasks see the change.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Refuse);
        if let Some(task) = lock(&self.accept).take() {
            task.abort();
        }
    }
}

/// Waits until bytes may flow: true for `Pass`, false when the connection
/// must be closed (`Refuse`, `Blackhole`).
async fn may_flow(mode: &mut watch::Receiver<Mode>) -> bool {
    loop {
        match *mode.borrow_and_update() {
            Mode::Pass => return true,
            Mode::Refuse | Mode::Blackhole => return false,
            Mode::Stall => {}
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}

async fn connection(client: TcpStream, upstream: String, mut mode: watch::Receiver<Mode>) {
    // A connection that arrives while stalled or blackholed waits unanswered.
    loop {
        match *mode.borrow_and_update() {
            Mode::Pass => break,
            Mode::Refuse => return,
            Mode::Blackhole | Mode::Stall => {}
        }
        if mode.changed().await.is_err() {
            return;
        }
    }
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // When either direction ends, both sockets close.
    tokio::select! {
        _ = one_way(client_read, server_write, mode.clone()) => {}
        _ = one_way(server_read, client_write, mode) => {}
    }
}

async fn one_way(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if !may_flow(&mut mode).await {
            return;
        }
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = mode.changed() => continue,
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes already read wait out a stall; they are not lost.
        if !may_flow(&mut mode).await {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
