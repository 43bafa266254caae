//! The audit log names the admin and the target (an auction's title, a
//! user's name), and filters by lot, by user and by admin; bad filters are
//! refused in the API's error shape.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, AuctionBuilder, TestApp};

crate::on_both_backends!(
    the_audit_log_names_admins_and_targets_and_filters_by_lot_user_and_admin,
    bad_audit_filters_are_refused,
);

/// `(action, target)` of every entry, newest first.
fn actions(audit: &Value) -> Vec<(String, String)> {
    audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap_or_default().to_owned(),
                entry["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn the_audit_log_names_admins_and_targets_and_filters_by_lot_user_and_admin(app: TestApp) {
    let admin = app.admin_token().await;
    let bidders = app.bidders("aud", 2).await;
    // A second admin: a bidder promoted in the database.
    let second_id = bidders[1].id.clone();
    let mut conn = app.db_connection().await;
    sqlx::query(&format!(
        "UPDATE users SET role = 'admin' WHERE id = '{second_id}'"
    ))
    .execute(&mut conn)
    .await
    .expect("promote");
    let second = bidders[1].token.clone();

    let lamp = app
        .auction_id_as(
            &admin,
            AuctionBuilder::new().set("title", json!("Brass lamp")),
        )
        .await;
    let clock = app
        .auction_id_as(
            &second,
            AuctionBuilder::new().set("title", json!("Mantel clock")),
        )
        .await;
    let (status, body) = app
        .post_as(
            &second,
            &format!("/api/v1/admin/auctions/{lamp}/pause"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post_empty_as(&admin, &format!("/api/v1/admin/auctions/{clock}/cancel"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post_empty_as(
            &admin,
            &format!("/api/v1/admin/users/{}/ban", bidders[0].id),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, all) = app.get_as(&admin, "/api/v1/admin/audit").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(actions(&all).len(), 5, "{all}");
    for entry in all["entries"].as_array().expect("entries") {
        let by_second = entry["actor_id"] == second_id.as_str();
        let want_admin = if by_second { "aud1" } else { "root-admin" };
        assert_eq!(entry["actor_name"], want_admin, "{entry}");
        let target = entry["target"].as_str().expect("target");
        let (kind, name) = if target == lamp {
            ("auction", "Brass lamp")
        } else if target == clock {
            ("auction", "Mantel clock")
        } else {
            assert_eq!(target, bidders[0].id, "{entry}");
            ("user", "aud0")
        };
        assert_eq!(entry["target_kind"], kind, "{entry}");
        assert_eq!(entry["target_name"], name, "{entry}");
    }

    let (status, lamp_only) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?auction={lamp}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{lamp_only}");
    assert_eq!(
        actions(&lamp_only),
        vec![
            ("auction.pause".to_owned(), lamp.clone()),
            ("auction.create".to_owned(), lamp.clone())
        ],
        "{lamp_only}"
    );

    let (_, by_second) = app
        .get_as(&admin, &format!("/api/v1/admin/audit?admin={second_id}"))
        .await;
    assert_eq!(
        actions(&by_second),
        vec![
            ("auction.pause".to_owned(), lamp.clone()),
            ("auction.create".to_owned(), clock.clone())
        ],
        "{by_second}"
    );

    let (_, both) = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/audit?auction={clock}&admin={second_id}&limit=10"),
        )
        .await;
    assert_eq!(
        actions(&both),
        vec![("auction.create".to_owned(), clock.clone())],
        "{both}"
    );

    let (_, user_only) = app
        .get_as(
            &admin,
            &format!("/api/v1/admin/audit?user={}", bidders[0].id),
        )
        .await;
    assert_eq!(
        actions(&user_only),
        vec![("user.ban".to_owned(), bidders[0].id.clone())],
        "{user_only}"
    );

    let (_, newest) = app.get_as(&admin, "/api/v1/admin/audit?limit=1").await;
    assert_eq!(
        actions(&newest),
        vec![("user.ban".to_owned(), bidders[0].id.clone())]
    );

    // A bidder may not read it.
    let (status, body) = app.get_as(&bidders[0].token, "/api/v1/admin/audit").await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
        "{status} {body}"
    );
}

async fn bad_audit_filters_are_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let lamp = app.auction_id_as(&admin, AuctionBuilder::new()).await;
    let (_, me) = app.get_as(&admin, "/api/v1/me").await;
    let admin_id = me["id"].as_str().expect("admin id").to_owned();
    for query in [
        "auction=not-an-id".to_owned(),
        "admin=1%27%20OR%201%3D1".to_owned(),
        format!("auction={lamp}&user={admin_id}"),
        "limit=0".to_owned(),
        "limit=501".to_owned(),
        "limit=ten".to_owned(),
        "target=x".to_owned(),
    ] {
        let (status, body) = app
            .get_as(&admin, &format!("/api/v1/admin/audit?{query}"))
            .await;
        assert_error(status, &body, 400, "bad_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{query}: {body}"
        );
    }
    // Nothing matches an unknown lot: an empty list, not an error.
    let (status, body) = app
        .get_as(
            &admin,
            "/api/v1/admin/audit?auction=00000000-0000-7000-8000-000000000000",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["entries"], json!([]));
}
