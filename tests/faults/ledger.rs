//! The database after a fault, read directly (sqlx): events gapless, no
//! request placed twice, every acknowledged bid where its answer said.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sqlx::Row as _;

use crate::support::{Api, Attempt};

/// A stored first answer: (http status, body).
pub type Stored = (i64, Value);

/// One event row: (seq, kind, bidder_id, amount, bid_kind).
pub type EventRow = (i64, String, Option<String>, Option<i64>, Option<String>);

/// What the database holds for one auction.
#[derive(Debug)]
pub struct Ledger {
    /// Oldest first.
    pub events: Vec<EventRow>,
    /// (user_id, request_id) → stored answer
    pub answers: HashMap<(String, String), Stored>,
    pub auction_seq: i64,
}

pub async fn connect(url: &str) -> sqlx::AnyConnection {
    use sqlx::Connection as _;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"));
    if url.starts_with("sqlite:") {
        sqlx::query("PRAGMA busy_timeout = 5000")
            .execute(&mut conn)
            .await
            .expect("set busy_timeout");
    }
    conn
}

impl Ledger {
    pub async fn read(url: &str, auction: &str) -> Self {
        let mut conn = connect(url).await;
        let rows = sqlx::query(
            "SELECT seq, kind, bidder_id, amount, bid_kind FROM auction_events \
             WHERE auction_id = $1 ORDER BY seq",
        )
        .bind(auction)
        .fetch_all(&mut conn)
        .await
        .expect("read the events");
        let events = rows
            .iter()
            .map(|row| {
                (
                    row.get::<i64, _>("seq"),
                    row.get::<String, _>("kind"),
                    row.get::<Option<String>, _>("bidder_id"),
                    row.get::<Option<i64>, _>("amount"),
                    row.get::<Option<String>, _>("bid_kind"),
                )
            })
            .collect();
        let rows = sqlx::query(
            "SELECT user_id, request_id, http_status, body FROM bid_requests \
             WHERE auction_id = $1",
        )
        .bind(auction)
        .fetch_all(&mut conn)
        .await
        .expect("read the stored answers");
        let mut answers = HashMap::new();
        for row in &rows {
            let key = (
                row.get::<String, _>("user_id"),
                row.get::<String, _>("request_id"),
            );
            let body: String = row.get("body");
            let body: Value = serde_json::from_str(&body).expect("stored bodies are JSON");
            let earlier = answers.insert(key.clone(), (row.get::<i64, _>("http_status"), body));
            assert!(earlier.is_none(), "request {key:?} stored twice");
        }
        let auction_seq: i64 = sqlx::query_scalar("SELECT seq FROM auctions WHERE id = $1")
            .bind(auction)
            .fetch_one(&mut conn)
            .await
            .expect("read the auction row");
        Self {
            events,
            answers,
            auction_seq,
        }
    }

    /// The invariants that hold after any fault, for an auction that only
    /// ever saw plain bids (each accepted request is exactly one event).
    pub fn check(&self) {
        let seqs: Vec<i64> = self.events.iter().map(|e| e.0).collect();
        let n = i64::try_from(seqs.len()).expect("a small history");
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "a gapless event log");
        assert_eq!(
            self.auction_seq, n,
            "the auction row's seq is the last event"
        );
        for event in &self.events {
            assert_eq!(event.1, "bid", "only bids happened: {event:?}");
            assert_eq!(
                event.4.as_deref(),
                Some("bid"),
                "plain bids only: {event:?}"
            );
        }
        // Every accepted stored answer names its own event; no event has two.
        let mut claimed = HashSet::new();
        for ((user, request), (status, body)) in &self.answers {
            if *status != 200 {
                continue;
            }
            let seq = body["seq"].as_i64().expect("an accepted answer has a seq");
            assert!(
                claimed.insert(seq),
                "two accepted requests claim seq {seq} ({request})"
            );
            let event = &self.events[usize::try_from(seq - 1).expect("seq ≥ 1")];
            assert_eq!(
                event.2.as_deref(),
                Some(user.as_str()),
                "seq {seq} is {request}'s bid"
            );
            assert_eq!(body["request_id"].as_str(), Some(request.as_str()));
        }
        assert_eq!(
            claimed.len(),
            self.events.len(),
            "one event per accepted request: no request placed twice, no event without one"
        );
    }

    /// Every acknowledged (200) attempt is stored with that answer, and its
    /// event has its bidder and amount. Returns how many were checked.
    pub fn check_acknowledged(&self, attempts: &[Attempt]) -> usize {
        let missing = self.missing_acknowledged(attempts);
        assert!(missing.is_empty(), "acknowledged bids lost: {missing:#?}");
        attempts.iter().filter(|a| a.acked_seq().is_some()).count()
    }

    /// The acknowledged attempts that are not where their answer said.
    pub fn missing_acknowledged(&self, attempts: &[Attempt]) -> Vec<String> {
        let mut missing = Vec::new();
        for attempt in attempts {
            let Some(seq) = attempt.acked_seq() else {
                continue;
            };
            let key = (attempt.user_id.clone(), attempt.request_id.clone());
            let stored = match self.answers.get(&key) {
                None => Err("no stored answer".to_string()),
                Some((200, body)) if body["seq"].as_i64() == Some(seq) => Ok(()),
                Some(other) => Err(format!("stored answer {other:?}")),
            };
            let event = usize::try_from(seq - 1)
                .ok()
                .and_then(|index| self.events.get(index));
            let recorded = match event {
                Some(event)
                    if event.0 == seq
                        && event.2.as_deref() == Some(attempt.user_id.as_str())
                        && event.3 == Some(attempt.amount) =>
                {
                    Ok(())
                }
                other => Err(format!("event at seq {seq}: {other:?}")),
            };
            if let Err(why) = stored.and(recorded) {
                missing.push(format!(
                    "{} acknowledged seq {seq} amount {}: {why}",
                    attempt.request_id, attempt.amount
                ));
            }
        }
        missing
    }
}

/// The public history agrees: every acknowledged bid at its seq and amount.
pub async fn check_history(api: &Api, auction: &str, attempts: &[Attempt]) -> usize {
    let history = api.history(auction).await;
    let by_seq: HashMap<i64, &Value> = history
        .iter()
        .map(|bid| (bid["seq"].as_i64().expect("a seq"), bid))
        .collect();
    let seqs: Vec<i64> = history.iter().filter_map(|b| b["seq"].as_i64()).collect();
    let n = i64::try_from(seqs.len()).expect("small");
    assert_eq!(
        seqs,
        (1..=n).collect::<Vec<_>>(),
        "a gapless public history"
    );
    for attempt in attempts {
        if let Some(seq) = attempt.acked_seq() {
            let bid = by_seq
                .get(&seq)
                .unwrap_or_else(|| panic!("acknowledged seq {seq} not in the history"));
            assert_eq!(bid["amount"].as_i64(), Some(attempt.amount), "{bid}");
        }
    }
    history.len()
}
