#!/usr/bin/env bash
# askgate's browser tests: builds the server, gives it a fresh PostgreSQL
# database and a fake Stripe API, starts it with dev login on, drives the web UI
# in headless Chromium (tests/*.test.mjs), and always cleans up.
#
#   CARGO_TARGET_DIR   build cache (default /var/tmp/askgate-target)
#   PGHOST/PGPORT/PGUSER  PostgreSQL to create the test database in
#                         (default 127.0.0.1 / 5432 / postgres)
#   CHROMIUM           browser binary (default /usr/bin/chromium)
#   E2E_KEEP_DB=1      keep the database after the run, for debugging
#   E2E_PUBLISH_SCREENSHOTS=1  also refresh docs/screenshots/chat.png
#
# Screenshots and logs go to e2e/artifacts/. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")"
E2E_DIR=$(pwd)
REPO=$(cd .. && pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/askgate-target}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
ARTIFACTS="$E2E_DIR/artifacts"

log() { echo "e2e: $*" >&2; }

[[ -x "$CHROMIUM" ]] || { log "no browser at $CHROMIUM (run .ci/prepare-e2e)"; exit 1; }
[[ -d node_modules/playwright-core && -d node_modules/stripe ]] || npm ci --no-audit --no-fund

log "building the server"
(cd "$REPO" && cargo build --quiet -p askgate-server --bin askgate-server)
BIN="$CARGO_TARGET_DIR/debug/askgate-server"

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

DB="askgate_e2e_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SERVER_PID=""
STRIPE_PID=""

cleanup() {
    local status=$?
    set +e
    for pid in $SERVER_PID $STRIPE_PID; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ "${E2E_KEEP_DB:-0}" == "1" ]]; then
        log "kept database $DB"
    else
        psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 \
            || log "could not drop database $DB"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

# Waits until `pid` prints "listening <port>" into `file`; echoes the port.
wait_for_port_line() {
    local pid=$1 file=$2
    for _ in $(seq 1 100); do
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        local port
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$file" | head -n1)
        if [[ -n "$port" ]]; then echo "$port"; return 0; fi
        sleep 0.1
    done
    return 1
}

log "creating database $DB"
psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null

PORT=$(free_port)
BASE_URL="http://127.0.0.1:$PORT"

PUBLIC_BASE_URL="$BASE_URL" FAKE_STRIPE_PORT=0 node fake-stripe.mjs >"$ARTIFACTS/fake-stripe.log" 2>&1 &
STRIPE_PID=$!
STRIPE_PORT=$(wait_for_port_line "$STRIPE_PID" "$ARTIFACTS/fake-stripe.log") \
    || { log "the fake Stripe did not start"; cat "$ARTIFACTS/fake-stripe.log" >&2; exit 1; }
STRIPE_URL="http://127.0.0.1:$STRIPE_PORT"

export APP_ENV=development
export BIND_ADDR="127.0.0.1:$PORT"
export PUBLIC_BASE_URL="$BASE_URL"
export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
export AUTH_DEV_LOGIN=true
export JWT_SECRET="e2e-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export STRIPE_SECRET_KEY=sk_test_x
export STRIPE_WEBHOOK_SECRET=whsec_test
export STRIPE_API_BASE="$STRIPE_URL"
export LOG_FORMAT=pretty
export RUST_LOG="${RUST_LOG:-info}"

log "starting askgate on $BASE_URL (fake Stripe on $STRIPE_URL)"
"$BIN" serve >"$ARTIFACTS/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 300); do
    if curl -fsS "$BASE_URL/health/live" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null || [[ $i == 300 ]]; then
        log "askgate did not start; its log:"
        tail -n 40 "$ARTIFACTS/server.log" >&2
        exit 1
    fi
    sleep 0.2
done

log "running the browser tests"
set +e
ASKGATE_URL="$BASE_URL" FAKE_STRIPE_URL="$STRIPE_URL" ASKGATE_BIN="$BIN" E2E_ARTIFACTS="$ARTIFACTS" \
    node --test --test-reporter=spec tests/*.test.mjs
status=$?
set -e
if [[ $status -ne 0 ]]; then
    log "tests failed; screenshots and logs are in $ARTIFACTS"
fi
exit $status
