# The storefront (storefront/): a static web app the gateway serves under /shop/.
# `npm ci` runs when the lockfile is newer than what is installed, and the build when a source
# is newer than the bundle; otherwise nothing happens, so `up` stays quick. Node.js and npm
# come from Debian's packages when missing (Node 18 or newer is enough).

STOREFRONT_SOURCE="$REPO_DIR/storefront"
STOREFRONT_DIST="$STOREFRONT_SOURCE/dist"

ensure_node() {
    command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 && return 0
    ensure_packages nodejs npm
}

# Whether the installed packages are those of package-lock.json (npm writes its own copy of
# the lockfile into node_modules on every install).
storefront_packages_current() {
    [[ -f $STOREFRONT_SOURCE/node_modules/.package-lock.json &&
        ! $STOREFRONT_SOURCE/package-lock.json -nt $STOREFRONT_SOURCE/node_modules/.package-lock.json ]]
}

storefront_bundle_current() {
    [[ -f $STOREFRONT_DIST/app.js && -f $STOREFRONT_DIST/index.html ]] || return 1
    [[ -z $(find "$STOREFRONT_SOURCE/src" "$STOREFRONT_SOURCE/public" "$STOREFRONT_SOURCE/build.mjs" \
        "$STOREFRONT_SOURCE/package-lock.json" -newer "$STOREFRONT_DIST/app.js" -print -quit) ]]
}

build_storefront() {
    if storefront_packages_current && storefront_bundle_current; then
        ok "storefront up to date ($STOREFRONT_DIST)"
        return 0
    fi
    ensure_node
    if ! storefront_packages_current; then
        say "Installing the storefront's npm packages (package-lock.json)"
        (cd "$STOREFRONT_SOURCE" && npm ci --no-audit --no-fund) >"$LOG_DIR/npm.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/npm.log"; die "npm ci failed in storefront/; the full log is $LOG_DIR/npm.log." \
                "A registry mirror can be set with npm_config_registry=<url>."; }
    fi
    say "Building the storefront"
    (cd "$STOREFRONT_SOURCE" && npm run --silent build) >"$LOG_DIR/storefront-build.log" 2>&1 ||
        { print_log_tail "$LOG_DIR/storefront-build.log"; die "Building the storefront failed; the log is $LOG_DIR/storefront-build.log."; }
    sed 's/^/    /' "$LOG_DIR/storefront-build.log"
    ok "storefront built into $STOREFRONT_DIST"
}
