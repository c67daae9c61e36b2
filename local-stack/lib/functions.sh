# The platform's own processes: every function of template.yaml on its own port, the trigger
# dispatcher with their Kafka subscriptions, the HTTP gateway in front of the HTTP routes, and
# the scheduler that runs the scheduled functions.
# `stackctl plan` turns template.yaml into the list of functions to start; the dispatcher, the
# gateway and the scheduler read template.yaml themselves.

: "${FUNCTION_BASE_PORT:=8100}"
: "${GATEWAY_PORT:=8080}"
: "${DISPATCHER_PORT:=9464}"
# The relay listens on 9465; the scheduler goes next to the dispatcher's and the relay's
# ports, and moves with DISPATCHER_PORT when a second stack moves it.
: "${RELAY_PORT:=9465}"
: "${SCHEDULER_PORT:=$((DISPATCHER_PORT + 2))}"
: "${FUNCTION_RUST_LOG:=info}"
export FUNCTION_BASE_PORT GATEWAY_PORT DISPATCHER_PORT RELAY_PORT SCHEDULER_PORT

FUNCTION_LOG_DIR="$LOG_DIR/functions"

# True when the process on PORT answers GET PATH with 200.
http_ok() {
    local port=$1 path=$2 status
    status=$(
        exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
        printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
        IFS= read -r line <&3 && printf '%s' "$line"
    ) 2>/dev/null || return 1
    [[ $status == "HTTP/1."?" 200"* ]]
}

# The provisioning tool alone, unless a build of the workspace already made it.
build_stackctl() {
    [[ -x $STACKCTL ]] && return 0
    say "Building stackctl"
    ( cd "$REPO_DIR" && cargo build "${CARGO_PROFILE_FLAGS[@]}" -p stackctl ) || die "Building stackctl failed (cargo output above)."
}

build_platform() {
    say "Building the functions, the dispatcher and the gateway ($STACK_PROFILE)"
    ( cd "$REPO_DIR" && cargo build "${CARGO_PROFILE_FLAGS[@]}" --workspace --exclude loadtests --bins ) || die "Building the platform failed (cargo output above)."
}

# Starts one platform process unless it already runs.
# Usage: start_process NAME PORT PORT_VARIABLE HEALTH_PATH COMMAND...
start_process() {
    local name=$1 port=$2 variable=$3 health=$4
    shift 4
    if is_running "$name"; then
        ok "$name: already running (pid $(stack_pid "$name"), port $port)"
        return 0
    fi
    require_free_port "$name" "$port" "$variable"
    mkdir -p "$FUNCTION_LOG_DIR"
    start_detached "$name" "$FUNCTION_LOG_DIR/$name.log" "$@"
    wait_until "$name" "$FUNCTION_LOG_DIR/$name.log" "$STACK_START_TIMEOUT" http_ok "$port" "$health"
    ok "$name: running (pid $(stack_pid "$name"), port $port)"
}

# The identity context's token and rate-limit settings, inherited by every function: the
# signing keys and the secret that names the rate limits' Redis keys are generated under
# $STACK_HOME/keys on the first run and kept after that (ADR 0012, 0024).
identity_env() {
    "$PLATFORM_BIN/identity-admin" init-keys --dir "$STACK_HOME/keys" >"$LOG_DIR/identity-keys.log" 2>&1 ||
        { cat "$LOG_DIR/identity-keys.log" >&2; die "Could not create the identity signing keys (above)."; }
    export JWT_ISSUER="${JWT_ISSUER:-https://identity.commerce.local}" JWT_AUDIENCE="${JWT_AUDIENCE:-commerce}" \
        JWT_SIGNING_KEYS_FILE="$STACK_HOME/keys/signing-keys.json" JWT_JWKS_FILE="$STACK_HOME/keys/jwks.json" \
        RATE_LIMIT_HMAC_KEY_FILE="$STACK_HOME/keys/rate-limit-key"
    # As template.yaml sets it for the functions that hash passwords: glibc then gives each
    # freed 19 MiB argon2id block back to the system instead of keeping it (ADR 0014).
    export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
}

platform_up() {
    local plan bin="$PLATFORM_BIN" kind name context port method path
    # The outbox relay first: every event a function writes reaches Kafka through it.
    start_process outbox-relay "$RELAY_PORT" RELAY_PORT /healthz env PORT="$RELAY_PORT" RUST_LOG="$FUNCTION_RUST_LOG" \
        CDC_DATABASE_URL="$CDC_DATABASE_URL" RELAY_DATABASE_URL="$RELAY_DATABASE_URL" \
        KAFKA_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP_SERVERS" "$bin/outbox-relay"
    plan=$("$STACKCTL" plan --template "$REPO_DIR/template.yaml" --base-port "$FUNCTION_BASE_PORT") ||
        die "template.yaml could not be read (above)."
    identity_env
    while read -r kind name context port; do
        [[ $kind == function ]] || continue
        local url_variable="${context^^}_DATABASE_URL"
        start_process "$name" "$port" FUNCTION_BASE_PORT /healthz env PORT="$port" FUNCTION_NAME="$name" \
            DATABASE_URL="${!url_variable:-}" RUST_LOG="$FUNCTION_RUST_LOG" "$bin/$name"
    done <<<"$plan"
    # The dispatcher delivers every subscription of the template; without any it has nothing to do.
    if grep -q '^subscribe ' <<<"$plan"; then
        start_process trigger-dispatcher "$DISPATCHER_PORT" DISPATCHER_PORT /healthz env RUST_LOG="$FUNCTION_RUST_LOG" \
            "$bin/trigger-dispatcher" --template "$REPO_DIR/template.yaml" \
            --function-base-port "$FUNCTION_BASE_PORT" --group-prefix local --metrics-port "$DISPATCHER_PORT"
    fi
    start_process local-gateway "$GATEWAY_PORT" GATEWAY_PORT /healthz env PORT="$GATEWAY_PORT" RUST_LOG="$FUNCTION_RUST_LOG" \
        "$bin/local-gateway" --template "$REPO_DIR/template.yaml" --function-base-port "$FUNCTION_BASE_PORT"
    start_process local-scheduler "$SCHEDULER_PORT" SCHEDULER_PORT /healthz env PORT="$SCHEDULER_PORT" \
        RUST_LOG="$FUNCTION_RUST_LOG" "$bin/local-scheduler" --template "$REPO_DIR/template.yaml" \
        --function-base-port "$FUNCTION_BASE_PORT"
    while read -r kind method path name port; do
        if [[ $kind == route ]]; then printf '    %-7s %-28s → %s (port %s)\n' "$method" "$path" "$name" "$port"; fi
    done <<<"$plan"
}

# Every platform process with a pid file: functions, dispatcher, gateway, scheduler.
platform_names() {
    local file
    for file in "$PID_DIR"/*.pid; do
        [[ -e $file ]] || continue
        file=${file##*/}
        file=${file%.pid}
        # mariadbd.pid is the pid file MariaDB writes itself.
        case $file in mariadb | mariadbd | kafka | redis) ;; *) echo "$file" ;; esac
    done
}

platform_down() {
    local name
    # The gateway first, then the dispatcher (it finishes in-flight deliveries), then the
    # functions, and the relay last (it stores its position on the way out).
    if is_running local-gateway; then stop_server local-gateway; fi
    if is_running trigger-dispatcher; then stop_server trigger-dispatcher 60; fi
    for name in $(platform_names); do
        if [[ $name != outbox-relay ]]; then stop_server "$name"; fi
    done
    if is_running outbox-relay; then stop_server outbox-relay 60; fi
    # Pid files of processes that are gone.
    for name in $(platform_names); do stop_server "$name"; done
}

platform_status() {
    local name healthy=0
    for name in $(platform_names); do
        if is_running "$name"; then ok "$name: running (pid $(stack_pid "$name"), log $FUNCTION_LOG_DIR/$name.log)"
        else warn "$name: stopped"; healthy=1; fi
    done
    return "$healthy"
}
