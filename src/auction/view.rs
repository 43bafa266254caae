//! What the outside sees of an auction (docs/api.md): the Snapshot, EventData,
//! BidResult and error bodies, and the SSE / WebSocket frames built from
//! them. Private fields (ceilings, reserve, user ids) never leave here
//! except through the admin views.

use bytes::Bytes;
use bytestring::ByteString;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::domain::alias::bidder_alias;
use crate::domain::{Auction, AuctionId, Event, EventKind, Money, PublicStatus, UserId};
use crate::store::{AuctionRecord, StoredEvent};

/// RFC 3339 UTC with milliseconds (`2026-11-27T20:31:38.123Z`).
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An auction's public state (docs/api.md, Snapshot). Money is in minor
/// units; times are RFC 3339 UTC with milliseconds; bidders are aliases.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Snapshot {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    pub description: String,
    /// Three capital letters (`EUR`).
    pub currency: String,
    #[schema(value_type = PublicStatus)]
    pub status: &'static str,
    #[schema(value_type = i64)]
    pub starting_price: Money,
    /// The price: `starting_price` until the first bid, then the last bid.
    #[schema(value_type = i64)]
    pub current_price: Money,
    /// The least `amount` a new bid must carry.
    #[schema(value_type = i64)]
    pub min_next_bid: Money,
    /// Recorded bids, automatic and buy-now ones included.
    pub bid_count: i64,
    /// The leading bidder's alias (`bidder-7f3a21`).
    pub leader: Option<String>,
    /// True when there is no reserve or the price has reached it.
    pub reserve_met: bool,
    #[schema(value_type = Option<i64>)]
    pub buy_now_price: Option<Money>,
    pub starts_at: String,
    /// The current end; soft close moves it.
    pub ends_at: String,
    /// When the auction actually ended (closed, withdrawn, cancelled); null
    /// while live. Before `ends_at` when it ended early (buy now, an
    /// admin's close).
    pub closed_at: Option<String>,
    /// The soft-close window in seconds; 0 = none.
    pub extend_window_secs: i64,
    /// The last event's `seq` (0 before any event).
    pub seq: i64,
    /// The server's clock when the snapshot was made.
    pub server_time: String,
    /// The winner's alias once the auction closed with one.
    pub winner: Option<String>,
    /// Whether an admin has paused the auction (bids are refused with
    /// `auction_paused` until it resumes).
    pub paused: bool,
    /// The hash of the auction's last event (docs/design.md, "The
    /// verifiable record"); null before the first event.
    pub head_hash: Option<String>,
}

impl Snapshot {
    pub fn of(record: &AuctionRecord, now: DateTime<Utc>) -> Self {
        let auction = &record.auction;
        let alias = |user: UserId| bidder_alias(record.id, user);
        Self {
            id: record.id.to_string(),
            title: record.title.clone(),
            description: record.description.clone(),
            currency: record.currency.clone(),
            status: auction.public_status(now).as_str(),
            starting_price: auction.rules.starting_price,
            current_price: auction.state.price,
            min_next_bid: auction.min_next_bid(),
            bid_count: auction.state.bid_count,
            leader: auction.state.leader.map(|l| alias(l.user)),
            reserve_met: auction.reserve_met(),
            buy_now_price: auction.rules.buy_now_price,
            starts_at: rfc3339(auction.rules.starts_at),
            ends_at: rfc3339(auction.state.ends_at),
            closed_at: auction.state.closed_at.map(rfc3339),
            extend_window_secs: auction.rules.extend_window_secs,
            seq: auction.state.seq,
            server_time: rfc3339(now),
            winner: auction.state.winner.map(alias),
            paused: auction.is_paused(),
            head_hash: Some(record.head_hash.clone()).filter(|hash| !hash.is_empty()),
        }
    }
}

/// Builds the stored row of a public event, rendering EventData from the
/// auction's state right after the event (`after`).
pub fn stored_event(auction_id: AuctionId, after: &Auction, event: &Event) -> StoredEvent {
    let alias = |user: UserId| bidder_alias(auction_id, user);
    let state = &after.state;
    let mut data = json!({
        "auction_id": auction_id.to_string(),
        "seq": event.seq,
        "current_price": state.price,
        "min_next_bid": after.min_next_bid(),
        "bid_count": state.bid_count,
        "leader": state.leader.map(|l| alias(l.user)),
        "ends_at": rfc3339(state.ends_at),
        // Events are only emitted by live auctions or by closing them.
        "status": after.public_status(event.at).as_str(),
        "reserve_met": after.reserve_met(),
    });
    let (mut bidder, mut amount, mut bid_kind, mut ceiling) = (None, None, None, None);
    match &event.kind {
        EventKind::Bid {
            bidder: who,
            amount: how_much,
            kind,
            ceiling: max,
        } => {
            data["bid"] = json!({
                "amount": how_much,
                "bidder": alias(*who),
                "kind": kind.as_str(),
                "at": rfc3339(event.at),
            });
            bidder = Some(*who);
            amount = Some(*how_much);
            bid_kind = Some(kind.as_str().to_string());
            ceiling = Some(*max);
        }
        EventKind::Closed { winner } => {
            data["winner"] = json!(winner.map(alias));
        }
        EventKind::Voided { seqs, user, reason } => {
            data["voided"] = json!({ "seqs": seqs, "reason": reason });
            bidder = *user;
        }
        EventKind::Repriced {
            leader: Some(held), ..
        } => {
            // Private, like a bid's: who leads after the replay, and with
            // what maximum.
            bidder = Some(held.user);
            amount = Some(state.price);
            ceiling = Some(held.ceiling);
        }
        EventKind::ExtendedByAdmin { secs, .. } => {
            data["extended_by_secs"] = json!(secs);
        }
        EventKind::Withdrawn { reason } => {
            data["winner"] = Value::Null;
            data["withdrawn"] = json!({ "reason": reason });
        }
        EventKind::Extended { .. }
        | EventKind::Cancelled
        | EventKind::Repriced { .. }
        | EventKind::Paused
        | EventKind::Resumed { .. } => {}
    }
    StoredEvent {
        seq: event.seq,
        name: event.kind.name().to_string(),
        at: event.at,
        bidder,
        amount,
        bid_kind,
        ceiling,
        req_amount: None,
        req_max: None,
        hash: None,
        data: data.to_string(),
    }
}

/// An event encoded once for every subscriber: the SSE message and the
/// WebSocket text frame share nothing but this allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedEvent {
    pub auction_id: AuctionId,
    pub seq: i64,
    pub sse: Bytes,
    pub ws: ByteString,
}

impl EncodedEvent {
    /// Encodes a stored event, stamping `server_time`.
    pub fn encode(auction_id: AuctionId, event: &StoredEvent, server_time: DateTime<Utc>) -> Self {
        let data = with_server_time(&event.data, server_time);
        let sse = format!("id: {}\nevent: {}\ndata: {data}\n\n", event.seq, event.name);
        let ws = format!(
            "{{\"type\":\"event\",\"auction_id\":\"{auction_id}\",\"seq\":{},\"event\":\"{}\",\"data\":{data}}}",
            event.seq, event.name
        );
        Self {
            auction_id,
            seq: event.seq,
            sse: Bytes::from(sse),
            ws: ByteString::from(ws),
        }
    }
}

/// The events of one commit, in order: the unit of fan-out, so a burst of
/// events from one big batch costs each subscriber one queue slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBatch {
    pub auction_id: AuctionId,
    pub events: Vec<EncodedEvent>,
}

#[cfg(test)]
impl EventBatch {
    /// One event whose SSE frame is `sse` and WS frame is empty (for tests).
    pub fn single(auction_id: AuctionId, seq: i64, sse: Bytes) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            auction_id,
            events: vec![EncodedEvent {
                auction_id,
                seq,
                sse,
                ws: ByteString::new(),
            }],
        })
    }
}

/// Appends `"server_time"` to a stored JSON object.
fn with_server_time(data: &str, server_time: DateTime<Utc>) -> String {
    let body = data.trim_end();
    let body = body.strip_suffix('}').unwrap_or(body);
    let separator = if body.trim_end().ends_with('{') {
        ""
    } else {
        ","
    };
    format!(
        "{body}{separator}\"server_time\":\"{}\"}}",
        rfc3339(server_time)
    )
}

/// The SSE message of a snapshot.
pub fn snapshot_sse(snapshot: &Snapshot) -> String {
    let data = serde_json::to_string(snapshot).unwrap_or_else(|_| "{}".into());
    format!("id: {}\nevent: snapshot\ndata: {data}\n\n", snapshot.seq)
}

/// The WebSocket frame of a snapshot.
pub fn snapshot_ws(snapshot: &Snapshot) -> String {
    json!({"type": "snapshot", "auction": snapshot}).to_string()
}

/// The API's error object: `{"code","message",...extra}`.
pub fn error_object(code: &str, message: &str, extra: Option<Map<String, Value>>) -> Value {
    let mut object = Map::new();
    object.insert("code".into(), Value::from(code));
    object.insert("message".into(), Value::from(message));
    for (key, value) in extra.into_iter().flatten() {
        object.insert(key, value);
    }
    Value::Object(object)
}

/// The API's error body: `{"error":{"code","message",...extra}}`.
pub fn error_body(code: &str, message: &str, extra: Option<Map<String, Value>>) -> String {
    json!({ "error": error_object(code, message, extra) }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_time_is_appended_to_the_stored_object() {
        let time = DateTime::from_timestamp_millis(1_700_000_000_123).expect("valid time");
        let out = with_server_time(r#"{"a":1}"#, time);
        let parsed: Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(parsed["a"], 1);
        assert_eq!(parsed["server_time"], "2023-11-14T22:13:20.123Z");
        let empty = with_server_time("{}", time);
        assert!(serde_json::from_str::<Value>(&empty).is_ok(), "{empty}");
    }

    #[test]
    fn error_body_has_the_api_shape() {
        let mut extra = Map::new();
        extra.insert("min_next_bid".into(), Value::from(150));
        let body: Value =
            serde_json::from_str(&error_body("below_minimum", "too low", Some(extra)))
                .expect("JSON");
        assert_eq!(body["error"]["code"], "below_minimum");
        assert_eq!(body["error"]["message"], "too low");
        assert_eq!(body["error"]["min_next_bid"], 150);
    }
}
