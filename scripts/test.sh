#!/usr/bin/env bash
# Runs the test suite against real services: starts those not already running, runs `dotnet test`,
# then stops only the services this run started (also on failure or Ctrl-C). Exits with dotnet test's code.
# Extra arguments go to dotnet test, e.g. scripts/test.sh --filter "FullyQualifiedName~Ring".
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERVICES=$ROOT/scripts/services.sh
RESULTS=build/test-results

started=()
for s in redis etcd s3; do
    "$SERVICES" is-running "$s" || started+=("$s")
done

stop_started() {
    local s
    for s in "${started[@]}"; do "$SERVICES" stop "$s" || true; done
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$SERVICES" start all
eval "$("$SERVICES" env)"

# A results file left by an earlier run must never be read as this run's.
rm -rf "$RESULTS"

# The solution is chatnode.sln; .NET 10's `dotnet new sln` writes .slnx unless told otherwise.
sln=chatnode.sln
[[ -f $sln || ! -f chatnode.slnx ]] || sln=chatnode.slnx

# In the background so that a signal to this script is handled at once (bash defers traps until a
# foreground child exits) and forwarded; the EXIT trap then stops the services.
dotnet test "$sln" -c Release --logger "trx;LogFileName=results.trx" --results-directory "$RESULTS" "$@" &
test_pid=$!
on_signal() {
    kill -TERM "$test_pid" 2>/dev/null || true
    wait "$test_pid" 2>/dev/null || true
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
rc=0
wait "$test_pid" || rc=$?
exit "$rc"
