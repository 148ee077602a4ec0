#!/usr/bin/env bash
# Redis work per delivered 1:1 message, counted rather than timed (CPU on this shared machine varies by +-20 % between
# runs; command counts and replicated bytes do not): commands run by the masters (Lua's inner calls included) by
# command, bytes replicated, socket reads (below saturation, about one pass of the server's event loop each), and the
# CPU of masters and replicas, over one bounded open-loop run of scripts/bench.sh.
#
#   scripts/bench-redis.sh [RATE=1000] [SECONDS=15]
#
# Starts a fresh Redis Cluster of 3 masters x 1 replica for the run and stops it again (it must not be running).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
rate=${1:-1000}
seconds=${2:-15}
export CHATNODE_REDIS_REPLICAS=1
if scripts/services.sh is-running redis; then
    echo "bench-redis: stop Redis first (scripts/services.sh stop redis): the counts need a cluster of their own" >&2
    exit 2
fi
scripts/services.sh start redis >/dev/null
trap 'scripts/services.sh stop redis >/dev/null' EXIT

# One line per server: port role commands repl_offset cpu_seconds reads cmd=calls...
snapshot() {
    for port in $(seq 7101 7106); do
        redis-cli -p "$port" info all | tr -d '\r' | awk -v port="$port" -F'[:=,]' '
            /^role:/ {role=$2} /^total_commands_processed:/ {c=$2} /^master_repl_offset:/ {o=$2}
            /^used_cpu_sys:/ {s=$2} /^used_cpu_user:/ {u=$2} /^total_reads_processed:/ {r=$2} /^cmdstat_/ {cmd[substr($1, 9)]=$3}
            END {printf "%s %s %s %s %s %s", port, role, c, o, s + u, r; for (k in cmd) printf " %s=%s", k, cmd[k]; print ""}'
    done
}

before=$(snapshot)
log=$ROOT/build/load-results/bench-redis.log
mkdir -p "$(dirname "$log")"
scripts/bench.sh direct --pairs 200 --rate "$rate" --warmup 0s --duration "${seconds}s" --out build/load-results/bench-redis > "$log" 2>&1
after=$(snapshot)
delivered=$(grep -E 'delivered / expected' "$log" | grep -oE '[0-9,]+ /' | head -1 | tr -d ', /')
grep -E 'lost / duplicated|send->delivery' "$log" | tr -s ' │' ' '
python3 - "$delivered" "$before" "$after" <<'PY'
import collections, sys
delivered = int(sys.argv[1])
def parse(text):
    servers = {}
    for line in text.strip().splitlines():
        f = line.split()
        servers[f[0]] = (f[1], float(f[2]), float(f[3]), float(f[4]), float(f[5]), dict(x.split('=') for x in f[6:]))
    return servers
before, after = parse(sys.argv[2]), parse(sys.argv[3])
commands = replicated = master_cpu = replica_cpu = master_reads = replica_reads = 0.0
by_command = collections.Counter()
for port, (role, c, o, cpu, reads, cmds) in after.items():
    b = before[port]
    if role == 'master':
        commands += c - b[1]; replicated += o - b[2]; master_cpu += cpu - b[3]; master_reads += reads - b[4]
        for name, calls in cmds.items():
            by_command[name] += int(calls) - int(b[5].get(name, 0))
    else:
        replica_cpu += cpu - b[3]; replica_reads += reads - b[4]
print(f"{delivered} delivered: {commands / delivered:.2f} master commands and {replicated / delivered:.0f} replicated bytes per message; "
      f"CPU per message {master_cpu / delivered * 1e6:.0f} us on the masters, {replica_cpu / delivered * 1e6:.0f} us on the replicas")
print(f"socket reads per message: {master_reads / delivered:.2f} on the masters, {replica_reads / delivered:.2f} on the replicas")
print("per message: " + ", ".join(f"{name} {calls / delivered:.2f}" for name, calls in by_command.most_common(12)))
PY
