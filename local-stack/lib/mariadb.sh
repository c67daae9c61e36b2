# MariaDB of the local stack: install, initialise once, start, wait, bootstrap the admin user.

MARIADB_CNF="$STACK_HOME/mariadb/my.cnf"
MARIADB_LOG="$LOG_DIR/mariadb.log"

mariadb_client() { mariadb --defaults-file="$MARIADB_CNF" --protocol=socket -uroot "$@"; }

mariadb_healthy() { mariadb-admin --defaults-file="$MARIADB_CNF" --protocol=socket -uroot ping >/dev/null 2>&1; }

mariadb_write_config() {
    mkdir -p "$STACK_HOME/mariadb"
    local run_as=""
    # mariadbd refuses to run as root unless told to; elsewhere it runs as the calling user.
    ((EUID == 0)) && run_as="user                           = root"
    sed -e "s#@STACK_HOME@#$STACK_HOME#g" -e "s#@MARIADB_PORT@#$MARIADB_PORT#g" -e "s#@RUN_AS@#$run_as#" \
        "$STACK_DIR/conf/mariadb.cnf" >"$MARIADB_CNF"
}

mariadb_up() {
    ensure_packages mariadb-server mariadb-client
    mariadb_write_config
    if is_running mariadb; then
        ok "mariadb: already running (pid $(stack_pid mariadb), port $MARIADB_PORT)"
        return 0
    fi
    require_free_port MariaDB "$MARIADB_PORT" MARIADB_PORT

    if [[ ! -d $STACK_HOME/mariadb/data/mysql ]]; then
        say "Initialising MariaDB's data folder"
        rm -rf "$STACK_HOME/mariadb/data"
        # The root account authenticates by the socket as the OS user running the stack, so
        # no password is needed or stored for it.
        mariadb-install-db --defaults-file="$MARIADB_CNF" --skip-test-db \
            --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" \
            >"$LOG_DIR/mariadb-install.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/mariadb-install.log"; die "mariadb-install-db failed; see $LOG_DIR/mariadb-install.log"; }
    fi

    local mariadbd
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    # --defaults-file names $STACK_HOME, which is how stack_pid recognises the process.
    start_detached mariadb "$MARIADB_LOG" "$mariadbd" --defaults-file="$MARIADB_CNF"
    wait_until mariadb "$MARIADB_LOG" "$STACK_START_TIMEOUT" mariadb_healthy

    # The admin account used by provisioning and tests: over TCP, with a password.
    mariadb_client <<SQL
CREATE USER IF NOT EXISTS 'stack_admin'@'%' IDENTIFIED BY '$STACK_ADMIN_PASSWORD';
ALTER USER 'stack_admin'@'%' IDENTIFIED BY '$STACK_ADMIN_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'stack_admin'@'%' WITH GRANT OPTION;
SQL
    ok "mariadb: running (pid $(stack_pid mariadb), port $MARIADB_PORT)"
}

mariadb_status() {
    if is_running mariadb && mariadb_healthy; then
        ok "mariadb: healthy (pid $(stack_pid mariadb), port $MARIADB_PORT, log $MARIADB_LOG)"
    elif is_running mariadb; then
        warn "mariadb: running but not answering (pid $(stack_pid mariadb), log $MARIADB_LOG)"; return 1
    else
        warn "mariadb: stopped"; return 1
    fi
}
