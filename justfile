# askgate tasks. The README's two commands work without `just`;
# install it with `pip install rust-just` if you want these shortcuts.

# Run the service on its embedded defaults (local Postgres, dev login, demo upstream)
run:
    cargo run

# The whole test suite (Rust tests, then end-to-end)
test:
    scripts/test.sh

# Only the Rust tests
test-rust:
    SKIP_E2E=1 scripts/test.sh

# End-to-end tests against the built binary
e2e:
    e2e/run.sh

# Apply migrations and exit
migrate:
    cargo run -- migrate

# Give a local user tokens: just grant a@example.com 100
grant email tokens:
    cargo run -- grant --email {{email}} --tokens {{tokens}}

# Benchmark B0/B1/B2/B3 and the micro-benchmarks; writes docs/benchmarks.md (~15 min)
bench:
    bench/run.sh

fmt:
    cargo fmt --all
    e2e/node_modules/.bin/biome check --write .

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    e2e/node_modules/.bin/biome ci .

# What CI runs
ci:
    bash .ci/run
