#!/usr/bin/env bash
# askgate's benchmark (`just bench`). A benchmark, not a test: it measures and
# writes docs/benchmarks.md; it fails only when something could not run.
#
#   B0  a zero-latency upstream (bench/upstream.mjs), hit directly
#   B1  pgbench running askgate's own debit statement (bench/debit_*.sql) at the
#       connection count of askgate's pool, 10 000 users uniformly / one hot user
#   B2  (diagnostic) every SQL statement of one chat, in pgbench: B1's debit
#       plus the conversation transaction
#   B3  askgate's whole chat path (session JWT, rate limit, debit, upstream call,
#       answer) against B0, release build, uniform users / one hot user
#
# Load: a closed-loop wrk sweep finds saturation, then open-loop runs with
# coordinated-omission correction at 25/50/75/90 % of it (bench/wrk/open.lua,
# wrk2's model on Debian's wrk; `oha -q … --latency-correction` as a cross-check
# when oha is installed). B1's open loop is pgbench -R, latency counted from the
# schedule.
#
# Needs: cargo, node, wrk, pgbench/psql (PostgreSQL client 15), python3, a local
# PostgreSQL it may create databases on (trust auth). Only 127.0.0.1 is used.
#
# Knobs (environment):
#   BENCH_DURATION=15      seconds per measured open-loop point and per B1 run
#   BENCH_SWEEP_DURATION=8 seconds per closed-loop sweep point
#   BENCH_B3_USERS=10000   users signed in for B3's uniform runs
#   BENCH_SKIP_BUILD=1     use the release binary already built
#   BENCH_DB=askgate_bench the database dropped and re-created for the run
#   BENCH_OUT=docs/benchmarks.md
#   BENCH_SKIP_CRITERION=1 skip the micro-benchmarks
#   PGHOST/PGPORT/PGUSER   where PostgreSQL is (127.0.0.1/5432/postgres)
#   DATABASE_MAX_CONNECTIONS=10  askgate's pool size, and B1's client count
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
# Where cargo builds: CARGO_TARGET_DIR when set, else ./target, as for cargo run.
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
DURATION=${BENCH_DURATION:-15}
SWEEP=${BENCH_SWEEP_DURATION:-8}
B3_USERS=${BENCH_B3_USERS:-10000}
DB=${BENCH_DB:-askgate_bench}
OUT=${BENCH_OUT:-docs/benchmarks.md}
POOL=${DATABASE_MAX_CONNECTIONS:-10}
UPSTREAM_PORT=18081
ASKGATE_PORT=18080
DB_URL="postgres://${PGUSER}@${PGHOST}:${PGPORT}/${DB}"
JWT_SECRET_BENCH="bench-secret-$(date +%s)-0123456789abcdef0123456789"

WORK=$(mktemp -d /tmp/askgate-bench.XXXXXX)
RESULTS=$WORK/results.txt
META=$WORK/meta.txt
: >"$RESULTS"
: >"$META"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*" >&2; }
meta() { printf '%s=%s\n' "$1" "$2" >>"$META"; }
record() { printf '%s RESULT %s\n' "$1" "$2" | tee -a "$RESULTS" >&2; }
pct_of() { python3 -c "import sys; print(max(1, int(float(sys.argv[1]) * int(sys.argv[2]) / 100)))" "$1" "$2"; }

for tool in cargo node wrk pgbench psql python3 curl; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing (see docs/benchmarks.md, 'Reproduce')" >&2; exit 1; }
done
OHA=$(command -v oha || true)

# wrk's open-loop pacing uses one thread per connection.
open_loop() { # LABEL URL RATE [TOKENS]
  local label=$1 url=$2 rate=$3 tokens=${4:-}
  local conns=32
  local line
  line=$(wrk -t"$conns" -c"$conns" -d"${DURATION}s" --timeout 10s -s bench/wrk/open.lua "$url" -- "$rate" "$conns" "$tokens" | grep '^RESULT' | sed 's/^RESULT //')
  record "$label" "target=$rate $line"
}
closed_loop() { # LABEL URL CONNS [TOKENS]
  local label=$1 url=$2 conns=$3 tokens=${4:-}
  local threads=$((conns < 2 ? 1 : 2))
  local line
  line=$(wrk -t"$threads" -c"$conns" -d"${SWEEP}s" --timeout 10s -s bench/wrk/closed.lua "$url" -- "$tokens" | grep '^RESULT' | sed 's/^RESULT //')
  record "$label" "conns=$conns $line"
}
oha_point() { # LABEL URL RATE [TOKEN]
  [[ -n $OHA ]] || return 0
  local label=$1 url=$2 rate=$3 token=${4:-}
  local auth=()
  [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
  "$OHA" --no-tui --output-format json -z "${DURATION}s" -c 32 -q "$rate" --latency-correction \
    -m POST -T application/json -d '{"message":"hi"}' "${auth[@]}" "$url" >"$WORK/oha.json"
  record "$label" "target=$rate $(python3 bench/report.py oha "$WORK/oha.json")"
}
wait_port() { # PORT SECONDS
  local deadline=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}
wait_http() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || return 1
    sleep 0.01
  done
}

# ---------------------------------------------------------------- the machine
say "machine"
meta DATE "$(date -u +%Y-%m-%dT%H:%MZ)"
meta COMMIT "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates migrations Cargo.lock 2>/dev/null || echo ' (with uncommitted changes in crates/)')"
meta MACHINE "$(nproc) CPUs, $(uname -m)"
meta CPU "$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1) ($(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -1) guest)"
meta RAM "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
meta KERNEL "$(uname -r)"
meta LOAD_BEFORE "$(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average: other work on the machine competes for the 2 cores)"
meta RUSTC "$(rustc --version)"
meta POSTGRES "$(psql -Atc 'show server_version')"
meta PG_SETTINGS "$(psql -Atc "select string_agg(name || '=' || setting || coalesce(unit, ''), ', ' order by name) from pg_settings where name in ('shared_buffers','synchronous_commit','max_connections','fsync','wal_level','checkpoint_timeout','max_wal_size','work_mem')")"
meta TOOLS "$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2) (+ bench/wrk/*.lua), $(pgbench --version), node $(node --version)${OHA:+, $("$OHA" --version)}"
meta DURATION "${DURATION} s per open-loop point and per B1 run, ${SWEEP} s per closed-loop sweep point"
meta POOL "$POOL (DATABASE_MAX_CONNECTIONS; B1 uses as many pgbench clients)"
meta B3_USERS "$B3_USERS signed-in users for B3 uniform (B1 uniform: 10 000 seeded users), 1 for hot"

# ---------------------------------------------------------------- build
say "release build of askgate-server"
[[ -n ${BENCH_SKIP_BUILD:-} ]] || cargo build --release -p askgate-server
BIN=$TARGET_DIR/release/askgate-server

# ---------------------------------------------------------------- database
say "bench database $DB"
dropdb --if-exists --force "$DB"
createdb "$DB"
DATABASE_URL=$DB_URL APP_ENV=development "$BIN" migrate
psql -q -d "$DB" -f bench/seed.sql

# ---------------------------------------------------------------- B0
say "B0: zero-latency upstream"
node bench/upstream.mjs "$UPSTREAM_PORT" >"$WORK/upstream.log" 2>&1 &
PIDS+=($!)
wait_port "$UPSTREAM_PORT" 5
B0_URL="http://127.0.0.1:$UPSTREAM_PORT/chat"
for c in 1 4 16 32 64; do closed_loop "B0 closed c=$c" "$B0_URL" "$c"; done
B0_SAT=$(python3 bench/report.py max "$RESULTS" "B0 closed" rps)
for p in 25 50 75 90; do open_loop "B0 open $p%" "$B0_URL" "$(pct_of "$B0_SAT" $p)"; done
oha_point "oha B0 50%" "$B0_URL" "$(pct_of "$B0_SAT" 50)"

# ---------------------------------------------------------------- B1
say "B1/B2: pgbench, askgate's debit / whole chat SQL at $POOL connections"
pgbench_closed() { # LABEL SCRIPT -> sets tps
  psql -q -d "$DB" -c 'CHECKPOINT'
  rm -f "$WORK"/pgb.*
  pgbench -n -M prepared -c "$POOL" -j 2 -T "$DURATION" -l --log-prefix="$WORK/pgb" \
    -f "$2" "$DB" >"$WORK/pgbench.txt" 2>&1
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.txt")
  local failed
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$WORK/pgbench.txt")
  record "$1" "$(python3 bench/report.py pgbench-log - "$WORK"/pgb.* | sed 's/mode=open target=- /mode=closed /') conns=$POOL pgbench_tps=$tps failed=${failed:-0}"
}
pgbench_open() { # LABEL SCRIPT RATE
  rm -f "$WORK"/pgb.*
  pgbench -n -M prepared -c "$POOL" -j 2 -T "$DURATION" -R "$3" -l --log-prefix="$WORK/pgb" \
    -f "$2" "$DB" >/dev/null 2>&1
  record "$1" "$(python3 bench/report.py pgbench-log "$3" "$WORK"/pgb.*)"
}
for kind in uniform hot; do
  pgbench_closed "B1 $kind closed" "bench/debit_$kind.sql"
  for p in 25 50 75 90; do pgbench_open "B1 $kind open $p%" "bench/debit_$kind.sql" "$(pct_of "$tps" $p)"; done
  pgbench_closed "B2 $kind closed" "bench/chat_sql_$kind.sql"
  pgbench_open "B2 $kind open 50%" "bench/chat_sql_$kind.sql" "$(pct_of "$tps" 50)"
done
psql -d "$DB" -Atc "select 'ledger check (must be 0): ' || ((select sum(tokens) from users) - (select sum(amount) from transactions))" >&2

# ---------------------------------------------------------------- B3
say "B3: askgate's chat path against B0"
SERVER_ENV=(
  APP_ENV=development
  BIND_ADDR=127.0.0.1:$ASKGATE_PORT
  PUBLIC_BASE_URL=http://127.0.0.1:$ASKGATE_PORT
  DATABASE_URL=$DB_URL
  DATABASE_MAX_CONNECTIONS=$POOL
  JWT_SECRET=$JWT_SECRET_BENCH
  SESSION_TTL_SECONDS=86400
  AUTH_DEV_LOGIN=true
  ASKATT_API_ENDPOINT=http://127.0.0.1:$UPSTREAM_PORT
  RATE_LIMIT_PER_MINUTE=100000
  RATE_LIMIT_BURST=100000
  LOG_FORMAT=json
  RUST_LOG=warn
)
meta SERVER_ENV "$(printf '%s ' "${SERVER_ENV[@]}" | sed "s/JWT_SECRET=[^ ]*/JWT_SECRET=<random>/")(no REDIS_URL: the in-process limiter)"
# Migrations were applied above, so start-up measures connecting, checking the
# (empty) migration list under the advisory lock, wiring and binding.
start_ns=$(date +%s%N)
env "${SERVER_ENV[@]}" "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_http "http://127.0.0.1:$ASKGATE_PORT/health/ready" 30 || { cat "$WORK/server.log" >&2; exit 1; }
ready_ns=$(date +%s%N)
meta STARTUP_MS "$(((ready_ns - start_ns) / 1000000)) ms from exec to the first 200 from /health/ready (migrations already applied)"
sleep 2
meta RSS_IDLE_KB "$(awk '/^VmRSS/ {print $2 " kB"}' /proc/$SERVER_PID/status) resident after start-up, before any load"

API=http://127.0.0.1:$ASKGATE_PORT
say "signing in $B3_USERS users + the hot one through /api/auth/dev-login"
python3 bench/login.py "$API" 'bench-user-{}@bench.invalid' "$B3_USERS" >"$WORK/tokens_uniform"
python3 bench/login.py "$API" 'bench-hot-{}@bench.invalid' 1 >"$WORK/tokens_hot"
say "granting tokens with '$BIN grant'"
grant_start=$(date +%s%N)
{ seq 1 "$B3_USERS" | sed 's/.*/bench-user-&@bench.invalid/'; echo bench-hot-1@bench.invalid; } |
  DATABASE_URL=$DB_URL APP_ENV=development xargs -P 4 -I{} "$BIN" grant --email {} --tokens 1000000 --reason benchmark >/dev/null
grant_end=$(date +%s%N)
meta GRANT_MS "$(((grant_end - grant_start) / 1000000)) ms for $((B3_USERS + 1)) \`askgate-server grant\` runs (4 at a time)"
HOT_TOKEN=$(cat "$WORK/tokens_hot")
curl -fsS -X POST "$API/api/askatt/chat" -H 'content-type: application/json' -H "authorization: Bearer $HOT_TOKEN" \
  -d '{"message":"hi"}' >&2 || { echo "bench: the chat endpoint did not answer" >&2; exit 1; }
echo >&2

CHAT=$API/api/askatt/chat
PROFILE=$WORK/profile.txt
for kind in uniform hot; do
  psql -q -d "$DB" -c 'CHECKPOINT'
  for c in 4 8 16 32 64 128; do closed_loop "B3 $kind closed c=$c" "$CHAT" "$c" "$WORK/tokens_$kind"; done
  sat=$(python3 bench/report.py max "$RESULTS" "B3 $kind closed" rps)
  for p in 25 50 75 90; do open_loop "B3 $kind open $p%" "$CHAT" "$(pct_of "$sat" $p)" "$WORK/tokens_$kind"; done
done
oha_point "oha B3 hot 50%" "$CHAT" "$(pct_of "$(python3 bench/report.py max "$RESULTS" "B3 hot closed" rps)" 50)" "$HOT_TOKEN"

# Where the time goes: perf over the server while a closed loop saturates it.
if command -v perf >/dev/null && perf record -o "$WORK/perf.probe" -- true >/dev/null 2>&1; then
  say "perf profile of the server under load"
  # `head` closes pipes early: no pipefail/errexit in this diagnostic section.
  set +e +o pipefail
  wrk -t2 -c16 -d12s -s bench/wrk/closed.lua "$CHAT" -- "$WORK/tokens_uniform" >/dev/null &
  WRK_PID=$!
  sleep 1
  top -b -n 2 -d 4 -w 120 >"$WORK/top.txt" &
  TOP_PID=$!
  perf record -F 499 -g -p "$SERVER_PID" -o "$WORK/perf.data" -- sleep 8 >/dev/null 2>&1 || true
  wait "$WRK_PID" "$TOP_PID" || true
  {
    echo "Server process, self time by shared object and symbol (perf record -F 499 -g, 8 s, >= 0.7 %):"
    perf report -i "$WORK/perf.data" --stdio --no-children --sort dso,symbol --percent-limit 0.7 2>/dev/null |
      grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//; s/[[:space:]]+-[[:space:]]+-$//' | cut -c1-140 | head -30 || true
    echo
    echo "Server process, by shared object:"
    perf report -i "$WORK/perf.data" --stdio --no-children --sort dso --percent-limit 1 2>/dev/null |
      grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+$//' | head -15 || true
    echo
    echo "The whole machine over 4 s of the same load (top; CPU % of one core):"
    awk '/^top -/ {n++} n == 2' "$WORK/top.txt" | sed -n '/PID/,$p' | head -10
  } >"$PROFILE"
  set -e -o pipefail
fi

meta RSS_PEAK_KB "$(awk '/^VmHWM/ {print $2 " kB"}' /proc/$SERVER_PID/status) peak resident (VmHWM) after all B3 runs"
meta LOAD_AFTER "$(cut -d' ' -f1-3 /proc/loadavg)"
psql -d "$DB" -Atc "select 'ledger check (must be 0): ' || ((select sum(tokens) from users) - (select sum(amount) from transactions))" >&2

# ---------------------------------------------------------------- criterion
CRIT=$WORK/criterion.md
if [[ -z ${BENCH_SKIP_CRITERION:-} ]]; then
  say "criterion micro-benchmarks"
  cargo bench -p askgate-http -p askgate-ratelimit -p askgate-stripe --bench http --bench ratelimit --bench webhook 2>&1 |
    tee "$WORK/criterion.txt" >&2
  python3 bench/report.py criterion "$WORK/criterion.txt" >"$CRIT"
else
  echo "(skipped: BENCH_SKIP_CRITERION was set)" >"$CRIT"
fi

# ---------------------------------------------------------------- report
python3 bench/report.py markdown "$RESULTS" "$META" "$CRIT" "$PROFILE" "$OUT"
cp "$RESULTS" "$WORK/results.kept"
say "written: $OUT (raw files in $WORK)"
