#!/usr/bin/env bash
# Profile the relay child during a drain with perf (CPU samples; JIT frames through DOTNET_PerfMapEnabled's perf map).
out=${1:-/tmp/relay-profile}
mkdir -p $out
cd "$(dirname "$0")/.."
DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 dotnet artifacts/bin/Postbox.Bench/release/Postbox.Bench.dll --scenarios drain --drain-messages 400000 --drain-repeats 1 --no-write > $out/bench.out 2> $out/bench.err &
bench=$!
pid=""
for i in $(seq 1 900); do
  pid=$(pgrep -f "Postbox.Bench.dll relay" | head -1)
  [ -n "$pid" ] && break
  sleep 0.2
done
echo "relay pid $pid"
sleep ${PROFILE_DELAY:-8} # past start-up and the tier-up of hot methods (JIT) when larger
perf record -F 499 -g -p $pid -o $out/perf.data -- sleep 20 > $out/perf.log 2>&1
wait $bench
perf report -i $out/perf.data --no-children --sort symbol --stdio 2>/dev/null | grep -v "^$" | grep "%" | head -60 > $out/top-self.txt
perf report -i $out/perf.data --no-children --sort dso --stdio 2>/dev/null | grep "%" | head -20 > $out/top-dso.txt
echo done
