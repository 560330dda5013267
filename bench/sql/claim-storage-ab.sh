#!/usr/bin/env bash
# A/B of what a drain leaves in the outbox table, SQL only (no relay, no broker): the current claim (an UPDATE to
# in flight, then a DELETE on confirm) against a claim that only row-locks the batch (SELECT … FOR UPDATE SKIP LOCKED
# in a transaction held until the settle, then DELETE). Same table shape (Postbox's migrations), same backlog, same
# batch size. Prints size before/after, dead tuples, and the server-side time of each drain.
# Usage: bench/sql/claim-storage-ab.sh [messages=300000] [batch=500]
set -euo pipefail
N=${1:-300000}
B=${2:-500}
. "$(dirname "$0")/common.sh"

prepare() { # $1 schema
  outbox_schema "$1"
  "${PSQL[@]}" -c "INSERT INTO $1.outbox (id, state, topic, type, payload, headers, created_at, available_at)
    SELECT gen_random_uuid(), 0, 'bench', 'BenchEvent', convert_to(rpad('{\"orderId\":12345,\"note\":\"', 254, 'x') || '\"}', 'UTF8'),
           '{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}'::jsonb, now(), now()
    FROM generate_series(1, $N);"
  "${PSQL[@]}" -c "VACUUM (ANALYZE) $1.outbox;"
}

size() { "${PSQL[@]}" -c "SELECT pg_size_pretty(pg_total_relation_size('$1.outbox')) || ' (' || pg_total_relation_size('$1.outbox') || ' B), heap ' || pg_size_pretty(pg_relation_size('$1.outbox'))"; }

# The drain, one transaction per batch, as procedures so the loop runs server-side.
"${PSQL[@]}" <<SQL
CREATE OR REPLACE PROCEDURE public.ab_drain_update(s text, b int) LANGUAGE plpgsql AS \$\$
DECLARE ids uuid[];
BEGIN
  LOOP
    -- Claim as Postbox does today: the rows become in flight (a new row version each).
    EXECUTE format('WITH u AS (UPDATE %I.outbox o SET state = 3, lease_owner = ''relay-1'', available_at = now() + interval ''1 min'', last_attempt_at = now()
                    WHERE o.id IN (SELECT id FROM %I.outbox WHERE state = 0 AND key IS NULL ORDER BY seq LIMIT %s) RETURNING o.id) SELECT array_agg(id) FROM u', s, s, b)
      INTO ids;
    EXIT WHEN ids IS NULL;
    COMMIT;
    -- Settle: delete on confirm (the default).
    EXECUTE format('DELETE FROM %I.outbox WHERE id = ANY(\$1) AND state = 3 AND lease_owner = ''relay-1''', s) USING ids;
    COMMIT;
  END LOOP;
END \$\$;
CREATE OR REPLACE PROCEDURE public.ab_drain_lock(s text, b int) LANGUAGE plpgsql AS \$\$
DECLARE ids uuid[];
BEGIN
  LOOP
    -- Claim by row locks held in the batch's transaction: nothing is written into the row but its lock.
    EXECUTE format('SELECT array_agg(id) FROM (SELECT id FROM %I.outbox WHERE state = 0 AND key IS NULL ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED) c', s, b) INTO ids;
    EXIT WHEN ids IS NULL;
    -- (publish and confirms would happen here, the transaction open)
    EXECUTE format('DELETE FROM %I.outbox WHERE id = ANY(\$1)', s) USING ids;
    COMMIT;
  END LOOP;
END \$\$;
SQL

for variant in update lock; do
  s=ab_$variant
  prepare $s
  before=$(size $s)
  start=$(date +%s.%N)
  "${PSQL[@]}" -c "CALL public.ab_drain_$variant('$s', $B)"
  end=$(date +%s.%N)
  after=$(size $s)
  dead=$("${PSQL[@]}" -c "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = '$s.outbox'::regclass")
  printf '%-7s %s messages, batch %s: before %s -> after %s; %s dead tuples (pg_stat); drain %.1f s server-side (%.0f msg/s)\n' \
    "$variant" "$N" "$B" "$before" "$after" "$dead" "$(echo "$end - $start" | bc)" "$(echo "$N / ($end - $start)" | bc -l)"
  "${PSQL[@]}" -c "DROP SCHEMA $s CASCADE"
done
"${PSQL[@]}" -c "DROP PROCEDURE public.ab_drain_update(text, int); DROP PROCEDURE public.ab_drain_lock(text, int);"
