#!/usr/bin/env bash
# What one outbox row costs a producing transaction, SQL only (pgbench, no Postbox code): the business transaction
# (insert one order row) alone and with one more row of several shapes, 16 clients, synchronous commit, each
# transaction sent as one pipeline (one round trip, so the differences are the server's work, not the network's).
# Variants alternate in rounds so background noise hits all of them alike, each from empty tables; prints the median tx/s of each and its ratio
# to the plain transaction.
#   plain        INSERT order
#   minimal      + INSERT of (uuid primary key, topic, payload) into a table with only its primary key
#   postbox      + Postbox's own INSERT … ON CONFLICT (id) DO NOTHING into Postbox's outbox table (all its indexes)
#   no-conflict  the same without ON CONFLICT (speculative insertion skipped)
#   pk-only      Postbox's INSERT into a copy of its table with only the primary key (the partial indexes' share)
#   no-headers   postbox with headers NULL (no jsonb to parse and store)
#   no-seq       pk-only into a table without the seq identity column (no nextval per row)
#   notify       postbox + pg_notify in every transaction (Postbox coalesces to one per 5 ms per process)
# Usage: bench/sql/producer-row-ab.sh [seconds per variant per round=10] [rounds=3] [clients=16]
set -euo pipefail
T=${1:-10}
R=${2:-3}
C=${3:-16}
# Each must be a whole number in range: pgbench and the median below otherwise fail silently or on an unbound variable.
usage="usage: $0 [seconds per variant per round=10, 1-3600] [rounds=3, 1-100] [clients=16, 1-64]"
if (($# > 3)); then echo "$usage (got $# arguments)" >&2; exit 1; fi
for spec in "$T:3600" "$R:100" "$C:64"; do
  v=${spec%:*} max=${spec#*:}
  if ! [[ $v =~ ^[1-9][0-9]{0,4}$ ]] || ((v > max)); then
    echo "$usage (got '$v')" >&2
    exit 1
  fi
done
. "$(dirname "$0")/common.sh"
S=producer_ab
work=$(mktemp -d)
trap 'rm -rf "$work"; "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $S CASCADE; DROP SCHEMA IF EXISTS ${S}_pk CASCADE;" >/dev/null' EXIT

outbox_schema $S
outbox_schema ${S}_pk
"${PSQL[@]}" -c "DROP INDEX ${S}_pk.outbox_ready_idx, ${S}_pk.outbox_due_idx, ${S}_pk.outbox_key_pending_idx, ${S}_pk.outbox_key_dead_idx,
                   ${S}_pk.outbox_delivered_idx, ${S}_pk.outbox_dead_idx, ${S}_pk.outbox_pending_state_idx;"
# The same storage parameters (fill factor 85) and check constraint as the outbox, only without seq.
"${PSQL[@]}" -c "CREATE TABLE ${S}_pk.outbox_noseq (LIKE ${S}_pk.outbox INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (fillfactor = 85);
                 ALTER TABLE ${S}_pk.outbox_noseq DROP COLUMN seq, ADD PRIMARY KEY (id);"
"${PSQL[@]}" -c "CREATE TABLE $S.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer text NOT NULL, amount numeric(12,2) NOT NULL,
                   created_at timestamptz NOT NULL DEFAULT now());
                 CREATE TABLE $S.bare_outbox (id uuid PRIMARY KEY, topic text NOT NULL, payload bytea NOT NULL);"

order="INSERT INTO $S.orders (customer, amount) VALUES ('customer-42', 99.95);"
# Time-ordered ids, as Postbox writes them (UUIDv7 from the client): a random UUID would scatter every insert over the
# primary key and measure cache misses instead.
uuid7="(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7' || substr(md5(random()::text), 1, 3) || '8' || substr(md5(random()::text), 1, 15))::uuid"
payload="convert_to(rpad('{\"orderId\":12345,\"note\":\"', 254, 'x') || '\"}', 'UTF8')"
row() { # $1 schema, $2 suffix, $3 headers, $4 table
  echo "INSERT INTO $1.${4:-outbox} (id, state, topic, key, type, payload, headers, created_at, available_at, max_attempts)
  VALUES ($uuid7, 0, 'bench.orders', NULL, 'OrderPlaced', $payload,
          ${3:-'{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}'::jsonb}, now(), now(), NULL)$2;"
}
script() { # $1 name, rest: statements
  local name=$1; shift
  { echo '\startpipeline'; echo 'BEGIN;'; for s in "$@"; do echo "$s"; done; echo 'COMMIT;'; echo '\endpipeline'; } | tr '\n' ' ' \
    | sed 's/\\startpipeline /\\startpipeline\n/; s/ \\endpipeline/\n\\endpipeline\n/; s/; /;\n/g' > "$work/$name.sql"
}
script plain "$order"
script minimal "$order" "INSERT INTO $S.bare_outbox (id, topic, payload) VALUES ($uuid7, 'bench.orders', $payload);"
script postbox "$order" "$(row $S ' ON CONFLICT (id) DO NOTHING')"
script no-conflict "$order" "$(row $S '')"
script pk-only "$order" "$(row ${S}_pk ' ON CONFLICT (id) DO NOTHING')"
script no-headers "$order" "$(row $S ' ON CONFLICT (id) DO NOTHING' NULL)"
script no-seq "$order" "$(row ${S}_pk ' ON CONFLICT (id) DO NOTHING' '' outbox_noseq)"
script notify "$order" "$(row $S ' ON CONFLICT (id) DO NOTHING')" "SELECT pg_notify('producer_ab', '');"

variants=(plain minimal postbox no-conflict pk-only no-headers no-seq notify)
declare -A results
for ((round = 1; round <= R; round++)); do
  for v in "${variants[@]}"; do
    # Every variant starts from empty tables and a fresh checkpoint (the same full-page writes).
    "${PSQL[@]}" -c "TRUNCATE $S.orders, $S.bare_outbox, $S.outbox, ${S}_pk.outbox, ${S}_pk.outbox_noseq; CHECKPOINT;"
    out=$(pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "$C" -j 2 -T "$T" -f "$work/$v.sql" postgres 2>&1) || true
    tps=$(awk '/^tps = / {print $3; exit}' <<<"$out")
    if [[ -z $tps ]]; then
      echo "producer-row-ab: pgbench failed for variant $v:" >&2
      tail -n 5 <<<"$out" >&2
      exit 1
    fi
    results[$v]+="$tps "
    printf 'round %d/%d %-12s %8.0f tx/s\n' "$round" "$R" "$v" "$tps"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
plain=$(echo "${results[plain]}" | median)
echo
echo "| variant | tx/s (median of $R) | ratio to plain |"
echo "|---|---:|---:|"
for v in "${variants[@]}"; do
  m=$(echo "${results[$v]}" | median)
  printf '| %s | %.0f | %.2f |\n' "$v" "$m" "$(echo "$m / $plain" | bc -l)"
done
