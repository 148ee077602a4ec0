#!/usr/bin/env bash
# Local backing services for chatnode: Redis Cluster (3 masters, 2 replicas each), etcd, s3rver.
# Everything listens on 127.0.0.1 and keeps its data, logs and pid files under $CHATNODE_BUILD.
#
#   services.sh install                      install missing packages (apt, chromium included), s3rver and the deploy check (npm)
#   services.sh start  [redis|etcd|s3|all]   start fresh (data wiped); no-op if already running
#   services.sh stop   [redis|etcd|s3|all]   stop what this script started, by pid file
#   services.sh resume etcd                  start etcd again keeping its data (after a stop)
#   services.sh status                       one line per service
#   services.sh env                          export lines for tests and nodes
#   services.sh is-running redis|etcd|s3     exit 0 if running (used by test.sh)
#   services.sh is-healthy redis             exit 0 if the cluster is ok and every replica's link is up
#
# Ports: CHATNODE_REDIS_BASE_PORT (7101, nine consecutive ports), CHATNODE_ETCD_PORT (2479),
# CHATNODE_ETCD_PEER_PORT (2480), CHATNODE_S3_PORT (4569). Start timeout: CHATNODE_START_TIMEOUT (30 s).
# Redis: CHATNODE_REDIS_REPLICAS replicas per master (2; 1 to compare), CHATNODE_REDIS_MAXMEMORY per server (512mb).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath -m "${CHATNODE_BUILD:-$ROOT/build}")
S3_DIR=$ROOT/scripts/s3
S3RVER=$S3_DIR/node_modules/.bin/s3rver
DEPLOY_CHECK_DIR=$ROOT/scripts/deploy-check

REDIS_BASE=${CHATNODE_REDIS_BASE_PORT:-7101}
REDIS_REPLICAS=${CHATNODE_REDIS_REPLICAS:-2}
REDIS_MAXMEMORY=${CHATNODE_REDIS_MAXMEMORY:-512mb}
REDIS_COUNT=$((3 * (1 + REDIS_REPLICAS)))
mapfile -t REDIS_PORTS < <(seq "$REDIS_BASE" $((REDIS_BASE + REDIS_COUNT - 1)))
REDIS_RANGE="127.0.0.1:${REDIS_PORTS[0]}-${REDIS_PORTS[-1]}"
ETCD_PORT=${CHATNODE_ETCD_PORT:-2479}
ETCD_PEER_PORT=${CHATNODE_ETCD_PEER_PORT:-2480}
S3_PORT=${CHATNODE_S3_PORT:-4569}
START_TIMEOUT=${CHATNODE_START_TIMEOUT:-30}
STOP_TIMEOUT=15

log() { echo "services: $*"; }
die() { echo "services: error: $*" >&2; exit 1; }

# A pid only counts if it is alive and still runs our program: pid files may be stale
# (SIGKILLed redis keeps its pid file) and pids get reused. Zombies have an empty cmdline.
alive() {
    local pid=$1 pattern=$2
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern"
}

read_pid() { cat "$1" 2>/dev/null || true; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Polls "$@" until it succeeds or the deadline passes.
wait_for() {
    local what=$1; shift
    local deadline=$((SECONDS + START_TIMEOUT))
    until "$@"; do
        ((SECONDS < deadline)) || { echo "services: timed out after ${START_TIMEOUT}s waiting for $what" >&2; return 1; }
        sleep 0.2
    done
}

# TERM, wait up to STOP_TIMEOUT, then KILL. Pids must be collected before the call.
terminate() {
    local pattern=$1; shift
    local pids=() pid
    for pid in "$@"; do alive "$pid" "$pattern" && pids+=("$pid"); done
    ((${#pids[@]})) || return 1
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while ((SECONDS < deadline)); do
        local left=0
        for pid in "${pids[@]}"; do alive "$pid" "$pattern" && left=1; done
        ((left)) || return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        alive "$pid" "$pattern" && { log "pid $pid ignored TERM, killing"; kill -KILL "$pid" 2>/dev/null || true; }
    done
    return 0
}

show_log() { [[ -f $1 ]] && { echo "--- last lines of $1:" >&2; tail -n 20 "$1" >&2; }; return 0; }

# ---------------------------------------------------------------- install

cmd_install() {
    local pkgs=()
    command -v redis-server >/dev/null || pkgs+=(redis-server)
    command -v redis-cli >/dev/null || pkgs+=(redis-tools)
    command -v etcd >/dev/null || pkgs+=(etcd-server)
    command -v etcdctl >/dev/null || pkgs+=(etcd-client)
    command -v curl >/dev/null || pkgs+=(curl)
    command -v npm >/dev/null || pkgs+=(npm)
    # The browser tests of the web client (scripts/test-web.sh) drive Debian's chromium with playwright-core.
    command -v chromium >/dev/null || pkgs+=(chromium)
    mkdir -p "$BUILD"
    local aptlog=$BUILD/apt-install.log
    if ((${#pkgs[@]})); then
        local sudo=(); ((EUID == 0)) || sudo=(sudo)
        log "apt-get install ${pkgs[*]}"
        # On a systemd host these packages also start system services on 6379/2379; ours use other ports.
        if ! { "${sudo[@]}" apt-get update -qq &&
               "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"; } >"$aptlog" 2>&1; then
            show_log "$aptlog"; die "apt-get failed"
        fi
    fi
    local npm_done=0
    if [[ ! -x $S3RVER ]]; then
        log "npm install s3rver (scripts/s3)"
        (cd "$S3_DIR" && npm install --no-audit --no-fund --loglevel=error) >"$BUILD/npm-install.log" 2>&1 ||
            { show_log "$BUILD/npm-install.log"; die "npm install failed"; }
        npm_done=1
    fi
    # The offline Dockerfile and k8s/ check (scripts/deploy-check/check.mjs), run by the unit tests.
    if [[ ! -d $DEPLOY_CHECK_DIR/node_modules ]]; then
        log "npm install deploy check (scripts/deploy-check)"
        (cd "$DEPLOY_CHECK_DIR" && npm install --no-audit --no-fund --loglevel=error) >"$BUILD/npm-install.log" 2>&1 ||
            { show_log "$BUILD/npm-install.log"; die "npm install failed"; }
        npm_done=1
    fi
    ((${#pkgs[@]} || npm_done)) || log "nothing to install"
}

# ---------------------------------------------------------------- redis

redis_pids() { local f; for f in "$BUILD"/redis/*/redis.pid; do [[ -f $f ]] && read_pid "$f"; done; return 0; }

redis_alive_count() {
    local n=0 port
    for port in "${REDIS_PORTS[@]}"; do
        alive "$(read_pid "$BUILD/redis/$port/redis.pid")" redis-server && n=$((n + 1))
    done
    echo "$n"
}

redis_write_conf() {
    local port=$1 dir=$BUILD/redis/$1
    mkdir -p "$dir"
    cat >"$dir/redis.conf" <<EOF
# Written by scripts/services.sh. Tests restart a killed node with: redis-server $dir/redis.conf
port $port
bind 127.0.0.1
protected-mode no
cluster-enabled yes
cluster-config-file nodes.conf
# A master silent for 2 s is failed; one of its replicas is promoted about a second later. Lower values fail over
# faster but turn a pause of a busy machine into a needless failover.
cluster-node-timeout 2000
# Messages are never evicted: at the limit, writes that add data get OOM (the node answers STORE_FULL) while reads
# and deletions go on.
maxmemory $REDIS_MAXMEMORY
maxmemory-policy noeviction
appendonly yes
appendfsync everysec
save ""
dir "$dir"
daemonize yes
pidfile "$dir/redis.pid"
logfile "$dir/redis.log"
EOF
}

# Healthy = every node sees cluster_state:ok with all nodes known, 3 masters, and every replica's link up
# (links come up seconds after cluster_state:ok; tests that use WAIT need them).
redis_healthy() {
    local port info masters=0 replicas=0
    for port in "${REDIS_PORTS[@]}"; do
        info=$(redis-cli -p "$port" cluster info 2>/dev/null) || return 1
        grep -q '^cluster_state:ok' <<<"$info" || return 1
        grep -q "^cluster_known_nodes:$REDIS_COUNT" <<<"$info" || return 1
        info=$(redis-cli -p "$port" info replication 2>/dev/null) || return 1
        if grep -q '^role:master' <<<"$info"; then
            masters=$((masters + 1))
        else
            grep -q '^master_link_status:up' <<<"$info" || return 1
            replicas=$((replicas + 1))
        fi
    done
    ((masters == 3 && replicas == 3 * REDIS_REPLICAS))
}

redis_start() {
    local n; n=$(redis_alive_count)
    if ((n == REDIS_COUNT)); then log "redis already running ($REDIS_RANGE)"; return 0; fi
    if ((n > 0)); then log "redis partly running ($n/$REDIS_COUNT), restarting it"; redis_stop; fi
    local port
    for port in "${REDIS_PORTS[@]}"; do port_busy "$port" && die "port $port is in use by another process"; done
    # Always a fresh cluster: old nodes.conf files would name node ids that no longer exist.
    rm -rf "$BUILD/redis"
    for port in "${REDIS_PORTS[@]}"; do
        redis_write_conf "$port"
        redis-server "$BUILD/redis/$port/redis.conf" >/dev/null ||
            { show_log "$BUILD/redis/$port/redis.log"; redis_stop; die "redis-server on $port failed"; }
    done
    for port in "${REDIS_PORTS[@]}"; do
        wait_for "redis on $port" redis-cli -p "$port" ping >/dev/null 2>&1 ||
            { show_log "$BUILD/redis/$port/redis.log"; redis_stop; die "redis on $port did not start"; }
    done
    local nodes=(); for port in "${REDIS_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    if ! redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$REDIS_REPLICAS" --cluster-yes \
            >"$BUILD/redis/cluster-create.log" 2>&1; then
        show_log "$BUILD/redis/cluster-create.log"; redis_stop; die "redis-cli --cluster create failed"
    fi
    wait_for "redis cluster ok and replicas linked" redis_healthy ||
        { redis_stop; die "redis cluster did not become healthy"; }
    log "redis started ($REDIS_RANGE, 3 masters with $REDIS_REPLICAS replicas each, maxmemory $REDIS_MAXMEMORY)"
}

redis_stop() {
    # Redis deletes its pid file on exit, so read them all before killing any.
    local pids; mapfile -t pids < <(redis_pids)
    if ((${#pids[@]})) && terminate redis-server "${pids[@]}"; then
        log "redis stopped"
    else
        log "redis not running"
    fi
    rm -f "$BUILD"/redis/*/redis.pid
}

# ---------------------------------------------------------------- etcd

etcd_pidfile() { echo "$BUILD/etcd/etcd.pid"; }
etcd_running() { alive "$(read_pid "$(etcd_pidfile)")" "$BUILD/etcd/data"; }
etcd_healthy() { ETCDCTL_API=3 etcdctl --endpoints="127.0.0.1:$ETCD_PORT" --dial-timeout=1s endpoint health >/dev/null 2>&1; }

etcd_start() {
    if etcd_running; then log "etcd already running (http://127.0.0.1:$ETCD_PORT)"; return 0; fi
    port_busy "$ETCD_PORT" && die "port $ETCD_PORT is in use by another process"
    port_busy "$ETCD_PEER_PORT" && die "port $ETCD_PEER_PORT is in use by another process"
    # Fresh unless resuming (tests stop etcd and bring it back with its data).
    [[ ${KEEP_DATA:-0} == 1 ]] || rm -rf "$BUILD/etcd"
    mkdir -p "$BUILD/etcd"
    # setsid: own session, so a Ctrl-C in the terminal that ran `make run` does not reach it.
    nohup setsid etcd --name chatnode \
        --data-dir "$BUILD/etcd/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "chatnode=http://127.0.0.1:$ETCD_PEER_PORT" \
        --logger zap --log-outputs "$BUILD/etcd/etcd.log" \
        </dev/null >>"$BUILD/etcd/stdout.log" 2>&1 &
    echo $! >"$(etcd_pidfile)"
    if ! wait_for "etcd health" etcd_healthy; then
        show_log "$BUILD/etcd/etcd.log"; show_log "$BUILD/etcd/stdout.log"; etcd_stop; die "etcd did not start"
    fi
    log "etcd started (http://127.0.0.1:$ETCD_PORT)"
}

etcd_stop() {
    local pid; pid=$(read_pid "$(etcd_pidfile)")
    if [[ -n $pid ]] && terminate "$BUILD/etcd/data" "$pid"; then log "etcd stopped"; else log "etcd not running"; fi
    rm -f "$(etcd_pidfile)"
}

# ---------------------------------------------------------------- s3rver

s3_pidfile() { echo "$BUILD/s3/s3rver.pid"; }
s3_running() { alive "$(read_pid "$(s3_pidfile)")" "$BUILD/s3/data"; }
s3_answers() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$S3_PORT/"; }

s3_start() {
    if s3_running; then log "s3 already running (http://127.0.0.1:$S3_PORT)"; return 0; fi
    [[ -x $S3RVER ]] || die "s3rver is not installed: run scripts/services.sh install"
    port_busy "$S3_PORT" && die "port $S3_PORT is in use by another process"
    rm -rf "$BUILD/s3"
    mkdir -p "$BUILD/s3/data"
    # Started as a plain command so $! is s3rver itself (node), not a subshell. The media bucket of `make run` gets a
    # CORS rule (scripts/s3/cors.xml) so the browser app, on another origin, can use the presigned URLs.
    nohup setsid "$S3RVER" -d "$BUILD/s3/data" -a 127.0.0.1 -p "$S3_PORT" --silent \
        --configure-bucket chatnode-media "$S3_DIR/cors.xml" \
        </dev/null >>"$BUILD/s3/s3rver.log" 2>&1 &
    echo $! >"$(s3_pidfile)"
    if ! wait_for "s3rver on $S3_PORT" s3_answers; then
        show_log "$BUILD/s3/s3rver.log"; s3_stop; die "s3rver did not start"
    fi
    log "s3 started (http://127.0.0.1:$S3_PORT, access key S3RVER, secret S3RVER)"
}

s3_stop() {
    local pid; pid=$(read_pid "$(s3_pidfile)")
    if [[ -n $pid ]] && terminate "$BUILD/s3/data" "$pid"; then log "s3 stopped"; else log "s3 not running"; fi
    rm -f "$(s3_pidfile)"
}

# ---------------------------------------------------------------- commands

# Sets the global array SERVICES_SELECTED (not echoed: a die inside $(...) would not stop the script).
select_services() {
    case ${1:-all} in
        all) SERVICES_SELECTED=(redis etcd s3) ;;
        redis | etcd | s3) SERVICES_SELECTED=("$1") ;;
        *) die "unknown service '$1' (redis|etcd|s3|all)" ;;
    esac
}

cmd_status() {
    local n state="" redis=stopped
    n=$(redis_alive_count)
    if ((n > 0)); then
        redis=partial
        state=", $(redis-cli -p "${REDIS_PORTS[0]}" cluster info 2>/dev/null | grep -o 'cluster_state:[a-z]*' || echo 'cluster_state:?')"
    fi
    ((n < REDIS_COUNT)) || redis=running
    printf '%-6s %-8s %s\n' redis "$redis" "$REDIS_RANGE ($n/$REDIS_COUNT nodes$state)"
    printf '%-6s %-8s %s\n' etcd "$(etcd_running && echo running || echo stopped)" "http://127.0.0.1:$ETCD_PORT"
    printf '%-6s %-8s %s\n' s3 "$(s3_running && echo running || echo stopped)" "http://127.0.0.1:$S3_PORT"
}

cmd_env() {
    local port nodes=()
    for port in "${REDIS_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    printf 'export CHATNODE_REDIS=%s\n' "$(IFS=,; echo "${nodes[*]}")"
    printf 'export CHATNODE_ETCD=%s\n' "http://127.0.0.1:$ETCD_PORT"
    printf 'export CHATNODE_S3=%s\n' "http://127.0.0.1:$S3_PORT"
    printf 'export CHATNODE_BUILD=%q\n' "$BUILD"
}

cmd_is_running() {
    case ${1:-} in
        redis) (($(redis_alive_count) == REDIS_COUNT)) ;;
        etcd) etcd_running ;;
        s3) s3_running ;;
        *) die "is-running needs one of redis|etcd|s3" ;;
    esac
}

main() {
    local cmd=${1:-}; shift || true
    case $cmd in
        install) cmd_install ;;
        start)
            select_services "${1:-all}"
            for s in "${SERVICES_SELECTED[@]}"; do "${s}_start"; done ;;
        stop)
            select_services "${1:-all}"
            # Reverse order of start.
            for ((i = ${#SERVICES_SELECTED[@]} - 1; i >= 0; i--)); do "${SERVICES_SELECTED[i]}_stop"; done ;;
        resume)
            [[ ${1:-} == etcd ]] || die "resume takes etcd (start it again with its data)"
            KEEP_DATA=1 etcd_start ;;
        status) cmd_status ;;
        env) cmd_env ;;
        is-running) cmd_is_running "${1:-}" ;;
        is-healthy)
            [[ ${1:-} == redis ]] || die "is-healthy takes redis"
            redis_healthy ;;
        *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
    esac
}

main "$@"
