# Sourced by the SQL-only experiments in this folder: psql against the local server as postgres, and the outbox table
# built from Postbox's own migrations (001 table, 003 key-head indexes, 005 the dashboard's state index).
export PGPASSWORD=${PGPASSWORD:-postgres} PGOPTIONS="-c client_min_messages=warning"
PSQL=(psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mig="$here/src/Postbox.PostgreSql/Migrations"

# outbox_schema NAME: (re)creates schema NAME holding Postbox's outbox table exactly as its migrations create it.
outbox_schema() {
  "${PSQL[@]}" -c "DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1;"
  for f in 001_outbox 003_key_heads 005_monitor_lists; do
    sed "s/{schema}/$1/g" "$mig/$f.up.sql" | "${PSQL[@]}"
  done
}
