-- Gavel schema (SQLite). Ids are UUID strings, times are Unix
-- milliseconds (UTC), money is INTEGER minor units.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CONSTRAINT users_role_check CHECK (role IN ('bidder', 'admin')),
    banned        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE auctions (
    id                 TEXT PRIMARY KEY,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    currency           TEXT NOT NULL,
    starting_price     INTEGER NOT NULL,
    reserve_price      INTEGER,
    buy_now_price      INTEGER,
    starts_at          INTEGER NOT NULL,
    ends_at            INTEGER NOT NULL,
    extend_window_secs INTEGER NOT NULL,
    increments         TEXT NOT NULL,
    status             TEXT NOT NULL CONSTRAINT auctions_status_check
                           CHECK (status IN ('live', 'closed', 'cancelled')),
    price              INTEGER NOT NULL,
    leader_id          TEXT,
    leader_ceiling     INTEGER,
    bid_count          INTEGER NOT NULL DEFAULT 0,
    seq                INTEGER NOT NULL DEFAULT 0,
    winner_id          TEXT,
    epoch              INTEGER NOT NULL DEFAULT 0,
    created_by         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX auctions_status_ends_idx ON auctions (status, ends_at);

CREATE TABLE auction_events (
    auction_id TEXT NOT NULL REFERENCES auctions (id),
    seq        INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    bidder_id  TEXT,
    amount     INTEGER,
    bid_kind   TEXT,
    ceiling    INTEGER,
    data       TEXT NOT NULL,
    CONSTRAINT auction_events_pkey PRIMARY KEY (auction_id, seq)
);
CREATE INDEX auction_events_bidder_idx ON auction_events (bidder_id, auction_id);

CREATE TABLE bid_requests (
    auction_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT bid_requests_pkey PRIMARY KEY (auction_id, user_id, request_id)
);

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
