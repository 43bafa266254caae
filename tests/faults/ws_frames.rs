//! A property test that throws arbitrary frames at a live server's
//! WebSocket: random JSON objects with known and unknown `type`s and
//! fields, values of every JSON type (huge numbers, unicode, nesting), and
//! text that is not JSON at all (mangled JSON, deep nesting, huge number
//! literals), binary frames and frames over 64 KiB.
//!
//! Every frame must get its answer (docs/asyncapi.yaml: `error` for a bad frame,
//! `snapshot` or `error` for a subscribe, `bid_result` or `bid_error` for a
//! bid) or a close code (1009 for an oversized frame), nothing may panic,
//! and afterwards the server still serves others.
//!
//! Frames that docs/asyncapi.yaml answers with nothing (`unsubscribe`, a resuming
//! `subscribe` with `after_seq`, unless that is past the last event, which
//! gets a snapshot) are told apart with the server's own
//! parser. After each frame a marker frame (a bid for a non-existent
//! auction, answered at once with a `bid_error` naming the marker) shows
//! where the answers to that frame end.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use gavel::http::ws::frames::{parse_client_frame, ClientFrame};
use gavel::startup::Application;
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::db_outage::in_process_config;
use crate::support::{connect_ws as connect, Api, Socket, TempDir};

const CASES: u32 = 64;
const WAIT: Duration = Duration::from_secs(10);
/// Stands for the real auction's id in generated frames.
const AUCTION: &str = "$AUCTION$";
const MARKER: &str = "\u{2691}marker";

/// One thing a client may send.
#[derive(Debug, Clone)]
enum Input {
    Text(String),
    Binary(Vec<u8>),
    /// A text frame over the 64 KiB limit.
    Oversized(usize),
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![
            0_i64,
            -1,
            1,
            999,
            1000,
            1005,
            5000,
            1_000_000_000_000,
            1_000_000_000_001,
            i64::MAX,
            i64::MIN,
        ])
        .prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        "[ -~]{0,12}".prop_map(Value::String),
        Just(Value::String(AUCTION.into())),
        Just(Value::String(uuid::Uuid::new_v4().to_string())),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,10}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A value that fits a known field, or anything at all.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => leaf(),
        1 => any_json(),
    ]
}

fn frame_object() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        6 => prop::sample::select(vec!["subscribe", "unsubscribe", "bid", "buy_now"])
            .prop_map(|t| Some(Value::from(t))),
        2 => prop::sample::select(vec![
            "Subscribe", "BID", "buy-now", "buyNow", "snapshot", "error", "bid_result", "", " bid",
            "bid\u{0}", "subscribe\u{301}",
        ])
        .prop_map(|t| Some(Value::from(t))),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ];
    let key = prop_oneof![
        4 => prop::sample::select(vec![
            "auction_id", "request_id", "amount", "max_amount", "after_seq",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec!["type", "Amount", "auction_id ", "extra", ""]).prop_map(str::to_string),
        1 => ".{0,10}",
    ];
    (kind, prop::collection::vec((key, field_value()), 0..7)).prop_map(|(kind, fields)| {
        let mut object = Map::new();
        if let Some(kind) = kind {
            object.insert("type".into(), kind);
        }
        for (key, value) in fields {
            object.insert(key, value);
        }
        Value::Object(object)
    })
}

/// Well-formed frames with plausible values, so the happy paths run too.
fn plausible_frame() -> impl Strategy<Value = Value> {
    let amount = prop_oneof![Just(1000_i64), 1000..200_000_i64, any::<i64>()];
    prop_oneof![
        (any::<bool>(), 0..50_i64).prop_map(|(resume, seq)| if resume {
            json!({"type": "subscribe", "auction_id": AUCTION, "after_seq": seq})
        } else {
            json!({"type": "subscribe", "auction_id": AUCTION})
        }),
        Just(json!({"type": "unsubscribe", "auction_id": AUCTION})),
        ("[ -~]{0,20}", amount.clone(), proptest::option::of(amount)).prop_map(
            |(request_id, amount, max)| {
                let mut frame = json!({"type": "bid", "auction_id": AUCTION,
                    "request_id": request_id, "amount": amount});
                if let Some(max) = max {
                    frame["max_amount"] = json!(max);
                }
                frame
            }
        ),
        "[ -~]{0,20}".prop_map(|request_id| json!({"type": "buy_now",
            "auction_id": AUCTION, "request_id": request_id})),
    ]
}

fn not_json() -> impl Strategy<Value = String> {
    prop_oneof![
        // Arbitrary text, unicode and control characters included.
        "(?s).{0,200}",
        // A frame cut short.
        (frame_object(), any::<prop::sample::Index>()).prop_map(|(frame, cut)| {
            let text = frame.to_string();
            let chars: Vec<char> = text.chars().collect();
            chars[..cut.index(chars.len())].iter().collect()
        }),
        // Deep nesting, inside a frame and on its own.
        (1..3000_usize).prop_map(|depth| format!(
            "{{\"type\":\"bid\",\"auction_id\":{}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        )),
        (1..5000_usize).prop_map(|depth| "{\"a\":".repeat(depth)),
        // Numbers no integer type holds.
        ("[1-9][0-9]{19,400}", prop::sample::select(vec!["amount", "max_amount", "after_seq"]))
            .prop_map(|(digits, field)| format!(
                "{{\"type\":\"bid\",\"auction_id\":\"{AUCTION}\",\"request_id\":\"r\",\"amount\":1000,\"{field}\":{digits}}}"
            )),
        prop::sample::select(vec![
            "1e999", "-0", "NaN", "Infinity", "{\"type\":\"bid\",\"amount\":1e400}",
            "{\"type\":\"subscribe\",\"auction_id\":\"\\ud800\"}", "\u{feff}{}", "null",
            "[]", "{}", "\"bid\"", "{\"type\":\"bid\",\"type\":\"subscribe\"}",
        ])
        .prop_map(str::to_string),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => frame_object().prop_map(|f| Input::Text(f.to_string())),
        6 => plausible_frame().prop_map(|f| Input::Text(f.to_string())),
        4 => not_json().prop_map(Input::Text),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Input::Binary),
        1 => (64 * 1024 + 1..80 * 1024_usize).prop_map(Input::Oversized),
    ]
}

/// A case: who the socket is, and what it sends.
fn case() -> impl Strategy<Value = (bool, Vec<Input>)> {
    (any::<bool>(), prop::collection::vec(input(), 1..8))
}

/// The next JSON text frame; Err(close code) when the socket ends.
async fn next_frame(socket: &mut Socket, context: &str) -> Result<Value, Option<u16>> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .unwrap_or_else(|_| panic!("no frame within {WAIT:?} after {context}"));
        match message {
            None | Some(Err(_)) => return Err(None),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(Message::Text(text))) => {
                return Ok(serde_json::from_str(text.as_str())
                    .unwrap_or_else(|e| panic!("a non-JSON frame {text:?} after {context}: {e}")))
            }
            Some(Ok(_)) => continue,
        }
    }
}

/// Sends one input and checks its answers.
async fn throw(
    socket: &mut Socket,
    input: &Input,
    auction: &str,
    index: usize,
    tally: &mut std::collections::BTreeMap<String, usize>,
) -> bool {
    let (message, parsed, context) = match input {
        Input::Text(text) => {
            let text = text.replace(AUCTION, auction);
            let parsed = Some(parse_client_frame(&text));
            let shown: String = text.chars().take(300).collect();
            (
                Message::Text(text.into()),
                parsed,
                format!("text frame {shown:?}"),
            )
        }
        Input::Binary(bytes) => (
            Message::Binary(bytes.clone().into()),
            None,
            format!("binary frame {bytes:?}"),
        ),
        Input::Oversized(size) => {
            let text = format!(
                "{{\"type\":\"bid\",\"request_id\":\"{}\"}}",
                "x".repeat(*size)
            );
            socket
                .send(Message::Text(text.into()))
                .await
                .expect("send a frame");
            loop {
                match next_frame(socket, "an oversized frame").await {
                    Ok(frame) if frame["type"] == "event" => continue,
                    Ok(frame) => panic!("an oversized frame got {frame} instead of a close"),
                    Err(code) => {
                        assert_eq!(
                            code,
                            Some(u16::from(CloseCode::Size)),
                            "oversized: close 1009"
                        );
                        *tally.entry("close 1009".into()).or_default() += 1;
                        return false;
                    }
                }
            }
        }
    };
    let marker = format!("{MARKER}-{index}");
    socket.send(message).await.expect("send a frame");
    socket
        .send(Message::Text(
            json!({"type": "bid", "auction_id": "no-such-auction", "request_id": marker, "amount": 1})
                .to_string()
                .into(),
        ))
        .await
        .expect("send the marker");

    // What the frame wants answered asynchronously (a bid's request_id).
    let bid_request = match &parsed {
        Some(Ok(ClientFrame::Bid { request_id, .. } | ClientFrame::BuyNow { request_id, .. })) => {
            Some(request_id.clone())
        }
        _ => None,
    };
    let mut before_marker = Vec::new();
    let mut bid_answer = None;
    let mut marker_seen = false;
    while !marker_seen || (bid_request.is_some() && bid_answer.is_none()) {
        let frame = next_frame(socket, &context)
            .await
            .unwrap_or_else(|code| panic!("the socket closed ({code:?}) after {context}"));
        let kind = frame["type"].as_str().unwrap_or_default().to_string();
        let request_id = match kind.as_str() {
            "bid_error" => frame["request_id"].as_str().map(str::to_string),
            "bid_result" => frame["result"]["request_id"].as_str().map(str::to_string),
            _ => None,
        };
        match kind.as_str() {
            "event" => continue,
            "error" => assert!(frame["error"]["code"].is_string(), "{frame}"),
            "snapshot" => assert!(frame["auction"]["id"].is_string(), "{frame}"),
            "bid_error" => assert!(frame["error"]["code"].is_string(), "{frame}"),
            "bid_result" => assert_eq!(frame["result"]["accepted"], true, "{frame}"),
            other => panic!("an unknown frame type {other:?}: {frame} after {context}"),
        }
        if request_id.as_deref() == Some(marker.as_str()) {
            marker_seen = true;
            continue;
        }
        if request_id.is_some() && request_id == bid_request {
            assert!(
                bid_answer.is_none(),
                "two answers to one bid after {context}"
            );
            bid_answer = Some(frame);
            continue;
        }
        assert!(!marker_seen, "a stray frame {frame} after {context}");
        before_marker.push(frame);
    }
    let kinds: Vec<&str> = before_marker
        .iter()
        .map(|f| f["type"].as_str().unwrap_or_default())
        .collect();
    let outcome = match &parsed {
        None => {
            assert_eq!(kinds, ["error"], "{context}");
            "binary: error".to_string()
        }
        Some(Err(_)) => {
            assert_eq!(kinds, ["error"], "{context}");
            assert_eq!(before_marker[0]["error"]["code"], "bad_frame", "{context}");
            "bad frame: error".to_string()
        }
        Some(Ok(ClientFrame::Subscribe {
            after_seq: None, ..
        })) => {
            assert!(
                kinds == ["snapshot"] || kinds == ["error"],
                "{context}: {before_marker:?}"
            );
            format!("subscribe: {}", kinds[0])
        }
        Some(Ok(ClientFrame::Subscribe {
            after_seq: Some(after),
            ..
        })) => {
            // A resume point past the last event starts over with a snapshot.
            let past_the_end = kinds == ["snapshot"]
                && before_marker[0]["auction"]["seq"]
                    .as_i64()
                    .is_some_and(|seq| seq < *after);
            assert!(
                kinds.is_empty() || kinds == ["error"] || past_the_end,
                "{context}: {before_marker:?}"
            );
            format!("resume: {}", kinds.first().unwrap_or(&"replay only"))
        }
        Some(Ok(ClientFrame::Unsubscribe { .. })) => {
            assert!(kinds.is_empty(), "{context}: {before_marker:?}");
            "unsubscribe: nothing".to_string()
        }
        Some(Ok(ClientFrame::Bid { .. } | ClientFrame::BuyNow { .. })) => {
            assert!(kinds.is_empty(), "{context}: {before_marker:?}");
            let answer = bid_answer.expect("a bid answer");
            match answer["type"].as_str() {
                Some("bid_result") => "bid: bid_result".to_string(),
                _ => format!(
                    "bid: bid_error {}",
                    answer["error"]["code"].as_str().unwrap_or("?")
                ),
            }
        }
    };
    *tally.entry(outcome).or_default() += 1;
    true
}

#[actix_web::test]
async fn arbitrary_frames_get_answers_and_the_server_keeps_serving_others() {
    let dir = TempDir::new("gavel-faults-ws");
    let url = format!("sqlite://{}", dir.0.join("gavel.db").display());
    let app = Application::build(in_process_config(&url))
        .await
        .expect("the application builds");
    let handle = app.handle();
    let api = Api::new(&format!("http://127.0.0.1:{}", app.port()));
    let server = actix_web::rt::spawn(app.run());
    let admin = api.admin_token().await;
    let auction = api.auction(&admin).await;
    let bidder = api.bidders("thrower", 1).await.remove(0);

    // A bystander, subscribed before the storm, reading all along.
    let (mut bystander_tx, mut bystander_rx) = connect(&api, None).await.split();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = bystander_rx.next().await {
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frames");
                if seen_tx.send(frame).is_err() {
                    break;
                }
            }
        }
    });
    let subscribe = Message::Text(
        json!({"type": "subscribe", "auction_id": auction})
            .to_string()
            .into(),
    );
    bystander_tx
        .send(subscribe.clone())
        .await
        .expect("subscribe");
    let first = tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("a snapshot in time");
    assert_eq!(first.map(|f| f["type"].clone()), Some(json!("snapshot")));

    let mut runner = TestRunner::new(Config::with_cases(CASES));
    let strategy = case();
    let mut tally = std::collections::BTreeMap::new();
    let mut frames = 0;
    for _ in 0..CASES {
        let (authenticated, inputs) = strategy
            .new_tree(&mut runner)
            .expect("a generated case")
            .current();
        let token = authenticated.then_some(bidder.token.as_str());
        let mut socket = connect(&api, token).await;
        for input in &inputs {
            frames += 1;
            if !throw(&mut socket, input, &auction, frames, &mut tally).await {
                socket = connect(&api, token).await; // closed on purpose: go on anew
            }
        }
        let _ = socket.close(None).await;
    }

    // The server still serves others: the bystander, a newcomer, HTTP.
    let (status, _) = api.get("/healthz").await.expect("healthz");
    assert_eq!(status.as_u16(), 200);
    let mut newcomer = connect(&api, None).await;
    newcomer.send(subscribe.clone()).await.expect("subscribe");
    loop {
        let frame = next_frame(&mut newcomer, "a subscribe after the storm")
            .await
            .expect("the socket is open");
        if frame["type"] == "snapshot" {
            assert_eq!(frame["auction"]["id"], auction.as_str());
            break;
        }
        assert_eq!(frame["type"], "event", "{frame}");
    }
    bystander_tx
        .send(subscribe)
        .await
        .expect("the bystander's socket is open");
    let mut events = 0;
    loop {
        let frame = tokio::time::timeout(WAIT, seen.recv())
            .await
            .expect("the bystander gets answers")
            .expect("the bystander's socket is open");
        match frame["type"].as_str() {
            Some("snapshot") => break,
            Some("event") => events += 1,
            _ => panic!("the bystander got {frame}"),
        }
    }
    reader.abort();
    handle.shutdown().await;
    let _ = server.await;
    eprintln!(
        "{frames} frames thrown in {CASES} cases; answers: {tally:?}; the bystander saw {events} events and answered"
    );
}
