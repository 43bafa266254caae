//! Idempotent retries: a repeated `request_id` gets the first answer and
//! places nothing twice, also concurrently and after a restart; and what
//! was committed (users, sessions, auctions, bids) survives a restart.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, AuctionBuilder, TestApp, ADMIN_PASSWORD, ADMIN_USER};

crate::on_both_backends!(
    a_retried_accepted_bid_gets_the_first_answer_and_places_nothing,
    a_retried_rejected_bid_gets_the_first_rejection_even_when_it_would_now_pass,
    request_ids_are_scoped_to_one_bidder_on_one_auction,
    identical_requests_sent_at_once_are_placed_once,
    a_bidder_banned_after_bidding_still_gets_the_first_answer_to_a_retry,
    users_sessions_auctions_and_bids_survive_a_restart_and_retries_keep_their_first_answers,
);

/// The number of stored first answers for an auction.
async fn stored_answers(app: &TestApp, auction: &str) -> i64 {
    app.db_i64(&format!(
        "SELECT COUNT(*) FROM bid_requests WHERE auction_id = '{auction}'"
    ))
    .await
}

async fn a_retried_accepted_bid_gets_the_first_answer_and_places_nothing(app: TestApp) {
    let bidders = app.bidders("rita", 2).await;
    let (rita, sam) = (&bidders[0], &bidders[1]);
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;

    let (status, first) = app.bid(&rita.token, &id, "r-1", 1000, Some(1500)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["status"], "leading");
    let snapshot = app.snapshot(&id).await;

    // The same request, and the same request_id with another body: the first answer.
    for (amount, max) in [
        (1000, Some(1500)),
        (1000, Some(1500)),
        (4000, None),
        (1, Some(2)),
    ] {
        let (status, again) = app.bid(&rita.token, &id, "r-1", amount, max).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(again, first);
    }
    let now = app.snapshot(&id).await;
    assert_eq!(now["seq"], snapshot["seq"]);
    assert_eq!(now["bid_count"], 1);
    assert_eq!(app.history(&id).await.len(), 1);
    assert_eq!(stored_answers(&app, &id).await, 1);

    // Outbid since; the retry still says what happened the first time.
    let (status, body) = app.bid(&sam.token, &id, "s-1", 2000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "leading");
    let (status, again) = app.bid(&rita.token, &id, "r-1", 1000, Some(1500)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    let now = app.snapshot(&id).await;
    assert_eq!(now["current_price"], 2000);
    // rita's bid, her auto bid at her ceiling, sam's bid.
    assert_eq!(now["bid_count"], 3);
    assert_eq!(app.history(&id).await.len(), 3);
    assert_eq!(stored_answers(&app, &id).await, 2);
}

async fn a_retried_rejected_bid_gets_the_first_rejection_even_when_it_would_now_pass(app: TestApp) {
    let bidders = app.bidders("tom", 2).await;
    let (tom, uma) = (&bidders[0], &bidders[1]);
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;

    let (status, first) = app.bid(&tom.token, &id, "t-low", 900, None).await;
    assert_error(status, &first, 422, "below_minimum");
    assert_eq!(first["error"]["min_next_bid"], 1000);
    for amount in [900, 1000, 5000] {
        let (status, again) = app.bid(&tom.token, &id, "t-low", amount, None).await;
        assert_eq!(status.as_u16(), 422, "{again}");
        assert_eq!(again, first);
    }
    assert_eq!(app.snapshot(&id).await["bid_count"], 0);

    // already_leading is a first answer too: after being outbid, its retry
    // is still refused and places nothing.
    let (status, body) = app.bid(&tom.token, &id, "t-1", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, refused) = app.bid(&tom.token, &id, "t-2", 1100, None).await;
    assert_error(status, &refused, 409, "already_leading");
    let (status, body) = app.bid(&uma.token, &id, "u-1", 1200, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, again) = app.bid(&tom.token, &id, "t-2", 1100, None).await;
    assert_eq!(status.as_u16(), 409, "{again}");
    assert_eq!(again, refused);
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], 2, "{snapshot}");
    assert_eq!(snapshot["current_price"], 1200, "{snapshot}");
    assert_eq!(stored_answers(&app, &id).await, 4);
}

async fn request_ids_are_scoped_to_one_bidder_on_one_auction(app: TestApp) {
    let bidders = app.bidders("vic", 2).await;
    let (vic, wendy) = (&bidders[0], &bidders[1]);
    let admin = app.admin_token().await;
    let first = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let second = app.auction_id_as(&admin, AuctionBuilder::new()).await;

    let (status, a) = app.bid(&vic.token, &first, "same", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let (status, b) = app.bid(&wendy.token, &first, "same", 1050, None).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(
        b["seq"], 2,
        "another bidder's request with the same id is placed"
    );
    let (status, c) = app.bid(&vic.token, &second, "same", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["auction_id"], second.as_str());
    assert_eq!(c["seq"], 1, "the same id on another auction is placed");
    assert_eq!(app.snapshot(&first).await["bid_count"], 2);
    assert_eq!(app.snapshot(&second).await["bid_count"], 1);
}

async fn identical_requests_sent_at_once_are_placed_once(app: TestApp) {
    let bidders = app.bidders("xena", 3).await;
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;

    // Every bidder sends its one request eight times at once.
    let (app_ref, id_ref) = (&app, id.as_str());
    let mut sends = Vec::new();
    for (i, bidder) in bidders.iter().enumerate() {
        let amount = 1000 + 1000 * i64::try_from(i).expect("small");
        for _ in 0..8 {
            sends.push(async move {
                let (status, body) = app_ref
                    .bid(&bidder.token, id_ref, "dup", amount, None)
                    .await;
                (bidder.username.clone(), status, body)
            });
        }
    }
    let answers = join_all(sends).await;
    for bidder in &bidders {
        let mine: Vec<&(String, StatusCode, Value)> = answers
            .iter()
            .filter(|(name, _, _)| *name == bidder.username)
            .collect();
        assert_eq!(mine.len(), 8);
        for answer in &mine {
            assert_eq!(answer.1, mine[0].1, "{}", answer.2);
            assert_eq!(answer.2, mine[0].2, "every copy gets the same answer");
        }
    }
    let accepted = answers
        .iter()
        .filter(|(_, status, _)| *status == StatusCode::OK)
        .count();
    let history = app.history(&id).await;
    assert_eq!(
        history.len() * 8,
        accepted,
        "each accepted request placed once"
    );
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["bid_count"], history.len());
    assert_eq!(stored_answers(&app, &id).await, 3);
}

async fn users_sessions_auctions_and_bids_survive_a_restart_and_retries_keep_their_first_answers(
    app: TestApp,
) {
    let bidders = app.bidders("yuri", 2).await;
    let (yuri, zoe) = (&bidders[0], &bidders[1]);
    let admin = app.admin_token().await;
    let id = app
        .auction_id_as(&admin, AuctionBuilder::new().reserve(4000).buy_now(9000))
        .await;
    let (status, accepted) = app.bid(&yuri.token, &id, "y-1", 1000, Some(3000)).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    let (status, outbid) = app.bid(&zoe.token, &id, "z-1", 2000, None).await;
    assert_eq!(status, StatusCode::OK, "{outbid}");
    assert_eq!(outbid["status"], "outbid");
    let (status, rejected) = app.bid(&zoe.token, &id, "z-low", 100, None).await;
    assert_error(status, &rejected, 422, "below_minimum");
    let before = app.snapshot(&id).await;
    let history = app.history(&id).await;
    let (_, admin_view) = app
        .get_as(&admin, &format!("/api/v1/admin/auctions/{id}"))
        .await;

    let app = app.restart().await;

    // Sessions: the same tokens still work.
    for bidder in &bidders {
        let (status, me) = app.get_as(&bidder.token, "/api/v1/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["id"], bidder.id.as_str());
    }
    let (status, _) = app.get_as(&admin, "/api/v1/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    // Users: they log in again; the start-up admin is not created twice.
    app.login(&yuri.username, crate::helpers::BIDDER_PASSWORD)
        .await;
    app.login(ADMIN_USER, ADMIN_PASSWORD).await;
    let (_, users) = app.get_as(&admin, "/api/v1/admin/users").await;
    assert_eq!(users["users"].as_array().map(Vec::len), Some(3), "{users}");

    // The auction and its bids.
    let after = app.snapshot(&id).await;
    for (key, value) in before.as_object().expect("an object") {
        if key != "server_time" {
            assert_eq!(&after[key], value, "{key} changed over the restart");
        }
    }
    assert_eq!(app.history(&id).await, history);
    let (_, view) = app
        .get_as(&admin, &format!("/api/v1/admin/auctions/{id}"))
        .await;
    assert_eq!(view["bids"], admin_view["bids"]);
    assert_eq!(view["reserve_price"], 4000);

    // Retries get their first answers, and place nothing.
    let (status, again) = app.bid(&yuri.token, &id, "y-1", 1000, Some(3000)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, accepted);
    let (status, again) = app.bid(&zoe.token, &id, "z-1", 2000, None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, outbid);
    let (status, again) = app.bid(&zoe.token, &id, "z-low", 5000, None).await;
    assert_eq!(status.as_u16(), 422, "{again}");
    assert_eq!(again, rejected);
    let now = app.snapshot(&id).await;
    assert_eq!(now["seq"], before["seq"]);
    assert_eq!(now["bid_count"], before["bid_count"]);

    // Bidding goes on where it stopped.
    let next_seq = before["seq"].as_i64().expect("a seq") + 1;
    let (status, body) = app.bid(&zoe.token, &id, "z-2", 5000, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["seq"],
        next_seq + 1,
        "yuri's ceiling is recorded first"
    );
    assert_eq!(body["status"], "leading");
    assert_eq!(body["current_price"], 5000);
    let history = app.history(&id).await;
    let seqs: Vec<i64> = history
        .iter()
        .map(|bid| bid["seq"].as_i64().expect("a seq"))
        .collect();
    let want: Vec<i64> = (1..=next_seq + 1).collect();
    assert_eq!(seqs, want);
}

async fn a_bidder_banned_after_bidding_still_gets_the_first_answer_to_a_retry(app: TestApp) {
    let bidders = app.bidders("zed", 1).await;
    let zed = &bidders[0];
    let admin = app.admin_token().await;
    let id = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (status, first) = app.bid(&zed.token, &id, "z-1", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, _) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/users/{}/ban", zed.id))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The retry learns what happened to its bid; a new bid is refused.
    let (status, again) = app.bid(&zed.token, &id, "z-1", 1000, None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again, first);
    let (status, body) = app.bid(&zed.token, &id, "z-2", 2000, Some(3000)).await;
    assert_error(status, &body, 403, "banned");
    // The ban voided the bid (voided, repriced); the retry placed nothing.
    let snapshot = app.snapshot(&id).await;
    assert_eq!(snapshot["seq"], 3);
    assert_eq!(snapshot["bid_count"], 0);
}
