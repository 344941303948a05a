#!/usr/bin/env bash
# Checks, in a few seconds, that everything scripts/test.sh needs is there:
# PostgreSQL (with TLS on) and Redis reachable, the programs the database TLS
# and pooler tests start (initdb/postgres, openssl, pgbouncer), and (unless
# SKIP_E2E=1) Node, npm, Python's
# venv, Chromium, curl and psql for the end-to-end tests. Each missing piece
# prints one line saying how to start or install it; exits 1 if any is missing.
#
#   TEST_DATABASE_URL  default postgres://postgres@127.0.0.1:5432/postgres
#                      (PGPASSWORD gives the password when the URL has none)
#   TEST_REDIS_URL     default redis://127.0.0.1:6379
#   CHROMIUM           browser binary (default /usr/bin/chromium)
#   SKIP_E2E=1         check only what the Rust tests need
set -uo pipefail
cd "$(dirname "$0")/.."

missing=0
say() {
    echo "scripts/test.sh: $*" >&2
    missing=1
}
have() { command -v "$1" >/dev/null 2>&1; }

# host and port of a URL like scheme://[user[:password]@]host[:port][/path].
url_host_port() {
    local rest=${1#*://}
    rest=${rest%%/*}
    rest=${rest##*@}
    local host=${rest%%:*} port=$2
    [[ $rest == *:* ]] && port=${rest##*:}
    echo "${host:-127.0.0.1} $port"
}

# True when something accepts TCP connections on host $1, port $2.
tcp_open() {
    timeout 3 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

check_postgres() {
    local url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
    local host port
    read -r host port < <(url_host_port "$url" 5432)
    if ! tcp_open "$host" "$port"; then
        say "PostgreSQL is not running on $host:$port (TEST_DATABASE_URL): start it, e.g. 'sudo pg_ctlcluster 15 main start' (Debian: apt-get install postgresql)"
        return
    fi
    if ! have psql; then
        say "psql is missing (the tests' scripts use it): apt-get install postgresql-client"
        return
    fi
    local out
    if ! out=$(PGCONNECT_TIMEOUT=5 psql "$url" -XqAt -c 'SHOW ssl' 2>&1); then
        case $out in
            *password*|*authentication*)
                say "PostgreSQL on $host:$port refused the login: set PGPASSWORD (or a password in TEST_DATABASE_URL), or trust 127.0.0.1 in pg_hba.conf (see README, PostgreSQL)" ;;
            *)
                say "PostgreSQL on $host:$port cannot be used (TEST_DATABASE_URL): ${out//$'\n'/ }" ;;
        esac
    elif [[ $out != on ]]; then
        say "PostgreSQL on $host:$port has TLS off (a test connects with sslmode=require): set ssl = on with a certificate in postgresql.conf (Debian's packages do, with the snakeoil certificate of ssl-cert) and restart it"
    fi
}

# The TLS tests start a private cluster with certificates made by openssl; the
# pooler test starts PgBouncer. Both run as the postgres user when run as root.
check_test_servers() {
    local bindir=${PG_BIN:-}
    if [[ -z $bindir ]] && have pg_config; then bindir=$(pg_config --bindir); fi
    [[ -n $bindir && -x $bindir/initdb ]] || bindir=/usr/lib/postgresql/15/bin
    if [[ ! -x $bindir/initdb || ! -x $bindir/postgres ]]; then
        say "PostgreSQL's server programs (initdb, postgres) are not in $bindir (the TLS tests start a cluster of their own): apt-get install postgresql-15, or set PG_BIN"
    fi
    have openssl || say "openssl is missing (the TLS tests make their certificates with it): apt-get install openssl"
    if [[ -n ${PGBOUNCER:-} ]]; then
        [[ -x $PGBOUNCER ]] || say "PGBOUNCER=$PGBOUNCER is not an executable (a test runs askgate behind PgBouncer): apt-get install pgbouncer, or fix PGBOUNCER"
    elif ! have pgbouncer && [[ ! -x /usr/sbin/pgbouncer ]]; then
        say "pgbouncer is missing (a test runs askgate behind it): apt-get install pgbouncer, or set PGBOUNCER"
    fi
}

check_redis() {
    local url=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
    local host port
    read -r host port < <(url_host_port "$url" 6379)
    if ! tcp_open "$host" "$port"; then
        say "Redis is not running on $host:$port (TEST_REDIS_URL): start it with 'redis-server --daemonize yes' (Debian: apt-get install redis-server)"
    fi
}

check_e2e() {
    if ! have node; then
        say "Node.js is missing (the browser and sign-in tests run on it): apt-get install nodejs npm (Node 20 or newer), or SKIP_E2E=1"
    elif (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
        say "Node.js $(node --version) is too old for the end-to-end tests: install Node 20 or newer, or SKIP_E2E=1"
    fi
    if [[ ! -d e2e/node_modules/playwright-core || ! -d e2e/oidc/node_modules/oidc-provider ]] && ! have npm; then
        say "npm is missing, and the end-to-end tests' packages are not installed: apt-get install npm (the scripts then run 'npm ci' themselves)"
    fi
    if ! have python3; then
        say "python3 is missing (Schemathesis and the scripts use it): apt-get install python3 python3-venv"
    elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        say "Python's venv is missing (Schemathesis is installed into one): apt-get install python3-venv"
    fi
    local chromium=${CHROMIUM:-/usr/bin/chromium}
    if [[ ! -x $chromium ]]; then
        say "no Chromium at $chromium (the browser tests drive it): apt-get install chromium, or set CHROMIUM"
    fi
    have curl || say "curl is missing (the end-to-end scripts use it): apt-get install curl"
}

check_postgres
check_test_servers
check_redis
[[ "${SKIP_E2E:-0}" == "1" ]] || check_e2e
exit "$missing"
