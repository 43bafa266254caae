//! Buy now: `POST /api/v1/auctions/{id}/buy-now` closes the auction at the
//! buy-now price with the buyer as winner, while no bid was placed or the
//! reserve is unmet; otherwise 409 `buy_now_unavailable`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    assert_alias, assert_error, assert_keys, AuctionBuilder, TestApp, BID_RESULT_KEYS,
};

crate::on_both_backends!(
    buying_now_closes_the_auction_at_the_buy_now_price_with_the_buyer_as_winner,
    buying_now_is_allowed_while_the_reserve_is_unmet,
    buying_now_is_refused_after_a_bid_that_meets_the_reserve,
    buying_now_is_refused_without_a_buy_now_price_or_after_any_bid_without_reserve,
    a_retried_buy_now_gets_the_first_answer,
    buying_now_is_refused_when_it_would_lower_the_price,
);

async fn buying_now_closes_the_auction_at_the_buy_now_price_with_the_buyer_as_winner(app: TestApp) {
    let bidders = app.bidders("fay", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().buy_now(25_000))
        .await;

    let (status, result) = app.buy_now(&bidders[0].token, &id, "buy-1").await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_keys(&result, &BID_RESULT_KEYS);
    assert_eq!(result["request_id"], "buy-1");
    assert_eq!(result["auction_id"], id.as_str());
    assert_eq!(result["accepted"], true);
    assert_eq!(result["status"], "leading");
    assert_eq!(result["seq"], 1);
    assert_eq!(result["current_price"], 25_000);

    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    assert_eq!(snapshot["current_price"], 25_000);
    assert_eq!(snapshot["bid_count"], 1);
    let winner = assert_alias(&snapshot["winner"]);
    assert_eq!(snapshot["leader"], winner.as_str());
    // The buy-now bid, then the close.
    assert_eq!(snapshot["seq"], 2);
    let history = app.history(&id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["kind"], "buy_now");
    assert_eq!(history[0]["amount"], 25_000);
    assert_eq!(history[0]["bidder"], winner.as_str());

    // Nobody else gets it.
    let (status, body) = app.buy_now(&bidders[1].token, &id, "buy-2").await;
    assert_error(status, &body, 409, "auction_not_open");
    let (status, body) = app.bid(&bidders[1].token, &id, "bid", 30_000, None).await;
    assert_error(status, &body, 409, "auction_not_open");
    assert_eq!(app.snapshot(&id).await["winner"], winner.as_str());
}

async fn buying_now_is_allowed_while_the_reserve_is_unmet(app: TestApp) {
    let bidders = app.bidders("gus", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(8000).buy_now(12_000))
        .await;
    let (status, body) = app
        .bid(&bidders[0].token, &id, "low", 1000, Some(7000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.snapshot(&id).await["reserve_met"], false);

    let (status, result) = app.buy_now(&bidders[1].token, &id, "buy").await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["status"], "leading");
    assert_eq!(result["current_price"], 12_000);
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["status"], "closed", "{snapshot}");
    assert_eq!(snapshot["current_price"], 12_000);
    assert_eq!(snapshot["reserve_met"], true, "{snapshot}");
    let winner = assert_alias(&snapshot["winner"]);
    let history = app.history(&id).await;
    let last = history.last().expect("the buy-now bid");
    assert_eq!(last["kind"], "buy_now");
    assert_eq!(last["bidder"], winner.as_str());
    assert_ne!(
        history[0]["bidder"],
        winner.as_str(),
        "the buyer won, not the bidder"
    );
}

async fn buying_now_is_refused_after_a_bid_that_meets_the_reserve(app: TestApp) {
    let bidders = app.bidders("hal", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(5000).buy_now(20_000))
        .await;
    let (status, body) = app
        .bid(&bidders[0].token, &id, "meet", 1000, Some(5000))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = app.snapshot(&id).await;
    assert_eq!(before["reserve_met"], true, "{before}");
    assert_eq!(before["current_price"], 5000, "{before}");

    for bidder in &bidders {
        let (status, body) = app.buy_now(&bidder.token, &id, "buy").await;
        assert_error(status, &body, 409, "buy_now_unavailable");
    }
    let after = app.snapshot(&id).await;
    assert_eq!(after["status"], "open");
    assert_eq!(after["seq"], before["seq"]);
    assert_eq!(after["bid_count"], before["bid_count"]);
    assert_eq!(after["winner"], Value::Null);
}

async fn buying_now_is_refused_without_a_buy_now_price_or_after_any_bid_without_reserve(
    app: TestApp,
) {
    let bidders = app.bidders("ida", 2).await;
    let admin = app.admin_token().await;
    let plain = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, body) = app.buy_now(&bidders[0].token, &plain, "buy").await;
    assert_error(status, &body, 409, "buy_now_unavailable");
    assert_eq!(app.snapshot(&plain).await["seq"], 0);

    let with_price = app
        .auction_id_as(&admin, AuctionBuilder::new().buy_now(9000))
        .await;
    let (status, body) = app
        .bid(&bidders[0].token, &with_price, "bid", 1000, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app.buy_now(&bidders[1].token, &with_price, "buy").await;
    assert_error(status, &body, 409, "buy_now_unavailable");
    let snapshot = app.snapshot(&with_price).await;
    assert_eq!(snapshot["status"], "open");
    assert_eq!(snapshot["seq"], 1);
}

async fn a_retried_buy_now_gets_the_first_answer(app: TestApp) {
    let bidders = app.bidders("jo", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().buy_now(7000))
        .await;
    let (status, first) = app.buy_now(&bidders[0].token, &id, "buy").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, again) = app.buy_now(&bidders[0].token, &id, "buy").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    let (status, refused) = app.buy_now(&bidders[1].token, &id, "buy").await;
    assert_error(status, &refused, 409, "auction_not_open");

    let app = app.restart().await;
    let (status, again) = app.buy_now(&bidders[0].token, &id, "buy").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    let (status, again) = app.buy_now(&bidders[1].token, &id, "buy").await;
    assert_eq!(status.as_u16(), 409, "{again}");
    assert_eq!(again, refused);
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["seq"], 2);
    assert_eq!(snapshot["bid_count"], 1);
}

async fn buying_now_is_refused_when_it_would_lower_the_price(app: TestApp) {
    // The reserve is above the buy-now price, and the bidding has passed the
    // buy-now price without meeting the reserve: selling now would lower the price.
    // (Such a buy-now price is refused at creation now; an auction created
    // before that keeps it, so it is written straight to the database.)
    let bidders = app.bidders("kim", 2).await;
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new().reserve(50_000).buy_now(60_000),
        )
        .await;
    let mut conn = app.db_connection().await;
    sqlx::query(&format!(
        "UPDATE auctions SET buy_now_price = 12000 WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .expect("an auction from before the rule");
    let (status, body) = app.bid(&bidders[0].token, &id, "bid", 20_000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = app.snapshot(&id).await;
    assert_eq!(before["current_price"], 20_000);
    assert_eq!(before["reserve_met"], false);

    let (status, body) = app.buy_now(&bidders[1].token, &id, "buy").await;
    assert_error(status, &body, 409, "buy_now_unavailable");
    let after = app.snapshot(&id).await;
    assert_eq!(after["status"], "open", "{after}");
    assert_eq!(after["current_price"], 20_000, "{after}");
    assert_eq!(after["seq"], before["seq"]);
    assert_eq!(after["winner"], Value::Null);
}
