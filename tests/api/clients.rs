//! Real WebSocket and SSE clients for the tests.
#![allow(dead_code)]

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::{Event, Eventsource};
use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::TestApp;

pub const WAIT: Duration = Duration::from_secs(10);

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a WebSocket ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEnd {
    Closed(Option<u16>),
    Dropped,
}

impl WsClient {
    /// Connects, optionally with a bearer token and an Origin.
    pub async fn connect(
        app: &TestApp,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let url = format!("ws://{}/api/v1/ws", app.addr);
        let mut request = url.into_client_request()?;
        if let Some(token) = token {
            request.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {token}")).expect("a header"),
            );
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).expect("a header"));
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self { stream })
    }

    pub async fn send(&mut self, frame: &Value) {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send a frame");
    }

    pub async fn send_text(&mut self, text: String) {
        self.stream
            .send(Message::Text(text.into()))
            .await
            .expect("send a frame");
    }

    /// The next JSON text frame (pings skipped); panics on timeout or close.
    pub async fn next(&mut self) -> Value {
        self.next_within(WAIT).await.expect("a frame in time")
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match message.ok()? {
                Message::Text(text) => {
                    return Some(serde_json::from_str(text.as_str()).expect("JSON frames"))
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next frame whose `type` is `kind`, skipping others.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Reads until the socket ends; returns the close code.
    pub async fn until_closed(&mut self, wait: Duration) -> WsEnd {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => panic!("the socket did not close within {wait:?}"),
                Ok(None) | Ok(Some(Err(_))) => return WsEnd::Dropped,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return WsEnd::Closed(frame.map(|f| u16::from(f.code)))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

pub type SseStream = Pin<Box<dyn Stream<Item = Result<Event, String>> + Send>>;

pub struct SseClient {
    pub stream: SseStream,
    pub headers: reqwest::header::HeaderMap,
}

impl SseClient {
    /// Opens the feed; `last_event_id` goes in the `Last-Event-ID` header.
    pub async fn connect(app: &TestApp, auction: &str, last_event_id: Option<i64>) -> Self {
        let mut request = app
            .client
            .get(app.url(&format!("/api/v1/auctions/{auction}/events")))
            .timeout(Duration::from_secs(600));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("open the SSE feed");
        assert_eq!(response.status(), 200);
        Self::from_response(response)
    }

    pub fn from_response(response: reqwest::Response) -> Self {
        let headers = response.headers().clone();
        let stream = response
            .bytes_stream()
            .eventsource()
            .map(|item| item.map_err(|error| error.to_string()));
        Self {
            stream: Box::pin(stream),
            headers,
        }
    }

    /// The next event (panics on timeout or end).
    pub async fn next(&mut self) -> Event {
        self.next_within(WAIT).await.expect("an SSE event in time")
    }

    pub async fn next_within(&mut self, wait: Duration) -> Option<Event> {
        tokio::time::timeout(wait, self.stream.next())
            .await
            .ok()??
            .ok()
    }

    /// Collects events until one has `id` >= `seq` (inclusive).
    pub async fn until_seq(&mut self, seq: i64) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let event = self.next().await;
            let id: i64 = event.id.parse().unwrap_or(-1);
            events.push(event);
            if id >= seq {
                return events;
            }
        }
    }
}

/// The seq of an SSE event.
pub fn sse_seq(event: &Event) -> i64 {
    event.id.parse().expect("numeric event ids")
}

pub fn sse_data(event: &Event) -> Value {
    serde_json::from_str(&event.data).expect("JSON data")
}
