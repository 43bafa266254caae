-- House controls (issue 13): voiding by replay, bans that void, the
-- hash-chained event log. See docs/design.md, "Voids and the replay" and
-- "The verifiable record".

-- The end an auction was created with, before soft-close extensions: a
-- replay starts from it. An auction never extended still has it; for one
-- that was, it is left NULL here and filled in when the store opens, from
-- the data of the event before the first extension (its `ends_at`).
ALTER TABLE auctions ADD COLUMN initial_ends_at INTEGER;
UPDATE auctions SET initial_ends_at = ends_at
 WHERE NOT EXISTS (SELECT 1 FROM auction_events e
                    WHERE e.auction_id = auctions.id AND e.kind = 'extended');
-- Bidders banned with their bids kept (a JSON array of user ids).
ALTER TABLE auctions ADD COLUMN barred TEXT NOT NULL DEFAULT '[]';
-- Since when an admin has paused the auction (NULL: not paused).
ALTER TABLE auctions ADD COLUMN paused_at INTEGER;
-- The hash of the auction's last event (hex SHA-256); '' until computed.
ALTER TABLE auctions ADD COLUMN head_hash TEXT NOT NULL DEFAULT '';

-- On a bidder's own bid: the amount and maximum they asked for.
ALTER TABLE auction_events ADD COLUMN req_amount INTEGER;
ALTER TABLE auction_events ADD COLUMN req_max INTEGER;
-- SHA-256 over the previous event's hash and this event's canonical bytes
-- (hex); NULL on rows from before this migration until the server fills it
-- in at start.
ALTER TABLE auction_events ADD COLUMN hash TEXT;

-- Private log entries that record no public event: a leader's ceiling
-- raise ('ceiling': the amount and maximum asked for) and a ban that kept
-- the bidder's bids ('barred'). Decided after event after_seq; n orders
-- the notes after one event.
CREATE TABLE auction_notes (
    auction_id TEXT NOT NULL REFERENCES auctions (id),
    after_seq  INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    kind       TEXT NOT NULL CONSTRAINT auction_notes_kind_check CHECK (kind IN ('ceiling', 'barred')),
    at         INTEGER NOT NULL,
    bidder_id  TEXT NOT NULL,
    amount     INTEGER,
    max_amount INTEGER,
    CONSTRAINT auction_notes_pkey PRIMARY KEY (auction_id, after_seq, n)
);

-- A leader's ceiling raise was not stored before this migration: where an
-- auction row's leader_ceiling is above the maximum of the leader's last
-- bid event, the raise came after every event that involved them, so it is
-- recorded as a note after the auction's last event.
INSERT INTO auction_notes (auction_id, after_seq, n, kind, at, bidder_id, amount, max_amount)
SELECT a.id, a.seq, a.updated_at * 1000, 'ceiling', a.updated_at, a.leader_id, NULL, a.leader_ceiling
  FROM auctions a
 WHERE a.leader_id IS NOT NULL
   AND a.leader_ceiling > COALESCE(
       (SELECT e.ceiling FROM auction_events e
         WHERE e.auction_id = a.id AND e.kind = 'bid' AND e.bidder_id = a.leader_id
         ORDER BY e.seq DESC LIMIT 1), 0);
