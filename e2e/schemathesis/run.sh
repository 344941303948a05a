#!/usr/bin/env bash
# Schemathesis against the live server: starts the real askgate binary on a
# fresh database (dev login on, payments against e2e/fake-stripe.mjs), signs
# in an admin user who holds tokens, and lets Schemathesis generate requests
# for every operation of /api/openapi.json. It fails on any 5xx and on any
# response whose status, content type or body the document does not describe.
# Always cleans up.
#
#   CARGO_TARGET_DIR    build cache (default /var/tmp/askgate-target)
#   SCHEMATHESIS_VENV   where Schemathesis is installed (default
#                       ~/.cache/askgate/schemathesis-<version>), created on first use
#   SCHEMATHESIS_EXAMPLES  examples per operation (default 40)
#   PGHOST/PGPORT/PGUSER   PostgreSQL (default 127.0.0.1 / 5432 / postgres)
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
REPO=$(cd ../.. && pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/askgate-target}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
ARTIFACTS="$REPO/e2e/artifacts/schemathesis"

log() { echo "e2e/schemathesis: $*" >&2; }

PINNED=$(sed -n 's/^schemathesis==//p' requirements.txt)
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/askgate/schemathesis-$PINNED}"
if [[ ! -x "$VENV/bin/st" ]]; then
    log "installing Schemathesis $PINNED into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
fi

log "building the server"
(cd "$REPO" && cargo build --quiet -p askgate-server --bin askgate-server)
BIN="$CARGO_TARGET_DIR/debug/askgate-server"

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"

DB="askgate_schema_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
SERVER_PID=""
STRIPE_PID=""
cleanup() {
    local status=$?
    set +e
    for pid in $SERVER_PID $STRIPE_PID; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 \
        || log "could not drop database $DB"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null

PORT=$(free_port)
BASE_URL="http://127.0.0.1:$PORT"
EMAIL="schemathesis@example.com"

PUBLIC_BASE_URL="$BASE_URL" FAKE_STRIPE_PORT=0 node ../fake-stripe.mjs >"$ARTIFACTS/fake-stripe.log" 2>&1 &
STRIPE_PID=$!
STRIPE_PORT=""
for _ in $(seq 1 100); do
    STRIPE_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$ARTIFACTS/fake-stripe.log" | head -n1)
    [[ -n "$STRIPE_PORT" ]] && break
    kill -0 "$STRIPE_PID" 2>/dev/null || break
    sleep 0.1
done
[[ -n "$STRIPE_PORT" ]] || { log "the fake Stripe did not start"; cat "$ARTIFACTS/fake-stripe.log" >&2; exit 1; }

export APP_ENV=development
export BIND_ADDR="127.0.0.1:$PORT"
export PUBLIC_BASE_URL="$BASE_URL"
export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
export AUTH_DEV_LOGIN=true
export ADMIN_EMAILS="$EMAIL"
export JWT_SECRET="schema-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export STRIPE_SECRET_KEY=sk_test_x
export STRIPE_WEBHOOK_SECRET=whsec_test
export STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT"
# Generated requests come fast; the limit itself is tested elsewhere.
export RATE_LIMIT_PER_MINUTE=100000
# Sessions outlive the run.
export SESSION_TTL_SECONDS=3600
export LOG_FORMAT=pretty
export RUST_LOG="${RUST_LOG:-info}"

"$BIN" migrate >"$ARTIFACTS/migrate.log" 2>&1
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

TOKEN=$(curl -fsS -X POST "$BASE_URL/api/auth/dev-login" \
    -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["session_token"])')
"$BIN" grant --email "$EMAIL" --tokens 100000 --reason "schemathesis run" >/dev/null

log "running Schemathesis $PINNED against $BASE_URL"
# Signing out would end the run's session; it is covered by the HTTP tests.
set +e
"$VENV/bin/st" run "$BASE_URL/api/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --exclude-path /api/auth/logout \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
    --seed 1 \
    --workers 2 \
    --request-timeout 10 \
    --report junit --report-dir "$ARTIFACTS" \
    --output-truncate false \
    2>&1 | tee "$ARTIFACTS/schemathesis.log"
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
    log "Schemathesis found problems; see $ARTIFACTS (server.log has the server's side)"
fi
exit "$status"
