#!/usr/bin/env bash
# askgate's browser tests: builds the server, gives it a fresh PostgreSQL
# database and a fake Stripe API, starts it with dev login on, drives the web UI
# in headless Chromium (tests/*.test.mjs), and always cleans up.
#
#   CARGO_TARGET_DIR   build directory (default ./target, as for cargo run)
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

export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
ARTIFACTS="$E2E_DIR/artifacts"

log() { echo "e2e: $*" >&2; }
# shellcheck source=lib/stack.sh
source lib/stack.sh

[[ -x "$CHROMIUM" ]] || { log "no browser at $CHROMIUM (run .ci/prepare-e2e)"; exit 1; }
[[ -d node_modules/playwright-core && -d node_modules/stripe ]] || npm ci --no-audit --no-fund

stack_build
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
stack_database askgate_e2e

PORT=$(stack_free_port)
BASE_URL="http://127.0.0.1:$PORT"
stack_fake_stripe "$BASE_URL"
stack_fake_askdocs

# The SDK's example app (sdk/js/example), on another origin, may call askgate.
EXAMPLE_PORT=$(stack_free_port)
export ALLOWED_ORIGINS="http://127.0.0.1:$EXAMPLE_PORT"

export APP_ENV=development
export BIND_ADDR="127.0.0.1:$PORT"
export PUBLIC_BASE_URL="$BASE_URL"
export AUTH_DEV_LOGIN=true
export JWT_SECRET="e2e-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export STRIPE_SECRET_KEY=sk_test_x
export STRIPE_WEBHOOK_SECRET=whsec_test
export STRIPE_API_BASE="$STRIPE_URL"
# Domains may send their questions to the fake AskDocs (and to nothing else local).
export UPSTREAM_ALLOWED_HOSTS=127.0.0.1
export LOG_FORMAT=pretty
export RUST_LOG="${RUST_LOG:-info}"

log "starting askgate on $BASE_URL (fake Stripe on $STRIPE_URL, fake AskDocs on $ASKDOCS_URL)"
stack_server "$ARTIFACTS/server.log"

log "running the browser tests"
set +e
ASKGATE_URL="$BASE_URL" FAKE_STRIPE_URL="$STRIPE_URL" FAKE_ASKDOCS_URL="$ASKDOCS_URL" ASKGATE_BIN="$BIN" ASKGATE_CLI="$CLI_BIN" E2E_EXAMPLE_PORT="$EXAMPLE_PORT" E2E_ARTIFACTS="$ARTIFACTS" \
    node --test --test-reporter=spec tests/*.test.mjs
status=$?
set -e
if [[ $status -ne 0 ]]; then
    log "tests failed; screenshots and logs are in $ARTIFACTS"
fi
exit $status
