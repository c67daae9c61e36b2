# Build prerequisites and the test tools.

# STACK_PROFILE=release builds and runs the platform with `cargo build --release` (for the
# benchmarks); the default is the quicker debug build.
: "${STACK_PROFILE:=debug}"
case $STACK_PROFILE in
debug) CARGO_PROFILE_FLAGS=() ;;
release) CARGO_PROFILE_FLAGS=(--release) ;;
*) printf 'error: STACK_PROFILE is "%s"; use debug or release.\n' "$STACK_PROFILE" >&2; exit 1 ;;
esac
PLATFORM_BIN="$REPO_DIR/target/$STACK_PROFILE"
STACKCTL="$PLATFORM_BIN/stackctl"

# librdkafka is built from source by rdkafka-sys, which needs cmake and a C/C++ toolchain.
ensure_build_tools() {
    command -v cargo >/dev/null 2>&1 ||
        die "cargo was not found. Install Rust (rustup) and open a new shell, then run $0 again."
    ensure_packages cmake g++ make pkg-config zlib1g-dev
}


# cfn-lint 1.53.x still runs the real SAM transform before linting; later versions validate
# SAM resources against bundled schemas and miss whole classes of mistakes (docs/adr/0005).
CFN_LINT_VERSION=1.53.3
ensure_cfn_lint() {
    if [[ $(cfn-lint --version 2>/dev/null) != "cfn-lint $CFN_LINT_VERSION" ]]; then
        say "Installing cfn-lint $CFN_LINT_VERSION from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" >"$LOG_DIR/pip.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/pip.log"; die "Installing cfn-lint failed; the full log is $LOG_DIR/pip.log."; }
    fi
}

# A fresh venv at DIR with pinned PACKAGES from PyPI, its output in LOG: install_venv DIR LOG
# PACKAGES... Whatever was at DIR goes first. python3-venv (Debian) is installed when missing.
install_venv() {
    local dir=$1 log=$2
    shift 2
    rm -rf "$dir"
    python3 -m venv "$dir" >"$log" 2>&1 ||
        { ensure_packages python3-venv && python3 -m venv "$dir" >"$log" 2>&1; } ||
        { print_log_tail "$log"; die "Creating the venv $dir failed."; }
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >>"$log" 2>&1 ||
        { print_log_tail "$log"; die "Installing $* into $dir failed; the full log is $log."; }
}

# The offline validator of the Knative manifests (deploy/validate) runs in a venv of its own,
# with pinned packages; once installed it needs no network. python3-venv provides the venv.
K8S_VALIDATE_VENV="$STACK_HOME/venv-k8s"
K8S_VALIDATE_PACKAGES=("jsonschema==4.26.0" "PyYAML==6.0.4" "kubernetes-validate==1.37.0")

# Whether the venv imports what the validator needs, at the pinned versions. Importing, not
# only listing the installed packages, catches a venv whose files were partly removed.
k8s_validate_ready() {
    [[ -x $K8S_VALIDATE_VENV/bin/python ]] || return 1
    "$K8S_VALIDATE_VENV/bin/python" - "${K8S_VALIDATE_PACKAGES[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
import jsonschema, kubernetes_validate, referencing, yaml
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    if version(name) != wanted:
        sys.exit(1)
PY
}

ensure_k8s_validate() {
    k8s_validate_ready && return 0
    say "Installing the manifest validator's packages into $K8S_VALIDATE_VENV"
    install_venv "$K8S_VALIDATE_VENV" "$LOG_DIR/pip-k8s-validate.log" "${K8S_VALIDATE_PACKAGES[@]}"
    k8s_validate_ready || die "The validator's venv $K8S_VALIDATE_VENV does not import its packages; the log is $LOG_DIR/pip-k8s-validate.log."
}

# schemathesis, the property-based tester of the API against its OpenAPI document
# (local-stack/tests/schemathesis.sh), in a venv of its own: it pins many packages.
SCHEMATHESIS_VENV="$STACK_HOME/venv-schemathesis"
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
    [[ $("$SCHEMATHESIS_VENV/bin/st" --version 2>/dev/null) == "st, version $SCHEMATHESIS_VERSION" ]] && return 0
    say "Installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $SCHEMATHESIS_VENV"
    install_venv "$SCHEMATHESIS_VENV" "$LOG_DIR/pip-schemathesis.log" "schemathesis==$SCHEMATHESIS_VERSION"
}

# moto in server mode is the AWS-compatible endpoint the identity key-loading tests read
# Secrets Manager and SSM from (docs/adr/0012); each test starts its own on a free port.
MOTO_VERSION=5.2.5
ensure_moto() {
    if [[ $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null) != "$MOTO_VERSION" ]] ||
        ! command -v moto_server >/dev/null 2>&1; then
        say "Installing moto[server] $MOTO_VERSION from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >"$LOG_DIR/pip-moto.log" 2>&1 ||
            { print_log_tail "$LOG_DIR/pip-moto.log"; die "Installing moto failed; the full log is $LOG_DIR/pip-moto.log."; }
    fi
}

# cargo-lambda from its PyPI wheel (a prebuilt binary that brings zig for cross-compiling;
# `cargo install` takes too long). pip may put it in a scripts directory that is not on PATH.
CARGO_LAMBDA_VERSION=1.9.2
ensure_cargo_lambda() {
    local log
    [[ $(cargo lambda --version 2>/dev/null) == "cargo-lambda $CARGO_LAMBDA_VERSION "* ]] && return 0
    say "Installing cargo-lambda $CARGO_LAMBDA_VERSION from PyPI"
    log=$(mktemp /tmp/pip-cargo-lambda.XXXXXX)
    python3 -m pip install --quiet --disable-pip-version-check --retries 1 --timeout 20 \
        "cargo-lambda==$CARGO_LAMBDA_VERSION" >"$log" 2>&1 ||
        { print_log_tail "$log"; die "Could not install cargo-lambda $CARGO_LAMBDA_VERSION from PyPI." \
            "A mirror can be set with PIP_INDEX_URL=<url>; or: python3 -m pip install cargo-lambda==$CARGO_LAMBDA_VERSION"; }
    PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$(python3 -m site --user-base)/bin"
    [[ $(cargo lambda --version 2>/dev/null) == "cargo-lambda $CARGO_LAMBDA_VERSION "* ]] ||
        die "cargo-lambda $CARGO_LAMBDA_VERSION was installed but \`cargo lambda --version\` does not report it; check PATH."
    rm -f "$log"
}
