-- The watchlist (issue 12): the lots a user watches. A row per (user,
-- lot); unwatching deletes it. See docs/api.md, HTML pages.
CREATE TABLE watchlist (
    user_id    TEXT NOT NULL REFERENCES users (id),
    auction_id TEXT NOT NULL REFERENCES auctions (id),
    created_at BIGINT NOT NULL,
    CONSTRAINT watchlist_pkey PRIMARY KEY (user_id, auction_id)
);
-- Watcher counts per lot.
CREATE INDEX watchlist_auction ON watchlist (auction_id);
