//! The WebSocket frame parser on arbitrary input: it must never panic, a
//! frame it accepts must be a JSON object naming one of the four client
//! types, and every answer built from its verdict must be valid JSON.
#![no_main]

use gavel::http::ws::frames::{bid_error_frame, error_frame, parse_client_frame, ClientFrame};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // The server hands the parser only valid UTF-8 (text frames); mangled
    // bytes still make a string worth parsing.
    let text = match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(data).into_owned(),
    };
    match parse_client_frame(&text) {
        Ok(frame) => {
            let value: Value = serde_json::from_str(&text).expect("an accepted frame is JSON");
            let kind = value["type"]
                .as_str()
                .expect("an accepted frame has a string type");
            let (auction_id, request_id) = match &frame {
                ClientFrame::Subscribe { auction_id, .. } => {
                    assert_eq!(kind, "subscribe");
                    (auction_id.as_str(), "")
                }
                ClientFrame::Unsubscribe { auction_id } => {
                    assert_eq!(kind, "unsubscribe");
                    (auction_id.as_str(), "")
                }
                ClientFrame::Bid {
                    auction_id,
                    request_id,
                    amount,
                    max_amount,
                } => {
                    assert_eq!(kind, "bid");
                    assert_eq!(value["amount"].as_i64(), Some(*amount));
                    assert_eq!(value["max_amount"].as_i64(), *max_amount);
                    (auction_id.as_str(), request_id.as_str())
                }
                ClientFrame::BuyNow {
                    auction_id,
                    request_id,
                } => {
                    assert_eq!(kind, "buy_now");
                    (auction_id.as_str(), request_id.as_str())
                }
            };
            assert_eq!(value["auction_id"].as_str(), Some(auction_id));
            // Whatever the client chose as ids is echoed in a bid_error frame.
            let echo = bid_error_frame(request_id, auction_id, serde_json::json!({"code": "x"}));
            let echo: Value = serde_json::from_str(&echo).expect("a bid_error frame is JSON");
            assert_eq!(echo["request_id"].as_str(), Some(request_id));
        }
        Err(error) => {
            let frame = error_frame("bad_frame", &error.0);
            let frame: Value = serde_json::from_str(&frame).expect("an error frame is JSON");
            assert_eq!(frame["type"], "error");
        }
    }
});
