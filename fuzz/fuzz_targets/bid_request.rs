//! The bid request parser (the body of `POST /api/v1/auctions/{id}/bids`,
//! parsed as actix-web's `Json` extractor does) and its validation on
//! arbitrary bytes: never a panic, and what validation lets through is
//! exactly what docs/api.md allows.
#![no_main]

use gavel::domain::engine::check_bid_amounts;
use gavel::domain::MAX_AMOUNT;
use gavel::http::bids::{check_request_id, BidBody, MAX_REQUEST_ID_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<BidBody>(data) else {
        return;
    };
    let id = &body.request_id;
    let id_allowed = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_graphic());
    assert_eq!(
        check_request_id(id).is_ok(),
        id_allowed,
        "request_id {id:?}"
    );

    let amount = body.amount;
    let amounts_allowed = (1..=MAX_AMOUNT).contains(&amount)
        && body
            .max_amount
            .is_none_or(|max| (amount..=MAX_AMOUNT).contains(&max));
    let verdict = check_bid_amounts(amount, body.max_amount);
    assert_eq!(
        verdict.is_ok(),
        amounts_allowed,
        "amount {amount}, max_amount {:?}: {verdict:?}",
        body.max_amount
    );
    if let Err(rejection) = verdict {
        assert_eq!(rejection.code(), "invalid_amount");
    }
});
