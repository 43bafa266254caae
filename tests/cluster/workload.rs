//! Bidders that behave like careful clients, and the checks against the
//! database that every scenario ends with.
//!
//! A bidder bids the auction's `min_next_bid` (plus a little) from its home
//! node, over HTTP or a WebSocket. A 503 `unavailable` is retried with the
//! same `request_id`; a request that got no answer at all (node killed,
//! connection dropped) is retried with the same `request_id` at the next
//! live node. Every 200 is remembered as an [`Ack`]. Bidders never send
//! `max_amount`, so every accepted request records exactly one `bid` event
//! for its bidder: the checks rely on that.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng as _;
use serde_json::Value;

use crate::clients::{http_bid, Account, Outcome, Watcher, WsConn};
use crate::harness::Targets;

/// How long one request may keep getting `unavailable` (or no answer).
pub const RETRY_LIMIT: Duration = Duration::from_secs(30);
/// Between two tickets (above the increment up to a price of 100,000).
const TICKET_STEP: i64 = 1000;
/// Pause before retrying a request.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// An acknowledged (200) bid.
#[derive(Debug, Clone)]
pub struct Ack {
    pub user_id: String,
    pub request_id: String,
    pub seq: i64,
    /// The node that answered.
    pub node: usize,
    pub via_ws: bool,
}

/// What the bidders share with the test.
#[derive(Debug)]
pub struct Crowd {
    /// Goes into every request_id, so that two crowds never share one.
    pub label: String,
    /// Nodes bidders may use (the test clears one before killing it).
    pub alive: Vec<AtomicBool>,
    /// Set to end every bidder after its current request.
    pub stop: AtomicBool,
    pub acks: Mutex<Vec<Ack>>,
    /// The highest `min_next_bid` any answer told.
    pub min_next: AtomicI64,
    /// Hands out rising amounts, so that bids sent at about the same time
    /// are mostly accepted in turn instead of all but one being too low.
    pub tickets: AtomicI64,
    pub unavailable: AtomicUsize,
    pub transport_errors: AtomicUsize,
    pub rejected: AtomicUsize,
}

impl Crowd {
    pub fn new(label: &str, nodes: usize, starting_price: i64) -> Arc<Self> {
        Arc::new(Self {
            label: label.to_string(),
            alive: (0..nodes).map(|_| AtomicBool::new(true)).collect(),
            stop: AtomicBool::new(false),
            acks: Mutex::new(Vec::new()),
            min_next: AtomicI64::new(starting_price),
            tickets: AtomicI64::new(starting_price),
            unavailable: AtomicUsize::new(0),
            transport_errors: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
        })
    }

    pub fn acks(&self) -> Vec<Ack> {
        self.acks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The next amount to bid: a fresh ticket, but never below what the
    /// auction was last said to need.
    fn next_amount(&self) -> i64 {
        let floor = self.min_next.load(Ordering::SeqCst);
        self.tickets.fetch_max(floor, Ordering::SeqCst);
        self.tickets
            .fetch_add(TICKET_STEP, Ordering::SeqCst)
            .max(floor)
    }

    fn record(&self, ack: Ack) {
        self.acks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(ack);
    }

    /// `from` if it is alive, else the next live node.
    fn live_node(&self, from: usize) -> usize {
        let nodes = self.alive.len();
        (0..nodes)
            .map(|step| (from + step) % nodes)
            .find(|&node| self.alive[node].load(Ordering::SeqCst))
            .expect("at least one live node")
    }

    pub fn summary(&self) -> String {
        format!(
            "{} accepted, {} rejected, {} unavailable answers retried, {} requests without answer retried",
            self.acks().len(),
            self.rejected.load(Ordering::SeqCst),
            self.unavailable.load(Ordering::SeqCst),
            self.transport_errors.load(Ordering::SeqCst),
        )
    }
}

/// One bidder of a crowd.
#[derive(Debug, Clone)]
pub struct Plan {
    pub account: Account,
    pub home: usize,
    pub via_ws: bool,
    /// At most this many requests (fewer when the crowd is stopped).
    pub requests: usize,
}

/// Runs a bidder in the background.
pub fn spawn_bidder(
    targets: Targets,
    crowd: Arc<Crowd>,
    auction: String,
    plan: Plan,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { run_bidder(&targets, &crowd, &auction, plan).await })
}

async fn run_bidder(targets: &Targets, crowd: &Crowd, auction: &str, plan: Plan) {
    let Plan {
        account,
        mut home,
        via_ws,
        requests,
    } = plan;
    let mut ws: Option<WsConn> = None;
    let mut amount = crowd.next_amount();
    for k in 1..=requests {
        if crowd.stop.load(Ordering::SeqCst) {
            return;
        }
        let request_id = format!("{}-{}-{k}", crowd.label, account.username);
        let first_try = Instant::now();
        loop {
            let node = crowd.live_node(home);
            let outcome = if via_ws {
                if ws.is_none() {
                    match WsConn::connect(targets.addrs[node], Some(&account.token)).await {
                        Ok(conn) => ws = Some(conn),
                        Err(error) => {
                            ws = None;
                            retry_elsewhere(crowd, &mut home, node, &request_id, &error, first_try)
                                .await;
                            continue;
                        }
                    }
                }
                let conn = ws.as_mut().expect("a connected socket");
                conn.bid(auction, &request_id, amount).await
            } else {
                http_bid(targets, node, &account.token, auction, &request_id, amount).await
            };
            if let Some(min_next) = outcome.min_next_bid() {
                crowd.min_next.fetch_max(min_next, Ordering::SeqCst);
            }
            match outcome {
                Outcome::Accepted { seq, .. } => {
                    crowd.record(Ack {
                        user_id: account.id.clone(),
                        request_id: request_id.clone(),
                        seq,
                        node,
                        via_ws,
                    });
                    break;
                }
                Outcome::Unavailable => {
                    crowd.unavailable.fetch_add(1, Ordering::SeqCst);
                    assert!(
                        first_try.elapsed() < RETRY_LIMIT,
                        "{request_id} still unavailable after {RETRY_LIMIT:?}"
                    );
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Outcome::Transport(error) => {
                    ws = None;
                    retry_elsewhere(crowd, &mut home, node, &request_id, &error, first_try).await;
                }
                rejected @ Outcome::Rejected { .. } => {
                    let code = rejected.code().unwrap_or_default().to_string();
                    let status = match &rejected {
                        Outcome::Rejected { status, .. } => *status,
                        _ => 0,
                    };
                    let expected = match code.as_str() {
                        "below_minimum" => 422,
                        "already_leading" => 409,
                        _ => u16::MAX,
                    };
                    assert!(
                        status == expected || (via_ws && status == 0 && expected != u16::MAX),
                        "{request_id} at node {node}: an unexpected answer {rejected:?}"
                    );
                    crowd.rejected.fetch_add(1, Ordering::SeqCst);
                    if code == "already_leading" {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    break;
                }
            }
        }
        amount = crowd.next_amount();
        let pause = rand::thread_rng().gen_range(0..25);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// A request got no answer at `node`: move on to the next live node.
async fn retry_elsewhere(
    crowd: &Crowd,
    home: &mut usize,
    node: usize,
    request_id: &str,
    error: &str,
    first_try: Instant,
) {
    crowd.transport_errors.fetch_add(1, Ordering::SeqCst);
    assert!(
        first_try.elapsed() < RETRY_LIMIT,
        "{request_id} got no answer for {RETRY_LIMIT:?}; last: {error}"
    );
    *home = (node + 1) % crowd.alive.len();
    tokio::time::sleep(RETRY_PAUSE).await;
}

/// Waits for every bidder; a bidder's panic fails the test here.
pub async fn join_all(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        task.await.expect("a bidder failed");
    }
}

/// A row of `auction_events`.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub kind: String,
    pub bidder: Option<String>,
    pub bid_kind: Option<String>,
    /// Unix milliseconds (shown in failure messages).
    #[allow(dead_code)]
    pub at: i64,
}

/// A row of `bid_requests`.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub user_id: String,
    pub request_id: String,
    pub status: i64,
    pub body: Value,
}

/// What the database says about one auction.
#[derive(Debug, Clone)]
pub struct DbView {
    pub events: Vec<EventRow>,
    pub requests: Vec<RequestRow>,
    pub row_seq: i64,
    pub row_epoch: i64,
}

/// `(seq, kind, bidder_id, bid_kind, at)` as read from `auction_events`.
type EventTuple = (i64, String, Option<String>, Option<String>, i64);

pub async fn load_db(conn: &mut sqlx::PgConnection, auction: &str) -> DbView {
    let events: Vec<EventTuple> = sqlx::query_as(
        "SELECT seq, kind, bidder_id, bid_kind, at FROM auction_events \
         WHERE auction_id = $1 ORDER BY seq",
    )
    .bind(auction)
    .fetch_all(&mut *conn)
    .await
    .expect("read auction_events");
    let requests: Vec<(String, String, i64, String)> = sqlx::query_as(
        "SELECT user_id, request_id, http_status, body FROM bid_requests WHERE auction_id = $1",
    )
    .bind(auction)
    .fetch_all(&mut *conn)
    .await
    .expect("read bid_requests");
    let (row_seq, row_epoch): (i64, i64) =
        sqlx::query_as("SELECT seq, epoch FROM auctions WHERE id = $1")
            .bind(auction)
            .fetch_one(&mut *conn)
            .await
            .expect("read the auction row");
    DbView {
        events: events
            .into_iter()
            .map(|(seq, kind, bidder, bid_kind, at)| EventRow {
                seq,
                kind,
                bidder,
                bid_kind,
                at,
            })
            .collect(),
        requests: requests
            .into_iter()
            .map(|(user_id, request_id, status, body)| RequestRow {
                user_id,
                request_id,
                status,
                body: serde_json::from_str(&body).expect("a JSON stored answer"),
            })
            .collect(),
        row_seq,
        row_epoch,
    }
}

impl DbView {
    pub fn last_seq(&self) -> i64 {
        self.events.last().map_or(0, |event| event.seq)
    }

    pub fn seqs(&self) -> Vec<i64> {
        self.events.iter().map(|event| event.seq).collect()
    }

    /// The stored answer of a request.
    pub fn request(&self, user_id: &str, request_id: &str) -> Option<&RequestRow> {
        self.requests
            .iter()
            .find(|row| row.user_id == user_id && row.request_id == request_id)
    }

    /// Asserts the promises that hold whatever happened to the nodes:
    /// - the events are `1..=N`, no gap, and the auction row is at `N`;
    /// - every acknowledged bid is stored with its answer and its event;
    /// - every accepted request placed exactly one `bid` event, and every
    ///   `bid` event belongs to exactly one accepted request: no
    ///   `request_id` was placed twice, none was placed without an answer.
    pub fn assert_consistent(&self, acks: &[Ack]) {
        let seqs = self.seqs();
        let want: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, want, "auction_events is not the gapless 1..=N");
        assert_eq!(
            self.row_seq,
            self.last_seq(),
            "the auction row's seq is not its last event's"
        );

        let events: HashMap<i64, &EventRow> = self.events.iter().map(|e| (e.seq, e)).collect();
        let mut placed_by: BTreeMap<i64, (&str, &str)> = BTreeMap::new();
        for row in self.requests.iter().filter(|row| row.status == 200) {
            let seq = row.body["seq"]
                .as_i64()
                .unwrap_or_else(|| panic!("a stored BidResult without seq: {:?}", row.body));
            let event = events.get(&seq).unwrap_or_else(|| {
                panic!(
                    "{} was answered with seq {seq}, which is not in auction_events",
                    row.request_id
                )
            });
            assert_eq!(
                (
                    event.kind.as_str(),
                    event.bid_kind.as_deref(),
                    event.bidder.as_deref()
                ),
                ("bid", Some("bid"), Some(row.user_id.as_str())),
                "event {seq} is not {}'s bid",
                row.request_id
            );
            if let Some(other) = placed_by.insert(seq, (&row.user_id, &row.request_id)) {
                panic!("seq {seq} answers both {other:?} and {}", row.request_id);
            }
        }
        for event in &self.events {
            if event.bid_kind.as_deref() == Some("bid") {
                assert!(
                    placed_by.contains_key(&event.seq),
                    "bid event {} by {:?} has no accepted request: a request placed twice, \
                     or placed without a stored answer",
                    event.seq,
                    event.bidder
                );
            }
        }

        let mut acknowledged = HashSet::new();
        for ack in acks {
            let row = self
                .request(&ack.user_id, &ack.request_id)
                .unwrap_or_else(|| panic!("acknowledged {ack:?} is not in bid_requests: lost"));
            assert_eq!(row.status, 200, "acknowledged {ack:?} is stored as {row:?}");
            assert_eq!(
                row.body["seq"].as_i64(),
                Some(ack.seq),
                "acknowledged {ack:?} is stored with another seq: {:?}",
                row.body
            );
            assert!(
                acknowledged.insert((&ack.user_id, &ack.request_id)),
                "{ack:?} acknowledged twice"
            );
        }
    }
}

/// Waits until every watcher has everything the database has, then asserts
/// each saw exactly the database's sequence after its snapshot, in order,
/// with no gap and no repeat, and is still connected.
pub async fn assert_watchers_match(watchers: &[&Watcher], db: &DbView, timeout: Duration) {
    let mut problems = Vec::new();
    for watcher in watchers {
        let log = watcher.wait_for(db.last_seq(), timeout).await;
        let start = log.start.expect("a snapshot");
        let want: Vec<i64> = db.seqs().into_iter().filter(|seq| *seq > start).collect();
        if log.seqs != want || log.ended.is_some() {
            let missing: Vec<i64> = want
                .iter()
                .filter(|seq| !log.seqs.contains(seq))
                .copied()
                .collect();
            let first_missing = missing.first().copied().unwrap_or(0);
            let around: Vec<_> = log
                .timing
                .iter()
                .filter(|(seq, _, _)| (first_missing - 3..=first_missing + 3).contains(seq))
                .collect();
            problems.push(format!(
                "{} (snapshot at {start}, ended: {:?}): missing {missing:?}, saw {:?}; \
                 around the gap (seq, server_time, arrived ms): {around:?}",
                watcher.name, log.ended, log.seqs
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "watchers disagree with the database (events 1..={}):\n{}\nevents: {:?}",
        db.last_seq(),
        problems.join("\n"),
        db.events
    );
}

/// [`assert_watchers_match`] for every watcher of `watchers` at a live node.
pub async fn assert_live_watchers_match(
    watchers: &[Watcher],
    dead: Option<usize>,
    db: &DbView,
    timeout: Duration,
) {
    let live: Vec<&Watcher> = watchers.iter().filter(|w| Some(w.node) != dead).collect();
    assert_watchers_match(&live, db, timeout).await;
}

/// A watcher whose node died: what it saw must be a gapless prefix.
pub fn assert_watcher_prefix(watcher: &Watcher, db: &DbView) {
    let log = watcher.log();
    let start = log.start.expect("a snapshot");
    let want: Vec<i64> = db
        .seqs()
        .into_iter()
        .filter(|seq| *seq > start)
        .take(log.seqs.len())
        .collect();
    assert_eq!(
        log.seqs, want,
        "{} saw something other than a prefix of the database's sequence",
        watcher.name
    );
}

/// Opens an SSE and a WebSocket watcher at every node.
pub async fn watch_everywhere(targets: &Targets, auction: &str) -> Vec<Watcher> {
    let mut watchers = Vec::new();
    for node in 0..targets.bases.len() {
        watchers.push(Watcher::sse(targets, node, auction).await);
        watchers.push(Watcher::ws(targets, node, auction).await);
    }
    watchers
}

/// Starts one bidder per account: homes round-robin over the nodes, and
/// the first bidder of each node bids over a WebSocket.
pub fn spawn_crowd(
    targets: &Targets,
    crowd: &Arc<Crowd>,
    auction: &str,
    accounts: Vec<Account>,
    requests: usize,
) -> Vec<tokio::task::JoinHandle<()>> {
    let nodes = targets.bases.len();
    accounts
        .into_iter()
        .enumerate()
        .map(|(i, account)| {
            let plan = Plan {
                account,
                home: i % nodes,
                via_ws: i < nodes,
                requests,
            };
            spawn_bidder(
                targets.clone(),
                Arc::clone(crowd),
                auction.to_string(),
                plan,
            )
        })
        .collect()
}

/// Sends one request to `node` until it is answered (retrying `unavailable`
/// with the same `request_id`); returns the answer and how many 503s came
/// first. No answer at all fails the test.
pub async fn bid_until_answered(
    targets: &Targets,
    node: usize,
    account: &Account,
    auction: &str,
    request_id: &str,
    amount: i64,
) -> (Outcome, usize) {
    let started = Instant::now();
    let mut unavailable = 0;
    loop {
        match http_bid(targets, node, &account.token, auction, request_id, amount).await {
            Outcome::Unavailable => {
                unavailable += 1;
                assert!(
                    started.elapsed() < RETRY_LIMIT,
                    "{request_id} at node {node} still unavailable after {RETRY_LIMIT:?}"
                );
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Outcome::Transport(error) => {
                panic!("{request_id} at node {node}: no answer: {error}")
            }
            answered => return (answered, unavailable),
        }
    }
}

/// The ack of an accepted outcome (panics on anything else).
pub fn ack_of(outcome: &Outcome, account: &Account, request_id: &str, node: usize) -> Ack {
    match outcome {
        Outcome::Accepted { seq, .. } => Ack {
            user_id: account.id.clone(),
            request_id: request_id.to_string(),
            seq: *seq,
            node,
            via_ws: false,
        },
        other => panic!("{request_id} at node {node}: expected 200, got {other:?}"),
    }
}
