//! One SSE connection of the load tool over a bare `TcpStream`: an
//! HTTP/1.1 `GET` written by hand, the response head checked, then the body
//! decoded with [`sse_wire`](super::sse_wire) as reads arrive.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{ready, Poll};

use anyhow::Context as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;

use super::net::{connect_tcp, Target};
use super::sse_wire::{Dechunker, EventParser, SseEvent};

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 8 * 1024;

thread_local! {
    /// Where events are read into: one buffer per thread, warm in the cache,
    /// instead of one per connection, cold by the time its next event comes.
    static READ_SPACE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(READ_BUFFER));
}
/// The longest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// An open event stream.
pub struct SseConnection {
    stream: TcpStream,
    body: BodyDecoder,
}

/// Body bytes in, events out.
#[derive(Default)]
struct BodyDecoder {
    /// `None` when the body is not chunked: it then runs until the close.
    dechunker: Option<Dechunker>,
    payload: Vec<u8>,
    parser: EventParser,
    ready: VecDeque<SseEvent>,
}

impl BodyDecoder {
    fn take(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let ready = &mut self.ready;
        match self.dechunker.as_mut() {
            Some(dechunker) => {
                self.payload.clear();
                dechunker.feed(bytes, &mut self.payload)?;
                self.parser
                    .feed(&self.payload, |event| ready.push_back(event))
            }
            None => self.parser.feed(bytes, |event| ready.push_back(event)),
        }
    }

    fn finished(&self) -> bool {
        self.dechunker.as_ref().is_some_and(Dechunker::is_done)
    }
}

impl SseConnection {
    /// Connects from `source`, sends `GET path` (with `Last-Event-ID` when
    /// given) and reads the response head, which must be `200`.
    pub async fn open(
        target: &Target,
        source: Option<IpAddr>,
        path: &str,
        last_event_id: Option<i64>,
    ) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(&target.url(path)).context("building the events URL")?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let target_path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let mut request =
            format!("GET {target_path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n");
        if let Some(seq) = last_event_id {
            request.push_str(&format!("Last-Event-ID: {seq}\r\n"));
        }
        request.push_str("\r\n");
        let mut stream = connect_tcp(target, source).await?;
        stream
            .write_all(request.as_bytes())
            .await
            .context("sending the events request")?;
        let mut connection = Self {
            stream,
            body: BodyDecoder::default(),
        };
        connection.read_head().await?;
        Ok(connection)
    }

    async fn read_head(&mut self) -> anyhow::Result<()> {
        let mut head = Vec::new();
        let end = loop {
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            anyhow::ensure!(head.len() <= MAX_HEAD, "the response head is too long");
            head.reserve(READ_BUFFER);
            let n = self
                .stream
                .read_buf(&mut head)
                .await
                .context("reading the response head")?;
            anyhow::ensure!(n > 0, "the server closed before answering");
        };
        let text = std::str::from_utf8(&head[..end]).context("the response head is not text")?;
        let mut lines = text.split("\r\n");
        let status = lines.next().unwrap_or_default();
        let code = status.split(' ').nth(1).unwrap_or_default();
        anyhow::ensure!(code == "200", "the event stream answered {status:?}");
        let chunked = lines.any(|line| {
            line.split_once(':').is_some_and(|(name, value)| {
                name.trim().eq_ignore_ascii_case("transfer-encoding")
                    && value.trim().eq_ignore_ascii_case("chunked")
            })
        });
        self.body.dechunker = chunked.then(Dechunker::default);
        self.body.take(&head[end + 4..])
    }

    /// The next event, or `None` when the server ended the stream.
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn next_event(&mut self) -> anyhow::Result<Option<SseEvent>> {
        loop {
            if let Some(event) = self.body.ready.pop_front() {
                return Ok(Some(event));
            }
            if self.body.finished() {
                return Ok(None);
            }
            let read = poll_fn(|cx| {
                READ_SPACE.with_borrow_mut(|space| {
                    space.clear();
                    let mut buf = ReadBuf::uninit(space.spare_capacity_mut());
                    ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf))?;
                    let filled = buf.filled();
                    if !filled.is_empty() {
                        self.body.take(filled)?;
                    }
                    Poll::Ready(anyhow::Ok(filled.len()))
                })
            });
            if read.await.context("reading the event stream")? == 0 {
                return Ok(None);
            }
        }
    }
}
