#!/usr/bin/env bash
# Creates (once) and starts a private PostgreSQL cluster (15 by default) on 127.0.0.1:PORT that a test or the fault command may
# stop and restart without touching the shared cluster on 5432. Idempotent, and repairs a cluster of that name whose
# settings are missing or wrong (the settings are appended, and the last occurrence wins).
# Usage: scripts/private-postgres.sh NAME PORT [VERSION, default 15]
# Connection: Host=127.0.0.1;Port=PORT;Username=postgres;Password=postgres. Stop: pg_ctlcluster VERSION NAME stop
set -euo pipefail
name=$1; port=$2; version=${3:-15}
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v {print $2}' | grep -qx "$name"; then
  pg_createcluster "$version" "$name" --port "$port" >/dev/null
fi
conf=/etc/postgresql/$version/$name/postgresql.conf
grep -q "^listen_addresses = '127.0.0.1'" "$conf" || echo "listen_addresses = '127.0.0.1'" >> "$conf"
grep -q '^max_connections = 200' "$conf" || echo "max_connections = 200" >> "$conf"
pg_isready -h 127.0.0.1 -p "$port" -q || pg_ctlcluster "$version" "$name" start || true
for _ in $(seq 1 60); do pg_isready -h 127.0.0.1 -p "$port" -q && break; sleep 0.5; done
if ! pg_isready -h 127.0.0.1 -p "$port" -q; then
  echo "private-postgres: $version/$name on $port did not start; the end of its log:" >&2
  tail -n 20 "/var/log/postgresql/postgresql-$version-$name.log" >&2 || true
  exit 1
fi
runuser -u postgres -- psql -p "$port" -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
