#!/usr/bin/env bash
# Creates (once) and starts a private PostgreSQL 15 cluster on 127.0.0.1:PORT that a test or the fault command may
# stop and restart without touching the shared cluster on 5432. Idempotent. Usage: scripts/private-postgres.sh NAME PORT
# Connection: Host=127.0.0.1;Port=PORT;Username=postgres;Password=postgres. Stop: pg_ctlcluster 15 NAME stop
set -euo pipefail
name=$1; port=$2
if ! pg_lsclusters -h 2>/dev/null | awk '{print $2}' | grep -qx "$name"; then
  pg_createcluster 15 "$name" --port "$port" >/dev/null
fi
conf=/etc/postgresql/15/$name/postgresql.conf
grep -q "^listen_addresses = '127.0.0.1'" "$conf" || echo "listen_addresses = '127.0.0.1'" >> "$conf"
grep -q '^max_connections = 200' "$conf" || echo "max_connections = 200" >> "$conf"
pg_isready -h 127.0.0.1 -p "$port" -q || pg_ctlcluster 15 "$name" start || true
for _ in $(seq 1 60); do pg_isready -h 127.0.0.1 -p "$port" -q && break; sleep 0.5; done
pg_isready -h 127.0.0.1 -p "$port" -q || { echo "private-postgres: $name on $port did not start" >&2; exit 1; }
runuser -u postgres -- psql -p "$port" -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
