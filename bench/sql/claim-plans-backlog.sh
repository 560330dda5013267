#!/usr/bin/env bash
# Creates schema explain_g (Postbox migrations) holding ROWS ready messages over KEYS keys (0 = keyless), analyzed.
# Usage: bench/sql/claim-plans-backlog.sh ROWS KEYS
# $1 rows, $2 keys (0 = keyless)
set -euo pipefail
export PGPASSWORD=postgres
PSQL=(psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
s=explain_g
"${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $s CASCADE; CREATE SCHEMA $s;" 2>/dev/null
for f in $(cd "$(dirname "$0")/../.." && pwd)/src/Postbox.PostgreSql/Migrations/*.up.sql; do sed "s/{schema}/$s/g" "$f" | "${PSQL[@]}"; done
"${PSQL[@]}" -c "INSERT INTO $s.outbox (id, state, topic, key, type, payload, created_at, available_at) SELECT gen_random_uuid(), 0, 't', CASE WHEN $2 > 0 THEN 'k' || (g % $2) END, 'x', '\\x00', now(), now() FROM generate_series(1, $1) g;"; "${PSQL[@]}" -c "VACUUM ANALYZE $s.outbox;"
