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

# GET PATH on PORT: sets HTTP_STATUS (e.g. 503) and HTTP_BODY; fails when nothing answers
# within a few seconds.
http_get() {
    local port=$1 path=$2 response
    HTTP_STATUS="" HTTP_BODY=""
    response=$(timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
        cat <&3' _ "$port" "$path" 2>/dev/null) || return 1
    [[ $response == HTTP/1.?" "* ]] || return 1
    HTTP_STATUS=${response#HTTP/1.? }
    HTTP_STATUS=${HTTP_STATUS%% *}
    HTTP_STATUS=${HTTP_STATUS%%$'\r'*}
    HTTP_BODY=${response#*$'\r\n\r\n'}
}

# One JSON string field of a flat or nested JSON body, unescaped enough to read; empty when
# absent. Usage: json_field BODY NAME
json_field() {
    local value
    value=$(grep -oE "\"$2\":\"([^\"\\\\]|\\\\.)*\"" <<<"$1" | head -1) || true
    value=${value#\"$2\":\"}
    value=${value%\"}
    value=${value//\\\"/\"}
    printf '%s' "${value//\\\\/\\}"
}

# What a process's health answer says is wrong, in one line.
health_problem() {
    local name=$1 body=$2 state message transaction
    state=$(json_field "$body" state)
    if [[ $name == outbox-relay ]]; then
        message=$(json_field "$body" message)
        transaction=$(json_field "$body" transaction)
        if [[ $state == failed ]]; then
            printf 'FAILED, waiting for an operator%s: %s' "${transaction:+ at transaction $transaction}" \
                "${message:-see its log}"
            # The relay's message names the commands for a statement on an outbox; a transaction
            # it cannot read for another reason (a compressed event) is passed the same way. A
            # failure outside any transaction (a server setting) needs a fix and a restart instead.
            if [[ -n $transaction && $message != *"outbox-relay skip"* ]]; then
                printf ' (move it on with outbox-relay skip or republish: README, Troubleshooting)'
            fi
            return 0
        fi
        printf 'not ready (state %s%s)' "${state:-unknown}" "${message:+; last error: $message}"
        return 0
    fi
    printf 'not ready: %s' "${body:-no answer}"
}

# Checks a running platform process against its health path (recorded by start_process in
# $PID_DIR/NAME.health). Returns 0 when ready, 1 when not (HEALTH_PROBLEM says why), 2 when
# it stopped for good and waiting cannot help (the relay's failed state).
process_health() {
    local name=$1 port path
    HEALTH_PROBLEM=""
    if [[ ! -f $PID_DIR/$name.health ]]; then return 0; fi
    read -r port path <"$PID_DIR/$name.health"
    if ! http_get "$port" "$path"; then
        HEALTH_PROBLEM="no answer on port $port ($path)"
        return 1
    fi
    [[ $HTTP_STATUS == 200 ]] && return 0
    HEALTH_PROBLEM=$(health_problem "$name" "$HTTP_BODY")
    [[ $(json_field "$HTTP_BODY" state) == failed ]] && return 2
    return 1
}

# Waits until NAME answers its health path with 200; fails with the log's last lines when it
# exits, reports a failure no wait can cure, or is not ready by the deadline.
wait_ready() {
    local name=$1 log_file=$2 timeout=$3 deadline health=0
    deadline=$((SECONDS + timeout))
    while true; do
        if ! is_running "$name"; then
            if ! pid_alive "$name"; then
                print_log_tail "$log_file"
                die "$name exited during start-up; its log is $log_file (last lines above)."
            fi
            # Started, but its binary is not exec'd yet: keep waiting until the deadline.
            if ((SECONDS >= deadline)); then
                die "$name did not start its binary within ${timeout}s; is the machine overloaded?"
            fi
            sleep 0.3
            continue
        fi
        health=0
        process_health "$name" || health=$?
        ((health == 0)) && return 0
        if ((health == 2)); then
            print_log_tail "$log_file"
            die "$name is up but $HEALTH_PROBLEM" "Its log is $log_file (last lines above)."
        fi
        if ((SECONDS >= deadline)); then
            print_log_tail "$log_file"
            die "$name did not become ready within ${timeout}s: $HEALTH_PROBLEM" \
                "Its log is $log_file (last lines above); STACK_START_TIMEOUT raises the deadline."
        fi
        sleep 0.3
    done
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

# Whether the named process runs a binary that a build has since replaced: the running
# executable is left without a single link on disk (a rebuild wrote a new file), or the
# binary now at target/PROFILE/NAME was written after the process started (its pid file).
# The second catches a rebuild under a new name in target/PROFILE/deps, which cargo makes when
# a dependency changed and which leaves the old file linked there. Re-pointing
# target/PROFILE/NAME alone does not count: `cargo test` and `cargo build` link different
# feature sets there, both kept under deps/, and switching between them keeps each file's
# time of writing, so a process started after both builds is left alone.
runs_replaced_binary() {
    local pid links
    pid=$(stack_pid "$1") || return 1
    links=$(stat -L -c %h "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ $links == 0 || $PLATFORM_BIN/$1 -nt $PID_DIR/$1.pid ]]
}

# Whether the named process runs a binary of the other profile (debug while STACK_PROFILE is
# release, or the reverse): a benchmark would otherwise measure the wrong build without a word.
runs_other_profile() {
    local pid exe
    pid=$(stack_pid "$1") || return 1
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ $exe != "$PLATFORM_BIN"/* ]]
}

# Whether NAME runs, but was started before template.yaml last changed (its pid file is
# written when it starts). The gateway, the dispatcher and the scheduler read the template
# once, at start.
runs_older_template() {
    is_running "$1" && [[ $REPO_DIR/template.yaml -nt $PID_DIR/$1.pid ]]
}

# Stops every running function of PLAN that listens on another port than the plan gives it
# now: a function added to template.yaml moves the ports of those after it in name order (and
# FUNCTION_BASE_PORT moves them all), and the moved ones must free their old ports before
# anything starts on them. Sets FUNCTIONS_MOVED=1 when one moved: the processes that call
# functions by port must then start again too.
FUNCTIONS_MOVED=0
stop_moved_functions() {
    local plan=$1 kind name context port pool recorded
    while read -r kind name context port pool; do
        [[ $kind == function ]] && is_running "$name" || continue
        recorded=$(cut -d' ' -f1 "$PID_DIR/$name.health" 2>/dev/null) || continue
        if [[ $recorded != "$port" ]]; then
            ok "$name: moves from port $recorded to $port; restarting it"
            stop_server "$name" >/dev/null
            FUNCTIONS_MOVED=1
        fi
    done <<<"$plan"
}

# Starts one platform process unless it already runs, and waits until it is ready (HEALTH_PATH
# answers 200); one already running must be ready too. One running a binary that was rebuilt
# since it started is stopped and started again, so `up` after a code change serves the change;
# so is one that reads the template and calls functions by port (TEMPLATE_READER=1) when the
# template changed since it started or a function moved to another port.
# Usage: [TEMPLATE_READER=1] start_process NAME PORT PORT_VARIABLE HEALTH_PATH COMMAND...
start_process() {
    local name=$1 port=$2 variable=$3 health=$4 log_file
    shift 4
    log_file="$FUNCTION_LOG_DIR/$name.log"
    if runs_other_profile "$name"; then
        ok "$name: runs a binary of another build than $STACK_PROFILE; restarting it"
        stop_server "$name" >/dev/null
    elif runs_replaced_binary "$name"; then
        ok "$name: its binary was rebuilt; restarting it"
        stop_server "$name" >/dev/null
    elif [[ ${TEMPLATE_READER:-} == 1 ]] && runs_older_template "$name"; then
        ok "$name: template.yaml changed since it started; restarting it"
        stop_server "$name" >/dev/null
    elif [[ ${TEMPLATE_READER:-} == 1 && $FUNCTIONS_MOVED == 1 ]] && is_running "$name"; then
        ok "$name: functions moved to other ports; restarting it"
        stop_server "$name" >/dev/null
    fi
    if is_running "$name"; then
        echo "$port $health" >"$PID_DIR/$name.health"
        wait_ready "$name" "$log_file" "$STACK_START_TIMEOUT"
        ok "$name: already running (pid $(stack_pid "$name"), port $port)"
        return 0
    fi
    require_free_port "$name" "$port" "$variable"
    mkdir -p "$FUNCTION_LOG_DIR"
    echo "$port $health" >"$PID_DIR/$name.health"
    start_detached "$name" "$log_file" "$@"
    wait_ready "$name" "$log_file" "$STACK_START_TIMEOUT"
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
    local plan bin="$PLATFORM_BIN" kind name context port pool method path
    # The fault knobs every process follows (local-stack/faults; all off until set).
    export FAULTS_FILE="$STACK_HOME/faults.json"
    # The outbox relay first: every event a function writes reaches Kafka through it. It is
    # ready once it delivered everything committed before it started, so one that stops on a
    # transaction it cannot pass fails `up` here (docs/adr/0025).
    start_process outbox-relay "$RELAY_PORT" RELAY_PORT /readyz env PORT="$RELAY_PORT" RUST_LOG="$FUNCTION_RUST_LOG" \
        CDC_DATABASE_URL="$CDC_DATABASE_URL" RELAY_DATABASE_URL="$RELAY_DATABASE_URL" \
        KAFKA_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP_SERVERS" "$bin/outbox-relay"
    plan=$("$STACKCTL" plan --template "$REPO_DIR/template.yaml" --base-port "$FUNCTION_BASE_PORT") ||
        die "template.yaml could not be read (above)."
    identity_env
    # The cart asks inventory's availability through the gateway, as the template's
    # InventoryUrl points at the API (docs/adr/0045).
    export INVENTORY_URL="${INVENTORY_URL:-http://127.0.0.1:$GATEWAY_PORT}"
    stop_moved_functions "$plan"
    while read -r kind name context port pool; do
        [[ $kind == function ]] || continue
        local url_variable="${context^^}_DATABASE_URL"
        # The pool one Knative instance of the function opens (ADR 0065): one local process
        # serves all of the function's requests at once.
        start_process "$name" "$port" FUNCTION_BASE_PORT /readyz env PORT="$port" FUNCTION_NAME="$name" \
            DATABASE_URL="${!url_variable:-}" DATABASE_MAX_CONNECTIONS="$pool" RUST_LOG="$FUNCTION_RUST_LOG" "$bin/$name"
    done <<<"$plan"
    # The dispatcher delivers every subscription of the template; without any it has nothing to do.
    if grep -q '^subscribe ' <<<"$plan"; then
        TEMPLATE_READER=1 start_process trigger-dispatcher "$DISPATCHER_PORT" DISPATCHER_PORT /healthz env RUST_LOG="$FUNCTION_RUST_LOG" \
            "$bin/trigger-dispatcher" --template "$REPO_DIR/template.yaml" \
            --function-base-port "$FUNCTION_BASE_PORT" --group-prefix local --metrics-port "$DISPATCHER_PORT"
    fi
    # The gateway also serves the built storefront (storefront/dist) under /shop/.
    TEMPLATE_READER=1 start_process local-gateway "$GATEWAY_PORT" GATEWAY_PORT /healthz env PORT="$GATEWAY_PORT" RUST_LOG="$FUNCTION_RUST_LOG" \
        STOREFRONT_DIR="$REPO_DIR/storefront/dist" CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-}" \
        "$bin/local-gateway" --template "$REPO_DIR/template.yaml" --function-base-port "$FUNCTION_BASE_PORT" \
        --openapi "$REPO_DIR/docs/api/openapi.json"
    TEMPLATE_READER=1 start_process local-scheduler "$SCHEDULER_PORT" SCHEDULER_PORT /healthz env PORT="$SCHEDULER_PORT" \
        RUST_LOG="$FUNCTION_RUST_LOG" "$bin/local-scheduler" --template "$REPO_DIR/template.yaml" \
        --function-base-port "$FUNCTION_BASE_PORT"
    while read -r kind method path name port; do
        if [[ $kind == route ]]; then printf '    %-7s %-28s → %s (port %s)\n' "$method" "$path" "$name" "$port"; fi
    done <<<"$plan"
    # A process can pass its check and fail a moment later (the relay reaching a transaction
    # it cannot pass, a function losing its database): look at all of them once more.
    platform_settled
}

# Fails, naming each one, unless every platform process still runs and is ready.
platform_settled() {
    local name health problems=()
    for name in $(platform_names); do
        if ! is_running "$name"; then
            print_log_tail "$FUNCTION_LOG_DIR/$name.log"
            problems+=("$name: exited (log $FUNCTION_LOG_DIR/$name.log)")
            continue
        fi
        health=0
        process_health "$name" || health=$?
        if ((health != 0)); then
            print_log_tail "$FUNCTION_LOG_DIR/$name.log"
            problems+=("$name: $HEALTH_PROBLEM")
        fi
    done
    ((${#problems[@]} == 0)) || die "The platform is not healthy:" "${problems[@]}"
}

# Every platform process with a pid file: functions, relay, dispatcher, gateway, scheduler.
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
    local name health unhealthy=()
    for name in $(platform_names); do
        if ! is_running "$name"; then
            warn "$name: STOPPED (log $FUNCTION_LOG_DIR/$name.log)"
            unhealthy+=("$name")
            continue
        fi
        health=0
        process_health "$name" || health=$?
        if ((health == 0)); then
            ok "$name: running (pid $(stack_pid "$name"), log $FUNCTION_LOG_DIR/$name.log)"
        else
            warn "$name: running (pid $(stack_pid "$name")) but $HEALTH_PROBLEM"
            unhealthy+=("$name")
        fi
    done
    # Forty lines of ticks can hide the one that matters: name them again at the end.
    if ((${#unhealthy[@]} > 0)); then
        warn "not running or not ready: ${unhealthy[*]}"
        return 1
    fi
}
