#!/usr/bin/env bash
# What holding idle connections costs: the node's CPU (share of one core) and the Redis servers', read from /proc
# over a window that starts once every connection is open, and the node's RSS.
#
#   scripts/bench-idle.sh [CONNECTIONS=19000] [WINDOW_SECONDS=120] [load tool options...]
#   Node__KeepAliveInterval=00:01:00 scripts/bench-idle.sh 19000 120 --keep-alive 60s    longer keep-alives on both ends
#
# Runs scripts/bench.sh idle (one node, the load tool holding the connections) and samples it meanwhile; the node
# takes its settings from the environment as usual.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
connections=${1:-19000}
window=${2:-120}
shift $(($# < 2 ? $# : 2))
log=$ROOT/build/load-results/bench-idle.log
mkdir -p "$(dirname "$log")"
scripts/bench.sh idle --connections "$connections" --connect-rate 1000 --duration $((window + 45))s --out build/load-results/bench-idle "$@" > "$log" 2>&1 &
bench=$!
trap 'wait "$bench" || true' EXIT

shown=$(echo "$connections" | sed -E ':a;s/([0-9])([0-9]{3})($|,)/\1,\2\3/;ta')   # as the load tool prints it
for _ in $(seq 900); do
    grep -q "connected *$shown " "$log" 2>/dev/null && break
    kill -0 "$bench" 2>/dev/null || { echo "bench-idle: the bench ended early; see $log" >&2; exit 1; }
    sleep 1
done
sleep 15   # connects settled: replays done, first sweeps past

node=$(ss -ltnpH 'sport = :8090' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
redis=$(pgrep -f "redis-server 127.0.0.1:71" | tr '\n' ' ')
ticks() { local sum=0; for pid in "$@"; do sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$sum"; }
node0=$(ticks "$node"); redis0=$(ticks $redis)
sleep "$window"
node1=$(ticks "$node"); redis1=$(ticks $redis)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$node/status")
hz=$(getconf CLK_TCK)
awk -v n=$((node1 - node0)) -v r=$((redis1 - redis0)) -v hz="$hz" -v w="$window" -v c="$connections" -v rss="$rss" 'BEGIN {
    printf "holding %d idle connections for %d s: node %.1f %% of a core, Redis %.1f %%, node RSS %.0f MiB\n", c, w, 100 * n / hz / w, 100 * r / hz / w, rss / 1024 }'
