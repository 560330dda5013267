#!/usr/bin/env bash
# Fault-injection run of the reference service (issue 11, item 7). Starts a private PostgreSQL cluster, a private
# RabbitMQ node and an SMTP sink (none of them the shared servers), runs api, relay and two workers as processes,
# sends mails at a steady rate and injects, one after another: kill -9 of the relay (10x), kill -9 of a worker,
# a RabbitMQ restart, a PostgreSQL restart (10 s) and an SMTP outage (15 s). Prints one table (accepted, delivered,
# lost, duplicated, stuck, time to recover after each fault); exits 1 on any loss, duplicate or stuck mail, or a fault
# not recovered from within --recover-timeout (default 120 s, --small 60 s); exits 2 at once if its ports are taken.
# Usage: scripts/faults.sh [--small] [--no-build] [options of scripts/faults/faults.py, see --help]
#   full:  scripts/faults.sh                       (at least 50,000 mails at 200/s)
#   CI:    scripts/faults.sh --small               (at least 1,000 mails at 10/s, well under what a loaded CI machine drains,
#          so a fault's backlog drains and "recovered in" measures the fault; a short idle measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
args=() build=1
for a in "$@"; do
  case "$a" in
    --small) args+=(--mails 1000 --rate 10 --idle-seconds 10 --settle-seconds 15 --drain-timeout 120 --recover-timeout 60) ;;
    --no-build) build=0 ;;
    *) args+=("$a") ;;
  esac
done
command -v psql >/dev/null && command -v rabbitmq-server >/dev/null && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || bash scripts/services.sh
# Fail at once (exit 2, naming the port) when another cluster, node or program holds the private servers' ports.
/usr/bin/python3 scripts/faults/faults.py --check-ports "${args[@]}"
[ "$build" = 0 ] || dotnet build apps/Postbox.Service -c Release -nologo -clp:NoSummary -v:q
exec /usr/bin/python3 scripts/faults/faults.py "${args[@]}"
