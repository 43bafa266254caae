#!/usr/bin/env bash
# Baseline for the group-commit benchmark: how many "bids" per second
# PostgreSQL commits when every bid is its own transaction that updates one
# hot row and inserts one event (8 clients, default durability).
# Usage: bench/pgbench-baseline.sh [seconds]
set -euo pipefail
seconds=${1:-15}
db=gavel_pgbench
url=${GAVEL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
psql "$url" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
base=${url%/*}
psql "$base/$db" -q <<'SQL'
CREATE TABLE bench_auction (id BIGINT PRIMARY KEY, price BIGINT NOT NULL, seq BIGINT NOT NULL);
INSERT INTO bench_auction VALUES (1, 0, 0);
CREATE TABLE bench_events (id BIGSERIAL PRIMARY KEY, auction_id BIGINT NOT NULL, amount BIGINT NOT NULL);
SQL
pgbench -n -c 8 -j 2 -T "$seconds" -f "$(dirname "$0")/hot_row.sql" "$base/$db"
