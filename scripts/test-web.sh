#!/usr/bin/env bash
# The web tier: the TypeScript client library's tests (Client/web/test) and the browser app's tests in headless
# Chromium (Client/web/browser-test, playwright-core), with node's test runner, against a real fleet of two nodes that
# this script starts (development tokens on, the app served, media on s3rver) and stops again, also on failure.
# Expects the services of scripts/services.sh to be running (scripts/test.sh starts them). Writes the TAP results to
# build/test-results/web.tap (counted by .ci/run) and the app's screenshots to build/test-results/web-screenshots/;
# exits non-zero if a test failed or the fleet did not start.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
eval "$(scripts/services.sh env)"
RESULTS=$ROOT/build/test-results
LOGS=$ROOT/build/test-logs
mkdir -p "$RESULTS" "$LOGS"
rm -f "$RESULTS/web.tap"

(cd Client/web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)

CHATNODE_SECRET=web-test-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')-secret
CHATNODE_FLEET_SECRET=web-test-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')-fleet
export CHATNODE_SECRET CHATNODE_FLEET_SECRET
prefix=/chatnode-webtest/$$/
pids=()
stop_nodes() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_nodes EXIT

# Ports apart from make run's (8080..) and the bench's (8090..).
for i in 0 1; do
    dotnet ChatNode/bin/Release/net10.0/ChatNode.dll serve --Node:NodeId="web-$i" \
        --Node:Listen="http://127.0.0.1:$((8180 + i))" --Node:PeerListen="http://127.0.0.1:$((9180 + i))" \
        --Node:AdminListen="http://127.0.0.1:$((9380 + i))" --Registry:Endpoints="$CHATNODE_ETCD" --Registry:Prefix="$prefix" \
        --Media:Store:Endpoint="$CHATNODE_S3" --Dev:Tokens=true --Dev:WebRoot="$ROOT/Client/web" \
        --Logging:LogLevel:Default=Warning >"$LOGS/web-$i.log" 2>&1 &
    pids+=($!)
done
for i in 0 1; do
    for _ in $(seq 150); do
        curl -sf "http://127.0.0.1:$((8180 + i))/readyz" >/dev/null && break
        sleep 0.2
    done
    curl -sf "http://127.0.0.1:$((8180 + i))/readyz" >/dev/null || { echo "test-web: node web-$i did not become ready"; cat "$LOGS/web-$i.log"; exit 1; }
done

cd Client/web
CHATNODE_WEB_TEST_URL=ws://127.0.0.1:8180/ws CHATNODE_WEB_SCREENSHOTS=$RESULTS/web-screenshots \
    node --experimental-websocket --test \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$RESULTS/web.tap" test/ browser-test/
