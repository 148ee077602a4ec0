#!/usr/bin/env bash
# Builds ChatNode and runs one node in the foreground against the services of scripts/services.sh
# (start them first: `make services`). Ctrl-C stops the node; the services keep running (`make stop`).
#
#   run-node.sh          build and run one node
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
            for _ in $(seq 150); do node_alive "$pid" || break; sleep 0.1; done
            if node_alive "$pid"; then kill -KILL "$pid"; fi
            stopped=$((stopped + 1))
        fi
        rm -f "$f"
    done
    echo "run-node: stopped $stopped node(s)"
}

if [[ ${1:-} == stop ]]; then stop_nodes; exit 0; fi

# One dev secret per build tree, so tokens minted earlier keep working across restarts.
if [[ ! -s $CHATNODE_BUILD/dev-secret ]]; then
    mkdir -p "$CHATNODE_BUILD"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$CHATNODE_BUILD/dev-secret")
fi
CHATNODE_SECRET=$(cat "$CHATNODE_BUILD/dev-secret")
export CHATNODE_SECRET

dotnet build ChatNode -c Release --nologo -v quiet

cat <<EOF

WebSocket endpoint: ws://127.0.0.1:8080/ws
Mint a token (another shell, repo root):
  export CHATNODE_SECRET=\$(cat $CHATNODE_BUILD/dev-secret)
  dotnet $DLL token --user alice --client phone
Ctrl-C stops this node; the services keep running until \`make stop\`.

EOF

mkdir -p "$NODES"
# Run in the background and wait, so a TERM to this script reaches the node too
# (background children of a script ignore the terminal's SIGINT; the trap forwards it as TERM).
dotnet "$DLL" serve &
pid=$!
echo "$pid" >"$NODES/node.pid"
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
rc=0
wait "$pid" || rc=$?
# A trapped signal ends `wait` early; keep waiting while the node shuts down, for its real exit code.
while node_alive "$pid"; do rc=0; wait "$pid" || rc=$?; done
rm -f "$NODES/node.pid"
echo "run-node: node exited ($rc); services still running (make stop stops them)"
exit "$rc"
