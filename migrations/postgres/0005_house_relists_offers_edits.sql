-- Relisting, second-chance offers and lot edits (issue 13), and audit lookups.

-- Relisting: an unsold lot relisted as a new lot linked to it.
-- One row per relisted lot: a lot is relisted at most once (the primary
-- key), and a new lot comes from at most one old lot.
CREATE TABLE relists (
    auction_id   TEXT PRIMARY KEY REFERENCES auctions (id),
    relisted_as  TEXT NOT NULL UNIQUE REFERENCES auctions (id),
    at           BIGINT NOT NULL,
    by_user      TEXT NOT NULL REFERENCES users (id)
);

-- Second-chance offers (issue 13): after a reserve-not-met close, the
-- house may offer the lot to its highest bidder at their highest bid, to
-- accept or decline until expires_at. One offer per lot. An open offer
-- past expires_at has expired (no row changes at expiry).
CREATE TABLE second_chance_offers (
    auction_id  TEXT PRIMARY KEY REFERENCES auctions (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    amount      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES users (id),
    status      TEXT NOT NULL CONSTRAINT second_chance_status_check
                CHECK (status IN ('open', 'accepted', 'declined')),
    decided_at  BIGINT
);
CREATE INDEX second_chance_offers_user_idx ON second_chance_offers (user_id, created_at);

-- Edits of a lot's details (issue 13): one row per edit, so a lot can say
-- it was edited and when (what changed is in the audit log).
CREATE TABLE lot_edits (
    auction_id  TEXT NOT NULL REFERENCES auctions (id),
    at          BIGINT NOT NULL
);
CREATE INDEX lot_edits_auction_idx ON lot_edits (auction_id, at);

-- The audit log is read by lot (or user) and by admin, newest first.
CREATE INDEX audit_log_target_idx ON audit_log (target, at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);
