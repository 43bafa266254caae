//! The multi-auction group commit ([`Store::commit_batches`]): the batches
//! of many auctions in one transaction, each still fenced on its own
//! `seq` and epoch, a stale one skipped without failing the others.
//!
//! PostgreSQL: ONE statement, one round trip. The batches travel as four
//! JSON arrays (auction rows, events, notes, answers) unpacked with
//! `json_to_recordset`, so the statement text is the same whatever the
//! batch sizes (prepared once per connection) and no bind-parameter limit
//! applies; sqlx's `Any` driver cannot bind arrays, JSON it can. The
//! fenced UPDATE returns the auctions it moved and the inserts take only
//! their rows.
//!
//! SQLite: one `BEGIN IMMEDIATE` … `COMMIT` holding every batch, each
//! written with the per-auction statements of [`write_batch`].

use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;

/// The whole multi-auction commit on PostgreSQL; `$1` auction rows, `$2`
/// events, `$3` notes, `$4` answers.
const COMMIT_MANY: &str = "\
WITH b AS (
  SELECT * FROM json_to_recordset($1::json) AS b(
    id text, expected_seq bigint, epoch bigint, status text, price bigint,
    leader_id text, leader_ceiling bigint, bid_count bigint, seq bigint,
    ends_at bigint, winner_id text, updated_at bigint, barred text,
    head_hash text, paused_at bigint, closed_at bigint)
), moved AS (
  UPDATE auctions a SET status = b.status, price = b.price,
    leader_id = b.leader_id, leader_ceiling = b.leader_ceiling,
    bid_count = b.bid_count, seq = b.seq, ends_at = b.ends_at,
    winner_id = b.winner_id, epoch = b.epoch, updated_at = b.updated_at,
    barred = b.barred, head_hash = b.head_hash, paused_at = b.paused_at,
    closed_at = b.closed_at
  FROM b
  WHERE a.id = b.id AND a.seq = b.expected_seq AND a.epoch <= b.epoch
  RETURNING a.id
), new_events AS (
  INSERT INTO auction_events (auction_id, seq, kind, at, bidder_id, amount,
    bid_kind, ceiling, req_amount, req_max, hash, data)
  SELECT e.auction_id, e.seq, e.kind, e.at, e.bidder_id, e.amount,
    e.bid_kind, e.ceiling, e.req_amount, e.req_max, e.hash, e.data
  FROM json_to_recordset($2::json) AS e(auction_id text, seq bigint,
    kind text, at bigint, bidder_id text, amount bigint, bid_kind text,
    ceiling bigint, req_amount bigint, req_max bigint, hash text, data text)
  WHERE e.auction_id IN (SELECT id FROM moved)
), new_notes AS (
  INSERT INTO auction_notes (auction_id, after_seq, n, kind, at, bidder_id,
    amount, max_amount)
  SELECT n.auction_id, n.after_seq, n.n, n.kind, n.at, n.bidder_id,
    n.amount, n.max_amount
  FROM json_to_recordset($3::json) AS n(auction_id text, after_seq bigint,
    n bigint, kind text, at bigint, bidder_id text, amount bigint,
    max_amount bigint)
  WHERE n.auction_id IN (SELECT id FROM moved)
), new_answers AS (
  INSERT INTO bid_requests (auction_id, user_id, request_id, http_status,
    body, created_at)
  SELECT r.auction_id, r.user_id, r.request_id, r.http_status, r.body,
    r.created_at
  FROM json_to_recordset($4::json) AS r(auction_id text, user_id text,
    request_id text, http_status bigint, body text, created_at bigint)
  WHERE r.auction_id IN (SELECT id FROM moved)
)
SELECT id FROM moved";

/// The four JSON arrays [`COMMIT_MANY`] reads.
#[derive(Default)]
struct Payload {
    rows: Vec<Value>,
    events: Vec<Value>,
    notes: Vec<Value>,
    answers: Vec<Value>,
}

impl Payload {
    fn of(batches: &[CommitBatch]) -> Self {
        let mut payload = Self::default();
        for batch in batches {
            let id = batch.auction_id.to_string();
            let state = &batch.state;
            payload.rows.push(json!({
                "id": id,
                "expected_seq": batch.expected_seq,
                "epoch": batch.epoch,
                "status": status_text(state.status),
                "price": state.price,
                "leader_id": state.leader.map(|l| l.user.to_string()),
                "leader_ceiling": state.leader.map(|l| l.ceiling),
                "bid_count": state.bid_count,
                "seq": state.seq,
                "ends_at": ms(state.ends_at),
                "winner_id": state.winner.map(|w| w.to_string()),
                "updated_at": ms(batch.now),
                "barred": barred_text(&batch.barred),
                "head_hash": batch.head_hash,
                "paused_at": state.paused_at.map(ms),
                "closed_at": state.closed_at.map(ms),
            }));
            for event in &batch.events {
                payload.events.push(json!({
                    "auction_id": id,
                    "seq": event.seq,
                    "kind": event.name,
                    "at": ms(event.at),
                    "bidder_id": event.bidder.map(|b| b.to_string()),
                    "amount": event.amount,
                    "bid_kind": event.bid_kind,
                    "ceiling": event.ceiling,
                    "req_amount": event.req_amount,
                    "req_max": event.req_max,
                    "hash": event.hash,
                    "data": event.data,
                }));
            }
            for note in &batch.notes {
                payload.notes.push(json!({
                    "auction_id": id,
                    "after_seq": note.after_seq,
                    "n": note.n,
                    "kind": note.kind,
                    "at": ms(note.at),
                    "bidder_id": note.bidder.to_string(),
                    "amount": note.amount,
                    "max_amount": note.max_amount,
                }));
            }
            for answer in &batch.answers {
                payload.answers.push(json!({
                    "auction_id": id,
                    "user_id": answer.user.to_string(),
                    "request_id": answer.request_id,
                    "http_status": answer.answer.http_status,
                    "body": answer.answer.body,
                    "created_at": ms(batch.now),
                }));
            }
        }
        payload
    }
}

impl SqlStore {
    /// PostgreSQL: every batch in one statement ([`COMMIT_MANY`]).
    pub(super) async fn commit_batches_in_one_statement(
        &self,
        batches: &[CommitBatch],
    ) -> StoreResult<Vec<BatchOutcome>> {
        let payload = Payload::of(batches);
        let text = |values: Vec<Value>| Value::Array(values).to_string();
        let rows = sqlx::query(COMMIT_MANY)
            .bind(text(payload.rows))
            .bind(text(payload.events))
            .bind(text(payload.notes))
            .bind(text(payload.answers))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let moved: HashSet<String> = rows
            .iter()
            .map(|row| get::<String>(row, "id"))
            .collect::<StoreResult<_>>()?;
        Ok(batches
            .iter()
            .map(|batch| {
                if moved.contains(&batch.auction_id.to_string()) {
                    BatchOutcome::Committed
                } else {
                    BatchOutcome::Stale
                }
            })
            .collect())
    }

    /// SQLite (and PostgreSQL if ever wanted): one transaction, each batch
    /// written by [`write_batch`]; a stale one writes nothing.
    pub(super) async fn commit_batches_in_one_transaction(
        &self,
        batches: &[CommitBatch],
    ) -> StoreResult<Vec<BatchOutcome>> {
        let mut guard = ConnectionGuard::new(self.pool.acquire().await.map_err(db_error)?);
        let tx = guard.conn();
        sqlx::query(self.begin())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut outcomes = Vec::with_capacity(batches.len());
        for batch in batches {
            let outcome = if write_batch(tx, batch).await? {
                BatchOutcome::Committed
            } else {
                BatchOutcome::Stale
            };
            outcomes.push(outcome);
        }
        sqlx::query("COMMIT")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        guard.clean();
        Ok(outcomes)
    }
}
