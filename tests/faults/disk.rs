//! SQLite disk trouble under the real binary: the database file made
//! read-only, and the disk full. Bids answer 503 `unavailable` and the log
//! says why in one line; once the disk is fine again the service recovers
//! by itself; afterwards `PRAGMA integrity_check` is ok and every
//! acknowledged bid is there.
//!
//! Read-only: `mount -o remount,ro` is tried first, but Linux refuses to
//! remount a file system read-only while a process holds files on it open
//! for writing (EBUSY: SQLite keeps the database and its WAL open), so the
//! test then makes the files immutable (`chattr +i` on ext4), which
//! refuses writes through descriptors opened before, even for root.

use std::io::Write as _;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ledger::{check_history, connect, Ledger};
use crate::mounts::Mount;
use crate::process::GavelProcess;
use crate::support::{bid_round, skip, Attempt};

const BIDDERS: usize = 4;
const UNAVAILABLE_WITHIN: Duration = Duration::from_secs(10);
const RECOVERY_WITHIN: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ReadOnly,
    Full,
}

/// What happens once the disk is repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// The first accepted bid shows recovery; the retries and checks then
    /// run on a restarted server (fresh database connections).
    Restart,
    /// Everything runs on the same server: every later bid must be decided.
    KeepRunning,
}

async fn on_ext4(test: &str, fault: Fault, after: After) {
    match Mount::ext4_image(32) {
        Ok(mount) => disk_fault(mount, fault, after).await,
        Err(error) => skip(test, &format!("cannot mount an ext4 image: {error}")),
    }
}

async fn on_tmpfs(test: &str, fault: Fault, after: After) {
    match Mount::tmpfs("8m") {
        Ok(mount) => disk_fault(mount, fault, after).await,
        Err(error) => skip(test, &format!("cannot mount a tmpfs: {error}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_made_read_only_then_writable_again() {
    let test = "sqlite_file_made_read_only_then_writable_again";
    on_ext4(test, Fault::ReadOnly, After::Restart).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_then_space_freed() {
    let test = "sqlite_disk_full_then_space_freed";
    on_tmpfs(test, Fault::Full, After::Restart).await;
}

/// Regression: after a failed COMMIT, SQLite may already have rolled the
/// transaction back; a pooled connection that went back to the pool in
/// that state kept a transaction open for good (a stale snapshot, or the
/// write lock held against every other connection), and bids kept failing
/// until a restart. The store now closes such a connection instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_deciding_bids_after_the_disk_was_full_without_a_restart() {
    let test = "sqlite_keeps_deciding_bids_after_the_disk_was_full_without_a_restart";
    on_tmpfs(test, Fault::Full, After::KeepRunning).await;
}

/// The same regression, after the file was read-only for a while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_deciding_bids_after_the_file_was_read_only_without_a_restart() {
    let test = "sqlite_keeps_deciding_bids_after_the_file_was_read_only_without_a_restart";
    on_ext4(test, Fault::ReadOnly, After::KeepRunning).await;
}

/// Fills the file system with one file until it refuses another byte.
fn fill(path: &std::path::Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("create the filler");
    let mut written = 0u64;
    for chunk in [1024 * 1024, 4096, 1] {
        let block = vec![0x5a_u8; chunk];
        while file.write_all(&block).is_ok() {
            written += chunk as u64;
        }
    }
    let _ = file.sync_all();
    written
}

async fn disk_fault(mount: Mount, fault: Fault, after: After) {
    let db_path = mount.dir.join("gavel.db");
    let url = format!("sqlite://{}", db_path.display());
    let mut server = GavelProcess::start(&url).await;
    let api = server.api.clone();
    let admin = api.admin_token().await;
    let auction = api.auction(&admin).await;
    let bidders = api.bidders("disk", BIDDERS).await;
    let floor = AtomicI64::new(1000);
    let mut all: Vec<Attempt> = Vec::new();
    for round in 0..3 {
        let attempts = bid_round(
            &api,
            &auction,
            &bidders,
            &floor,
            &format!("pre{round}"),
            UNAVAILABLE_WITHIN * 3,
        )
        .await;
        assert!(
            attempts
                .iter()
                .all(|a| matches!(a.status(), Some(200 | 409 | 422))),
            "{attempts:?}"
        );
        all.extend(attempts);
    }

    // Break the disk.
    let filler = mount.dir.join("filler");
    let mut remounted = false;
    let how = match fault {
        Fault::ReadOnly => match mount.remount("ro") {
            Ok(()) => {
                remounted = true;
                "mount -o remount,ro".to_string()
            }
            Err(refused) => {
                for file in ["gavel.db", "gavel.db-wal"] {
                    mount
                        .set_immutable(&mount.dir.join(file), true)
                        .expect("chattr +i");
                }
                mount
                    .set_immutable(&mount.dir, true)
                    .expect("chattr +i on the directory");
                format!("chattr +i on gavel.db, gavel.db-wal and their directory (remount,ro was refused: {refused})")
            }
        },
        Fault::Full => format!("a filler file of {} bytes", fill(&filler)),
    };

    // Bids now fail, quickly and cleanly. (On a full disk SQLite may still
    // fit a frame or two into space it already has: allow a few rounds.)
    let mut during = Vec::new();
    let mut accepted_while_broken = 0;
    for round in 0..10 {
        let attempts = bid_round(
            &api,
            &auction,
            &bidders,
            &floor,
            &format!("broken{round}"),
            UNAVAILABLE_WITHIN * 3,
        )
        .await;
        for attempt in &attempts {
            let (status, body) = attempt
                .answer
                .as_ref()
                .unwrap_or_else(|error| panic!("{fault:?}: no answer (a hang?): {error}"));
            assert!(
                attempt.took <= UNAVAILABLE_WITHIN,
                "{fault:?}: took {:?}",
                attempt.took
            );
            match status.as_u16() {
                503 => assert_eq!(body["error"]["code"], "unavailable", "{body}"),
                200 | 409 | 422 => accepted_while_broken += 1,
                other => panic!("{fault:?}: {other} {body}"),
            }
        }
        let all_refused = attempts.iter().all(|a| a.status() == Some(503));
        during.extend(attempts);
        if all_refused && round >= 1 {
            break;
        }
    }
    let refused = during.iter().filter(|a| a.status() == Some(503)).count();
    assert!(
        refused >= BIDDERS,
        "{fault:?}: bids kept working on a broken disk: {during:?}"
    );
    let slowest = during.iter().map(|a| a.took).max().unwrap_or_default();
    let ready_during = api.get("/readyz").await.map(|(status, _)| status.as_u16());
    assert_eq!(
        ready_during.as_ref().ok(),
        Some(&503),
        "{fault:?}: /readyz must say not ready while writes fail: {ready_during:?}"
    );

    // One clear log line says why.
    let wanted: &[&str] = match fault {
        Fault::ReadOnly => &["readonly", "read-only", "not permitted", "I/O error"],
        Fault::Full => &["full"],
    };
    let lines = server.log_lines(|line: &Value| {
        let text = line.to_string();
        matches!(line["level"].as_str(), Some("ERROR" | "WARN"))
            && wanted.iter().any(|w| text.contains(w))
    });
    assert!(
        !lines.is_empty(),
        "{fault:?}: no log line says why; the log:\n{}",
        server.logs().join("\n")
    );

    // Repair the disk: the service recovers by itself.
    match fault {
        Fault::ReadOnly => {
            if remounted {
                mount.remount("rw").expect("remount rw");
            } else {
                mount.set_immutable(&mount.dir, false).expect("chattr -i");
                for file in ["gavel.db", "gavel.db-wal"] {
                    mount
                        .set_immutable(&mount.dir.join(file), false)
                        .expect("chattr -i");
                }
            }
        }
        Fault::Full => std::fs::remove_file(&filler).expect("remove the filler"),
    }
    let started = Instant::now();
    loop {
        let attempts = bid_round(
            &api,
            &auction,
            &bidders,
            &floor,
            &format!("after{}", started.elapsed().as_millis()),
            UNAVAILABLE_WITHIN * 3,
        )
        .await;
        let recovered = attempts.iter().any(|a| a.status() == Some(200));
        all.extend(attempts);
        if recovered {
            break;
        }
        assert!(
            started.elapsed() < RECOVERY_WITHIN,
            "{fault:?}: bids did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered_after = started.elapsed();

    // Later bids on the same server: measured (Restart) or required (KeepRunning).
    let mut later = Vec::new();
    for round in 0..8 {
        later.extend(
            bid_round(
                &api,
                &auction,
                &bidders,
                &floor,
                &format!("later{round}"),
                UNAVAILABLE_WITHIN * 3,
            )
            .await,
        );
    }
    let later_refused = later.iter().filter(|a| a.status() == Some(503)).count();
    if after == After::KeepRunning {
        assert_eq!(
            later_refused,
            0,
            "{fault:?}: bids still refused after the repair; the log's end:\n{}",
            log_tail(&server)
        );
        // Writes work again, so the node says it is ready again.
        let ready_after = api.get("/readyz").await.map(|(status, _)| status.as_u16());
        assert_eq!(
            ready_after.as_ref().ok(),
            Some(&200),
            "{fault:?}: /readyz once writes succeed again: {ready_after:?}"
        );
    }
    all.extend(later);
    let mut first_server = None;
    if after == After::Restart {
        assert!(server.panics().is_empty(), "{:?}", server.panics());
        server.terminate().await;
        first_server = Some(server);
        server = GavelProcess::start(&url).await;
    }
    let api = server.api.clone();

    // Requests refused while broken are decided once on retry.
    let mut retried = Vec::new();
    for attempt in during.iter().filter(|a| a.status() == Some(503)) {
        let bidder = &bidders[attempt.bidder];
        let first = api
            .bid(&bidder.token, &auction, &attempt.request_id, attempt.amount)
            .await
            .expect("an answer");
        let second = api
            .bid(&bidder.token, &auction, &attempt.request_id, attempt.amount)
            .await
            .expect("an answer");
        assert_eq!(
            first,
            second,
            "{fault:?}: {} decided once; the log's end:\n{}",
            attempt.request_id,
            log_tail(&server)
        );
        assert!(
            matches!(first.0.as_u16(), 200 | 409 | 422),
            "{fault:?}: retrying {} after the repair: {first:?}; the log's end:\n{}",
            attempt.request_id,
            log_tail(&server)
        );
        retried.push(Attempt {
            answer: Ok(first),
            ..attempt.clone()
        });
    }
    all.extend(during);
    if after == After::KeepRunning {
        check_history(&api, &auction, &all).await;
    }
    assert!(server.panics().is_empty(), "{:?}", server.panics());
    server.terminate().await;
    drop(first_server);

    // No corruption; nothing acknowledged lost (asserted when the process
    // kept running, counted after a restart: see the ignored tests).
    let mut conn = connect(&url).await;
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .expect("run integrity_check");
    assert_eq!(integrity, vec!["ok".to_string()], "integrity_check");
    drop(conn);
    let ledger = Ledger::read(&url, &auction).await;
    ledger.check();
    let acknowledged = all.iter().filter(|a| a.acked_seq().is_some()).count();
    let lost = ledger.missing_acknowledged(&all);
    if after == After::KeepRunning {
        assert!(
            lost.is_empty(),
            "{fault:?}: acknowledged bids lost: {lost:#?}"
        );
    }
    ledger.check_acknowledged(&retried);
    if !lost.is_empty() {
        eprintln!(
            "!!! BUG (SQLite {fault:?}): {} acknowledged bids are not in the database after \
             the repair and a restart: {lost:#?}",
            lost.len()
        );
    }

    let line = &lines[0];
    eprintln!(
        "SQLite {fault:?} via {how}: {refused} bids answered 503 unavailable (slowest \
         {slowest:?}), {accepted_while_broken} still decided after the fault; /readyz during: \
         {ready_during:?}; log: {} {} error={}; recovered {recovered_after:?} after the repair, \
         then {later_refused} of 32 later bids on the same process still refused ({after:?}); \
         integrity_check ok; {acknowledged} acknowledged bids, {} of them lost; {} retries decided once",
        line["level"].as_str().unwrap_or("?"),
        line["message"].as_str().unwrap_or("?"),
        line["error"].as_str().unwrap_or("?"),
        lost.len(),
        retried.len(),
    );
}

/// The warnings and errors of the server's log, last ones last.
fn log_tail(server: &GavelProcess) -> String {
    let lines = server.log_lines(|line| matches!(line["level"].as_str(), Some("ERROR" | "WARN")));
    let skip = lines.len().saturating_sub(80);
    lines
        .iter()
        .skip(skip)
        .map(|line| {
            format!(
                "{} {} {} {}",
                line["timestamp"].as_str().unwrap_or_default(),
                line["level"].as_str().unwrap_or_default(),
                line["message"].as_str().unwrap_or_default(),
                line["error"].as_str().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
