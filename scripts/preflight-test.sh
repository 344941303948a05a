#!/usr/bin/env bash
# scripts/preflight.sh against a Redis port nobody listens on: it must fail
# with exactly one line, and that line must say how to start Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

if out=$(TEST_REDIS_URL=redis://127.0.0.1:1 SKIP_E2E=1 scripts/preflight.sh 2>&1); then
    echo "scripts/preflight-test.sh: the check passed with Redis on a closed port" >&2
    exit 1
fi
if [[ $(wc -l <<<"$out") -ne 1 || $out != *"Redis is not running on 127.0.0.1:1"*"redis-server"* ]]; then
    echo "scripts/preflight-test.sh: expected one line about Redis, got:" >&2
    echo "$out" >&2
    exit 1
fi
