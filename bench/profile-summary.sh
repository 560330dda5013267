#!/usr/bin/env bash
# Usage: bench/profile-summary.sh <dir written by bench/profile-relay.sh>
# Summarise a relay perf profile: self share by DSO, and inclusive shares of chosen frames.
d=$1
echo "## self by dso"; perf report -i $d/perf.data --no-children --sort dso -g none --stdio 2>/dev/null | grep "%" | head -8
echo "## self top symbols"; perf report -i $d/perf.data --no-children --sort symbol -g none --stdio 2>/dev/null | grep "%" | head -12 | cut -c1-160
echo "## inclusive"; perf report -i $d/perf.data --children --sort symbol -g none --stdio 2>/dev/null > $d/children.txt
for p in "BasicPublishAsync" "PostgreSqlOutboxStore+<ClaimAsync>" "PostgreSqlOutboxStore+<SettleAsync>" "sched_yield" "Npgsql.Internal.NpgsqlReadBuffer" "SslStream" "GarbageCollect\|gc_heap::garbage_collect" "SemaphoreSlim"; do
  line=$(grep -m1 -- "$p" $d/children.txt | cut -c1-170); echo "$p => $line"; done
