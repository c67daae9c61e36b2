#!/usr/bin/env bash
# Checks that `cargo lambda watch` serves every HTTP function of template.yaml through its
# Function URLs (`/lambda-url/<function>/<path>`), and walks a customer's path through them:
# register → login → place-order → get-order until the saga confirms the order.
#
# One `cargo lambda watch` per context (identity, catalog, inventory, ordering): under Lambda
# each function gets its own context's DATABASE_URL, and a watch gives one environment to every
# function it serves. The functions use the local stack's own databases, Redis and signing
# keys, so the stack's relay, dispatcher and event functions carry the saga exactly as they do
# for requests through the gateway. The accounts and the product are new on every run.
#
# Needs the local stack: reuses the environment of local-stack/test when it is set, else
# brings the stack up. Installs cargo-lambda 1.9.2 from PyPI when it is missing.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
source "$STACK_DIR/lib/build.sh"

# How long a function's first request may take: it includes cargo building the function.
FIRST_REQUEST_TIMEOUT=${LAMBDA_FIRST_INVOKE_TIMEOUT:-900}
# How long the saga may take to confirm an order (the e2e tests allow the same).
SETTLE_TIMEOUT=90
WORK=$(mktemp -d /tmp/stack-lambda-urls.XXXXXX)

passed=0
failed=0
pass() { passed=$((passed + 1)); printf '    ok - %s\n' "$1"; }
fail() {
    failed=$((failed + 1))
    printf '    not ok - %s\n' "$1"
    [[ -n ${2:-} && -f $2 ]] && sed 's/^/        | /' "$2" | tail -n 30
    return 0
}

declare -A watch_pid=() watch_port=()
cleanup() {
    # Each watch runs in a session of its own: its process group holds the watcher, the
    # `cargo run`s it starts and every function instance, and nothing else.
    local context deadline
    for context in "${!watch_pid[@]}"; do kill -TERM -- "-${watch_pid[$context]}" 2>/dev/null || true; done
    deadline=$((SECONDS + 10))
    for context in "${!watch_pid[@]}"; do
        while kill -0 -- "-${watch_pid[$context]}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL -- "-${watch_pid[$context]}" 2>/dev/null || true
        wait "${watch_pid[$context]}" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_cargo_lambda
if [[ -z ${STACK_MARIADB_ADMIN_URL:-} ]]; then
    "$STACK_DIR/up" >"$WORK/up.log" 2>&1 || { print_log_tail "$WORK/up.log"; die "The local stack did not come up (local-stack/up)."; }
    set -a
    # shellcheck source=/dev/null
    source "$STACK_HOME/stack.env"
    set +a
fi

# 1. The HTTP functions of the template and their contexts (`Tags.context`).
python3 - "$REPO_DIR/template.yaml" >"$WORK/http-functions" <<'PY'
import sys, yaml

class Loader(yaml.SafeLoader):
    pass

# CloudFormation's short forms (!Ref, !Sub, ...) do not matter here.
Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
template = yaml.load(open(sys.argv[1]), Loader=Loader)
for resource in template["Resources"].values():
    if resource["Type"] != "AWS::Serverless::Function":
        continue
    properties = resource["Properties"]
    events = (properties.get("Events") or {}).values()
    if any(event["Type"] == "HttpApi" for event in events):
        print(resource["Metadata"]["BuildProperties"]["Binary"], properties["Tags"]["context"])
PY
mapfile -t contexts < <(cut -d' ' -f2 "$WORK/http-functions" | sort -u)
[[ ${#contexts[@]} -gt 0 ]] || die "template.yaml declares no HTTP function."

# True when the socket listening on 127.0.0.1:PORT belongs to a process of session SID, so a
# port another program took between choosing and binding it is never mistaken for ours.
listens_in_session() {
    python3 - "$1" "$2" <<'PY'
import os, sys
port, session = int(sys.argv[1]), int(sys.argv[2])
sockets = set()
with open("/proc/net/tcp") as table:
    for line in table.readlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            sockets.add(f"socket:[{fields[9]}]")
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if os.getsid(int(pid)) != session:
            continue
        if any(os.readlink(f"/proc/{pid}/fd/{fd}") in sockets for fd in os.listdir(f"/proc/{pid}/fd")):
            sys.exit(0)
    except OSError:
        pass
sys.exit(1)
PY
}

# 2. One watch per context on a free port of 127.0.0.1. cargo-lambda cannot bind port 0 (it
#    takes 0 for its default, 9000), so a port is chosen, and taken again if another program
#    got it first (the watch then exits). --ignore-changes: other people edit the workspace
#    meanwhile, and a reload would restart a function mid-test.
start_watch() {
    local context=$1 url_variable="${1^^}_DATABASE_URL" attempt port deadline
    # The environment goes through a file, so no password shows on a command line.
    install -m 600 /dev/null "$WORK/$context.env"
    printf '%s\n' "DATABASE_URL=${!url_variable:?$url_variable is not set}" "REDIS_URL=$REDIS_URL" \
        "JWT_ISSUER=${JWT_ISSUER:-https://identity.commerce.local}" "JWT_AUDIENCE=${JWT_AUDIENCE:-commerce}" \
        "JWT_SIGNING_KEYS_FILE=$STACK_HOME/keys/signing-keys.json" "JWT_JWKS_FILE=$STACK_HOME/keys/jwks.json" \
        "RATE_LIMIT_HMAC_KEY_FILE=$STACK_HOME/keys/rate-limit-key" "MALLOC_MMAP_THRESHOLD_=131072" \
        "RUST_LOG=info" >"$WORK/$context.env"
    for attempt in 1 2 3; do
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        (cd "$REPO_DIR" && exec setsid cargo lambda watch --package "$context" --invoke-address 127.0.0.1 \
            --invoke-port "$port" --ignore-changes --env-file "$WORK/$context.env") >"$WORK/watch-$context.log" 2>&1 &
        watch_pid[$context]=$!
        deadline=$((SECONDS + 60))
        until listens_in_session "$port" "${watch_pid[$context]}"; do
            kill -0 "${watch_pid[$context]}" 2>/dev/null || break
            ((SECONDS < deadline)) || die "cargo lambda watch ($context) did not listen on 127.0.0.1:$port within 60 s" \
                "log: $(tail -n 5 "$WORK/watch-$context.log")"
            sleep 0.2
        done
        if kill -0 "${watch_pid[$context]}" 2>/dev/null; then
            watch_port[$context]=$port
            return 0
        fi
        wait "${watch_pid[$context]}" 2>/dev/null || true
        unset "watch_pid[$context]"
    done
    print_log_tail "$WORK/watch-$context.log"
    die "cargo lambda watch ($context) could not take a port in three attempts."
}
for context in "${contexts[@]}"; do start_watch "$context"; done
pass "cargo lambda watch listens for ${contexts[*]} ($(for c in "${contexts[@]}"; do printf '%s:%s ' "$c" "${watch_port[$c]}"; done | sed 's/ $//'))"

# The Function URL base of a function: its context's watch.
url_of() {
    local name=$1 context
    context=$(awk -v name="$name" '$1 == name { print $2 }' "$WORK/http-functions")
    printf 'http://127.0.0.1:%s/lambda-url/%s' "${watch_port[$context]}" "$name"
}

# 3. Every HTTP function answers its own /healthz through its Function URL. The first request
#    to a function builds (when needed) and starts it; they run one after another because
#    cargo builds one thing at a time in a target directory.
started=$SECONDS
while read -r name _; do
    status=$(curl -s -o "$WORK/health.out" -w '%{http_code}' --max-time "$FIRST_REQUEST_TIMEOUT" \
        "$(url_of "$name")/healthz" || true)
    if [[ $status == 200 ]]; then
        pass "GET /lambda-url/$name/healthz answers 200"
    else
        context=$(awk -v name="$name" '$1 == name { print $2 }' "$WORK/http-functions")
        cat "$WORK/watch-$context.log" >>"$WORK/health.out"
        fail "GET /lambda-url/$name/healthz answers 200 (got $status)" "$WORK/health.out"
    fi
done <"$WORK/http-functions"
printf '    # every HTTP function started in %ss\n' "$((SECONDS - started))"

# Sends METHOD to FUNCTION's URL + PATH with an optional bearer TOKEN, Idempotency-Key and
# JSON BODY; the answer's body goes to $WORK/answer.json and its status to stdout.
call() {
    local method=$1 name=$2 path=$3 token=${4:-} key=${5:-} body=${6:-} args=()
    [[ -n $token ]] && args+=(-H "authorization: Bearer $token")
    [[ -n $key ]] && args+=(-H "idempotency-key: $key")
    [[ -n $body ]] && args+=(-H 'content-type: application/json' --data "$body")
    curl -s -o "$WORK/answer.json" -w '%{http_code}' --max-time 60 -X "$method" "${args[@]}" \
        "$(url_of "$name")$path" || true
}
# A field of the last answer by its dotted path (data.orderId); empty when absent.
field() {
    python3 -c 'import json, sys
try:
    value = json.load(open(sys.argv[1]))
    for key in sys.argv[2].split("."):
        value = value[key]
    print(value)
except (OSError, ValueError, KeyError, TypeError):
    print("")' "$WORK/answer.json" "$1"
}
# Registers an account and logs it in; prints the access token.
register_and_login() {
    local email=$1 password=$2 status
    status=$(call POST register-user /auth/register "" "" \
        "{\"email\":\"$email\",\"password\":\"$password\",\"displayName\":\"Lambda URL test\"}")
    [[ $status == 201 ]] || { cp "$WORK/answer.json" "$WORK/failed.json"; return 1; }
    status=$(call POST login /auth/login "" "" "{\"email\":\"$email\",\"password\":\"$password\"}")
    [[ $status == 200 ]] || { cp "$WORK/answer.json" "$WORK/failed.json"; return 1; }
    field data.accessToken
}

# 4. An admin puts a product on sale with stock, through create-product and set-stock (the
#    admin role is granted the way an operator does it, with identity-admin).
run_id="$(date +%s)-$$"
password="correct horse battery $run_id"
admin_email="lambda-admin-$run_id@example.com"
customer_email="lambda-customer-$run_id@example.com"
product_id="lambda-url-$run_id"
status=$(call POST register-user /auth/register "" "" \
    "{\"email\":\"$admin_email\",\"password\":\"$password\",\"displayName\":\"Lambda URL admin\"}")
[[ $status == 201 ]] || { print_log_tail "$WORK/answer.json"; die "register-user answered $status for the admin."; }
(cd "$REPO_DIR" && DATABASE_URL=$IDENTITY_DATABASE_URL cargo run -q --locked -p identity --bin identity-admin -- \
    grant-admin "$admin_email") >"$WORK/grant.log" 2>&1 || { print_log_tail "$WORK/grant.log"; die "identity-admin grant-admin failed."; }
status=$(call POST login /auth/login "" "" "{\"email\":\"$admin_email\",\"password\":\"$password\"}")
admin_token=$(field data.accessToken)
[[ $status == 200 && -n $admin_token ]] || { print_log_tail "$WORK/answer.json"; die "The admin could not log in (status $status)."; }
status=$(call POST create-product /admin/products "$admin_token" "" \
    "{\"productId\":\"$product_id\",\"name\":\"Lambda URL cup\",\"priceMinor\":1250,\"currency\":\"EUR\"}")
[[ $status == 201 ]] || { print_log_tail "$WORK/answer.json"; die "create-product answered $status."; }
status=$(call PUT set-stock "/admin/inventory/$product_id" "$admin_token" "" '{"onHand":5}')
[[ $status == 200 ]] || { print_log_tail "$WORK/answer.json"; die "set-stock answered $status."; }
pass "an admin created $product_id at 12.50 EUR with 5 in stock through create-product and set-stock"

# 5. The customer's path: register → login → place-order → get-order.
if customer_token=$(register_and_login "$customer_email" "$password") && [[ -n $customer_token ]]; then
    pass "register-user and login: a new customer registered and got an access token"
else
    fail "register-user and login: a new customer registered and got an access token" "$WORK/failed.json"
    exit 1
fi
# Until ordering's projection has the product (the catalog event travels through the relay and
# Kafka) place-order answers UNKNOWN_PRODUCT; under a rush it may answer 503. Both are asked
# again with the same Idempotency-Key.
order_body="{\"lines\":[{\"productId\":\"$product_id\",\"quantity\":2}],\"paymentToken\":\"tok_approve\"}"
deadline=$((SECONDS + SETTLE_TIMEOUT))
while :; do
    status=$(call POST place-order /orders "$customer_token" "order-$run_id" "$order_body")
    [[ $status == 503 || $(field error.code) == UNKNOWN_PRODUCT ]] || break
    ((SECONDS < deadline)) || break
    sleep 0.5
done
order_id=$(field data.orderId)
if [[ $status == 201 && -n $order_id ]]; then
    pass "place-order: order $order_id created (201)"
else
    fail "place-order: the order is created (got $status)" "$WORK/answer.json"
    exit 1
fi
# The saga (reserve stock, authorize payment, confirm) runs on the stack's event functions;
# get-order is asked until the order leaves PLACED.
deadline=$((SECONDS + SETTLE_TIMEOUT))
while :; do
    status=$(call GET get-order "/orders/$order_id" "$customer_token")
    order_status=$(field data.status)
    [[ $status == 200 && $order_status == PLACED ]] || break
    ((SECONDS < deadline)) || break
    sleep 0.5
done
total=$(field data.totalMinor)
if [[ $status == 200 && $order_status == CONFIRMED && $total == 2500 ]]; then
    pass "get-order: order $order_id is CONFIRMED, 2 × 12.50 = 25.00 EUR"
else
    fail "get-order: order $order_id reaches CONFIRMED within ${SETTLE_TIMEOUT}s (status $status, order $order_status, total $total)" \
        "$WORK/answer.json"
fi

echo "lambda-urls: $passed passed, $failed failed"
((failed == 0))
