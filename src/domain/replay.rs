//! Replaying an auction's log: voiding bids and checking a stored record.
//!
//! The log of an auction is the list of [`Entry`]s it was decided from: the
//! bidders' own bids (with the amounts they asked for), buy-nows, private
//! ceiling raises and bars, closes, cancels and voids. Everything else in
//! the stored events (automatic counter-bids, soft-close extensions, the
//! `repriced` state after a void) is a consequence the engine derives.
//!
//! [`decide_from_scratch`] decides a log from the auction's creation,
//! leaving out what its voids name; [`Auction::void`] is the lot actor's
//! decision to void bids; [`Auction::decide_entry`] is one step of the
//! replay that `gavel verify` uses, the same decisions the live engine took.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::engine::{
    Auction, AuctionRules, AuctionStatus, BidAccepted, BidRejection, BidRequest, Change,
    CloseError, Event, EventKind,
};
use super::money::Money;
use super::UserId;

/// One decision of an auction's log, in the order it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A bid as the bidder asked for it. `seq` is the bid event that
    /// recorded it; `None` for a leader's ceiling raise, which records no
    /// public event. `raise` marks a request made while the bidder led: it
    /// asked only for a higher maximum (its amount is never bid; `amount`
    /// is then the maximum).
    Bid {
        seq: Option<i64>,
        bidder: UserId,
        amount: Money,
        max_amount: Option<Money>,
        raise: bool,
        at: DateTime<Utc>,
    },
    /// A buy-now at the event `seq` (the `closed` event follows it).
    BuyNow {
        seq: i64,
        buyer: UserId,
        at: DateTime<Utc>,
    },
    /// A ban that kept `user`'s bids.
    Bar { user: UserId, at: DateTime<Utc> },
    /// The end (by the timer or an admin).
    Close { at: DateTime<Utc> },
    /// An admin cancelled the auction.
    Cancel { at: DateTime<Utc> },
    /// An admin paused the auction.
    Pause { at: DateTime<Utc> },
    /// An admin resumed it.
    Resume { at: DateTime<Utc> },
    /// An admin moved its end by `secs` seconds.
    Extend { secs: i64, at: DateTime<Utc> },
    /// An admin withdrew it, with a public reason.
    Withdraw { reason: String, at: DateTime<Utc> },
    /// A void recorded at event `seq`: the bids at `seqs` are left out, and
    /// with `user` also every ceiling raise of theirs logged before it.
    Void {
        seq: i64,
        seqs: Vec<i64>,
        user: Option<UserId>,
        reason: String,
        at: DateTime<Utc>,
    },
}

impl Entry {
    /// The bidder of a bid or buy-now entry.
    pub fn bidder(&self) -> Option<UserId> {
        match self {
            Self::Bid { bidder, .. } => Some(*bidder),
            Self::BuyNow { buyer, .. } => Some(*buyer),
            _ => None,
        }
    }

    /// The seq of the bid event a bid or buy-now entry recorded.
    pub fn bid_seq(&self) -> Option<i64> {
        match self {
            Self::Bid { seq, .. } => *seq,
            Self::BuyNow { seq, .. } => Some(*seq),
            _ => None,
        }
    }
}

/// Why a void was refused. Refusals change nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoidError {
    #[error("the auction has ended; voiding is refused on closed lots")]
    Ended,
    #[error("seq {0} is not a bid placed by a bidder that can be voided (automatic bids follow from the bidder's own bids)")]
    NotABid(i64),
    #[error("there is nothing to void")]
    NothingToVoid,
    #[error("the reason must not be empty")]
    NoReason,
}

/// The indexes of the entries that the voids in `entries` leave out.
fn voided_indexes(entries: &[Entry]) -> HashSet<usize> {
    let mut voided = HashSet::new();
    for (at, entry) in entries.iter().enumerate() {
        let Entry::Void { seqs, user, .. } = entry else {
            continue;
        };
        for (index, earlier) in entries[..at].iter().enumerate() {
            let by_seq = earlier.bid_seq().is_some_and(|seq| seqs.contains(&seq));
            let by_user = user.is_some() && earlier.bidder() == *user;
            if by_seq || by_user {
                voided.insert(index);
            }
        }
    }
    voided
}

/// Decides `entries` from the auction's creation (`rules`, `initial_ends_at`),
/// leaving out every bid that a void among them names. Rejected entries
/// (a bid that is too low once others are gone) change nothing.
pub fn decide_from_scratch(
    rules: &AuctionRules,
    initial_ends_at: DateTime<Utc>,
    entries: &[Entry],
) -> Auction {
    let voided = voided_indexes(entries);
    let mut auction = Auction::new(rules.clone(), initial_ends_at);
    for (index, entry) in entries.iter().enumerate() {
        if voided.contains(&index) || matches!(entry, Entry::Void { .. }) {
            continue;
        }
        let _ = auction.decide_entry(entry);
    }
    auction
}

/// What deciding one entry came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Bid(Result<BidAccepted, BidRejection>),
    Changes(Vec<Change>),
    Refused,
}

impl Decision {
    /// The changes it made (none when refused).
    pub fn changes(&self) -> &[Change] {
        match self {
            Self::Bid(Ok(accepted)) => &accepted.changes,
            Self::Changes(changes) => changes,
            Self::Bid(Err(_)) | Self::Refused => &[],
        }
    }
}

impl Auction {
    /// Decides one non-void entry as the live engine decides its command.
    /// A void entry is refused here: see [`Auction::void`].
    pub fn decide_entry(&mut self, entry: &Entry) -> Decision {
        match entry {
            Entry::Bid {
                bidder,
                amount,
                max_amount,
                raise,
                at,
                ..
            } => {
                // A leader's request asked only for a higher maximum of
                // the lead they held. Where the replay finds them no longer
                // leading (the bids that won them the lead were voided), the
                // raise goes with that lead: it is dropped, not bid anew.
                let leads = self.state.leader.is_some_and(|l| l.user == *bidder);
                if *raise && !leads {
                    return Decision::Refused;
                }
                let amount = *amount;
                Decision::Bid(self.place_bid(BidRequest {
                    bidder: *bidder,
                    amount,
                    max_amount: *max_amount,
                    at: *at,
                }))
            }
            Entry::BuyNow { buyer, at, .. } => Decision::Bid(self.buy_now(*buyer, *at)),
            Entry::Bar { user, .. } => match self.bar(*user) {
                Some(changes) => Decision::Changes(changes),
                None => Decision::Refused,
            },
            Entry::Close { at } => match self.close(*at, true) {
                Ok(changes) => Decision::Changes(changes),
                Err(CloseError::AlreadyEnded | CloseError::NotDue) => Decision::Refused,
            },
            Entry::Cancel { at } => match self.cancel(*at) {
                Ok(changes) => Decision::Changes(changes),
                Err(_) => Decision::Refused,
            },
            Entry::Pause { at } => self.pause(*at).map_or(Decision::Refused, Decision::Changes),
            Entry::Resume { at } => self
                .resume(*at)
                .map_or(Decision::Refused, Decision::Changes),
            Entry::Extend { secs, at } => self
                .extend_by(*secs, *at)
                .map_or(Decision::Refused, Decision::Changes),
            Entry::Withdraw { reason, at } => self
                .withdraw(reason, *at)
                .map_or(Decision::Refused, Decision::Changes),
            Entry::Void { .. } => Decision::Refused,
        }
    }

    /// Voids bids: `seqs` (bid events placed by bidders) or, with `user`,
    /// every bid and ceiling raise of that bidder in `log` (this auction's
    /// log so far). The state is replayed from the log without them; the
    /// changes are a `voided` event naming the voided seqs and a `repriced`
    /// event with the replayed state. `self.state.seq` must be the log's.
    pub fn void(
        &mut self,
        log: &[Entry],
        seqs: &[i64],
        user: Option<UserId>,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Change>, VoidError> {
        if self.state.status != AuctionStatus::Live {
            return Err(VoidError::Ended);
        }
        if reason.trim().is_empty() {
            return Err(VoidError::NoReason);
        }
        let already = voided_indexes(log);
        let live: Vec<(usize, &Entry)> = log
            .iter()
            .enumerate()
            .filter(|(index, entry)| !already.contains(index) && entry.bidder().is_some())
            .collect();
        let mut targets: Vec<i64> = Vec::new();
        for &seq in seqs {
            let found = live
                .iter()
                .any(|(_, entry)| matches!(entry, Entry::Bid { seq: Some(s), .. } if *s == seq));
            if !found {
                return Err(VoidError::NotABid(seq));
            }
            if !targets.contains(&seq) {
                targets.push(seq);
            }
        }
        if let Some(user) = user {
            let mut any = false;
            for (_, entry) in &live {
                if entry.bidder() == Some(user) {
                    any = true;
                    if let Some(seq) = entry.bid_seq() {
                        if !targets.contains(&seq) {
                            targets.push(seq);
                        }
                    }
                }
            }
            if !any && targets.is_empty() {
                return Err(VoidError::NothingToVoid);
            }
        } else if targets.is_empty() {
            return Err(VoidError::NothingToVoid);
        }
        targets.sort_unstable();

        let void_seq = self.state.seq + 1;
        let mut with_void = log.to_vec();
        with_void.push(Entry::Void {
            seq: void_seq,
            seqs: targets.clone(),
            user,
            reason: reason.to_string(),
            at,
        });
        let replayed = decide_from_scratch(&self.rules, self.initial_ends_at, &with_void);
        let voided = Change::Public(Event {
            seq: void_seq,
            at,
            kind: EventKind::Voided {
                seqs: targets,
                user,
                reason: reason.to_string(),
            },
        });
        let repriced = Change::Public(Event {
            seq: void_seq + 1,
            at,
            kind: EventKind::Repriced {
                price: replayed.state.price,
                leader: replayed.state.leader,
                bid_count: replayed.state.bid_count,
                ends_at: replayed.state.ends_at,
            },
        });
        let changes = vec![voided, repriced];
        for change in &changes {
            self.apply(change);
        }
        Ok(changes)
    }
}
