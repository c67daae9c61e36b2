# The API docs page (docs/api/viewer/): Swagger UI's static files from npm, served by the
# gateway under /docs/ over /openapi.json. `npm ci` runs when the lockfile is newer than what is
# installed; install scripts are off (docs/api/viewer/.npmrc), so nothing runs but the copy.

API_DOCS_SOURCE="$REPO_DIR/docs/api/viewer"

api_docs_packages_current() {
    [[ -f $API_DOCS_SOURCE/node_modules/.package-lock.json &&
        ! $API_DOCS_SOURCE/package-lock.json -nt $API_DOCS_SOURCE/node_modules/.package-lock.json ]]
}

install_api_docs() {
    if api_docs_packages_current; then
        ok "API docs page up to date ($API_DOCS_SOURCE)"
        return 0
    fi
    ensure_node
    say "Installing the API docs page's npm packages (docs/api/viewer/package-lock.json)"
    (cd "$API_DOCS_SOURCE" && npm ci --no-audit --no-fund) >"$LOG_DIR/npm-api-docs.log" 2>&1 ||
        { print_log_tail "$LOG_DIR/npm-api-docs.log"; die "npm ci failed in docs/api/viewer/; the full log is $LOG_DIR/npm-api-docs.log." \
            "A registry mirror can be set with npm_config_registry=<url>."; }
    ok "API docs page installed"
}
