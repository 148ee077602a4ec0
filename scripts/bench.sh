#!/usr/bin/env bash
# Runs a bench scenario against one real node process (Release build) and the Redis Cluster of
# scripts/services.sh, reporting the CPU of the node and of every Redis server.
#
#   scripts/bench.sh direct [--pairs 1000 --window 10 --duration 20s | --rate 5000 ...]
#   scripts/bench.sh idle [--connections 10000]
#   CHATNODE_BENCH_NODES=3 scripts/bench.sh direct ...     the same against a fleet of 3 nodes (etcd ring, peer streams)
#
# Starts Redis (and etcd for a fleet) if not running, and stops them again; starts the nodes on 127.0.0.1:8090..,
# stops them at the end. Clients connect to the first node and are redirected to the owners of their users.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERVICES=$ROOT/scripts/services.sh
scenario=${1:?usage: scripts/bench.sh direct|idle [bench options]}
shift

NODES=${CHATNODE_BENCH_NODES:-1}
started=()
for service in redis $( ((NODES > 1)) && echo etcd ); do
    if ! "$SERVICES" is-running "$service"; then
        "$SERVICES" start "$service"
        started+=("$service")
    fi
done
eval "$("$SERVICES" env)"

node_pids=()
cleanup() {
    for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for service in "${started[@]}"; do "$SERVICES" stop "$service" || true; done
}
trap cleanup EXIT

dotnet build ChatNode -c Release --nologo -v quiet
dotnet build LoadTests -c Release --nologo -v quiet

CHATNODE_SECRET=bench-secret-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
export CHATNODE_SECRET
CHATNODE_FLEET_SECRET=bench-fleet-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
export CHATNODE_FLEET_SECRET
mkdir -p "$CHATNODE_BUILD/bench"
# The load generator opens thousands of sockets; the node too. 20,000 is this machine's hard limit.
ulimit -n "$(ulimit -Hn)"
# A load user sends faster than any person: the per-user quota (Node:UserMessagesPerMinute) would cap the load.
# A single node runs alone even when CHATNODE_ETCD is set (it must not join a `make run` fleet).
registry="--Registry:Endpoints="
((NODES > 1)) && registry="--Registry:Endpoints=$CHATNODE_ETCD --Registry:Prefix=/chatnode-bench/$$/"
for i in $(seq 0 $((NODES - 1))); do
    # shellcheck disable=SC2086 # $registry is empty or two words on purpose
    dotnet ChatNode/bin/Release/net10.0/ChatNode.dll serve --Node:NodeId="bench-$i" \
        --Node:Listen="http://127.0.0.1:$((8090 + i))" --Node:PeerListen="http://127.0.0.1:$((9090 + i))" --Node:AdminListen="http://127.0.0.1:$((9190 + i))" $registry \
        --Node:UserMessagesPerMinute=1000000 --Node:UserMessagesPerDay=100000000 --Logging:LogLevel:Default=Warning >"$CHATNODE_BUILD/bench/node-$i.log" 2>&1 &
    node_pids+=($!)
done
for i in $(seq 0 $((NODES - 1))); do
    for _ in $(seq 150); do
        curl -sf "http://127.0.0.1:$((8090 + i))/readyz" >/dev/null && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$((8090 + i))/readyz" >/dev/null ||
        { echo "bench: node $i did not become ready"; cat "$CHATNODE_BUILD/bench/node-$i.log"; exit 1; }
done

redis_pids=$(cat "$CHATNODE_BUILD"/redis/*/redis.pid 2>/dev/null | paste -sd, -)
dotnet LoadTests/bin/Release/net10.0/ChatNode.LoadTests.dll "$([[ $scenario == idle ]] && echo connect || echo "$scenario")" \
    --url ws://127.0.0.1:8090/ws --watch-pids "$(IFS=,; echo "${node_pids[*]}"),$redis_pids" "$@"
