-- Secrets a server generates on its first start and keeps with its data,
-- so every node of a fleet (and every restart) uses the same ones: the key
-- of the bidder aliases (an HMAC key, hex).
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
