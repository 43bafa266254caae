//! The watchlist pages: `POST /auctions/{id}/watch` (watch or unwatch a
//! lot from its card or its page, then back where the form was) and
//! `GET /me/watching` (the lots I watch, live). [`mark`] fills in the
//! watch state and watcher counts of list rows for the other pages.

use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use super::bidder::{load_auction, AuctionRow};
use super::context::PageCtx;
use super::errors::PageError;
use super::render::{safe_next, Flash, Layout, Section};
use crate::domain::AuctionId;
use crate::store::User;

/// Fills in `can_watch`, `watching` and `watchers` of `rows` for `viewer`
/// (watchers for everyone; the rest only for a signed-in viewer).
pub async fn mark(
    ctx: &PageCtx,
    viewer: Option<&User>,
    rows: &mut [AuctionRow],
) -> Result<(), PageError> {
    let ids: Vec<AuctionId> = rows
        .iter()
        .filter_map(|row| uuid::Uuid::parse_str(&row.id).ok())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let store = &ctx.state.store;
    let counts = store.watcher_counts(&ids).await?;
    let watched = match viewer {
        Some(user) => store.watching_among(user.id, &ids).await?,
        None => Default::default(),
    };
    for (row, id) in rows.iter_mut().zip(&ids) {
        row.watchers = counts.get(id).copied().unwrap_or(0);
        row.can_watch = viewer.is_some();
        row.watching = watched.contains(id);
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
pub struct WatchForm {
    #[serde(default)]
    pub csrf: String,
    /// `yes` to watch, anything else to unwatch.
    #[serde(default)]
    pub watch: String,
    /// Where to return (a local path; the lot's page otherwise).
    #[serde(default)]
    pub next: String,
}

/// `POST /auctions/{id}/watch`
pub async fn watch(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<WatchForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let Some(user) = ctx.user().cloned() else {
        return Err(PageError::LoginRequired {
            next: format!("/auctions/{}", id.trim()),
        });
    };
    let record = load_auction(&ctx, &id).await?;
    let watching = form.watch == "yes";
    ctx.state
        .store
        .set_watching(user.id, record.id, watching, Utc::now())
        .await?;
    tracing::info!(auction_id = %record.id, user_id = %user.id, watching, "watchlist changed");
    let back = if form.next.trim().is_empty() {
        format!("/auctions/{}", record.id)
    } else {
        safe_next(Some(&form.next))
    };
    let text = if watching {
        format!("“{}” is on your watchlist.", record.title)
    } else {
        format!("“{}” is no longer on your watchlist.", record.title)
    };
    Ok(ctx.redirect(&back, Some(Flash::success(text))))
}

#[derive(Template)]
#[template(path = "watching.html")]
struct WatchingPage {
    layout: Layout,
    live: Vec<AuctionRow>,
    ended: Vec<AuctionRow>,
}

/// `GET /me/watching`: the lots I watch, running ones first.
pub async fn watching(ctx: PageCtx) -> Result<HttpResponse, PageError> {
    let user = ctx.require_user()?;
    let now = Utc::now();
    let records = ctx.state.store.watched_by(user.id).await?;
    let mut rows: Vec<AuctionRow> = records
        .iter()
        .map(|record| AuctionRow::of(record, Some(user), now))
        .collect();
    mark(&ctx, Some(user), &mut rows).await?;
    let (live, ended) = rows.into_iter().partition(AuctionRow::is_live);
    ctx.page(&WatchingPage {
        layout: ctx.layout("Watching", Section::Watching),
        live,
        ended,
    })
}
