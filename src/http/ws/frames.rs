//! WebSocket frames (docs/asyncapi.yaml): parsing what clients send and rendering what
//! the server answers. Pure, so it can be fuzzed on its own.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::Money;

/// Everything a client may send.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Subscribe {
        auction_id: String,
        after_seq: Option<i64>,
    },
    Unsubscribe {
        auction_id: String,
    },
    Bid {
        auction_id: String,
        request_id: String,
        amount: Money,
        max_amount: Option<Money>,
    },
    BuyNow {
        auction_id: String,
        request_id: String,
    },
}

/// Why a frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FrameError(pub String);

/// Parses one text frame.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, FrameError> {
    serde_json::from_str(text).map_err(|error| FrameError(format!("bad frame: {error}")))
}

/// `{"type":"error","error":{"code","message"}}`
pub fn error_frame(code: &str, message: &str) -> String {
    json!({"type": "error", "error": {"code": code, "message": message}}).to_string()
}

/// `{"type":"bid_result","result":BidResult}` from a stored BidResult body.
pub fn bid_result_frame(result_body: &str) -> String {
    format!("{{\"type\":\"bid_result\",\"result\":{result_body}}}")
}

/// `{"type":"bid_error","request_id","auction_id","error":{…}}`
pub fn bid_error_frame(request_id: &str, auction_id: &str, error: Value) -> String {
    json!({
        "type": "bid_error",
        "request_id": request_id,
        "auction_id": auction_id,
        "error": error,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_frame_parses() {
        assert_eq!(
            parse_client_frame(r#"{"type":"subscribe","auction_id":"a","after_seq":3}"#),
            Ok(ClientFrame::Subscribe {
                auction_id: "a".into(),
                after_seq: Some(3)
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"unsubscribe","auction_id":"a"}"#),
            Ok(ClientFrame::Unsubscribe {
                auction_id: "a".into()
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"bid","auction_id":"a","request_id":"r","amount":5}"#),
            Ok(ClientFrame::Bid {
                auction_id: "a".into(),
                request_id: "r".into(),
                amount: 5,
                max_amount: None
            })
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"buy_now","auction_id":"a","request_id":"r"}"#),
            Ok(ClientFrame::BuyNow {
                auction_id: "a".into(),
                request_id: "r".into()
            })
        );
    }

    #[test]
    fn bad_frames_are_errors_not_panics() {
        for text in [
            "",
            "not json",
            "[]",
            "{}",
            r#"{"type":"dance"}"#,
            r#"{"type":"bid","auction_id":"a"}"#,
            r#"{"type":"bid","auction_id":"a","request_id":"r","amount":"5"}"#,
            r#"{"type":"bid","auction_id":"a","request_id":"r","amount":1.5}"#,
            r#"{"type":"subscribe","auction_id":"a","extra":1}"#,
        ] {
            assert!(parse_client_frame(text).is_err(), "{text}");
        }
    }

    #[test]
    fn answer_frames_are_json() {
        let frame: Value = serde_json::from_str(&bid_result_frame(r#"{"seq":1}"#)).expect("JSON");
        assert_eq!(frame["type"], "bid_result");
        assert_eq!(frame["result"]["seq"], 1);
        let frame: Value =
            serde_json::from_str(&bid_error_frame("r", "a", json!({"code": "x"}))).expect("JSON");
        assert_eq!(frame["error"]["code"], "x");
    }
}
