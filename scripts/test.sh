#!/usr/bin/env bash
# The whole test suite: installs and starts PostgreSQL and RabbitMQ when they are missing (see
# scripts/services.sh), waits until they answer, then runs every test project.
# Usage: scripts/test.sh [extra dotnet test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh

export POSTBOX_TEST_POSTGRES="${POSTBOX_TEST_POSTGRES:-Host=127.0.0.1;Port=5432;Username=postgres;Password=postgres;Database=postgres}"
export POSTBOX_TEST_RABBITMQ="${POSTBOX_TEST_RABBITMQ:-amqp://guest:guest@127.0.0.1:5672/}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

dotnet test Postbox.slnx -c Release --logger "console;verbosity=normal" "$@"
