#!/usr/bin/env bash
# Checks the fault knobs on the running stack: `local-stack/faults` switches them without a
# restart, each process shows them on /metrics, a function answers 503 FAULT_INJECTED while
# its knob is on (its probes stay healthy), a paused relay holds events until it resumes, and
# clearing the knobs restores everything. Leaves every knob off.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
source "$STACK_DIR/lib/build.sh"
source "$STACK_DIR/lib/functions.sh"
[[ -f $STACK_HOME/stack.env ]] || die "No $STACK_HOME/stack.env: start the platform with local-stack/up first."
set -a; source "$STACK_HOME/stack.env"; set +a

passed=0
failed=0
pass() { ok "$1"; passed=$((passed + 1)); }
fail() { warn "$1"; failed=$((failed + 1)); }
faults() { "$STACK_DIR/faults" "$@" >/dev/null; }
trap 'faults clear' EXIT

gateway="http://127.0.0.1:$GATEWAY_PORT"
port_of() { "$STACKCTL" plan --template "$REPO_DIR/template.yaml" --base-port "$FUNCTION_BASE_PORT" | awk -v f="$1" '$1 == "function" && $2 == f {print $4}'; }
metric() { curl -fsS "http://127.0.0.1:$1/metrics" | awk -v name="$2" '$1 == name {print $2}'; }
# Polls CHECK (a command) for up to 30 s: a loaded machine moves events slowly.
within() {
    local deadline=$((SECONDS + 30))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

faults clear
product_port=$(port_of get-product)

# A function's knob.
faults set function.get-product.unavailable-rate=1
status_of_product() { curl -s -o /dev/null -w '%{http_code}' "$gateway/products/no-such-product"; }
refused() { [[ $(curl -s "$gateway/products/no-such-product") == *'"FAULT_INJECTED"'* ]]; }
within refused && pass "with function.get-product.unavailable-rate=1, GET /products/… answers 503 FAULT_INJECTED" ||
    fail "get-product did not answer FAULT_INJECTED within 30 s"
shown() { [[ $(metric "$product_port" 'fault_knob{knob="unavailable_rate",target="get-product"}') == 1 ]]; }
within shown && pass "get-product's /metrics shows fault_knob{knob=\"unavailable_rate\"} 1" || fail "the knob is not on get-product's /metrics"
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$product_port/readyz") == 200 ]] &&
    pass "get-product's /readyz stays 200 (the knob spares probes)" || fail "get-product's /readyz is not 200 under the knob"
faults set function.get-product.unavailable-rate=0
answered() { [[ $(status_of_product) == 404 ]]; }
within answered && pass "set back to 0, the same request answers 404 PRODUCT_NOT_FOUND again" || fail "get-product still refuses after the knob went off"

# The relay's knob: a registration's event waits while the relay is paused, and goes out after.
published() { metric "$RELAY_PORT" outbox_relay_events_published_total; }
faults set relay.paused=true
paused_shown() { [[ $(metric "$RELAY_PORT" 'fault_knob{knob="relay_paused",target=""}') == 1 ]]; }
within paused_shown && pass "the relay's /metrics shows fault_knob{knob=\"relay_paused\"} 1" || fail "relay_paused is not on the relay's /metrics"
before=$(published)
source_ip="127.$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2))"
registered=$(curl -s --interface "$source_ip" -o /dev/null -w '%{http_code}' -X POST "$gateway/auth/register" \
    -H 'content-type: application/json' \
    -d "{\"email\":\"faults-$(date +%s%N)@example.com\",\"password\":\"fault knob passphrase\",\"displayName\":\"Faults\"}")
[[ $registered == 201 ]] || fail "registering a user answered $registered"
moved() { [[ $(published) != "$before" ]]; }
if within_two() { local deadline=$((SECONDS + 2)); until moved; do ((SECONDS < deadline)) || return 1; sleep 0.2; done; }; within_two; then
    fail "the relay published while paused"
else
    pass "while paused, the relay publishes nothing (2 s after a registration)"
fi
# The publish-time lag freezes while nothing is published; the outbox backlog's age does not.
backlog_age() { curl -fsS "http://127.0.0.1:$RELAY_PORT/metrics" | awk '$1 ~ /^outbox_relay_backlog_age_seconds[{]/ && $2 > m {m = $2} END {print m + 0}'; }
aging() { awk -v age="$(backlog_age)" 'BEGIN {exit !(age >= 1)}'; }
within aging && pass "while paused, outbox_relay_backlog_age_seconds grows ($(backlog_age) s)" ||
    fail "the backlog's age did not grow while the relay was paused ($(backlog_age) s)"
faults set relay.paused=false
within moved && pass "resumed, the relay publishes the held event" || fail "the relay did not publish within 30 s of resuming"
drained() { awk -v age="$(backlog_age)" 'BEGIN {exit !(age < 1)}'; }
within drained && pass "resumed, the backlog's age is back under a second" || fail "the backlog's age stayed at $(backlog_age) s after resuming"

# The payment gateway's and the dispatcher's knobs show where they act.
faults set payment.latency-ms=250 dispatcher.reserve-stock.delay-ms=100
payment_shown() { [[ $(metric "$(port_of authorize-payment)" 'fault_knob{knob="payment_latency_ms",target=""}') == 250 ]]; }
within payment_shown && pass "authorize-payment's /metrics shows payment_latency_ms 250" || fail "payment_latency_ms is not on authorize-payment's /metrics"
delivery_shown() { [[ $(metric "$DISPATCHER_PORT" 'fault_knob{knob="delivery_delay_ms",target="reserve-stock"}') == 100 ]]; }
within delivery_shown && pass "the dispatcher's /metrics shows delivery_delay_ms 100 for reserve-stock" || fail "delivery_delay_ms is not on the dispatcher's /metrics"
faults clear
cleared() { [[ $(metric "$DISPATCHER_PORT" 'fault_knob{knob="delivery_delay_ms",target="reserve-stock"}') == 0 ]]; }
within cleared && pass "cleared, every knob reads 0 again" || fail "the dispatcher still shows a delay after clear"

# The dispatcher's failure knob: deliveries to one function fail, are retried, and arrive once
# the knob is off. A withdrawal's user.withdrawn is read by project-customer-status.
attempts() { metric "$DISPATCHER_PORT" "dispatcher_delivery_attempts_total{function=\"project-customer-status\",topic=\"commerce.identity.user\",verdict=\"$1\"}"; }
register() {
    curl -s --interface "$source_ip" -o /dev/null -w '%{http_code}' -X POST "$gateway/auth/register" \
        -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"fault knob passphrase\",\"displayName\":\"Faults\"}"
}
faults set dispatcher.project-customer-status.failure-rate=1
failing_shown() { [[ $(metric "$DISPATCHER_PORT" 'fault_knob{knob="delivery_failure_rate",target="project-customer-status"}') == 1 ]]; }
within failing_shown || fail "delivery_failure_rate is not on the dispatcher's /metrics"
retried_before=$(attempts retryable)
acknowledged_before=$(attempts acknowledged)
withdrawing="faults-dispatch-$(date +%s%N)@example.com"
withdrawn=$(register "$withdrawing")
if [[ $withdrawn == 201 ]] && token=$(curl -fsS --interface "$source_ip" -X POST "$gateway/auth/login" \
    -H 'content-type: application/json' -d "{\"email\":\"$withdrawing\",\"password\":\"fault knob passphrase\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])'); then
    withdrawn=$(curl -s --interface "$source_ip" -o /dev/null -w '%{http_code}' -X DELETE "$gateway/users/me" \
        -H "authorization: Bearer $token" -H 'content-type: application/json' -d '{"password":"fault knob passphrase"}')
fi
[[ $withdrawn == 204 ]] || fail "registering and withdrawing a user ended with $withdrawn"
retried() { [[ ${retried_before:-0} != "$(attempts retryable)" ]]; }
within retried && pass "with dispatcher.project-customer-status.failure-rate=1, its deliveries fail and are retried" ||
    fail "no retried delivery to project-customer-status within 30 s"
faults set dispatcher.project-customer-status.failure-rate=0
delivered() { [[ ${acknowledged_before:-0} != "$(attempts acknowledged)" ]]; }
# The retry waits out its backoff first.
deadline_delivered() { local deadline=$((SECONDS + 60)); until delivered; do ((SECONDS < deadline)) || return 1; sleep 0.2; done; }
deadline_delivered && pass "set back to 0, the held event is delivered by a retry" || fail "the event did not reach project-customer-status within 60 s"

# The payment gateway's knob, seen from a shopper: an outage cancels the order, and the next one
# confirms once the knob is off (faults_saga.py).
grant_admin=${GRANT_ADMIN:-$REPO_DIR/target/$STACK_PROFILE/identity-admin}
admin_email="faults-admin-$(date +%s%N)@example.com"
if [[ $(register "$admin_email") == 201 ]] &&
    DATABASE_URL=$IDENTITY_DATABASE_URL "$grant_admin" grant-admin "$admin_email" >/dev/null 2>&1 &&
    admin=$(curl -fsS --interface "$source_ip" -X POST "$gateway/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$admin_email\",\"password\":\"fault knob passphrase\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])'); then
    if python3 "$STACK_DIR/tests/faults_saga.py" "$gateway" "$admin" "$source_ip" "$STACK_DIR/faults" \
        "http://127.0.0.1:$DISPATCHER_PORT/metrics" "http://127.0.0.1:$(port_of authorize-payment)/metrics"; then
        passed=$((passed + 2))
    else
        fail "the payment gateway's knob did not act on the saga as expected (above)"
    fi
else
    fail "could not make an admin account for the saga check"
fi

echo "faults: $passed passed, $failed failed"
((failed == 0))
