#!/usr/bin/env bash
# Runs askgate's whole test suite: every crate's unit and integration tests
# (real PostgreSQL and Redis on 127.0.0.1), then the end-to-end tests that drive
# the built binary with real local peers (see e2e/README.md).
#
# First it checks that PostgreSQL, Redis and the end-to-end tests' tools are
# there (scripts/preflight.sh) and stops, one line per missing piece, before
# compiling anything.
#
#   TEST_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/postgres
#                      (PGPASSWORD gives the password when the URL has none)
#   TEST_REDIS_URL     default redis://127.0.0.1:6379
#   SKIP_E2E=1         run only the Rust tests
#   TEST_RUNNER=cargo  plain `cargo test` even when cargo-nextest is installed
#                      (what a machine without nextest runs; CI uses it)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/preflight.sh || exit 1
# The check itself: a closed Redis port must give exactly its one line.
scripts/preflight-test.sh

if [[ "${TEST_RUNNER:-}" != "cargo" ]] && cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-targets --no-fail-fast
    # nextest does not run doctests.
    cargo test --workspace --doc --quiet
else
    cargo test --workspace --all-targets --no-fail-fast
    # --all-targets leaves the doctests out.
    cargo test --workspace --doc --quiet
fi

# The TypeScript SDK's own tests (no dependencies to install), including that
# its types are generated from the current OpenAPI document.
[[ "${SKIP_E2E:-0}" == "1" ]] || (cd sdk/js && node --test test/)

if [[ "${SKIP_E2E:-0}" != "1" && -x e2e/run.sh ]]; then
    e2e/run.sh
fi
[[ "${SKIP_E2E:-0}" == "1" ]] || e2e/oidc/run.sh  # sign-in against a real OpenID provider
[[ "${SKIP_E2E:-0}" == "1" ]] || e2e/schemathesis/run.sh  # the live API against its OpenAPI document
