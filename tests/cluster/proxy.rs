//! A TCP proxy between the nodes and Redis that the test can cut: every
//! open connection is dropped and new ones are refused (the listening
//! socket is closed) until it is restored on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type Tasks = Arc<Mutex<Vec<JoinHandle<()>>>>;

pub struct RedisProxy {
    port: u16,
    upstream: String,
    /// The URL the nodes use: the real one with the proxy's host and port.
    pub url: String,
    accept: Mutex<Option<JoinHandle<()>>>,
    connections: Tasks,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RedisProxy {
    /// Listens on a random local port and forwards to `redis_url`'s server.
    pub async fn start(redis_url: &str) -> Self {
        let mut url = reqwest::Url::parse(redis_url).expect("a Redis URL");
        let host = url.host_str().unwrap_or("127.0.0.1").to_string();
        let upstream = format!("{host}:{}", url.port().unwrap_or(6379));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("an address").port();
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(port)).expect("a port");
        let proxy = Self {
            port,
            upstream,
            url: url.to_string(),
            accept: Mutex::new(None),
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let connections = Arc::clone(&self.connections);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let upstream = upstream.clone();
                let pipe = tokio::spawn(async move { pipe(client, &upstream).await });
                let mut open = lock(&connections);
                open.retain(|task| !task.is_finished());
                open.push(pipe);
            }
        });
        *lock(&self.accept) = Some(task);
    }

    /// Drops every connection and refuses new ones; returns once the
    /// listening socket and every connection are closed.
    pub async fn cut(&self) {
        let mut tasks: Vec<JoinHandle<()>> = lock(&self.connections).drain(..).collect();
        tasks.extend(lock(&self.accept).take());
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
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
}

impl Drop for RedisProxy {
    fn drop(&mut self) {
        if let Some(accept) = lock(&self.accept).take() {
            accept.abort();
        }
        for task in lock(&self.connections).drain(..) {
            task.abort();
        }
    }
}

async fn pipe(mut client: TcpStream, upstream: &str) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
