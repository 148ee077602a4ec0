#!/usr/bin/env bash
# Runs the test suite in two tiers: the fast tier first (tests marked [Fast]: no external service, fake clocks,
# in-memory store and registry; about 35 s), then the services this run needs are started (only those not already
# running) and the integration tier runs against them; the services this run started are stopped again (also on
# failure or Ctrl-C). Exits non-zero if either tier failed; each tier writes its own TRX to build/test-results/.
#
#   scripts/test.sh              both tiers
#   scripts/test.sh fast         the fast tier only (no services)
#   scripts/test.sh integration  the integration tier only
#   scripts/test.sh web          the web tier only: the TypeScript client (Client/web) against two nodes it starts
#   scripts/test.sh -- ARGS      one `dotnet test` run with ARGS against the services, e.g. -- --filter "FullyQualifiedName~Ring"
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SERVICES=$ROOT/scripts/services.sh
RESULTS=build/test-results

mode=all
case ${1:-} in
    fast | integration | web) mode=$1; shift ;;
    --) mode=custom; shift ;;
    "") ;;
    *) echo "usage: scripts/test.sh [fast | integration | web | -- DOTNET_TEST_ARGS...]" >&2; exit 2 ;;
esac

# The solution is chatnode.sln; .NET 10's `dotnet new sln` writes .slnx unless told otherwise.
sln=chatnode.sln
[[ -f $sln || ! -f chatnode.slnx ]] || sln=chatnode.slnx

# A results file left by an earlier run must never be read as this run's: a full run starts from an empty folder, a
# single tier replaces its own file (so `.ci/run` can run the tiers apart and sum both).
if [[ $mode == all ]]; then rm -rf "$RESULTS"; fi
dotnet build "$sln" -c Release --nologo -v quiet

started=()
stop_started() {
    local s
    for s in "${started[@]}"; do "$SERVICES" stop "$s" || true; done
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background so that a signal to this script is handled at once (bash defers traps until a foreground child
# exits) and forwarded; the EXIT trap then stops the services.
run_tests() { # run_tests TRX_NAME DOTNET_TEST_ARGS...
    local name=$1; shift
    rm -f "$RESULTS/$name.trx"
    dotnet test "$sln" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "$RESULTS" "$@" &
    local test_pid=$!
    trap "kill -TERM $test_pid 2>/dev/null || true; wait $test_pid 2>/dev/null || true; exit 130" INT
    trap "kill -TERM $test_pid 2>/dev/null || true; wait $test_pid 2>/dev/null || true; exit 143" TERM
    local rc=0
    wait "$test_pid" || rc=$?
    trap 'exit 130' INT
    trap 'exit 143' TERM
    return "$rc"
}

rc=0
if [[ $mode == all || $mode == fast ]]; then
    echo "test: fast tier (no services)"
    run_tests fast --filter "TestCategory=Fast" || rc=$?
    [[ $mode == fast ]] && exit "$rc"
fi

for s in redis etcd s3; do
    "$SERVICES" is-running "$s" || started+=("$s")
done
"$SERVICES" start all
eval "$("$SERVICES" env)"

if [[ $mode == custom ]]; then
    run_tests results "$@" || rc=$?
else
    if [[ $mode == all || $mode == integration ]]; then
        echo "test: integration tier (real Redis Cluster, etcd, s3rver)"
        run_tests integration --filter "TestCategory!=Fast" || rc=$?
    fi
    if [[ $mode == all || $mode == web ]]; then
        echo "test: web tier (the TypeScript client against a fleet of two nodes)"
        "$ROOT/scripts/test-web.sh" || rc=$?
    fi
fi
exit "$rc"
