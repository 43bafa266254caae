//! The hash chain of an auction's event log (docs/design.md, "The
//! verifiable record").
//!
//! Every event's `hash` is `SHA-256(previous hash || canonical bytes)`, the
//! previous hash of the first event being 32 zero bytes. The canonical bytes
//! are public, so a watcher who saved the stream can check it:
//!
//! ```text
//! gavel-event-v1 LF <auction_id> LF <seq> LF <event name> LF <canonical data>
//! ```
//!
//! `<auction_id>` is the lower-case hyphenated UUID, `<seq>` decimal, and
//! `<canonical data>` the event's JSON data object without its `hash` and
//! `server_time` members, serialized compactly (no whitespace) with every
//! object's keys sorted by their UTF-8 bytes, strings escaped as JSON
//! requires and nothing more (`"` `\` and control characters; non-ASCII
//! stays as UTF-8), integers in decimal.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::AuctionId;

/// The hash before the first event: 32 zero bytes, in hex.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Members of the event data that are not hashed: the hash itself and the
/// sending time stamped on every copy.
const UNHASHED: [&str; 2] = ["hash", "server_time"];

/// Why an event's data cannot be hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the event data is not a JSON object")]
    NotAnObject,
    #[error("the previous hash is not 64 hex digits")]
    BadPrevious,
}

/// The canonical form of an event's data: the object without `hash` and
/// `server_time`, keys sorted, compact.
pub fn canonical_data(data: &str) -> Result<String, ChainError> {
    let mut value: Value = serde_json::from_str(data).map_err(|_| ChainError::NotAnObject)?;
    let object = value.as_object_mut().ok_or(ChainError::NotAnObject)?;
    for key in UNHASHED {
        object.remove(key);
    }
    // serde_json's map keeps keys sorted (no `preserve_order`), so this is
    // the sorted, compact form at every depth.
    Ok(value.to_string())
}

/// The canonical bytes of one event.
pub fn canonical_bytes(
    auction: AuctionId,
    seq: i64,
    name: &str,
    data: &str,
) -> Result<Vec<u8>, ChainError> {
    let data = canonical_data(data)?;
    Ok(format!("gavel-event-v1\n{auction}\n{seq}\n{name}\n{data}").into_bytes())
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The hash of an event after `previous` (hex; [`GENESIS`] for the first).
pub fn event_hash(
    previous: &str,
    auction: AuctionId,
    seq: i64,
    name: &str,
    data: &str,
) -> Result<String, ChainError> {
    let previous = from_hex(previous).ok_or(ChainError::BadPrevious)?;
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(canonical_bytes(auction, seq, name, data)?);
    Ok(to_hex(&hasher.finalize()))
}

/// `data` with its `hash` member set to `hash`.
pub fn with_hash(data: &str, hash: &str) -> Result<String, ChainError> {
    let mut value: Value = serde_json::from_str(data).map_err(|_| ChainError::NotAnObject)?;
    let object = value.as_object_mut().ok_or(ChainError::NotAnObject)?;
    object.insert("hash".into(), Value::from(hash));
    Ok(value.to_string())
}

/// The hash an event's data carries, if any.
pub fn hash_in(data: &str) -> Option<String> {
    let value: Value = serde_json::from_str(data).ok()?;
    value.get("hash")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUCTION: AuctionId = AuctionId::from_u128(0x0193_a5e2_7c4b_7d31_9a8e_2f6b_1c3d_4e5f);

    #[test]
    fn the_canonical_form_drops_hash_and_server_time_and_sorts_keys() {
        let data = r#"{"seq":1,"b":{"z":1,"a":"é\n"},"hash":"x","server_time":"t","a":null}"#;
        assert_eq!(
            canonical_data(data).expect("an object"),
            r#"{"a":null,"b":{"a":"é\n","z":1},"seq":1}"#
        );
        let bytes = canonical_bytes(AUCTION, 1, "bid", r#"{"seq":1}"#).expect("bytes");
        assert_eq!(
            String::from_utf8(bytes).expect("UTF-8"),
            "gavel-event-v1\n0193a5e2-7c4b-7d31-9a8e-2f6b1c3d4e5f\n1\nbid\n{\"seq\":1}"
        );
    }

    #[test]
    fn a_hash_depends_on_the_previous_one_and_every_byte() {
        let first = event_hash(GENESIS, AUCTION, 1, "bid", r#"{"seq":1}"#).expect("hash");
        assert_eq!(first.len(), 64);
        // SHA-256(32 zero bytes || canonical bytes), fixed so that other
        // implementations can check theirs against it.
        let mut hasher = Sha256::new();
        hasher.update([0u8; 32]);
        hasher.update(
            b"gavel-event-v1\n0193a5e2-7c4b-7d31-9a8e-2f6b1c3d4e5f\n1\nbid\n{\"seq\":1}".as_slice(),
        );
        assert_eq!(first, to_hex(&hasher.finalize()));
        let second = event_hash(&first, AUCTION, 2, "bid", r#"{"seq":2}"#).expect("hash");
        assert_ne!(
            second,
            event_hash(GENESIS, AUCTION, 2, "bid", r#"{"seq":2}"#).expect("hash")
        );
        assert_ne!(
            first,
            event_hash(GENESIS, AUCTION, 1, "bid", r#"{"seq":2}"#).expect("hash")
        );
        // The hash member itself and server_time do not count.
        let stamped = with_hash(r#"{"seq":1,"server_time":"x"}"#, &first).expect("data");
        assert_eq!(
            event_hash(GENESIS, AUCTION, 1, "bid", &stamped).expect("hash"),
            first
        );
        assert_eq!(hash_in(&stamped), Some(first));
        assert_eq!(
            event_hash("nope", AUCTION, 1, "bid", "{}"),
            Err(ChainError::BadPrevious)
        );
    }
}
