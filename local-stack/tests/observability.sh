#!/usr/bin/env bash
# Checks `OBSERVABILITY=1 local-stack/up` on the running stack: Prometheus and the exporters
# come up, every target the scrape config names answers (every function, the relay, the
# dispatcher, the gateway, the scheduler, MariaDB's and Redis's exporters, Kafka's JMX
# exporter agent), each function reports its readiness, Kafka's broker metrics have values,
# and the alert rules are loaded without evaluation errors. A stack whose Kafka was started
# without the agent has it restarted with it by that `up` (docs/adr/0056).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
source "$STACK_DIR/lib/build.sh"
source "$STACK_DIR/lib/functions.sh"
source "$STACK_DIR/lib/observability.sh"

passed=0
failed=0
pass() { ok "$1"; passed=$((passed + 1)); }
fail() { warn "$1"; failed=$((failed + 1)); }

OBSERVABILITY=1 "$STACK_DIR/up" >"$LOG_DIR/observability-up.log" 2>&1 ||
    { print_log_tail "$LOG_DIR/observability-up.log"; die "OBSERVABILITY=1 local-stack/up failed (log above)."; }
pass "OBSERVABILITY=1 up starts Prometheus and the exporters"

api="http://127.0.0.1:$PROMETHEUS_PORT/api/v1"
functions=$("$STACKCTL" plan --template "$REPO_DIR/template.yaml" --base-port "$FUNCTION_BASE_PORT" | grep -c '^function ')

# Prometheus scrapes every 5 s; until each target has been scraped once, its health is unknown.
targets_report() {
    curl -fsS "$api/targets?state=active" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
down = []
for target in targets:
    if target["health"] != "up":
        name = target["labels"].get("function") or target["labels"]["job"]
        down.append("%s (%s: %s)" % (name, target["health"], target.get("lastError") or "not scraped yet"))
print(len(targets), len(down), "; ".join(down))'
}
deadline=$((SECONDS + 60))
while true; do
    report=$(targets_report) || die "Prometheus's targets API did not answer at $api."
    read -r total down rest <<<"$report"
    [[ $down == 0 && $total -gt 0 ]] && break
    if ((SECONDS >= deadline)); then
        fail "not every target is up after 60 s: $down of $total down: $rest"
        break
    fi
    sleep 1
done
[[ $down == 0 ]] && pass "all $total targets are up (the $functions functions, relay, dispatcher, gateway, scheduler, MariaDB's and Redis's exporters, Kafka)"
[[ $total == $((functions + 7)) ]] || fail "Prometheus scrapes $total targets; template.yaml has $functions functions, plus 7 other processes"

query() {
    curl -fsS --get "$api/query" --data-urlencode "query=$1" |
        python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
ready=$(query 'sum(function_ready{job="functions"})')
[[ $ready == "$functions" ]] && pass "function_ready is 1 for each of the $functions functions" ||
    fail "sum(function_ready{job=\"functions\"}) is $ready, not $functions"
[[ $(query 'mysql_up') == 1 ]] && pass "MariaDB's exporter reaches MariaDB (mysql_up 1)" || fail "mysql_up is not 1"
[[ $(query 'redis_up') == 1 ]] && pass "Redis's exporter reaches Redis (redis_up 1)" || fail "redis_up is not 1"

# Kafka: the job is scraped and the broker's own metrics have values. The dispatcher's
# consumers fetch all the time, so the count of consumer fetches grows within seconds
# of a (re)start; the first scrapes after one may not have them yet.
kafka_report() {
    printf '%s %s %s' "$(query 'up{job="kafka"}')" \
        "$(query 'sum(kafka_controller_active_controller_count{job="kafka"})')" \
        "$(query 'sum(kafka_network_requests_total{job="kafka", request="FetchConsumer"})')"
}
deadline=$((SECONDS + 60))
while true; do
    read -r kafka_up controllers fetches <<<"$(kafka_report)"
    [[ $kafka_up == 1 && $controllers == 1 && $fetches != none && $fetches != 0 ]] && break
    ((SECONDS < deadline)) || break
    sleep 1
done
if [[ $kafka_up == 1 && $controllers == 1 && $fetches != none && $fetches != 0 ]]; then
    pass "Prometheus scrapes Kafka (job kafka): one active controller, $fetches consumer fetches counted"
else
    fail "Kafka's metrics after 60 s: up{job=\"kafka\"} $kafka_up, active controllers $controllers, consumer fetches $fetches"
fi

rules=$(curl -fsS "$api/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r["name"] + ": " + r.get("lastError", "") for r in rules if r.get("health") == "err"]
print(len(rules), len(bad), "; ".join(bad))')
read -r count bad rest <<<"$rules"
expected=$(grep -c '^      - alert:' "$OBSERVABILITY_DIR/prometheus/rules/"*.yml | awk -F: '{s += $NF} END {print s}')
[[ $count == "$expected" && $bad == 0 ]] && pass "the $count alert rules are loaded and evaluate without errors" ||
    fail "$count rules loaded (expected $expected), $bad with errors: $rest"

# Prometheus evaluates every query of the Grafana dashboards (a bad one answers 400).
refused=$(python3 "$OBSERVABILITY_DIR/grafana/dashboards.py" --exprs | while IFS= read -r expr; do
    curl -fsS -o /dev/null --get "$api/query" --data-urlencode "query=$expr" || printf '%s; ' "$expr"
done)
queries=$(python3 "$OBSERVABILITY_DIR/grafana/dashboards.py" --exprs | wc -l)
[[ -z $refused ]] && pass "Prometheus evaluates all $queries queries of the Grafana dashboards" ||
    fail "Prometheus refuses dashboard queries: $refused"

echo "observability: $passed passed, $failed failed"
((failed == 0))
