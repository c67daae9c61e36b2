# Build prerequisites and the stack's own Rust tool.

STACKCTL="$REPO_DIR/target/debug/stackctl"

# librdkafka is built from source by rdkafka-sys, which needs cmake and a C/C++ toolchain.
ensure_build_tools() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo was not found. Install Rust (rustup) and open a new shell, then run $0 again."
    ensure_packages cmake g++ make pkg-config zlib1g-dev
}

build_stackctl() {
    # Cargo prints its own progress; the first build compiles librdkafka and takes a minute or two.
    say "Building stackctl (the first build takes 1-2 minutes)"
    ( cd "$REPO_DIR" && cargo build -p stackctl ) ||
        die "Building stackctl failed (cargo output above)."
}
