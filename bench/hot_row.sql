-- One bid per transaction against one hot auction row: the design group
-- commit replaces. Run by bench/pgbench-baseline.sh.
BEGIN;
UPDATE bench_auction SET price = price + 1, seq = seq + 1 WHERE id = 1;
INSERT INTO bench_events (auction_id, amount) VALUES (1, :client_id);
COMMIT;
