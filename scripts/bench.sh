#!/usr/bin/env bash
# Runs a bench scenario against one real node process (Release build) and the Redis Cluster of
# scripts/services.sh, reporting the CPU of the node and of every Redis server.
#
#   scripts/bench.sh direct [--pairs 1000 --window 10 --duration 20s | --rate 5000 ...]
#   scripts/bench.sh idle [--connections 10000]
#
# Starts Redis if it is not running (and stops it again), starts the node on 127.0.0.1:8090, stops it at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERVICES=$ROOT/scripts/services.sh
scenario=${1:?usage: scripts/bench.sh direct|idle [bench options]}
shift

started_redis=0
if ! "$SERVICES" is-running redis; then
    "$SERVICES" start redis
    started_redis=1
fi
eval "$("$SERVICES" env)"

node_pid=""
cleanup() {
    if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill -TERM "$node_pid"
        wait "$node_pid" 2>/dev/null || true
    fi
    if ((started_redis)); then "$SERVICES" stop redis || true; fi
}
trap cleanup EXIT

dotnet build ChatNode -c Release --nologo -v quiet
dotnet build LoadTests -c Release --nologo -v quiet

CHATNODE_SECRET=bench-secret-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
export CHATNODE_SECRET
mkdir -p "$CHATNODE_BUILD/bench"
# The load generator opens thousands of sockets; the node too. 20,000 is this machine's hard limit.
ulimit -n "$(ulimit -Hn)"
dotnet ChatNode/bin/Release/net10.0/ChatNode.dll serve --Node:Listen=http://127.0.0.1:8090 \
    --Logging:LogLevel:Default=Warning >"$CHATNODE_BUILD/bench/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:8090/readyz >/dev/null && break
    sleep 0.1
done
curl -sf http://127.0.0.1:8090/readyz >/dev/null || { echo "bench: node did not become ready"; cat "$CHATNODE_BUILD/bench/node.log"; exit 1; }

redis_pids=$(cat "$CHATNODE_BUILD"/redis/*/redis.pid 2>/dev/null | paste -sd, -)
dotnet LoadTests/bin/Release/net10.0/ChatNode.LoadTests.dll bench "$scenario" \
    --url ws://127.0.0.1:8090/ws --watch-pids "$node_pid,$redis_pids" "$@"
