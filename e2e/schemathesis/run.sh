#!/usr/bin/env bash
# Schemathesis against the live server: starts the real askgate binary on a
# fresh database (dev login on, payments against e2e/fake-stripe.mjs), signs
# in an admin user who holds tokens, and lets Schemathesis generate requests
# for every operation of /api/openapi.json. It fails on any 5xx and on any
# response whose status, content type or body the document does not describe.
# Always cleans up.
#
#   CARGO_TARGET_DIR    build directory (default ./target, as for cargo run)
#   SCHEMATHESIS_VENV   where Schemathesis is installed (default
#                       ~/.cache/askgate/schemathesis-<version>), created on first use
#   SCHEMATHESIS_EXAMPLES  examples per operation (default 40)
#   PGHOST/PGPORT/PGUSER   PostgreSQL (default 127.0.0.1 / 5432 / postgres)
set -euo pipefail
cd "$(dirname "$0")"
REPO=$(cd ../.. && pwd)

ARTIFACTS="$REPO/e2e/artifacts/schemathesis"

log() { echo "e2e/schemathesis: $*" >&2; }
# shellcheck source=../lib/stack.sh
source ../lib/stack.sh

PINNED=$(sed -n 's/^schemathesis==//p' requirements.txt)
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/askgate/schemathesis-$PINNED}"
if [[ ! -x "$VENV/bin/st" ]]; then
    log "installing Schemathesis $PINNED into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements.txt
fi

stack_build
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
stack_database askgate_schema

PORT=$(stack_free_port)
BASE_URL="http://127.0.0.1:$PORT"
EMAIL="schemathesis@example.com"
stack_fake_stripe "$BASE_URL"

export APP_ENV=development
export BIND_ADDR="127.0.0.1:$PORT"
export PUBLIC_BASE_URL="$BASE_URL"
export AUTH_DEV_LOGIN=true
export ADMIN_EMAILS="$EMAIL"
export JWT_SECRET="schema-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
export STRIPE_SECRET_KEY=sk_test_x
export STRIPE_WEBHOOK_SECRET=whsec_test
export STRIPE_API_BASE="$STRIPE_URL"
# Generated requests come fast; the limit itself is tested elsewhere.
export RATE_LIMIT_PER_MINUTE=100000
# Sessions outlive the run.
export SESSION_TTL_SECONDS=3600
export LOG_FORMAT=pretty
export RUST_LOG="${RUST_LOG:-info}"

stack_server "$ARTIFACTS/server.log"

TOKEN=$(curl -fsS -X POST "$BASE_URL/api/auth/dev-login" \
    -H 'Content-Type: application/json' -d "{\"email\":\"$EMAIL\"}" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["session_token"])')
"$BIN" grant --email "$EMAIL" --tokens 100000 --reason "schemathesis run" >/dev/null
# An AskDocs question needs a domain that exists: one (answered by the demo
# upstream) whose id schemathesis.toml gives every generated AskDocs request.
SCHEMATHESIS_DOMAIN_ID=$(curl -fsS -X POST "$BASE_URL/api/domains" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"name": "schemathesis", "display_name": "Schemathesis"}' \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
export SCHEMATHESIS_DOMAIN_ID
# The app endpoints (/api/v1/…) are called as a registered app with every
# scope, on behalf of the signed-in user (schemathesis.toml sends both).
APP=$(curl -fsS -X POST "$BASE_URL/api/admin/apps" \
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"name": "Schemathesis", "allowed_return_urls": ["https://app.example.com/back"],
         "scopes": ["token:introspect", "balance:read", "credits:consume", "checkout:create"]}')
SCHEMATHESIS_APP_AUTH=$(echo "$APP" | python3 -c 'import base64, json, sys; a = json.load(sys.stdin); print(base64.b64encode((a["client_id"] + ":" + a["client_secret"]).encode()).decode())')
export SCHEMATHESIS_APP_AUTH SCHEMATHESIS_USER_TOKEN="$TOKEN"

log "running Schemathesis $PINNED against $BASE_URL"
# Signing out would end the run's session; it is covered by the HTTP tests.
# No example database: examples kept from an earlier run (it defaults to
# .hypothesis/ here) would change which cases this one runs, so each run with
# seed 1 is the same whatever ran before.
# One worker: with two, Hypothesis parses lambdas' source in two threads at
# once, which Python 3.11's ast module can fail ("AST constructor recursion
# depth mismatch"), an error of the tool, not of askgate.
set +e
"$VENV/bin/st" --config-file schemathesis.toml run "$BASE_URL/api/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --exclude-path /api/auth/logout \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
    --seed 1 \
    --generation-database none \
    --workers 1 \
    --request-timeout 10 \
    --report junit,json --report-dir "$ARTIFACTS" \
    --output-truncate false \
    2>&1 | tee "$ARTIFACTS/schemathesis.log"
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
    log "Schemathesis found problems; see $ARTIFACTS (server.log has the server's side)"
fi
exit "$status"
