#!/usr/bin/env bash
# The whole test suite: installs and starts PostgreSQL, RabbitMQ and the SMTP test server's package when
# they are missing (scripts/services.sh), waits until they answer, then builds once and runs every test
# project. Idempotent: works on a fresh machine and on one where the servers already run.
# Usage: scripts/test.sh [extra dotnet test arguments, e.g. --filter Relay]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh

export POSTBOX_TEST_POSTGRES="${POSTBOX_TEST_POSTGRES:-Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres}"
export POSTBOX_TEST_RABBITMQ="${POSTBOX_TEST_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"
export POSTBOX_TEST_MYSQL="${POSTBOX_TEST_MYSQL:-Server=127.0.0.1;Port=3306;User ID=postbox;Password=postbox;GuidFormat=Binary16}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

dotnet build Postbox.slnx -c Release -warnaserror -nologo -clp:NoSummary

# Test projects run one after another (-m:1): several of them stop and restart the shared RabbitMQ
# broker on purpose, which must not happen under another project's feet. Tests inside a project still
# run in parallel.
log=$(mktemp)
status=0
dotnet test Postbox.slnx -c Release --no-build -m:1 --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?

# One plain closing line with the totals of every project (from each run's "Passed: N" summary lines).
# Each failed test's name and error message are repeated here, at the end, because CI keeps only the tail of
# the output.
awk '/^ +Passed: [0-9]+ *$/ { p += $2 } /^ +Failed: [0-9]+ *$/ { f += $2 } /^ +Skipped: [0-9]+ *$/ { s += $2 }
     /^ +Failed [^ ]/ { keep = 1; shown = 0; failures = failures "\n" $0; next }
     keep && /^ +(Stack Trace:|Standard Output Messages:|Passed |Failed |Skipped )/ { keep = 0 }
     keep && shown < 12 { failures = failures "\n" $0; shown++ }
     END { if (failures != "") printf "Failed tests:%s\n", failures
           printf "Tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
[ "$status" -eq 0 ] || exit "$status"

# The README's first command, run exactly as written, answers the README's curl.
bash scripts/readme-smoke.sh


# The small fault-injection run (issue 11): the production shape on private servers, kill -9 of the relay (10x) and a
# worker, RabbitMQ and PostgreSQL restarts, an SMTP outage; exits non-zero on any lost, duplicated or stuck mail.
bash scripts/faults.sh --small --no-build
