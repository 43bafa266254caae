//! A bare SSE relay: the reference point for Gavel's fan-out figures.
//!
//! It follows one auction's event stream on a running Gavel server and writes
//! every event, byte for byte, to each client connected to it: one tokio
//! task per client reading a broadcast channel and calling `write_all`,
//! nothing else. `gavel load --watch-url` then measures it exactly as it
//! measures the server (delivery = receipt minus the event's `server_time`).
//!
//! ```sh
//! cargo run --release --manifest-path bench/bare-relay/Cargo.toml -- 127.0.0.1:8080 127.0.0.1:8081 &
//! target/release/gavel load --url http://127.0.0.1:8080 --watch-url http://127.0.0.1:8081 \
//!   --bidders 0 --bid-rate 10 --watchers 10000 --duration 20s
//! ```
//!
//! The first client's request path names the auction to follow. New clients
//! get the last event seen as their snapshot.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

struct Relay {
    events: broadcast::Sender<Bytes>,
    /// The last event's `id` and `data`, sent to new clients as their snapshot.
    last: Mutex<Option<(String, String)>>,
    following: Mutex<bool>,
}

/// One chunk of a chunked HTTP/1.1 body.
fn chunk(payload: &str) -> Bytes {
    Bytes::from(format!("{:x}\r\n{payload}\r\n", payload.len()))
}

/// Reads a request or response head; returns it and what followed it.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = bytes.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&bytes).into_owned(), rest));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        bytes.extend_from_slice(&buf[..n]);
    }
}

/// Follows `path` on `upstream` and broadcasts each event's bytes.
async fn follow(relay: Arc<Relay>, upstream: String, path: String) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(&upstream).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {upstream}\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let (_head, mut raw) = read_head(&mut stream).await?;
    let mut text = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // Undo the chunked coding.
        while let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&raw[..line_end]).trim().to_owned();
            let size = usize::from_str_radix(&size_text, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
            if raw.len() < line_end + 2 + size + 2 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&raw[line_end + 2..line_end + 2 + size]));
            raw.drain(..line_end + 2 + size + 2);
        }
        // Split into events; remember the last, pass on all but the snapshot.
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                event
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(str::to_owned)
            };
            let Some(data) = field("data: ") else { continue };
            let id = field("id: ").or_else(|| {
                let start = data.find("\"seq\":")? + 6;
                Some(data[start..].chars().take_while(char::is_ascii_digit).collect())
            });
            let Some(id) = id else { continue };
            *relay.last.lock().expect("not poisoned") = Some((id, data));
            if !event.starts_with("event: snapshot") {
                let _ = relay.events.send(chunk(&event));
            }
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

async fn serve(relay: Arc<Relay>, upstream: String, mut client: TcpStream) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let (head, _) = read_head(&mut client).await?;
    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
    let first = !std::mem::replace(&mut *relay.following.lock().expect("not poisoned"), true);
    if first {
        let relay = Arc::clone(&relay);
        tokio::spawn(async move {
            if let Err(error) = follow(relay, upstream, path).await {
                eprintln!("bare-relay: following the server failed: {error}");
            }
        });
    }
    let mut events = relay.events.subscribe();
    let mut snapshot = None;
    for _ in 0..500 {
        snapshot = relay.last.lock().expect("not poisoned").clone();
        if snapshot.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (id, data) = snapshot.unwrap_or_else(|| ("0".into(), "{}".into()));
    client
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        .await?;
    client
        .write_all(&chunk(&format!("event: snapshot\nid: {id}\ndata: {data}\n\n")))
        .await?;
    loop {
        match events.recv().await {
            Ok(bytes) => client.write_all(&bytes).await?,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        }
    }
}

#[tokio::main(worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:8080".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let listener = TcpListener::bind(&listen).await?;
    let relay = Arc::new(Relay {
        events: broadcast::channel(1024).0,
        last: Mutex::new(None),
        following: Mutex::new(false),
    });
    loop {
        let (client, _) = listener.accept().await?;
        let (relay, upstream) = (Arc::clone(&relay), upstream.clone());
        tokio::spawn(async move {
            let _ = serve(relay, upstream, client).await;
        });
    }
}
