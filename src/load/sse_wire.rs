//! The bytes of an SSE response, decoded by hand for the load tool's
//! watchers: HTTP/1.1 chunked transfer coding ([`Dechunker`]) and the
//! `text/event-stream` format ([`EventParser`]). Both are fed whatever a
//! socket read returned and keep their state between reads.
//!
//! Ten thousand watchers each read every event, so this is the load tool's
//! hot path; a general HTTP client and SSE library cost several times more
//! CPU per event, CPU the server under test would otherwise get.

use anyhow::Context as _;

/// One dispatched SSE event. `event` is empty for the default type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: String,
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading the hex size line.
    Size,
    /// This many payload bytes of the current chunk are still to come.
    Data(usize),
    /// The CRLF after a chunk's payload.
    DataEnd,
    /// The zero-size chunk was read: the body is over.
    Done,
}

/// Decodes `Transfer-Encoding: chunked` incrementally.
#[derive(Debug)]
pub struct Dechunker {
    state: ChunkState,
    line: Vec<u8>,
}

impl Default for Dechunker {
    fn default() -> Self {
        Self {
            state: ChunkState::Size,
            line: Vec::new(),
        }
    }
}

/// The longest chunk-size line accepted (size, extensions and CRLF).
const MAX_SIZE_LINE: usize = 1024;

impl Dechunker {
    /// Whether the last chunk was read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Appends the payload bytes found in `input` to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> anyhow::Result<()> {
        while !input.is_empty() {
            match self.state {
                ChunkState::Size => {
                    let Some(end) = input.iter().position(|b| *b == b'\n') else {
                        self.line.extend_from_slice(input);
                        anyhow::ensure!(
                            self.line.len() <= MAX_SIZE_LINE,
                            "chunk size line too long"
                        );
                        return Ok(());
                    };
                    self.line.extend_from_slice(&input[..end]);
                    input = &input[end + 1..];
                    let size = parse_chunk_size(&self.line)?;
                    self.line.clear();
                    self.state = if size == 0 {
                        ChunkState::Done
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(remaining) => {
                    let take = remaining.min(input.len());
                    out.extend_from_slice(&input[..take]);
                    input = &input[take..];
                    self.state = if take == remaining {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(remaining - take)
                    };
                }
                ChunkState::DataEnd => {
                    let Some(end) = input.iter().position(|b| *b == b'\n') else {
                        anyhow::ensure!(
                            input.iter().all(|b| *b == b'\r'),
                            "junk after a chunk's payload"
                        );
                        return Ok(());
                    };
                    anyhow::ensure!(
                        input[..end].iter().all(|b| *b == b'\r'),
                        "junk after a chunk's payload"
                    );
                    input = &input[end + 1..];
                    self.state = ChunkState::Size;
                }
                ChunkState::Done => return Ok(()),
            }
        }
        Ok(())
    }
}

fn parse_chunk_size(line: &[u8]) -> anyhow::Result<usize> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let hex = line.split(|b| *b == b';').next().unwrap_or_default();
    let text = std::str::from_utf8(hex)
        .context("chunk size is not text")?
        .trim();
    usize::from_str_radix(text, 16).with_context(|| format!("bad chunk size {text:?}"))
}

/// Parses `text/event-stream` bytes into events (lines end in LF or CRLF).
#[derive(Debug, Default)]
pub struct EventParser {
    /// Bytes of a line not yet ended.
    partial: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

/// The longest line accepted before the stream counts as broken.
const MAX_LINE: usize = 1 << 20;

impl EventParser {
    /// Parses `input`, calling `on_event` for every event it completes.
    pub fn feed(&mut self, input: &[u8], mut on_event: impl FnMut(SseEvent)) -> anyhow::Result<()> {
        let mut rest = input;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(end);
            rest = &tail[1..];
            if self.partial.is_empty() {
                self.line(line, &mut on_event)?;
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.line(&whole, &mut on_event)?;
            }
        }
        self.partial.extend_from_slice(rest);
        anyhow::ensure!(self.partial.len() <= MAX_LINE, "an SSE line over 1 MiB");
        Ok(())
    }

    fn line(&mut self, line: &[u8], on_event: &mut impl FnMut(SseEvent)) -> anyhow::Result<()> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(first) = line.first() else {
            let event = std::mem::take(&mut self.current);
            if std::mem::take(&mut self.has_data) {
                on_event(event);
            }
            return Ok(());
        };
        if *first == b':' {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => (line, &[][..]),
        };
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let text = || std::str::from_utf8(value).context("an SSE field is not UTF-8");
        match field {
            b"event" => text()?.clone_into(&mut self.current.event),
            b"id" => text()?.clone_into(&mut self.current.id),
            b"data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(text()?);
                self.has_data = true;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BODY: &str = "retry: 2000\n\nevent: snapshot\nid: 3\ndata: {\"seq\":3}\n\n: keep-alive\n\nevent: bid\r\nid: 4\r\ndata: {\"a\":1}\r\ndata: x\r\n\r\n";

    fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = body;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let size = (*sizes.next().unwrap_or(&7)).clamp(1, rest.len());
            out.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            out.extend_from_slice(&rest[..size]);
            out.extend_from_slice(b"\r\n");
            rest = &rest[size..];
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }

    fn decode(wire: &[u8], reads: &[usize]) -> anyhow::Result<(Vec<SseEvent>, bool)> {
        let mut dechunker = Dechunker::default();
        let mut parser = EventParser::default();
        let mut events = Vec::new();
        let mut payload = Vec::new();
        let mut rest = wire;
        let mut reads = reads.iter().cycle();
        while !rest.is_empty() {
            let n = (*reads.next().unwrap_or(&5)).clamp(1, rest.len());
            payload.clear();
            dechunker.feed(&rest[..n], &mut payload)?;
            parser.feed(&payload, |event| events.push(event))?;
            rest = &rest[n..];
        }
        Ok((events, dechunker.is_done()))
    }

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: "snapshot".into(),
                id: "3".into(),
                data: "{\"seq\":3}".into(),
            },
            SseEvent {
                event: "bid".into(),
                id: "4".into(),
                data: "{\"a\":1}\nx".into(),
            },
        ]
    }

    #[test]
    fn a_whole_body_decodes() -> anyhow::Result<()> {
        let (events, done) = decode(&chunked(BODY.as_bytes(), &[1000]), &[10_000])?;
        assert_eq!(events, expected());
        assert!(done);
        Ok(())
    }

    #[test]
    fn bad_chunk_sizes_are_errors() {
        let mut out = Vec::new();
        assert!(Dechunker::default().feed(b"zz\r\n", &mut out).is_err());
        assert!(Dechunker::default().feed(b"2\r\nabXY", &mut out).is_err());
    }

    proptest! {
        #[test]
        fn any_chunking_and_any_reads_give_the_same_events(
            sizes in proptest::collection::vec(1usize..40, 1..8),
            reads in proptest::collection::vec(1usize..50, 1..8),
        ) {
            let (events, done) = decode(&chunked(BODY.as_bytes(), &sizes), &reads)
                .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
            prop_assert_eq!(events, expected());
            prop_assert!(done);
        }
    }
}
