#!/usr/bin/env bash
# Property-based tests of the API against its own OpenAPI document (the one the gateway
# serves at /openapi.json): schemathesis generates requests for every operation, the admin
# ones included, from the document's schemas and examples, and checks that no answer is a
# 5xx and that every answer's status, content type and body match what the document says.
#
#   local-stack/tests/schemathesis.sh          the short run of the test command
#   local-stack/tests/schemathesis.sh --long   the long run (docs/api/README.md), many more cases
#
# Requests go through the local gateway of the running stack (local-stack/up), as an account
# of its own that is made admin with identity-admin, so every route can be reached; the routes
# that end the session (withdrawal, log-out) run last, as a second account. The JUnit report is
# written to $LOG_DIR/schemathesis/. Installs schemathesis from PyPI into a venv on first use.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
source "$STACK_DIR/lib/build.sh"

examples=${SCHEMATHESIS_MAX_EXAMPLES:-5}
phases=examples,coverage,fuzzing
if [[ ${1:-} == --long ]]; then
    examples=${SCHEMATHESIS_MAX_EXAMPLES:-200}
    phases=examples,coverage,fuzzing,stateful
fi
: "${STACK_PROFILE:=debug}"
ensure_dirs
ensure_schemathesis
[[ -f $STACK_HOME/stack.env ]] || die "No $STACK_HOME/stack.env: start the platform with local-stack/up first."
set -a; source "$STACK_HOME/stack.env"; set +a
gateway="http://127.0.0.1:${GATEWAY_PORT:-8080}"
curl -fsS -o /dev/null "$gateway/openapi.json" || die "The gateway does not serve $gateway/openapi.json; is the platform up?"
grant_admin=${GRANT_ADMIN:-$REPO_DIR/target/$STACK_PROFILE/identity-admin}
[[ -x $grant_admin ]] || die "$grant_admin is missing: local-stack/up builds it."
report="$LOG_DIR/schemathesis"
mkdir -p "$report"

password='schemathesis passphrase 1'
# The accounts are registered from a loopback address of this run's own (all of 127.0.0.0/8
# reaches the gateway): registrations are limited per client address, and the fuzzing below
# spends 127.0.0.1's allowance on POST /auth/register, as it should.
source_ip="127.$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2)).$((RANDOM % 250 + 2))"
# An account of this run: registered, optionally made admin, then logged in; prints its token.
account() {
    local email="schemathesis-$1-$(date +%s%N)@example.com" answer
    answer=$(curl -sS --interface "$source_ip" -X POST "$gateway/auth/register" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\",\"displayName\":\"Schemathesis $1\"}" -w '\n%{http_code}')
    [[ ${answer##*$'\n'} == 201 ]] || die "Registering $email answered ${answer##*$'\n'}: ${answer%$'\n'*}"
    if [[ $2 == admin ]]; then
        DATABASE_URL=$IDENTITY_DATABASE_URL "$grant_admin" grant-admin "$email" >"$report/grant.log" 2>&1 ||
            { print_log_tail "$report/grant.log"; die "identity-admin grant-admin $email failed."; }
    fi
    curl -fsS --interface "$source_ip" -X POST "$gateway/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])' ||
        die "Logging in as $email failed."
}

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# One worker: the functions run on the same two cores as everything else, and answers must
# not depend on timing. The seed makes a failure reproducible from the printed command.
seed=${SCHEMATHESIS_SEED:-$RANDOM}
run() {
    local name=$1 token=$2
    shift 2
    say "schemathesis ($name): up to $examples cases per operation, phases $phases, seed $seed"
    # From the report folder: schemathesis keeps a .schemathesis folder where it runs.
    cd "$report"
    "$SCHEMATHESIS_VENV/bin/st" --config-file "$report/schemathesis.toml" run "$gateway/openapi.json" --url "$gateway" \
        --header "Authorization: Bearer $token" \
        --checks "$checks" --phases "$phases" --max-examples "$examples" --seed "$seed" \
        --workers 1 --request-timeout 10 --no-color --generation-database none \
        --report junit --report-junit-path "$report/$name.xml" "$@"
}

admin=$(account admin admin)
leaving=$(account leaving customer)
# Real resources (a product, its SKU in stock, an order, …) for the operations on `/{id}`,
# so that they reach their logic instead of a 404; the config names them.
say "Creating the resources schemathesis aims at (as the admin account)"
python3 "$STACK_DIR/tests/schemathesis_fixture.py" "$gateway" "$admin" "$source_ip" "$report/schemathesis.toml" |
    sed 's/^/    /' || die "Creating the resources schemathesis aims at failed (above)."
run everything "$admin" --exclude-operation-id withdrawAccount --exclude-operation-id logout
run session-enders "$leaving" --include-operation-id withdrawAccount --include-operation-id logout
ok "schemathesis found no 5xx and no answer that breaks the document (reports in $report)"
