//! Deciding one group-commit batch: pure code over an auction and the
//! batch's commands, with the store's lookups passed in.
//!
//! Commands are decided in order against the auction, which moves on with
//! every accepted one. The result is everything the batch must write (event
//! rows, request answers, the new state) and one answer per command.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::commands::{
    AdminAction, AdminError, BidCommandKind, BidPayload, CommandPayload, LotEdit,
};
use super::recent::RequestKey;
use super::view::{error_body, rfc3339, stored_event};
use crate::domain::chain;
use crate::domain::{
    Auction, AuctionId, BidAccepted, BidOutcome, BidRejection, BidRequest, Change, CloseError,
    ControlError, Entry, UserId, VoidError,
};
use crate::store::{LotDetails, NewAnswer, StoredAnswer, StoredEvent, StoredNote};

/// What the batch needs to know from the store before deciding.
#[derive(Debug, Default)]
pub struct Lookups {
    /// First answers of requests decided before (by an earlier actor).
    pub known: HashMap<RequestKey, StoredAnswer>,
    /// Banned bidders among the batch's users.
    pub banned: HashSet<UserId>,
    /// The admin who created the auction: they may not bid on it.
    pub creator: Option<UserId>,
    /// The auction's log so far, read for a void (which is decided alone in
    /// its batch, so the log is complete).
    pub log: Option<Vec<Entry>>,
}

/// One command's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandAnswer {
    Bid(StoredAnswer),
    Admin(Result<(), AdminError>),
    /// The close timer fired early: try again at the (new) end.
    TimerNotDue,
    TimerDone,
}

/// Everything one batch decided.
#[derive(Debug, Default)]
pub struct Decided {
    pub answers: Vec<CommandAnswer>,
    pub events: Vec<StoredEvent>,
    /// Private log entries: ceiling raises and bars.
    pub notes: Vec<StoredNote>,
    pub new_answers: Vec<NewAnswer>,
    /// True when the auction's state changed (even without a public event).
    pub state_changed: bool,
    /// The hash of the last event once these events are appended.
    pub head_hash: String,
    /// An admin's edit of the lot's details, to write with the batch.
    pub details: Option<LotDetails>,
}

impl Decided {
    /// Whether anything must be written.
    pub fn needs_commit(&self) -> bool {
        self.state_changed || !self.new_answers.is_empty()
    }
}

/// Decides `commands` in order against `auction` at `now`.
pub fn decide(
    auction_id: AuctionId,
    auction: &mut Auction,
    head_hash: String,
    commands: &[CommandPayload],
    lookups: &Lookups,
    now: DateTime<Utc>,
) -> Decided {
    let mut decided = Decided {
        head_hash,
        ..Decided::default()
    };
    // A banned leader is barred before anything else is decided, so their
    // maximum never bids for them, even before the ban's void or bar
    // reaches this actor.
    let banned_leader = auction
        .state
        .leader
        .map(|leader| leader.user)
        .filter(|user| lookups.banned.contains(user))
        .filter(|_| auction.state.status == crate::domain::AuctionStatus::Live);
    if let Some(user) = banned_leader {
        let before = auction.clone();
        if let Some(changes) = auction.bar(user) {
            push_note(
                &mut decided,
                auction.state.seq,
                "barred",
                now,
                user,
                None,
                None,
            );
            record_changes(auction_id, before, &changes, &mut decided);
        }
    }
    let mut in_batch: HashMap<RequestKey, StoredAnswer> = HashMap::new();
    for command in commands {
        let answer = match command {
            CommandPayload::Bid(bid) => {
                let key = (bid.user, bid.request_id.clone());
                let answer = if let Some(first) = lookups.known.get(&key).or(in_batch.get(&key)) {
                    first.clone()
                } else if lookups.banned.contains(&bid.user) {
                    banned_answer()
                } else if lookups.creator == Some(bid.user) {
                    creator_answer()
                } else {
                    let answer = decide_bid(auction_id, auction, bid, now, &mut decided);
                    in_batch.insert(key, answer.clone());
                    decided.new_answers.push(NewAnswer {
                        user: bid.user,
                        request_id: bid.request_id.clone(),
                        answer: answer.clone(),
                    });
                    answer
                };
                CommandAnswer::Bid(answer)
            }
            CommandPayload::Admin(action) => {
                let before = auction.clone();
                let result = match action {
                    AdminAction::Close => auction
                        .close(now, true)
                        .map_err(|_| AdminError::AlreadyEnded),
                    AdminAction::Cancel => {
                        auction.cancel(now).map_err(|_| AdminError::AlreadyEnded)
                    }
                    AdminAction::Void { seqs, user, reason } => match &lookups.log {
                        Some(log) => auction
                            .void(log, seqs, *user, reason, now)
                            .map_err(void_error),
                        None => Err(AdminError::Unavailable),
                    },
                    AdminAction::Pause => auction.pause(now).map_err(control_error),
                    AdminAction::Resume => auction.resume(now).map_err(control_error),
                    AdminAction::Extend { secs } => {
                        auction.extend_by(*secs, now).map_err(control_error)
                    }
                    AdminAction::Withdraw { reason } => {
                        auction.withdraw(reason, now).map_err(control_error)
                    }
                    AdminAction::Edit(edit) => match &lookups.log {
                        Some(log) => apply_edit(auction, edit, log, now).map(|details| {
                            decided.details = Some(details);
                            decided.state_changed = true;
                            Vec::new()
                        }),
                        None => Err(AdminError::Unavailable),
                    },
                    AdminAction::Bar { user } => {
                        if auction.state.status == crate::domain::AuctionStatus::Live {
                            auction.bar(*user).ok_or_else(|| {
                                AdminError::NothingToDo("the bidder is already barred".into())
                            })
                        } else {
                            Err(AdminError::AlreadyEnded)
                        }
                    }
                };
                CommandAnswer::Admin(result.map(|changes| {
                    for change in &changes {
                        if let Change::Barred { user } = change {
                            push_note(
                                &mut decided,
                                auction.state.seq,
                                "barred",
                                now,
                                *user,
                                None,
                                None,
                            );
                        }
                    }
                    record_changes(auction_id, before, &changes, &mut decided);
                }))
            }
            CommandPayload::CloseTimer => {
                let before = auction.clone();
                match auction.close(now, false) {
                    Ok(changes) => {
                        record_changes(auction_id, before, &changes, &mut decided);
                        CommandAnswer::TimerDone
                    }
                    Err(CloseError::NotDue) => CommandAnswer::TimerNotDue,
                    Err(CloseError::AlreadyEnded) => CommandAnswer::TimerDone,
                }
            }
        };
        decided.answers.push(answer);
    }
    decided
}

/// Applies an admin's edit to the lot's rules, or says why it cannot be.
///
/// The title, reserve and buy-now price change only before the lot's first
/// bid (voided bids count: the log must replay as it was decided). A reserve
/// that is added or removed also changes `reserve_met` in the data of events
/// already recorded, so that is refused once the lot has any event; changing
/// one reserve amount for another is not (before a bid `reserve_met` is
/// false for any reserve). The description changes while the lot is live.
pub fn apply_edit(
    auction: &mut Auction,
    edit: &LotEdit,
    log: &[Entry],
    now: DateTime<Utc>,
) -> Result<LotDetails, AdminError> {
    if auction.state.status != crate::domain::AuctionStatus::Live || auction.state.ends_at <= now {
        return Err(AdminError::AlreadyEnded);
    }
    let had_bids = log
        .iter()
        .any(|entry| matches!(entry, Entry::Bid { .. } | Entry::BuyNow { .. }));
    if edit.needs_no_bids() && had_bids {
        return Err(AdminError::NotEditable(
            "the lot has bids: only its description can change".into(),
        ));
    }
    let rules = &auction.rules;
    let reserve = edit
        .reserve_price
        .map_or(rules.reserve_price, |edit| edit.amount);
    let buy_now = edit
        .buy_now_price
        .map_or(rules.buy_now_price, |edit| edit.amount);
    if reserve.is_some() != rules.reserve_price.is_some() && auction.state.seq > 0 {
        return Err(AdminError::NotEditable(
            "a reserve can be added or removed only before anything happened on the lot \
             (a pause, an extension); its amount can still change"
                .into(),
        ));
    }
    if let Some(problem) = buy_now
        .and_then(|buy_now| crate::domain::buy_now_problem(rules.starting_price, reserve, buy_now))
    {
        return Err(AdminError::NotEditable(format!(
            "the buy-now price {problem}"
        )));
    }
    auction.rules.reserve_price = reserve;
    auction.rules.buy_now_price = buy_now;
    Ok(LotDetails {
        title: edit.title.clone(),
        description: edit.description.clone(),
        reserve_price: reserve,
        buy_now_price: buy_now,
    })
}

fn control_error(error: ControlError) -> AdminError {
    match error {
        ControlError::AlreadyEnded => AdminError::AlreadyEnded,
        ControlError::AlreadyPaused => AdminError::AlreadyPaused,
        ControlError::NotPaused => AdminError::NotPaused,
        ControlError::BadExtension => AdminError::NotVoidable(error.to_string()),
    }
}

fn void_error(error: VoidError) -> AdminError {
    match error {
        VoidError::Ended => AdminError::AlreadyEnded,
        VoidError::NotABid(_) | VoidError::NoReason => AdminError::NotVoidable(error.to_string()),
        VoidError::NothingToVoid => {
            AdminError::NothingToDo("the bidder has no bids to void on this auction".into())
        }
    }
}

/// Appends a private note decided after event `after_seq`.
fn push_note(
    decided: &mut Decided,
    after_seq: i64,
    kind: &str,
    at: DateTime<Utc>,
    bidder: UserId,
    amount: Option<i64>,
    max_amount: Option<i64>,
) {
    // Notes after one event keep their order: by time, then within a batch.
    let n = at.timestamp_millis() * 1_000 + decided.notes.len() as i64;
    decided.notes.push(StoredNote {
        after_seq,
        n,
        kind: kind.to_string(),
        at,
        bidder,
        amount,
        max_amount,
    });
}

fn decide_bid(
    auction_id: AuctionId,
    auction: &mut Auction,
    bid: &BidPayload,
    now: DateTime<Utc>,
    decided: &mut Decided,
) -> StoredAnswer {
    let before = auction.clone();
    // A leader's request only raises their maximum (docs/bidding.md rule 2).
    let raise = before.state.leader.is_some_and(|l| l.user == bid.user);
    let result = match bid.kind {
        BidCommandKind::Bid { amount, max_amount } => auction.place_bid(BidRequest {
            bidder: bid.user,
            amount,
            max_amount,
            at: now,
        }),
        BidCommandKind::BuyNow => auction.buy_now(bid.user, now),
    };
    match result {
        Ok(accepted) => {
            let first = decided.events.len();
            record_changes(auction_id, before, &accepted.changes, decided);
            if let BidCommandKind::Bid { amount, max_amount } = bid.kind {
                // The request behind the bidder's own bid event, or a note
                // when it only raised their ceiling: what a replay decides.
                let own = decided.events[first..].iter_mut().find(|event| {
                    event.bidder == Some(bid.user) && event.bid_kind.as_deref() == Some("bid")
                });
                match own {
                    Some(event) => {
                        event.req_amount = (!raise).then_some(amount);
                        event.req_max = max_amount;
                    }
                    None => {
                        let raised = accepted
                            .changes
                            .iter()
                            .any(|change| matches!(change, Change::CeilingRaised { .. }));
                        if raised {
                            push_note(
                                decided,
                                auction.state.seq,
                                "ceiling",
                                now,
                                bid.user,
                                None,
                                max_amount,
                            );
                        }
                    }
                }
            }
            accepted_answer(auction_id, auction, bid, &accepted)
        }
        Err(rejection) => rejection_answer(&rejection),
    }
}

/// Turns changes into stored event rows, rendering each event against the
/// state right after it.
fn record_changes(
    auction_id: AuctionId,
    mut replay: Auction,
    changes: &[Change],
    decided: &mut Decided,
) {
    for change in changes {
        replay.apply(change);
        decided.state_changed = true;
        if let Change::Public(event) = change {
            let mut row = stored_event(auction_id, &replay, event);
            seal(auction_id, &mut decided.head_hash, &mut row);
            decided.events.push(row);
        }
    }
}

/// Links a new event row into the auction's hash chain: its `hash` (also in
/// its data) follows `head`, which moves on to it.
pub fn seal(auction_id: AuctionId, head: &mut String, row: &mut StoredEvent) {
    let previous = if head.is_empty() {
        chain::GENESIS
    } else {
        head.as_str()
    };
    let sealed = chain::event_hash(previous, auction_id, row.seq, &row.name, &row.data)
        .and_then(|hash| Ok((chain::with_hash(&row.data, &hash)?, hash)));
    match sealed {
        Ok((data, hash)) => {
            row.data = data;
            row.hash = Some(hash.clone());
            *head = hash;
        }
        Err(error) => {
            tracing::error!(auction.id = %auction_id, seq = row.seq, error = %error, "could not hash an event");
        }
    }
}

fn accepted_answer(
    auction_id: AuctionId,
    auction: &Auction,
    bid: &BidPayload,
    accepted: &BidAccepted,
) -> StoredAnswer {
    let status = match accepted.outcome {
        BidOutcome::Leading => "leading",
        BidOutcome::Outbid => "outbid",
    };
    let body = json!({
        "request_id": bid.request_id,
        "auction_id": auction_id.to_string(),
        "accepted": true,
        "status": status,
        "seq": accepted.seq,
        "current_price": auction.state.price,
        "min_next_bid": auction.min_next_bid(),
        "ends_at": rfc3339(auction.state.ends_at),
    });
    StoredAnswer {
        http_status: 200,
        body: body.to_string(),
    }
}

/// The HTTP status of a rejection (docs/api.md, Errors).
pub fn rejection_status(rejection: &BidRejection) -> u16 {
    match rejection {
        BidRejection::BelowMinimum { .. } | BidRejection::InvalidAmount(_) => 422,
        BidRejection::AuctionNotOpen
        | BidRejection::AlreadyLeading
        | BidRejection::BuyNowUnavailable
        | BidRejection::AuctionPaused => 409,
    }
}

/// The stored answer of a rejection.
pub fn rejection_answer(rejection: &BidRejection) -> StoredAnswer {
    let extra = match rejection {
        BidRejection::BelowMinimum { min_next_bid } => {
            let mut extra = Map::new();
            extra.insert("min_next_bid".into(), Value::from(*min_next_bid));
            Some(extra)
        }
        _ => None,
    };
    StoredAnswer {
        http_status: rejection_status(rejection),
        body: error_body(rejection.code(), &rejection.to_string(), extra),
    }
}

fn banned_answer() -> StoredAnswer {
    StoredAnswer {
        http_status: 403,
        body: error_body("banned", "your account is banned from bidding", None),
    }
}

/// The answer to a bid by the auction's own creator (shill bidding).
fn creator_answer() -> StoredAnswer {
    StoredAnswer {
        http_status: 403,
        body: error_body(
            "forbidden",
            "you created this auction, so you may not bid on it or buy it",
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AuctionRules, IncrementTable};
    use chrono::Duration;

    fn open_auction(now: DateTime<Utc>) -> Auction {
        Auction::new(
            AuctionRules {
                starting_price: 1_000,
                reserve_price: None,
                buy_now_price: None,
                starts_at: now - Duration::minutes(1),
                extend_window_secs: 0,
                increments: IncrementTable::standard(),
            },
            now + Duration::hours(1),
        )
    }

    fn bid(user: UserId, request_id: &str, amount: i64) -> CommandPayload {
        CommandPayload::Bid(BidPayload {
            user,
            request_id: request_id.into(),
            kind: BidCommandKind::Bid {
                amount,
                max_amount: None,
            },
        })
    }

    #[test]
    fn a_request_id_repeated_within_a_batch_is_placed_once() {
        let now = Utc::now();
        let id = uuid::Uuid::new_v4();
        let user = uuid::Uuid::new_v4();
        let mut auction = open_auction(now);
        let commands = [bid(user, "r1", 1_000), bid(user, "r1", 1_000)];
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &commands,
            &Lookups::default(),
            now,
        );
        assert_eq!(decided.events.len(), 1);
        assert_eq!(decided.new_answers.len(), 1);
        assert_eq!(decided.answers[0], decided.answers[1]);
        assert_eq!(auction.state.bid_count, 1);
    }

    #[test]
    fn a_known_answer_is_replayed_without_deciding_again() {
        let now = Utc::now();
        let id = uuid::Uuid::new_v4();
        let user = uuid::Uuid::new_v4();
        let mut auction = open_auction(now);
        let stored = StoredAnswer {
            http_status: 200,
            body: "{\"first\":true}".into(),
        };
        let mut lookups = Lookups::default();
        lookups.known.insert((user, "r1".into()), stored.clone());
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &[bid(user, "r1", 5_000)],
            &lookups,
            now,
        );
        assert_eq!(decided.answers, vec![CommandAnswer::Bid(stored)]);
        assert!(!decided.needs_commit());
        assert_eq!(auction.state.bid_count, 0);
    }

    #[test]
    fn banned_bidders_are_refused_and_nothing_is_stored() {
        let now = Utc::now();
        let id = uuid::Uuid::new_v4();
        let user = uuid::Uuid::new_v4();
        let mut auction = open_auction(now);
        let mut lookups = Lookups::default();
        lookups.banned.insert(user);
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &[bid(user, "r1", 5_000)],
            &lookups,
            now,
        );
        let CommandAnswer::Bid(answer) = &decided.answers[0] else {
            panic!("a bid answer")
        };
        assert_eq!(answer.http_status, 403);
        assert!(answer.body.contains("\"banned\""));
        assert!(!decided.needs_commit());
    }

    #[test]
    fn the_creator_may_not_bid_or_buy_and_nothing_is_stored() {
        let now = Utc::now();
        let id = uuid::Uuid::new_v4();
        let creator = uuid::Uuid::new_v4();
        let mut auction = open_auction(now);
        let before = auction.clone();
        let lookups = Lookups {
            creator: Some(creator),
            ..Lookups::default()
        };
        let buy = CommandPayload::Bid(BidPayload {
            user: creator,
            request_id: "r2".into(),
            kind: BidCommandKind::BuyNow,
        });
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &[bid(creator, "r1", 5_000), buy],
            &lookups,
            now,
        );
        for answer in &decided.answers {
            let CommandAnswer::Bid(answer) = answer else {
                panic!("a bid answer")
            };
            assert_eq!(answer.http_status, 403);
            assert!(answer.body.contains("\"forbidden\""), "{}", answer.body);
        }
        assert!(!decided.needs_commit());
        assert_eq!(auction, before);

        let other = uuid::Uuid::new_v4();
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &[bid(other, "r1", 1_000)],
            &lookups,
            now,
        );
        assert_eq!(decided.events.len(), 1, "others bid as usual");
    }

    #[test]
    fn rejections_are_stored_as_first_answers_and_change_nothing() {
        let now = Utc::now();
        let id = uuid::Uuid::new_v4();
        let user = uuid::Uuid::new_v4();
        let mut auction = open_auction(now);
        let before = auction.clone();
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &[bid(user, "low", 10)],
            &Lookups::default(),
            now,
        );
        assert_eq!(auction, before);
        assert!(decided.events.is_empty());
        assert_eq!(decided.new_answers.len(), 1);
        assert_eq!(decided.new_answers[0].answer.http_status, 422);
        assert!(decided.new_answers[0]
            .answer
            .body
            .contains("\"min_next_bid\":1000"));
    }

    #[test]
    fn a_banned_leader_is_barred_before_their_maximum_can_bid() {
        let now = Utc::now();
        let id = uuid::Uuid::new_v4();
        let (leader, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let mut auction = open_auction(now);
        let raise = CommandPayload::Bid(BidPayload {
            user: leader,
            request_id: "l1".into(),
            kind: BidCommandKind::Bid {
                amount: 1_000,
                max_amount: Some(50_000),
            },
        });
        decide(
            id,
            &mut auction,
            String::new(),
            &[raise],
            &Lookups::default(),
            now,
        );
        let mut lookups = Lookups::default();
        lookups.banned.insert(leader);
        let decided = decide(
            id,
            &mut auction,
            String::new(),
            &[bid(other, "o1", 1_100)],
            &lookups,
            now,
        );
        assert_eq!(decided.notes.len(), 1);
        assert_eq!(decided.notes[0].kind, "barred");
        assert!(
            decided
                .events
                .iter()
                .all(|event| event.bidder != Some(leader)),
            "{:?}",
            decided.events
        );
        assert_eq!(auction.state.leader.map(|l| l.user), Some(other));
        assert_eq!(auction.state.price, 1_100);
    }
}
