#!/usr/bin/env bash
# Sign-in against a real OpenID provider: starts panva's oidc-provider as an
# Azure AD-like tenant and the real askgate binary on a fresh database, then
# signs in by script (login.test.mjs). Always cleans up.
#
#   CARGO_TARGET_DIR   build directory (default ./target, as for cargo run)
#   ASKGATE_BIN        use this binary instead of building one
#   TEST_DATABASE_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")"
REPO=$(cd ../.. && pwd)

log() { echo "e2e/oidc: $*" >&2; }

if [[ ! -d node_modules/oidc-provider ]]; then
    log "installing the npm packages"
    npm ci --no-audit --no-fund --loglevel=error
fi

if [[ -z "${ASKGATE_BIN:-}" ]]; then
    log "building the server"
    (cd "$REPO" && cargo build --quiet -p askgate-server --bin askgate-server)
    # Where `cargo build` put it: `CARGO_TARGET_DIR` when set, else ./target.
    target_dir=$(cd "$REPO" && cargo metadata --format-version 1 --no-deps \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    export ASKGATE_BIN="$target_dir/debug/askgate-server"
fi

# The test names its database and records the server's pid, so that an
# interrupted run still leaves nothing behind.
export E2E_OIDC_DB="askgate_oidc_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export E2E_OIDC_PIDFILE
E2E_OIDC_PIDFILE=$(mktemp)
cleanup() {
    local status=$?
    set +e
    if [[ -s "$E2E_OIDC_PIDFILE" ]]; then
        kill "$(cat "$E2E_OIDC_PIDFILE")" 2>/dev/null
    fi
    rm -f "$E2E_OIDC_PIDFILE"
    psql "${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}" -q \
        -c "DROP DATABASE IF EXISTS \"$E2E_OIDC_DB\" WITH (FORCE)" >/dev/null 2>&1
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "signing in against oidc-provider"
node --test --test-concurrency=1 login.test.mjs
