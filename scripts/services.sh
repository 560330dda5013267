#!/usr/bin/env bash
# Installs (from Debian packages) and starts the servers the integration tests need, on 127.0.0.1 only:
# PostgreSQL 15, RabbitMQ, MariaDB 10.11 (for Postbox.MySql), and the aiosmtpd SMTP server and Chromium (for the dashboard's browser tests). Idempotent: whatever
# is already installed or running is left as it is. Source it or run it; it prints what it does.
set -euo pipefail

need_pkgs=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || need_pkgs+=(rabbitmq-server)
command -v mariadbd >/dev/null 2>&1 || need_pkgs+=(mariadb-server)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need_pkgs+=(python3-aiosmtpd)
# Chromium for the dashboard's browser tests (tests/Postbox.Dashboard.Tests drive /usr/bin/chromium through Playwright).
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)

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

# MariaDB on 127.0.0.1:3306 (no systemd here: mariadbd runs detached). The package's post-install initialises the
# data directory but starts nothing. Tests connect as postbox/postbox and create one database each.
if ! mariadb-admin -uroot ping >/dev/null 2>&1; then
  echo "services: starting MariaDB"
  install -d -o mysql -g mysql /run/mysqld /var/log/mysql
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  setsid nohup mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=127.0.0.1 --port=3306 \
    --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid --log-error=/var/log/mysql/error.log \
    --max-connections=500 </dev/null >/dev/null 2>&1 &
fi
for _ in $(seq 1 120); do mariadb-admin -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
mariadb-admin -uroot ping >/dev/null 2>&1 || { echo "services: MariaDB did not start" >&2; exit 1; }
mariadb -uroot -e "CREATE USER IF NOT EXISTS 'postbox'@'%' IDENTIFIED BY 'postbox';
  CREATE USER IF NOT EXISTS 'postbox'@'localhost' IDENTIFIED BY 'postbox';
  GRANT ALL ON *.* TO 'postbox'@'%'; GRANT ALL ON *.* TO 'postbox'@'localhost';"

echo "services: PostgreSQL 127.0.0.1:5432, RabbitMQ 127.0.0.1:5672 and MariaDB 127.0.0.1:3306 are up"
