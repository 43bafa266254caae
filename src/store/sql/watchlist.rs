//! The watchlist's SQL (migration 0006_watchlist): which lots a user
//! watches and how many watch each lot. Called by [`super::SqlStore`]'s
//! [`Store`](crate::store::Store) methods.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::AnyPool;

use super::{
    auction_from_row, db_error, get, ms, parse_id, placeholders, AUCTION_COLUMNS, ROWS_PER_INSERT,
};
use crate::domain::{AuctionId, UserId};
use crate::store::{AuctionRecord, StoreResult};

/// Adds (`watching`) or removes a watch; both are idempotent.
pub(super) async fn set_watching(
    pool: &AnyPool,
    user: UserId,
    auction: AuctionId,
    watching: bool,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let query = if watching {
        sqlx::query(
            "INSERT INTO watchlist (user_id, auction_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, auction_id) DO NOTHING",
        )
        .bind(user.to_string())
        .bind(auction.to_string())
        .bind(ms(at))
    } else {
        sqlx::query("DELETE FROM watchlist WHERE user_id = $1 AND auction_id = $2")
            .bind(user.to_string())
            .bind(auction.to_string())
    };
    query.execute(pool).await.map_err(db_error)?;
    Ok(())
}

/// The lots `user` watches, soonest end first.
pub(super) async fn watched_by(pool: &AnyPool, user: UserId) -> StoreResult<Vec<AuctionRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {AUCTION_COLUMNS} FROM auctions WHERE id IN \
         (SELECT auction_id FROM watchlist WHERE user_id = $1) ORDER BY ends_at"
    ))
    .bind(user.to_string())
    .fetch_all(pool)
    .await
    .map_err(db_error)?;
    rows.iter().map(auction_from_row).collect()
}

/// How many users watch each of `auctions` (absent: none).
pub(super) async fn watcher_counts(
    pool: &AnyPool,
    auctions: &[AuctionId],
) -> StoreResult<HashMap<AuctionId, i64>> {
    let mut counts = HashMap::new();
    for chunk in auctions.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "SELECT auction_id, COUNT(*) AS watchers FROM watchlist \
             WHERE auction_id IN ({}) GROUP BY auction_id",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for auction in chunk {
            query = query.bind(auction.to_string());
        }
        for row in query.fetch_all(pool).await.map_err(db_error)? {
            let id = parse_id(&get::<String>(&row, "auction_id")?)?;
            counts.insert(id, get::<i64>(&row, "watchers")?);
        }
    }
    Ok(counts)
}

/// Which of `auctions` `user` watches.
pub(super) async fn watching_among(
    pool: &AnyPool,
    user: UserId,
    auctions: &[AuctionId],
) -> StoreResult<HashSet<AuctionId>> {
    let mut watched = HashSet::new();
    for chunk in auctions.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "SELECT auction_id FROM watchlist WHERE user_id = $1 AND auction_id IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(user.to_string());
        for auction in chunk {
            query = query.bind(auction.to_string());
        }
        for row in query.fetch_all(pool).await.map_err(db_error)? {
            watched.insert(parse_id(&get::<String>(&row, "auction_id")?)?);
        }
    }
    Ok(watched)
}
