//! An auction's stored log read back as the entries it was decided from
//! (`domain::replay`): the bidders' own bids with what they asked for,
//! buy-nows, closes, cancels and voids from the events; ceiling raises and
//! bars from the private notes. Automatic bids, extensions, the `closed`
//! event of a buy-now and `repriced` events are consequences and are not
//! entries.

use crate::domain::{Entry, Money};
use crate::store::{StoredEvent, StoredNote};

/// Why a stored log cannot be read as entries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {problem}")]
pub struct LogError {
    pub seq: i64,
    pub problem: String,
}

fn broken(seq: i64, problem: impl Into<String>) -> LogError {
    LogError {
        seq,
        problem: problem.into(),
    }
}

/// The request behind a bidder's own bid event: `(amount, max_amount,
/// raise)`. A leader's request (a raise of their maximum, which lifted the
/// price to the reserve) keeps only its maximum (`req_amount` NULL). Rows
/// from before migration 0003 kept neither: the recorded amount stands in
/// for the amount and the recorded ceiling for the maximum.
fn request_of(event: &StoredEvent, amount: Money, ceiling: Money) -> (Money, Option<Money>, bool) {
    match (event.req_amount, event.req_max) {
        (Some(asked), max) => (asked, max, false),
        (None, Some(max)) => (max, Some(max), true),
        (None, None) => (amount, (ceiling > amount).then_some(ceiling), false),
    }
}

fn parse_data(event: &StoredEvent) -> Result<serde_json::Value, LogError> {
    serde_json::from_str(&event.data).map_err(|_| broken(event.seq, "unreadable event data"))
}

/// One event's entry, if it is a decision (not a consequence).
fn event_entry(
    event: &StoredEvent,
    previous: Option<&StoredEvent>,
) -> Result<Option<Entry>, LogError> {
    let seq = event.seq;
    let entry = match event.name.as_str() {
        "bid" => {
            let bidder = event
                .bidder
                .ok_or_else(|| broken(seq, "a bid without a bidder"))?;
            let amount = event
                .amount
                .ok_or_else(|| broken(seq, "a bid without an amount"))?;
            match event.bid_kind.as_deref() {
                Some("bid") => {
                    let ceiling = event.ceiling.unwrap_or(amount);
                    let (amount, max_amount, raise) = request_of(event, amount, ceiling);
                    Some(Entry::Bid {
                        seq: Some(seq),
                        bidder,
                        amount,
                        max_amount,
                        raise,
                        at: event.at,
                    })
                }
                Some("buy_now") => Some(Entry::BuyNow {
                    seq,
                    buyer: bidder,
                    at: event.at,
                }),
                Some("auto") => None,
                other => return Err(broken(seq, format!("unknown bid kind {other:?}"))),
            }
        }
        "closed" => {
            let data = parse_data(event)?;
            let after_buy_now = previous.is_some_and(|p| {
                p.name == "bid" && p.bid_kind.as_deref() == Some("buy_now") && p.seq + 1 == seq
            });
            if let Some(reason) = data["withdrawn"]["reason"].as_str() {
                Some(Entry::Withdraw {
                    reason: reason.to_string(),
                    at: event.at,
                })
            } else {
                (!after_buy_now).then_some(Entry::Close { at: event.at })
            }
        }
        "extended" => {
            let data = parse_data(event)?;
            data["extended_by_secs"]
                .as_i64()
                .map(|secs| Entry::Extend { secs, at: event.at })
        }
        "paused" => Some(Entry::Pause { at: event.at }),
        "resumed" => Some(Entry::Resume { at: event.at }),
        "cancelled" => Some(Entry::Cancel { at: event.at }),
        "voided" => {
            let data: serde_json::Value = serde_json::from_str(&event.data)
                .map_err(|_| broken(seq, "unreadable event data"))?;
            let seqs = data["voided"]["seqs"]
                .as_array()
                .ok_or_else(|| broken(seq, "a void without seqs"))?
                .iter()
                .map(|value| {
                    value
                        .as_i64()
                        .ok_or_else(|| broken(seq, "a voided seq that is not a number"))
                })
                .collect::<Result<Vec<i64>, LogError>>()?;
            let reason = data["voided"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            Some(Entry::Void {
                seq,
                seqs,
                user: event.bidder,
                reason,
                at: event.at,
            })
        }
        "repriced" => None,
        other => return Err(broken(seq, format!("unknown event kind {other:?}"))),
    };
    Ok(entry)
}

fn note_entry(note: &StoredNote) -> Result<Entry, LogError> {
    match note.kind.as_str() {
        "ceiling" => {
            let max = note
                .max_amount
                .ok_or_else(|| broken(note.after_seq, "a ceiling note without a maximum"))?;
            Ok(Entry::Bid {
                seq: None,
                bidder: note.bidder,
                amount: max,
                max_amount: Some(max),
                raise: true,
                at: note.at,
            })
        }
        "barred" => Ok(Entry::Bar {
            user: note.bidder,
            at: note.at,
        }),
        other => Err(broken(
            note.after_seq,
            format!("unknown note kind {other:?}"),
        )),
    }
}

/// The entries of a log: events in seq order, each note right after the
/// event it followed (`after_seq`), notes after one event in `n` order.
pub fn entries(events: &[StoredEvent], notes: &[StoredNote]) -> Result<Vec<Entry>, LogError> {
    let mut notes = notes.iter().peekable();
    let mut out = Vec::with_capacity(events.len());
    // Notes decided before the first event (after seq 0).
    while let Some(note) = notes.next_if(|note| note.after_seq == 0) {
        out.push(note_entry(note)?);
    }
    let mut previous: Option<&StoredEvent> = None;
    for event in events {
        if let Some(entry) = event_entry(event, previous)? {
            out.push(entry);
        }
        while let Some(note) = notes.next_if(|note| note.after_seq <= event.seq) {
            if note.after_seq < event.seq {
                return Err(broken(note.after_seq, "a note out of order"));
            }
            out.push(note_entry(note)?);
        }
        previous = Some(event);
    }
    if let Some(note) = notes.next() {
        return Err(broken(note.after_seq, "a note after the last event"));
    }
    Ok(out)
}
