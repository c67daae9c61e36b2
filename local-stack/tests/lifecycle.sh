#!/usr/bin/env bash
# Checks what the README promises about the local stack's scripts, on a stack of its own
# (its own STACK_HOME and ports) so the main stack keeps running undisturbed:
# a failed step can be retried, `up` twice is harmless, `up` after a rebuild restarts what
# changed, a server killed with SIGKILL comes
# back with its data, a process that is not ready makes `up` and `status` fail naming it (a
# function that cannot reach its database; a relay stopped by a transaction it cannot pass,
# which the operator's republish gets going again), `down` stops exactly what was started,
# and a bad environment gets a message that says what to do.
set -uo pipefail

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK=$(mktemp -d /tmp/stack-lifecycle.XXXXXX)
export STACK_HOME="$WORK/home"
export MARIADB_PORT=${LIFECYCLE_MARIADB_PORT:-3317}
export KAFKA_PORT=${LIFECYCLE_KAFKA_PORT:-9192}
export KAFKA_CONTROLLER_PORT=${LIFECYCLE_KAFKA_CONTROLLER_PORT:-9193}
export REDIS_PORT=${LIFECYCLE_REDIS_PORT:-6390}
export FUNCTION_BASE_PORT=${LIFECYCLE_FUNCTION_BASE_PORT:-8300}
export GATEWAY_PORT=${LIFECYCLE_GATEWAY_PORT:-8290}
export DISPATCHER_PORT=${LIFECYCLE_DISPATCHER_PORT:-9474}
export RELAY_PORT=${LIFECYCLE_RELAY_PORT:-9475}
export SCHEDULER_PORT=${LIFECYCLE_SCHEDULER_PORT:-9476}
# The environment of the main stack must not leak into this one.
unset STACK_MARIADB_ADMIN_URL KAFKA_BOOTSTRAP_SERVERS REDIS_URL

passed=0
failed=0
pass() { passed=$((passed + 1)); printf '    ok - %s\n' "$1"; }
fail() {
    failed=$((failed + 1))
    printf '    not ok - %s\n' "$1"
    [[ -n ${2:-} && -f $2 ]] && sed 's/^/        | /' "$2" | tail -n 30
}
cleanup() {
    "$STACK_DIR/down" >/dev/null 2>&1
    [[ -n ${busy_pid:-} ]] && kill "$busy_pid" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

run() { "$@" >"$WORK/out.log" 2>&1; }
# Alive and not a zombie (a killed process nobody reaps stays in /proc as state Z).
alive() { [[ -r /proc/$1/stat ]] && [[ $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) != Z ]]; }
pid_of() { cat "$STACK_HOME/run/$1.pid" 2>/dev/null; }
admin_sql() {
    mariadb --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" -ustack_admin -p"${STACK_ADMIN_PASSWORD:-local-admin}" -N -B -e "$1"
}
# The relay's health answer (its body), or nothing when it does not answer.
relay_health() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET /healthz HTTP/1.0\r\nConnection: close\r\n\r\n" >&3; cat <&3' _ "$RELAY_PORT" 2>/dev/null |
        tail -n 1
}
# The platform's binaries, as `up` built them.
PLATFORM_BIN="$STACK_DIR/../target/${STACK_PROFILE:-debug}"
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
kafka_tool() { local libs=("$STACK_HOME"/kafka/libs-*); "$JAVA" -cp "${libs[0]}/*" "$@"; }

# 1. Maven Central unreachable: Kafka's jars cannot be resolved. Simulated by Maven's offline
#    mode over an empty local repository. The message must name the cause and the way out.
if STACK_MAVEN_ARGS="-o -Dmaven.repo.local=$WORK/empty-m2" run "$STACK_DIR/up"; then
    fail "up fails when Kafka's jars cannot be downloaded" "$WORK/out.log"
elif grep -q "Could not download Apache Kafka" "$WORK/out.log" && grep -q "settings.xml" "$WORK/out.log"; then
    pass "up explains that Kafka's jars could not be downloaded and how to configure a mirror"
else
    fail "up explains that Kafka's jars could not be downloaded" "$WORK/out.log"
fi

# 2. After the failure is fixed, the same command finishes the job.
if run "$STACK_DIR/up" && run "$STACK_DIR/status"; then
    pass "up after a failed attempt brings every server up"
else
    fail "up after a failed attempt brings every server up" "$WORK/out.log"
fi

# 3. A second up leaves the running servers alone.
before="$(pid_of mariadb) $(pid_of kafka) $(pid_of redis)"
if run "$STACK_DIR/up" && [[ "$(pid_of mariadb) $(pid_of kafka) $(pid_of redis)" == "$before" ]] &&
    grep -q "already running" "$WORK/out.log"; then
    pass "a second up is harmless: same processes, nothing restarted"
else
    fail "a second up is harmless" "$WORK/out.log"
fi

# 3b. After a rebuild, up restarts the processes whose binary changed and only those. A build
#     writes new files in place of the old (target/PROFILE/NAME and its twin under deps/);
#     replacing both with copies of themselves stands in for one.
rebuilt_before=$(pid_of get-product) untouched_before=$(pid_of list-categories)
for file in $(find "$PLATFORM_BIN/deps" -maxdepth 1 -samefile "$PLATFORM_BIN/get-product") "$PLATFORM_BIN/get-product"; do
    cp -p "$file" "$file.rebuilt" && mv -f "$file.rebuilt" "$file"
done
if run "$STACK_DIR/up" && grep -q "get-product: its binary was rebuilt" "$WORK/out.log" &&
    ! grep -q "list-categories: its binary was rebuilt" "$WORK/out.log" && run "$STACK_DIR/status" &&
    [[ $(pid_of get-product) != "$rebuilt_before" ]] && [[ $(pid_of list-categories) == "$untouched_before" ]] &&
    ! alive "$rebuilt_before"; then
    pass "up restarts a function whose binary was rebuilt and leaves the others running"
else
    fail "up restarts a function whose binary was rebuilt and leaves the others running" "$WORK/out.log"
fi

# 3c. When functions move to other ports (a function added to template.yaml moves those after
#     it; FUNCTION_BASE_PORT moves all), up restarts them on their new ports and restarts the
#     gateway, so every route reaches its function; and back again.
gateway_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$GATEWAY_PORT" &&
        printf 'GET /categories HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 && head -1 <&3) 2>/dev/null | grep -q ' 200 '
}
moved_ok=1
for base in $((FUNCTION_BASE_PORT + 100)) "$FUNCTION_BASE_PORT"; do
    gateway_before=$(pid_of local-gateway)
    if ! FUNCTION_BASE_PORT=$base run "$STACK_DIR/up" || ! grep -q "list-categories: moves from port" "$WORK/out.log" ||
        [[ $(pid_of local-gateway) == "$gateway_before" ]] || ! gateway_answers ||
        ! FUNCTION_BASE_PORT=$base run "$STACK_DIR/status"; then
        moved_ok=0
        break
    fi
done
if ((moved_ok)); then
    pass "up moves running functions to new ports and restarts the gateway that routes to them"
else
    fail "up moves running functions to new ports and restarts the gateway that routes to them" "$WORK/out.log"
fi

# 3d. A pid file left behind by a function that died names a number the system may give to
#     something else, even to a thread of a stack server (the Kafka broker has dozens, and
#     /proc answers for a thread's id as for a process). up must not take that for the
#     function: it starts the function again.
victim=$(pid_of list-categories)
kafka_thread=$(ls "/proc/$(pid_of kafka)/task" | grep -vx "$(pid_of kafka)" | head -1)
kill -KILL "$victim" 2>/dev/null || true
while alive "$victim"; do sleep 0.1; done
echo "$kafka_thread" >"$STACK_HOME/run/list-categories.pid"
rm -f "$STACK_HOME/run/list-categories.start"
if [[ -n $kafka_thread ]] && run "$STACK_DIR/up" && grep -q "list-categories: running (pid" "$WORK/out.log" &&
    [[ $(pid_of list-categories) != "$kafka_thread" ]] && run "$STACK_DIR/status"; then
    pass "a stale pid file naming a thread of the broker is not mistaken for the function"
else
    fail "a stale pid file naming a thread of the broker is not mistaken for the function" "$WORK/out.log"
fi

# 4. MariaDB killed with SIGKILL comes back with its committed data.
admin_sql "CREATE DATABASE IF NOT EXISTS lifecycle; CREATE TABLE IF NOT EXISTS lifecycle.marker (id INT PRIMARY KEY);
           INSERT INTO lifecycle.marker VALUES (42);" >"$WORK/out.log" 2>&1
old_pid=$(pid_of mariadb)
kill -KILL "$old_pid"
while alive "$old_pid"; do sleep 0.1; done
if run "$STACK_DIR/up" && [[ $(admin_sql "SELECT id FROM lifecycle.marker" 2>&1) == 42 ]] && [[ $(pid_of mariadb) != "$old_pid" ]]; then
    pass "MariaDB killed with SIGKILL is restarted by up with its data intact"
else
    fail "MariaDB killed with SIGKILL is restarted by up with its data intact" "$WORK/out.log"
fi

# 5. Kafka killed with SIGKILL comes back with its topics and acknowledged records.
bootstrap="127.0.0.1:$KAFKA_PORT"
echo "order-1:kept-across-a-crash" | kafka_tool org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$bootstrap" \
    --topic commerce.ordering.order --property parse.key=true --property key.separator=: \
    --producer-property acks=all >"$WORK/produce.log" 2>&1
old_pid=$(pid_of kafka)
kill -KILL "$old_pid"
while alive "$old_pid"; do sleep 0.1; done
if run "$STACK_DIR/up" && grep -q "commerce.ordering.order: exists" "$WORK/out.log" &&
    kafka_tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bootstrap" \
        --topic commerce.ordering.order --from-beginning --max-messages 1 --timeout-ms 30000 2>"$WORK/consume.log" |
    grep -q "kept-across-a-crash"; then
    pass "Kafka killed with SIGKILL is restarted by up with its topics and records intact"
else
    cat "$WORK/produce.log" "$WORK/consume.log" >>"$WORK/out.log"
    fail "Kafka killed with SIGKILL is restarted by up with its topics and records intact" "$WORK/out.log"
fi

# 6. A port held by another program: up refuses and names the variable to change.
busy_port=${LIFECYCLE_BUSY_PORT:-3327}
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $busy_port)); s.listen(); time.sleep(600)" &
busy_pid=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$busy_port") 2>/dev/null; do kill -0 "$busy_pid" || break; sleep 0.1; done
if STACK_HOME="$WORK/other" MARIADB_PORT=$busy_port run "$STACK_DIR/up"; then
    fail "up refuses a port that another program holds" "$WORK/out.log"
elif grep -q "Port $busy_port, wanted by MariaDB, is in use" "$WORK/out.log" && grep -q "MARIADB_PORT=" "$WORK/out.log"; then
    pass "up refuses a port that another program holds and says which variable picks another"
else
    fail "up names the busy port and the variable to change" "$WORK/out.log"
fi
kill "$busy_pid" 2>/dev/null
busy_pid=""

# 7. No usable Java: a clear message, and the running servers are left as they were.
before="$(pid_of mariadb) $(pid_of kafka) $(pid_of redis)"
if JAVA_HOME="$WORK/no-such-jdk" run "$STACK_DIR/up"; then
    fail "up refuses a JAVA_HOME without Java" "$WORK/out.log"
elif grep -q "JAVA_HOME is $WORK/no-such-jdk" "$WORK/out.log" &&
    [[ "$(pid_of mariadb) $(pid_of kafka) $(pid_of redis)" == "$before" ]]; then
    pass "up explains a JAVA_HOME without Java and leaves the running servers alone"
else
    fail "up explains a JAVA_HOME without Java" "$WORK/out.log"
fi

# 8. A function that cannot reach its database is not ready: `up` waits for it, then fails
#    naming it, with the last lines of its log, and `status` fails too; once the database
#    lets it in again, both pass. (Provisioning resets passwords and grants on every `up`,
#    but not a locked account.)
# `status` asks every function's /readyz first, so the other catalog functions hold a pooled
# connection, which a locked account keeps; only the restarted get-product needs a new one.
run "$STACK_DIR/status"
function_pid=$(pid_of get-product)
admin_sql "ALTER USER 'catalog'@'%' ACCOUNT LOCK" >"$WORK/out.log" 2>&1
kill -TERM "$function_pid"
while alive "$function_pid"; do sleep 0.1; done
if STACK_START_TIMEOUT=15 run "$STACK_DIR/up"; then
    fail "up fails while a function is not ready" "$WORK/out.log"
elif grep -q "get-product did not become ready within 15s" "$WORK/out.log" && grep -q "database" "$WORK/out.log" &&
    grep -q -- "----- last lines of .*get-product.log" "$WORK/out.log" &&
    ! run "$STACK_DIR/status" && grep -q "get-product: running (pid [0-9]*) but not ready" "$WORK/out.log"; then
    pass "up and status fail naming a function that cannot reach its database, with its log"
else
    fail "up and status fail naming a function that is not ready" "$WORK/out.log"
fi
admin_sql "ALTER USER 'catalog'@'%' ACCOUNT UNLOCK" >"$WORK/out.log" 2>&1
if run "$STACK_DIR/up" && run "$STACK_DIR/status"; then
    pass "up and status pass again once the function reaches its database"
else
    fail "up and status pass again once the function reaches its database" "$WORK/out.log"
fi

# 9. A relay stopped by a transaction it cannot pass (a statement-logged insert into an outbox)
#    is loud: `status` fails naming it and the table, `up` fails instead of calling a restarted
#    relay running, and the operator's `outbox-relay republish` gets it going again.
poison_id=$(cat /proc/sys/kernel/random/uuid)
admin_sql "SET SESSION binlog_format = 'STATEMENT';
           INSERT INTO ordering.outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
           VALUES ('$poison_id', 'order', 'lifecycle-order', 'commerce.test.lifecycle-probe.v1', '{}',
                   'commerce.ordering.order', 'lifecycle-check', UTC_TIMESTAMP(6));" >"$WORK/out.log" 2>&1
deadline=$((SECONDS + 60))
until [[ $(relay_health) == *'"state":"failed"'* ]] || ((SECONDS >= deadline)); do sleep 0.2; done
health=$(relay_health)
if [[ $health == *'"state":"failed"'* && $health == *'ordering.outbox'* ]] && ! run "$STACK_DIR/status" &&
    grep -q "outbox-relay: running (pid [0-9]*) but FAILED" "$WORK/out.log" && grep -q "ordering.outbox" "$WORK/out.log"; then
    pass "a relay stopped by a statement-logged insert says why on /healthz, and status fails naming it"
else
    echo "relay /healthz: $health" >>"$WORK/out.log"
    fail "a stopped relay is named by status, with the table" "$WORK/out.log"
fi

# The crash-loop case: a relay restarted in front of the same transaction is not "running".
relay_pid=$(pid_of outbox-relay)
kill -TERM "$relay_pid"
while alive "$relay_pid"; do sleep 0.1; done
if run "$STACK_DIR/up"; then
    fail "up fails while the relay cannot pass a transaction" "$WORK/out.log"
elif grep -q "outbox-relay is up but FAILED" "$WORK/out.log" && grep -q "ordering.outbox" "$WORK/out.log" &&
    grep -q -- "----- last lines of" "$WORK/out.log" && ! grep -q "outbox-relay: running" "$WORK/out.log"; then
    pass "up fails with the relay's last error and log when a restarted relay stops on the same transaction"
else
    fail "up fails loudly when the restarted relay stops on the same transaction" "$WORK/out.log"
fi

gtid=$(relay_health | grep -oE '"transaction":"[0-9]+-[0-9]+-[0-9]+"' | head -1 | cut -d'"' -f4)
# The stopped relay notices its stored position move within a few seconds and starts again;
# until then /healthz still reports the failure, so wait for that (30 s at most) before up.
resumed() {
    local deadline=$((SECONDS + 30))
    local health
    until health=$(relay_health) && [[ -n $health && $health != *'"state":"failed"'* ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
if (set -a && source "$STACK_HOME/stack.env" && set +a &&
    "$PLATFORM_BIN/outbox-relay" republish --gtid "$gtid" --reason "lifecycle check: a hand-run insert") >"$WORK/out.log" 2>&1 &&
    resumed && run "$STACK_DIR/up" && run "$STACK_DIR/status" &&
    [[ $(admin_sql "SELECT COUNT(*) FROM ordering.outbox WHERE id = '$poison_id'") == 0 ]] &&
    [[ $(admin_sql "SELECT CONCAT(action, ' ', gtid) FROM relay.relay_intervention ORDER BY id DESC LIMIT 1") == "republish $gtid" ]]; then
    pass "outbox-relay republish publishes the transaction's row, records it, and up and status pass again"
else
    fail "outbox-relay republish gets the relay going again (transaction ${gtid:-unknown})" "$WORK/out.log"
fi

# 10. down stops exactly the processes up started, and the ports are free again.
pids="$(pid_of mariadb) $(pid_of kafka) $(pid_of redis) $(pid_of local-gateway) $(pid_of trigger-dispatcher)"
run "$STACK_DIR/down"
still_running=""
for pid in $pids; do if alive "$pid"; then still_running+=" $pid"; fi; done
ports_open=""
for port in "$MARIADB_PORT" "$KAFKA_PORT" "$REDIS_PORT" "$GATEWAY_PORT" "$FUNCTION_BASE_PORT" "$DISPATCHER_PORT" "$RELAY_PORT" "$SCHEDULER_PORT"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && ports_open+=" $port"
done
if [[ -z $still_running && -z $ports_open ]] && ! "$STACK_DIR/status" >/dev/null 2>&1; then
    pass "down stops every server it started and frees their ports"
else
    fail "down stops every server (still running:${still_running:- none}; ports open:${ports_open:- none})" "$WORK/out.log"
fi

# 11. The data outlives down and up.
if run "$STACK_DIR/up" && [[ $(admin_sql "SELECT id FROM lifecycle.marker" 2>&1) == 42 ]]; then
    pass "data survives down and up"
else
    fail "data survives down and up" "$WORK/out.log"
fi

echo "lifecycle: $passed passed, $failed failed"
((failed == 0))
