//! The bidding engine: the rules of docs/bidding.md as pure functions over an [`Auction`].
//!
//! Every decision produces a list of [`Change`]s and applies them through
//! [`Auction::apply`], the only function that mutates the state. Public
//! changes are [`Event`]s with consecutive `seq` numbers; the one private
//! change is a leader raising their own ceiling. Replaying the changes of an
//! auction from its creation rebuilds its state exactly.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::increments::IncrementTable;
use super::money::{Money, MAX_AMOUNT};
use super::UserId;

/// What never changes after an auction is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionRules {
    pub starting_price: Money,
    pub reserve_price: Option<Money>,
    pub buy_now_price: Option<Money>,
    pub starts_at: DateTime<Utc>,
    pub extend_window_secs: i64,
    pub increments: IncrementTable,
}

/// What is wrong with a buy-now price for a lot with these starting and
/// reserve prices: it must be above the starting price, and not below the
/// reserve (buying now sells at once: below the reserve it would sell for
/// less than the seller accepts). `None` when it is fine.
pub fn buy_now_problem(
    starting_price: Money,
    reserve_price: Option<Money>,
    buy_now_price: Money,
) -> Option<&'static str> {
    if buy_now_price <= starting_price {
        Some("must be above the starting price")
    } else if reserve_price.is_some_and(|reserve| buy_now_price < reserve) {
        Some("must not be below the reserve price")
    } else {
        None
    }
}

/// Where an auction is in its life, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuctionStatus {
    /// Scheduled or open: which one depends on the clock.
    Live,
    Closed,
    Cancelled,
}

/// The status clients see (docs/api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicStatus {
    Scheduled,
    Open,
    Closed,
    Cancelled,
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The current leader and their private ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    pub user: UserId,
    pub ceiling: Money,
}

/// What changes as bids arrive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionState {
    pub status: AuctionStatus,
    pub price: Money,
    pub leader: Option<Leader>,
    pub bid_count: i64,
    pub seq: i64,
    pub ends_at: DateTime<Utc>,
    pub winner: Option<UserId>,
    /// Since when an admin has paused the auction (bids are refused with
    /// `auction_paused`; resuming moves the end by the paused time).
    #[serde(default)]
    pub paused_at: Option<DateTime<Utc>>,
    /// When the auction actually ended (closed, withdrawn or cancelled):
    /// before `ends_at` when it ended early. `None` while live.
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
}

/// An auction's rules and state together: the unit the engine decides on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    pub rules: AuctionRules,
    pub state: AuctionState,
    /// The end the auction was created with, before any soft-close
    /// extension: where a replay of its log starts from.
    #[serde(default)]
    pub initial_ends_at: DateTime<Utc>,
    /// Bidders banned while their bids were kept ([`Change::Barred`]): their
    /// maximum never bids for them again and they never win this auction.
    #[serde(default)]
    pub barred: BTreeSet<UserId>,
}

/// How a recorded bid came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BidKind {
    /// Placed by the bidder.
    Bid,
    /// Placed by the engine on behalf of a bidder's ceiling.
    Auto,
    /// A buy-now purchase.
    BuyNow,
}

impl BidKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bid => "bid",
            Self::Auto => "auto",
            Self::BuyNow => "buy_now",
        }
    }
}

/// A public event's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A recorded bid: the price is now `amount` and `bidder` leads with
    /// `ceiling` (private; never published).
    Bid {
        bidder: UserId,
        amount: Money,
        kind: BidKind,
        ceiling: Money,
    },
    /// Soft close moved the end.
    Extended { ends_at: DateTime<Utc> },
    /// The auction ended; `winner` is the leader when the reserve is met.
    Closed { winner: Option<UserId> },
    /// An admin cancelled the auction.
    Cancelled,
    /// An admin paused the auction: bids are refused until it resumes.
    Paused,
    /// An admin resumed it; the end moved by the paused time.
    Resumed { ends_at: DateTime<Utc> },
    /// An admin moved the end by `secs` seconds (an `extended` event).
    ExtendedByAdmin { ends_at: DateTime<Utc>, secs: i64 },
    /// An admin withdrew the auction: closed without a winner, with a
    /// public reason (a `closed` event).
    Withdrawn { reason: String },
    /// An admin voided bids (`seqs`, the bidders' own bids; `user` when all
    /// of one bidder's bids were voided, private). The [`EventKind::Repriced`]
    /// that follows carries the state replayed without them.
    Voided {
        seqs: Vec<i64>,
        user: Option<UserId>,
        reason: String,
    },
    /// The state after a void, replayed from the log without the voided bids.
    Repriced {
        price: Money,
        leader: Option<Leader>,
        bid_count: i64,
        ends_at: DateTime<Utc>,
    },
}

impl EventKind {
    /// The event name used on the wire (`bid`, `extended`, `closed`,
    /// `cancelled`, `voided`, `repriced`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Bid { .. } => "bid",
            Self::Extended { .. } => "extended",
            Self::Closed { .. } => "closed",
            Self::Cancelled => "cancelled",
            Self::Voided { .. } => "voided",
            Self::Repriced { .. } => "repriced",
            Self::Paused => "paused",
            Self::Resumed { .. } => "resumed",
            Self::ExtendedByAdmin { .. } => "extended",
            Self::Withdrawn { .. } => "closed",
        }
    }
}

/// A public event: one row of the auction's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

/// Anything that changes an auction's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Public(Event),
    /// The leader raised their ceiling without moving the price.
    CeilingRaised {
        ceiling: Money,
    },
    /// A bidder was banned with their bids kept: from now on their maximum
    /// never bids for them (a leading maximum falls to the price) and they
    /// cannot win. Private, like a raised ceiling.
    Barred {
        user: UserId,
    },
}

/// A bid as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BidRequest {
    pub bidder: UserId,
    pub amount: Money,
    pub max_amount: Option<Money>,
    pub at: DateTime<Utc>,
}

/// Whether the bidder leads once every automatic counter-bid is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BidOutcome {
    Leading,
    Outbid,
}

/// An accepted bid: its outcome, the seq that recorded it and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidAccepted {
    pub outcome: BidOutcome,
    pub seq: i64,
    pub changes: Vec<Change>,
}

/// Why a bid was refused. Refusals change nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BidRejection {
    #[error("the bid is below the minimum next bid of {min_next_bid}")]
    BelowMinimum { min_next_bid: Money },
    #[error("the auction is not open for bids")]
    AuctionNotOpen,
    #[error("you are already leading; raise your maximum to bid again")]
    AlreadyLeading,
    #[error("{0}")]
    InvalidAmount(String),
    #[error("buy now is not available for this auction any more")]
    BuyNowUnavailable,
    #[error("the auction is paused; bids are taken again when it resumes")]
    AuctionPaused,
}

impl BidRejection {
    /// The API error code (docs/api.md, Errors).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BelowMinimum { .. } => "below_minimum",
            Self::AuctionNotOpen => "auction_not_open",
            Self::AlreadyLeading => "already_leading",
            Self::InvalidAmount(_) => "invalid_amount",
            Self::BuyNowUnavailable => "buy_now_unavailable",
            Self::AuctionPaused => "auction_paused",
        }
    }
}

/// The longest an admin may extend an auction by at once (a week).
pub const MAX_ADMIN_EXTENSION_SECS: i64 = 7 * 86_400;

/// Why an admin's lot control (pause, resume, extend, withdraw) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("the auction has already ended")]
    AlreadyEnded,
    #[error("the auction is already paused")]
    AlreadyPaused,
    #[error("the auction is not paused")]
    NotPaused,
    #[error("an extension must be between 1 second and a week")]
    BadExtension,
}

/// Why an auction could not be closed or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseError {
    #[error("the auction has already ended")]
    AlreadyEnded,
    #[error("the auction's end time has not been reached")]
    NotDue,
}

impl Auction {
    /// A new auction with no bids yet.
    pub fn new(rules: AuctionRules, ends_at: DateTime<Utc>) -> Self {
        let price = rules.starting_price;
        Self {
            rules,
            state: AuctionState {
                status: AuctionStatus::Live,
                price,
                leader: None,
                bid_count: 0,
                seq: 0,
                ends_at,
                winner: None,
                paused_at: None,
                closed_at: None,
            },
            initial_ends_at: ends_at,
            barred: BTreeSet::new(),
        }
    }

    /// Bars `user` from this auction (a ban that keeps their bids). `None`
    /// when they already are.
    pub fn bar(&mut self, user: UserId) -> Option<Vec<Change>> {
        if self.barred.contains(&user) {
            return None;
        }
        let mut changes = Vec::new();
        self.commit(&mut changes, Change::Barred { user });
        Some(changes)
    }

    /// The increment at `price` under this auction's table.
    pub fn increment_at(&self, price: Money) -> Money {
        self.rules.increments.increment_at(price)
    }

    /// The least amount a new bid must carry.
    pub fn min_next_bid(&self) -> Money {
        match self.state.leader {
            None => self.rules.starting_price,
            Some(_) => self.state.price + self.increment_at(self.state.price),
        }
    }

    /// True when there is no reserve, or the leader holds the price at or above it.
    pub fn reserve_met(&self) -> bool {
        match self.rules.reserve_price {
            None => true,
            Some(reserve) => self.state.leader.is_some() && self.state.price >= reserve,
        }
    }

    /// The status a client sees at `now`.
    pub fn public_status(&self, now: DateTime<Utc>) -> PublicStatus {
        match self.state.status {
            AuctionStatus::Closed => PublicStatus::Closed,
            AuctionStatus::Cancelled => PublicStatus::Cancelled,
            AuctionStatus::Live if now < self.rules.starts_at => PublicStatus::Scheduled,
            AuctionStatus::Live => PublicStatus::Open,
        }
    }

    /// Whether bids are taken at `now` (rule 1; never while paused).
    pub fn is_open_at(&self, now: DateTime<Utc>) -> bool {
        self.state.status == AuctionStatus::Live
            && self.state.paused_at.is_none()
            && self.rules.starts_at <= now
            && now < self.state.ends_at
    }

    /// Whether the auction is live, not paused, and its end time has passed.
    pub fn is_due_to_close(&self, now: DateTime<Utc>) -> bool {
        self.state.status == AuctionStatus::Live
            && self.state.paused_at.is_none()
            && now >= self.state.ends_at
    }

    /// Whether an admin has paused it.
    pub fn is_paused(&self) -> bool {
        self.state.paused_at.is_some()
    }

    /// Pauses a live auction that has not reached its end.
    pub fn pause(&mut self, at: DateTime<Utc>) -> Result<Vec<Change>, ControlError> {
        self.check_live()?;
        if self.is_paused() {
            return Err(ControlError::AlreadyPaused);
        }
        if at >= self.state.ends_at {
            return Err(ControlError::AlreadyEnded);
        }
        Ok(self.admin_event(at, EventKind::Paused))
    }

    /// Resumes a paused auction: the end moves by the time it was paused.
    pub fn resume(&mut self, at: DateTime<Utc>) -> Result<Vec<Change>, ControlError> {
        self.check_live()?;
        let Some(since) = self.state.paused_at else {
            return Err(ControlError::NotPaused);
        };
        let paused_for = (at - since).max(Duration::zero());
        let ends_at = self.state.ends_at + paused_for;
        Ok(self.admin_event(at, EventKind::Resumed { ends_at }))
    }

    /// Moves a live auction's end by `secs` seconds (1 to a week).
    pub fn extend_by(&mut self, secs: i64, at: DateTime<Utc>) -> Result<Vec<Change>, ControlError> {
        self.check_live()?;
        if !(1..=MAX_ADMIN_EXTENSION_SECS).contains(&secs) {
            return Err(ControlError::BadExtension);
        }
        let ends_at = self.state.ends_at.max(at) + Duration::seconds(secs);
        Ok(self.admin_event(at, EventKind::ExtendedByAdmin { ends_at, secs }))
    }

    /// Withdraws a live auction: closed, nobody wins, with a public reason.
    pub fn withdraw(
        &mut self,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Vec<Change>, ControlError> {
        self.check_live()?;
        let reason = reason.to_string();
        Ok(self.admin_event(at, EventKind::Withdrawn { reason }))
    }

    fn check_live(&self) -> Result<(), ControlError> {
        if self.state.status == AuctionStatus::Live {
            Ok(())
        } else {
            Err(ControlError::AlreadyEnded)
        }
    }

    fn admin_event(&mut self, at: DateTime<Utc>, kind: EventKind) -> Vec<Change> {
        let mut changes = Vec::new();
        let event = Event {
            seq: self.state.seq + 1,
            at,
            kind,
        };
        self.commit(&mut changes, Change::Public(event));
        changes
    }

    /// Decides a bid (rules 1–8). On acceptance the state has moved on.
    pub fn place_bid(&mut self, bid: BidRequest) -> Result<BidAccepted, BidRejection> {
        check_bid_amounts(bid.amount, bid.max_amount)?;
        if self.is_paused() && self.state.status == AuctionStatus::Live {
            return Err(BidRejection::AuctionPaused);
        }
        if !self.is_open_at(bid.at) {
            return Err(BidRejection::AuctionNotOpen);
        }
        let ceiling = bid.max_amount.map_or(bid.amount, |max| max.max(bid.amount));
        let before = (self.state.price, self.state.leader.map(|l| l.user));
        let mut changes = Vec::new();

        let outcome = match self.state.leader {
            // Rule 2: the leader may only raise their ceiling, and only
            // through `max_amount` (a plain bid never raises it).
            Some(leader) if leader.user == bid.bidder => {
                if bid.max_amount.is_none_or(|max| max <= leader.ceiling) {
                    return Err(BidRejection::AlreadyLeading);
                }
                let reserve_jump = self
                    .rules
                    .reserve_price
                    .filter(|&reserve| ceiling >= reserve && self.state.price < reserve);
                match reserve_jump {
                    Some(reserve) => self.record_bid(
                        &mut changes,
                        bid,
                        bid.bidder,
                        reserve,
                        BidKind::Bid,
                        ceiling,
                    ),
                    None => self.commit(&mut changes, Change::CeilingRaised { ceiling }),
                }
                BidOutcome::Leading
            }
            leader => {
                // Rule 3.
                let min_next_bid = self.min_next_bid();
                if bid.amount < min_next_bid {
                    return Err(BidRejection::BelowMinimum { min_next_bid });
                }
                match leader {
                    // Rule 4 (and 7).
                    None => {
                        let price = self.with_reserve(bid.amount, ceiling);
                        self.record_bid(
                            &mut changes,
                            bid,
                            bid.bidder,
                            price,
                            BidKind::Bid,
                            ceiling,
                        );
                        BidOutcome::Leading
                    }
                    // Rule 5: the newcomer's ceiling beats the leader's.
                    Some(current) if ceiling > current.ceiling => {
                        if current.ceiling > self.state.price {
                            self.record_bid(
                                &mut changes,
                                bid,
                                current.user,
                                current.ceiling,
                                BidKind::Auto,
                                current.ceiling,
                            );
                        }
                        let beat = current.ceiling + self.increment_at(current.ceiling);
                        let price = self.with_reserve(bid.amount.max(ceiling.min(beat)), ceiling);
                        self.record_bid(
                            &mut changes,
                            bid,
                            bid.bidder,
                            price,
                            BidKind::Bid,
                            ceiling,
                        );
                        BidOutcome::Leading
                    }
                    // Rule 6: the leader's ceiling holds (ties go to the earlier bid).
                    Some(current) => {
                        self.record_bid(
                            &mut changes,
                            bid,
                            bid.bidder,
                            ceiling,
                            BidKind::Bid,
                            ceiling,
                        );
                        let answer = current.ceiling.min(ceiling + self.increment_at(ceiling));
                        let price = self.with_reserve(answer, current.ceiling);
                        self.record_bid(
                            &mut changes,
                            bid,
                            current.user,
                            price,
                            BidKind::Auto,
                            current.ceiling,
                        );
                        BidOutcome::Outbid
                    }
                }
            }
        };

        let own_seq = changes
            .iter()
            .filter_map(|change| match change {
                Change::Public(Event {
                    seq,
                    kind: EventKind::Bid { bidder, .. },
                    ..
                }) if *bidder == bid.bidder => Some(*seq),
                _ => None,
            })
            .next_back()
            .unwrap_or(self.state.seq);

        // Rule 8: soft close, when the price or the leader moved.
        let after = (self.state.price, self.state.leader.map(|l| l.user));
        if after != before {
            self.extend_if_closing(&mut changes, bid.at);
        }
        Ok(BidAccepted {
            outcome,
            seq: own_seq,
            changes,
        })
    }

    /// Rule 9: buy now, while no bid has been placed or the reserve is unmet,
    /// at a buy-now price not below the reserve.
    pub fn buy_now(
        &mut self,
        buyer: UserId,
        at: DateTime<Utc>,
    ) -> Result<BidAccepted, BidRejection> {
        if self.is_paused() && self.state.status == AuctionStatus::Live {
            return Err(BidRejection::AuctionPaused);
        }
        if !self.is_open_at(at) {
            return Err(BidRejection::AuctionNotOpen);
        }
        let Some(price) = self.rules.buy_now_price else {
            return Err(BidRejection::BuyNowUnavailable);
        };
        // Never sell below the reserve (creation refuses such a buy-now
        // price; auctions created before that rule keep it, unusable).
        if self
            .rules
            .reserve_price
            .is_some_and(|reserve| price < reserve)
        {
            return Err(BidRejection::BuyNowUnavailable);
        }
        if self.state.bid_count > 0 && self.reserve_met() {
            return Err(BidRejection::BuyNowUnavailable);
        }
        // Buying now must never lower the price (promise 3).
        if self.state.leader.is_some() && self.state.price >= price {
            return Err(BidRejection::BuyNowUnavailable);
        }
        let mut changes = Vec::new();
        let request = BidRequest {
            bidder: buyer,
            amount: price,
            max_amount: None,
            at,
        };
        self.record_bid(&mut changes, request, buyer, price, BidKind::BuyNow, price);
        let seq = self.state.seq;
        self.commit(
            &mut changes,
            Change::Public(Event {
                seq: self.state.seq + 1,
                at,
                kind: EventKind::Closed {
                    winner: Some(buyer),
                },
            }),
        );
        Ok(BidAccepted {
            outcome: BidOutcome::Leading,
            seq,
            changes,
        })
    }

    /// Rule 10: closes the auction. `force` ends it now (an admin's early
    /// close); otherwise the end time must have passed.
    pub fn close(&mut self, at: DateTime<Utc>, force: bool) -> Result<Vec<Change>, CloseError> {
        if self.state.status != AuctionStatus::Live {
            return Err(CloseError::AlreadyEnded);
        }
        if !force && (at < self.state.ends_at || self.is_paused()) {
            return Err(CloseError::NotDue);
        }
        // A barred leader never wins (docs/bidding.md, Voids and bans).
        let winner = self
            .state
            .leader
            .filter(|leader| self.reserve_met() && !self.barred.contains(&leader.user))
            .map(|leader| leader.user);
        let mut changes = Vec::new();
        self.commit(
            &mut changes,
            Change::Public(Event {
                seq: self.state.seq + 1,
                at,
                kind: EventKind::Closed { winner },
            }),
        );
        Ok(changes)
    }

    /// Cancels a live auction: nobody wins.
    pub fn cancel(&mut self, at: DateTime<Utc>) -> Result<Vec<Change>, CloseError> {
        if self.state.status != AuctionStatus::Live {
            return Err(CloseError::AlreadyEnded);
        }
        let mut changes = Vec::new();
        self.commit(
            &mut changes,
            Change::Public(Event {
                seq: self.state.seq + 1,
                at,
                kind: EventKind::Cancelled,
            }),
        );
        Ok(changes)
    }

    /// Applies one change. The only place the state is mutated.
    pub fn apply(&mut self, change: &Change) {
        let state = &mut self.state;
        match change {
            Change::CeilingRaised { ceiling } => {
                if let Some(leader) = state.leader.as_mut() {
                    leader.ceiling = *ceiling;
                }
            }
            Change::Barred { user } => {
                self.barred.insert(*user);
                if let Some(leader) = state.leader.as_mut().filter(|l| l.user == *user) {
                    leader.ceiling = state.price;
                }
            }
            Change::Public(event) => {
                state.seq = event.seq;
                match &event.kind {
                    EventKind::Bid {
                        bidder,
                        amount,
                        ceiling,
                        kind,
                    } => {
                        state.price = *amount;
                        state.bid_count += 1;
                        let keeps_lead = state.leader.is_some_and(|l| l.user == *bidder);
                        let takes_lead = *kind == BidKind::BuyNow
                            || state.leader.is_none_or(|l| *ceiling > l.ceiling);
                        if keeps_lead || takes_lead {
                            state.leader = Some(Leader {
                                user: *bidder,
                                ceiling: *ceiling,
                            });
                        }
                    }
                    EventKind::Extended { ends_at } => state.ends_at = *ends_at,
                    EventKind::Closed { winner } => {
                        state.status = AuctionStatus::Closed;
                        state.winner = *winner;
                        state.paused_at = None;
                        state.closed_at = Some(event.at);
                    }
                    EventKind::Cancelled => {
                        state.status = AuctionStatus::Cancelled;
                        state.winner = None;
                        state.closed_at = Some(event.at);
                    }
                    EventKind::Voided { .. } => {}
                    EventKind::Paused => state.paused_at = Some(event.at),
                    EventKind::Resumed { ends_at } => {
                        state.paused_at = None;
                        state.ends_at = *ends_at;
                    }
                    EventKind::ExtendedByAdmin { ends_at, .. } => state.ends_at = *ends_at,
                    EventKind::Withdrawn { .. } => {
                        state.status = AuctionStatus::Closed;
                        state.winner = None;
                        state.paused_at = None;
                        state.closed_at = Some(event.at);
                    }
                    EventKind::Repriced {
                        price,
                        leader,
                        bid_count,
                        ends_at,
                    } => {
                        state.price = *price;
                        state.leader = *leader;
                        state.bid_count = *bid_count;
                        state.ends_at = *ends_at;
                    }
                }
            }
        }
    }

    /// Rule 7: the price a leader with `ceiling` holds once the reserve is considered.
    fn with_reserve(&self, price: Money, ceiling: Money) -> Money {
        match self.rules.reserve_price {
            Some(reserve) if ceiling >= reserve && price < reserve => reserve,
            _ => price,
        }
    }

    fn record_bid(
        &mut self,
        changes: &mut Vec<Change>,
        bid: BidRequest,
        bidder: UserId,
        amount: Money,
        kind: BidKind,
        ceiling: Money,
    ) {
        let event = Event {
            seq: self.state.seq + 1,
            at: bid.at,
            kind: EventKind::Bid {
                bidder,
                amount,
                kind,
                ceiling,
            },
        };
        self.commit(changes, Change::Public(event));
    }

    fn extend_if_closing(&mut self, changes: &mut Vec<Change>, at: DateTime<Utc>) {
        let window = self.rules.extend_window_secs;
        if window <= 0 || self.state.status != AuctionStatus::Live {
            return;
        }
        let window = Duration::seconds(window);
        if self.state.ends_at - at < window {
            let event = Event {
                seq: self.state.seq + 1,
                at,
                kind: EventKind::Extended {
                    ends_at: at + window,
                },
            };
            self.commit(changes, Change::Public(event));
        }
    }

    fn commit(&mut self, changes: &mut Vec<Change>, change: Change) {
        self.apply(&change);
        changes.push(change);
    }
}

/// Checks a bid's amounts before anything else (docs/api.md `invalid_amount`).
pub fn check_bid_amounts(amount: Money, max_amount: Option<Money>) -> Result<(), BidRejection> {
    if amount <= 0 || amount > MAX_AMOUNT {
        return Err(BidRejection::InvalidAmount(format!(
            "amount must be between 1 and {MAX_AMOUNT}"
        )));
    }
    if let Some(max) = max_amount {
        if max > MAX_AMOUNT {
            return Err(BidRejection::InvalidAmount(format!(
                "max_amount must be at most {MAX_AMOUNT}"
            )));
        }
        if max < amount {
            return Err(BidRejection::InvalidAmount(
                "max_amount must not be less than amount".into(),
            ));
        }
    }
    Ok(())
}
