//! `gavel verify`: checks an auction's stored record against its hash chain
//! and against a replay through the bidding engine (docs/design.md, "The
//! verifiable record").
//!
//! For every auction: the events are `seq` 1, 2, 3 … without a gap; each
//! event's hash is SHA-256 of the previous hash and its canonical bytes
//! (`domain::chain`), in its column and in its data; the row's head hash is
//! the last event's. Then the log is replayed from the first event with the
//! same code the live engine and voids use (`Auction::decide_entry`,
//! `Auction::void`): every event the replay produces must equal the stored
//! row (kind, time, private columns and data), every stored event must be
//! produced, every accepted bid's stored answer must be what the replay
//! answers, and the auction row must equal the replayed state.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{json, Value};

use super::log;
use super::view::{rfc3339, stored_event};
use crate::domain::chain;
use crate::domain::{Auction, AuctionId, BidOutcome, Change, Decision, Entry, UserId};
use crate::store::{AuctionRecord, Store, StoreError, StoredEvent, StoredNote, StoredRequest};

/// One difference between the record and what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub auction: AuctionId,
    /// The event (or, for a note, the event it follows) where it shows.
    pub seq: Option<i64>,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "auction {} seq {}: {}", self.auction, seq, self.what),
            None => write!(f, "auction {}: {}", self.auction, self.what),
        }
    }
}

/// What one auction's check came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuctionCheck {
    pub events: usize,
    pub answers: usize,
    pub problems: Vec<Problem>,
}

struct Checker {
    auction: AuctionId,
    problems: Vec<Problem>,
}

impl Checker {
    fn problem(&mut self, seq: Option<i64>, what: impl Into<String>) {
        self.problems.push(Problem {
            auction: self.auction,
            seq,
            what: what.into(),
        });
    }
}

/// Checks the hash chain: consecutive seqs, each hash, the head hash.
fn check_chain(checker: &mut Checker, record: &AuctionRecord, events: &[StoredEvent]) {
    let mut head = chain::GENESIS.to_string();
    for (index, event) in events.iter().enumerate() {
        let want = index as i64 + 1;
        if event.seq != want {
            checker.problem(
                Some(event.seq),
                format!("expected seq {want}: an event is missing, repeated or out of order"),
            );
        }
        match chain::event_hash(&head, record.id, event.seq, &event.name, &event.data) {
            Ok(hash) => {
                if event.hash.as_deref() != Some(hash.as_str()) {
                    checker.problem(
                        Some(event.seq),
                        "the hash does not match the event's content and the previous hash",
                    );
                }
                if chain::hash_in(&event.data) != event.hash {
                    checker.problem(
                        Some(event.seq),
                        "the hash in the event data differs from the stored hash",
                    );
                }
            }
            Err(error) => checker.problem(Some(event.seq), format!("cannot hash: {error}")),
        }
        head = event.hash.clone().unwrap_or_default();
    }
    let want_head = if events.is_empty() { "" } else { head.as_str() };
    if record.head_hash != want_head {
        checker.problem(
            None,
            "the auction's head hash is not the hash of its last event",
        );
    }
}

/// The first field where a replayed event row and the stored one differ
/// (the data compared in canonical form, without its `hash`: the chain
/// checks that).
fn first_difference(expected: &StoredEvent, stored: &StoredEvent) -> Option<&'static str> {
    let data = |event: &StoredEvent| {
        chain::canonical_data(&event.data).unwrap_or_else(|_| event.data.clone())
    };
    if expected.name != stored.name {
        Some("kind")
    } else if expected.at.timestamp_millis() != stored.at.timestamp_millis() {
        Some("time")
    } else if expected.bidder != stored.bidder {
        Some("bidder")
    } else if expected.amount != stored.amount {
        Some("amount")
    } else if expected.bid_kind != stored.bid_kind {
        Some("bid kind")
    } else if expected.ceiling != stored.ceiling {
        Some("maximum")
    } else if data(expected) != data(stored) {
        Some("data")
    } else {
        None
    }
}

/// The answer fields of an accepted bid, as the replay decides them.
fn answer_fields(outcome: BidOutcome, seq: i64, after: &Auction) -> Value {
    json!({
        "accepted": true,
        "status": match outcome {
            BidOutcome::Leading => "leading",
            BidOutcome::Outbid => "outbid",
        },
        "seq": seq,
        "current_price": after.state.price,
        "min_next_bid": after.min_next_bid(),
        "ends_at": rfc3339(after.state.ends_at),
    })
}

fn entry_seq(entry: &Entry, at_seq: i64) -> i64 {
    match entry {
        Entry::Bid { seq: Some(seq), .. } | Entry::BuyNow { seq, .. } | Entry::Void { seq, .. } => {
            *seq
        }
        _ => at_seq,
    }
}

/// Checks one auction's stored record. Pure: the caller reads the rows.
pub fn check_auction(
    record: &AuctionRecord,
    events: &[StoredEvent],
    notes: &[StoredNote],
    answers: &[StoredRequest],
) -> AuctionCheck {
    let mut checker = Checker {
        auction: record.id,
        problems: Vec::new(),
    };
    check_chain(&mut checker, record, events);

    let entries = match log::entries(events, notes) {
        Ok(entries) => entries,
        Err(error) => {
            checker.problem(Some(error.seq), error.problem);
            return AuctionCheck {
                events: events.len(),
                answers: answers.len(),
                problems: checker.problems,
            };
        }
    };
    let by_seq: HashMap<i64, &StoredEvent> =
        events.iter().map(|event| (event.seq, event)).collect();
    let mut produced: HashSet<i64> = HashSet::new();
    let mut replayed_answers: HashMap<(UserId, i64), Vec<Value>> = HashMap::new();
    let mut auction = Auction::new(record.auction.rules.clone(), record.auction.initial_ends_at);
    for (index, entry) in entries.iter().enumerate() {
        let before = auction.clone();
        let at_seq = entry_seq(entry, auction.state.seq);
        let changes: Vec<Change> = match entry {
            Entry::Void {
                seqs,
                user,
                reason,
                at,
                ..
            } => match auction.void(&entries[..index], seqs, *user, reason, *at) {
                Ok(changes) => changes,
                Err(error) => {
                    checker.problem(
                        Some(at_seq),
                        format!("the replay refuses this void: {error}"),
                    );
                    continue;
                }
            },
            _ => match auction.decide_entry(entry) {
                Decision::Bid(Ok(accepted)) => {
                    if let Some(bidder) = entry.bidder() {
                        replayed_answers
                            .entry((bidder, accepted.seq))
                            .or_default()
                            .push(answer_fields(accepted.outcome, accepted.seq, &auction));
                    }
                    accepted.changes
                }
                Decision::Changes(changes) => changes,
                Decision::Bid(Err(rejection)) => {
                    checker.problem(
                        Some(at_seq),
                        format!("the replay refuses this bid: {rejection}"),
                    );
                    continue;
                }
                Decision::Refused => {
                    checker.problem(Some(at_seq), "the replay refuses this entry of the log");
                    continue;
                }
            },
        };
        let mut replay = before;
        for change in &changes {
            replay.apply(change);
            let Change::Public(event) = change else {
                continue;
            };
            let expected = stored_event(record.id, &replay, event);
            match by_seq.get(&event.seq) {
                None => checker.problem(
                    Some(event.seq),
                    format!(
                        "the replay produces a {} event that is not stored",
                        expected.name
                    ),
                ),
                Some(stored) => {
                    if let Some(field) = first_difference(&expected, stored) {
                        checker.problem(
                            Some(event.seq),
                            format!(
                                "the stored {} event differs from the replay ({field})",
                                stored.name
                            ),
                        );
                    }
                }
            }
            produced.insert(event.seq);
        }
    }
    for event in events {
        if !produced.contains(&event.seq) {
            checker.problem(
                Some(event.seq),
                format!(
                    "the stored {} event does not follow from the log",
                    event.name
                ),
            );
        }
    }

    for request in answers {
        if request.answer.http_status != 200 {
            continue; // a refusal leaves nothing in the log
        }
        let Ok(mut body) = serde_json::from_str::<Value>(&request.answer.body) else {
            checker.problem(
                None,
                format!("the answer to request {:?} is not JSON", request.request_id),
            );
            continue;
        };
        let seq = body["seq"].as_i64();
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
            object.remove("auction_id");
        }
        let matches = seq
            .and_then(|seq| replayed_answers.get(&(request.user, seq)))
            .is_some_and(|candidates| candidates.contains(&body));
        if !matches {
            checker.problem(
                seq,
                format!(
                    "the stored answer to request {:?} differs from what the replay answers",
                    request.request_id
                ),
            );
        }
    }

    let stored = &record.auction;
    let fields = [
        ("status", stored.state.status == auction.state.status),
        ("price", stored.state.price == auction.state.price),
        ("leader", stored.state.leader == auction.state.leader),
        (
            "bid_count",
            stored.state.bid_count == auction.state.bid_count,
        ),
        ("seq", stored.state.seq == auction.state.seq),
        (
            "ends_at",
            stored.state.ends_at.timestamp_millis() == auction.state.ends_at.timestamp_millis(),
        ),
        ("winner", stored.state.winner == auction.state.winner),
        ("barred", stored.barred == auction.barred),
    ];
    for (field, same) in fields {
        if !same {
            checker.problem(
                None,
                format!("the auction row's {field} differs from the replayed state"),
            );
        }
    }
    AuctionCheck {
        events: events.len(),
        answers: answers.len(),
        problems: checker.problems,
    }
}

/// The outcome of `gavel verify`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub auctions: usize,
    pub events: usize,
    pub answers: usize,
    pub problems: Vec<Problem>,
}

/// Checks `only` that auction, or every auction, reading from `store`.
/// `progress` hears about each auction as it is checked.
pub async fn verify(
    store: &dyn Store,
    only: Option<AuctionId>,
    mut progress: impl FnMut(&AuctionRecord, &AuctionCheck),
) -> Result<Report, StoreError> {
    let records = match only {
        Some(id) => store.auction(id).await?.into_iter().collect::<Vec<_>>(),
        None => {
            store
                .list_auctions(None, chrono::Utc::now(), i64::MAX)
                .await?
        }
    };
    let mut report = Report::default();
    for record in &records {
        let (events, notes) = store.auction_log(record.id).await?;
        let answers = store.bid_answers(record.id).await?;
        let check = check_auction(record, &events, &notes, &answers);
        progress(record, &check);
        report.auctions += 1;
        report.events += check.events;
        report.answers += check.answers;
        report.problems.extend(check.problems);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::auction::batch::{decide, Lookups};
    use crate::auction::commands::{AdminAction, BidCommandKind, BidPayload, CommandPayload};
    use crate::domain::{AuctionRules, IncrementTable};

    const USERS: [UserId; 4] = [
        UserId::from_u128(1),
        UserId::from_u128(2),
        UserId::from_u128(3),
        UserId::from_u128(4),
    ];
    const AUCTION: AuctionId = AuctionId::from_u128(0xA);

    #[derive(Debug, Clone)]
    enum Op {
        Bid {
            user: usize,
            above: i64,
            max: Option<i64>,
            secs: i64,
        },
        VoidBid {
            pick: usize,
        },
        VoidUser {
            user: usize,
        },
        Bar {
            user: usize,
        },
        Pause {
            secs: i64,
        },
        Resume {
            secs: i64,
        },
        Extend {
            secs: i64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => (0..USERS.len(), 0..500i64, proptest::option::of(0..3_000i64), 0..30i64)
                .prop_map(|(user, above, max, secs)| Op::Bid { user, above, max, secs }),
            2 => (0..64usize).prop_map(|pick| Op::VoidBid { pick }),
            1 => (0..USERS.len()).prop_map(|user| Op::VoidUser { user }),
            1 => (0..USERS.len()).prop_map(|user| Op::Bar { user }),
            1 => (0..100i64).prop_map(|secs| Op::Pause { secs }),
            1 => (0..100i64).prop_map(|secs| Op::Resume { secs }),
            1 => (1..200i64).prop_map(|secs| Op::Extend { secs }),
        ]
    }

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000, 0).expect("a time")
    }

    /// A stored record as the live actor would leave it after `ops`, then
    /// closed: the auction row, events, notes and answers.
    struct Stored {
        record: AuctionRecord,
        events: Vec<StoredEvent>,
        notes: Vec<StoredNote>,
        answers: Vec<StoredRequest>,
    }

    fn run(ops: &[Op], window: i64) -> Stored {
        let rules = AuctionRules {
            starting_price: 100,
            reserve_price: Some(700),
            buy_now_price: None,
            starts_at: start(),
            extend_window_secs: window,
            increments: IncrementTable::standard(),
        };
        let mut auction = Auction::new(rules, start() + Duration::seconds(300));
        let mut head = String::new();
        let (mut events, mut notes, mut answers) = (Vec::new(), Vec::new(), Vec::new());
        let mut now = start();
        let mut banned = HashSet::new();
        for (n, op) in ops.iter().enumerate() {
            let mut lookups = Lookups {
                banned: banned.clone(),
                ..Lookups::default()
            };
            let command = match op {
                Op::Bid {
                    user,
                    above,
                    max,
                    secs,
                } => {
                    now += Duration::seconds(*secs);
                    let amount = auction.min_next_bid() + above;
                    CommandPayload::Bid(BidPayload {
                        user: USERS[*user],
                        request_id: format!("r{n}"),
                        kind: BidCommandKind::Bid {
                            amount,
                            max_amount: max.map(|extra| amount + extra),
                        },
                    })
                }
                Op::VoidBid { pick } => {
                    let own: Vec<i64> = events
                        .iter()
                        .filter(|e: &&StoredEvent| e.bid_kind.as_deref() == Some("bid"))
                        .map(|e| e.seq)
                        .collect();
                    if own.is_empty() {
                        continue;
                    }
                    lookups.log = Some(log::entries(&events, &notes).expect("a readable log"));
                    CommandPayload::Admin(AdminAction::Void {
                        seqs: vec![own[pick % own.len()]],
                        user: None,
                        reason: "mistake".into(),
                    })
                }
                Op::VoidUser { user } => {
                    lookups.log = Some(log::entries(&events, &notes).expect("a readable log"));
                    banned.insert(USERS[*user]);
                    CommandPayload::Admin(AdminAction::Void {
                        seqs: Vec::new(),
                        user: Some(USERS[*user]),
                        reason: "banned".into(),
                    })
                }
                Op::Bar { user } => {
                    banned.insert(USERS[*user]);
                    CommandPayload::Admin(AdminAction::Bar { user: USERS[*user] })
                }
                Op::Pause { secs } => {
                    now += Duration::seconds(*secs);
                    CommandPayload::Admin(AdminAction::Pause)
                }
                Op::Resume { secs } => {
                    now += Duration::seconds(*secs);
                    CommandPayload::Admin(AdminAction::Resume)
                }
                Op::Extend { secs } => CommandPayload::Admin(AdminAction::Extend { secs: *secs }),
            };
            let decided = decide(
                AUCTION,
                &mut auction,
                head.clone(),
                &[command],
                &lookups,
                now,
            );
            head = decided.head_hash.clone();
            events.extend(decided.events.iter().cloned().map(|mut e| {
                // The store keeps milliseconds.
                e.at = DateTime::from_timestamp_millis(e.at.timestamp_millis()).expect("a time");
                e
            }));
            notes.extend(decided.notes.iter().cloned());
            answers.extend(decided.new_answers.iter().map(|new| StoredRequest {
                user: new.user,
                request_id: new.request_id.clone(),
                answer: new.answer.clone(),
            }));
        }
        let close = CommandPayload::Admin(AdminAction::Close);
        let decided = decide(
            AUCTION,
            &mut auction,
            head.clone(),
            &[close],
            &Lookups::default(),
            now,
        );
        head = decided.head_hash.clone();
        events.extend(decided.events.iter().cloned());
        let record = AuctionRecord {
            id: AUCTION,
            title: "t".into(),
            description: String::new(),
            currency: "EUR".into(),
            auction,
            epoch: 0,
            created_by: UserId::from_u128(99),
            created_at: start(),
            head_hash: head,
        };
        Stored {
            record,
            events,
            notes,
            answers,
        }
    }

    fn check(stored: &Stored) -> AuctionCheck {
        check_auction(
            &stored.record,
            &stored.events,
            &stored.notes,
            &stored.answers,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn verify_passes_on_every_generated_log(
            ops in proptest::collection::vec(op(), 0..30), window in 0..60i64
        ) {
            let stored = run(&ops, window);
            let check = check(&stored);
            prop_assert!(check.problems.is_empty(), "{:?}", check.problems);
        }

        #[test]
        fn verify_fails_on_any_altered_byte(
            ops in proptest::collection::vec(op(), 1..20),
            which in 0..1_000usize, at in 0..10_000usize, byte in 0x20u8..0x7f,
        ) {
            let mut stored = run(&ops, 30);
            let index = which % stored.events.len();
            let data = stored.events[index].data.clone().into_bytes();
            let at = at % data.len();
            prop_assume!(data[at] != byte && data[at].is_ascii());
            let mut altered = data;
            altered[at] = byte;
            stored.events[index].data = String::from_utf8(altered).expect("still UTF-8");
            let seq = stored.events[index].seq;
            let check = check(&stored);
            prop_assert!(
                check.problems.iter().any(|p| p.seq == Some(seq)),
                "{:?}", check.problems
            );
        }

        #[test]
        fn verify_fails_on_a_dropped_or_reordered_event(
            ops in proptest::collection::vec(op(), 1..20), which in 0..1_000usize, swap in any::<bool>(),
        ) {
            let mut stored = run(&ops, 30);
            let index = which % stored.events.len();
            if swap && stored.events.len() > 1 {
                // Two rows trade places: their seqs are exchanged.
                let other = (index + 1) % stored.events.len();
                let (a, b) = (stored.events[index].seq, stored.events[other].seq);
                stored.events[index].seq = b;
                stored.events[other].seq = a;
                stored.events.sort_by_key(|event| event.seq);
            } else {
                stored.events.remove(index);
            }
            prop_assert!(!check(&stored).problems.is_empty());
        }
    }

    #[test]
    fn an_altered_private_column_or_answer_is_named() {
        let ops = [
            Op::Bid {
                user: 0,
                above: 0,
                max: Some(2_000),
                secs: 1,
            },
            Op::Bid {
                user: 1,
                above: 50,
                max: None,
                secs: 1,
            },
            Op::Bid {
                user: 2,
                above: 0,
                max: Some(900),
                secs: 1,
            },
        ];
        let clean = run(&ops, 0);
        assert_eq!(check(&clean).problems, Vec::new());

        let mut ceiling = run(&ops, 0);
        let auto = ceiling
            .events
            .iter_mut()
            .find(|e| e.bid_kind.as_deref() == Some("auto"))
            .expect("an automatic bid");
        auto.ceiling = Some(auto.ceiling.unwrap_or_default() + 1);
        let seq = auto.seq;
        let problems = check(&ceiling).problems;
        assert!(
            problems
                .iter()
                .any(|p| p.seq == Some(seq) && p.what.contains("maximum")),
            "{problems:?}"
        );

        let mut answer = run(&ops, 0);
        let first = answer.answers.first_mut().expect("an answer");
        first.answer.body = first.answer.body.replace("\"leading\"", "\"outbid\"");
        let problems = check(&answer).problems;
        assert!(
            problems.iter().any(|p| p.what.contains("request \"r0\"")),
            "{problems:?}"
        );

        let mut row = run(&ops, 0);
        row.record.auction.state.price += 1;
        let problems = check(&row).problems;
        assert!(
            problems.iter().any(|p| p.what.contains("price")),
            "{problems:?}"
        );
    }
}
