# Prometheus and the exporters of the local stack, with `OBSERVABILITY=1 local-stack/up`
# (docs/adr/0053). Prometheus scrapes every platform process (functions, relay, dispatcher,
# gateway, scheduler), the MariaDB and Redis exporters and Kafka's JMX exporter agent (loaded
# into the broker by lib/kafka.sh, docs/adr/0056), and evaluates the alert rules of
# local-stack/observability/prometheus/rules. All of it listens on 127.0.0.1 only.
# Uses lib/kafka.sh's helpers: the scripts that call these functions source both.

: "${PROMETHEUS_PORT:=9090}"
: "${MYSQLD_EXPORTER_PORT:=9104}"
: "${REDIS_EXPORTER_PORT:=9121}"
export PROMETHEUS_PORT MYSQLD_EXPORTER_PORT REDIS_EXPORTER_PORT

OBSERVABILITY_DIR="$STACK_DIR/observability"
PROMETHEUS_HOME="$STACK_HOME/prometheus"
PROMETHEUS_LOG="$LOG_DIR/prometheus.log"
MYSQLD_EXPORTER_LOG="$LOG_DIR/mysqld-exporter.log"
REDIS_EXPORTER_LOG="$LOG_DIR/redis-exporter.log"
# The exporter's MariaDB account may read status and variables, nothing else.
EXPORTER_DB_USER=metrics_exporter

observability_enabled() { [[ ${OBSERVABILITY:-0} == 1 ]]; }

prometheus_healthy() { curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }
mysqld_exporter_healthy() { curl -fsS "http://127.0.0.1:$MYSQLD_EXPORTER_PORT/metrics" 2>/dev/null | grep -q '^mysql_up 1'; }
redis_exporter_healthy() { curl -fsS "http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics" 2>/dev/null | grep -q '^redis_up 1'; }

# The scrape targets, as file_sd JSON: Prometheus rereads the file when it changes, so
# functions that move to other ports are followed without a restart.
write_prometheus_targets() {
    local plan=$1 kind name context port pool first=1
    mkdir -p "$PROMETHEUS_HOME"
    {
        echo '['
        while read -r kind name context port pool; do
            [[ $kind == function ]] || continue
            ((first)) || echo ','
            first=0
            printf '  {"targets": ["127.0.0.1:%s"], "labels": {"job": "functions", "function": "%s", "context": "%s"}}' \
                "$port" "$name" "$context"
        done <<<"$plan"
        for target in "outbox-relay $RELAY_PORT" "trigger-dispatcher $DISPATCHER_PORT" \
            "local-gateway $GATEWAY_PORT" "local-scheduler $SCHEDULER_PORT" \
            "mariadb $MYSQLD_EXPORTER_PORT" "redis $REDIS_EXPORTER_PORT"; do
            read -r name port <<<"$target"
            printf ',\n  {"targets": ["127.0.0.1:%s"], "labels": {"job": "%s"}}' "$port" "$name"
        done
        echo
        echo ']'
    } >"$PROMETHEUS_HOME/targets.json.tmp"
    mv "$PROMETHEUS_HOME/targets.json.tmp" "$PROMETHEUS_HOME/targets.json"

    # The `kafka` job has a configuration of its own (it keeps only some of the JVM's
    # series). Only this stack's Kafka carries the agent: a Kafka started elsewhere
    # (`up --provision-only`) is not a target.
    if is_running kafka; then
        printf '[{"targets": ["127.0.0.1:%s"]}]\n' "$KAFKA_EXPORTER_PORT"
    else
        echo '[]'
    fi >"$PROMETHEUS_HOME/kafka-targets.json.tmp"
    mv "$PROMETHEUS_HOME/kafka-targets.json.tmp" "$PROMETHEUS_HOME/kafka-targets.json"
}

write_prometheus_config() {
    sed -e "s#@TARGETS@#$PROMETHEUS_HOME/targets.json#g" \
        -e "s#@KAFKA_TARGETS@#$PROMETHEUS_HOME/kafka-targets.json#g" \
        -e "s#@RULES@#$OBSERVABILITY_DIR/prometheus/rules/*.yml#g" \
        "$OBSERVABILITY_DIR/prometheus/prometheus.yml" >"$PROMETHEUS_HOME/prometheus.yml"
}

ensure_exporter_account() {
    local password=$STACK_CONTEXT_PASSWORD
    mariadb --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" -ustack_admin -p"$STACK_ADMIN_PASSWORD" -e "
        CREATE USER IF NOT EXISTS '$EXPORTER_DB_USER'@'127.0.0.1' IDENTIFIED BY '$password' WITH MAX_USER_CONNECTIONS 3;
        GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR ON *.* TO '$EXPORTER_DB_USER'@'127.0.0.1';" \
        >"$LOG_DIR/mysqld-exporter-account.log" 2>&1 ||
        { print_log_tail "$LOG_DIR/mysqld-exporter-account.log"; die "Could not create MariaDB's exporter account (above)."; }
}

# Starts what is not running; Prometheus rereads its targets and rules on SIGHUP when it runs.
observability_up() {
    local plan=$1
    ensure_packages prometheus prometheus-mysqld-exporter prometheus-redis-exporter
    mkdir -p "$PROMETHEUS_HOME/data"
    write_prometheus_targets "$plan"
    write_prometheus_config
    promtool check config "$PROMETHEUS_HOME/prometheus.yml" >"$LOG_DIR/promtool.log" 2>&1 ||
        { cat "$LOG_DIR/promtool.log" >&2; die "The Prometheus configuration or its rules are invalid (above)."; }

    if ! is_running mysqld-exporter; then
        require_free_port "MariaDB's exporter" "$MYSQLD_EXPORTER_PORT" MYSQLD_EXPORTER_PORT
        ensure_exporter_account
        # 0.14 reads its connection from DATA_SOURCE_NAME.
        start_detached mysqld-exporter "$MYSQLD_EXPORTER_LOG" env \
            DATA_SOURCE_NAME="$EXPORTER_DB_USER:$STACK_CONTEXT_PASSWORD@(127.0.0.1:$MARIADB_PORT)/" \
            prometheus-mysqld-exporter --web.listen-address="127.0.0.1:$MYSQLD_EXPORTER_PORT"
    fi
    wait_until mysqld-exporter "$MYSQLD_EXPORTER_LOG" "$STACK_START_TIMEOUT" mysqld_exporter_healthy
    ok "mysqld-exporter: running (pid $(stack_pid mysqld-exporter), port $MYSQLD_EXPORTER_PORT)"

    if ! is_running redis-exporter; then
        require_free_port "Redis's exporter" "$REDIS_EXPORTER_PORT" REDIS_EXPORTER_PORT
        start_detached redis-exporter "$REDIS_EXPORTER_LOG" prometheus-redis-exporter \
            -redis.addr "redis://127.0.0.1:$REDIS_PORT" -web.listen-address "127.0.0.1:$REDIS_EXPORTER_PORT"
    fi
    wait_until redis-exporter "$REDIS_EXPORTER_LOG" "$STACK_START_TIMEOUT" redis_exporter_healthy
    ok "redis-exporter: running (pid $(stack_pid redis-exporter), port $REDIS_EXPORTER_PORT)"

    if ! is_running kafka; then
        warn "kafka: not this stack's, so not scraped (its metrics come from an agent loaded at its start)"
    elif kafka_has_agent && kafka_exporter_healthy; then
        ok "kafka: JMX exporter answers (port $KAFKA_EXPORTER_PORT)"
    else
        warn "kafka: runs without the JMX exporter on port $KAFKA_EXPORTER_PORT, so KafkaBrokerDown will fire; OBSERVABILITY=1 local-stack/up restarts it with the exporter"
    fi

    if is_running prometheus; then
        kill -HUP "$(stack_pid prometheus)"
    else
        require_free_port Prometheus "$PROMETHEUS_PORT" PROMETHEUS_PORT
        start_detached prometheus "$PROMETHEUS_LOG" prometheus --config.file="$PROMETHEUS_HOME/prometheus.yml" \
            --storage.tsdb.path="$PROMETHEUS_HOME/data" --storage.tsdb.retention.time=7d \
            --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"
    fi
    wait_until prometheus "$PROMETHEUS_LOG" "$STACK_START_TIMEOUT" prometheus_healthy
    ok "prometheus: running (pid $(stack_pid prometheus), http://127.0.0.1:$PROMETHEUS_PORT, alerts at /alerts)"
}

observability_down() {
    stop_server prometheus
    stop_server redis-exporter
    stop_server mysqld-exporter
}

observability_status() {
    local healthy=0 name check port
    for name in prometheus mysqld-exporter redis-exporter; do
        case $name in
        prometheus) check=prometheus_healthy port=$PROMETHEUS_PORT ;;
        mysqld-exporter) check=mysqld_exporter_healthy port=$MYSQLD_EXPORTER_PORT ;;
        redis-exporter) check=redis_exporter_healthy port=$REDIS_EXPORTER_PORT ;;
        esac
        if ! is_running "$name"; then
            observability_enabled && { warn "$name: stopped"; healthy=1; }
        elif "$check"; then
            ok "$name: healthy (pid $(stack_pid "$name"), port $port)"
        else
            warn "$name: running but not healthy (port $port)"; healthy=1
        fi
    done
    # Kafka's exporter lives in the broker's JVM: reported whenever Prometheus runs.
    if is_running prometheus && is_running kafka; then
        if kafka_has_agent && kafka_exporter_healthy; then
            ok "kafka-exporter: healthy (in Kafka's JVM, port $KAFKA_EXPORTER_PORT)"
        else
            warn "kafka-exporter: Kafka runs without it, or it does not answer (port $KAFKA_EXPORTER_PORT); OBSERVABILITY=1 local-stack/up restarts Kafka with it"
            healthy=1
        fi
    fi
    return "$healthy"
}
