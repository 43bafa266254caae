//! What the public bid history shows of voids: which bids a void struck out.
//!
//! Nothing is deleted from an auction's log; a `voided` event names the
//! bidders' own bids it voids, and the automatic bids placed from them
//! go with them (docs/bidding.md, Voids and bans). The history and the chart
//! keep showing those bids, marked voided, so the record stays readable:
//! a bid at a higher amount than the current price is explained.

use std::collections::{HashMap, HashSet};

use crate::domain::{AuctionId, UserId};
use crate::store::{Store, StoreResult, StoredEvent};

/// One void as the history needs it: where it was recorded and what it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Void {
    /// The `voided` event's seq.
    pub seq: i64,
    /// The bidders' own bids it names.
    pub seqs: HashSet<i64>,
    /// The admin's public reason.
    pub reason: String,
}

/// The voids among `events` (any events; only `voided` ones count).
/// Unreadable data names nothing: the history then shows the bid unmarked
/// rather than failing the page.
pub fn voids(events: &[StoredEvent]) -> Vec<Void> {
    events
        .iter()
        .filter(|event| event.name == "voided")
        .map(|event| {
            let data: serde_json::Value =
                serde_json::from_str(&event.data).unwrap_or(serde_json::Value::Null);
            Void {
                seq: event.seq,
                seqs: data["voided"]["seqs"]
                    .as_array()
                    .map(|seqs| seqs.iter().filter_map(serde_json::Value::as_i64).collect())
                    .unwrap_or_default(),
                reason: data["voided"]["reason"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            }
        })
        .collect()
}

/// One bid of the history, as far as voids are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryBid {
    pub seq: i64,
    pub bidder: UserId,
    /// Placed by the engine from the bidder's maximum.
    pub automatic: bool,
}

/// The seqs of `bids` (in `seq` order, the auction's whole bid history)
/// that `voids` struck out: each bid a void names, and each automatic bid
/// decided before that void whose bidder's latest own bid before it is one
/// the void names (it was placed from that bid's maximum).
pub fn struck(bids: &[HistoryBid], voids: &[Void]) -> HashSet<i64> {
    let mut struck = HashSet::new();
    for void in voids {
        let mut latest_own: HashMap<UserId, i64> = HashMap::new();
        for bid in bids.iter().take_while(|bid| bid.seq < void.seq) {
            if !bid.automatic {
                latest_own.insert(bid.bidder, bid.seq);
                if void.seqs.contains(&bid.seq) {
                    struck.insert(bid.seq);
                }
            } else if latest_own
                .get(&bid.bidder)
                .is_some_and(|own| void.seqs.contains(own))
            {
                struck.insert(bid.seq);
            }
        }
    }
    struck
}

/// The bids among `events` (bid events; others are skipped), in order.
fn history_bids(events: &[StoredEvent]) -> Vec<HistoryBid> {
    events
        .iter()
        .filter(|event| event.name == "bid")
        .filter_map(|event| {
            Some(HistoryBid {
                seq: event.seq,
                bidder: event.bidder?,
                automatic: event.bid_kind.as_deref() == Some("auto"),
            })
        })
        .collect()
}

/// The seqs a void struck out, from an auction's whole event log already
/// read (the admin page has it for its record check).
pub fn struck_in_log(events: &[StoredEvent]) -> HashSet<i64> {
    struck(&history_bids(events), &voids(events))
}

/// The seqs of the auction's bids that a void struck out (empty, after
/// one cheap query, for the many auctions never corrected).
pub async fn struck_bids(store: &dyn Store, auction: AuctionId) -> StoreResult<HashSet<i64>> {
    let voids = voids(&store.void_events(auction).await?);
    if voids.is_empty() {
        return Ok(HashSet::new());
    }
    let bids = history_bids(&store.bid_events_after(auction, 0, i64::MAX).await?);
    Ok(struck(&bids, &voids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        uuid::Uuid::from_u128(n)
    }

    fn bid(seq: i64, bidder: u128, automatic: bool) -> HistoryBid {
        HistoryBid {
            seq,
            bidder: user(bidder),
            automatic,
        }
    }

    fn void(seq: i64, seqs: &[i64]) -> Void {
        Void {
            seq,
            seqs: seqs.iter().copied().collect(),
            reason: "test".into(),
        }
    }

    #[test]
    fn a_voided_bid_and_the_automatic_bids_placed_from_it_are_struck() {
        // 1: A bids with a maximum; 2: B bids; 3: A's maximum answers;
        // 4: B again; 5: A's maximum again. Voiding 1 strikes 1, 3 and 5.
        let bids = [
            bid(1, 1, false),
            bid(2, 2, false),
            bid(3, 1, true),
            bid(4, 2, false),
            bid(5, 1, true),
        ];
        let struck = struck(&bids, &[void(6, &[1])]);
        assert_eq!(struck, HashSet::from([1, 3, 5]));
    }

    #[test]
    fn automatic_bids_from_a_later_own_bid_that_stands_are_not_struck() {
        // A's own bid 3 stands; the automatic bid 5 came from it.
        let bids = [
            bid(1, 1, false),
            bid(2, 2, false),
            bid(3, 1, false),
            bid(4, 2, false),
            bid(5, 1, true),
        ];
        assert_eq!(struck(&bids, &[void(6, &[1])]), HashSet::from([1]));
    }

    #[test]
    fn bids_decided_after_the_void_are_never_struck_by_it() {
        // After the void at 3, A's earlier maximum bids again at 4.
        let bids = [bid(1, 1, false), bid(2, 2, false), bid(4, 1, true)];
        let struck = struck(&bids, &[void(3, &[1]), void(5, &[])]);
        assert_eq!(struck, HashSet::from([1]));
    }

    #[test]
    fn other_bidders_automatic_bids_stand() {
        let bids = [bid(1, 2, false), bid(2, 1, false), bid(3, 2, true)];
        assert_eq!(struck(&bids, &[void(4, &[2])]), HashSet::from([2]));
    }

    #[test]
    fn voids_are_read_from_voided_events_only() {
        let event = |seq: i64, name: &str, data: &str| StoredEvent {
            seq,
            name: name.into(),
            at: chrono::Utc::now(),
            bidder: None,
            amount: None,
            bid_kind: None,
            ceiling: None,
            req_amount: None,
            req_max: None,
            hash: None,
            data: data.into(),
        };
        let events = [
            event(1, "bid", r#"{"voided":{"seqs":[9]}}"#),
            event(2, "voided", r#"{"voided":{"seqs":[1],"reason":"typo"}}"#),
            event(3, "voided", "not json"),
        ];
        let found = voids(&events);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0], void(2, &[1]).with_reason("typo"));
        assert!(found[1].seqs.is_empty());
    }

    impl Void {
        fn with_reason(mut self, reason: &str) -> Self {
            self.reason = reason.into();
            self
        }
    }
}
