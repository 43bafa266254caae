//! Fifty bidders bid at once on one auction. Afterwards the history is
//! gapless (`seq` 1..N), prices never fall, every accepted answer's `seq`
//! is in the history, and no `request_id` was placed twice.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_alias, AuctionBuilder, Bidder, TestApp};

crate::on_both_backends!(
    fifty_bidders_bidding_at_once_leave_a_gapless_rising_history_with_no_bid_placed_twice
);

const BIDDERS: usize = 50;
const BIDS_EACH: i64 = 4;

/// One answer: who sent which request, and what came back.
#[derive(Debug)]
struct Sent {
    bidder: usize,
    request_id: String,
    amount: i64,
    status: StatusCode,
    body: Value,
}

/// Each bidder sends its bids one after the other, with rising amounts
/// that interleave with everyone else's; the first one is sent twice at
/// once (a client retrying while the first copy is in flight).
async fn bid_in_turn(app: &TestApp, auction: &str, index: usize, bidder: &Bidder) -> Vec<Sent> {
    let mut sent = Vec::new();
    let offset = i64::try_from(index).expect("a small index") * 37;
    for round in 0..BIDS_EACH {
        let amount = 1000 + round * 2500 + offset;
        let request_id = format!("{}-{round}", bidder.username);
        let copies = if round == 0 { 2 } else { 1 };
        let answers = join_all(
            (0..copies).map(|_| app.bid(&bidder.token, auction, &request_id, amount, None)),
        )
        .await;
        if let [(s1, b1), (s2, b2)] = answers.as_slice() {
            assert_eq!((s1, b1), (s2, b2), "two copies of one request, two answers");
        }
        for (status, body) in answers {
            sent.push(Sent {
                bidder: index,
                request_id: request_id.clone(),
                amount,
                status,
                body,
            });
        }
    }
    sent
}

async fn fifty_bidders_bidding_at_once_leave_a_gapless_rising_history_with_no_bid_placed_twice(
    app: TestApp,
) {
    let bidders = app.bidders("crowd", BIDDERS).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().starting_price(1000))
        .await;

    // Everyone at once.
    let sent: Vec<Sent> = join_all(
        bidders
            .iter()
            .enumerate()
            .map(|(index, bidder)| bid_in_turn(&app, &id, index, bidder)),
    )
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(
        sent.len(),
        BIDDERS * (usize::try_from(BIDS_EACH).expect("small") + 1)
    );

    // Every answer is an accepted bid or a rejection the race explains.
    let mut accepted: BTreeMap<i64, &Sent> = BTreeMap::new();
    let mut accepted_requests = HashSet::new();
    for answer in &sent {
        match answer.status.as_u16() {
            200 => {
                assert_eq!(answer.body["request_id"], answer.request_id.as_str());
                assert_eq!(answer.body["accepted"], true);
                let seq = answer.body["seq"].as_i64().expect("a seq");
                if accepted_requests.insert(answer.request_id.clone()) {
                    let earlier = accepted.insert(seq, answer);
                    assert!(
                        earlier.is_none(),
                        "two requests answered with seq {seq}: {:?} and {:?}",
                        earlier.map(|e| &e.body),
                        answer.body
                    );
                }
            }
            422 => {
                assert_eq!(
                    answer.body["error"]["code"], "below_minimum",
                    "{}",
                    answer.body
                );
                let min = answer.body["error"]["min_next_bid"]
                    .as_i64()
                    .expect("min_next_bid");
                assert!(min > answer.amount, "{}", answer.body);
            }
            409 => assert_eq!(
                answer.body["error"]["code"], "already_leading",
                "{}",
                answer.body
            ),
            _ => panic!("unexpected answer {}: {}", answer.status, answer.body),
        }
    }
    assert!(accepted.len() >= 4, "the race should accept several bids");
    eprintln!(
        "{} answers, {} accepted requests, {} rejections",
        sent.len(),
        accepted.len(),
        sent.iter().filter(|s| !s.status.is_success()).count()
    );

    // The history: seq 1..N without gaps, amounts rising.
    let history = app.history(&id).await;
    let n = i64::try_from(history.len()).expect("a small history");
    let seqs: Vec<i64> = history
        .iter()
        .map(|bid| bid["seq"].as_i64().expect("a seq"))
        .collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "a gapless history");
    let amounts: Vec<i64> = history
        .iter()
        .map(|bid| bid["amount"].as_i64().expect("an amount"))
        .collect();
    assert!(
        amounts.windows(2).all(|pair| pair[0] <= pair[1]),
        "amounts never decrease: {amounts:?}"
    );
    for bid in &history {
        assert_eq!(bid["kind"], "bid", "plain bids make no auto bids: {bid}");
        assert_alias(&bid["bidder"]);
    }

    // Every accepted answer's seq is its own bid in the history; with plain
    // bids each accepted request is exactly one event, so none was placed twice.
    assert_eq!(
        accepted.len(),
        history.len(),
        "one event per accepted request"
    );
    let mut alias_of: HashMap<usize, String> = HashMap::new();
    for (seq, answer) in &accepted {
        let bid = &history[usize::try_from(seq - 1).expect("a positive seq")];
        assert_eq!(bid["seq"], *seq);
        assert_eq!(bid["amount"], answer.amount, "{bid} vs {}", answer.body);
        let alias = bid["bidder"].as_str().expect("an alias").to_string();
        let known = alias_of
            .entry(answer.bidder)
            .or_insert_with(|| alias.clone());
        assert_eq!(*known, alias, "one alias per bidder");
    }
    let distinct: HashSet<&String> = alias_of.values().collect();
    assert_eq!(
        distinct.len(),
        alias_of.len(),
        "different bidders, different aliases"
    );

    // The snapshot agrees.
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["seq"], n);
    assert_eq!(snapshot["bid_count"], n);
    assert_eq!(snapshot["current_price"], *amounts.last().expect("a bid"));
    let last = accepted.values().next_back().expect("an accepted bid");
    assert_eq!(snapshot["leader"], history[history.len() - 1]["bidder"]);
    assert_eq!(last.body["status"], "leading");

    // The database agrees: every decided request has one stored answer,
    // and the events are exactly 1..N.
    let requests: HashSet<&String> = sent.iter().map(|s| &s.request_id).collect();
    let stored = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM bid_requests WHERE auction_id = '{id}'"
        ))
        .await;
    assert_eq!(stored, i64::try_from(requests.len()).expect("small"));
    let distinct_stored = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT user_id, request_id FROM bid_requests \
             WHERE auction_id = '{id}') AS d"
        ))
        .await;
    assert_eq!(distinct_stored, stored);
    let events = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM auction_events WHERE auction_id = '{id}'"
        ))
        .await;
    let max_seq = app
        .db_i64(&format!(
            "SELECT COALESCE(MAX(seq), 0) FROM auction_events WHERE auction_id = '{id}'"
        ))
        .await;
    assert_eq!((events, max_seq), (n, n));
    let accepted_stored = app
        .db_i64(&format!(
            "SELECT COUNT(*) FROM bid_requests WHERE auction_id = '{id}' AND http_status = 200"
        ))
        .await;
    assert_eq!(accepted_stored, n, "one stored acceptance per event");
}
