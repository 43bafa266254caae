//! Tests of the bidding engine against docs/bidding.md.
//!
//! Three layers: table-driven unit tests, one per rule (1–10) plus invalid
//! amounts; a worked proxy-bidding sequence checked event by event; and
//! property tests that drive random bid sequences through the engine and check
//! the invariants the design promises (the price never falls, ties go to the
//! earlier bidder, replaying the changes rebuilds the state, …).

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::engine::check_bid_amounts;
use super::{
    Auction, AuctionRules, AuctionStatus, BidAccepted, BidKind, BidOutcome, BidRejection,
    BidRequest, Change, CloseError, Event, EventKind, IncrementTable, Leader, Money, PublicStatus,
    UserId, MAX_AMOUNT,
};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const ALICE: UserId = UserId::from_u128(0xA11CE);
const BOB: UserId = UserId::from_u128(0xB0B);
const CAROL: UserId = UserId::from_u128(0xCA201);
const DAVE: UserId = UserId::from_u128(0xDA7E);

/// The fixture auction opens at `at(0)` and ends at `at(END)`.
const END: i64 = 3_600;
/// The fixture's soft-close window, in seconds.
const WINDOW: i64 = 120;

/// A fixed instant `secs` seconds after the fixture auction opens.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_900_000_000 + secs, 0).expect("the fixture times are in range")
}

/// Seconds since the fixture auction opened.
fn secs_of(time: DateTime<Utc>) -> i64 {
    (time - at(0)).num_seconds()
}

/// Builds an auction that says only what a test cares about.
struct AuctionBuilder {
    rules: AuctionRules,
    ends_at: DateTime<Utc>,
}

impl AuctionBuilder {
    /// Starting price 100, no reserve, no buy now, open from `at(0)` to
    /// `at(END)` with a `WINDOW`-second soft close.
    fn new() -> Self {
        Self {
            rules: AuctionRules {
                starting_price: 100,
                reserve_price: None,
                buy_now_price: None,
                starts_at: at(0),
                extend_window_secs: WINDOW,
                increments: IncrementTable::standard(),
            },
            ends_at: at(END),
        }
    }

    fn starting_price(mut self, price: Money) -> Self {
        self.rules.starting_price = price;
        self
    }

    fn reserve(mut self, reserve: Money) -> Self {
        self.rules.reserve_price = Some(reserve);
        self
    }

    fn buy_now(mut self, price: Money) -> Self {
        self.rules.buy_now_price = Some(price);
        self
    }

    fn extend_window_secs(mut self, secs: i64) -> Self {
        self.rules.extend_window_secs = secs;
        self
    }

    fn build(self) -> Auction {
        Auction::new(self.rules, self.ends_at)
    }
}

fn bid(bidder: UserId, amount: Money, max_amount: Option<Money>, secs: i64) -> BidRequest {
    BidRequest {
        bidder,
        amount,
        max_amount,
        at: at(secs),
    }
}

/// Places a bid that must be accepted.
fn place(
    auction: &mut Auction,
    bidder: UserId,
    amount: Money,
    max_amount: Option<Money>,
    secs: i64,
) -> BidAccepted {
    auction
        .place_bid(bid(bidder, amount, max_amount, secs))
        .unwrap_or_else(|rejection| {
            panic!("a bid of {amount} (max {max_amount:?}) at {secs}s was refused: {rejection}")
        })
}

/// Places a bid that must be refused, and checks the refusal changed nothing.
fn refuse(auction: &mut Auction, request: BidRequest) -> BidRejection {
    let before = auction.clone();
    let rejection = auction
        .place_bid(request)
        .expect_err("the bid should be refused");
    assert_eq!(*auction, before, "a refused bid changes nothing");
    rejection
}

/// A change, reduced to what the tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Bid(i64, UserId, Money, BidKind),
    Extended(i64, i64),
    Closed(i64, Option<UserId>),
    Cancelled(i64),
    CeilingRaised(Money),
}

fn placed(seq: i64, bidder: UserId, amount: Money) -> Seen {
    Seen::Bid(seq, bidder, amount, BidKind::Bid)
}

fn auto(seq: i64, bidder: UserId, amount: Money) -> Seen {
    Seen::Bid(seq, bidder, amount, BidKind::Auto)
}

fn bought(seq: i64, bidder: UserId, amount: Money) -> Seen {
    Seen::Bid(seq, bidder, amount, BidKind::BuyNow)
}

fn extended(seq: i64, ends_at_secs: i64) -> Seen {
    Seen::Extended(seq, ends_at_secs)
}

fn closed(seq: i64, winner: Option<UserId>) -> Seen {
    Seen::Closed(seq, winner)
}

fn seen(changes: &[Change]) -> Vec<Seen> {
    changes
        .iter()
        .map(|change| match change {
            Change::CeilingRaised { ceiling } => Seen::CeilingRaised(*ceiling),
            Change::Public(Event { seq, kind, .. }) => match kind {
                EventKind::Bid {
                    bidder,
                    amount,
                    kind,
                    ..
                } => Seen::Bid(*seq, *bidder, *amount, *kind),
                EventKind::Extended { ends_at } => Seen::Extended(*seq, secs_of(*ends_at)),
                EventKind::Closed { winner } => Seen::Closed(*seq, *winner),
                EventKind::Cancelled => Seen::Cancelled(*seq),
                EventKind::Voided { .. }
                | EventKind::Repriced { .. }
                | EventKind::Paused
                | EventKind::Resumed { .. }
                | EventKind::ExtendedByAdmin { .. }
                | EventKind::Withdrawn { .. } => {
                    panic!("the bidding rules never make admin events")
                }
            },
            Change::Barred { .. } => panic!("the bidding rules never bar"),
        })
        .collect()
}

/// The private ceilings carried by the bid events, in order.
fn ceilings(changes: &[Change]) -> Vec<Money> {
    changes
        .iter()
        .filter_map(|change| match change {
            Change::Public(Event {
                kind: EventKind::Bid { ceiling, .. },
                ..
            }) => Some(*ceiling),
            _ => None,
        })
        .collect()
}

fn leader(user: UserId, ceiling: Money) -> Option<Leader> {
    Some(Leader { user, ceiling })
}

/// Rebuilds an auction from its rules, its original end and its changes.
fn replay(rules: &AuctionRules, ends_at: DateTime<Utc>, changes: &[Change]) -> Auction {
    let mut auction = Auction::new(rules.clone(), ends_at);
    for change in changes {
        auction.apply(change);
    }
    auction
}

// ---------------------------------------------------------------------------
// Rule 1: only while open
// ---------------------------------------------------------------------------

#[test]
fn bids_are_taken_from_starts_at_until_just_before_ends_at() {
    let cases = [
        ("before the opening", -1, false),
        ("at the opening", 0, true),
        ("in the middle", END / 2, true),
        ("one second before the end", END - 1, true),
        ("at the end", END, false),
        ("after the end", END + 1, false),
    ];
    for (name, secs, open) in cases {
        let mut auction = AuctionBuilder::new().build();
        assert_eq!(auction.is_open_at(at(secs)), open, "{name}");
        if open {
            let accepted = place(&mut auction, ALICE, 100, None, secs);
            assert_eq!(seen(&accepted.changes)[0], placed(1, ALICE, 100), "{name}");
        } else {
            let rejection = refuse(&mut auction, bid(ALICE, 100, None, secs));
            assert_eq!(rejection, BidRejection::AuctionNotOpen, "{name}");
            assert_eq!(rejection.code(), "auction_not_open", "{name}");
        }
    }
}

#[test]
fn ended_auctions_refuse_bids_and_buy_now_even_before_ends_at() {
    type Ending = (&'static str, fn(&mut Auction));
    let endings: [Ending; 3] = [
        ("force-closed", |auction| {
            auction.close(at(10), true).expect("a live auction closes");
        }),
        ("cancelled", |auction| {
            auction.cancel(at(10)).expect("a live auction cancels");
        }),
        ("bought", |auction| {
            auction.buy_now(CAROL, at(10)).expect("buy now is offered");
        }),
    ];
    for (name, end) in endings {
        let mut auction = AuctionBuilder::new().buy_now(10_000).build();
        end(&mut auction);
        assert_ne!(auction.state.status, AuctionStatus::Live, "{name}");
        assert!(!auction.is_open_at(at(30)), "{name}");
        let rejection = refuse(&mut auction, bid(ALICE, 100, None, 30));
        assert_eq!(rejection, BidRejection::AuctionNotOpen, "{name}");
        let before = auction.clone();
        assert_eq!(
            auction.buy_now(BOB, at(30)),
            Err(BidRejection::AuctionNotOpen),
            "{name}"
        );
        assert_eq!(auction, before, "{name}: a refused buy now changes nothing");
    }
}

#[test]
fn public_status_follows_the_clock_and_the_stored_status() {
    let auction = AuctionBuilder::new().build();
    assert_eq!(auction.public_status(at(-1)), PublicStatus::Scheduled);
    assert_eq!(auction.public_status(at(0)), PublicStatus::Open);
    assert_eq!(auction.public_status(at(END - 1)), PublicStatus::Open);

    let mut closed = auction.clone();
    closed.close(at(END), false).expect("the end has come");
    assert_eq!(closed.public_status(at(END)), PublicStatus::Closed);
    assert_eq!(PublicStatus::Closed.as_str(), "closed");

    let mut cancelled = auction;
    cancelled.cancel(at(5)).expect("a live auction cancels");
    assert_eq!(cancelled.public_status(at(5)), PublicStatus::Cancelled);
    assert_eq!(PublicStatus::Cancelled.as_str(), "cancelled");
}

// ---------------------------------------------------------------------------
// Rule 2: the leader may only raise their ceiling
// ---------------------------------------------------------------------------

#[test]
fn leader_raising_their_ceiling_records_no_public_event() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, Some(300), 10);

    let accepted = place(&mut auction, ALICE, 125, Some(800), 20);

    assert_eq!(accepted.outcome, BidOutcome::Leading);
    assert_eq!(accepted.seq, 1, "the answer carries the current seq");
    assert_eq!(seen(&accepted.changes), vec![Seen::CeilingRaised(800)]);
    assert_eq!(auction.state.price, 100);
    assert_eq!(auction.state.leader, leader(ALICE, 800));
    assert_eq!(auction.state.seq, 1);
    assert_eq!(auction.state.bid_count, 1);
}

#[test]
fn leader_raising_their_ceiling_skips_the_minimum_check() {
    let mut auction = AuctionBuilder::new().starting_price(1_000).build();
    place(&mut auction, ALICE, 1_000, None, 10);
    assert_eq!(auction.min_next_bid(), 1_050);

    let accepted = place(&mut auction, ALICE, 5, Some(2_000), 20);

    assert_eq!(seen(&accepted.changes), vec![Seen::CeilingRaised(2_000)]);
    assert_eq!(auction.state.price, 1_000);
    assert_eq!(auction.state.leader, leader(ALICE, 2_000));
}

#[test]
fn leader_raising_their_ceiling_inside_the_soft_close_window_does_not_extend() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, Some(300), 10);

    let accepted = place(&mut auction, ALICE, 100, Some(900), END - 10);

    assert_eq!(seen(&accepted.changes), vec![Seen::CeilingRaised(900)]);
    assert_eq!(auction.state.ends_at, at(END));
}

#[test]
fn leader_bidding_without_raising_their_maximum_is_already_leading() {
    // Alice leads at 100 with a ceiling of 500.
    let cases = [
        ("the same maximum", 100, Some(500)),
        ("a lower maximum", 100, Some(400)),
        ("amount and maximum at the ceiling", 500, Some(500)),
        ("a plain bid at the minimum", 125, None),
        ("a plain bid at the ceiling", 500, None),
        ("a plain bid above the ceiling", 600, None),
    ];
    for (name, amount, max_amount) in cases {
        let mut auction = AuctionBuilder::new().build();
        place(&mut auction, ALICE, 100, Some(500), 10);
        let rejection = refuse(&mut auction, bid(ALICE, amount, max_amount, 20));
        assert_eq!(rejection, BidRejection::AlreadyLeading, "{name}");
        assert_eq!(rejection.code(), "already_leading", "{name}");
    }
}

#[test]
fn leader_raise_reaching_the_reserve_records_their_bid_at_the_reserve() {
    // Alice leads at 100 with a ceiling of 500 under a reserve of 1,000.
    let cases = [
        (
            "to exactly the reserve",
            1_000,
            vec![placed(2, ALICE, 1_000)],
            2,
        ),
        ("above the reserve", 5_000, vec![placed(2, ALICE, 1_000)], 2),
        (
            "still below the reserve",
            999,
            vec![Seen::CeilingRaised(999)],
            1,
        ),
    ];
    for (name, max_amount, expected, expected_seq) in cases {
        let mut auction = AuctionBuilder::new().reserve(1_000).build();
        place(&mut auction, ALICE, 100, Some(500), 10);

        let accepted = place(&mut auction, ALICE, 100, Some(max_amount), 20);

        assert_eq!(seen(&accepted.changes), expected, "{name}");
        assert_eq!(accepted.seq, expected_seq, "{name}");
        assert_eq!(accepted.outcome, BidOutcome::Leading, "{name}");
        assert_eq!(
            auction.state.leader,
            leader(ALICE, max_amount),
            "{name}: the ceiling is raised either way"
        );
        assert_eq!(auction.reserve_met(), max_amount >= 1_000, "{name}");
    }
}

#[test]
fn leader_raise_reaching_the_reserve_inside_the_window_extends() {
    let mut auction = AuctionBuilder::new().reserve(1_000).build();
    place(&mut auction, ALICE, 100, Some(500), 10);

    let accepted = place(&mut auction, ALICE, 100, Some(2_000), END - 30);

    assert_eq!(
        seen(&accepted.changes),
        vec![placed(2, ALICE, 1_000), extended(3, END - 30 + WINDOW)]
    );
    assert_eq!(accepted.seq, 2);
    assert_eq!(auction.state.ends_at, at(END - 30 + WINDOW));
}

// ---------------------------------------------------------------------------
// Rule 3: below the minimum
// ---------------------------------------------------------------------------

#[test]
fn bid_below_minimum_is_rejected() {
    // (starting price, whether someone leads at it, expected minimum)
    let cases = [
        (100, false, 100),
        (7, false, 7),
        (50, true, 55),
        (99, true, 104),
        (100, true, 125),
        (499, true, 524),
        (500, true, 550),
        (2_500, true, 2_600),
        (10_000, true, 10_250),
        (25_000, true, 25_500),
        (50_000, true, 51_000),
        (100_000, true, 102_500),
        (250_000, true, 255_000),
        (500_000, true, 510_000),
        (MAX_AMOUNT - 10_000, true, MAX_AMOUNT),
    ];
    for (starting_price, led, min_next_bid) in cases {
        let mut auction = AuctionBuilder::new().starting_price(starting_price).build();
        if led {
            place(&mut auction, ALICE, starting_price, None, 10);
        }
        assert_eq!(
            auction.min_next_bid(),
            min_next_bid,
            "from {starting_price}"
        );

        // A high maximum does not lift a low amount over the minimum.
        let rejection = refuse(
            &mut auction,
            bid(BOB, min_next_bid - 1, Some(MAX_AMOUNT), 20),
        );
        assert_eq!(
            rejection,
            BidRejection::BelowMinimum { min_next_bid },
            "from {starting_price}"
        );
        assert_eq!(rejection.code(), "below_minimum");

        let accepted = place(&mut auction, BOB, min_next_bid, None, 30);
        assert_eq!(
            accepted.outcome,
            BidOutcome::Leading,
            "from {starting_price}"
        );
        assert_eq!(auction.state.price, min_next_bid, "from {starting_price}");
    }
}

// ---------------------------------------------------------------------------
// Rule 4: the first bid
// ---------------------------------------------------------------------------

#[test]
fn first_bid_leads_at_its_amount() {
    // (amount, max, expected ceiling)
    let cases = [(100, None, 100), (150, None, 150), (150, Some(500), 500)];
    for (amount, max_amount, ceiling) in cases {
        let mut auction = AuctionBuilder::new().build();
        assert_eq!(
            auction.min_next_bid(),
            100,
            "the starting price, with no leader"
        );

        let accepted = place(&mut auction, ALICE, amount, max_amount, 10);

        assert_eq!(accepted.outcome, BidOutcome::Leading);
        assert_eq!(accepted.seq, 1);
        assert_eq!(seen(&accepted.changes), vec![placed(1, ALICE, amount)]);
        assert_eq!(ceilings(&accepted.changes), vec![ceiling]);
        assert_eq!(auction.state.price, amount);
        assert_eq!(auction.state.leader, leader(ALICE, ceiling));
        assert_eq!(auction.state.bid_count, 1);
    }
}

#[test]
fn first_bid_whose_ceiling_reaches_the_reserve_jumps_to_the_reserve() {
    // Reserve 1,000. (amount, max, expected price)
    let cases = [
        (100, Some(1_000), 1_000),
        (100, Some(5_000), 1_000),
        (100, Some(999), 100),
        (1_500, None, 1_500),
        (1_000, None, 1_000),
    ];
    for (amount, max_amount, price) in cases {
        let mut auction = AuctionBuilder::new().reserve(1_000).build();

        let accepted = place(&mut auction, ALICE, amount, max_amount, 10);

        let case = format!("{amount} max {max_amount:?}");
        assert_eq!(
            seen(&accepted.changes),
            vec![placed(1, ALICE, price)],
            "{case}: one event, the jump folded in"
        );
        assert_eq!(auction.state.price, price, "{case}");
        assert_eq!(auction.reserve_met(), price >= 1_000, "{case}");
    }
}

// ---------------------------------------------------------------------------
// Rule 5: a higher ceiling takes the lead
// ---------------------------------------------------------------------------

#[test]
fn higher_ceiling_takes_the_lead_after_an_auto_bid_for_the_old_leader() {
    // (name, Alice's amount and max, Bob's amount and max, events, Bob's price)
    let cases = [
        (
            "the old leader is bid up to their ceiling first",
            (100, Some(500)),
            (200, Some(1_000)),
            vec![auto(2, ALICE, 500), placed(3, BOB, 550)],
            550,
        ),
        (
            "no auto bid when the old leader is at their ceiling",
            (100, None),
            (125, Some(1_000)),
            vec![placed(2, BOB, 125)],
            125,
        ),
        (
            "the newcomer's amount beats one increment over the ceiling",
            (100, Some(500)),
            (800, None),
            vec![auto(2, ALICE, 500), placed(3, BOB, 800)],
            800,
        ),
        (
            "the newcomer's ceiling is below one increment over",
            (100, Some(500)),
            (200, Some(520)),
            vec![auto(2, ALICE, 500), placed(3, BOB, 520)],
            520,
        ),
        (
            "a ceiling one above the old leader's",
            (100, Some(500)),
            (125, Some(501)),
            vec![auto(2, ALICE, 500), placed(3, BOB, 501)],
            501,
        ),
    ];
    for (name, (a_amount, a_max), (b_amount, b_max), expected, price) in cases {
        let mut auction = AuctionBuilder::new().build();
        place(&mut auction, ALICE, a_amount, a_max, 10);

        let accepted = place(&mut auction, BOB, b_amount, b_max, 20);

        assert_eq!(seen(&accepted.changes), expected, "{name}");
        assert_eq!(accepted.outcome, BidOutcome::Leading, "{name}");
        assert_eq!(accepted.seq, auction.state.seq, "{name}: Bob's own bid");
        assert_eq!(auction.state.price, price, "{name}");
        let b_ceiling = b_max.unwrap_or(b_amount);
        assert_eq!(auction.state.leader, leader(BOB, b_ceiling), "{name}");
    }
}

#[test]
fn higher_ceiling_reaching_the_reserve_takes_the_lead_at_the_reserve() {
    // Reserve 2,000; Alice leads at 100 with a ceiling of 500.
    let cases = [
        (
            Some(3_000),
            vec![auto(2, ALICE, 500), placed(3, BOB, 2_000)],
        ),
        (
            Some(2_000),
            vec![auto(2, ALICE, 500), placed(3, BOB, 2_000)],
        ),
        (Some(1_999), vec![auto(2, ALICE, 500), placed(3, BOB, 550)]),
    ];
    for (max_amount, expected) in cases {
        let mut auction = AuctionBuilder::new().reserve(2_000).build();
        place(&mut auction, ALICE, 100, Some(500), 10);

        let accepted = place(&mut auction, BOB, 200, max_amount, 20);

        assert_eq!(seen(&accepted.changes), expected, "max {max_amount:?}");
        assert_eq!(
            auction.reserve_met(),
            max_amount >= Some(2_000),
            "max {max_amount:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Rule 6: the leader's ceiling holds
// ---------------------------------------------------------------------------

#[test]
fn lower_or_equal_ceiling_is_outbid_by_an_auto_bid() {
    // (name, Alice's amount and max, Bob's amount and max, events, price)
    let cases = [
        (
            "the leader answers one increment above",
            (100, Some(1_000)),
            (200, Some(500)),
            vec![placed(2, BOB, 500), auto(3, ALICE, 550)],
            550,
        ),
        (
            "the answer is capped at the leader's ceiling",
            (100, Some(520)),
            (200, Some(500)),
            vec![placed(2, BOB, 500), auto(3, ALICE, 520)],
            520,
        ),
        (
            "a plain bid is recorded at its amount",
            (100, Some(1_000)),
            (300, None),
            vec![placed(2, BOB, 300), auto(3, ALICE, 325)],
            325,
        ),
        (
            "equal ceilings go to the earlier bidder",
            (100, Some(500)),
            (200, Some(500)),
            vec![placed(2, BOB, 500), auto(3, ALICE, 500)],
            500,
        ),
        (
            "a plain bid equal to the ceiling goes to the earlier bidder",
            (100, Some(500)),
            (500, None),
            vec![placed(2, BOB, 500), auto(3, ALICE, 500)],
            500,
        ),
    ];
    for (name, (a_amount, a_max), (b_amount, b_max), expected, price) in cases {
        let mut auction = AuctionBuilder::new().build();
        place(&mut auction, ALICE, a_amount, a_max, 10);

        let accepted = place(&mut auction, BOB, b_amount, b_max, 20);

        assert_eq!(seen(&accepted.changes), expected, "{name}");
        assert_eq!(accepted.outcome, BidOutcome::Outbid, "{name}");
        assert_eq!(accepted.seq, 2, "{name}: the seq of Bob's own bid");
        assert_eq!(auction.state.price, price, "{name}");
        let a_ceiling = a_max.unwrap_or(a_amount);
        assert_eq!(auction.state.leader, leader(ALICE, a_ceiling), "{name}");
        assert_eq!(auction.state.bid_count, 3, "{name}");
    }
}

#[test]
fn leader_whose_ceiling_reaches_the_reserve_already_holds_it_when_outbid() {
    // Reserve 800. Alice's ceiling reaches it, so her first bid jumped to it
    // (rule 4) and Bob's lower ceiling is answered from there.
    let mut auction = AuctionBuilder::new().reserve(800).build();
    place(&mut auction, ALICE, 100, Some(1_000), 10);
    assert_eq!(auction.state.price, 800);

    let accepted = place(&mut auction, BOB, 850, Some(900), 20);

    assert_eq!(
        seen(&accepted.changes),
        vec![placed(2, BOB, 900), auto(3, ALICE, 950)]
    );
    assert!(auction.reserve_met());

    // Below the reserve on both sides, nothing jumps.
    let mut auction = AuctionBuilder::new().reserve(800).build();
    place(&mut auction, ALICE, 100, Some(700), 10);
    let accepted = place(&mut auction, BOB, 200, Some(600), 20);
    assert_eq!(
        seen(&accepted.changes),
        vec![placed(2, BOB, 600), auto(3, ALICE, 650)]
    );
    assert!(!auction.reserve_met());
}

#[test]
fn leaders_auto_answer_folds_in_the_reserve_jump() {
    // A state where the leader's ceiling reaches the reserve but the price
    // does not (as rule 7 never leaves it; built by hand): the engine's
    // answer jumps to the reserve inside the one auto bid.
    let mut auction = AuctionBuilder::new().reserve(800).build();
    auction.state.price = 100;
    auction.state.leader = leader(ALICE, 1_000);
    auction.state.bid_count = 1;
    auction.state.seq = 1;

    let accepted = place(&mut auction, BOB, 200, Some(500), 20);

    assert_eq!(
        seen(&accepted.changes),
        vec![placed(2, BOB, 500), auto(3, ALICE, 800)]
    );
    assert_eq!(auction.state.price, 800);
}

// ---------------------------------------------------------------------------
// Rule 8: soft close
// ---------------------------------------------------------------------------

#[test]
fn soft_close_extends_only_inside_the_window() {
    // (seconds before the end, whether the first bid extends)
    let cases = [
        (END - 60, false),
        (WINDOW + 1, false),
        (WINDOW, false),
        (WINDOW - 1, true),
        (1, true),
    ];
    for (before_end, extends) in cases {
        let t = END - before_end;
        let mut auction = AuctionBuilder::new().build();

        let accepted = place(&mut auction, ALICE, 100, None, t);

        let mut expected = vec![placed(1, ALICE, 100)];
        if extends {
            expected.push(extended(2, t + WINDOW));
        }
        assert_eq!(
            seen(&accepted.changes),
            expected,
            "{before_end}s before the end"
        );
        assert_eq!(
            accepted.seq, 1,
            "the answer names the bid, not the extension"
        );
        let ends_at = if extends { t + WINDOW } else { END };
        assert_eq!(
            auction.state.ends_at,
            at(ends_at),
            "{before_end}s before the end"
        );
    }
}

#[test]
fn soft_close_never_applies_with_a_zero_window() {
    for before_end in [1, 10, WINDOW - 1] {
        let mut auction = AuctionBuilder::new().extend_window_secs(0).build();
        let first = place(&mut auction, ALICE, 100, Some(500), END - before_end);
        let second = place(&mut auction, BOB, 200, Some(1_000), END - before_end);
        assert_eq!(seen(&first.changes), vec![placed(1, ALICE, 100)]);
        assert_eq!(
            seen(&second.changes),
            vec![auto(2, ALICE, 500), placed(3, BOB, 550)]
        );
        assert_eq!(auction.state.ends_at, at(END));
    }
}

#[test]
fn soft_close_extends_whenever_the_price_or_the_leader_moves() {
    // Alice leads at 100 with a ceiling of 1,000; each bid comes 30s before the end.
    let t = END - 30;
    let cases = [
        (
            "a newcomer takes the lead",
            bid(BOB, 200, Some(2_000), t),
            vec![
                auto(2, ALICE, 1_000),
                placed(3, BOB, 1_050),
                extended(4, t + WINDOW),
            ],
        ),
        (
            "a newcomer is outbid but the price moves",
            bid(BOB, 200, None, t),
            vec![
                placed(2, BOB, 200),
                auto(3, ALICE, 225),
                extended(4, t + WINDOW),
            ],
        ),
        (
            "the leader only raises their ceiling",
            bid(ALICE, 100, Some(2_000), t),
            vec![Seen::CeilingRaised(2_000)],
        ),
    ];
    for (name, request, expected) in cases {
        let mut auction = AuctionBuilder::new().build();
        place(&mut auction, ALICE, 100, Some(1_000), 10);

        let accepted = auction.place_bid(request).expect("the bid is accepted");

        assert_eq!(seen(&accepted.changes), expected, "{name}");
    }
}

#[test]
fn an_extension_takes_bids_until_the_new_end_and_can_extend_again() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, None, END - 10);
    assert_eq!(auction.state.ends_at, at(END - 10 + WINDOW));

    // After the original end, before the new one.
    let accepted = place(&mut auction, BOB, 125, None, END + 50);
    assert_eq!(
        seen(&accepted.changes),
        vec![placed(3, BOB, 125), extended(4, END + 50 + WINDOW)]
    );
    assert_eq!(
        auction.close(at(END + 50 + WINDOW - 1), false),
        Err(CloseError::NotDue)
    );
    let rejection = refuse(&mut auction, bid(CAROL, 150, None, END + 50 + WINDOW));
    assert_eq!(rejection, BidRejection::AuctionNotOpen);
}

// ---------------------------------------------------------------------------
// Rule 9: buy now
// ---------------------------------------------------------------------------

#[test]
fn buy_now_before_any_bid_closes_the_auction_with_the_buyer_as_winner() {
    let mut auction = AuctionBuilder::new().buy_now(5_000).build();

    let accepted = auction.buy_now(BOB, at(10)).expect("buy now is offered");

    assert_eq!(accepted.outcome, BidOutcome::Leading);
    assert_eq!(accepted.seq, 1);
    assert_eq!(
        seen(&accepted.changes),
        vec![bought(1, BOB, 5_000), closed(2, Some(BOB))]
    );
    assert_eq!(auction.state.status, AuctionStatus::Closed);
    assert_eq!(auction.state.winner, Some(BOB));
    assert_eq!(auction.state.price, 5_000);
    assert_eq!(auction.state.leader, leader(BOB, 5_000));
    assert_eq!(auction.state.bid_count, 1);
    assert_eq!(auction.close(at(END), true), Err(CloseError::AlreadyEnded));
}

#[test]
fn buy_now_is_allowed_while_the_reserve_is_unmet() {
    // Reserve 1,000, buy now 3,000; Alice leads at 100 with a ceiling of 500.
    for buyer in [BOB, ALICE] {
        let mut auction = AuctionBuilder::new().reserve(1_000).buy_now(3_000).build();
        place(&mut auction, ALICE, 100, Some(500), 10);
        assert!(!auction.reserve_met());

        let accepted = auction
            .buy_now(buyer, at(END - 5))
            .expect("buy now is offered");

        assert_eq!(
            seen(&accepted.changes),
            vec![bought(2, buyer, 3_000), closed(3, Some(buyer))],
            "no extension: the auction is over"
        );
        assert_eq!(accepted.seq, 2);
        assert_eq!(auction.state.winner, Some(buyer));
        assert_eq!(auction.state.leader, leader(buyer, 3_000));
        assert_eq!(auction.state.price, 3_000);
        assert_eq!(auction.state.ends_at, at(END));
    }
}

#[test]
fn buy_now_is_refused_once_it_is_no_longer_offered() {
    let cases = [
        (
            "a bid was placed and there is no reserve",
            AuctionBuilder::new().buy_now(3_000),
            Some((100, None)),
        ),
        (
            "the reserve is met",
            AuctionBuilder::new().reserve(1_000).buy_now(3_000),
            Some((100, Some(1_000))),
        ),
        (
            "the auction has no buy-now price",
            AuctionBuilder::new(),
            None,
        ),
        (
            "the auction has no buy-now price, reserve unmet",
            AuctionBuilder::new().reserve(1_000),
            Some((100, None)),
        ),
        (
            "the buy-now price is below the reserve (an auction from before that was refused)",
            AuctionBuilder::new().reserve(5_000).buy_now(3_000),
            None,
        ),
    ];
    for (name, builder, first_bid) in cases {
        let mut auction = builder.build();
        if let Some((amount, max_amount)) = first_bid {
            place(&mut auction, ALICE, amount, max_amount, 10);
        }
        let before = auction.clone();
        let rejection = auction
            .buy_now(BOB, at(20))
            .expect_err("buy now is not offered");
        assert_eq!(rejection, BidRejection::BuyNowUnavailable, "{name}");
        assert_eq!(rejection.code(), "buy_now_unavailable");
        assert_eq!(auction, before, "{name}: nothing changes");
    }
}

#[test]
fn buy_now_outside_the_opening_hours_is_refused() {
    for secs in [-1, END, END + 1] {
        let mut auction = AuctionBuilder::new().buy_now(3_000).build();
        let before = auction.clone();
        assert_eq!(
            auction.buy_now(BOB, at(secs)),
            Err(BidRejection::AuctionNotOpen)
        );
        assert_eq!(auction, before);
    }
}

// ---------------------------------------------------------------------------
// Rule 10: closing, forced closing and cancelling
// ---------------------------------------------------------------------------

#[test]
fn closing_before_ends_at_is_not_due() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, None, 10);
    let before = auction.clone();
    assert_eq!(auction.close(at(END - 1), false), Err(CloseError::NotDue));
    assert_eq!(auction, before);
}

#[test]
fn closing_at_ends_at_names_the_leader_only_when_the_reserve_is_met() {
    // (name, reserve, bids (bidder, amount, max), winner, seq of the close)
    let cases = [
        ("no reserve, no bids", None, vec![], None, 1),
        (
            "no reserve, one bid",
            None,
            vec![(ALICE, 100, None)],
            Some(ALICE),
            2,
        ),
        (
            "reserve unmet",
            Some(1_000),
            vec![(ALICE, 100, Some(500))],
            None,
            2,
        ),
        (
            "reserve met through the ceiling",
            Some(1_000),
            vec![(ALICE, 100, Some(1_000))],
            Some(ALICE),
            2,
        ),
        (
            "reserve met by the amount",
            Some(1_000),
            vec![(ALICE, 1_500, None)],
            Some(ALICE),
            2,
        ),
        (
            "reserve met by a later leader",
            Some(1_000),
            vec![(ALICE, 100, Some(500)), (BOB, 125, Some(2_000))],
            Some(BOB),
            4,
        ),
    ];
    for (name, reserve, bids, winner, seq) in cases {
        let mut builder = AuctionBuilder::new();
        if let Some(reserve) = reserve {
            builder = builder.reserve(reserve);
        }
        let mut auction = builder.build();
        for (secs, (bidder, amount, max_amount)) in (10..).zip(bids) {
            place(&mut auction, bidder, amount, max_amount, secs);
        }

        let changes = auction.close(at(END), false).expect("the end has come");

        assert_eq!(seen(&changes), vec![closed(seq, winner)], "{name}");
        assert_eq!(auction.state.status, AuctionStatus::Closed, "{name}");
        assert_eq!(auction.state.winner, winner, "{name}");
        assert_eq!(
            auction.public_status(at(END)),
            PublicStatus::Closed,
            "{name}"
        );
    }
}

#[test]
fn closing_happens_exactly_once_also_after_a_restart() {
    let rules = AuctionBuilder::new().rules;
    let mut auction = Auction::new(rules.clone(), at(END));
    let mut log = place(&mut auction, ALICE, 100, None, 10).changes;
    log.extend(auction.close(at(END), false).expect("the end has come"));

    assert_eq!(
        auction.close(at(END + 1), false),
        Err(CloseError::AlreadyEnded)
    );
    assert_eq!(
        auction.close(at(END + 1), true),
        Err(CloseError::AlreadyEnded)
    );
    assert_eq!(auction.cancel(at(END + 1)), Err(CloseError::AlreadyEnded));

    let mut restarted = replay(&rules, at(END), &log);
    assert_eq!(restarted, auction);
    assert_eq!(
        restarted.close(at(END + 5), false),
        Err(CloseError::AlreadyEnded)
    );
    assert!(!restarted.is_due_to_close(at(END + 5)));
}

#[test]
fn a_forced_close_ends_the_auction_early_by_the_same_rule() {
    let cases = [
        (None, Some(ALICE)),
        (Some(1_000), None),
        (Some(300), Some(ALICE)),
    ];
    for (reserve, winner) in cases {
        let mut builder = AuctionBuilder::new();
        if let Some(reserve) = reserve {
            builder = builder.reserve(reserve);
        }
        let mut auction = builder.build();
        place(&mut auction, ALICE, 100, Some(500), 10);
        assert!(!auction.is_due_to_close(at(20)));

        let changes = auction.close(at(20), true).expect("a live auction closes");

        assert_eq!(
            seen(&changes),
            vec![closed(2, winner)],
            "reserve {reserve:?}"
        );
        assert_eq!(auction.state.winner, winner, "reserve {reserve:?}");
        assert_eq!(auction.state.ends_at, at(END), "the end time is kept");
    }
}

#[test]
fn cancelling_ends_the_auction_without_a_winner() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, None, 10);

    let changes = auction.cancel(at(20)).expect("a live auction cancels");

    assert_eq!(seen(&changes), vec![Seen::Cancelled(2)]);
    assert_eq!(auction.state.status, AuctionStatus::Cancelled);
    assert_eq!(auction.state.winner, None);
    assert_eq!(auction.cancel(at(30)), Err(CloseError::AlreadyEnded));
    assert_eq!(auction.close(at(END), false), Err(CloseError::AlreadyEnded));
    assert!(!auction.is_due_to_close(at(END)));
}

#[test]
fn an_auction_is_due_to_close_from_its_end_time() {
    let auction = AuctionBuilder::new().build();
    assert!(!auction.is_due_to_close(at(END - 1)));
    assert!(auction.is_due_to_close(at(END)));
    assert!(auction.is_due_to_close(at(END + 100)));
}

// ---------------------------------------------------------------------------
// Invalid amounts
// ---------------------------------------------------------------------------

#[test]
fn invalid_amounts_are_rejected() {
    let cases = [
        ("a zero amount", 0, None),
        ("a negative amount", -1, None),
        ("the smallest i64", i64::MIN, None),
        ("an amount over 10^12", MAX_AMOUNT + 1, None),
        ("the largest i64", i64::MAX, None),
        ("a maximum below the amount", 200, Some(199)),
        ("a zero maximum", 200, Some(0)),
        ("a negative maximum", 200, Some(-5)),
        ("a maximum over 10^12", 200, Some(MAX_AMOUNT + 1)),
    ];
    for (name, amount, max_amount) in cases {
        assert!(
            matches!(
                check_bid_amounts(amount, max_amount),
                Err(BidRejection::InvalidAmount(_))
            ),
            "{name}"
        );
        // Refused the same way with or without a leader, and by the leader.
        for bidder in [ALICE, BOB] {
            let mut fresh = AuctionBuilder::new().build();
            let rejection = refuse(&mut fresh, bid(bidder, amount, max_amount, 10));
            assert!(
                matches!(rejection, BidRejection::InvalidAmount(_)),
                "{name}: {rejection:?}"
            );
            assert_eq!(rejection.code(), "invalid_amount");

            let mut led = AuctionBuilder::new().build();
            place(&mut led, ALICE, 100, None, 10);
            let rejection = refuse(&mut led, bid(bidder, amount, max_amount, 20));
            assert!(
                matches!(rejection, BidRejection::InvalidAmount(_)),
                "{name}: {rejection:?}"
            );
        }
    }
}

#[test]
fn amounts_up_to_ten_to_the_twelfth_are_accepted() {
    assert_eq!(check_bid_amounts(1, Some(1)), Ok(()));
    assert_eq!(check_bid_amounts(MAX_AMOUNT, Some(MAX_AMOUNT)), Ok(()));

    let mut auction = AuctionBuilder::new().starting_price(1).build();
    place(&mut auction, ALICE, 1, Some(MAX_AMOUNT), 10);
    let accepted = place(&mut auction, BOB, MAX_AMOUNT, None, 20);
    assert_eq!(
        seen(&accepted.changes),
        vec![placed(2, BOB, MAX_AMOUNT), auto(3, ALICE, MAX_AMOUNT)]
    );
    assert_eq!(auction.min_next_bid(), MAX_AMOUNT + 10_000);
    let rejection = refuse(&mut auction, bid(CAROL, MAX_AMOUNT, None, 30));
    assert_eq!(
        rejection,
        BidRejection::BelowMinimum {
            min_next_bid: MAX_AMOUNT + 10_000
        }
    );
}

// ---------------------------------------------------------------------------
// A worked proxy-bidding sequence
// ---------------------------------------------------------------------------

#[test]
fn worked_proxy_bidding_sequence_records_every_bid_and_ends_with_the_rules_winner() {
    // Starting price 10.00, reserve 50.00, a 120 s soft close ending at END.
    let rules = AuctionBuilder::new()
        .starting_price(1_000)
        .reserve(5_000)
        .rules;
    let mut auction = Auction::new(rules.clone(), at(END));
    let mut log: Vec<Change> = Vec::new();
    let mut answers = Vec::new();
    let mut step = |auction: &mut Auction, request: BidRequest| {
        let accepted = auction.place_bid(request).expect("the bid is accepted");
        answers.push((accepted.outcome, accepted.seq));
        log.extend(accepted.changes);
    };

    // Alice opens with a maximum of 30.00, below the reserve: rule 4.
    step(&mut auction, bid(ALICE, 1_000, Some(3_000), 60));
    // Bob's 20.00 maximum is answered by Alice's proxy: rule 6.
    step(&mut auction, bid(BOB, 1_200, Some(2_000), 120));
    assert_eq!(
        refuse(&mut auction, bid(BOB, 2_050, None, 300)),
        BidRejection::BelowMinimum {
            min_next_bid: 2_100
        }
    );
    assert_eq!(
        refuse(&mut auction, bid(ALICE, 2_100, Some(3_000), 310)),
        BidRejection::AlreadyLeading
    );
    // Carol's 60.00 maximum beats Alice's and reaches the reserve: rules 5 and 7.
    step(&mut auction, bid(CAROL, 2_200, Some(6_000), 600));
    // Alice comes back 100 s before the end and is outbid: rules 6 and 8.
    step(&mut auction, bid(ALICE, 5_100, Some(5_500), END - 100));
    // Carol raises her maximum privately: rule 2, no event, no extension.
    step(&mut auction, bid(CAROL, 5_700, Some(8_000), END - 50));
    // Dave bids after the original end, inside the extension: rules 6 and 8.
    step(&mut auction, bid(DAVE, 5_700, None, END + 10));
    // Alice beats Carol's new maximum: rules 5 and 8.
    step(&mut auction, bid(ALICE, 9_000, Some(9_000), END + 100));

    let ends_at = END + 100 + WINDOW;
    assert_eq!(
        auction.close(at(ends_at - 1), false),
        Err(CloseError::NotDue)
    );
    assert_eq!(
        refuse(&mut auction, bid(BOB, 10_000, None, ends_at)),
        BidRejection::AuctionNotOpen
    );
    log.extend(auction.close(at(ends_at), false).expect("the end has come"));

    assert_eq!(
        seen(&log),
        vec![
            placed(1, ALICE, 1_000),
            placed(2, BOB, 2_000),
            auto(3, ALICE, 2_050),
            auto(4, ALICE, 3_000),
            placed(5, CAROL, 5_000),
            placed(6, ALICE, 5_500),
            auto(7, CAROL, 5_600),
            extended(8, END - 100 + WINDOW),
            Seen::CeilingRaised(8_000),
            placed(9, DAVE, 5_700),
            auto(10, CAROL, 5_800),
            extended(11, END + 10 + WINDOW),
            auto(12, CAROL, 8_000),
            placed(13, ALICE, 9_000),
            extended(14, ends_at),
            closed(15, Some(ALICE)),
        ]
    );
    assert_eq!(
        ceilings(&log),
        vec![3_000, 2_000, 3_000, 3_000, 6_000, 5_500, 6_000, 5_700, 8_000, 8_000, 9_000]
    );
    assert_eq!(
        answers,
        vec![
            (BidOutcome::Leading, 1),
            (BidOutcome::Outbid, 2),
            (BidOutcome::Leading, 5),
            (BidOutcome::Outbid, 6),
            (BidOutcome::Leading, 8),
            (BidOutcome::Outbid, 9),
            (BidOutcome::Leading, 13),
        ]
    );
    assert_eq!(auction.state.status, AuctionStatus::Closed);
    assert_eq!(auction.state.price, 9_000);
    assert_eq!(auction.state.leader, leader(ALICE, 9_000));
    assert_eq!(auction.state.bid_count, 11);
    assert_eq!(auction.state.seq, 15);
    assert_eq!(auction.state.ends_at, at(ends_at));
    assert_eq!(auction.state.winner, Some(ALICE));
    assert!(auction.reserve_met());

    assert_eq!(replay(&rules, at(END), &log), auction);
}

#[test]
fn changes_round_trip_through_json_and_replay_to_the_same_auction() {
    let rules = AuctionBuilder::new().reserve(1_000).buy_now(9_000).rules;
    let mut auction = Auction::new(rules.clone(), at(END));
    let mut log = place(&mut auction, ALICE, 100, Some(500), 10).changes;
    log.extend(place(&mut auction, ALICE, 100, Some(700), 20).changes);
    log.extend(place(&mut auction, BOB, 125, Some(600), END - 5).changes);
    log.extend(
        auction
            .buy_now(CAROL, at(END - 1))
            .expect("reserve unmet")
            .changes,
    );

    let json = serde_json::to_string(&log).expect("changes serialize");
    let back: Vec<Change> = serde_json::from_str(&json).expect("and parse back");
    assert_eq!(back, log);
    assert_eq!(replay(&rules, at(END), &back), auction);
}

// ---------------------------------------------------------------------------
// Property tests over random bid sequences
// ---------------------------------------------------------------------------

const POOL: [UserId; 4] = [ALICE, BOB, CAROL, DAVE];

/// How a generated bid picks its amount from the auction's state.
#[derive(Debug, Clone)]
enum AmountSpec {
    /// The minimum next bid plus this much (capped at `MAX_AMOUNT`).
    AboveMinimum(Money),
    /// The minimum next bid less this much.
    BelowMinimum(Money),
    /// The leader's ceiling (or the minimum with no leader).
    LeadersCeiling,
    /// Exactly this, valid or not.
    Raw(Money),
}

/// How a generated bid picks its maximum.
#[derive(Debug, Clone)]
enum MaxSpec {
    None,
    /// The amount plus this much (capped at `MAX_AMOUNT`).
    Above(Money),
    /// The leader's ceiling (or the amount, if higher), to make ties; none
    /// with no leader.
    LeadersCeiling,
    /// Exactly this, valid or not.
    Raw(Money),
}

/// When the next operation happens; time never goes back.
#[derive(Debug, Clone)]
enum WhenSpec {
    /// This many seconds after the previous operation.
    After(i64),
    /// This many seconds before the current end (often inside the window).
    BeforeEnd(i64),
}

#[derive(Debug, Clone)]
enum OpSpec {
    Bid {
        bidder: usize,
        amount: AmountSpec,
        max: MaxSpec,
        when: WhenSpec,
    },
    BuyNow {
        buyer: usize,
        when: WhenSpec,
    },
    Close {
        force: bool,
        when: WhenSpec,
    },
    Cancel {
        when: WhenSpec,
    },
}

#[derive(Debug, Clone, Copy)]
enum ReserveSpec {
    Absolute(Money),
    AboveStart(Money),
}

#[derive(Debug, Clone)]
struct Scenario {
    rules: AuctionRules,
    ends_at: DateTime<Utc>,
    ops: Vec<OpSpec>,
}

/// What one operation did.
#[derive(Debug)]
enum Action {
    Bid {
        request: BidRequest,
        result: Result<BidAccepted, BidRejection>,
    },
    BuyNow {
        buyer: UserId,
        at: DateTime<Utc>,
        result: Result<BidAccepted, BidRejection>,
    },
    End {
        force: bool,
        cancel: bool,
        at: DateTime<Utc>,
        result: Result<Vec<Change>, CloseError>,
    },
}

impl Action {
    fn changes(&self) -> &[Change] {
        match self {
            Self::Bid {
                result: Ok(accepted),
                ..
            }
            | Self::BuyNow {
                result: Ok(accepted),
                ..
            } => &accepted.changes,
            Self::End {
                result: Ok(changes),
                ..
            } => changes,
            _ => &[],
        }
    }

    fn refused(&self) -> bool {
        match self {
            Self::Bid { result, .. } | Self::BuyNow { result, .. } => result.is_err(),
            Self::End { result, .. } => result.is_err(),
        }
    }
}

#[derive(Debug)]
struct Step {
    before: Auction,
    action: Action,
    after: Auction,
}

#[derive(Debug)]
struct Run {
    steps: Vec<Step>,
    log: Vec<Change>,
    last: Auction,
}

fn resolve_amount(spec: &AmountSpec, auction: &Auction) -> Money {
    let min_next_bid = auction.min_next_bid();
    match spec {
        AmountSpec::AboveMinimum(extra) => min_next_bid.saturating_add(*extra).min(MAX_AMOUNT),
        AmountSpec::BelowMinimum(less) => min_next_bid - less,
        AmountSpec::LeadersCeiling => auction
            .state
            .leader
            .map_or(min_next_bid, |leader| leader.ceiling),
        AmountSpec::Raw(amount) => *amount,
    }
}

fn resolve_max(spec: &MaxSpec, amount: Money, auction: &Auction) -> Option<Money> {
    match spec {
        MaxSpec::None => None,
        MaxSpec::Above(extra) => Some(amount.saturating_add(*extra).min(MAX_AMOUNT)),
        MaxSpec::LeadersCeiling => auction
            .state
            .leader
            .map(|leader| leader.ceiling.max(amount)),
        MaxSpec::Raw(max) => Some(*max),
    }
}

fn resolve_when(spec: &WhenSpec, now: DateTime<Utc>, auction: &Auction) -> DateTime<Utc> {
    let next = match spec {
        WhenSpec::After(secs) => now + Duration::seconds(*secs),
        WhenSpec::BeforeEnd(secs) => auction.state.ends_at - Duration::seconds(*secs),
    };
    next.max(now)
}

/// Drives a scenario through the engine, keeping every step.
fn run(scenario: &Scenario) -> Run {
    let mut auction = Auction::new(scenario.rules.clone(), scenario.ends_at);
    // Start just before the opening so that early bids are refused.
    let mut now = scenario.rules.starts_at - Duration::seconds(2);
    let mut steps = Vec::new();
    let mut log = Vec::new();
    for op in &scenario.ops {
        let before = auction.clone();
        let action = match op {
            OpSpec::Bid {
                bidder,
                amount,
                max,
                when,
            } => {
                now = resolve_when(when, now, &auction);
                let amount = resolve_amount(amount, &auction);
                let request = BidRequest {
                    bidder: POOL[*bidder],
                    amount,
                    max_amount: resolve_max(max, amount, &auction),
                    at: now,
                };
                let result = auction.place_bid(request);
                Action::Bid { request, result }
            }
            OpSpec::BuyNow { buyer, when } => {
                now = resolve_when(when, now, &auction);
                let buyer = POOL[*buyer];
                let result = auction.buy_now(buyer, now);
                Action::BuyNow {
                    buyer,
                    at: now,
                    result,
                }
            }
            OpSpec::Close { force, when } => {
                now = resolve_when(when, now, &auction);
                let result = auction.close(now, *force);
                Action::End {
                    force: *force,
                    cancel: false,
                    at: now,
                    result,
                }
            }
            OpSpec::Cancel { when } => {
                now = resolve_when(when, now, &auction);
                let result = auction.cancel(now);
                Action::End {
                    force: true,
                    cancel: true,
                    at: now,
                    result,
                }
            }
        };
        log.extend(action.changes().iter().cloned());
        steps.push(Step {
            before,
            action,
            after: auction.clone(),
        });
    }
    Run {
        steps,
        log,
        last: auction,
    }
}

/// Amounts of every size: mostly small, sometimes up to and around 10^12.
fn money() -> impl Strategy<Value = Money> {
    prop_oneof![
        4 => 1..=1_000i64,
        3 => 1..=1_000_000i64,
        1 => 1..=MAX_AMOUNT,
        1 => MAX_AMOUNT - 1_000_000..=MAX_AMOUNT,
    ]
}

/// A step above something: often nothing, sometimes huge.
fn extra() -> impl Strategy<Value = Money> {
    prop_oneof![
        3 => Just(0i64),
        4 => 0..=1_000i64,
        2 => 0..=1_000_000i64,
        1 => 0..=MAX_AMOUNT,
    ]
}

/// Any amount a client might send, valid or not.
fn raw_amount() -> impl Strategy<Value = Money> {
    prop_oneof![
        6 => money(),
        1 => -3i64..=0,
        1 => MAX_AMOUNT - 2..=MAX_AMOUNT + 3,
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX)],
    ]
}

fn amount_spec() -> impl Strategy<Value = AmountSpec> {
    prop_oneof![
        8 => extra().prop_map(AmountSpec::AboveMinimum),
        1 => (1..=1_000i64).prop_map(AmountSpec::BelowMinimum),
        2 => Just(AmountSpec::LeadersCeiling),
        1 => raw_amount().prop_map(AmountSpec::Raw),
    ]
}

fn max_spec() -> impl Strategy<Value = MaxSpec> {
    prop_oneof![
        3 => Just(MaxSpec::None),
        4 => extra().prop_map(MaxSpec::Above),
        2 => Just(MaxSpec::LeadersCeiling),
        1 => raw_amount().prop_map(MaxSpec::Raw),
    ]
}

fn when_spec() -> impl Strategy<Value = WhenSpec> {
    prop_oneof![
        12 => (0..=10i64).prop_map(WhenSpec::After),
        1 => (0..=600i64).prop_map(WhenSpec::After),
        1 => (0..=200i64).prop_map(WhenSpec::BeforeEnd),
    ]
}

fn op_spec() -> impl Strategy<Value = OpSpec> {
    prop_oneof![
        100 => (0..POOL.len(), amount_spec(), max_spec(), when_spec()).prop_map(
            |(bidder, amount, max, when)| OpSpec::Bid {
                bidder,
                amount,
                max,
                when,
            }
        ),
        3 => (0..POOL.len(), when_spec()).prop_map(|(buyer, when)| OpSpec::BuyNow { buyer, when }),
        2 => (proptest::bool::weighted(0.1), when_spec())
            .prop_map(|(force, when)| OpSpec::Close { force, when }),
        1 => when_spec().prop_map(|when| OpSpec::Cancel { when }),
    ]
}

/// Random rules (a buy-now price, when there is one, is at least the starting
/// price and the reserve, as an admin would set it) and a random bid sequence.
fn scenario() -> impl Strategy<Value = Scenario> {
    // A reserve is either any amount or some way above the starting price.
    let reserve = prop_oneof![
        2 => Just(None),
        1 => money().prop_map(|reserve| Some(ReserveSpec::Absolute(reserve))),
        2 => extra().prop_map(|extra| Some(ReserveSpec::AboveStart(extra))),
    ];
    let rules = (
        money(),
        reserve,
        proptest::option::of(extra()),
        prop_oneof![1 => Just(0i64), 3 => 1..=300i64],
        60..=7_200i64,
    );
    (rules, proptest::collection::vec(op_spec(), 1..=40)).prop_map(
        |((starting_price, reserve, buy_now_extra, window, length), mut ops)| {
            // Every run ends with an attempt to close at the end time.
            ops.push(OpSpec::Close {
                force: false,
                when: WhenSpec::BeforeEnd(0),
            });
            let reserve_price = reserve.map(|reserve| match reserve {
                ReserveSpec::Absolute(reserve) => reserve,
                ReserveSpec::AboveStart(extra) => {
                    starting_price.saturating_add(extra).min(MAX_AMOUNT)
                }
            });
            let floor = starting_price.max(reserve_price.unwrap_or(0));
            Scenario {
                rules: AuctionRules {
                    starting_price,
                    reserve_price,
                    buy_now_price: buy_now_extra
                        .map(|extra| floor.saturating_add(extra).min(MAX_AMOUNT)),
                    starts_at: at(0),
                    extend_window_secs: window,
                    increments: IncrementTable::standard(),
                },
                ends_at: at(length),
                ops,
            }
        },
    )
}

/// The same, with every price near 10^12 to look for overflow.
fn huge_scenario() -> impl Strategy<Value = Scenario> {
    (scenario(), MAX_AMOUNT - 1_000_000..=MAX_AMOUNT).prop_map(|(mut scenario, starting_price)| {
        scenario.rules.starting_price = starting_price;
        scenario.rules.reserve_price = scenario
            .rules
            .reserve_price
            .map(|reserve| MAX_AMOUNT - reserve % 2_000_000);
        scenario.rules.buy_now_price = scenario.rules.buy_now_price.map(|_| MAX_AMOUNT);
        scenario
    })
}

fn public_events(changes: &[Change]) -> impl Iterator<Item = &Event> {
    changes.iter().filter_map(|change| match change {
        Change::Public(event) => Some(event),
        Change::CeilingRaised { .. } | Change::Barred { .. } => None,
    })
}

fn leader_user(auction: &Auction) -> Option<UserId> {
    auction.state.leader.map(|leader| leader.user)
}

/// Checks the invariants that must hold after every step.
fn check_state(auction: &Auction) -> Result<(), TestCaseError> {
    let state = &auction.state;
    prop_assert!(
        state.price <= MAX_AMOUNT,
        "price {} over 10^12",
        state.price
    );
    if let Some(leader) = state.leader {
        prop_assert!(
            leader.ceiling >= state.price,
            "ceiling {} below price {}",
            leader.ceiling,
            state.price
        );
        prop_assert!(auction.min_next_bid() > state.price);
        if let Some(reserve) = auction.rules.reserve_price {
            if leader.ceiling >= reserve {
                prop_assert!(state.price >= reserve, "rule 7: the reserve is held");
            }
        }
    } else {
        prop_assert_eq!(auction.min_next_bid(), auction.rules.starting_price);
        prop_assert_eq!(state.price, auction.rules.starting_price);
    }
    Ok(())
}

proptest! {
    #[test]
    fn the_price_never_falls(scenario in scenario()) {
        let run = run(&scenario);
        for step in &run.steps {
            prop_assert!(
                step.after.state.price >= step.before.state.price,
                "{:?}", step.action
            );
            let mut price = step.before.state.price;
            for event in public_events(step.action.changes()) {
                if let EventKind::Bid { amount, .. } = event.kind {
                    prop_assert!(amount >= price, "a recorded bid below the price: {:?}", event);
                    price = amount;
                }
            }
        }
    }

    #[test]
    fn the_leaders_ceiling_covers_the_price_and_the_minimum_exceeds_it(
        scenario in scenario()
    ) {
        let run = run(&scenario);
        for step in &run.steps {
            check_state(&step.after)?;
        }
    }

    #[test]
    fn event_seqs_are_consecutive_from_one(scenario in scenario()) {
        let run = run(&scenario);
        let seqs: Vec<i64> = public_events(&run.log).map(|event| event.seq).collect();
        let expected: Vec<i64> = (1..).take(seqs.len()).collect();
        prop_assert_eq!(&seqs, &expected);
        prop_assert_eq!(run.last.state.seq, seqs.len() as i64);
        let bids = public_events(&run.log)
            .filter(|event| matches!(event.kind, EventKind::Bid { .. }))
            .count();
        prop_assert_eq!(run.last.state.bid_count, bids as i64);
    }

    #[test]
    fn a_bid_that_does_not_beat_the_leaders_ceiling_never_takes_the_lead(
        scenario in scenario()
    ) {
        let run = run(&scenario);
        for step in &run.steps {
            let Action::Bid { request, result: Ok(accepted) } = &step.action else {
                continue;
            };
            let ceiling = request.max_amount.unwrap_or(request.amount).max(request.amount);
            match step.before.state.leader {
                Some(held) if held.user != request.bidder => {
                    if ceiling <= held.ceiling {
                        // Ties included: the earlier bidder keeps the lead.
                        prop_assert_eq!(step.after.state.leader, Some(held));
                        prop_assert_eq!(accepted.outcome, BidOutcome::Outbid);
                    } else {
                        prop_assert_eq!(
                            step.after.state.leader,
                            Some(Leader { user: request.bidder, ceiling })
                        );
                        prop_assert_eq!(accepted.outcome, BidOutcome::Leading);
                    }
                }
                _ => {
                    prop_assert_eq!(leader_user(&step.after), Some(request.bidder));
                    prop_assert_eq!(accepted.outcome, BidOutcome::Leading);
                }
            }
            // The answer names the bidder's own (last) recorded bid, or the
            // current seq when the bid recorded no event.
            let own = public_events(&accepted.changes)
                .filter(|event| matches!(
                    event.kind,
                    EventKind::Bid { bidder, .. } if bidder == request.bidder
                ))
                .map(|event| event.seq)
                .last()
                .unwrap_or(step.before.state.seq);
            prop_assert_eq!(accepted.seq, own);
        }
    }

    #[test]
    fn replaying_the_changes_rebuilds_the_same_auction(scenario in scenario()) {
        let run = run(&scenario);
        prop_assert_eq!(&replay(&scenario.rules, scenario.ends_at, &run.log), &run.last);
        // Also after every step, as a restart at any point would see it.
        let mut rebuilt = Auction::new(scenario.rules.clone(), scenario.ends_at);
        for step in &run.steps {
            for change in step.action.changes() {
                rebuilt.apply(change);
            }
            prop_assert_eq!(&rebuilt, &step.after);
        }
    }

    #[test]
    fn refusals_change_nothing(scenario in scenario()) {
        let run = run(&scenario);
        for step in &run.steps {
            if step.action.refused() {
                prop_assert_eq!(&step.after, &step.before, "{:?}", step.action);
            } else {
                prop_assert!(!step.action.changes().is_empty(), "{:?}", step.action);
            }
        }
    }

    #[test]
    fn soft_close_extends_only_when_price_or_leader_moves_inside_the_window(
        scenario in scenario()
    ) {
        let run = run(&scenario);
        let window = scenario.rules.extend_window_secs;
        for step in &run.steps {
            prop_assert!(step.after.state.ends_at >= step.before.state.ends_at);
            let extensions: Vec<&Event> = public_events(step.action.changes())
                .filter(|event| matches!(event.kind, EventKind::Extended { .. }))
                .collect();
            let Action::Bid { request, result: Ok(_) } = &step.action else {
                prop_assert!(extensions.is_empty(), "{:?}", step.action);
                continue;
            };
            let moved = (step.before.state.price, leader_user(&step.before))
                != (step.after.state.price, leader_user(&step.after));
            let near_end = step.before.state.ends_at - request.at < Duration::seconds(window);
            if moved && window > 0 && near_end {
                prop_assert_eq!(extensions.len(), 1);
                let new_end = request.at + Duration::seconds(window);
                prop_assert_eq!(step.after.state.ends_at, new_end);
                prop_assert_eq!(
                    step.action.changes().last(),
                    Some(&Change::Public(Event {
                        seq: step.after.state.seq,
                        at: request.at,
                        kind: EventKind::Extended { ends_at: new_end },
                    }))
                );
            } else {
                prop_assert!(extensions.is_empty(), "{:?}", step.action);
                prop_assert_eq!(step.after.state.ends_at, step.before.state.ends_at);
            }
        }
    }

    #[test]
    fn buy_now_and_closing_follow_rules_nine_and_ten(scenario in scenario()) {
        let run = run(&scenario);
        for step in &run.steps {
            let before = &step.before;
            match &step.action {
                Action::BuyNow { buyer, at, result } => {
                    let offered = before.is_open_at(*at)
                        && before.rules.buy_now_price.is_some()
                        && (before.state.bid_count == 0 || !before.reserve_met());
                    prop_assert_eq!(result.is_ok(), offered, "{:?}", result);
                    if offered {
                        prop_assert_eq!(step.after.state.status, AuctionStatus::Closed);
                        prop_assert_eq!(step.after.state.winner, Some(*buyer));
                        prop_assert_eq!(leader_user(&step.after), Some(*buyer));
                        prop_assert_eq!(Some(step.after.state.price), before.rules.buy_now_price);
                    }
                }
                Action::End { force, cancel, at, result } => {
                    let live = before.state.status == AuctionStatus::Live;
                    let due = *force || *at >= before.state.ends_at;
                    match result {
                        Ok(_) if *cancel => {
                            prop_assert!(live);
                            prop_assert_eq!(step.after.state.status, AuctionStatus::Cancelled);
                            prop_assert_eq!(step.after.state.winner, None);
                        }
                        Ok(_) => {
                            prop_assert!(live && due);
                            let winner = before
                                .state
                                .leader
                                .filter(|_| before.reserve_met())
                                .map(|leader| leader.user);
                            prop_assert_eq!(step.after.state.status, AuctionStatus::Closed);
                            prop_assert_eq!(step.after.state.winner, winner);
                        }
                        Err(CloseError::AlreadyEnded) => prop_assert!(!live),
                        Err(CloseError::NotDue) => prop_assert!(live && !due),
                    }
                }
                Action::Bid { request, result } => {
                    if !before.is_open_at(request.at)
                        && check_bid_amounts(request.amount, request.max_amount).is_ok()
                    {
                        prop_assert_eq!(result, &Err(BidRejection::AuctionNotOpen));
                    }
                }
            }
        }
    }

    #[test]
    fn amounts_near_ten_to_the_twelfth_never_overflow(scenario in huge_scenario()) {
        let run = run(&scenario);
        for step in &run.steps {
            check_state(&step.after)?;
            prop_assert!(step.after.state.price >= step.before.state.price);
        }
        prop_assert_eq!(&replay(&scenario.rules, scenario.ends_at, &run.log), &run.last);
    }
}

#[test]
fn buy_now_never_lowers_the_price() {
    // Bids above the buy-now price but below the reserve: buying now would
    // sell for less than the current price, so it is refused.
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    let rules = crate::domain::AuctionRules {
        starting_price: 1_000,
        reserve_price: Some(50_000),
        buy_now_price: Some(5_000),
        starts_at: at - chrono::Duration::hours(1),
        extend_window_secs: 0,
        increments: crate::domain::IncrementTable::standard(),
    };
    let mut auction = crate::domain::Auction::new(rules, at + chrono::Duration::hours(1));
    let bidder = uuid::Uuid::from_u128(1);
    auction
        .place_bid(crate::domain::BidRequest {
            bidder,
            amount: 6_000,
            max_amount: None,
            at,
        })
        .expect("a bid above the buy-now price");
    assert!(!auction.reserve_met());
    let before = auction.clone();
    assert_eq!(
        auction.buy_now(uuid::Uuid::from_u128(2), at),
        Err(crate::domain::BidRejection::BuyNowUnavailable)
    );
    assert_eq!(auction, before);
}

// ---------------------------------------------------------------------------
// Voids: replaying the log without the voided bids (docs/bidding.md, Voids
// and bans)
// ---------------------------------------------------------------------------

/// A bids-only scenario (no buy-now, close or cancel: voids are refused on
/// ended lots), a void mask over its steps and a bidder for a void by user.
fn void_scenario() -> impl Strategy<Value = (Scenario, Vec<bool>, usize)> {
    (
        scenario(),
        proptest::collection::vec(proptest::bool::weighted(0.3), 41),
        0..POOL.len(),
    )
        .prop_map(|(mut scenario, mask, user)| {
            scenario.ops.retain(|op| matches!(op, OpSpec::Bid { .. }));
            (scenario, mask, user)
        })
}

/// The log entries of a run's accepted bids, each with whether it only
/// raised the leader's ceiling (no event of its own).
fn entries_of(run: &Run) -> Vec<super::Entry> {
    let mut entries = Vec::new();
    for step in &run.steps {
        let Action::Bid {
            request,
            result: Ok(accepted),
        } = &step.action
        else {
            continue;
        };
        let own = public_events(&accepted.changes)
            .filter(|event| {
                matches!(
                    event.kind,
                    EventKind::Bid { bidder, kind: BidKind::Bid, .. } if bidder == request.bidder
                )
            })
            .map(|event| event.seq)
            .last();
        let raise = leader_user(&step.before) == Some(request.bidder);
        entries.push(super::Entry::Bid {
            seq: own,
            bidder: request.bidder,
            amount: if raise {
                request.max_amount.unwrap_or(request.amount)
            } else {
                request.amount
            },
            max_amount: request.max_amount,
            raise,
            at: request.at,
        });
    }
    entries
}

/// The oracle: a fresh engine deciding the kept bids one by one; a raise of
/// the maximum whose bidder no longer leads is dropped.
fn decide_kept(scenario: &Scenario, kept: &[&super::Entry]) -> Auction {
    let mut auction = Auction::new(scenario.rules.clone(), scenario.ends_at);
    for entry in kept {
        let super::Entry::Bid {
            bidder,
            amount,
            max_amount,
            raise,
            at,
            ..
        } = entry
        else {
            continue;
        };
        if *raise && leader_user(&auction) != Some(*bidder) {
            continue;
        }
        let amount = *amount;
        let _ = auction.place_bid(BidRequest {
            bidder: *bidder,
            amount,
            max_amount: *max_amount,
            at: *at,
        });
    }
    auction
}

fn same_public_state(left: &Auction, right: &Auction) -> Result<(), TestCaseError> {
    prop_assert_eq!(left.state.price, right.state.price);
    prop_assert_eq!(left.state.leader, right.state.leader);
    prop_assert_eq!(left.state.bid_count, right.state.bid_count);
    prop_assert_eq!(left.state.ends_at, right.state.ends_at);
    prop_assert_eq!(left.state.status, right.state.status);
    Ok(())
}

proptest! {
    #[test]
    fn replaying_without_voided_bids_equals_deciding_the_rest_from_scratch(
        (scenario, mask, _) in void_scenario()
    ) {
        let run = run(&scenario);
        let log = entries_of(&run);
        let seqs: Vec<i64> = log
            .iter()
            .zip(&mask)
            .filter(|(_, voided)| **voided)
            .filter_map(|(entry, _)| entry.bid_seq())
            .collect();
        let mut live = run.last.clone();
        if live.state.status != AuctionStatus::Live || seqs.is_empty() {
            return Ok(());
        }
        let before = live.clone();
        let now = live.state.ends_at;
        let changes = live.void(&log, &seqs, None, "mistake", now).expect("a void of own bids");

        // The log gains exactly two events: voided, then repriced.
        let events: Vec<&Event> = public_events(&changes).collect();
        prop_assert_eq!(events.len(), 2);
        prop_assert_eq!(events[0].seq, before.state.seq + 1);
        prop_assert_eq!(events[1].seq, before.state.seq + 2);
        prop_assert_eq!(live.state.seq, before.state.seq + 2);

        let kept: Vec<&super::Entry> = log
            .iter()
            .filter(|entry| entry.bid_seq().is_none_or(|seq| !seqs.contains(&seq)))
            .collect();
        let scratch = decide_kept(&scenario, &kept);
        same_public_state(&live, &scratch)?;
        prop_assert!(
            live.state.price <= before.state.price,
            "the price rose from {} to {}", before.state.price, live.state.price
        );
        check_state(&live)?;

        // decide_from_scratch over the log with the void is the same state.
        let mut with_void = log.clone();
        with_void.push(super::Entry::Void {
            seq: before.state.seq + 1,
            seqs: seqs.clone(),
            user: None,
            reason: "mistake".into(),
            at: now,
        });
        let replayed = super::decide_from_scratch(&scenario.rules, scenario.ends_at, &with_void);
        same_public_state(&replayed, &scratch)?;
    }

    #[test]
    fn voiding_a_bidder_leaves_no_trace_of_them_and_never_raises_the_price(
        (scenario, _, user) in void_scenario()
    ) {
        let run = run(&scenario);
        let log = entries_of(&run);
        let user = POOL[user];
        let mut live = run.last.clone();
        if live.state.status != AuctionStatus::Live {
            return Ok(());
        }
        let before = live.clone();
        let now = live.state.ends_at;
        match live.void(&log, &[], Some(user), "banned", now) {
            Err(super::VoidError::NothingToVoid) => {
                prop_assert!(log.iter().all(|entry| entry.bidder() != Some(user)));
                prop_assert_eq!(&live, &before);
            }
            Err(other) => prop_assert!(false, "unexpected refusal {:?}", other),
            Ok(_) => {
                prop_assert_ne!(leader_user(&live), Some(user));
                prop_assert!(live.state.price <= before.state.price);
                let kept: Vec<&super::Entry> =
                    log.iter().filter(|entry| entry.bidder() != Some(user)).collect();
                same_public_state(&live, &decide_kept(&scenario, &kept))?;
                // Nothing the replay decides names them.
                let replayed = super::decide_from_scratch(&scenario.rules, scenario.ends_at, &{
                    let mut with_void = log.clone();
                    with_void.push(super::Entry::Void {
                        seq: before.state.seq + 1,
                        seqs: Vec::new(),
                        user: Some(user),
                        reason: "banned".into(),
                        at: now,
                    });
                    with_void
                });
                same_public_state(&replayed, &live)?;
            }
        }
    }

    #[test]
    fn a_barred_leader_never_gets_an_automatic_bid_and_never_wins(
        scenario in scenario(), bar_at in 0usize..40, who in 0..POOL.len()
    ) {
        let barred = POOL[who];
        let mut auction = Auction::new(scenario.rules.clone(), scenario.ends_at);
        let mut now = scenario.rules.starts_at;
        for (index, op) in scenario.ops.iter().enumerate() {
            if index == bar_at {
                let _ = auction.bar(barred);
            }
            let barred_now = auction.barred.contains(&barred);
            let changes = match op {
                OpSpec::Bid { bidder, amount, max, when } => {
                    if barred_now && POOL[*bidder] == barred {
                        continue; // a banned bidder's bids are refused before the engine
                    }
                    now = resolve_when(when, now, &auction);
                    let amount = resolve_amount(amount, &auction);
                    let request = BidRequest {
                        bidder: POOL[*bidder],
                        amount,
                        max_amount: resolve_max(max, amount, &auction),
                        at: now,
                    };
                    auction.place_bid(request).map(|a| a.changes).unwrap_or_default()
                }
                OpSpec::BuyNow { .. } | OpSpec::Cancel { .. } => continue,
                OpSpec::Close { force, when } => {
                    now = resolve_when(when, now, &auction);
                    auction.close(now, *force).unwrap_or_default()
                }
            };
            if barred_now {
                for event in public_events(&changes) {
                    match event.kind {
                        EventKind::Bid { bidder, .. } => prop_assert_ne!(bidder, barred),
                        EventKind::Closed { winner } => prop_assert_ne!(winner, Some(barred)),
                        _ => {}
                    }
                }
            }
            check_state(&auction)?;
        }
    }
}

#[test]
fn a_void_is_refused_on_an_ended_lot_and_for_automatic_bids() {
    let mut auction = AuctionBuilder::new().build();
    let first = place(&mut auction, ALICE, 100, Some(1_000), 10);
    let second = place(&mut auction, BOB, 200, None, 20);
    // Bob's bid at 200, then Alice's automatic bid at 210.
    let log = vec![
        super::Entry::Bid {
            seq: Some(first.seq),
            bidder: ALICE,
            amount: 100,
            max_amount: Some(1_000),
            raise: false,
            at: at(10),
        },
        super::Entry::Bid {
            seq: Some(second.seq),
            bidder: BOB,
            amount: 200,
            max_amount: None,
            raise: false,
            at: at(20),
        },
    ];
    let auto_seq = auction.state.seq;
    assert_eq!(
        auction.clone().void(&log, &[auto_seq], None, "x", at(30)),
        Err(super::VoidError::NotABid(auto_seq))
    );
    assert_eq!(
        auction.clone().void(&log, &[first.seq], None, "  ", at(30)),
        Err(super::VoidError::NoReason)
    );
    // Voiding Alice leaves Bob leading at his own 200.
    let mut voided = auction.clone();
    voided
        .void(&log, &[first.seq], None, "shill", at(30))
        .expect("void");
    assert_eq!(voided.state.price, 200);
    assert_eq!(leader_user(&voided), Some(BOB));
    assert_eq!(voided.state.bid_count, 1);

    auction.close(at(END), false).expect("close");
    assert_eq!(
        auction.void(&log, &[first.seq], None, "late", at(END + 1)),
        Err(super::VoidError::Ended)
    );
}

#[test]
fn a_barred_leaders_maximum_stops_bidding_and_they_cannot_win() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, Some(5_000), 10);
    auction.bar(ALICE).expect("barred");
    assert_eq!(auction.state.leader, leader(ALICE, 100));
    // Bob needs only the minimum next bid; no automatic bid for Alice.
    let minimum = auction.min_next_bid();
    let accepted = place(&mut auction, BOB, minimum, None, 20);
    assert_eq!(accepted.outcome, BidOutcome::Leading);
    assert_eq!(seen(&accepted.changes), vec![placed(2, BOB, minimum)]);
    assert_eq!(leader_user(&auction), Some(BOB));
    assert_eq!(auction.state.price, minimum);

    let mut alone = AuctionBuilder::new().build();
    place(&mut alone, ALICE, 100, Some(5_000), 10);
    alone.bar(ALICE).expect("barred");
    let changes = alone.close(at(END), false).expect("close");
    assert_eq!(seen(&changes), vec![closed(2, None)]);
}

#[test]
fn a_paused_auction_refuses_bids_and_resuming_moves_the_end_by_the_pause() {
    let mut auction = AuctionBuilder::new().build();
    place(&mut auction, ALICE, 100, None, 10);
    let changes = auction.pause(at(100)).expect("paused");
    assert_eq!(public_events(&changes).count(), 1);
    assert_eq!(
        auction.place_bid(bid(BOB, 200, None, 110)),
        Err(BidRejection::AuctionPaused)
    );
    assert_eq!(
        auction.buy_now(BOB, at(110)),
        Err(BidRejection::AuctionPaused)
    );
    assert_eq!(
        auction.pause(at(120)),
        Err(super::ControlError::AlreadyPaused)
    );
    // Paused past the end: it does not close by itself.
    assert_eq!(auction.close(at(END + 10), false), Err(CloseError::NotDue));
    assert!(!auction.is_due_to_close(at(END + 10)));
    auction.resume(at(700)).expect("resumed");
    assert_eq!(auction.state.ends_at, at(END + 600));
    assert_eq!(auction.resume(at(701)), Err(super::ControlError::NotPaused));
    place(&mut auction, BOB, 200, None, 710);
    auction.extend_by(60, at(720)).expect("extended");
    assert_eq!(auction.state.ends_at, at(END + 660));
    assert_eq!(
        auction.extend_by(0, at(720)),
        Err(super::ControlError::BadExtension)
    );
    auction
        .withdraw("damaged in transit", at(730))
        .expect("withdrawn");
    assert_eq!(auction.state.status, AuctionStatus::Closed);
    assert_eq!(auction.state.winner, None);
    assert_eq!(
        auction.pause(at(740)),
        Err(super::ControlError::AlreadyEnded)
    );
}
