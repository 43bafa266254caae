//! A TCP proxy in front of PostgreSQL or Redis that a test can break on
//! purpose.
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
    /// The open connections, closed for good by `Refuse` and `Blackhole`.
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
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
            connections: Arc::new(Mutex::new(Vec::new())),
        });
        proxy.serve(listener);
        proxy
    }

    /// `url` with the proxy's host and port.
    pub fn url_through(&self, url: &str) -> String {
        let mut url = reqwest::Url::parse(url).expect("a URL");
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(self.port)).expect("a port");
        url.to_string()
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let mode = self.mode.subscribe();
        let connections = Arc::clone(&self.connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let mode = mode.clone();
                let pipe = tokio::spawn(async move { connection(client, upstream, mode).await });
                let mut open = lock(&connections);
                open.retain(|task| !task.is_finished());
                open.push(pipe);
            }
        });
        *lock(&self.accept) = Some(task);
    }

    /// Switches to `mode`. `Refuse` and `Blackhole` return once every open
    /// connection (and for `Refuse` the listening socket) is closed.
    pub async fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
        let listening = lock(&self.accept).is_some();
        if matches!(mode, Mode::Refuse | Mode::Blackhole) {
            let mut tasks: Vec<JoinHandle<()>> = lock(&self.connections).drain(..).collect();
            if mode == Mode::Refuse {
                tasks.extend(lock(&self.accept).take());
            }
            for task in &tasks {
                task.abort();
            }
            for task in tasks {
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
        for task in lock(&self.connections).drain(..) {
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
