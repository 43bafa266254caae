//! What one WebSocket client may make the server hold, checked on each
//! frame's header as the bytes stream in, before any payload is buffered.
//!
//! actix-http's codec compares a frame's length with its limit only once the
//! whole frame has arrived, and actix-ws reads everything the socket gives
//! into one buffer first: a header announcing 1 TiB made the server buffer
//! whatever followed. [`FrameHeaderGuard`] is a small incremental parser of
//! frame headers that sits in front of them (see [`LimitedPayload`]): a frame
//! announcing more than the frame limit, or a fragmented message whose
//! announced fragments add up past the message limit, stops the stream on
//! that header, and the connection is closed with 1009. (The right fix is
//! upstream, in actix-http's parser; this wrapper stands in for it.)

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::error::PayloadError;
use bytes::Bytes;
use futures_util::Stream;

/// The longest a frame header can be: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER_LEN: usize = 14;

/// Why the guard stopped a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    #[error("a frame announced {announced} bytes; frames are limited to {limit}")]
    Frame { announced: u64, limit: u64 },
    #[error("a fragmented message reached {announced} bytes; messages are limited to {limit}")]
    Message { announced: u64, limit: u64 },
}

/// Reads frame headers out of a client's byte stream, chunk by chunk.
#[derive(Debug, Clone)]
pub struct FrameHeaderGuard {
    frame_limit: u64,
    message_limit: u64,
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    /// Payload bytes of the current frame still to come (0: a header is next).
    payload_left: u64,
    /// Announced bytes of the data message being assembled from fragments.
    message_len: u64,
    /// Whether the given limit was crossed (the guard stays stopped).
    stopped: Option<LimitExceeded>,
}

impl FrameHeaderGuard {
    pub fn new(frame_limit: usize, message_limit: usize) -> Self {
        Self {
            frame_limit: frame_limit as u64,
            message_limit: message_limit as u64,
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            payload_left: 0,
            message_len: 0,
            stopped: None,
        }
    }

    /// Takes the next bytes of the stream; an error once a header crosses a
    /// limit (and for every call after that).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), LimitExceeded> {
        while !bytes.is_empty() {
            if let Some(stopped) = self.stopped {
                return Err(stopped);
            }
            if self.payload_left > 0 {
                let take = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.payload_left -= take as u64;
                bytes = &bytes[take..];
                continue;
            }
            // Collect a header byte by byte until it is whole.
            self.header[self.header_len] = bytes[0];
            self.header_len += 1;
            bytes = &bytes[1..];
            if let Some(needed) = header_len(&self.header[..self.header_len]) {
                if self.header_len == needed {
                    self.header_len = 0;
                    let header = self.header;
                    self.on_header(&header[..needed])?;
                }
            }
        }
        self.stopped.map_or(Ok(()), Err)
    }

    fn on_header(&mut self, header: &[u8]) -> Result<(), LimitExceeded> {
        let finished = header[0] & 0x80 != 0;
        let opcode = header[0] & 0x0F;
        let length = announced_length(header);
        if length > self.frame_limit {
            return Err(self.stop(LimitExceeded::Frame {
                announced: length,
                limit: self.frame_limit,
            }));
        }
        match opcode {
            // A continuation adds to the message; text or binary starts one.
            0x0 => self.message_len = self.message_len.saturating_add(length),
            0x1 | 0x2 => self.message_len = length,
            // Control frames (and opcodes the codec refuses) stand alone.
            _ => {}
        }
        if self.message_len > self.message_limit {
            return Err(self.stop(LimitExceeded::Message {
                announced: self.message_len,
                limit: self.message_limit,
            }));
        }
        if finished && opcode < 0x8 {
            self.message_len = 0;
        }
        self.payload_left = length;
        Ok(())
    }

    fn stop(&mut self, why: LimitExceeded) -> LimitExceeded {
        self.stopped = Some(why);
        why
    }
}

/// The whole header's length once its first bytes say it, else `None`.
fn header_len(start: &[u8]) -> Option<usize> {
    let second = *start.get(1)?;
    let extended = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    Some(2 + extended + mask)
}

/// The payload length a whole header announces.
fn announced_length(header: &[u8]) -> u64 {
    match header[1] & 0x7F {
        126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
        127 => {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&header[2..10]);
            u64::from_be_bytes(bytes)
        }
        short => u64::from(short),
    }
}

/// A request payload that passes through a [`FrameHeaderGuard`] and ends
/// with [`PayloadError::Overflow`] on the first header over a limit.
pub struct LimitedPayload<S> {
    inner: S,
    guard: FrameHeaderGuard,
}

impl<S> LimitedPayload<S> {
    pub fn new(inner: S, guard: FrameHeaderGuard) -> Self {
        Self { inner, guard }
    }
}

impl<S> Stream for LimitedPayload<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => match this.guard.feed(&bytes) {
                Ok(()) => Poll::Ready(Some(Ok(bytes))),
                Err(why) => {
                    tracing::info!(reason = %why, "WebSocket frame over the limit; closing");
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame header announcing `len` bytes.
    fn header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
        let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
        if len < 126 {
            out.push(0x80 | len as u8);
        } else if len <= u64::from(u16::MAX) {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        out.extend_from_slice(&[1, 2, 3, 4]);
        out
    }

    fn frame(fin: bool, opcode: u8, len: usize) -> Vec<u8> {
        let mut out = header(fin, opcode, len as u64);
        out.extend(std::iter::repeat_n(b'x', len));
        out
    }

    const LIMIT: usize = 64 * 1024;

    #[test]
    fn a_huge_announced_length_stops_on_the_header() {
        let mut guard = FrameHeaderGuard::new(LIMIT, LIMIT);
        let error = guard
            .feed(&header(true, 0x1, 1 << 40))
            .expect_err("over the limit");
        assert_eq!(
            error,
            LimitExceeded::Frame {
                announced: 1 << 40,
                limit: LIMIT as u64
            }
        );
        assert!(
            guard.feed(b"more").is_err(),
            "a stopped guard stays stopped"
        );
    }

    #[test]
    fn frames_up_to_the_limit_pass_in_any_chunking() {
        let mut stream = frame(true, 0x1, 10);
        stream.extend(frame(true, 0x9, 4));
        stream.extend(frame(true, 0x2, LIMIT));
        stream.extend(frame(true, 0x1, 300));
        for chunk in [1, 2, 3, 7, 1000, usize::MAX] {
            let mut guard = FrameHeaderGuard::new(LIMIT, LIMIT);
            for piece in stream.chunks(chunk.min(stream.len())) {
                guard.feed(piece).expect("within the limits");
            }
            assert_eq!(guard.payload_left, 0);
        }
    }

    #[test]
    fn continuations_adding_up_past_the_limit_stop() {
        let mut guard = FrameHeaderGuard::new(LIMIT, LIMIT);
        guard.feed(&frame(false, 0x1, 30_000)).expect("first part");
        guard.feed(&frame(false, 0x0, 30_000)).expect("second part");
        // A ping between fragments does not count.
        guard.feed(&frame(true, 0x9, 10)).expect("ping");
        let error = guard
            .feed(&header(true, 0x0, 10_000))
            .expect_err("over the limit");
        assert_eq!(
            error,
            LimitExceeded::Message {
                announced: 70_000,
                limit: LIMIT as u64
            }
        );
    }

    #[test]
    fn many_small_continuations_add_up_too() {
        let mut guard = FrameHeaderGuard::new(LIMIT, LIMIT);
        guard.feed(&frame(false, 0x1, 1)).expect("start");
        let mut sent = 1;
        let result = loop {
            match guard.feed(&frame(false, 0x0, 100)) {
                Ok(()) => sent += 100,
                Err(error) => break error,
            }
            assert!(sent < 2 * LIMIT, "never stopped");
        };
        assert!(matches!(result, LimitExceeded::Message { .. }));
    }

    #[test]
    fn a_finished_message_resets_the_count() {
        let mut guard = FrameHeaderGuard::new(LIMIT, LIMIT);
        for _ in 0..10 {
            guard.feed(&frame(false, 0x1, 30_000)).expect("part");
            guard.feed(&frame(true, 0x0, 30_000)).expect("last part");
        }
    }

    proptest::proptest! {
        /// However the bytes are cut into chunks, the guard reaches the same
        /// verdict at the same byte, and never stops a stream whose frames
        /// are all within the limits.
        #[test]
        fn chunking_does_not_change_the_verdict(
            frames in proptest::collection::vec((proptest::bool::ANY, 0_u8..16, 0_usize..300), 0..20),
            cuts in proptest::collection::vec(1_usize..64, 1..50),
            noise in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let mut stream = Vec::new();
            for (fin, opcode, len) in &frames {
                stream.extend(frame(*fin, *opcode, *len));
            }
            stream.extend(&noise);
            let small = 512;
            let whole = FrameHeaderGuard::new(small, small).feed(&stream);
            let mut guard = FrameHeaderGuard::new(small, small);
            let mut rest = stream.as_slice();
            let mut verdict = Ok(());
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, after) = rest.split_at((*cut).min(rest.len()));
                rest = after;
                verdict = guard.feed(piece);
                if verdict.is_err() {
                    break;
                }
            }
            proptest::prop_assert_eq!(whole, verdict);
        }
    }
}
