#!/usr/bin/env bash
# Planning vs execution of the prepared claim, custom vs generic plan, 8 executions each, on schema explain_g
# (fill it first with bench/sql/claim-plans-backlog.sh ROWS KEYS). Figures in bench/README.md, session 20.
set -euo pipefail
export PGPASSWORD=postgres
s=explain_g
sql=$(dotnet $(cd "$(dirname "$0")/../.." && pwd)/artifacts/bin/Postbox.Bench/release/Postbox.Bench.dll claim-sql $s)
for mode in force_custom_plan force_generic_plan auto; do
  { echo "SET jit = off; SET plan_cache_mode = $mode; PREPARE c(text, int, timestamptz, timestamptz, text) AS $sql;"
    for i in 1 2 3 4 5 6 7 8; do echo "BEGIN; EXPLAIN (ANALYZE, SUMMARY) EXECUTE c('relay-1', 500, now(), now() + interval '1 min', ''); ROLLBACK;"; done
  } > "${TMPDIR:-/tmp}/claim-plans.sql"
  psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA -f "${TMPDIR:-/tmp}/claim-plans.sql" | grep -E "Planning Time|Execution Time" | sed 's/ Time: /=/; s/ ms//' | tr '\n' ' '; echo " $mode"
done
