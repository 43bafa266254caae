-- The actual close time (issue 12, bug 4): a lot that ends early (buy now,
-- an admin's close, a withdrawal, a cancellation) ends before its planned
-- `ends_at`. NULL while the auction is live. See docs/api.md, Snapshot.
ALTER TABLE auctions ADD COLUMN closed_at INTEGER;
-- Existing ended auctions: the time of their last closing event, or their
-- planned end when no such event is stored.
UPDATE auctions SET closed_at = COALESCE(
       (SELECT MAX(e.at) FROM auction_events e
         WHERE e.auction_id = auctions.id
           AND e.kind IN ('closed', 'cancelled', 'withdrawn')),
       ends_at)
 WHERE status <> 'live';
