# What e2e/run.sh and e2e/schemathesis/run.sh share, sourced by both: build the
# server, a fresh database, the fakes of Stripe and AskDocs, the server itself on a free port,
# and a cleanup that always stops them and drops the database.
#
# The caller sets `log` and `ARTIFACTS`, then:
#   stack_build                     → BIN, CLI_BIN (the server, the askgate tool)
#   stack_database PREFIX           → DB, DATABASE_URL (exported)
#   stack_fake_stripe BASE_URL      → STRIPE_URL
#   stack_fake_askdocs              → ASKDOCS_URL (a streaming AskDocs upstream)
#   stack_server LOG_FILE           starts "$BIN serve" with the exported
#                                   environment; returns once it is live
#
#   E2E_KEEP_DB=1   keep the database after the run, for debugging

STACK_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The binary is where `cargo build` puts it: `CARGO_TARGET_DIR` when set, else
# the workspace's ./target, the same directory `cargo run` and `cargo test` use.
STACK_TARGET_DIR=$(cd "$STACK_REPO" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
STACK_PIDS=()
DB=""

stack_cleanup() {
    local status=$?
    set +e
    for pid in "${STACK_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ -n "$DB" && "${E2E_KEEP_DB:-0}" == "1" ]]; then
        log "kept database $DB"
    elif [[ -n "$DB" ]]; then
        psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1 \
            || log "could not drop database $DB"
    fi
    exit "$status"
}
trap stack_cleanup EXIT
trap 'exit 130' INT TERM

stack_build() {
    log "building the server and the command-line tool"
    (cd "$STACK_REPO" && cargo build --quiet -p askgate-server --bin askgate-server -p askgate-cli --bin askgate)
    BIN="$STACK_TARGET_DIR/debug/askgate-server"
    CLI_BIN="$STACK_TARGET_DIR/debug/askgate"
}

stack_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stack_database() {
    DB="$1_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    log "creating database $DB"
    psql -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
    export DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
}

# Starts `node SCRIPT` with the environment given after it, waits for its
# "listening <port>" line and prints its address.
stack_fake() {
    local script=$1 log_file=$2 port=""
    shift 2
    env "$@" node "$STACK_REPO/e2e/$script" >"$log_file" 2>&1 &
    local pid=$!
    STACK_PIDS+=("$pid")
    for _ in $(seq 1 100); do
        port=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log_file" | head -n1)
        [[ -n "$port" ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z "$port" ]]; then
        log "$script did not start"
        cat "$log_file" >&2
        return 1
    fi
    FAKE_URL="http://127.0.0.1:$port"
}

stack_fake_stripe() {
    stack_fake fake-stripe.mjs "$ARTIFACTS/fake-stripe.log" PUBLIC_BASE_URL="$1" FAKE_STRIPE_PORT=0
    STRIPE_URL=$FAKE_URL
}

stack_fake_askdocs() {
    stack_fake fake-askdocs.mjs "$ARTIFACTS/fake-askdocs.log" FAKE_ASKDOCS_PORT=0
    ASKDOCS_URL=$FAKE_URL
}

stack_server() {
    local log_file=$1
    "$BIN" serve >"$log_file" 2>&1 &
    local pid=$!
    STACK_PIDS+=("$pid")
    for i in $(seq 1 300); do
        if curl -fsS "$PUBLIC_BASE_URL/health/live" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null || [[ $i == 300 ]]; then
            log "askgate did not start; its log:"
            tail -n 40 "$log_file" >&2
            return 1
        fi
        sleep 0.2
    done
}
