# Apache Kafka of the local stack: official jars resolved from Maven Central into a local
# folder (once), storage formatted once, one KRaft node started with the machine's Java.
# With observability on (OBSERVABILITY=1, or this stack's Prometheus running), the broker runs
# with the Prometheus JMX exporter agent, serving its metrics on 127.0.0.1:KAFKA_EXPORTER_PORT
# (docs/adr/0056).

KAFKA_VERSION=$(sed -n 's#.*<kafka.version>\(.*\)</kafka.version>.*#\1#p' "$STACK_DIR/kafka/pom.xml")
KAFKA_LIBS="$STACK_HOME/kafka/libs-$KAFKA_VERSION"
KAFKA_PROPERTIES="$STACK_HOME/kafka/server.properties"
KAFKA_LOG="$LOG_DIR/kafka.log"
JMX_EXPORTER_VERSION=$(sed -n 's#.*<jmx.exporter.version>\(.*\)</jmx.exporter.version>.*#\1#p' "$STACK_DIR/kafka/pom.xml")
KAFKA_AGENT_DIR="$STACK_HOME/kafka/jmx-exporter-$JMX_EXPORTER_VERSION"
KAFKA_AGENT_JAR="$KAFKA_AGENT_DIR/jmx_prometheus_javaagent-$JMX_EXPORTER_VERSION.jar"
KAFKA_AGENT_CONFIG="$STACK_DIR/observability/jmx-exporter/kafka.yml"
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

# Copies dependencies of local-stack/kafka/pom.xml into DIR, once; DIR/.complete marks a
# finished copy, so an interrupted one starts over: maven_copy DIR LOG WHAT MAVEN_ARGS...
maven_copy() {
    local dir=$1 log=$2 what=$3
    shift 3
    [[ -f $dir/.complete ]] && return 0
    command -v mvn >/dev/null 2>&1 || ensure_packages maven
    say "Resolving $what from Maven Central (once; cached in ~/.m2 and $dir)"
    rm -rf "$dir"
    # shellcheck disable=SC2086 # STACK_MAVEN_ARGS is a list of arguments.
    if ! mvn -B -q -f "$STACK_DIR/kafka/pom.xml" $STACK_MAVEN_ARGS dependency:copy-dependencies \
        "$@" -DoutputDirectory="$dir" >"$log" 2>&1; then
        print_log_tail "$log"
        rm -rf "$dir"
        die "Could not download $what from Maven Central; the full log is $log." \
            "Check the network, or configure a mirror or proxy in ~/.m2/settings.xml (STACK_MAVEN_ARGS passes extra Maven flags)."
    fi
    touch "$dir/.complete"
}

kafka_fetch_jars() {
    [[ -f $KAFKA_LIBS/.complete ]] && return 0
    maven_copy "$KAFKA_LIBS" "$LOG_DIR/maven.log" "Apache Kafka $KAFKA_VERSION" -DincludeScope=runtime
    ok "kafka jars: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) in $KAFKA_LIBS"
}

# The JMX exporter agent: the pom's `provided` scope alone, into a folder of its own (once).
kafka_fetch_agent() {
    [[ -f $KAFKA_AGENT_DIR/.complete ]] && return 0
    maven_copy "$KAFKA_AGENT_DIR" "$LOG_DIR/maven-jmx-exporter.log" \
        "the Prometheus JMX exporter agent $JMX_EXPORTER_VERSION" -DincludeScope=provided -DexcludeTransitive=true
    if [[ ! -f $KAFKA_AGENT_JAR ]]; then
        rm -rf "$KAFKA_AGENT_DIR"
        die "Maven copied no $(basename "$KAFKA_AGENT_JAR") into $KAFKA_AGENT_DIR; see $LOG_DIR/maven-jmx-exporter.log."
    fi
    ok "JMX exporter agent: $KAFKA_AGENT_JAR"
}

# Whether Kafka should carry the exporter: observability is asked for, or is already on
# (Prometheus keeps running through later plain `up` runs, chaos restarts included), or
# KAFKA_METRICS=1 asks for the agent alone: the test command starts Kafka with it, so that
# turning observability on later in the suite does not restart the broker under the tests.
kafka_agent_wanted() { [[ ${OBSERVABILITY:-0} == 1 || ${KAFKA_METRICS:-0} == 1 ]] || is_running prometheus; }

# The -javaagent argument; the running broker is compared with it.
kafka_agent_argument() { echo "-javaagent:$KAFKA_AGENT_JAR=127.0.0.1:$KAFKA_EXPORTER_PORT:$KAFKA_AGENT_CONFIG"; }

# Whether the running broker was started with the agent, on today's port and configuration.
kafka_has_agent() {
    local pid arguments
    pid=$(stack_pid kafka) || return 1
    # Read whole, not piped into `grep -q`, whose early exit fails the pipe under pipefail.
    arguments=$'\n'$({ tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null)$'\n'
    [[ $arguments == *$'\n'"$(kafka_agent_argument)"$'\n'* ]]
}

kafka_exporter_healthy() {
    local metrics
    metrics=$(curl -fsS "http://127.0.0.1:$KAFKA_EXPORTER_PORT/metrics" 2>/dev/null) || return 1
    [[ $metrics == *$'\n'"kafka_controller_active_controller_count 1"* ]]
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
    local agent=()
    if kafka_agent_wanted; then
        kafka_fetch_agent
        agent=("$(kafka_agent_argument)")
    fi
    if is_running kafka; then
        if ((${#agent[@]} == 0)) || kafka_has_agent; then
            ok "kafka: already running (pid $(stack_pid kafka), port $KAFKA_PORT${agent:+, metrics on port $KAFKA_EXPORTER_PORT})"
            return 0
        fi
        # An agent is attached at start-up only. Its clients (relay, dispatcher, functions)
        # reconnect by themselves, as they do after the chaos run's kills.
        say "Restarting Kafka to load the JMX exporter (observability is on; it was started without it)"
        stop_server kafka 60
    fi
    require_free_port Kafka "$KAFKA_PORT" KAFKA_PORT
    require_free_port "Kafka's controller" "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
    ((${#agent[@]} == 0)) || require_free_port "Kafka's JMX exporter" "$KAFKA_EXPORTER_PORT" KAFKA_EXPORTER_PORT

    if [[ ! -f $STACK_HOME/kafka/data/meta.properties ]]; then
        say "Formatting Kafka's storage (KRaft, once)"
        local cluster_id
        cluster_id=$("$java" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
        "$java" -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool format --ignore-formatted \
            -t "$cluster_id" -c "$KAFKA_PROPERTIES" >"$LOG_DIR/kafka-format.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/kafka-format.log"; die "Formatting Kafka's storage failed; see $LOG_DIR/kafka-format.log"; }
    fi

    start_detached kafka "$KAFKA_LOG" "$java" -Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC "${agent[@]}" \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$STACK_DIR/conf/log4j2.properties" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPERTIES"
    wait_until kafka "$KAFKA_LOG" "$STACK_START_TIMEOUT" kafka_healthy
    ok "kafka: running (pid $(stack_pid kafka), port $KAFKA_PORT, Kafka $KAFKA_VERSION on Java $("$java" -version 2>&1 | head -1 | cut -d'"' -f2))"
    if ((${#agent[@]})); then
        wait_until kafka "$KAFKA_LOG" "$STACK_START_TIMEOUT" kafka_exporter_healthy
        ok "kafka: metrics on http://127.0.0.1:$KAFKA_EXPORTER_PORT/metrics (JMX exporter $JMX_EXPORTER_VERSION)"
    fi
}

kafka_status() {
    if is_running kafka && kafka_healthy; then
        ok "kafka: healthy (pid $(stack_pid kafka), port $KAFKA_PORT, log $KAFKA_LOG)"
    else
        warn "kafka: stopped or not answering"; return 1
    fi
}
