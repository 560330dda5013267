#!/usr/bin/env bash
# Installs (from Debian packages) and starts the servers the integration tests need, on 127.0.0.1 only:
# PostgreSQL 15, RabbitMQ, and (when asked) an aiosmtpd SMTP server and Chromium. Idempotent: whatever
# is already installed or running is left as it is. Source it or run it; it prints what it does.
set -euo pipefail

need_pkgs=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || need_pkgs+=(rabbitmq-server)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need_pkgs+=(python3-aiosmtpd)
if [ "${POSTBOX_NEED_CHROMIUM:-0}" = 1 ] && [ ! -x /usr/bin/chromium ]; then need_pkgs+=(chromium); fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "services: installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# PostgreSQL: one cluster on 127.0.0.1:5432, password auth for the postgres user.
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_lsclusters 2>/dev/null | grep -q '^15 *main' || pg_createcluster 15 main >/dev/null
  conf=/etc/postgresql/15/main/postgresql.conf
  # More connections than the default 100: tests run several relays and hosts in parallel.
  grep -q '^max_connections = 300' "$conf" || echo "max_connections = 300" >> "$conf"
  grep -q "^listen_addresses = '127.0.0.1'" "$conf" || echo "listen_addresses = '127.0.0.1'" >> "$conf"
  echo "services: starting PostgreSQL"
  pg_ctlcluster 15 main start || true
fi
for _ in $(seq 1 60); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "services: PostgreSQL did not start" >&2; exit 1; }
runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null

# RabbitMQ on 127.0.0.1:5672 (guest/guest is allowed on loopback).
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  echo "services: starting RabbitMQ"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_DIST_PORT=25672
  export ERL_EPMD_ADDRESS=127.0.0.1
  rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 1 120); do rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 && break; sleep 0.5; done
rabbitmqctl -q await_startup --timeout 5 >/dev/null 2>&1 || { echo "services: RabbitMQ did not start" >&2; exit 1; }

echo "services: PostgreSQL 127.0.0.1:5432 and RabbitMQ 127.0.0.1:5672 are up"
