#!/usr/bin/env bash
# Checks that `cargo lambda watch` serves the real `project-catalog-product` function and that
# its invocations reach the same handler as the other triggers (docs/adr/0005): a Kafka batch
# sent with `cargo lambda invoke` or POSTed to the Invoke API path is projected into
# ordering.product_price, a record that is not a CloudEvent comes back as a batch item
# failure, and a redelivered batch changes nothing.
#
# Runs on a throw-away database (ordering's migrations, a user with ordering's DML-only rights)
# in the local stack's MariaDB, dropped afterwards. Reuses the environment of local-stack/test
# when it is set, else brings the stack up itself. Installs cargo-lambda 1.9.2 from PyPI when
# another version (or none) is found.
set -euo pipefail

STACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$STACK_DIR/.." && pwd)"
CARGO_LAMBDA_VERSION=1.9.2
FUNCTION=project-catalog-product
FIXTURES="$REPO_DIR/events/fixtures/lambda"
# How long the first invoke may take: it includes cargo building the function.
FIRST_INVOKE_TIMEOUT=${LAMBDA_FIRST_INVOKE_TIMEOUT:-900}
WORK=$(mktemp -d /tmp/stack-lambda.XXXXXX)

passed=0
failed=0
pass() { passed=$((passed + 1)); printf '    ok - %s\n' "$1"; }
fail() {
    failed=$((failed + 1))
    printf '    not ok - %s\n' "$1"
    [[ -n ${2:-} && -f $2 ]] && sed 's/^/        | /' "$2" | tail -n 30
    return 0
}
note() { printf '    # %s\n' "$1"; }
die() {
    printf 'error: %s\n' "$1" >&2
    [[ -n ${2:-} && -f $2 ]] && sed 's/^/       | /' "$2" | tail -n 20 >&2
    exit 1
}

watch_pid=""
database=""
cleanup() {
    # cargo lambda watch runs in a session of its own, so its process group holds the watcher,
    # the `cargo run` it starts and every function instance, and nothing else.
    if [[ -n $watch_pid ]]; then
        kill -TERM -- "-$watch_pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while kill -0 -- "-$watch_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL -- "-$watch_pid" 2>/dev/null || true
        wait "$watch_pid" 2>/dev/null || true
    fi
    if [[ -n $database ]]; then
        admin_sql "DROP DATABASE IF EXISTS \`$database\`; DROP USER IF EXISTS '$database'@'%';" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. cargo-lambda 1.9.2, from the PyPI wheel (a prebuilt binary; `cargo install` takes too long).
if [[ $(cargo lambda --version 2>/dev/null) != "cargo-lambda $CARGO_LAMBDA_VERSION "* ]]; then
    if ! python3 -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" >"$WORK/pip.log" 2>&1; then
        die "Could not install cargo-lambda $CARGO_LAMBDA_VERSION from PyPI. Is PyPI reachable? A mirror can be set with PIP_INDEX_URL=<url>; or install it yourself: python3 -m pip install cargo-lambda==$CARGO_LAMBDA_VERSION" "$WORK/pip.log"
    fi
    # pip may put the binary in a scripts directory that is not on PATH (e.g. ~/.local/bin).
    PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$(python3 -m site --user-base)/bin"
    [[ $(cargo lambda --version 2>/dev/null) == "cargo-lambda $CARGO_LAMBDA_VERSION "* ]] ||
        die "cargo-lambda $CARGO_LAMBDA_VERSION was installed but \`cargo lambda --version\` does not report it; check PATH" "$WORK/pip.log"
fi

# The local stack's MariaDB.
if [[ -z ${STACK_MARIADB_ADMIN_URL:-} ]]; then
    "$STACK_DIR/up" >"$WORK/up.log" 2>&1 || die "The local stack did not come up (local-stack/up)" "$WORK/up.log"
    set -a
    # shellcheck source=/dev/null
    source "${STACK_HOME:-$STACK_DIR/var}/stack.env"
    set +a
fi
[[ $STACK_MARIADB_ADMIN_URL =~ ^mysql://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/?$ ]] ||
    die "STACK_MARIADB_ADMIN_URL is not mysql://user:password@host:port"
db_host=${BASH_REMATCH[3]}
db_port=${BASH_REMATCH[4]}
# A client option file keeps the password off the command line.
printf '[client]\nuser=%s\npassword=%s\nhost=%s\nport=%s\nprotocol=tcp\n' \
    "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "$db_host" "$db_port" >"$WORK/admin.cnf"
admin_sql() { mariadb --defaults-extra-file="$WORK/admin.cnf" -N -B -e "$1"; }
db_sql() { mariadb --defaults-extra-file="$WORK/admin.cnf" -N -B "$database" -e "$1"; }

# 2. A throw-away database with ordering's migrations, and a user with the rights a context's
#    user has (DML on its own schema, no DDL), so the function runs as it would in the stack.
database="lambda_test_$$_$RANDOM"
database_password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
admin_sql "CREATE DATABASE \`$database\`;
           CREATE USER '$database'@'%' IDENTIFIED BY '$database_password';
           GRANT SELECT, INSERT, UPDATE, DELETE ON \`$database\`.* TO '$database'@'%';" >"$WORK/db.log" 2>&1 ||
    die "Could not create the throw-away database $database" "$WORK/db.log"
for migration in "$REPO_DIR"/migrations/ordering/*.sql; do
    mariadb --defaults-extra-file="$WORK/admin.cnf" "$database" <"$migration" >"$WORK/db.log" 2>&1 ||
        die "Migration $(basename "$migration") failed on $database" "$WORK/db.log"
done
database_url="mysql://$database:$database_password@$db_host:$db_port/$database"

# 3. cargo lambda watch for this one binary, on a free port of 127.0.0.1. --ignore-changes:
#    other people edit the workspace meanwhile, and a reload would restart the function mid-test.
invoke_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
invocations_url="http://127.0.0.1:$invoke_port/2015-03-31/functions/$FUNCTION/invocations"
cd "$REPO_DIR"
setsid cargo lambda watch --package ordering --bin "$FUNCTION" \
    --invoke-address 127.0.0.1 --invoke-port "$invoke_port" --ignore-changes \
    --env-var "DATABASE_URL=$database_url" >"$WORK/watch.log" 2>&1 &
watch_pid=$!
# OPTIONS on the Invoke API path is answered by the emulator itself (CORS), without starting
# the function; a GET on any other path would invoke it as a Function URL request.
answers() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X OPTIONS "$invocations_url" 2>/dev/null | grep -q '^2'; }
deadline=$((SECONDS + 60))
until answers; do
    kill -0 "$watch_pid" 2>/dev/null || die "cargo lambda watch exited" "$WORK/watch.log"
    ((SECONDS < deadline)) || die "cargo lambda watch did not answer on 127.0.0.1:$invoke_port within 60 s" "$WORK/watch.log"
    sleep 0.2
done
if grep -q "spawning function instance" "$WORK/watch.log"; then lazily=no; else lazily=yes; fi
pass "cargo lambda watch answers on 127.0.0.1:$invoke_port (function started lazily: $lazily)"

# Helpers: the function's answer, normalised so answers can be compared as text.
normalise_json() { python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), sort_keys=True, separators=(",", ":")))'; }
invoke() { # fixture, output file
    timeout 120 cargo lambda invoke "$FUNCTION" --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
        --data-file "$FIXTURES/$1" >"$2" 2>&1
}
# What the projection holds: every row, and how many events the inbox has recorded.
snapshot() {
    db_sql "SELECT product_id, name, price_minor, currency, orderable, last_event_at FROM product_price ORDER BY product_id;
            SELECT COUNT(*) FROM processed_event;"
}
no_failures='{"batchItemFailures":[]}'
bad_record='{"batchItemFailures":[{"itemIdentifier":{"offset":3,"partition":"commerce.catalog.product-1"}}]}'

# 4. The catalog batch (kafka-catalog-product.json): prod-1 created at 1290 (partition 0,
#    offset 15) then its price changed to 1190 (offset 16, same event time, so it applies);
#    prod-9 created at 3450 (partition 3, offset 7). The real handler acknowledges all three.
started=$EPOCHREALTIME
if timeout "$FIRST_INVOKE_TIMEOUT" cargo lambda invoke "$FUNCTION" --invoke-address 127.0.0.1 \
    --invoke-port "$invoke_port" --data-file "$FIXTURES/kafka-catalog-product.json" >"$WORK/first.out" 2>&1; then
    first_invoke_ok=true
else
    first_invoke_ok=false
fi
first_invoke_seconds=$(python3 -c "print(f'{$EPOCHREALTIME - $started:.1f}')")
note "first invoke took ${first_invoke_seconds}s (cargo lambda watch builds and starts the function on it)"
if $first_invoke_ok && [[ $(normalise_json <"$WORK/first.out" 2>/dev/null) == "$no_failures" ]]; then
    pass "cargo lambda invoke of the catalog batch answers a batch response without failures"
else
    cat "$WORK/watch.log" >>"$WORK/first.out"
    fail "cargo lambda invoke of the catalog batch answers a batch response without failures" "$WORK/first.out"
fi
expected_rows=$'prod-1\tEspresso cup\t1190\tEUR\nprod-9\tTea pot\t3450\tEUR'
rows=$(db_sql "SELECT product_id, name, price_minor, currency FROM product_price ORDER BY product_id" 2>&1 || true)
if [[ $rows == "$expected_rows" && $(db_sql "SELECT COUNT(*) FROM processed_event" 2>&1) == 3 ]]; then
    pass "the handler ran: product_price holds prod-1 at 1190 EUR and prod-9 at 3450 EUR, three events in the inbox"
else
    printf '%s\n' "$rows" >"$WORK/rows.out"
    fail "the handler ran: product_price holds prod-1 at 1190 EUR and prod-9 at 3450 EUR" "$WORK/rows.out"
fi
snapshot >"$WORK/after-first.tsv"

# 5. A record that is not a CloudEvent (partition 1, offset 3) is reported, and nothing is written.
if invoke kafka-not-a-cloudevent.json "$WORK/bad.out" && [[ $(normalise_json <"$WORK/bad.out" 2>/dev/null) == "$bad_record" ]]; then
    pass "a record that is not a CloudEvent comes back as the batch item failure commerce.catalog.product-1 offset 3"
else
    fail "a record that is not a CloudEvent comes back as a batch item failure (partition commerce.catalog.product-1, offset 3)" "$WORK/bad.out"
fi
if snapshot | cmp -s - "$WORK/after-first.tsv"; then
    pass "the record that is not a CloudEvent writes nothing"
else
    snapshot >"$WORK/diff.out" 2>&1 || true
    fail "the record that is not a CloudEvent writes nothing" "$WORK/diff.out"
fi

# 6. The same batch delivered again is acknowledged and changes nothing (inbox and time guard).
if invoke kafka-catalog-product.json "$WORK/again.out" && [[ $(normalise_json <"$WORK/again.out" 2>/dev/null) == "$no_failures" ]] &&
    snapshot | cmp -s - "$WORK/after-first.tsv"; then
    pass "the catalog batch delivered again is acknowledged and changes no row, price or inbox count"
else
    snapshot >>"$WORK/again.out" 2>&1 || true
    fail "the catalog batch delivered again changes nothing" "$WORK/again.out"
fi

# 7. Any HTTP client can POST a KafkaEvent to the Invoke API path and gets the same answers.
post() { curl -s --max-time 60 -H 'content-type: application/json' --data-binary "@$FIXTURES/$1" "$invocations_url"; }
posted_batch=$(post kafka-catalog-product.json | normalise_json 2>/dev/null || true)
posted_bad=$(post kafka-not-a-cloudevent.json | normalise_json 2>/dev/null || true)
if [[ $posted_batch == "$(normalise_json <"$WORK/again.out")" && $posted_bad == "$(normalise_json <"$WORK/bad.out")" ]]; then
    pass "a plain HTTP POST to /2015-03-31/functions/$FUNCTION/invocations answers what cargo lambda invoke answered"
else
    printf 'POST of the catalog batch: %s\nPOST of the bad record: %s\n' "$posted_batch" "$posted_bad" >"$WORK/post.out"
    fail "a plain HTTP POST to the Invoke API path answers what cargo lambda invoke answered" "$WORK/post.out"
fi
if snapshot | cmp -s - "$WORK/after-first.tsv"; then
    pass "the POSTed deliveries change nothing either"
else
    snapshot >"$WORK/diff.out" 2>&1 || true
    fail "the POSTed deliveries change nothing either" "$WORK/diff.out"
fi

# 8. An HTTP request through the Function URL path reaches the same handler: the function
#    answers HTTP events under Lambda with the router it serves on $PORT, so a CloudEvent
#    POSTed to /lambda-url/<fn>/ is handled like the Kafka record carrying the same event.
function_url="http://127.0.0.1:$invoke_port/lambda-url/$FUNCTION"
health=$(curl -s -o "$WORK/health.out" -w '%{http_code}' --max-time 60 "$function_url/healthz" || true)
if [[ $health == 200 ]]; then
    pass "GET /lambda-url/$FUNCTION/healthz is answered by the function's own router (200)"
else
    fail "GET /lambda-url/$FUNCTION/healthz is answered by the function's own router (got $health)" "$WORK/health.out"
fi
status=$(curl -s -o "$WORK/url-post.out" -w '%{http_code}' --max-time 60 -X POST "$function_url/" \
    -H 'ce-specversion: 1.0' -H 'ce-id: 0196f6a0-0000-7000-8000-0000000000aa' -H 'ce-source: commerce/catalog' \
    -H 'ce-type: commerce.product.price-changed.v1' -H 'ce-time: 2026-11-25T11:00:00Z' -H 'ce-partitionkey: prod-9' \
    -H 'content-type: application/json' --data '{"productId":"prod-9","priceMinor":2990,"currency":"EUR"}' || true)
price=$(db_sql "SELECT price_minor FROM product_price WHERE product_id = 'prod-9'" 2>/dev/null || true)
if [[ $status == 200 && $price == 2990 ]]; then
    pass "a CloudEvent POSTed to /lambda-url/$FUNCTION/ is handled: prod-9 now costs 2990"
else
    fail "a CloudEvent POSTed to /lambda-url/$FUNCTION/ is handled (status $status, prod-9 price $price)" "$WORK/url-post.out"
fi
status=$(curl -s -o "$WORK/url-bad.out" -w '%{http_code}' --max-time 60 -X POST "$function_url/" \
    -H 'content-type: application/json' --data '{"hello":"world"}' || true)
if [[ $status == 400 ]] && grep -q INVALID_CLOUD_EVENT "$WORK/url-bad.out"; then
    pass "a POST to /lambda-url/$FUNCTION/ that is not a CloudEvent gets 400 INVALID_CLOUD_EVENT"
else
    fail "a POST that is not a CloudEvent gets 400 INVALID_CLOUD_EVENT (got $status)" "$WORK/url-bad.out"
fi

echo "lambda: $passed passed, $failed failed (first invoke ${first_invoke_seconds}s)"
((failed == 0))
