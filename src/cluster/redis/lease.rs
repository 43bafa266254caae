//! Ownership leases with fencing epochs.
//!
//! `{prefix}lease:{auction}` holds `node|epoch` with a TTL; it is taken with
//! `SET NX PX` after `INCR {prefix}epoch:{auction}` hands out a new epoch,
//! renewed by its holder well before expiry, and released on a clean stop.
//! Renewal and release check the holder atomically (Lua), so a node can
//! never extend or delete a lease that another node took over.

use redis::Script;

/// Renews the lease if we still hold it: 1 on success, 0 when lost.
pub fn renew_script() -> Script {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
              return redis.call('PEXPIRE', KEYS[1], ARGV[2])
          else
              return 0
          end",
    )
}

/// Deletes the lease if we still hold it.
pub fn release_script() -> Script {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then
              return redis.call('DEL', KEYS[1])
          else
              return 0
          end",
    )
}

/// The value stored in a lease key.
pub fn lease_value(node: &str, epoch: i64) -> String {
    format!("{node}|{epoch}")
}

/// The node named in a lease value.
pub fn lease_holder(value: &str) -> &str {
    value.rsplit_once('|').map_or(value, |(node, _)| node)
}

/// Outcome of trying to take a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// We hold it now, with this fencing epoch.
    Acquired { epoch: i64 },
    /// Another node (or this one, from before) holds it.
    HeldBy { node: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_values_name_their_holder() {
        let value = lease_value("node-a", 42);
        assert_eq!(value, "node-a|42");
        assert_eq!(lease_holder(&value), "node-a");
        assert_eq!(lease_holder("odd|name|7"), "odd|name");
    }
}
