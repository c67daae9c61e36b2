# Redis of the local stack: install, start with AOF on, wait.

REDIS_CONF="$STACK_HOME/redis/redis.conf"
REDIS_LOG="$LOG_DIR/redis.log"

redis_healthy() { [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_up() {
    ensure_packages redis-server redis-tools
    mkdir -p "$STACK_HOME/redis"
    sed -e "s#@STACK_HOME@#$STACK_HOME#g" -e "s#@REDIS_PORT@#$REDIS_PORT#g" "$STACK_DIR/conf/redis.conf" >"$REDIS_CONF"
    if is_running redis; then
        ok "redis: already running (pid $(stack_pid redis), port $REDIS_PORT)"
        return 0
    fi
    require_free_port Redis "$REDIS_PORT" REDIS_PORT
    local redis_server
    redis_server=$(command -v redis-server || echo /usr/bin/redis-server)
    start_detached redis "$REDIS_LOG" "$redis_server" "$REDIS_CONF"
    wait_until redis "$REDIS_LOG" "$STACK_START_TIMEOUT" redis_healthy
    ok "redis: running (pid $(stack_pid redis), port $REDIS_PORT)"
}

redis_status() {
    if is_running redis && redis_healthy; then
        ok "redis: healthy (pid $(stack_pid redis), port $REDIS_PORT, log $REDIS_LOG)"
    else
        warn "redis: stopped or not answering"; return 1
    fi
}
