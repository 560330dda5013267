#!/usr/bin/env bash
# README smoke test: runs exactly the first command of apps/Postbox.Service/README.md (the out-of-the-box run) on its
# default port, waits until it answers, sends the README's curl, checks the 202 and that the mail reaches "sent", then
# stops the service with SIGTERM and checks it exits cleanly. The two commands are checked to appear verbatim in the
# README, so the README cannot drift from what this script runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Checked in both READMEs: the top-level one is what a new user reads first.
readmes=(README.md apps/Postbox.Service/README.md)
run_cmd="dotnet run --project apps/Postbox.Service -- all"
send_cmd="curl -i http://localhost:3080/api/mail/send -H 'Content-Type: application/json' -d '{\"from\":\"from@example.com\",\"to\":[\"to@example.com\"],\"subject\":\"Test Subject\",\"content\":\"some content\"}'"
for readme in "${readmes[@]}"; do
  for cmd in "$run_cmd" "$send_cmd"; do
    grep -qxF "$cmd" "$readme" || { echo "readme-smoke: $readme no longer shows: $cmd" >&2; exit 1; }
  done
done

# Build output goes to a private folder: MSBuild takes ArtifactsPath from the environment, so the command stays verbatim.
export ArtifactsPath="${POSTBOX_SMOKE_ARTIFACTS:-/tmp/art-readme-smoke}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if curl -s -o /dev/null --max-time 2 http://localhost:3080/health; then
  echo "readme-smoke: something already answers on port 3080; stop it first" >&2
  exit 1
fi

log=$(mktemp)
app_pid=""
echo "readme-smoke: $run_cmd"
eval "$run_cmd" >"$log" 2>&1 &
run_pid=$!
cleanup() {
  if [ -n "$app_pid" ] && kill -0 "$app_pid" 2>/dev/null; then kill -TERM "$app_pid" 2>/dev/null || true; fi
  if kill -0 "$run_pid" 2>/dev/null; then kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; fi
  rm -f "$log"
}
trap cleanup EXIT

# The first run builds the app; allow for it.
for _ in $(seq 1 600); do
  curl -s -o /dev/null --max-time 2 http://localhost:3080/health && break
  kill -0 "$run_pid" 2>/dev/null || { echo "readme-smoke: the service exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.5
done
curl -s -o /dev/null --max-time 2 http://localhost:3080/health || { echo "readme-smoke: the service did not answer:" >&2; cat "$log" >&2; exit 1; }
app_pid=$(grep -o 'Postbox service (all, pid [0-9]*' "$log" | grep -o '[0-9]*$' | head -1)
[ -n "$app_pid" ] || { echo "readme-smoke: no start-up banner:" >&2; cat "$log" >&2; exit 1; }

echo "readme-smoke: $send_cmd"
response=$(eval "$send_cmd")
echo "$response"
echo "$response" | head -1 | grep -q ' 202' || { echo "readme-smoke: expected 202" >&2; cat "$log" >&2; exit 1; }
id=$(echo "$response" | grep -o '"id": *"[0-9a-f-]*"' | grep -o '[0-9a-f-]\{36\}')

status=""
for _ in $(seq 1 120); do
  status=$(curl -s "http://localhost:3080/api/mail/$id" | grep -o '"status": *"[a-z]*"' | grep -o '[a-z]*"$' | tr -d '"')
  [ "$status" = sent ] && break
  sleep 0.5
done
[ "$status" = sent ] || { echo "readme-smoke: mail $id is '$status', expected sent" >&2; cat "$log" >&2; exit 1; }
echo "readme-smoke: mail $id is sent"

kill -TERM "$app_pid"
set +e
wait "$run_pid"
code=$?
set -e
[ "$code" = 0 ] || { echo "readme-smoke: the service exited with $code after SIGTERM" >&2; cat "$log" >&2; exit 1; }
echo "readme-smoke: stopped cleanly with SIGTERM"
