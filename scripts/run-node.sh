#!/usr/bin/env bash
# Builds ChatNode and runs a fleet of nodes (3 by default, CHATNODE_NODES) in the foreground against the services of scripts/services.sh
# (start them first: `make services`). Ctrl-C stops the node; the services keep running (`make stop`).
#
#   run-node.sh          build and run the fleet
#   run-node.sh stop     stop nodes started by this script (their pid files are in build/nodes/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(scripts/services.sh env)"
NODES=$CHATNODE_BUILD/nodes
DLL=ChatNode/bin/Release/net10.0/ChatNode.dll

# Only a live process that still runs ChatNode counts: pid files may be stale and pids get reused.
node_alive() {
    [[ $1 =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q ChatNode.dll
}

stop_nodes() {
    local f pid stopped=0
    for f in "$NODES"/*.pid; do
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        if node_alive "$pid"; then
            kill -TERM "$pid"
            # Graceful shutdown drains clients; give it time before forcing.
            for _ in $(seq 300); do node_alive "$pid" || break; sleep 0.1; done
            if node_alive "$pid"; then kill -KILL "$pid"; fi
            stopped=$((stopped + 1))
        fi
        rm -f "$f"
    done
    echo "run-node: stopped $stopped node(s)"
}

if [[ ${1:-} == stop ]]; then stop_nodes; exit 0; fi

# One dev secret per build tree, so tokens minted earlier keep working across restarts; the fleet secret (peer streams,
# drain) is another.
if [[ ! -s $CHATNODE_BUILD/dev-secret ]]; then
    mkdir -p "$CHATNODE_BUILD"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$CHATNODE_BUILD/dev-secret")
fi
if [[ ! -s $CHATNODE_BUILD/dev-fleet-secret ]]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$CHATNODE_BUILD/dev-fleet-secret")
fi
CHATNODE_SECRET=$(cat "$CHATNODE_BUILD/dev-secret")
CHATNODE_FLEET_SECRET=$(cat "$CHATNODE_BUILD/dev-fleet-secret")
export CHATNODE_SECRET CHATNODE_FLEET_SECRET

dotnet build ChatNode -c Release --nologo -v quiet
# The browser app and the TypeScript library it runs (served by node-1 at /app/).
(cd Client/web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

COUNT=${CHATNODE_NODES:-3}
cat <<EOF

A fleet of $COUNT nodes (node-1 .. node-$COUNT) sharing etcd and the Redis Cluster.
WebSocket endpoint (any node; clients are redirected to the node that owns their user):
  ws://127.0.0.1:8080/ws
Browser app (open it in two windows, sign in as two users):
  http://127.0.0.1:8080/app/
Metrics: http://127.0.0.1:9280/metrics (node-1; node-N on port 9279+N).
Development tokens (make run only, Dev:Tokens): curl -s -d '{"user":"alice","client":"web"}' -H 'Content-Type: application/json' http://127.0.0.1:8080/v1/dev/token
Mint a token and look at the ring (another shell, repo root):
  export CHATNODE_SECRET=\$(cat $CHATNODE_BUILD/dev-secret) CHATNODE_ETCD=$CHATNODE_ETCD
  export CHATNODE_FLEET_SECRET=\$(cat $CHATNODE_BUILD/dev-fleet-secret)   # for chatnode drain
  dotnet $DLL token --user alice --client phone
  dotnet $DLL ring
  dotnet $DLL route --user alice
Node logs: $NODES/node-N.log. Ctrl-C stops the nodes; the services keep running until \`make stop\`.

EOF

mkdir -p "$NODES"
# Background children, so that a TERM to this script reaches them (the trap forwards INT and TERM).
pids=()
for i in $(seq 1 "$COUNT"); do
    dotnet "$DLL" serve --Node:NodeId="node-$i" \
        --Node:Listen="http://127.0.0.1:$((8079 + i))" --Node:PeerListen="http://127.0.0.1:$((9079 + i))" \
        --Node:AdminListen="http://127.0.0.1:$((9279 + i))" --Dev:Tokens=true --Dev:WebRoot="$ROOT/Client/web" \
        --Registry:Endpoints="$CHATNODE_ETCD" >"$NODES/node-$i.log" 2>&1 &
    pids+=($!)
    echo "$!" >"$NODES/node-$i.pid"
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' INT TERM
for i in $(seq 1 "$COUNT"); do
    for _ in $(seq 150); do
        curl -sf "http://127.0.0.1:$((8079 + i))/readyz" >/dev/null && break
        node_alive "${pids[i - 1]}" || break
        sleep 0.1
    done
    if curl -sf "http://127.0.0.1:$((8079 + i))/readyz" >/dev/null; then
        echo "run-node: node-$i ready on :$((8079 + i))"
    else
        echo "run-node: node-$i not ready (see $NODES/node-$i.log)"
    fi
done
rc=0
for pid in "${pids[@]}"; do
    # A trapped signal ends `wait` early; keep waiting while the nodes shut down.
    while node_alive "$pid"; do wait "$pid" || rc=$?; done
done
rm -f "$NODES"/node-*.pid
echo "run-node: nodes exited; services still running (make stop stops them)"
exit "$rc"
