//! `gavel load` driven as a library ([`gavel::load::run_load`]) against a
//! spawned server: a short run with a few bidders and watchers must accept
//! bids, deliver events to every watcher, and see no seq gap or duplicate.

use std::time::Duration;

use gavel::load::{run_load, LoadConfig};

use crate::helpers::{spawn_app, Backend, ADMIN_PASSWORD, ADMIN_USER};

#[actix_web::test]
async fn a_short_load_run_is_gapless_and_delivers_events() {
    let Some(app) = spawn_app(Backend::Sqlite).await else {
        return;
    };
    let mut config = LoadConfig::new(&app.address, ADMIN_USER, ADMIN_PASSWORD);
    config.bidders = 5;
    config.watchers = 2;
    config.duration = Duration::from_secs(2);
    let report = run_load(config).await.expect("the load run completes");
    let summary = report.render();
    eprintln!("{summary}");

    assert_eq!(report.bidders_connected, 5, "{summary}");
    assert_eq!(report.watchers_connected, 2, "{summary}");
    assert_eq!(report.gaps, 0, "{summary}");
    assert_eq!(report.duplicates, 0, "{summary}");
    assert!(report.accepted_total > 0, "{summary}");
    assert!(report.bids_total >= report.accepted_total, "{summary}");
    assert!(report.events_per_watcher_min > 0, "{summary}");
    assert_eq!(report.watchers_behind, 0, "{summary}");
    // Every accepted bid is one event, and each watcher saw all of them.
    assert_eq!(
        report.events_per_watcher_min, report.events_per_watcher_max,
        "{summary}"
    );
    assert!(report.answer_p99_ms.is_some(), "{summary}");
    assert!(report.delivery_p99_ms.is_some(), "{summary}");
    let json: serde_json::Value =
        serde_json::from_str(&report.to_json().expect("JSON")).expect("valid JSON");
    assert_eq!(json["gaps"], 0);

    // The auction's history matches what was accepted.
    let auction = &report.auction_ids[0];
    let history = app.history(auction).await;
    assert_eq!(history.len() as u64, report.accepted_total, "{summary}");

    app.stop().await;
}
