//! [`Store`] over SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! The schema uses only types both backends share (TEXT ids, BIGINT/INTEGER
//! numbers and Unix-millisecond times), so one set of SQL serves both; the
//! backend shows up only in [`Dialect`]: its migrations and connection setup.

mod multi;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row};

use super::*;
use crate::domain::{
    Auction, AuctionRules, AuctionState, AuctionStatus, IncrementTable, Leader, PublicStatus,
};

/// Rows per multi-row INSERT, well under both backends' bind limits.
mod watchlist;

const ROWS_PER_INSERT: usize = 400;
/// Bind parameters one PostgreSQL statement may carry (the protocol's limit
/// is 65,535).
const MAX_STATEMENT_PARAMS: usize = 60_000;

/// `($n::t1, $n+1::t2, …)` rows of typed parameters, numbered from `first`.
fn typed_rows(first: usize, rows: usize, types: &[&str]) -> String {
    (0..rows)
        .map(|row| {
            let cells: Vec<String> = types
                .iter()
                .enumerate()
                .map(|(col, ty)| format!("${}::{ty}", first + row * types.len() + col))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

const EVENT_TYPES: [&str; 12] = [
    "text", "bigint", "text", "bigint", "text", "bigint", "text", "bigint", "bigint", "bigint",
    "text", "text",
];
/// The columns of an `auction_events` row as written.
const EVENT_INSERT_COLUMNS: &str =
    "auction_id, seq, kind, at, bidder_id, amount, bid_kind, ceiling, req_amount, req_max, hash, data";
const NOTE_INSERT_COLUMNS: &str =
    "auction_id, after_seq, n, kind, at, bidder_id, amount, max_amount";
const ANSWER_TYPES: [&str; 6] = ["text", "text", "text", "bigint", "text", "bigint"];

/// A pooled connection used for a hand-made transaction. Unless the
/// transaction ended cleanly (COMMIT or ROLLBACK went through), the
/// connection is closed instead of going back to the pool: after a failed
/// COMMIT (disk full, read-only file) or a call cut off by its deadline,
/// SQLite may or may not still be inside the transaction, and a pooled
/// connection stuck in one would hold the write lock or a stale snapshot.
struct ConnectionGuard {
    conn: Option<sqlx::pool::PoolConnection<Any>>,
    clean: bool,
}

impl ConnectionGuard {
    fn new(conn: sqlx::pool::PoolConnection<Any>) -> Self {
        Self {
            conn: Some(conn),
            clean: false,
        }
    }

    fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.conn
            .as_deref_mut()
            .expect("the connection is only taken on drop")
    }

    /// The transaction ended; the connection may be reused.
    fn clean(&mut self) {
        self.clean = true;
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if !self.clean {
            if let Some(conn) = self.conn.take() {
                // Detached, the connection is closed when dropped; SQLite and
                // PostgreSQL roll back whatever was open on it.
                drop(conn.detach());
                tracing::warn!("closed a database connection left in an unknown transaction state");
            }
        }
    }
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn from_url(url: &str) -> Result<Self, anyhow::Error> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
        }
    }
}

/// The SQL store.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
}

/// Connects to `url`, creating a missing SQLite file, and applies migrations.
/// The name of the bidder alias key in `server_secrets`.
pub const ALIAS_KEY_SECRET: &str = "bidder_alias_key";

pub async fn connect(url: &str) -> anyhow::Result<SqlStore> {
    connect_seeded(url, None).await
}

/// [`connect`], giving a new database `alias_key_seed` as its alias key
/// instead of random bytes (tests that run several databases in one
/// process, where the first key installed is the one used).
pub async fn connect_seeded(url: &str, alias_key_seed: Option<&str>) -> anyhow::Result<SqlStore> {
    use anyhow::Context as _;
    sqlx::any::install_default_drivers();
    let dialect = Dialect::from_url(url)?;
    let pool = match dialect {
        Dialect::Sqlite => {
            let url = if url.contains('?') {
                url.to_string()
            } else {
                format!("{url}?mode=rwc")
            };
            AnyPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(5))
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                        refuse_read_only_connection(conn).await
                    })
                })
                .connect(&url)
                .await
                .with_context(|| format!("opening SQLite database {url}"))?
        }
        Dialect::Postgres => AnyPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await
            .context("connecting to PostgreSQL")?,
    };
    let migrator = match dialect {
        Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    migrator
        .run(&pool)
        .await
        .context("applying database migrations")?;
    let store = SqlStore { pool, dialect };
    // Aliases in event data and everything rendered from this database use
    // its key: install it before anything is hashed, replayed or served.
    let alias_key = store
        .server_secret(ALIAS_KEY_SECRET, alias_key_seed)
        .await
        .context("reading the bidder alias key")?;
    if !crate::domain::alias::install_key(alias_key.as_bytes()) {
        tracing::warn!(
            "another database's alias key is in use in this process; aliases follow that one"
        );
    }
    store
        .fill_initial_ends()
        .await
        .context("finding the original end of auctions extended before migration 0003")?;
    let filled = store
        .fill_missing_hashes()
        .await
        .context("hashing events stored before migration 0003")?;
    if filled > 0 {
        tracing::info!(
            events = filled,
            "hash chain filled in for events stored before it existed"
        );
    }
    Ok(store)
}

impl SqlStore {
    /// The server secret `name`, stored on first use (as `seed`, else as
    /// random hex), so every node and restart on this database shares it;
    /// the first node to store one wins.
    async fn server_secret(&self, name: &str, seed: Option<&str>) -> StoreResult<String> {
        use rand::RngCore as _;
        let fresh: String = match seed {
            Some(seed) => seed.to_owned(),
            None => {
                let mut bytes = [0_u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                bytes.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        // The first node to get here wins; everyone reads the winner.
        sqlx::query(
            "INSERT INTO server_secrets (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(&fresh)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        let row = sqlx::query("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        get(&row, "value")
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Fills in `initial_ends_at` of auctions extended before migration
    /// 0003: the `ends_at` in the data of the event before their first
    /// extension (the end in force until then). Idempotent.
    pub async fn fill_initial_ends(&self) -> StoreResult<usize> {
        let rows = sqlx::query("SELECT id, ends_at FROM auctions WHERE initial_ends_at IS NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        for row in &rows {
            let auction: String = get(row, "id")?;
            let id = parse_id(&auction)?;
            let (events, _) = self.auction_log(id).await?;
            let first_extension = events.iter().position(|event| event.name == "extended");
            let original = match first_extension {
                Some(index) if index > 0 => {
                    let data: serde_json::Value = serde_json::from_str(&events[index - 1].data)
                        .map_err(|e| StoreError::Corrupt(format!("auction {id}: {e}")))?;
                    data["ends_at"]
                        .as_str()
                        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
                        .map(|time| time.timestamp_millis())
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "auction {id}: no ends_at before seq {}",
                                index + 1
                            ))
                        })?
                }
                _ => get::<i64>(row, "ends_at")?,
            };
            sqlx::query("UPDATE auctions SET initial_ends_at = $1 WHERE id = $2 AND initial_ends_at IS NULL")
                .bind(original)
                .bind(&auction)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        }
        Ok(rows.len())
    }

    /// Links events stored before the hash chain existed (migration 0003)
    /// into it: each gets its hash (column and data), each such auction its
    /// head hash. Idempotent; returns how many events it hashed.
    pub async fn fill_missing_hashes(&self) -> StoreResult<usize> {
        let rows = sqlx::query("SELECT DISTINCT auction_id FROM auction_events WHERE hash IS NULL")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut filled = 0;
        for row in &rows {
            let auction: String = get(row, "auction_id")?;
            let id = parse_id(&auction)?;
            let (events, _) = self.auction_log(id).await?;
            let mut head = crate::domain::chain::GENESIS.to_string();
            let mut last_seq = 0;
            for event in &events {
                last_seq = event.seq;
                if let Some(hash) = &event.hash {
                    head = hash.clone();
                    continue;
                }
                let corrupt = |e: crate::domain::chain::ChainError| {
                    StoreError::Corrupt(format!("auction {id} seq {}: {e}", event.seq))
                };
                let hash = crate::domain::chain::event_hash(
                    &head,
                    id,
                    event.seq,
                    &event.name,
                    &event.data,
                )
                .map_err(corrupt)?;
                let data = crate::domain::chain::with_hash(&event.data, &hash).map_err(corrupt)?;
                sqlx::query(
                    "UPDATE auction_events SET hash = $1, data = $2 \
                     WHERE auction_id = $3 AND seq = $4 AND hash IS NULL",
                )
                .bind(&hash)
                .bind(&data)
                .bind(&auction)
                .bind(event.seq)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                head = hash;
                filled += 1;
            }
            sqlx::query("UPDATE auctions SET head_hash = $1 WHERE id = $2 AND seq = $3")
                .bind(&head)
                .bind(&auction)
                .bind(last_seq)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        }
        Ok(filled)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The statement that opens a write transaction. IMMEDIATE takes
    /// SQLite's write lock at once, so the transaction never has to upgrade
    /// a read lock (which busy_timeout cannot wait out).
    fn begin(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// PostgreSQL: the whole group commit as ONE statement (data-modifying
    /// CTEs), so it costs one round trip instead of five. The inserts only
    /// happen when the fenced UPDATE moved the row.
    async fn commit_batch_in_one_statement(&self, batch: &CommitBatch) -> StoreResult<()> {
        let mut sql = String::from(
            "WITH moved AS (UPDATE auctions SET status = $1, price = $2, leader_id = $3, \
             leader_ceiling = $4, bid_count = $5, seq = $6, ends_at = $7, winner_id = $8, \
             epoch = $9, updated_at = $10, barred = $13, head_hash = $14, paused_at = $15, closed_at = $16 \
             WHERE id = $11 AND seq = $12 AND epoch <= $9 RETURNING id)",
        );
        let mut next = 17;
        if !batch.events.is_empty() {
            sql.push_str(&format!(
                ", new_events AS (INSERT INTO auction_events ({EVENT_INSERT_COLUMNS}) \
                 SELECT * FROM (VALUES {}) AS v WHERE EXISTS (SELECT 1 FROM moved))",
                typed_rows(next, batch.events.len(), &EVENT_TYPES)
            ));
            next += batch.events.len() * EVENT_TYPES.len();
        }
        if !batch.answers.is_empty() {
            sql.push_str(&format!(
                ", new_answers AS (INSERT INTO bid_requests \
                 (auction_id, user_id, request_id, http_status, body, created_at) \
                 SELECT * FROM (VALUES {}) AS v WHERE EXISTS (SELECT 1 FROM moved))",
                typed_rows(next, batch.answers.len(), &ANSWER_TYPES)
            ));
        }
        sql.push_str(" SELECT COUNT(*) AS moved FROM moved");

        let auction_id = batch.auction_id.to_string();
        let barred = barred_text(&batch.barred);
        let mut query = bind_row_update(sqlx::query(&sql), batch, &auction_id, &barred);
        for event in &batch.events {
            query = bind_event(query, &auction_id, event);
        }
        for answer in &batch.answers {
            query = bind_answer(query, &auction_id, answer, batch.now);
        }
        let row = query.fetch_one(&self.pool).await.map_err(db_error)?;
        let moved: i64 = get(&row, "moved")?;
        if moved == 1 {
            Ok(())
        } else {
            Err(StoreError::Fenced)
        }
    }
}

/// Writes the auction's row without changing it: the first statement of a
/// transaction that must be serialized with others on the same lot.
async fn lock_auction_row(
    tx: &mut sqlx::Transaction<'_, Any>,
    auction: AuctionId,
) -> StoreResult<()> {
    sqlx::query("UPDATE auctions SET updated_at = updated_at WHERE id = $1")
        .bind(auction.to_string())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Whether a second-chance offer on the lot is open (not expired at `now`)
/// or accepted.
async fn offer_stands(
    tx: &mut sqlx::Transaction<'_, Any>,
    auction: AuctionId,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let standing: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM second_chance_offers WHERE auction_id = $1 \
         AND (status = 'accepted' OR (status = 'open' AND expires_at > $2))",
    )
    .bind(auction.to_string())
    .bind(ms(now))
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(standing > 0)
}

const OFFER_COLUMNS: &str =
    "auction_id, user_id, amount, created_at, expires_at, created_by, status, decided_at";

fn offer_from_row(row: &AnyRow) -> StoreResult<SecondChanceOffer> {
    let status = match get::<String>(row, "status")?.as_str() {
        "open" => OfferStatus::Open,
        "accepted" => OfferStatus::Accepted,
        "declined" => OfferStatus::Declined,
        other => return Err(StoreError::Corrupt(format!("offer status {other:?}"))),
    };
    Ok(SecondChanceOffer {
        auction_id: parse_id(&get::<String>(row, "auction_id")?)?,
        user_id: parse_id(&get::<String>(row, "user_id")?)?,
        amount: get(row, "amount")?,
        created_at: from_ms(get(row, "created_at")?)?,
        expires_at: from_ms(get(row, "expires_at")?)?,
        created_by: parse_id(&get::<String>(row, "created_by")?)?,
        status,
        decided_at: get::<Option<i64>>(row, "decided_at")?
            .map(from_ms)
            .transpose()?,
    })
}

/// The `INSERT` of a new auction row.
fn insert_auction(
    record: &AuctionRecord,
) -> StoreResult<sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>>> {
    let auction = &record.auction;
    let increments = serde_json::to_string(&auction.rules.increments)
        .map_err(|e| StoreError::Corrupt(format!("increment table: {e}")))?;
    Ok(sqlx::query(INSERT_AUCTION.as_str())
        .bind(record.id.to_string())
        .bind(record.title.as_str())
        .bind(record.description.as_str())
        .bind(record.currency.as_str())
        .bind(auction.rules.starting_price)
        .bind(auction.rules.reserve_price)
        .bind(auction.rules.buy_now_price)
        .bind(ms(auction.rules.starts_at))
        .bind(ms(auction.state.ends_at))
        .bind(auction.rules.extend_window_secs)
        .bind(increments)
        .bind(status_text(auction.state.status))
        .bind(auction.state.price)
        .bind(auction.state.leader.map(|l| l.user.to_string()))
        .bind(auction.state.leader.map(|l| l.ceiling))
        .bind(auction.state.bid_count)
        .bind(auction.state.seq)
        .bind(auction.state.winner.map(|w| w.to_string()))
        .bind(record.epoch)
        .bind(record.created_by.to_string())
        .bind(ms(record.created_at))
        .bind(ms(auction.initial_ends_at))
        .bind(barred_text(
            &auction.barred.iter().copied().collect::<Vec<_>>(),
        ))
        .bind(record.head_hash.as_str())
        .bind(auction.state.paused_at.map(ms))
        .bind(auction.state.closed_at.map(ms))
        .bind(ms(record.created_at)))
}

/// `INSERT INTO auctions (…every column…, updated_at) VALUES ($1, …)`.
static INSERT_AUCTION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO auctions ({AUCTION_COLUMNS}, updated_at) VALUES ({})",
        placeholders(1, 27)
    )
});

/// Fails a new SQLite connection that can only read. When the database file
/// cannot be opened for writing (made read-only or immutable), SQLite opens
/// it read-only instead, silently and for the connection's whole life: once
/// the file is writable again, such a pooled connection would keep refusing
/// writes ("attempt to write a readonly database") until it happened to be
/// closed. `BEGIN IMMEDIATE` asks for the write lock, which a read-only
/// connection refuses at once; a writable one gets it (waiting out a busy
/// writer) and gives it back.
async fn refuse_read_only_connection(conn: &mut sqlx::AnyConnection) -> Result<(), sqlx::Error> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    sqlx::query("ROLLBACK").execute(&mut *conn).await?;
    Ok(())
}

/// Writes one batch inside an open transaction: the fenced UPDATE of the
/// auction row, then (only when it moved the row) the batch's events,
/// notes and answers. False when the row was stale and nothing was written.
async fn write_batch(tx: &mut sqlx::AnyConnection, batch: &CommitBatch) -> StoreResult<bool> {
    let auction_id = batch.auction_id.to_string();
    let update = sqlx::query(
        "UPDATE auctions SET status = $1, price = $2, leader_id = $3, leader_ceiling = $4, \
         bid_count = $5, seq = $6, ends_at = $7, winner_id = $8, epoch = $9, updated_at = $10, \
         barred = $13, head_hash = $14, paused_at = $15, closed_at = $16 \
         WHERE id = $11 AND seq = $12 AND epoch <= $9",
    );
    let barred = barred_text(&batch.barred);
    let moved = bind_row_update(update, batch, &auction_id, &barred)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(details) = &batch.details {
        write_details(tx, &auction_id, details, batch.now).await?;
    }
    for chunk in batch.events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO auction_events ({EVENT_INSERT_COLUMNS}) VALUES {}",
            values_rows(chunk.len(), EVENT_TYPES.len())
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = bind_event(query, &auction_id, event);
        }
        query.execute(&mut *tx).await.map_err(db_error)?;
    }
    for chunk in batch.notes.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO auction_notes ({NOTE_INSERT_COLUMNS}) VALUES {}",
            values_rows(chunk.len(), 8)
        );
        let mut query = sqlx::query(&sql);
        for note in chunk {
            query = bind_note(query, &auction_id, note);
        }
        query.execute(&mut *tx).await.map_err(db_error)?;
    }
    for chunk in batch.answers.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO bid_requests \
             (auction_id, user_id, request_id, http_status, body, created_at) VALUES {}",
            values_rows(chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for answer in chunk {
            query = bind_answer(query, &auction_id, answer, batch.now);
        }
        query.execute(&mut *tx).await.map_err(db_error)?;
    }
    Ok(true)
}

/// Writes an admin's edit of a lot (inside the batch's transaction, after
/// its fenced UPDATE moved the row): the details, and a row in `lot_edits`.
async fn write_details(
    tx: &mut sqlx::AnyConnection,
    auction_id: &str,
    details: &LotDetails,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE auctions SET title = COALESCE($1, title), \
         description = COALESCE($2, description), reserve_price = $3, buy_now_price = $4 \
         WHERE id = $5",
    )
    .bind(details.title.as_deref())
    .bind(details.description.as_deref())
    .bind(details.reserve_price)
    .bind(details.buy_now_price)
    .bind(auction_id)
    .execute(&mut *tx)
    .await
    .map_err(db_error)?;
    sqlx::query("INSERT INTO lot_edits (auction_id, at) VALUES ($1, $2)")
        .bind(auction_id)
        .bind(ms(at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => StoreError::Unavailable(error),
        sqlx::Error::Database(db) if is_transient_database_error(db.code().as_deref()) => {
            StoreError::Unavailable(error)
        }
        _ => StoreError::Database(error),
    }
}

/// Database error codes that mean "try again later", not "bug":
/// SQLite busy/locked/IO/full/read-only, PostgreSQL connection and
/// shutdown classes.
fn is_transient_database_error(code: Option<&str>) -> bool {
    let Some(code) = code else { return false };
    matches!(
        code,
        "5" | "6" | "8" | "10" | "13" | "261" | "517" | "264" | "778"
    ) || code.starts_with("08")
        || code.starts_with("57P")
        || code == "53300"
}

fn ms(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

fn from_ms(millis: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt(format!("time {millis} out of range")))
}

fn parse_id(text: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::from_str(text).map_err(|_| StoreError::Corrupt(format!("bad id {text:?}")))
}

fn parse_opt_id(text: Option<String>) -> StoreResult<Option<uuid::Uuid>> {
    text.as_deref().map(parse_id).transpose()
}

fn get<'r, T>(row: &'r AnyRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(column).map_err(StoreError::Database)
}

/// `$start, $start+1, …` for `count` parameters.
fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, …, $w), ($w+1, …)` for `rows` rows of `width` columns.
fn values_rows(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| format!("({})", placeholders(row * width + 1, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// The `barred` column: a JSON array of user ids.
fn barred_text(barred: &[UserId]) -> String {
    serde_json::to_string(barred).unwrap_or_else(|_| "[]".into())
}

fn parse_barred(text: &str) -> StoreResult<std::collections::BTreeSet<UserId>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("barred: {e}")))
}

/// Binds `$1..=$16` of the fenced auction-row UPDATE of a batch.
fn bind_row_update<'q>(
    query: AnyQuery<'q>,
    batch: &'q CommitBatch,
    auction_id: &'q str,
    barred: &'q str,
) -> AnyQuery<'q> {
    let state = &batch.state;
    query
        .bind(status_text(state.status))
        .bind(state.price)
        .bind(state.leader.map(|l| l.user.to_string()))
        .bind(state.leader.map(|l| l.ceiling))
        .bind(state.bid_count)
        .bind(state.seq)
        .bind(ms(state.ends_at))
        .bind(state.winner.map(|w| w.to_string()))
        .bind(batch.epoch)
        .bind(ms(batch.now))
        .bind(auction_id)
        .bind(batch.expected_seq)
        .bind(barred)
        .bind(batch.head_hash.as_str())
        .bind(state.paused_at.map(ms))
        .bind(state.closed_at.map(ms))
}

/// Binds one `auction_events` row (12 values).
fn bind_event<'q>(
    query: AnyQuery<'q>,
    auction_id: &'q str,
    event: &'q StoredEvent,
) -> AnyQuery<'q> {
    query
        .bind(auction_id)
        .bind(event.seq)
        .bind(event.name.as_str())
        .bind(ms(event.at))
        .bind(event.bidder.map(|b| b.to_string()))
        .bind(event.amount)
        .bind(event.bid_kind.as_deref())
        .bind(event.ceiling)
        .bind(event.req_amount)
        .bind(event.req_max)
        .bind(event.hash.as_deref())
        .bind(event.data.as_str())
}

/// Binds one `auction_notes` row (8 values).
fn bind_note<'q>(query: AnyQuery<'q>, auction_id: &'q str, note: &'q StoredNote) -> AnyQuery<'q> {
    query
        .bind(auction_id)
        .bind(note.after_seq)
        .bind(note.n)
        .bind(note.kind.as_str())
        .bind(ms(note.at))
        .bind(note.bidder.to_string())
        .bind(note.amount)
        .bind(note.max_amount)
}

/// Binds one `bid_requests` row (6 values).
fn bind_answer<'q>(
    query: AnyQuery<'q>,
    auction_id: &'q str,
    answer: &'q NewAnswer,
    now: DateTime<Utc>,
) -> AnyQuery<'q> {
    query
        .bind(auction_id)
        .bind(answer.user.to_string())
        .bind(answer.request_id.as_str())
        .bind(i64::from(answer.answer.http_status))
        .bind(answer.answer.body.as_str())
        .bind(ms(now))
}

const USER_COLUMNS: &str = "id, username, role, banned, created_at";

fn user_from_row(row: &AnyRow) -> StoreResult<User> {
    let role: String = get(row, "role")?;
    Ok(User {
        id: parse_id(&get::<String>(row, "id")?)?,
        username: get(row, "username")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        banned: get::<i64>(row, "banned")? != 0,
        created_at: from_ms(get(row, "created_at")?)?,
    })
}

const AUCTION_COLUMNS: &str = "id, title, description, currency, starting_price, reserve_price, \
     buy_now_price, starts_at, ends_at, extend_window_secs, increments, status, price, leader_id, \
     leader_ceiling, bid_count, seq, winner_id, epoch, created_by, created_at, initial_ends_at, \
     barred, head_hash, paused_at, closed_at";

fn status_text(status: AuctionStatus) -> &'static str {
    match status {
        AuctionStatus::Live => "live",
        AuctionStatus::Closed => "closed",
        AuctionStatus::Cancelled => "cancelled",
    }
}

fn auction_from_row(row: &AnyRow) -> StoreResult<AuctionRecord> {
    let increments: String = get(row, "increments")?;
    let increments: IncrementTable = serde_json::from_str(&increments)
        .map_err(|e| StoreError::Corrupt(format!("increment table: {e}")))?;
    let status: String = get(row, "status")?;
    let status = match status.as_str() {
        "live" => AuctionStatus::Live,
        "closed" => AuctionStatus::Closed,
        "cancelled" => AuctionStatus::Cancelled,
        other => return Err(StoreError::Corrupt(format!("auction status {other}"))),
    };
    let leader = match (
        parse_opt_id(get(row, "leader_id")?)?,
        get::<Option<i64>>(row, "leader_ceiling")?,
    ) {
        (Some(user), Some(ceiling)) => Some(Leader { user, ceiling }),
        _ => None,
    };
    let rules = AuctionRules {
        starting_price: get(row, "starting_price")?,
        reserve_price: get(row, "reserve_price")?,
        buy_now_price: get(row, "buy_now_price")?,
        starts_at: from_ms(get(row, "starts_at")?)?,
        extend_window_secs: get(row, "extend_window_secs")?,
        increments,
    };
    let state = AuctionState {
        status,
        price: get(row, "price")?,
        leader,
        bid_count: get(row, "bid_count")?,
        seq: get(row, "seq")?,
        ends_at: from_ms(get(row, "ends_at")?)?,
        winner: parse_opt_id(get(row, "winner_id")?)?,
        paused_at: get::<Option<i64>>(row, "paused_at")?
            .map(from_ms)
            .transpose()?,
        closed_at: get::<Option<i64>>(row, "closed_at")?
            .map(from_ms)
            .transpose()?,
    };
    let initial_ends_at = match get::<Option<i64>>(row, "initial_ends_at")? {
        Some(millis) => from_ms(millis)?,
        None => state.ends_at,
    };
    let barred = parse_barred(&get::<String>(row, "barred")?)?;
    Ok(AuctionRecord {
        id: parse_id(&get::<String>(row, "id")?)?,
        title: get(row, "title")?,
        description: get(row, "description")?,
        currency: get(row, "currency")?,
        auction: Auction {
            rules,
            state,
            initial_ends_at,
            barred,
        },
        head_hash: get(row, "head_hash")?,
        epoch: get(row, "epoch")?,
        created_by: parse_id(&get::<String>(row, "created_by")?)?,
        created_at: from_ms(get(row, "created_at")?)?,
    })
}

const EVENT_COLUMNS: &str =
    "seq, kind, at, bidder_id, amount, bid_kind, ceiling, req_amount, req_max, hash, data";

fn event_from_row(row: &AnyRow) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        seq: get(row, "seq")?,
        name: get(row, "kind")?,
        at: from_ms(get(row, "at")?)?,
        bidder: parse_opt_id(get(row, "bidder_id")?)?,
        amount: get(row, "amount")?,
        bid_kind: get(row, "bid_kind")?,
        ceiling: get(row, "ceiling")?,
        req_amount: get(row, "req_amount")?,
        req_max: get(row, "req_max")?,
        hash: get(row, "hash")?,
        data: get(row, "data")?,
    })
}

fn note_from_row(row: &AnyRow) -> StoreResult<StoredNote> {
    Ok(StoredNote {
        after_seq: get(row, "after_seq")?,
        n: get(row, "n")?,
        kind: get(row, "kind")?,
        at: from_ms(get(row, "at")?)?,
        bidder: parse_id(&get::<String>(row, "bidder_id")?)?,
        amount: get(row, "amount")?,
        max_amount: get(row, "max_amount")?,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn set_watching(
        &self,
        user: UserId,
        auction: AuctionId,
        watching: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        watchlist::set_watching(&self.pool, user, auction, watching, at).await
    }

    async fn watched_by(&self, user: UserId) -> StoreResult<Vec<AuctionRecord>> {
        watchlist::watched_by(&self.pool, user).await
    }

    async fn watcher_counts(&self, auctions: &[AuctionId]) -> StoreResult<HashMap<AuctionId, i64>> {
        watchlist::watcher_counts(&self.pool, auctions).await
    }

    async fn watching_among(
        &self,
        user: UserId,
        auctions: &[AuctionId],
    ) -> StoreResult<HashSet<AuctionId>> {
        watchlist::watching_among(&self.pool, user, auctions).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<User> {
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, banned, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5)",
        )
        .bind(user.id.to_string())
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(ms(user.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(User {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
            banned: false,
            created_at: from_ms(ms(user.created_at))?,
        })
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserWithPassword>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| {
            Ok(UserWithPassword {
                user: user_from_row(&row)?,
                password_hash: get(&row, "password_hash")?,
            })
        })
        .transpose()
    }

    async fn set_user_banned(&self, id: UserId, banned: bool) -> StoreResult<Option<User>> {
        sqlx::query("UPDATE users SET banned = $1 WHERE id = $2")
            .bind(i64::from(banned))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        self.user_by_id(id).await
    }

    async fn list_users(&self, limit: i64) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, username LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.to_string())
        .bind(ms(session.created_at))
        .bind(ms(session.expires_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(User, DateTime<Utc>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.role, u.banned, u.created_at, s.expires_at \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref()
            .map(|row| Ok((user_from_row(row)?, from_ms(get(row, "expires_at")?)?)))
            .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, password_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_role(&self, id: UserId, role: Role) -> StoreResult<Option<User>> {
        sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        self.user_by_id(id).await
    }

    async fn delete_user_sessions(&self, id: UserId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn create_auction(&self, record: &AuctionRecord) -> StoreResult<()> {
        insert_auction(record)?
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn relist_auction(
        &self,
        record: &AuctionRecord,
        from: AuctionId,
        by: UserId,
    ) -> StoreResult<RelistOutcome> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Write to the old lot's row first: it takes the write lock (SQLite)
        // or the row lock (PostgreSQL), so a relisting and a second-chance
        // offer on the same lot are decided one after the other.
        lock_auction_row(&mut tx, from).await?;
        if offer_stands(&mut tx, from, record.created_at).await? {
            tx.rollback().await.map_err(db_error)?;
            return Ok(RelistOutcome::OfferStands);
        }
        insert_auction(record)?
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let linked = sqlx::query(
            "INSERT INTO relists (auction_id, relisted_as, at, by_user) VALUES ($1, $2, $3, $4)",
        )
        .bind(from.to_string())
        .bind(record.id.to_string())
        .bind(ms(record.created_at))
        .bind(by.to_string())
        .execute(&mut *tx)
        .await;
        match linked {
            Ok(_) => {
                tx.commit().await.map_err(db_error)?;
                Ok(RelistOutcome::Relisted)
            }
            // Relisted already (by a concurrent request): keep nothing.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                tx.rollback().await.map_err(db_error)?;
                Ok(RelistOutcome::AlreadyRelisted)
            }
            Err(error) => Err(db_error(error)),
        }
    }

    async fn create_offer(&self, offer: &SecondChanceOffer) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        lock_auction_row(&mut tx, offer.auction_id).await?;
        let relisted: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM relists WHERE auction_id = $1")
                .bind(offer.auction_id.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        if relisted > 0 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO second_chance_offers \
             (auction_id, user_id, amount, created_at, expires_at, created_by, status) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open')",
        )
        .bind(offer.auction_id.to_string())
        .bind(offer.user_id.to_string())
        .bind(offer.amount)
        .bind(ms(offer.created_at))
        .bind(ms(offer.expires_at))
        .bind(offer.created_by.to_string())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                tx.commit().await.map_err(db_error)?;
                Ok(true)
            }
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                tx.rollback().await.map_err(db_error)?;
                Ok(false)
            }
            Err(error) => Err(db_error(error)),
        }
    }

    async fn offer(&self, auction: AuctionId) -> StoreResult<Option<SecondChanceOffer>> {
        let row = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM second_chance_offers WHERE auction_id = $1"
        ))
        .bind(auction.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(offer_from_row).transpose()
    }

    async fn offers_for(&self, user: UserId) -> StoreResult<Vec<SecondChanceOffer>> {
        let rows = sqlx::query(&format!(
            "SELECT {OFFER_COLUMNS} FROM second_chance_offers WHERE user_id = $1 \
             ORDER BY created_at DESC LIMIT 200"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(offer_from_row).collect()
    }

    async fn auctions_offered_to(&self, user: UserId) -> StoreResult<Vec<AuctionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUCTION_COLUMNS} FROM auctions WHERE id IN \
             (SELECT auction_id FROM second_chance_offers WHERE user_id = $1)"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(auction_from_row).collect()
    }

    async fn decide_offer(
        &self,
        auction: AuctionId,
        user: UserId,
        accept: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let status = if accept { "accepted" } else { "declined" };
        let done = sqlx::query(
            "UPDATE second_chance_offers SET status = $1, decided_at = $2 \
             WHERE auction_id = $3 AND user_id = $4 AND status = 'open' AND expires_at > $2",
        )
        .bind(status)
        .bind(ms(now))
        .bind(auction.to_string())
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn last_edit(&self, auction: AuctionId) -> StoreResult<Option<DateTime<Utc>>> {
        let at: Option<i64> =
            sqlx::query_scalar("SELECT MAX(at) FROM lot_edits WHERE auction_id = $1")
                .bind(auction.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
        at.map(from_ms).transpose()
    }

    async fn relist_links(&self, id: AuctionId) -> StoreResult<RelistLinks> {
        let rows = sqlx::query(
            "SELECT auction_id, relisted_as FROM relists WHERE auction_id = $1 OR relisted_as = $1",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut links = RelistLinks::default();
        for row in &rows {
            let old = parse_id(&get::<String>(row, "auction_id")?)?;
            let new = parse_id(&get::<String>(row, "relisted_as")?)?;
            if old == id {
                links.relisted_as = Some(new);
            }
            if new == id {
                links.relisted_from = Some(old);
            }
        }
        Ok(links)
    }

    async fn auction(&self, id: AuctionId) -> StoreResult<Option<AuctionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {AUCTION_COLUMNS} FROM auctions WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(auction_from_row).transpose()
    }

    async fn list_auctions(
        &self,
        filter: Option<PublicStatus>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<AuctionRecord>> {
        // Scheduled and open depend on the clock; the others on the stored status.
        let (condition, by_time) = match filter {
            None => ("1 = 1", false),
            Some(PublicStatus::Scheduled) => ("status = 'live' AND starts_at > $2", true),
            Some(PublicStatus::Open) => ("status = 'live' AND starts_at <= $2", true),
            Some(PublicStatus::Closed) => ("status = 'closed'", false),
            Some(PublicStatus::Cancelled) => ("status = 'cancelled'", false),
        };
        let sql = format!(
            "SELECT {AUCTION_COLUMNS} FROM auctions WHERE {condition} \
             ORDER BY ends_at, id LIMIT $1"
        );
        let mut query = sqlx::query(&sql).bind(limit);
        if by_time {
            query = query.bind(ms(now));
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(auction_from_row).collect()
    }

    async fn live_auctions_ending_before(
        &self,
        before: DateTime<Utc>,
    ) -> StoreResult<Vec<AuctionId>> {
        let rows = sqlx::query("SELECT id FROM auctions WHERE status = 'live' AND ends_at < $1")
            .bind(ms(before))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| parse_id(&get::<String>(row, "id")?))
            .collect()
    }

    async fn events_after(
        &self,
        auction: AuctionId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auction_events \
             WHERE auction_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(auction.to_string())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn bid_events_after(
        &self,
        auction: AuctionId,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auction_events \
             WHERE auction_id = $1 AND seq > $2 AND kind = 'bid' ORDER BY seq LIMIT $3"
        ))
        .bind(auction.to_string())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn void_events(&self, auction: AuctionId) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auction_events \
             WHERE auction_id = $1 AND kind = 'voided' ORDER BY seq"
        ))
        .bind(auction.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn bid_log(&self, auction: AuctionId) -> StoreResult<Vec<BidLogEntry>> {
        let rows = sqlx::query(
            "SELECT e.seq, e.at, e.amount, e.bid_kind, e.ceiling, u.id AS user_id, u.username \
             FROM auction_events e JOIN users u ON u.id = e.bidder_id \
             WHERE e.auction_id = $1 AND e.kind = 'bid' ORDER BY e.seq",
        )
        .bind(auction.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(BidLogEntry {
                    seq: get(row, "seq")?,
                    at: from_ms(get(row, "at")?)?,
                    amount: get::<Option<i64>>(row, "amount")?.unwrap_or_default(),
                    kind: get::<Option<String>>(row, "bid_kind")?.unwrap_or_default(),
                    ceiling: get(row, "ceiling")?,
                    user_id: parse_id(&get::<String>(row, "user_id")?)?,
                    username: get(row, "username")?,
                })
            })
            .collect()
    }

    async fn auctions_bid_by(&self, user: UserId) -> StoreResult<Vec<AuctionRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {AUCTION_COLUMNS} FROM auctions WHERE id IN \
             (SELECT DISTINCT auction_id FROM auction_events WHERE bidder_id = $1) \
             ORDER BY ends_at DESC"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(auction_from_row).collect()
    }

    async fn stored_answers(
        &self,
        auction: AuctionId,
        keys: &[(UserId, String)],
    ) -> StoreResult<HashMap<(UserId, String), StoredAnswer>> {
        let wanted: HashSet<&(UserId, String)> = keys.iter().collect();
        let mut found = HashMap::new();
        for chunk in keys.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT user_id, request_id, http_status, body FROM bid_requests \
                 WHERE auction_id = $1 AND request_id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(auction.to_string());
            for (_, request_id) in chunk {
                query = query.bind(request_id.as_str());
            }
            let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
            for row in &rows {
                let key = (
                    parse_id(&get::<String>(row, "user_id")?)?,
                    get::<String>(row, "request_id")?,
                );
                if wanted.contains(&key) {
                    let status: i64 = get(row, "http_status")?;
                    let answer = StoredAnswer {
                        http_status: u16::try_from(status)
                            .map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
                        body: get(row, "body")?,
                    };
                    found.insert(key, answer);
                }
            }
        }
        Ok(found)
    }

    async fn auction_log(
        &self,
        auction: AuctionId,
    ) -> StoreResult<(Vec<StoredEvent>, Vec<StoredNote>)> {
        let events = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM auction_events WHERE auction_id = $1 ORDER BY seq"
        ))
        .bind(auction.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let notes = sqlx::query(
            "SELECT after_seq, n, kind, at, bidder_id, amount, max_amount FROM auction_notes \
             WHERE auction_id = $1 ORDER BY after_seq, n",
        )
        .bind(auction.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok((
            events
                .iter()
                .map(event_from_row)
                .collect::<StoreResult<_>>()?,
            notes
                .iter()
                .map(note_from_row)
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn bid_answers(&self, auction: AuctionId) -> StoreResult<Vec<StoredRequest>> {
        let rows = sqlx::query(
            "SELECT user_id, request_id, http_status, body FROM bid_requests \
             WHERE auction_id = $1 ORDER BY created_at, user_id, request_id",
        )
        .bind(auction.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let status: i64 = get(row, "http_status")?;
                Ok(StoredRequest {
                    user: parse_id(&get::<String>(row, "user_id")?)?,
                    request_id: get(row, "request_id")?,
                    answer: StoredAnswer {
                        http_status: u16::try_from(status)
                            .map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
                        body: get(row, "body")?,
                    },
                })
            })
            .collect()
    }

    async fn has_bid_requests(&self, auction: AuctionId) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS found FROM bid_requests WHERE auction_id = $1 LIMIT 1")
            .bind(auction.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.is_some())
    }

    async fn banned_among(&self, users: &[UserId]) -> StoreResult<HashSet<UserId>> {
        let mut banned = HashSet::new();
        for chunk in users.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "SELECT id FROM users WHERE banned <> 0 AND id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for user in chunk {
                query = query.bind(user.to_string());
            }
            for row in query.fetch_all(&self.pool).await.map_err(db_error)? {
                banned.insert(parse_id(&get::<String>(&row, "id")?)?);
            }
        }
        Ok(banned)
    }

    async fn commit_batch(&self, batch: &CommitBatch) -> StoreResult<()> {
        let params = 15 + batch.events.len() * EVENT_TYPES.len() + batch.answers.len() * 6;
        // Notes are rare (ceiling raises, bars): such a batch takes the
        // transaction below.
        if self.dialect == Dialect::Postgres
            && params <= MAX_STATEMENT_PARAMS
            && batch.notes.is_empty()
        {
            return self.commit_batch_in_one_statement(batch).await;
        }
        let mut guard = ConnectionGuard::new(self.pool.acquire().await.map_err(db_error)?);
        let tx = guard.conn();
        sqlx::query(self.begin())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let moved = write_batch(tx, batch).await?;
        let end = if moved { "COMMIT" } else { "ROLLBACK" };
        sqlx::query(end).execute(&mut *tx).await.map_err(db_error)?;
        guard.clean();
        if moved {
            Ok(())
        } else {
            Err(StoreError::Fenced)
        }
    }

    async fn commit_batches(&self, batches: &[CommitBatch]) -> StoreResult<Vec<BatchOutcome>> {
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        // An admin's edit (rare) writes the lot's details too: those
        // batches take the per-statement transaction on either backend.
        let edits = batches.iter().any(|batch| batch.details.is_some());
        match self.dialect {
            Dialect::Postgres if !edits => self.commit_batches_in_one_statement(batches).await,
            _ => self.commit_batches_in_one_transaction(batches).await,
        }
    }

    async fn claim_auction(&self, auction: AuctionId, epoch: i64) -> StoreResult<bool> {
        let claimed = sqlx::query("UPDATE auctions SET epoch = $1 WHERE id = $2 AND epoch < $1")
            .bind(epoch)
            .bind(auction.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_id, action, target, details) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(entry.id.to_string())
        .bind(ms(entry.at))
        .bind(entry.actor_id.to_string())
        .bind(entry.action.as_str())
        .bind(entry.target.as_str())
        .bind(entry.details.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn audit_log(&self, filter: &AuditFilter, limit: i64) -> StoreResult<Vec<AuditRecord>> {
        // The conditions are added only when asked for: a `$n IS NULL` test
        // on an untyped parameter is refused by PostgreSQL.
        let mut sql = String::from(
            "SELECT l.id, l.at, l.actor_id, l.action, l.target, l.details, \
             admin.username AS admin_name, a.title AS auction_title, \
             target_user.username AS target_username \
             FROM audit_log l \
             LEFT JOIN users admin ON admin.id = l.actor_id \
             LEFT JOIN auctions a ON a.id = l.target \
             LEFT JOIN users target_user ON target_user.id = l.target \
             WHERE 1 = 1",
        );
        let mut next = 1;
        if filter.target.is_some() {
            sql.push_str(&format!(" AND l.target = ${next}"));
            next += 1;
        }
        if filter.admin.is_some() {
            sql.push_str(&format!(" AND l.actor_id = ${next}"));
            next += 1;
        }
        sql.push_str(&format!(" ORDER BY l.at DESC, l.id DESC LIMIT ${next}"));
        let mut query = sqlx::query(&sql);
        if let Some(target) = &filter.target {
            query = query.bind(target.as_str());
        }
        if let Some(admin) = filter.admin {
            query = query.bind(admin.to_string());
        }
        let rows = query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let auction_title: Option<String> = get(row, "auction_title")?;
                let target_username: Option<String> = get(row, "target_username")?;
                let target_kind = match (&auction_title, &target_username) {
                    (Some(_), _) => Some(AuditTargetKind::Auction),
                    (None, Some(_)) => Some(AuditTargetKind::User),
                    (None, None) => None,
                };
                Ok(AuditRecord {
                    entry: AuditEntry {
                        id: parse_id(&get::<String>(row, "id")?)?,
                        at: from_ms(get(row, "at")?)?,
                        actor_id: parse_id(&get::<String>(row, "actor_id")?)?,
                        action: get(row, "action")?,
                        target: get(row, "target")?,
                        details: get(row, "details")?,
                    },
                    admin_name: get(row, "admin_name")?,
                    target_name: auction_title.or(target_username),
                    target_kind,
                })
            })
            .collect()
    }
}
