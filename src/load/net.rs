//! Where the load tool connects from and to: the server's address
//! ([`Target`]), the spread of client sockets over loopback source addresses
//! ([`Sources`]: one reqwest client per source IP), and WebSocket connections
//! and SSE connections made over a `TcpSocket` bound to a chosen source
//! address.
//!
//! Thousands of loopback connections from one source address can exhaust the
//! ephemeral ports of the whole machine, so against an IPv4 loopback server
//! the sockets are spread over 127.0.0.2..=127.0.0.254.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, AUTHORIZATION};
use tokio_tungstenite::WebSocketStream;

/// How long opening one connection (TCP plus upgrade) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A WebSocket over a plain TCP stream.
pub type Ws = WebSocketStream<TcpStream>;

/// The server under load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    /// The resolved socket address.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses and resolves `url` (only `http://` is supported: no TLS here).
    pub async fn resolve(url: &str) -> anyhow::Result<Self> {
        let parsed = reqwest::Url::parse(url).with_context(|| format!("parsing --url {url:?}"))?;
        anyhow::ensure!(
            parsed.scheme() == "http",
            "--url must be http:// (the load tool has no TLS), got {url:?}"
        );
        let host = parsed
            .host_str()
            .with_context(|| format!("--url {url:?} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .with_context(|| format!("resolving {host}:{port}"))?
            .next()
            .with_context(|| format!("{host}:{port} resolves to no address"))?;
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            addr,
        })
    }

    /// The absolute URL of an API path (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The WebSocket endpoint.
    pub fn ws_url(&self) -> String {
        let rest = self.base.strip_prefix("http").unwrap_or(&self.base);
        format!("ws{rest}/api/v1/ws")
    }
}

/// Source addresses and one HTTP client per address.
pub struct Sources {
    ips: Vec<Option<IpAddr>>,
    clients: Vec<reqwest::Client>,
}

impl Sources {
    /// Sources for `connections` connections to `target`: spread over
    /// 127.0.0.2..=127.0.0.254 when asked and the server is on IPv4 loopback,
    /// else the operating system's choice.
    pub fn new(target: &Target, spread: bool, connections: usize) -> anyhow::Result<Self> {
        let ips: Vec<Option<IpAddr>> = match target.addr.ip() {
            IpAddr::V4(ip) if spread && ip.is_loopback() => (2..=254u8)
                .take(connections.max(1))
                .map(|last| Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))))
                .collect(),
            _ => vec![None],
        };
        let clients = ips
            .iter()
            .map(|ip| {
                reqwest::Client::builder()
                    .local_address(*ip)
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_nodelay(true)
                    // Below the server's 5 s keep-alive, so no request meets a closing connection.
                    .pool_idle_timeout(Duration::from_secs(2))
                    .build()
                    .context("building an HTTP client")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self { ips, clients })
    }

    /// How many source addresses there are.
    pub fn len(&self) -> usize {
        self.ips.len()
    }

    /// Whether there is none (never: at least the OS's choice).
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
    }

    /// The source address of connection number `i`.
    pub fn ip(&self, i: usize) -> Option<IpAddr> {
        self.ips.get(i % self.ips.len().max(1)).copied().flatten()
    }

    /// The HTTP client of connection number `i`.
    pub fn client(&self, i: usize) -> reqwest::Client {
        self.clients[i % self.clients.len()].clone()
    }
}

/// Opens a TCP connection to `target` from `source` (the OS picks when `None`).
pub async fn connect_tcp(target: &Target, source: Option<IpAddr>) -> anyhow::Result<TcpStream> {
    let socket = match target.addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .context("creating a TCP socket")?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("binding a socket to {ip}"))?;
    }
    socket.set_nodelay(true).context("setting TCP_NODELAY")?;
    tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(target.addr))
        .await
        .with_context(|| format!("connecting to {} timed out", target.addr))?
        .with_context(|| format!("connecting to {}", target.addr))
}

/// Opens a WebSocket to `target` from `source`, authenticated by `token`.
pub async fn connect_ws(
    target: &Target,
    source: Option<IpAddr>,
    token: &str,
) -> anyhow::Result<Ws> {
    let stream = connect_tcp(target, source).await?;
    let mut request = target
        .ws_url()
        .into_client_request()
        .context("building the WebSocket request")?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .context("the session token is not a valid header value")?;
    request.headers_mut().insert(AUTHORIZATION, bearer);
    let (ws, _response) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::client_async(request, stream),
    )
    .await
    .context("the WebSocket upgrade timed out")?
    .context("the WebSocket upgrade failed")?;
    Ok(ws)
}
