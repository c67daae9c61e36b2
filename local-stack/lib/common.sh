# Shared helpers of the local-stack scripts. Sourced, never run.
#
# Everything the stack writes (data, logs, pid files, generated configs) lives under
# $STACK_HOME, by default local-stack/var/, which git ignores. Each server's pid file is the
# only way the scripts find "their" process, and a pid is trusted only while its command line
# still names $STACK_HOME, so a recycled pid of an unrelated process is never signalled.

set -euo pipefail

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$STACK_DIR/.." && pwd)"

# Ports and paths; every one can be overridden from the environment.
: "${STACK_HOME:=$STACK_DIR/var}"
: "${MARIADB_PORT:=3307}"
: "${KAFKA_PORT:=9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${REDIS_PORT:=6380}"
# Kafka's JMX exporter, loaded into the broker when observability is on (docs/adr/0056).
: "${KAFKA_EXPORTER_PORT:=9308}"
: "${STACK_ADMIN_PASSWORD:=local-admin}"
: "${STACK_CONTEXT_PASSWORD:=local-only}"
: "${KAFKA_HEAP:=768m}"
: "${STACK_START_TIMEOUT:=90}"
export STACK_HOME MARIADB_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT KAFKA_EXPORTER_PORT \
    STACK_ADMIN_PASSWORD STACK_CONTEXT_PASSWORD

LOG_DIR="$STACK_HOME/logs"
PID_DIR="$STACK_HOME/run"

if [[ -t 1 ]]; then BOLD=$'\e[1m'; RED=$'\e[31m'; GREEN=$'\e[32m'; RESET=$'\e[0m'; else BOLD='' RED='' GREEN='' RESET=''; fi

say() { printf '%s==>%s %s\n' "$BOLD" "$RESET" "$*"; }
ok() { printf '    %s✓%s %s\n' "$GREEN" "$RESET" "$*"; }
warn() { printf '    %s!%s %s\n' "$RED" "$RESET" "$*" >&2; }

# Prints the message (and any further lines given) to stderr and exits.
die() {
    printf '%serror:%s %s\n' "$RED" "$RESET" "$1" >&2
    shift
    local line
    for line in "$@"; do printf '       %s\n' "$line" >&2; done
    exit 1
}

ensure_dirs() { mkdir -p "$STACK_HOME" "$LOG_DIR" "$PID_DIR"; }

# ---------------------------------------------------------------------------------------
# Processes

# The pid of the named server if it is running and was started by this stack, else nothing.
stack_pid() {
    local name=$1 pid_file="$PID_DIR/$1.pid" pid
    [[ -f $pid_file ]] || return 1
    pid=$(<"$pid_file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    # /proc also answers for a thread's id, which a stale pid file may name: a thread of the
    # Kafka broker then passed for the process whose pid it once was.
    [[ $(thread_group "$pid") == "$pid" ]] || return 1
    # The pid may have been reused since the file was written, by any process, including one
    # this script started (a build, whose environment names $STACK_HOME too): the start time
    # recorded beside the pid must still match.
    if [[ -f $PID_DIR/$name.start ]]; then
        [[ $(process_start_time "$pid") == "$(<"$PID_DIR/$name.start")" ]] || return 1
    fi
    # Every process the stack starts names $STACK_HOME: the servers on their command line,
    # the platform's own processes in their environment (they inherit STACK_HOME). The files
    # are read whole rather than piped into `grep -q`, whose early exit would make the pipe
    # fail under pipefail.
    local cmdline environ state
    # A killed process whose parent is gone may linger as a zombie where nothing reaps it
    # (containers without an init); it is not running.
    state=$({ cut -d' ' -f3 "/proc/$pid/stat"; } 2>/dev/null) || return 1
    [[ $state != Z ]] || return 1
    cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
    environ=$'\n'$({ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null || true)$'\n'
    if [[ $cmdline == *"$STACK_HOME"* || $environ == *$'\n'"STACK_HOME=$STACK_HOME"$'\n'* ]]; then
        echo "$pid"
    else
        return 1
    fi
}

is_running() { stack_pid "$1" >/dev/null; }

# The process a thread id belongs to (the id itself for a process).
thread_group() {
    local line
    while read -r line; do
        if [[ $line == Tgid:* ]]; then
            echo "${line##*[[:space:]]}"
            return 0
        fi
    done <"/proc/$1/status" 2>/dev/null
    return 1
}

# When a process started, in clock ticks after boot (field 22 of /proc/PID/stat; set at fork,
# so it does not change when the process execs). The fields are counted after the command
# name, which is in parentheses and may contain spaces.
process_start_time() {
    local stat fields
    stat=$(<"/proc/$1/stat") 2>/dev/null || return 1
    read -r -a fields <<<"${stat##*) }"
    echo "${fields[19]}"
}

# Whether the process in NAME's pid file still exists, recognised or not: one just started
# may not have exec'd its binary yet (a loaded machine can take seconds for that), and until
# then it is a copy of this script that stack_pid does not recognise. Start-up waits use this
# to tell "not started yet" from "exited".
pid_alive() {
    local pid state
    pid=$(<"$PID_DIR/$1.pid") 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ && $(thread_group "$pid") == "$pid" ]] || return 1
    state=$({ cut -d' ' -f3 "/proc/$pid/stat"; } 2>/dev/null) || return 1
    [[ $state != Z ]] || return 1
    [[ ! -f $PID_DIR/$1.start || $(process_start_time "$pid") == "$(<"$PID_DIR/$1.start")" ]]
}

# Starts a command in its own session, detached from this shell, logging to a file.
# Usage: start_detached NAME LOG_FILE COMMAND...
start_detached() {
    local name=$1 log_file=$2
    shift 2
    setsid "$@" >>"$log_file" 2>&1 </dev/null &
    echo $! >"$PID_DIR/$name.pid"
    process_start_time $! >"$PID_DIR/$name.start" || rm -f "$PID_DIR/$name.start"
    # Until the child has exec'd, /proc shows a copy of this script, which stack_pid rightly
    # does not recognise; give it a moment so callers do not mistake that for a crash.
    local deadline=$((SECONDS + 5))
    until is_running "$name" || ((SECONDS >= deadline)); do sleep 0.05; done
}

# Stops a server started by this stack: SIGTERM, then SIGKILL after a grace period.
stop_server() {
    local name=$1 grace=${2:-30} pid deadline
    if ! pid=$(stack_pid "$name"); then
        rm -f "$PID_DIR/$name.pid" "$PID_DIR/$name.health" "$PID_DIR/$name.start"
        ok "$name: not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while is_running "$name" && ((SECONDS < deadline)); do sleep 0.2; done
    if is_running "$name"; then
        warn "$name (pid $pid) ignored SIGTERM for ${grace}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_DIR/$name.pid" "$PID_DIR/$name.health" "$PID_DIR/$name.start"
    ok "$name: stopped (pid $pid)"
}

# ---------------------------------------------------------------------------------------
# Ports and health

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Describes who listens on a port, when the machine can tell.
port_owner() {
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -1
    fi
}

# Refuses to start NAME on PORT when another process already listens there.
require_free_port() {
    local name=$1 port=$2 variable=$3 owner
    if port_open "$port"; then
        owner=$(port_owner "$port")
        die "Port $port, wanted by $name, is in use by another process${owner:+ ($owner)}." \
            "Stop that process, or pick another port: $variable=<port> $0"
    fi
}

# Waits until CHECK (a command) succeeds, or fails after the deadline showing the log tail.
# Usage: wait_until NAME LOG_FILE TIMEOUT_SECONDS CHECK...
wait_until() {
    local name=$1 log_file=$2 timeout=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ! is_running "$name" && ! pid_alive "$name"; then
            print_log_tail "$log_file"
            die "$name exited during start-up; its log is $log_file (last lines above)."
        fi
        if ((SECONDS >= deadline)); then
            print_log_tail "$log_file"
            die "$name did not become healthy within ${timeout}s; its log is $log_file (last lines above)."
        fi
        sleep 0.3
    done
}

print_log_tail() {
    [[ -f $1 ]] || return 0
    printf -- '----- last lines of %s -----\n' "$1" >&2
    tail -n 25 "$1" >&2
    printf -- '-----\n' >&2
}

# ---------------------------------------------------------------------------------------
# Installing what is missing

# Installs the Debian packages that are not installed yet. Needs root or sudo; says what to
# run otherwise.
APT_UPDATED=""
ensure_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    ((${#missing[@]} == 0)) && return 0

    command -v apt-get >/dev/null 2>&1 ||
        die "Missing packages: ${missing[*]}, and this machine has no apt-get." \
            "Install them with your package manager, then run $0 again."
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 ||
            die "Missing packages: ${missing[*]}; installing them needs root." \
                "Run: sudo apt-get install -y ${missing[*]}"
        sudo=(sudo)
    fi
    say "Installing ${missing[*]} from Debian's packages"
    if [[ -z $APT_UPDATED ]]; then
        "${sudo[@]}" apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/apt.log"; die "Debian's package archive cannot be reached (apt-get update failed)." \
                "Check the network or the proxy in /etc/apt/apt.conf.d, or install by hand: apt-get install ${missing[*]}"; }
        APT_UPDATED=1
    fi
    # Debian's maintainer scripts would start the system-wide MariaDB and Redis services; the
    # stack runs its own instances, so service start-up is denied while installing.
    local guard=/usr/sbin/policy-rc.d guard_added=""
    if [[ ! -e $guard ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$guard" >/dev/null && "${sudo[@]}" chmod +x "$guard" && guard_added=1
    fi
    local status=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >>"$LOG_DIR/apt.log" 2>&1 || status=$?
    [[ -n $guard_added ]] && "${sudo[@]}" rm -f "$guard"
    if ((status != 0)); then
        print_log_tail "$LOG_DIR/apt.log"
        die "Installing ${missing[*]} failed (apt-get exit $status); the full log is $LOG_DIR/apt.log." \
            "If the archive is unreachable, check the network or proxy, or install them by hand."
    fi
    ok "installed ${missing[*]}"
}

# Writes the environment that tools, tests and functions use to reach the stack.
write_env_file() {
    local file="$STACK_HOME/stack.env" context
    {
        echo "# Written by local-stack/up; source it to reach the local stack."
        echo "MARIADB_HOST=127.0.0.1"
        echo "MARIADB_PORT=$MARIADB_PORT"
        echo "STACK_ADMIN_PASSWORD=$STACK_ADMIN_PASSWORD"
        echo "STACK_CONTEXT_PASSWORD=$STACK_CONTEXT_PASSWORD"
        echo "STACK_MARIADB_ADMIN_URL=mysql://stack_admin:$STACK_ADMIN_PASSWORD@127.0.0.1:$MARIADB_PORT"
        # One URL per schema the stack provisions: the contexts, and the relay's own.
        for context in $(cd "$REPO_DIR/migrations" && ls -d -- */ | tr -d /); do
            echo "${context^^}_DATABASE_URL=mysql://$context:$STACK_CONTEXT_PASSWORD@127.0.0.1:$MARIADB_PORT/$context"
        done
        echo "CDC_DATABASE_URL=mysql://cdc:$STACK_CONTEXT_PASSWORD@127.0.0.1:$MARIADB_PORT"
        echo "KAFKA_PORT=$KAFKA_PORT"
        # Not needed to reach the stack, but to restart Kafka where it was (chaos sources this).
        echo "KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT"
        echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT"
        # Where a restarted Kafka serves its metrics again when observability is on.
        echo "KAFKA_EXPORTER_PORT=$KAFKA_EXPORTER_PORT"
        echo "REDIS_PORT=$REDIS_PORT"
        echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
        echo "FUNCTION_BASE_PORT=${FUNCTION_BASE_PORT:-8100}"
        echo "GATEWAY_PORT=${GATEWAY_PORT:-8080}"
        echo "DISPATCHER_PORT=${DISPATCHER_PORT:-9464}"
        echo "RELAY_PORT=${RELAY_PORT:-9465}"
        echo "SCHEDULER_PORT=${SCHEDULER_PORT:-$((${DISPATCHER_PORT:-9464} + 2))}"
        echo "PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}"
    } >"$file"
}
