-- Relisting (issue 13): an unsold lot relisted as a new lot linked to it.
-- One row per relisted lot: a lot is relisted at most once (the primary
-- key), and a new lot comes from at most one old lot.
CREATE TABLE relists (
    auction_id   TEXT PRIMARY KEY REFERENCES auctions (id),
    relisted_as  TEXT NOT NULL UNIQUE REFERENCES auctions (id),
    at           INTEGER NOT NULL,
    by_user      TEXT NOT NULL REFERENCES users (id)
);

-- The audit log is read by lot (or user) and by admin, newest first.
CREATE INDEX audit_log_target_idx ON audit_log (target, at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);
