//! The web UI, tested as people use it: a real server on a random port and
//! headless Chromium driven through chromedriver (fantoccini), plus a few
//! plain-HTTP checks of the pages (no JavaScript, CSRF, error pages).
//!
//! Screenshots of the bidder page and the admin dashboard are saved under
//! `target/screenshots/`. Without Chromium the browser tests skip loudly,
//! unless `GAVEL_REQUIRE_SERVICES=1`.

#[path = "../common/mod.rs"]
mod common;
mod driver;
mod edit;
mod helpers;

mod admin;
mod bidding;
mod buy_now;
mod closed_at;
mod lists;
mod lot_page;
mod maximum;
mod pages;
mod relist;
mod second_chance;
mod standing;
mod voids;
mod watchlist;
