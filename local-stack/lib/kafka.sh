# Apache Kafka of the local stack: official jars resolved from Maven Central into a local
# folder (once), storage formatted once, one KRaft node started with the machine's Java.

KAFKA_VERSION=$(sed -n 's#.*<kafka.version>\(.*\)</kafka.version>.*#\1#p' "$STACK_DIR/kafka/pom.xml")
KAFKA_LIBS="$STACK_HOME/kafka/libs-$KAFKA_VERSION"
KAFKA_PROPERTIES="$STACK_HOME/kafka/server.properties"
KAFKA_LOG="$LOG_DIR/kafka.log"
# Extra Maven arguments, e.g. a settings file with a mirror or a proxy.
: "${STACK_MAVEN_ARGS:=}"

# Finds a Java 17 or newer: $JAVA_HOME first, then the PATH. Installs Debian's default JRE
# when there is none at all.
kafka_java() {
    local java
    if [[ -n ${JAVA_HOME:-} ]]; then
        java="$JAVA_HOME/bin/java"
        [[ -x $java ]] || die "JAVA_HOME is $JAVA_HOME but $java does not exist." \
            "Point JAVA_HOME at a Java 17 or newer installation, or unset it to use java from the PATH."
    else
        if ! command -v java >/dev/null 2>&1; then
            warn "No Java found; Kafka needs Java 17 or newer"
            ensure_packages default-jre-headless >&2
        fi
        java=$(command -v java) || die "Java was not found after installing it." \
            "Install a Java 17 or newer (apt-get install default-jre-headless) or set JAVA_HOME."
    fi
    local major
    major=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
    [[ -n $major ]] && ((major >= 17)) ||
        die "Kafka $KAFKA_VERSION needs Java 17 or newer; $java is version ${major:-unknown}." \
            "Install one (apt-get install openjdk-17-jre-headless) and set JAVA_HOME to it."
    echo "$java"
}

kafka_fetch_jars() {
    [[ -f $KAFKA_LIBS/.complete ]] && return 0
    command -v mvn >/dev/null 2>&1 || ensure_packages maven
    say "Resolving Apache Kafka $KAFKA_VERSION from Maven Central (once; cached in ~/.m2 and $KAFKA_LIBS)"
    rm -rf "$KAFKA_LIBS"
    # shellcheck disable=SC2086 # STACK_MAVEN_ARGS is a list of arguments.
    if ! mvn -B -q -f "$STACK_DIR/kafka/pom.xml" $STACK_MAVEN_ARGS dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" >"$LOG_DIR/maven.log" 2>&1; then
        print_log_tail "$LOG_DIR/maven.log"
        rm -rf "$KAFKA_LIBS"
        die "Could not download the Kafka $KAFKA_VERSION jars from Maven Central; the full log is $LOG_DIR/maven.log." \
            "Check the network, or configure a mirror or proxy in ~/.m2/settings.xml (STACK_MAVEN_ARGS passes extra Maven flags)."
    fi
    touch "$KAFKA_LIBS/.complete"
    ok "kafka jars: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) in $KAFKA_LIBS"
}

kafka_write_config() {
    mkdir -p "$STACK_HOME/kafka/data"
    sed -e "s#@STACK_HOME@#$STACK_HOME#g" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
        -e "s#@KAFKA_CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
        "$STACK_DIR/conf/kafka.properties" >"$KAFKA_PROPERTIES"
}

kafka_healthy() { port_open "$KAFKA_PORT"; }

kafka_up() {
    local java
    java=$(kafka_java)
    kafka_fetch_jars
    kafka_write_config
    if is_running kafka; then
        ok "kafka: already running (pid $(stack_pid kafka), port $KAFKA_PORT)"
        return 0
    fi
    require_free_port Kafka "$KAFKA_PORT" KAFKA_PORT
    require_free_port "Kafka's controller" "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT

    if [[ ! -f $STACK_HOME/kafka/data/meta.properties ]]; then
        say "Formatting Kafka's storage (KRaft, once)"
        local cluster_id
        cluster_id=$("$java" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
        "$java" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format --ignore-formatted \
            -t "$cluster_id" -c "$KAFKA_PROPERTIES" >"$LOG_DIR/kafka-format.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/kafka-format.log"; die "Formatting Kafka's storage failed; see $LOG_DIR/kafka-format.log"; }
    fi

    start_detached kafka "$KAFKA_LOG" "$java" -Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$STACK_DIR/conf/log4j2.properties" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPERTIES"
    wait_until kafka "$KAFKA_LOG" "$STACK_START_TIMEOUT" kafka_healthy
    ok "kafka: running (pid $(stack_pid kafka), port $KAFKA_PORT, Kafka $KAFKA_VERSION on Java $("$java" -version 2>&1 | head -1 | cut -d'"' -f2))"
}

kafka_status() {
    if is_running kafka && kafka_healthy; then
        ok "kafka: healthy (pid $(stack_pid kafka), port $KAFKA_PORT, log $KAFKA_LOG)"
    else
        warn "kafka: stopped or not answering"; return 1
    fi
}
